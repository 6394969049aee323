//! Saving messages: counters and activity, metadata as a JSON object, idempotency keys,
//! and `SaveMessages` being all or nothing.

use convstore::Role;
use convstore::store::requests::*;
use futures_util::future::join_all;
use serde_json::json;

use crate::fixtures::db::TestDb;
use crate::fixtures::store::*;

backend_test!(
    save_message_moves_counters_and_activity,
    async |db: &TestDb| {
        let store = db.store().await;
        let c = open_conversation(&store, "user").await;
        let mut last_activity = c.last_activity;
        let mut saved = Vec::new();
        for (role, content, tokens) in [
            (Role::User, "Hello", 5),
            (Role::Assistant, "Hi!", 7),
            (Role::User, "Bye", 11),
        ] {
            pause().await;
            let message = save(&store, c.id, role, content, tokens).await;
            assert_eq!(
                (
                    message.conversation_id,
                    message.role,
                    message.content.as_str()
                ),
                (c.id, role, content)
            );
            assert_eq!(message.tokens as i64, tokens);
            let now = conversation(&store, c.id).await;
            assert!(
                now.last_activity > last_activity,
                "saving {content:?} records the activity"
            );
            assert_eq!(now.last_activity, message.timestamp);
            last_activity = now.last_activity;
            saved.push(message);
        }
        let now = conversation(&store, c.id).await;
        assert_eq!((now.message_count, now.total_tokens), (3, 23));
        assert!(
            saved
                .windows(2)
                .all(|w| w[0].id < w[1].id && w[0].timestamp <= w[1].timestamp)
        );
        assert_eq!(
            all_messages(&store, c.id).await,
            saved,
            "the answers are what is stored"
        );

        assert_not_found(
            call(
                &store,
                SaveMessage {
                    conversation_id: c.id + 100,
                    message: NewMessage::new(Role::User, "lost"),
                },
            )
            .await,
        );
        assert_eq!(db.count_rows("messages").await, 3);
    }
);

backend_test!(
    metadata_round_trips_as_a_json_object,
    async |db: &TestDb| {
        let store = db.store().await;
        let c = open_conversation(&store, "user").await;
        let rich = json!({
            "model": "gpt-4o",
            "finish_reason": "tool_calls",
            "tool_calls": [{"id": "call_123", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}],
            "temperature": 0.25,
            "nested": {"empty": {}, "list": [1, null, true]},
            "text": "晴, 25°C ☀️ \"quoted\"",
        });
        let cases = [Some(rich.clone()), None, Some(json!(null)), Some(json!({}))];
        let mut saved = Vec::new();
        for metadata in cases {
            let mut message = NewMessage::new(Role::Assistant, "m").tokens(1);
            message.metadata = metadata;
            saved.push(
                ok(
                    &store,
                    SaveMessage {
                        conversation_id: c.id,
                        message,
                    },
                )
                .await
                .message,
            );
        }
        let expected: Vec<serde_json::Value> = vec![rich, json!({}), json!({}), json!({})];
        let answered: Vec<_> = saved
            .iter()
            .map(|m| serde_json::Value::Object(m.metadata.clone()))
            .collect();
        assert_eq!(answered, expected);
        let loaded: Vec<_> = all_messages(&store, c.id)
            .await
            .iter()
            .map(|m| serde_json::Value::Object(m.metadata.clone()))
            .collect();
        assert_eq!(loaded, expected);
        let exported = serde_json::to_value(
            ok(
                &store,
                ExportConversation {
                    conversation_id: c.id,
                },
            )
            .await,
        )
        .unwrap();
        assert_eq!(
            exported["messages"][1]["metadata"],
            json!({}),
            "no metadata exports as {{}}"
        );
        assert_eq!(exported["messages"][0]["metadata"], expected[0]);
    }
);

