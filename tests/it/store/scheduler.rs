//! The scheduler actor fires its jobs on their cron schedules and records each run.

use std::time::Duration;

use actix::Actor;
use chrono::Timelike;
use convstore::scheduler::{GetSchedule, JobKind, JobSpec, JobStatus, SchedulerActor};
use convstore::store::requests::{GetConversationByUser, ImportConversation, OnConflict};

use crate::fixtures::db::TestDb;

fn job(kind: JobKind, cron: &str) -> JobSpec {
    JobSpec {
        kind,
        cron: cron.into(),
    }
}

/// A started scheduler of the cleanup (30 days) and the maintenance on these crons.
fn start_scheduler(
    store: actix::Addr<convstore::StoreActor>,
    cleanup: &str,
    maintenance: &str,
) -> actix::Addr<SchedulerActor> {
    SchedulerActor::new(
        store,
        30,
        vec![
            job(JobKind::Cleanup, cleanup),
            job(JobKind::Maintenance, maintenance),
        ],
    )
    .unwrap()
    .start()
}

/// Polls the scheduler until `done` holds for the job `name`, for at most 30 seconds
/// (a loaded CI server may take seconds over one run).
async fn wait_for_job(
    scheduler: &actix::Addr<SchedulerActor>,
    name: &str,
    done: impl Fn(&JobStatus) -> bool,
) -> JobStatus {
    let mut last = None;
    for _ in 0..300 {
        let jobs = scheduler
            .send(GetSchedule)
            .await
            .expect("scheduler answers");
        let job = jobs
            .into_iter()
            .find(|j| j.name == name)
            .expect("job listed");
        if done(&job) {
            return job;
        }
        last = Some(job);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("job {name} did not run within 30 seconds: {last:?}");
}

backend_test!(
    fires_cleanup_and_maintenance_on_schedule,
    async |db: &TestDb| {
        let store = db.store().await;
        let old = serde_json::json!({
            "conversation": {"user_key": "old-user", "platform": "qq", "last_activity": "2020-01-01T00:00:00Z"},
            "messages": [{"role": "user", "content": "hi", "timestamp": "2020-01-01T00:00:00Z"}]
        });
        store
            .send(ImportConversation {
                document: old,
                on_conflict: OnConflict::Skip,
            })
            .await
            .unwrap()
            .unwrap();
        // The cleanup's first run is awaited before any maintenance is scheduled: on
        // MariaDB the maintenance rebuilds the tables, and a cleanup that meets a rebuild
        // waits for it, seconds on a loaded server.
        let scheduler = start_scheduler(store.clone(), "* * * * * *", "");

        let cleanup = wait_for_job(&scheduler, "cleanup", |j| j.runs_ok >= 1).await;
        assert_eq!(cleanup.runs_failed, 0, "{cleanup:?}");
        assert!(cleanup.enabled);
        assert!(cleanup.last_run.is_some() && cleanup.last_duration_ms.is_some());
        assert!(cleanup.next_run.is_some());
        assert!(
            cleanup
                .last_result
                .as_deref()
                .unwrap_or_default()
                .starts_with("ok: deleted"),
            "{cleanup:?}"
        );
        let gone = store
            .send(GetConversationByUser {
                user_key: "old-user".into(),
            })
            .await
            .unwrap()
            .unwrap();
        assert!(gone.is_none(), "the cleanup deleted the old conversation");

        let scheduler = start_scheduler(store.clone(), "", "* * * * * *");
        let maintenance = wait_for_job(&scheduler, "maintenance", |j| {
            j.runs_ok + j.runs_failed >= 1
        })
        .await;
        assert_eq!(maintenance.runs_failed, 0, "{maintenance:?}");
    }
);

backend_test!(disabled_job_never_runs, async |db: &TestDb| {
    let store = db.store().await;
    let scheduler = start_scheduler(store, "", "0 0 3 * * *");
    let jobs = scheduler.send(GetSchedule).await.unwrap();
    let cleanup = jobs.iter().find(|j| j.name == "cleanup").unwrap();
    assert!(!cleanup.enabled);
    assert!(cleanup.next_run.is_none());
    let maintenance = jobs.iter().find(|j| j.name == "maintenance").unwrap();
    assert!(maintenance.enabled);
    let next = maintenance.next_run.expect("a next run");
    assert_eq!((next.hour(), next.minute(), next.second()), (3, 0, 0));
});

#[actix_rt::test]
async fn bad_cron_names_the_job() {
    let db = TestDb::create(convstore::db::Backend::Sqlite)
        .await
        .unwrap();
    let store = db.store().await;
    let error = SchedulerActor::new(store, 30, vec![job(JobKind::Maintenance, "every sunday")])
        .err()
        .expect("a bad cron expression is refused");
    assert!(error.contains("schedule.maintenance"), "{error}");
}
