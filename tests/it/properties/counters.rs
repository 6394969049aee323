//! The counters always match the stored messages, whatever sequence of saves,
//! repeats, batches, usage and clears led there.

use std::fmt::Debug;

use convstore::Role;
use convstore::store::requests::*;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use crate::fixtures::db::TestDb;
use crate::fixtures::store::{Store, conversation, open_conversation};

use super::*;

#[derive(Debug, Clone)]
struct Save {
    role: Role,
    tokens: i64,
    /// One of a few keys, so that saves repeat one another.
    key: Option<u8>,
}

#[derive(Debug, Clone)]
enum Op {
    Save(Save),
    SaveMany(Vec<Save>),
    Usage(i64),
    Clear,
    Summary(Option<String>),
}

fn save_op() -> impl Strategy<Value = Save> {
    (
        any_role(),
        prop_oneof![4 => 0i64..=100, 1 => 0..=i64::from(i32::MAX)],
        prop::option::of(0u8..4),
    )
        .prop_map(|(role, tokens, key)| Save { role, tokens, key })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => save_op().prop_map(Op::Save),
        2 => vec(save_op(), 1..5).prop_map(Op::SaveMany),
        2 => prop_oneof![Just(0i64), 0i64..=1_000_000_000_000].prop_map(Op::Usage),
        1 => Just(Op::Clear),
        1 => prop::option::of(text(4)).prop_map(Op::Summary),
    ]
}

impl Save {
    fn message(&self, n: usize) -> NewMessage {
        let message = NewMessage::new(self.role, format!("op{n}")).tokens(self.tokens);
        match self.key {
            Some(key) => message.idempotency_key(format!("key{key}")),
            None => message,
        }
    }
}

/// What the conversation must hold: the stored messages' (key, tokens), the usage
/// added since the last clear, the summary.
#[derive(Debug, Default)]
struct Model {
    messages: Vec<(Option<u8>, i64)>,
    usage: i64,
    summary: Option<String>,
}

impl Model {
    /// Saves `save` unless its key is stored; whether it was saved.
    fn save(&mut self, save: &Save) -> bool {
        if save.key.is_some() && self.messages.iter().any(|(k, _)| *k == save.key) {
            return false;
        }
        self.messages.push((save.key, save.tokens));
        true
    }
}

async fn check_counters(db: &TestDb, store: &Store, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let id = open_conversation(store, &unique_key("counters@")).await.id;
    let mut model = Model::default();
    for (n, op) in ops.iter().enumerate() {
        match op {
            Op::Save(save) => {
                let saved = req(
                    store,
                    SaveMessage {
                        conversation_id: id,
                        message: save.message(n),
                    },
                )
                .await?;
                prop_assert_eq!(saved.created, model.save(save), "ops[{}] created", n);
            }
            Op::SaveMany(saves) => {
                let saved = req(
                    store,
                    SaveMessages {
                        conversation_id: id,
                        messages: saves.iter().map(|s| s.message(n)).collect(),
                    },
                )
                .await?;
                let created: Vec<bool> = saved.iter().map(|s| s.created).collect();
                let expected: Vec<bool> = saves.iter().map(|s| model.save(s)).collect();
                prop_assert_eq!(created, expected, "ops[{}] created", n);
            }
            Op::Usage(tokens) => {
                let c = req(
                    store,
                    UpdateConversationStats {
                        conversation_id: id,
                        tokens_used: *tokens,
                    },
                )
                .await?;
                model.usage += tokens;
                let sum: i64 = model.messages.iter().map(|m| m.1).sum();
                prop_assert_eq!(c.total_tokens, sum + model.usage, "ops[{}] answer", n);
            }
            Op::Clear => {
                let cleared = req(
                    store,
                    ClearConversation {
                        conversation_id: id,
                    },
                )
                .await?;
                prop_assert_eq!(cleared, model.messages.len() as u64, "ops[{}] count", n);
                model = Model::default();
            }
            Op::Summary(summary) => {
                let c = req(
                    store,
                    SetSummary {
                        conversation_id: id,
                        summary: summary.clone(),
                        covers_through_id: None,
                        tokens: None,
                    },
                )
                .await?;
                model.summary = summary.clone();
                prop_assert_eq!(&c.summary, &model.summary, "ops[{}] answer", n);
            }
        }

        let document = export(store, id).await?;
        let c = &document.conversation;
        let stored_tokens: i64 = document.messages.iter().map(|m| i64::from(m.tokens)).sum();
        prop_assert_eq!(
            c.message_count,
            document.messages.len() as i64,
            "after ops[{}]",
            n
        );
        prop_assert_eq!(
            c.total_tokens,
            stored_tokens + model.usage,
            "after ops[{}]",
            n
        );
        let expected: Vec<(Option<String>, i32)> = model
            .messages
            .iter()
            .map(|(k, t)| (k.map(|k| format!("key{k}")), *t as i32))
            .collect();
        let stored: Vec<(Option<String>, i32)> = document
            .messages
            .iter()
            .map(|m| (m.idempotency_key.clone(), m.tokens))
            .collect();
        prop_assert_eq!(stored, expected, "messages after ops[{}]", n);
        prop_assert_eq!(&c.summary, &model.summary, "summary after ops[{}]", n);
        prop_assert_eq!(conversation(store, id).await, c.clone());
    }
    // The store-wide totals agree with the tables.
    let stats = req(store, GetStats).await?;
    prop_assert_eq!(stats.total_messages, db.count_rows("messages").await);
    Ok(())
}

#[test]
fn counters_match_the_stored_messages() {
    let harness = Harness::new(1);
    let (db, store) = (harness.db(0), harness.store(0));
    harness.check(vec(op(), 1..12), |ops| check_counters(db, store, ops));
}
