//! Exact numbers: every token figure and counter stays within 2^53 - 1, so JSON clients
//! read it exactly. A larger value in a request or an import is refused naming the
//! field; sums stop at the bound instead of overflowing (SQLite's `SUM` fails, a cast
//! of PostgreSQL's fails, MySQL clamps at 2^63); timestamps outside the years 0001-9999
//! are refused, so that every stored time sorts right on every backend.

use convstore::StoreError;
use convstore::model::MAX_EXACT_INTEGER;
use convstore::store::requests::*;
use serde_json::json;

use crate::fixtures::db::TestDb;
use crate::fixtures::store::*;

/// Conversations at the bound it takes for their sum to pass 2^63.
const PAST_I64: i64 = 1025;

async fn try_import(store: &Store, document: serde_json::Value) -> Result<Obtained, StoreError> {
    call(
        store,
        ImportConversation {
            document,
            on_conflict: OnConflict::Skip,
        },
    )
    .await
}

fn at_tokens(user_key: &str, total_tokens: i64) -> serde_json::Value {
    let mut doc = document(user_key, "test", "2025-01-08T10:00:00Z", vec![]);
    doc["conversation"]["total_tokens"] = json!(total_tokens);
    doc
}

backend_test!(
    token_figures_past_2_53_are_refused_naming_the_field,
    async |db: &TestDb| {
        let store = db.store().await;
        let before = snapshot(db, &store).await;
        let refused = try_import(&store, at_tokens("big", MAX_EXACT_INTEGER + 1)).await;
        assert_invalid(refused, "conversation.total_tokens");
        let refused = try_import(&store, at_tokens("huge", i64::MAX)).await;
        assert_invalid(refused, "conversation.total_tokens");
        rejects(
            &store,
            "budget",
            CheckTokenBudget {
                user_key: "big".into(),
                budget: MAX_EXACT_INTEGER + 1,
            },
        )
        .await;
        assert_eq!(snapshot(db, &store).await, before);
        let at_bound = import(&store, at_tokens("bound", MAX_EXACT_INTEGER)).await;
        assert_eq!(at_bound.conversation.total_tokens, MAX_EXACT_INTEGER);
    }
);

backend_test!(sums_and_counters_stop_at_2_53, async |db: &TestDb| {
    let store = db.store().await;
    for n in 0..PAST_I64 {
        import(&store, at_tokens(&format!("user-{n}"), MAX_EXACT_INTEGER)).await;
    }
    let stats = ok(&store, GetStats).await;
    assert_eq!(stats.total_conversations, PAST_I64);
    assert_eq!(stats.total_tokens, MAX_EXACT_INTEGER);

    // A conversation at the bound stays there through usage and saves.
    let full = ok(
        &store,
        GetConversationByUser {
            user_key: "user-0".into(),
        },
    )
    .await
    .expect("imported");
    let after_usage = ok(
        &store,
        UpdateConversationStats {
            conversation_id: full.id,
            tokens_used: 1_000,
        },
    )
    .await;
    assert_eq!(after_usage.total_tokens, MAX_EXACT_INTEGER);
    save(&store, full.id, convstore::Role::User, "one more", 7).await;
    assert_eq!(
        conversation(&store, full.id).await.total_tokens,
        MAX_EXACT_INTEGER
    );
    assert_eq!(ok(&store, GetStats).await.total_tokens, MAX_EXACT_INTEGER);
});

backend_test!(
    timestamps_outside_years_1_to_9999_are_refused,
    async |db: &TestDb| {
        let store = db.store().await;
        let before = snapshot(db, &store).await;
        for (path, time) in [
            (&["conversation", "created_at"][..], "+10000-01-01T00:00:00"),
            (
                &["conversation", "last_activity"][..],
                "0000-06-01T00:00:00Z",
            ),
        ] {
            let mut doc = document("late", "test", "2025-01-08T10:00:00Z", vec![]);
            doc[path[0]][path[1]] = json!(time);
            let refused = try_import(&store, doc).await;
            assert_invalid(refused, &path.join("."));
        }
        let doc = document(
            "late",
            "test",
            "2025-01-08T10:00:00Z",
            vec![document_message("user", "hi", "+10000-01-01T00:00:00Z", 1)],
        );
        let refused = try_import(&store, doc).await;
        assert_invalid(refused, "messages[0].timestamp");
        assert_eq!(snapshot(db, &store).await, before);

        // The extreme years that are kept sort right: a cleanup takes the old one only.
        import(
            &store,
            document("oldest", "test", "0001-01-01T00:00:00Z", vec![]),
        )
        .await;
        import(
            &store,
            document("newest", "test", "9999-12-31T23:59:59.999999Z", vec![]),
        )
        .await;
        assert_eq!(ok(&store, CleanupOldConversations { days: 1 }).await, 1);
        assert!(
            ok(
                &store,
                GetConversationByUser {
                    user_key: "newest".into()
                }
            )
            .await
            .is_some()
        );
    }
);
