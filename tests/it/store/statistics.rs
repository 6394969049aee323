//! The statistics and the daily activity, read from counters that every write keeps in
//! its own transaction: the totals exact after every kind of write, a day's activity
//! what was written that day and nothing else.

use chrono::Utc;
use convstore::store::requests::*;
use convstore::{Role, Stats};
use serde_json::json;

use crate::fixtures::db::TestDb;
use crate::fixtures::store::*;

/// The statistics computed from every stored conversation and message.
async fn scanned(db: &TestDb, store: &Store) -> Stats {
    let documents = export_all(store).await;
    let stats = scanned_stats(&documents);
    assert_eq!(stats.total_messages, db.count_rows("messages").await);
    stats
}

async fn assert_exact(db: &TestDb, store: &Store, after: &str) {
    assert_eq!(
        ok(store, GetStats).await,
        scanned(db, store).await,
        "after {after}"
    );
}

async fn messages(store: &Store, id: i64, tokens: &[i64]) {
    let messages = tokens
        .iter()
        .map(|t| NewMessage::new(Role::User, "m").tokens(*t))
        .collect();
    save_all(store, id, messages).await;
}

backend_test!(the_totals_follow_every_write, async |db: &TestDb| {
    let store = db.store().await;
    assert_exact(db, &store, "nothing").await;
    let a = open_conversation(&store, "a").await.id;
    let b = open_conversation(&store, "b").await.id;
    let c = open_conversation(&store, "c").await.id;
    open_conversation(&store, "a").await;
    assert_exact(db, &store, "get or create").await;
    messages(&store, a, &[1, 2, 3]).await;
    messages(&store, b, &[10, 20, 30]).await;
    messages(&store, c, &[5]).await;
    // b and a tie: the older one, a, is the longest.
    assert_exact(db, &store, "saves").await;
    assert_eq!(
        ok(&store, GetStats)
            .await
            .longest_conversation_user
            .as_deref(),
        Some("a")
    );
    ok(
        &store,
        UpdateConversationStats {
            conversation_id: c,
            tokens_used: 1_000,
        },
    )
    .await;
    assert_exact(db, &store, "usage").await;
    ok(&store, ClearConversation { conversation_id: a }).await;
    assert_exact(db, &store, "clear").await;
    assert_eq!(
        ok(&store, GetStats)
            .await
            .longest_conversation_user
            .as_deref(),
        Some("b")
    );
    ok(&store, DeleteConversation { conversation_id: b }).await;
    assert_exact(db, &store, "delete").await;
    messages(&store, a, &[7, 8, 9, 10]).await;
    ok(
        &store,
        Truncate {
            conversation_id: a,
            cut: Cut::Last(2),
        },
    )
    .await;
    assert_exact(db, &store, "truncate").await;
    let oldest = all_messages(&store, a).await[0].id;
    ok(
        &store,
        DeleteMessage {
            conversation_id: a,
            message_id: oldest,
        },
    )
    .await;
    assert_exact(db, &store, "delete of one message").await;
    ok(
        &store,
        ForkConversation {
            conversation_id: c,
            user_key: "fork of c".into(),
            platform: None,
            chat_id: None,
            through_id: None,
        },
    )
    .await;
    assert_exact(db, &store, "fork").await;
    let old = "2020-01-01T00:00:00Z";
    let document = |user: &str, n: usize| {
        let messages: Vec<_> = (0..n)
            .map(|i| json!({"role": "user", "content": format!("{i}"), "timestamp": old, "tokens": 4}))
            .collect();
        json!({"conversation": {"user_key": user, "platform": "p", "last_activity": old, "total_tokens": 77}, "messages": messages})
    };
    import(&store, document("imported", 5)).await;
    assert_exact(db, &store, "import").await;
    ok(
        &store,
        ImportConversation {
            document: document("c", 2),
            on_conflict: OnConflict::Replace,
        },
    )
    .await;
    assert_exact(db, &store, "import replacing").await;
    let deleted = ok(&store, CleanupOldConversations { days: 365 }).await;
    assert_eq!(deleted, 2, "both imported conversations are old");
    assert_exact(db, &store, "cleanup").await;
    assert_eq!(ok(&store, GetStats).await.total_conversations, 2);
});

backend_test!(
    a_day_counts_what_was_written_that_day,
    async |db: &TestDb| {
        let store = db.store().await;
        let a = open_conversation(&store, "a").await.id;
        let b = open_conversation(&store, "b").await.id;
        open_conversation(&store, "idle").await;
        messages(&store, a, &[10, 20]).await;
        messages(&store, a, &[30]).await;
        messages(&store, b, &[1]).await;
        ok(
            &store,
            UpdateConversationStats {
                conversation_id: b,
                tokens_used: 100,
            },
        )
        .await;
        let daily = ok(&store, GetDailyStats { days: 3 }).await.days;
        let today = Utc::now().date_naive();
        let dates: Vec<String> = (0..3)
            .map(|d| (today - chrono::Duration::days(d)).to_string())
            .collect();
        assert_eq!(
            daily.iter().map(|d| d.date.clone()).collect::<Vec<_>>(),
            dates,
            "three days, newest first"
        );
        assert_eq!(
            (
                daily[0].messages,
                daily[0].tokens,
                daily[0].active_conversations
            ),
            (4, 161, 2)
        );
        for earlier in &daily[1..] {
            assert_eq!(
                (
                    earlier.messages,
                    earlier.tokens,
                    earlier.active_conversations
                ),
                (0, 0, 0)
            );
        }

        // What happened stays: clearing, deleting and importing do not rewrite the day.
        ok(&store, ClearConversation { conversation_id: a }).await;
        ok(&store, DeleteConversation { conversation_id: b }).await;
        import(
            &store,
            document(
                "imported",
                "p",
                &Utc::now().to_rfc3339(),
                vec![document_message("user", "x", &Utc::now().to_rfc3339(), 9)],
            ),
        )
        .await;
        let after = ok(&store, GetDailyStats { days: 1 }).await.days;
        assert_eq!(after[0], daily[0]);
        // A conversation already active today does not count twice.
        messages(&store, a, &[5]).await;
        let later = &ok(&store, GetDailyStats { days: 1 }).await.days[0];
        assert_eq!(
            (later.messages, later.tokens, later.active_conversations),
            (5, 166, 2)
        );
    }
);

backend_test!(a_window_of_days_is_checked, async |db: &TestDb| {
    let store = db.store().await;
    for days in [0, -1, 367] {
        assert_invalid(call(&store, GetDailyStats { days }).await, "days");
    }
    assert_eq!(
        ok(&store, GetDailyStats { days: 366 }).await.days.len(),
        366
    );
});
