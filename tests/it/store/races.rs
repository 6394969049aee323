//! Races between two stores on one database (two daemons): the same idempotency key
//! saved through both at the same moment (a re-delivered webhook landing on the other
//! replica) answers one save as created and the other with the stored message; two
//! imports of one user_key, and an import racing get-or-create, each answer as the
//! contract says. Never an error.

use futures_util::future::join_all;

use convstore::Role;
use convstore::store::requests::*;

use crate::fixtures::db::TestDb;
use crate::fixtures::store::*;

/// Keys each delivered to both stores at once.
const KEYS: usize = 200;
/// User keys imported through both stores at once.
const USERS: usize = 40;

backend_test!(
    one_key_through_two_stores_is_saved_once,
    async |db: &TestDb| {
        let stores = [db.store().await, db.store().await];
        let conversation = open_conversation(&stores[0], "twice").await;
        // One key at a time, to both stores at once: each commits a batch of one, as a
        // daemon does when a re-delivery lands on the other replica.
        for key in 0..KEYS {
            let deliveries = stores.iter().map(|store| {
                let message = NewMessage::new(Role::User, format!("delivery {key}"))
                    .tokens(3)
                    .idempotency_key(format!("om_{key}_busy_connection"));
                call(
                    store,
                    SaveMessage {
                        conversation_id: conversation.id,
                        message,
                    },
                )
            });
            let pair = join_all(deliveries).await;
            let pair: Vec<SavedMessage> = pair
                .into_iter()
                .map(|answer| answer.unwrap_or_else(|e| panic!("key {key}: {e:?}")))
                .collect();
            assert_eq!(
                pair[0].message, pair[1].message,
                "both answer the stored message"
            );
            assert_eq!(pair.iter().filter(|a| a.created).count(), 1);
        }
        let now = super::conversation(&stores[1], conversation.id).await;
        assert_eq!(
            (now.message_count, now.total_tokens),
            (KEYS as i64, 3 * KEYS as i64)
        );
        assert_eq!(db.count_rows("messages").await, KEYS as i64);
    }
);

backend_test!(
    racing_imports_and_creates_of_one_user_answer_the_contract,
    async |db: &TestDb| {
        let stores = [db.store().await, db.store().await];
        let imports = (0..2 * USERS).map(|i| {
            let document = document(
                &format!("imported-{}", i / 2),
                "test",
                "2025-01-08T10:00:00Z",
                vec![document_message("user", "hello", "2025-01-08T10:00:00Z", 2)],
            );
            let on_conflict = if i % 4 < 2 {
                OnConflict::Skip
            } else {
                OnConflict::Replace
            };
            call(
                &stores[i % 2],
                ImportConversation {
                    document,
                    on_conflict,
                },
            )
        });
        let creates = (0..2 * USERS).map(|i| {
            let store = stores[i % 2].clone();
            async move {
                let user_key = format!("created-{}", i / 2);
                if i % 2 == 0 {
                    call(
                        &store,
                        GetOrCreate {
                            user_key,
                            platform: "test".into(),
                            chat_id: None,
                        },
                    )
                    .await
                } else {
                    let document = document(&user_key, "test", "2025-01-08T10:00:00Z", vec![]);
                    call(
                        &store,
                        ImportConversation {
                            document,
                            on_conflict: OnConflict::Skip,
                        },
                    )
                    .await
                }
            }
        });
        let (imports, creates) =
            futures_util::future::join(join_all(imports), join_all(creates)).await;
        for (what, answers) in [("import", &imports), ("create", &creates)] {
            let errors: Vec<_> = answers.iter().filter(|a| a.is_err()).collect();
            assert!(
                errors.is_empty(),
                "{what}: {} failed: {:?}",
                errors.len(),
                errors.first()
            );
        }
        let ids = |answers: &[Result<Obtained, _>], pair: &[usize]| -> Vec<i64> {
            pair.iter()
                .map(|&i| answers[i].as_ref().unwrap().conversation.id)
                .collect()
        };
        for user in 0..USERS {
            let pair = [2 * user, 2 * user + 1];
            let both = ids(&creates, &pair);
            assert_eq!(both[0], both[1], "one conversation per user");
            let skip_pair = user % 2 == 0;
            let both = ids(&imports, &pair);
            assert_eq!(
                both[0], both[1],
                "a replace keeps the id the other import gave"
            );
            if skip_pair {
                let created = pair
                    .iter()
                    .filter(|&&i| imports[i].as_ref().unwrap().created)
                    .count();
                assert_eq!(created, 1, "one import created it, the other skipped");
            }
        }
        assert_eq!(db.count_rows("conversations").await, 2 * USERS as i64);
        assert_eq!(db.count_rows("messages").await, USERS as i64);
    }
);
