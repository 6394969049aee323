//! Bad ids and bad import documents: every one answers `InvalidInput` naming the field
//! at fault (`messages[3].timestamp`, ...), and writes nothing.

use convstore::store::requests::*;
use convstore::{Role, StoreError};
use serde_json::{Value, json};

use super::*;
use crate::fixtures::db::TestDb;

backend_test!(conversation_ids_must_be_positive, async |db: &TestDb| {
    let (store, before, _) = seeded(db, StoreSettings::default()).await;
    const FIELD: &str = "conversation_id";
    for id in [0, -1, i64::MIN] {
        rejects(
            &store,
            FIELD,
            GetConversation {
                conversation_id: id,
            },
        )
        .await;
        rejects(&store, FIELD, save_one(id, text(Role::User))).await;
        rejects(
            &store,
            FIELD,
            SaveMessages {
                conversation_id: id,
                messages: vec![text(Role::User)],
            },
        )
        .await;
        rejects(
            &store,
            FIELD,
            LoadHistory {
                conversation_id: id,
                ..Default::default()
            },
        )
        .await;
        rejects(
            &store,
            FIELD,
            UpdateConversationStats {
                conversation_id: id,
                tokens_used: 1,
            },
        )
        .await;
        rejects(
            &store,
            FIELD,
            ClearConversation {
                conversation_id: id,
            },
        )
        .await;
        rejects(
            &store,
            FIELD,
            DeleteConversation {
                conversation_id: id,
            },
        )
        .await;
        rejects(
            &store,
            FIELD,
            ExportConversation {
                conversation_id: id,
            },
        )
        .await;
        rejects(
            &store,
            FIELD,
            SetSummary {
                conversation_id: id,
                summary: None,
                covers_through_id: None,
                tokens: None,
            },
        )
        .await;
        rejects(
            &store,
            FIELD,
            SetActivePersona {
                conversation_id: id,
                persona_id: None,
            },
        )
        .await;
        rejects(
            &store,
            FIELD,
            GetActivePersona {
                conversation_id: id,
            },
        )
        .await;
    }
    assert_eq!(snapshot(db, &store).await, before);
});

/// A valid import document to break one field of at a time.
fn good_document() -> Value {
    json!({
        "conversation": {"user_key": "imported", "platform": "feishu", "total_tokens": 6},
        "messages": [
            {"role": "user", "content": "one", "timestamp": "2025-01-08T10:00:00", "tokens": 1},
            {"role": "assistant", "content": "two", "timestamp": "2025-01-08T10:00:01", "tokens": 2},
            {"role": "user", "content": "three", "timestamp": "2025-01-08T10:00:02", "tokens": 3},
        ],
    })
}

/// `good_document()` with the value at `path` (keys and indexes) replaced, or removed
/// when `value` is `None`.
fn broken(path: &[&str], value: Option<Value>) -> Value {
    let mut document = good_document();
    let (last, parents) = path.split_last().expect("a path");
    let mut node = &mut document;
    for step in parents {
        node = match step.parse::<usize>() {
            Ok(index) => &mut node[index],
            Err(_) => &mut node[*step],
        };
    }
    let object = node.as_object_mut().expect("an object");
    match value {
        Some(value) => object.insert(last.to_string(), value),
        None => object.remove(*last),
    };
    document
}

backend_test!(import_documents_are_checked, async |db: &TestDb| {
    let settings = StoreSettings {
        max_content_bytes: 1000,
        ..Default::default()
    };
    let (store, before, _) = seeded(db, settings).await;
    let cases = [
        (
            "conversation.user_key",
            broken(&["conversation", "user_key"], None),
        ),
        (
            "conversation.user_key",
            broken(&["conversation", "user_key"], Some(json!(""))),
        ),
        (
            "conversation.user_key",
            broken(&["conversation", "user_key"], Some(json!(12))),
        ),
        (
            "conversation.platform",
            broken(&["conversation", "platform"], None),
        ),
        (
            "conversation.platform",
            broken(&["conversation", "platform"], Some(json!("p".repeat(51)))),
        ),
        (
            "conversation.created_at",
            broken(&["conversation", "created_at"], Some(json!("yesterday"))),
        ),
        (
            "conversation.total_tokens",
            broken(&["conversation", "total_tokens"], Some(json!(-1))),
        ),
        ("messages[0].role", broken(&["messages", "0", "role"], None)),
        (
            "messages[0].role",
            broken(&["messages", "0", "role"], Some(json!("robot"))),
        ),
        (
            "messages[2].content",
            broken(&["messages", "2", "content"], None),
        ),
        (
            "messages[2].content",
            broken(&["messages", "2", "content"], Some(json!("x".repeat(1001)))),
        ),
        (
            "messages[1].timestamp",
            broken(
                &["messages", "1", "timestamp"],
                Some(json!("2025-13-45T10:00:00")),
            ),
        ),
        (
            "messages[1].timestamp",
            broken(&["messages", "1", "timestamp"], Some(json!("not a time"))),
        ),
        (
            "messages[1].tokens",
            broken(&["messages", "1", "tokens"], Some(json!(-2))),
        ),
        (
            "messages[1].metadata",
            broken(&["messages", "1", "metadata"], Some(json!([1, 2]))),
        ),
        (
            "messages",
            broken(&["messages"], Some(json!({"role": "user"}))),
        ),
        ("conversation", json!({"messages": []})),
        ("document", json!([good_document()])),
    ];
    for (field, document) in cases {
        for on_conflict in [OnConflict::Skip, OnConflict::Replace] {
            let result = call(
                &store,
                ImportConversation {
                    document: document.clone(),
                    on_conflict,
                },
            )
            .await;
            match result {
                Err(StoreError::InvalidInput { field: named, .. }) if named == field => {}
                other => {
                    panic!("expected InvalidInput naming {field:?} for {document}, got {other:?}")
                }
            }
        }
    }
    assert_eq!(snapshot(db, &store).await, before, "nothing was written");
    let imported = import(&store, good_document()).await;
    assert_eq!(
        imported.conversation.message_count, 3,
        "the unbroken document imports"
    );
});
