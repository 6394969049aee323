//! Maintenance and overview: cleanup of old conversations in batches, the guide's
//! statistics, vacuum, and migrations that can run again.

use chrono::{Duration, Utc};
use convstore::Role;
use convstore::store::requests::*;
use futures_util::StreamExt;
use futures_util::stream;
use serde_json::json;

use crate::fixtures::db::TestDb;
use crate::fixtures::store::*;

/// More than one cleanup batch (500) of old conversations.
const OLD: usize = 520;

/// A naive timestamp `days` ago, as the Python original writes them.
fn days_ago(days: i64) -> String {
    (Utc::now() - Duration::days(days))
        .format("%Y-%m-%dT%H:%M:%S%.6f")
        .to_string()
}

backend_test!(
    cleanup_deletes_old_conversations_in_batches,
    async |db: &TestDb| {
        let store = db.store().await;
        let old = days_ago(400);
        let old_document = |i: usize| {
            // One in ten has messages, to see them go with their conversation.
            let messages = if i.is_multiple_of(10) {
                vec![
                    document_message("user", "hi", &old, 1),
                    document_message("assistant", "hello", &old, 2),
                ]
            } else {
                vec![]
            };
            document(&format!("old{i}"), "feishu", &old, messages)
        };
        // A few at a time: all 520 at once would wait on the pool past its timeout on a
        // loaded machine.
        let (store_ref, old_document) = (&store, &old_document);
        stream::iter(0..OLD)
            .for_each_concurrent(8, |i| async move {
                import(store_ref, old_document(i)).await;
            })
            .await;

        // Survivors: active lately, imported as recently active, or old but active again.
        let active = open_conversation(&store, "active").await;
        save_turns(&store, active.id, 2).await;
        let recent = import(
            &store,
            document(
                "recent",
                "qq",
                &days_ago(10),
                vec![document_message("user", "x", &days_ago(10), 1)],
            ),
        )
        .await;
        let revived = ok(
            &store,
            GetConversationByUser {
                user_key: "old0".into(),
            },
        )
        .await
        .unwrap();
        save(&store, revived.id, Role::User, "I'm back", 1).await;
        let survivors = [active.id, recent.conversation.id, revived.id];
        assert_eq!(
            db.count_rows("messages").await,
            (OLD / 10 * 2 + 4 + 1 + 1) as i64
        );

        let deleted = ok(&store, CleanupOldConversations { days: 30 }).await;
        assert_eq!(deleted, (OLD - 1) as u64);
        let left = ok(&store, ListConversations::default()).await.conversations;
        let mut left: Vec<i64> = left.iter().map(|c| c.id).collect();
        left.sort_unstable();
        let mut expected = survivors.to_vec();
        expected.sort_unstable();
        assert_eq!(left, expected);
        assert_eq!(db.count_rows("conversations").await, 3);
        assert_eq!(
            db.count_rows("messages").await,
            4 + 1 + 3,
            "the old conversations' messages went with them"
        );
        assert_eq!(
            contents(&all_messages(&store, revived.id).await),
            ["hi", "hello", "I'm back"]
        );
        let stats = ok(&store, GetStats).await;
        assert_eq!((stats.total_conversations, stats.total_messages), (3, 8));

        assert_eq!(
            ok(&store, CleanupOldConversations { days: 30 }).await,
            0,
            "nothing more to do"
        );
        assert_eq!(
            ok(&store, CleanupOldConversations { days: 5 }).await,
            1,
            "the 10-day-old one"
        );
        assert_eq!(db.count_rows("conversations").await, 2);
    }
);

backend_test!(stats_follow_the_counters, async |db: &TestDb| {
    let store = db.store().await;
    let empty = ok(&store, GetStats).await;
    let json = serde_json::to_value(&empty).unwrap();
    assert_eq!(
        json,
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

    let a = open_conversation(&store, "a").await;
    let b = open_conversation(&store, "b").await;
    let c = open_conversation(&store, "c").await;
    open_conversation(&store, "d").await;
    save_script(
        &store,
        a.id,
        &[
            (Role::User, "1", 10),
            (Role::Assistant, "2", 20),
            (Role::User, "3", 30),
        ],
    )
    .await;
    ok(
        &store,
        UpdateConversationStats {
            conversation_id: a.id,
            tokens_used: 40,
        },
    )
    .await;
    save_script(
        &store,
        b.id,
        &[
            (Role::User, "1", 1),
            (Role::Assistant, "2", 1),
            (Role::User, "3", 1),
        ],
    )
    .await;
    save(&store, c.id, Role::User, "1", 5).await;

    let stats = ok(&store, GetStats).await;
    assert_eq!(
        (
            stats.total_conversations,
            stats.total_messages,
            stats.total_tokens
        ),
        (4, 7, 108)
    );
    assert_eq!(stats.average_messages_per_conversation, 7.0 / 4.0);
    assert_eq!(stats.average_tokens_per_conversation, 27.0);
    assert_eq!(stats.longest_conversation_messages, 3);
    assert_eq!(
        stats.longest_conversation_user.as_deref(),
        Some("a"),
        "the oldest of the longest"
    );

    save(&store, b.id, Role::Assistant, "4", 1).await;
    ok(
        &store,
        ClearConversation {
            conversation_id: a.id,
        },
    )
    .await;
    ok(
        &store,
        DeleteConversation {
            conversation_id: c.id,
        },
    )
    .await;
    let stats = ok(&store, GetStats).await;
    assert_eq!(
        (
            stats.total_conversations,
            stats.total_messages,
            stats.total_tokens
        ),
        (3, 4, 4)
    );
    assert_eq!(
        (
            stats.longest_conversation_messages,
            stats.longest_conversation_user.as_deref()
        ),
        (4, Some("b"))
    );
});

backend_test!(vacuum_runs_on_each_backend, async |db: &TestDb| {
    let store = db.store().await;
    let c = open_conversation(&store, "user").await;
    save_turns(&store, c.id, 3).await;
    let gone = open_conversation(&store, "gone").await;
    save_turns(&store, gone.id, 3).await;
    ok(
        &store,
        DeleteConversation {
            conversation_id: gone.id,
        },
    )
    .await;
    let before = snapshot(db, &store).await;

    let report = ok(&store, Vacuum).await;
    assert_eq!(report.backend, db.backend().name());
    assert_eq!(
        snapshot(db, &store).await,
        before,
        "maintenance changes no data"
    );
    save(&store, c.id, Role::User, "after", 1).await;
    assert_eq!(
        ok(&store, Vacuum).await.backend,
        db.backend().name(),
        "and runs again"
    );
});

backend_test!(migrations_run_again_harmlessly, async |db: &TestDb| {
    // Two daemons starting at once on a fresh database both migrate it.
    let (first, second) = futures_util::future::join(db.open(), db.open()).await;
    assert_eq!(
        (first.backend(), second.backend()),
        (db.backend(), db.backend())
    );
    let store = db.store().await;
    let c = open_conversation(&store, "user").await;
    save_turns(&store, c.id, 2).await;

    db.open().await;
    db.open().await;
    let reopened = db.store().await;
    assert_eq!(
        all_messages(&reopened, c.id).await,
        all_messages(&store, c.id).await
    );
    assert_eq!(ok(&reopened, GetStats).await.total_messages, 4);
});
