//! Statistics, budget, admin and operations routes: cleanup, vacuum, schedule, health,
//! readiness, metrics, the OpenAPI document.

use actix::prelude::*;
use actix_web::http::StatusCode;
use convstore::StoreActor;
use convstore::api::ApiSettings;
use convstore::db::Backend;
use convstore::scheduler::{GetSchedule, JobStatus};
use convstore::store::StoreSettings;
use serde_json::{Value, json};

use crate::fixtures::db::TestDb;
use crate::fixtures::http::{Server, invalid};

/// A scheduler stand-in that answers `GetSchedule` with fixed jobs.
struct FixedSchedule(Vec<JobStatus>);

impl Actor for FixedSchedule {
    type Context = Context<Self>;
}

impl Handler<GetSchedule> for FixedSchedule {
    type Result = MessageResult<GetSchedule>;

    fn handle(&mut self, _: GetSchedule, _: &mut Self::Context) -> Self::Result {
        MessageResult(self.0.clone())
    }
}

fn job(name: &str, runs_ok: u64, runs_failed: u64) -> JobStatus {
    JobStatus {
        name: name.into(),
        cron: "0 0 3 * * *".into(),
        enabled: true,
        next_run: Some("2030-01-01T03:00:00Z".parse().expect("a time")),
        last_run: None,
        last_duration_ms: None,
        last_result: None,
        runs_ok,
        runs_failed,
    }
}

#[actix_rt::test]
async fn stats_on_an_empty_store_and_after_saves() {
    let server = Server::start().await;
    let empty = server.get("/v1/stats").await.expect(StatusCode::OK).json();
    assert_eq!(
        empty,
        json!({
            "total_conversations": 0,
            "total_messages": 0,
            "total_tokens": 0,
            "average_messages_per_conversation": 0.0,
            "average_tokens_per_conversation": 0.0,
            "longest_conversation_messages": 0,
            "longest_conversation_user": null,
        })
    );
    let id = server.conversation("stats:u").await;
    server
        .post(
            &format!("/v1/conversations/{id}/messages"),
            &json!({"role": "user", "content": "x", "tokens": 7}),
        )
        .await
        .expect(StatusCode::CREATED);
    let stats = server.get("/v1/stats").await.json();
    assert_eq!(
        (
            stats["total_messages"].as_i64(),
            stats["total_tokens"].as_i64()
        ),
        (Some(1), Some(7))
    );
    assert_eq!(stats["longest_conversation_user"], "stats:u");
}

#[actix_rt::test]
async fn budget_of_a_user() {
    let server = Server::start().await;
    let id = server.conversation("budget:u/1").await;
    server
        .post(
            &format!("/v1/conversations/{id}/usage"),
            &json!({"tokens_used": 100}),
        )
        .await
        .expect(StatusCode::OK);
    let status = server
        .get("/v1/budget/budget%3Au%2F1?budget=150")
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(
        status,
        json!({"user_key": "budget:u/1", "total_tokens": 100, "budget": 150, "within_budget": true})
    );
    let over = server
        .get("/v1/budget/budget%3Au%2F1?budget=100")
        .await
        .json();
    assert_eq!(over["within_budget"], false);
    let nobody = server
        .get("/v1/budget/nobody?budget=1")
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(nobody["total_tokens"], 0);
    invalid(&server.get("/v1/budget/u?budget=-1").await, "budget");
}

#[actix_rt::test]
async fn cleanup_deletes_old_conversations() {
    let settings = ApiSettings {
        cleanup_days: 400,
        ..ApiSettings::default()
    };
    let server = Server::start_with(settings, None).await;
    let old = |key: &str, when: &str| json!({"conversation": {"user_key": key, "platform": "qq", "last_activity": when}, "messages": []});
    let two_years = (chrono::Utc::now() - chrono::Duration::days(730))
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string();
    let one_year = (chrono::Utc::now() - chrono::Duration::days(365))
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string();
    server
        .post("/v1/import", &old("old:2y", &two_years))
        .await
        .expect(StatusCode::CREATED);
    server
        .post("/v1/import", &old("old:1y", &one_year))
        .await
        .expect(StatusCode::CREATED);
    server.conversation("fresh").await;

    // The configured default (400 days) takes the two-year-old one only.
    let deleted = server
        .post_empty("/admin/cleanup")
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(deleted, json!({"deleted": 1}));
    let deleted = server
        .post_empty("/admin/cleanup?days=30")
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(deleted, json!({"deleted": 1}));
    server
        .get("/v1/conversations/by-user/fresh")
        .await
        .expect(StatusCode::OK);
    server
        .get("/v1/conversations/by-user/old%3A1y")
        .await
        .error(StatusCode::NOT_FOUND, "not_found");
}

