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

    let bad_identities = [
        ("user_key", get_or_create("", "feishu", None)),
        ("user_key", get_or_create(&long_key, "feishu", None)),
        ("user_key", get_or_create(control, "feishu", None)),
        ("user_key", get_or_create("line\nbreak", "feishu", None)),
        ("platform", get_or_create("u", &"p".repeat(51), None)),
        ("platform", get_or_create("u", "", None)),
        (
            "chat_id",
            get_or_create("u", "feishu", Some(&"c".repeat(256))),
        ),
    ];
    for (field, request) in bad_identities {
        rejects(&store, field, request).await;
    }
    let by_user = GetConversationByUser {
        user_key: long_key.clone(),
    };
    rejects(&store, "user_key", by_user).await;
    let budget = |user_key: &str, budget| CheckTokenBudget {
        user_key: user_key.into(),
        budget,
    };
    rejects(&store, "user_key", budget("", 10)).await;
    rejects(&store, "budget", budget("u", -1)).await;
    for persona in ["p".repeat(256), String::new()] {
        let request = SetActivePersona {
            conversation_id: id,
            persona_id: Some(persona),
        };
        rejects(&store, "persona_id", request).await;
    }
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

    let bad_messages = [
        ("tokens", text(Role::User).tokens(-1)),
        ("tokens", text(Role::User).tokens(i64::from(i32::MAX) + 1)),
        ("metadata", with_metadata(json!(["a", "b"]))),
        ("metadata", with_metadata(json!("a string"))),
        ("metadata", with_metadata(json!(42))),
        ("metadata", with_metadata(json!({"nul": "a\u{0}b"}))),
        ("content", NewMessage::new(Role::User, "x".repeat(1001))),
        ("content", NewMessage::new(Role::User, "é".repeat(501))),
        ("content", NewMessage::new(Role::User, "nul\u{0}inside")),
    ];
    for (field, message) in bad_messages {
        rejects(&store, field, save_one(id, message)).await;
    }
    let batch = |messages| SaveMessages {
        conversation_id: id,
        messages,
    };
    let tool_with_negative_tokens = vec![
        text(Role::User),
        text(Role::Assistant),
        text(Role::Tool).tokens(-5),
    ];
    rejects(
        &store,
        "messages[2].tokens",
        batch(tool_with_negative_tokens),
    )
    .await;
    rejects(&store, "messages", batch(vec![])).await;
    rejects(&store, "messages", batch(vec![text(Role::User); 1001])).await;
    for summary in ["s".repeat(1001), "a\u{0}".into()] {
        let request = SetSummary {
            conversation_id: id,
            summary: Some(summary),
            covers_through_id: None,
            tokens: None,
        };
        rejects(&store, "summary", request).await;
    }
    let usage = UpdateConversationStats {
        conversation_id: id,
        tokens_used: -1,
    };
    rejects(&store, "tokens_used", usage).await;
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
    let window = |set: fn(&mut HistoryWindow)| {
        let mut window = HistoryWindow::default();
        set(&mut window);
        LoadHistory {
            conversation_id: id,
            window,
        }
    };
    let bad_windows: [(&str, LoadHistory); 10] = [
        ("max_turns", window(|w| w.max_turns = Some(0))),
        ("max_turns", window(|w| w.max_turns = Some(-1))),
        (
            "max_turns",
            window(|w| w.max_turns = Some(1_000_000_000_000)),
        ),
        ("max_messages", window(|w| w.max_messages = Some(0))),
        ("max_messages", window(|w| w.max_messages = Some(-3))),
        (
            "max_messages",
            window(|w| w.max_messages = Some(1_000_000_000_000)),
        ),
        ("max_tokens", window(|w| w.max_tokens = Some(0))),
        ("max_tokens", window(|w| w.max_tokens = Some(-1))),
        ("max_tokens", window(|w| w.max_tokens = Some(i64::MAX))),
        ("before_id", window(|w| w.before_id = Some(0))),
    ];
    for (field, request) in bad_windows {
        rejects(&store, field, request).await;
    }
    let list = |limit, after_id| ListConversations {
        limit,
        after_id,
        ..Default::default()
    };
    let bad_pages = [
        ("limit", list(Some(0), None)),
        ("limit", list(Some(1001), None)),
        ("after_id", list(None, Some(-1))),
        ("after_id", list(None, Some(id + 100))),
    ];
    for (field, request) in bad_pages {
        rejects(&store, field, request).await;
    }
    let export = ExportPage {
        after_id: 0,
        limit: 0,
    };
    rejects(&store, "limit", export).await;
    rejects(&store, "days", CleanupOldConversations { days: -1 }).await;
    rejects(&store, "days", CleanupOldConversations { days: 36_501 }).await;
    assert_eq!(snapshot(db, &store).await, before);
});
