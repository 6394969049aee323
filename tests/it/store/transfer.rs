//! Export: the guide's document, paged export of everything, streamed exports (the same
//! bytes, a page of messages at a time, refusing what import would not read back), and a
//! round trip into an empty second store.

use convstore::model::timestamp;
use convstore::store::requests::*;
use convstore::store::{EXPORT_PAGE_BYTES, StoreSettings};
use convstore::transfer::{ExportDocument, FORMAT};
use convstore::{Role, StoreError};
use serde_json::{Value, json};

use crate::fixtures::db::TestDb;
use crate::fixtures::store::*;

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
            covers_through_id: None,
            tokens: None,
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

/// Everything a streamed export answers: its bytes, and the error that ended it early.
async fn streamed(store: &Store, scope: ExportScope) -> (Vec<u8>, Option<StoreError>) {
    let mut export = ok(store, StreamExport { scope }).await;
    let mut bytes = Vec::new();
    while let Some(chunk) = export.next_chunk().await {
        match chunk {
            Ok(chunk) => bytes.extend(chunk),
            Err(error) => return (bytes, Some(error)),
        }
    }
    (bytes, None)
}

/// A store whose exports read `per_page` messages a page.
async fn paging_store(db: &TestDb, per_page: usize, max_document_bytes: usize) -> Store {
    db.store_with(StoreSettings {
        max_content_bytes: EXPORT_PAGE_BYTES / per_page,
        max_document_bytes,
        ..Default::default()
    })
    .await
}

backend_test!(
    a_streamed_export_is_the_document_byte_for_byte,
    async |db: &TestDb| {
        // Three messages a page: documents of 0, 3 (one full page), 5 and 7 messages.
        let store = paging_store(db, 3, usize::MAX).await;
        let rich = rich_conversation(&store, "rich").await;
        let mut ids = vec![open_conversation(&store, "empty").await.id, rich];
        for (user, turns) in [("three", 1), ("seven", 3)] {
            let c = open_conversation(&store, user).await;
            save_turns(&store, c.id, turns).await;
            if turns == 1 {
                save(&store, c.id, Role::System, "a third", 1).await;
            } else {
                save(&store, c.id, Role::User, "a seventh", 1).await;
            }
            ids.push(c.id);
        }
        let mut ndjson = Vec::new();
        for id in ids {
            let document = ok(
                &store,
                ExportConversation {
                    conversation_id: id,
                },
            )
            .await;
            let expected = serde_json::to_vec(&document).unwrap();
            let (bytes, error) = streamed(&store, ExportScope::Conversation(id)).await;
            assert_eq!(error, None);
            assert_eq!(
                String::from_utf8(bytes).unwrap(),
                String::from_utf8(expected).unwrap(),
                "{} messages",
                document.messages.len()
            );
        }
        for document in export_all(&store).await {
            serde_json::to_writer(&mut ndjson, &document).unwrap();
            ndjson.push(b'\n');
        }
        let (bytes, error) = streamed(&store, ExportScope::All).await;
        assert_eq!(error, None);
        assert_eq!(String::from_utf8(bytes), String::from_utf8(ndjson));

        let (bytes, error) = streamed(&store, ExportScope::Conversation(rich + 100)).await;
        assert!(bytes.is_empty());
        assert_not_found(error.map_or(Ok(()), Err));
        rejects(
            &store,
            "conversation_id",
            StreamExport {
                scope: ExportScope::Conversation(0),
            },
        )
        .await;
    }
);

backend_test!(
    a_document_larger_than_import_reads_is_refused,
    async |db: &TestDb| {
        let store = paging_store(db, 2, 2_000).await;
        let small = open_conversation(&store, "small").await;
        save_turns(&store, small.id, 2).await;
        let large = open_conversation(&store, "large").await;
        for i in 0..30 {
            save(&store, large.id, Role::User, &format!("message {i:>60}"), 1).await;
        }
        let (bytes, error) = streamed(&store, ExportScope::Conversation(small.id)).await;
        assert_eq!(error, None);
        assert!(bytes.len() <= 2_000);

        let (bytes, error) = streamed(&store, ExportScope::Conversation(large.id)).await;
        assert!(
            bytes.len() <= 2_000,
            "no byte past the limit: {}",
            bytes.len()
        );
        assert_invalid(error.map_or(Ok(()), Err), "limits.max_line_bytes");
        let (_, error) = streamed(&store, ExportScope::All).await;
        assert_invalid(error.map_or(Ok(()), Err), "limits.max_line_bytes");
    }
);
