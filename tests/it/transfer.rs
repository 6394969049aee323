//! Export and import: the guide's document, paged export of everything, documents the
//! Python original wrote, skip or replace on an existing user, a round trip into an
//! empty second store, and atomic imports.

use convstore::Role;
use convstore::model::timestamp;
use convstore::store::requests::*;
use convstore::transfer::{ExportDocument, FORMAT};
use serde_json::{Value, json};

use crate::helpers::TestDb;
use crate::support::*;

/// A conversation with every field set: chat id, summary, persona, extra usage, and
/// messages of every role with metadata and an idempotency key.
async fn rich_conversation(store: &Store, user_key: &str) -> i64 {
    let c = ok(
        store,
        GetOrCreate {
            user_key: user_key.into(),
            platform: "qq".into(),
            chat_id: Some("chat456".into()),
        },
    )
    .await
    .conversation;
    let messages = vec![
        NewMessage::new(Role::System, "You are helpful.").tokens(4),
        NewMessage::new(Role::User, "Weather in Paris?")
            .tokens(6)
            .idempotency_key("om_1"),
        NewMessage::new(Role::Assistant, "")
            .tokens(9)
            .metadata(json!({"tool_calls": [{"id": "call_1", "function": {"name": "weather"}}]})),
        NewMessage::new(Role::Tool, "{\"result\": \"sunny, 25°C\"}")
            .tokens(5)
            .metadata(json!({"tool_call_id": "call_1"})),
        NewMessage::new(Role::Assistant, "Sunny, 25°C. 晴れ ☀️")
            .tokens(8)
            .metadata(json!({"model": "gpt-4o"})),
    ];
    ok(
        store,
        SaveMessages {
            conversation_id: c.id,
            messages,
        },
    )
    .await;
    ok(
        store,
        UpdateConversationStats {
            conversation_id: c.id,
            tokens_used: 100,
        },
    )
    .await;
    ok(
        store,
        SetSummary {
            conversation_id: c.id,
            summary: Some("Asked about the weather.".into()),
        },
    )
    .await;
    ok(
        store,
        SetActivePersona {
            conversation_id: c.id,
            persona_id: Some("meteorologist".into()),
        },
    )
    .await;
    c.id
}

/// `document` without the ids the exporting store gave (another store gives others).
fn without_ids(mut document: ExportDocument) -> ExportDocument {
    document.conversation.id = 0;
    for message in &mut document.messages {
        message.id = 0;
    }
    document
}

backend_test!(export_writes_the_guides_document, async |db: &TestDb| {
    let store = db.store().await;
    let id = rich_conversation(&store, "feishu:group:user123").await;
    let document = ok(
        &store,
        ExportConversation {
            conversation_id: id,
        },
    )
    .await;
    assert_eq!(document.format, FORMAT);
    assert_eq!(document.conversation, conversation(&store, id).await);
    let stored = all_messages(&store, id).await;
    assert_eq!(document.messages.len(), 5);
    for (exported, stored) in document.messages.iter().zip(&stored) {
        assert_eq!(
            (
                exported.id,
                exported.role,
                &exported.content,
                exported.timestamp,
                exported.tokens,
                &exported.metadata
            ),
            (
                stored.id,
                stored.role,
                &stored.content,
                stored.timestamp,
                stored.tokens,
                &stored.metadata
            )
        );
        assert_eq!(exported.idempotency_key, stored.idempotency_key);
    }

    let json = serde_json::to_value(&document).unwrap();
    let conversation = json["conversation"].as_object().unwrap();
    for key in [
        "id",
        "user_key",
        "platform",
        "chat_id",
        "created_at",
        "last_activity",
        "summary",
        "total_tokens",
        "message_count",
    ] {
        assert!(
            conversation.contains_key(key),
            "conversation.{key} is exported"
        );
    }
    assert_eq!(json["conversation"]["total_tokens"], json!(132));
    assert_eq!(json["conversation"]["message_count"], json!(5));
    assert_eq!(
        json["conversation"]["summary"],
        json!("Asked about the weather.")
    );
    for message in json["messages"].as_array().unwrap() {
        let message = message.as_object().unwrap();
        for key in ["id", "role", "content", "timestamp", "tokens", "metadata"] {
            assert!(message.contains_key(key), "messages[].{key} is exported");
        }
        assert!(message["metadata"].is_object());
        let time = message["timestamp"].as_str().unwrap();
        assert!(
            time.ends_with('Z') && time.len() == "2025-01-08T10:00:00.123456Z".len(),
            "{time}"
        );
    }
    assert_eq!(json["messages"][0]["metadata"], json!({}));
    assert_eq!(json["messages"][0]["role"], json!("system"));
    assert_eq!(json["messages"][1]["idempotency_key"], json!("om_1"));
    assert_eq!(
        json["conversation"]["created_at"],
        json!(timestamp::format(&document.conversation.created_at))
    );

    assert_not_found(
        call(
            &store,
            ExportConversation {
                conversation_id: id + 100,
            },
        )
        .await,
    );
});

