//! The statistics, read from the store-wide counters, always equal a full scan of the
//! store (every conversation exported with its messages), whatever sequence of
//! get-or-creates, saves, usage, clears, deletes, imports, cleanups, truncates, deletes
//! of one message and forks led there; the longest conversation and its user included.

use convstore::Stats;
use convstore::store::requests::*;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::json;

use crate::fixtures::db::TestDb;
use crate::fixtures::store::{Store, scanned_stats};

use super::*;

/// Users a case works on: few, so that operations meet the same conversations.
const USERS: usize = 3;

#[derive(Debug, Clone)]
enum Op {
    Open(usize),
    /// Messages (with these tokens) saved in one request.
    Save(usize, Vec<i64>),
    Usage(usize, i64),
    Clear(usize),
    Delete(usize),
    /// A document of this many messages, last active long ago; replacing or not.
    Import(usize, usize, bool),
    /// Deletes what is idle for a year: the imported conversations nobody touched.
    Cleanup,
    /// Removes the newest n messages.
    Truncate(usize, i64),
    /// Deletes the oldest message.
    DeleteOldest(usize),
    /// Forks the first user's conversation to the second user, if that one has none.
    Fork(usize, usize),
}

fn op() -> impl Strategy<Value = Op> {
    let user = 0..USERS;
    #[rustfmt::skip]
    let ops = prop_oneof![
        2 => user.clone().prop_map(Op::Open),
        4 => (user.clone(), vec(0i64..=1_000, 1..4)).prop_map(|(u, t)| Op::Save(u, t)),
        1 => (user.clone(), 0i64..=10_000).prop_map(|(u, t)| Op::Usage(u, t)),
        1 => user.clone().prop_map(Op::Clear),
        1 => user.clone().prop_map(Op::Delete),
        1 => (user, 0usize..4, any::<bool>()).prop_map(|(u, n, r)| Op::Import(u, n, r)),
        1 => Just(Op::Cleanup),
        1 => (0..USERS, 1i64..3).prop_map(|(u, n)| Op::Truncate(u, n)),
        1 => (0..USERS).prop_map(Op::DeleteOldest),
        1 => (0..USERS, 0..USERS).prop_map(|(u, v)| Op::Fork(u, v)),
    ];
    ops
}

/// The statistics of the whole store, computed from every stored message.
async fn scanned(store: &Store) -> Result<Stats, TestCaseError> {
    let mut documents = Vec::new();
    loop {
        let after_id = documents
            .last()
            .map_or(0, |d: &convstore::transfer::ExportDocument| {
                d.conversation.id
            });
        let page = req(
            store,
            ExportPage {
                after_id,
                limit: 1000,
            },
        )
        .await?;
        if page.is_empty() {
            break;
        }
        documents.extend(page);
    }
    Ok(scanned_stats(&documents))
}

async fn conversation_of(store: &Store, user_key: &str) -> Result<Option<i64>, TestCaseError> {
    let found = req(
        store,
        GetConversationByUser {
            user_key: user_key.to_string(),
        },
    )
    .await?;
    Ok(found.map(|c| c.id))
}

async fn run(store: &Store, users: &[String], n: usize, op: &Op) -> Result<(), TestCaseError> {
    match op {
        Op::Open(u) => {
            req(
                store,
                GetOrCreate {
                    user_key: users[*u].clone(),
                    platform: "test".into(),
                    chat_id: None,
                },
            )
            .await?;
        }
        Op::Save(u, tokens) => {
            if let Some(conversation_id) = conversation_of(store, &users[*u]).await? {
                let messages = tokens
                    .iter()
                    .map(|t| NewMessage::new(convstore::Role::User, format!("op{n}")).tokens(*t))
                    .collect();
                req(
                    store,
                    SaveMessages {
                        conversation_id,
                        messages,
                    },
                )
                .await?;
            }
        }
        Op::Usage(u, tokens) => {
            if let Some(conversation_id) = conversation_of(store, &users[*u]).await? {
                req(
                    store,
                    UpdateConversationStats {
                        conversation_id,
                        tokens_used: *tokens,
                    },
                )
                .await?;
            }
        }
        Op::Clear(u) => {
            if let Some(conversation_id) = conversation_of(store, &users[*u]).await? {
                req(store, ClearConversation { conversation_id }).await?;
            }
        }
        Op::Delete(u) => {
            if let Some(conversation_id) = conversation_of(store, &users[*u]).await? {
                req(store, DeleteConversation { conversation_id }).await?;
            }
        }
        Op::Import(u, messages, replace) => {
            let old = "2020-01-01T00:00:00Z";
            let messages: Vec<_> = (0..*messages)
                .map(|i| json!({"role": "user", "content": format!("imported {i}"), "timestamp": old, "tokens": 7}))
                .collect();
            let document = json!({
                "conversation": {"user_key": users[*u], "platform": "test", "last_activity": old, "total_tokens": 100},
                "messages": messages,
            });
            let on_conflict = if *replace {
                OnConflict::Replace
            } else {
                OnConflict::Skip
            };
            req(
                store,
                ImportConversation {
                    document,
                    on_conflict,
                },
            )
            .await?;
        }
        Op::Cleanup => {
            req(store, CleanupOldConversations { days: 365 }).await?;
        }
        Op::Truncate(u, n) => {
            if let Some(conversation_id) = conversation_of(store, &users[*u]).await? {
                req(
                    store,
                    Truncate {
                        conversation_id,
                        cut: Cut::Last(*n),
                    },
                )
                .await?;
            }
        }
        Op::DeleteOldest(u) => {
            if let Some(conversation_id) = conversation_of(store, &users[*u]).await? {
                let document = export(store, conversation_id).await?;
                if let Some(oldest) = document.messages.first() {
                    let message_id = oldest.id;
                    req(
                        store,
                        DeleteMessage {
                            conversation_id,
                            message_id,
                        },
                    )
                    .await?;
                }
            }
        }
        Op::Fork(u, v) => {
            if let Some(conversation_id) = conversation_of(store, &users[*u]).await?
                && conversation_of(store, &users[*v]).await?.is_none()
            {
                req(
                    store,
                    ForkConversation {
                        conversation_id,
                        user_key: users[*v].clone(),
                        platform: None,
                        chat_id: None,
                        through_id: None,
                    },
                )
                .await?;
            }
        }
    }
    Ok(())
}

async fn check_totals(_db: &TestDb, store: &Store, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let users: Vec<String> = (0..USERS).map(|_| unique_key("totals@")).collect();
    for (n, op) in ops.iter().enumerate() {
        run(store, &users, n, op).await?;
        let counted = req(store, GetStats).await?;
        prop_assert_eq!(counted, scanned(store).await?, "after ops[{}] {:?}", n, op);
    }
    Ok(())
}

#[test]
fn statistics_match_a_full_scan() {
    let harness = Harness::new(1);
    let (db, store) = (harness.db(0), harness.store(0));
    harness.check(vec(op(), 1..16), |ops| check_totals(db, store, ops));
}
