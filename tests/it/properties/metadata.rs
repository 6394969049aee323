//! Metadata is refused exactly when it holds a NUL or would not read back.

use convstore::store::requests::*;
use convstore::{Role, StoreError};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use serde_json::{Value, json};

use crate::fixtures::store::open_conversation;

use super::*;

/// Puts a NUL into the `target`-th string or key of `value` (depth first), counting
/// them in `seen`.
fn poison(value: &mut Value, target: usize, seen: &mut usize) {
    match value {
        Value::String(text) => {
            if *seen == target {
                text.push('\0');
            }
            *seen += 1;
        }
        Value::Array(items) => items.iter_mut().for_each(|v| poison(v, target, seen)),
        Value::Object(map) => {
            let old = std::mem::take(map);
            for (mut key, mut inner) in old {
                if *seen == target {
                    key.insert(0, '\0');
                }
                *seen += 1;
                poison(&mut inner, target, seen);
                map.insert(key, inner);
            }
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(Config {
        cases: 256,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(SEED),
        ..Config::default()
    })]

    /// Metadata is refused exactly when a key or a string in it holds a NUL, wherever
    /// it is nested; what is accepted is stored as JSON text that reads back the same.
    #[test]
    fn metadata_is_refused_exactly_when_it_holds_a_nul(
        metadata in json_object(json_value()),
        place in any::<prop::sample::Index>(),
    ) {
        use convstore::store::validate;
        let clean = Value::Object(metadata);
        match validate::metadata("metadata", Some(clean.clone())) {
            Ok((object, Some(text))) => {
                prop_assert_eq!(serde_json::from_str::<Value>(&text).ok(), Some(clean.clone()));
                prop_assert_eq!(Value::Object(object), clean.clone());
            }
            Ok((object, None)) => {
                prop_assert_eq!(&clean, &json!({}));
                prop_assert!(object.is_empty());
            }
            Err(error) => prop_assert!(false, "{:?} refused: {}", clean, error),
        }

        let mut slots = 0;
        poison(&mut clean.clone(), usize::MAX, &mut slots);
        let mut poisoned = clean.clone();
        if slots == 0 {
            poisoned = json!({"\0": null});
        } else {
            poison(&mut poisoned, place.index(slots), &mut 0);
        }
        prop_assert_ne!(&poisoned, &clean);
        match validate::metadata("metadata", Some(poisoned.clone())) {
            Err(StoreError::InvalidInput { field, .. }) => prop_assert_eq!(field, "metadata"),
            other => prop_assert!(false, "{:?} accepted: {:?}", poisoned, other),
        }
    }
}

/// Metadata that would not read back (serde_json reads JSON nested at most 128 deep)
/// is refused, on a save and on an import, instead of making the conversation's
/// history and export fail for good.
#[test]
fn metadata_too_deep_to_read_back_is_refused() {
    let nested = |depth: usize| (0..depth).fold(json!(1), |inner, _| json!({ "a": inner }));
    let harness = Harness::new(1);
    let store = harness.store(0);
    harness.block_on(async {
        let id = open_conversation(store, "deep").await.id;
        for (depth, accepted) in [(100, true), (101, false), (200, false)] {
            let saved = store
                .send(SaveMessage {
                    conversation_id: id,
                    message: NewMessage::new(Role::User, "x").metadata(nested(depth)),
                })
                .await
                .expect("mailbox");
            match saved {
                Ok(saved) => {
                    assert!(accepted, "metadata {depth} deep was saved");
                    assert_eq!(Value::Object(saved.message.metadata), nested(depth));
                }
                Err(error) => {
                    assert!(!accepted, "metadata {depth} deep was refused: {error:?}");
                    crate::fixtures::store::assert_invalid(Err::<(), _>(error), "metadata");
                }
            }
            let document = json!({
                "conversation": {"user_key": format!("deep{depth}"), "platform": "p"},
                "messages": [{"role": "user", "content": "x", "metadata": nested(depth)}],
            });
            let imported = store
                .send(ImportConversation {
                    document,
                    on_conflict: OnConflict::Skip,
                })
                .await
                .expect("mailbox");
            if accepted {
                let id = imported.expect("imported").conversation.id;
                let exported = crate::fixtures::store::ok(
                    store,
                    ExportConversation {
                        conversation_id: id,
                    },
                )
                .await;
                assert_eq!(
                    Value::Object(exported.messages[0].metadata.clone()),
                    nested(depth)
                );
            } else {
                crate::fixtures::store::assert_invalid(imported, "messages[0].metadata");
            }
        }
        crate::fixtures::store::ok(
            store,
            LoadHistory {
                conversation_id: id,
                ..Default::default()
            },
        )
        .await;
    });
}