backend_test!(
    an_idempotency_key_saves_once_per_conversation,
    async |db: &TestDb| {
        let store = db.store().await;
        let c = open_conversation(&store, "user").await;
        let other = open_conversation(&store, "other").await;
        let keyed = |id: i64, content: &str, tokens: i64| SaveMessage {
            conversation_id: id,
            message: NewMessage::new(Role::User, content)
                .tokens(tokens)
                .idempotency_key("om_1"),
        };

        let first = ok(&store, keyed(c.id, "hello", 5)).await;
        assert!(first.created);
        assert_eq!(first.message.idempotency_key.as_deref(), Some("om_1"));
        let counters = conversation(&store, c.id).await;
        pause().await;
        let repeat = ok(&store, keyed(c.id, "hello, redelivered", 50)).await;
        assert!(!repeat.created);
        assert_eq!(
            repeat.message, first.message,
            "the stored message comes back unchanged"
        );
        assert_eq!(
            conversation(&store, c.id).await,
            counters,
            "no counter or activity moves"
        );

        let elsewhere = ok(&store, keyed(other.id, "hello", 5)).await;
        assert!(
            elsewhere.created,
            "the same key in another conversation is another message"
        );
        assert_ne!(elsewhere.message.id, first.message.id);

        // Concurrent deliveries of one key: one row, one creator, one answer.
        let racers =
            join_all((0..10).map(|i| call(&store, keyed(other.id, &format!("race {i}"), 1)))).await;
        let racers: Vec<_> = racers.into_iter().map(|r| r.expect("save")).collect();
        assert_eq!(
            racers.iter().filter(|r| r.created).count(),
            0,
            "the key was already stored"
        );
        assert!(racers.iter().all(|r| r.message == elsewhere.message));
        let fresh_key = |i: usize| SaveMessage {
            conversation_id: other.id,
            message: NewMessage::new(Role::User, format!("fresh {i}"))
                .tokens(2)
                .idempotency_key("om_2"),
        };
        let racers: Vec<_> = join_all((0..10).map(|i| call(&store, fresh_key(i)))).await;
        let racers: Vec<_> = racers.into_iter().map(|r| r.expect("save")).collect();
        assert_eq!(racers.iter().filter(|r| r.created).count(), 1);
        assert!(racers.iter().all(|r| r.message.id == racers[0].message.id));

        // Within one batch, and against a stored key.
        let batch = ok(
            &store,
            SaveMessages {
                conversation_id: other.id,
                messages: vec![
                    NewMessage::new(Role::User, "x")
                        .tokens(1)
                        .idempotency_key("om_3"),
                    NewMessage::new(Role::User, "x again")
                        .tokens(1)
                        .idempotency_key("om_3"),
                    NewMessage::new(Role::User, "old")
                        .tokens(1)
                        .idempotency_key("om_1"),
                ],
            },
        )
        .await;
        assert_eq!(
            batch.iter().map(|s| s.created).collect::<Vec<_>>(),
            [true, false, false]
        );
        assert_eq!(batch[1].message, batch[0].message);
        assert_eq!(batch[2].message, elsewhere.message);

        let other_now = conversation(&store, other.id).await;
        assert_eq!((other_now.message_count, other_now.total_tokens), (3, 8));
        assert_eq!(contents(&all_messages(&store, other.id).await).len(), 3);
        assert_eq!(db.count_rows("messages").await, 4);
    }
);

backend_test!(save_messages_is_all_or_nothing, async |db: &TestDb| {
    let store = db.store().await;
    let c = open_conversation(&store, "user").await;
    save(&store, c.id, Role::User, "before", 1).await;
    let before = snapshot(db, &store).await;

    let call_and_result = vec![
        NewMessage::new(Role::Assistant, "calling weather")
            .tokens(3)
            .metadata(json!({"tool_calls": [{"id": "c1"}]})),
        NewMessage::new(Role::Tool, "sunny")
            .tokens(2)
            .metadata(json!(["not", "an", "object"])),
        NewMessage::new(Role::Assistant, "It is sunny.").tokens(4),
    ];
    let rejected = call(
        &store,
        SaveMessages {
            conversation_id: c.id,
            messages: call_and_result.clone(),
        },
    )
    .await;
    assert_invalid(rejected, "messages[1].metadata");
    let missing = call(
        &store,
        SaveMessages {
            conversation_id: c.id + 100,
            messages: vec![NewMessage::new(Role::User, "x")],
        },
    )
    .await;
    assert_not_found(missing);
    assert_eq!(snapshot(db, &store).await, before, "nothing was written");

    let mut fixed = call_and_result;
    fixed[1].metadata = Some(json!({"tool_call_id": "c1"}));
    let saved = ok(
        &store,
        SaveMessages {
            conversation_id: c.id,
            messages: fixed,
        },
    )
    .await;
    assert!(saved.iter().all(|s| s.created));
    assert!(saved.windows(2).all(|w| w[0].message.id < w[1].message.id));
    assert_eq!(
        contents(&all_messages(&store, c.id).await),
        ["before", "calling weather", "sunny", "It is sunny."]
    );
    let now = conversation(&store, c.id).await;
    assert_eq!((now.message_count, now.total_tokens), (4, 10));
});

backend_test!(
    a_missing_conversation_fails_only_its_own_save,
    async |db: &TestDb| {
        let store = db.store().await;
        let c = open_conversation(&store, "user").await;
        // Sent together, these are committed in one group; the bad one must not sink the rest.
        let good = (0..20).map(|i| {
            call(
                &store,
                SaveMessage {
                    conversation_id: c.id,
                    message: NewMessage::new(Role::User, format!("m{i}")).tokens(1),
                },
            )
        });
        let bad = call(
            &store,
            SaveMessages {
                conversation_id: c.id + 100,
                messages: vec![NewMessage::new(Role::User, "lost")],
            },
        );
        let (good, bad) = futures_util::future::join(join_all(good), bad).await;
        assert_not_found(bad);
        assert!(
            good.iter().all(|r| r.as_ref().is_ok_and(|s| s.created)),
            "{good:?}"
        );
        let now = conversation(&store, c.id).await;
        assert_eq!((now.message_count, now.total_tokens), (20, 20));
        assert_eq!(db.count_rows("messages").await, 20);
    }
);