#[actix_rt::test]
async fn vacuum_reports_the_backend() {
    let server = Server::start().await;
    let report = server
        .post_empty("/admin/vacuum")
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(report["backend"], "sqlite");
    assert!(report["duration_ms"].is_u64(), "{report}");
}

#[actix_rt::test]
async fn schedule_without_and_with_a_scheduler() {
    let server = Server::start().await;
    assert_eq!(
        server
            .get("/admin/schedule")
            .await
            .expect(StatusCode::OK)
            .json(),
        json!({"jobs": [], "cleanup_days": 30, "cleanup_archives": false})
    );

    let jobs = vec![job("cleanup", 3, 1), job("maintenance", 2, 0)];
    let scheduler = FixedSchedule(jobs.clone()).start();
    let settings = ApiSettings {
        cleanup_days: 7,
        cleanup_archives: true,
        ..ApiSettings::default()
    };
    let server = Server::start_with(settings, Some(scheduler.recipient())).await;
    let schedule = server
        .get("/admin/schedule")
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(
        schedule,
        json!({"jobs": jobs, "cleanup_days": 7, "cleanup_archives": true})
    );
    // Times in the contract's format; none yet is `null`.
    assert_eq!(
        schedule["jobs"][0]["next_run"],
        "2030-01-01T03:00:00.000000Z"
    );
    assert_eq!(schedule["jobs"][0]["last_run"], Value::Null);
    let metrics = server.get("/metrics").await.expect(StatusCode::OK).text();
    for line in [
        r#"convstore_scheduled_job_runs_total{job="cleanup",result="ok"} 3"#,
        r#"convstore_scheduled_job_runs_total{job="cleanup",result="failed"} 1"#,
        r#"convstore_scheduled_job_runs_total{job="maintenance",result="ok"} 2"#,
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "missing {line} in\n{metrics}"
        );
    }
}

#[actix_rt::test]
async fn metrics_count_requests_and_store_calls() {
    let server = Server::start().await;
    let id = server.conversation("metrics:u").await;
    server
        .get(&format!("/v1/conversations/{id}"))
        .await
        .expect(StatusCode::OK);
    server
        .get("/v1/conversations/999999")
        .await
        .expect(StatusCode::NOT_FOUND);
    server
        .get("/v1/conversations/abc")
        .await
        .expect(StatusCode::BAD_REQUEST);
    server
        .get("/nowhere/42")
        .await
        .expect(StatusCode::NOT_FOUND);
    let reply = server.get("/metrics").await.expect(StatusCode::OK);
    assert!(
        reply
            .content_type()
            .starts_with("text/plain; version=0.0.4"),
        "{}",
        reply.content_type()
    );
    let text = reply.text();
    for line in [
        r#"convstore_http_requests_total{route="/v1/conversations",method="POST",status="201"} 1"#,
        r#"convstore_http_requests_total{route="/v1/conversations/{id}",method="GET",status="200"} 1"#,
        r#"convstore_http_requests_total{route="/v1/conversations/{id}",method="GET",status="404"} 1"#,
        r#"convstore_http_requests_total{route="/v1/conversations/{id}",method="GET",status="400"} 1"#,
        r#"convstore_http_requests_total{route="unmatched",method="GET",status="404"} 1"#,
        r#"convstore_http_request_duration_seconds_count{route="/v1/conversations/{id}",method="GET"} 3"#,
        r#"convstore_store_operations_total{operation="GetOrCreate",result="ok"} 1"#,
        r#"convstore_store_operations_total{operation="GetConversation",result="ok"} 1"#,
        r#"convstore_store_operations_total{operation="GetConversation",result="not_found"} 1"#,
        "convstore_store_calls_in_flight 0",
        "# TYPE convstore_database_errors_total counter",
        "# TYPE convstore_http_request_duration_seconds histogram",
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
    }
}

