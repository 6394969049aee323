//! Bad input: every rule answers `InvalidInput` naming the field at fault, and writes
//! nothing (the whole store is compared before and after).

use convstore::Role;
use convstore::store::StoreSettings;
use convstore::store::requests::*;
use serde_json::{Value, json};

use crate::fixtures::db::TestDb;
use crate::fixtures::store::*;

mod ids_and_documents;

fn get_or_create(user_key: &str, platform: &str, chat_id: Option<&str>) -> GetOrCreate {
    GetOrCreate {
        user_key: user_key.into(),
        platform: platform.into(),
        chat_id: chat_id.map(Into::into),
    }
}

fn save_one(conversation_id: i64, message: NewMessage) -> SaveMessage {
    SaveMessage {
        conversation_id,
        message,
    }
}

fn text(role: Role) -> NewMessage {
    NewMessage::new(role, "text").tokens(1)
}

/// A store holding one conversation with one message, the snapshot of it, and the id.
async fn seeded(db: &TestDb, settings: StoreSettings) -> (Store, Snapshot, i64) {
    let store = db.store_with(settings).await;
    let c = open_conversation(&store, "seed").await;
    save(&store, c.id, Role::User, "seed", 3).await;
    let before = snapshot(db, &store).await;
    (store, before, c.id)
}

#[test]
fn an_unknown_role_is_refused() {
    assert_invalid("robot".parse::<Role>(), "role");
    assert_invalid("User".parse::<Role>(), "role");
    assert_eq!("tool".parse::<Role>(), Ok(Role::Tool));
    assert!(
        serde_json::from_value::<NewMessage>(json!({"role": "robot", "content": "x"})).is_err()
    );
}

backend_test!(identifiers_are_checked, async |db: &TestDb| {
    let (store, before, id) = seeded(db, StoreSettings::default()).await;
    let long_key = "k".repeat(256);
    let control = "feishu:group:\u{7}bell";

    rejects(&store, "user_key", get_or_create("", "feishu", None)).await;
    rejects(&store, "user_key", get_or_create(&long_key, "feishu", None)).await;
    rejects(&store, "user_key", get_or_create(control, "feishu", None)).await;
    rejects(
        &store,
        "user_key",
        get_or_create("line\nbreak", "feishu", None),
    )
    .await;
    rejects(
        &store,
        "platform",
        get_or_create("u", &"p".repeat(51), None),
    )
    .await;
    rejects(&store, "platform", get_or_create("u", "", None)).await;
    rejects(
        &store,
        "chat_id",
        get_or_create("u", "feishu", Some(&"c".repeat(256))),
    )
    .await;
    rejects(
        &store,
        "user_key",
        GetConversationByUser {
            user_key: long_key.clone(),
        },
    )
    .await;
    rejects(
        &store,
        "user_key",
        CheckTokenBudget {
            user_key: String::new(),
            budget: 10,
        },
    )
    .await;
    rejects(
        &store,
        "budget",
        CheckTokenBudget {
            user_key: "u".into(),
            budget: -1,
        },
    )
    .await;
    rejects(
        &store,
        "persona_id",
        SetActivePersona {
            conversation_id: id,
            persona_id: Some("p".repeat(256)),
        },
    )
    .await;
    rejects(
        &store,
        "persona_id",
        SetActivePersona {
            conversation_id: id,
            persona_id: Some(String::new()),
        },
    )
    .await;
    let key_too_long = text(Role::User).idempotency_key("i".repeat(256));
    rejects(&store, "idempotency_key", save_one(id, key_too_long)).await;
    assert_eq!(snapshot(db, &store).await, before, "nothing was written");

    // The limits count characters, as the columns do: 255 of them fit, even 4-byte ones.
    for key in ["k".repeat(255), "é".repeat(255), "🦀".repeat(255)] {
        let obtained = ok(
            &store,
            get_or_create(&key, &"p".repeat(50), Some(&"c".repeat(255))),
        )
        .await;
        assert!(obtained.created);
        assert_eq!(obtained.conversation.user_key, key);
        let found = ok(
            &store,
            GetConversationByUser {
                user_key: key.clone(),
            },
        )
        .await;
        assert_eq!(found.map(|c| c.id), Some(obtained.conversation.id));
    }
});

