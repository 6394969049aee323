//! Import: documents the Python original wrote, skip or replace on an existing user, and
//! atomic imports.

use convstore::Role;
use convstore::model::timestamp;
use convstore::store::requests::*;
use serde_json::{Value, json};

use crate::fixtures::db::TestDb;
use crate::fixtures::store::*;

/// A document as the Python original exports it: no `format`, naive timestamps,
/// `metadata` null or an object, each message carrying its ids.
fn python_document() -> Value {
    json!({
        "conversation": {
            "id": 42,
            "user_key": "feishu:group:user123",
            "platform": "feishu",
            "chat_id": "chat456",
            "created_at": "2025-01-08T10:00:00.123456",
            "last_activity": "2025-01-08T11:30:00",
            "summary": null,
            "total_tokens": 5000,
            "message_count": 50
        },
        "messages": [
            {"id": 1, "conversation_id": 42, "role": "user", "content": "Hello",
             "timestamp": "2025-01-08T10:00:00.123456", "tokens": 5, "metadata": null},
            {"id": 2, "conversation_id": 42, "role": "assistant", "content": "I'm doing great! How can I help you?",
             "timestamp": "2025-01-08T10:00:01", "tokens": 25,
             "metadata": {"model": "gpt-4o", "finish_reason": "stop"}},
            {"id": 3, "conversation_id": 42, "role": "tool", "content": "{\"result\": \"sunny, 25°C\"}",
             "timestamp": "2025-01-08 10:00:02.5", "tokens": 10,
             "metadata": {"tool_name": "weather", "tool_call_id": "call_123"}},
            {"id": 4, "conversation_id": 42, "role": "assistant", "content": "Sunny.",
             "timestamp": "2025-01-08T12:00:03.000001+02:00", "tokens": 3, "metadata": {}}
        ]
    })
}

backend_test!(a_python_export_imports_as_written, async |db: &TestDb| {
    let store = db.store().await;
    let imported = import(&store, python_document()).await;
    assert!(imported.created);
    let c = imported.conversation;
    assert_eq!(
        (
            c.user_key.as_str(),
            c.platform.as_str(),
            c.chat_id.as_deref()
        ),
        ("feishu:group:user123", "feishu", Some("chat456"))
    );
    assert_eq!(
        timestamp::format(&c.created_at),
        "2025-01-08T10:00:00.123456Z"
    );
    assert_eq!(
        timestamp::format(&c.last_activity),
        "2025-01-08T11:30:00.000000Z"
    );
    assert_eq!(
        c.message_count, 4,
        "the messages are counted, whatever the document says"
    );
    assert_eq!(c.total_tokens, 5000, "the document's usage is kept");
    assert_eq!(c.summary, None);
    assert_eq!(conversation(&store, c.id).await, c);

    let messages = all_messages(&store, c.id).await;
    let times: Vec<String> = messages
        .iter()
        .map(|m| timestamp::format(&m.timestamp))
        .collect();
    assert_eq!(
        times,
        [
            "2025-01-08T10:00:00.123456Z",
            "2025-01-08T10:00:01.000000Z",
            "2025-01-08T10:00:02.500000Z",
            "2025-01-08T10:00:03.000001Z"
        ]
    );
    assert_eq!(
        messages.iter().map(|m| m.role).collect::<Vec<_>>(),
        [Role::User, Role::Assistant, Role::Tool, Role::Assistant]
    );
    assert_eq!(
        messages.iter().map(|m| m.tokens).collect::<Vec<_>>(),
        [5, 25, 10, 3]
    );
    assert_eq!(contents(&messages)[2], "{\"result\": \"sunny, 25°C\"}");
    assert!(messages[0].metadata.is_empty());
    assert_eq!(
        Value::Object(messages[2].metadata.clone()),
        json!({"tool_name": "weather", "tool_call_id": "call_123"})
    );
    assert!(messages.iter().all(|m| m.conversation_id == c.id));

    // Without the optional keys: usage is the messages' sum, times come from them.
    let mut bare = python_document();
    bare["conversation"] = json!({"user_key": "bare", "platform": "qq"});
    let bare = import(&store, bare).await.conversation;
    assert_eq!(
        (bare.message_count, bare.total_tokens, bare.chat_id),
        (4, 43, None)
    );
    assert_eq!(
        timestamp::format(&bare.created_at),
        "2025-01-08T10:00:00.123456Z"
    );
    assert_eq!(
        timestamp::format(&bare.last_activity),
        "2025-01-08T10:00:03.000001Z"
    );
});

backend_test!(
    import_skips_or_replaces_an_existing_user,
    async |db: &TestDb| {
        let store = db.store().await;
        let existing = open_conversation(&store, "feishu:group:user123").await;
        save_turns(&store, existing.id, 1).await;
        let existing = conversation(&store, existing.id).await;

        let skipped = import(&store, python_document()).await;
        assert!(!skipped.created);
        assert_eq!(
            skipped.conversation, existing,
            "the existing conversation is returned untouched"
        );
        assert_eq!(
            contents(&all_messages(&store, existing.id).await),
            ["u1", "a1"]
        );

        let replaced = ok(
            &store,
            ImportConversation {
                document: python_document(),
                on_conflict: OnConflict::Replace,
            },
        )
        .await;
        assert!(replaced.created);
        let c = replaced.conversation;
        assert_eq!(c.id, existing.id, "a replace keeps the conversation's id");
        assert_eq!(
            (c.message_count, c.total_tokens, c.chat_id.as_deref()),
            (4, 5000, Some("chat456"))
        );
        assert_eq!(contents(&all_messages(&store, c.id).await)[0], "Hello");
        assert_eq!(
            ok(
                &store,
                GetConversationByUser {
                    user_key: "feishu:group:user123".into()
                }
            )
            .await,
            Some(c)
        );
        assert_eq!(db.count_rows("conversations").await, 1);
        assert_eq!(
            db.count_rows("messages").await,
            4,
            "the replaced messages are gone"
        );
    }
);

backend_test!(an_import_is_all_or_nothing, async |db: &TestDb| {
    let store = db.store().await;
    let existing = open_conversation(&store, "feishu:group:user123").await;
    save_turns(&store, existing.id, 2).await;
    let before = snapshot(db, &store).await;

    let mut bad = python_document();
    bad["messages"][2]["role"] = json!("robot");
    let mut fresh = bad.clone();
    fresh["conversation"]["user_key"] = json!("newcomer");
    for (document, on_conflict) in [(fresh, OnConflict::Skip), (bad, OnConflict::Replace)] {
        let result = call(
            &store,
            ImportConversation {
                document,
                on_conflict,
            },
        )
        .await;
        assert_invalid(result, "messages[2].role");
    }
    assert_eq!(
        snapshot(db, &store).await,
        before,
        "nothing was written, nothing replaced"
    );
});