#[actix_rt::test]
async fn readiness_follows_the_store() {
    let server = Server::start().await;
    let ready = server.get("/readyz").await.expect(StatusCode::OK);
    assert_eq!(ready.json(), json!({"status": "ready"}));

    // A store whose actor has stopped: every route that needs it answers 503.
    let db = TestDb::create(Backend::Sqlite)
        .await
        .expect("SQLite needs no server");
    let opened = db.open().await;
    let arbiter = Arbiter::new();
    let store = StoreActor::start_in_arbiter(&arbiter.handle(), move |_| {
        StoreActor::new(opened, StoreSettings::default())
    });
    arbiter.stop();
    arbiter.join().expect("the arbiter stops");
    let server = Server::serve(store, Some(db), ApiSettings::default(), None);
    server
        .get("/readyz")
        .await
        .error(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    server
        .get("/v1/stats")
        .await
        .error(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    server.get("/healthz").await.expect(StatusCode::OK);
}

#[actix_rt::test]
async fn the_openapi_document_lists_every_route() {
    let server = Server::start().await;
    let document = server
        .get("/openapi.json")
        .await
        .expect(StatusCode::OK)
        .json();
    assert!(
        document["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        document["openapi"]
    );
    let routes: [(&str, &[&str]); 29] = [
        ("/v1/conversations", &["get", "post"]),
        ("/v1/conversations/{id}", &["delete", "get"]),
        ("/v1/conversations/by-user/{user_key}", &["get"]),
        ("/v1/conversations/{id}/messages", &["delete", "post"]),
        ("/v1/conversations/{id}/messages/batch", &["post"]),
        ("/v1/conversations/{id}/history", &["get"]),
        ("/v1/conversations/{id}/usage", &["post"]),
        ("/v1/conversations/{id}/summary", &["put"]),
        ("/v1/conversations/{id}/persona", &["put"]),
        ("/v1/conversations/{id}/export", &["get"]),
        ("/v1/conversations/{id}/truncate", &["post"]),
        ("/v1/conversations/{id}/messages/{message_id}", &["delete"]),
        ("/v1/conversations/{id}/fork", &["post"]),
        ("/v1/conversations/{id}/context", &["get"]),
        ("/v1/import", &["post"]),
        ("/v1/stats", &["get"]),
        ("/v1/stats/daily", &["get"]),
        ("/v1/budget/{user_key}", &["get"]),
        ("/healthz", &["get"]),
        ("/readyz", &["get"]),
        ("/metrics", &["get"]),
        ("/openapi.json", &["get"]),
        ("/admin/cleanup", &["post"]),
        ("/admin/vacuum", &["post"]),
        ("/admin/export", &["get"]),
        ("/admin/import", &["post"]),
        ("/admin/schedule", &["get"]),
        ("/console", &["get"]),
        ("/console/{asset}", &["get"]),
    ];
    let paths = document["paths"].as_object().expect("paths");
    for (path, methods) in routes {
        let item = paths
            .get(path)
            .unwrap_or_else(|| panic!("{path} is missing"));
        let mut listed: Vec<&str> = item
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .filter(|k| ["get", "post", "put", "delete", "patch"].contains(k))
            .collect();
        listed.sort_unstable();
        assert_eq!(listed, methods, "{path}");
    }
    assert_eq!(paths.len(), 29, "{:?}", paths.keys().collect::<Vec<_>>());
    let schemas = &document["components"]["schemas"];
    for schema in [
        "Conversation",
        "Message",
        "ExportDocument",
        "Stats",
        "DailyStats",
        "DayStats",
        "ErrorBody",
        "JobStatus",
        "Context",
        "Truncated",
    ] {
        assert!(schemas.get(schema).is_some(), "schema {schema} is missing");
    }
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let history = &paths["/v1/conversations/{id}/history"]["get"];
    let parameters: Vec<&str> = history["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        parameters,
        ["id", "max_turns", "max_messages", "max_tokens", "before_id"]
    );
    let open: &Value = &paths["/healthz"]["get"]["security"];
    assert_eq!(open, &json!([{}]), "health needs no token");
}