backend_test!(messages_are_checked, async |db: &TestDb| {
    let settings = StoreSettings {
        max_content_bytes: 1000,
        ..Default::default()
    };
    let (store, before, id) = seeded(db, settings).await;
    let with_metadata = |metadata: Value| text(Role::Assistant).metadata(metadata);

    rejects(&store, "tokens", save_one(id, text(Role::User).tokens(-1))).await;
    rejects(
        &store,
        "tokens",
        save_one(id, text(Role::User).tokens(i64::from(i32::MAX) + 1)),
    )
    .await;
    rejects(
        &store,
        "metadata",
        save_one(id, with_metadata(json!(["a", "b"]))),
    )
    .await;
    rejects(
        &store,
        "metadata",
        save_one(id, with_metadata(json!("a string"))),
    )
    .await;
    rejects(&store, "metadata", save_one(id, with_metadata(json!(42)))).await;
    rejects(
        &store,
        "metadata",
        save_one(id, with_metadata(json!({"nul": "a\u{0}b"}))),
    )
    .await;
    rejects(
        &store,
        "content",
        save_one(id, NewMessage::new(Role::User, "x".repeat(1001))),
    )
    .await;
    rejects(
        &store,
        "content",
        save_one(id, NewMessage::new(Role::User, "é".repeat(501))),
    )
    .await;
    rejects(
        &store,
        "content",
        save_one(id, NewMessage::new(Role::User, "nul\u{0}inside")),
    )
    .await;
    let batch = vec![
        text(Role::User),
        text(Role::Assistant),
        text(Role::Tool).tokens(-5),
    ];
    rejects(
        &store,
        "messages[2].tokens",
        SaveMessages {
            conversation_id: id,
            messages: batch,
        },
    )
    .await;
    rejects(
        &store,
        "messages",
        SaveMessages {
            conversation_id: id,
            messages: vec![],
        },
    )
    .await;
    let too_many = vec![text(Role::User); 1001];
    rejects(
        &store,
        "messages",
        SaveMessages {
            conversation_id: id,
            messages: too_many,
        },
    )
    .await;
    rejects(
        &store,
        "summary",
        SetSummary {
            conversation_id: id,
            summary: Some("s".repeat(1001)),
        },
    )
    .await;
    rejects(
        &store,
        "summary",
        SetSummary {
            conversation_id: id,
            summary: Some("a\u{0}".into()),
        },
    )
    .await;
    rejects(
        &store,
        "tokens_used",
        UpdateConversationStats {
            conversation_id: id,
            tokens_used: -1,
        },
    )
    .await;
    assert_eq!(snapshot(db, &store).await, before, "nothing was written");

    // The limits themselves are allowed.
    for message in [
        NewMessage::new(Role::User, "x".repeat(1000)),
        NewMessage::new(Role::User, "é".repeat(500)),
        text(Role::User).tokens(i64::from(i32::MAX)),
    ] {
        ok(&store, save_one(id, message)).await;
    }
    let now = conversation(&store, id).await;
    assert_eq!(
        (now.message_count, now.total_tokens),
        (4, 3 + i64::from(i32::MAX))
    );
});

backend_test!(windows_and_pages_are_checked, async |db: &TestDb| {
    let (store, before, id) = seeded(db, StoreSettings::default()).await;
    let load = |window: LoadHistory| LoadHistory {
        conversation_id: id,
        ..window
    };
    for turns in [0, -1, 1_000_000_000_000] {
        rejects(
            &store,
            "max_turns",
            load(LoadHistory {
                window: HistoryWindow {
                    max_turns: Some(turns),
                    ..Default::default()
                },
                ..Default::default()
            }),
        )
        .await;
    }
    for messages in [0, -3, 1_000_000_000_000] {
        rejects(
            &store,
            "max_messages",
            load(LoadHistory {
                window: HistoryWindow {
                    max_messages: Some(messages),
                    ..Default::default()
                },
                ..Default::default()
            }),
        )
        .await;
    }
    for tokens in [0, -1, i64::MAX] {
        rejects(
            &store,
            "max_tokens",
            load(LoadHistory {
                window: HistoryWindow {
                    max_tokens: Some(tokens),
                    ..Default::default()
                },
                ..Default::default()
            }),
        )
        .await;
    }
    rejects(
        &store,
        "before_id",
        load(LoadHistory {
            window: HistoryWindow {
                before_id: Some(0),
                ..Default::default()
            },
            ..Default::default()
        }),
    )
    .await;
    rejects(
        &store,
        "limit",
        ListConversations {
            limit: Some(0),
            ..Default::default()
        },
    )
    .await;
    rejects(
        &store,
        "limit",
        ListConversations {
            limit: Some(1001),
            ..Default::default()
        },
    )
    .await;
    rejects(
        &store,
        "after_id",
        ListConversations {
            after_id: Some(-1),
            ..Default::default()
        },
    )
    .await;
    rejects(
        &store,
        "after_id",
        ListConversations {
            after_id: Some(id + 100),
            ..Default::default()
        },
    )
    .await;
    rejects(
        &store,
        "limit",
        ExportPage {
            after_id: 0,
            limit: 0,
        },
    )
    .await;
    rejects(&store, "days", CleanupOldConversations { days: -1 }).await;
    rejects(&store, "days", CleanupOldConversations { days: 36_501 }).await;
    assert_eq!(snapshot(db, &store).await, before);
});