backend_test!(
    export_page_streams_every_conversation_once,
    async |db: &TestDb| {
        let store = db.store().await;
        let mut ids = Vec::new();
        for i in 0..5 {
            let c = open_conversation(&store, &format!("user{i}")).await;
            save_turns(&store, c.id, i).await;
            ids.push(c.id);
        }
        let mut seen = Vec::new();
        let mut after_id = 0;
        let mut sizes = Vec::new();
        loop {
            let page = ok(&store, ExportPage { after_id, limit: 2 }).await;
            if page.is_empty() {
                break;
            }
            sizes.push(page.len());
            for document in page {
                assert_eq!(
                    document,
                    ok(
                        &store,
                        ExportConversation {
                            conversation_id: document.conversation.id
                        }
                    )
                    .await
                );
                after_id = document.conversation.id;
                seen.push(document.conversation.id);
            }
        }
        assert_eq!(sizes, [2, 2, 1]);
        assert_eq!(seen, ids);
        let everything = export_all(&store).await;
        assert_eq!(
            everything
                .iter()
                .map(|d| d.messages.len())
                .collect::<Vec<_>>(),
            [0, 2, 4, 6, 8]
        );
    }
);

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

backend_test!(
    a_round_trip_into_an_empty_store_keeps_everything,
    async |db: &TestDb| {
        let store = db.store().await;
        rich_conversation(&store, "feishu:group:user123").await;
        open_conversation(&store, "quiet").await;
        let other = open_conversation(&store, "other").await;
        save_turns(&store, other.id, 3).await;
        let exported = export_all(&store).await;
        assert_eq!(exported.len(), 3);

        let Some(second_db) = TestDb::create(db.backend()).await else {
            unreachable!("the first database of this backend was made")
        };
        let second = second_db.store().await;
        for document in &exported {
            let json: Value =
                serde_json::from_str(&serde_json::to_string(document).unwrap()).unwrap();
            assert!(import(&second, json).await.created);
        }
        let again = export_all(&second).await;
        assert_eq!(
            again.into_iter().map(without_ids).collect::<Vec<_>>(),
            exported
                .iter()
                .cloned()
                .map(without_ids)
                .collect::<Vec<_>>()
        );
        // The idempotency key came along: a redelivery into the new store saves nothing.
        let moved = ok(
            &second,
            GetConversationByUser {
                user_key: "feishu:group:user123".into(),
            },
        )
        .await
        .unwrap();
        let redelivered = ok(
            &second,
            SaveMessage {
                conversation_id: moved.id,
                message: NewMessage::new(Role::User, "Weather in Paris?").idempotency_key("om_1"),
            },
        )
        .await;
        assert!(!redelivered.created);
        drop(second);
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
