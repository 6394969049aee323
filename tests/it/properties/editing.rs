//! Random sequences of saves, truncates, deletes, forks, usage and checkpoints keep the
//! counters and the checkpoint equal to what the rows say, and every context is the one
//! a reference model picks: the newest whole turns after the checkpoint that fit, with
//! exactly what was left out.

use convstore::store::requests::*;
use convstore::{Role, StoredMessage};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use crate::fixtures::store::{Store, all_messages, conversation, open_conversation};

use super::*;

#[derive(Debug, Clone)]
enum Op {
    /// Saves these (role, tokens), all or nothing.
    Save(Vec<(Role, i64)>),
    TruncateLast(i64),
    /// Truncates after the message at this position (modulo the count).
    TruncateAfter(usize),
    Delete(usize),
    Checkpoint(usize, i64),
    ClearSummary,
    Usage(i64),
    /// Forks through the message at this position (`None`: all) and goes on in the fork.
    Fork(Option<usize>),
    Context(Option<i64>, Option<i64>),
}

fn op() -> impl Strategy<Value = Op> {
    let save = vec((any_role(), 0i64..=12), 1..4).prop_map(Op::Save);
    prop_oneof![
        6 => save,
        1 => (1i64..4).prop_map(Op::TruncateLast),
        1 => any::<usize>().prop_map(Op::TruncateAfter),
        1 => any::<usize>().prop_map(Op::Delete),
        2 => (any::<usize>(), 0i64..=15).prop_map(|(at, tokens)| Op::Checkpoint(at, tokens)),
        1 => Just(Op::ClearSummary),
        1 => (0i64..=50).prop_map(Op::Usage),
        1 => prop::option::of(any::<usize>()).prop_map(Op::Fork),
        4 => (prop::option::of(1i64..=80), prop::option::of(1i64..=6))
            .prop_map(|(tokens, turns)| Op::Context(tokens, turns)),
    ]
}

/// What one conversation holds: its messages (id, role, tokens), usage not tied to a
/// message, and the checkpoint (message id, summary tokens).
#[derive(Debug, Clone, Default)]
struct Model {
    messages: Vec<(i64, Role, i64)>,
    usage: i64,
    checkpoint: Option<(i64, i64)>,
}

/// The context the reference model expects: message ids, omitted turns and tokens.
fn expected_context(model: &Model, budget: ContextBudget) -> (Vec<i64>, i64, i64) {
    let (after, summary_tokens) = match model.checkpoint {
        Some((through, tokens)) => (through, tokens),
        None => (0, 0),
    };
    let rest: Vec<&(i64, Role, i64)> = model.messages.iter().filter(|m| m.0 > after).collect();
    // A leading run before the first user message, then one turn per user message.
    let first_user = rest
        .iter()
        .position(|m| m.1 == Role::User)
        .unwrap_or(rest.len());
    let (leading, turns_part) = rest.split_at(first_user);
    let mut turns: Vec<Vec<&(i64, Role, i64)>> = Vec::new();
    for message in turns_part {
        if message.1 == Role::User {
            turns.push(Vec::new());
        }
        turns.last_mut().unwrap().push(message);
    }
    let max_turns = match (budget.max_turns, budget.max_tokens) {
        (None, None) => 20,
        (turns, _) => turns.unwrap_or(i64::MAX),
    };
    let max_tokens = budget
        .max_tokens
        .map_or(i64::MAX, |max| max - summary_tokens);
    let tokens_of = |messages: &[&(i64, Role, i64)]| messages.iter().map(|m| m.2).sum::<i64>();
    let mut taken = 0;
    let mut used = 0;
    for turn in turns.iter().rev() {
        let cost = tokens_of(turn);
        if taken + 1 > max_turns || used + cost > max_tokens {
            break;
        }
        taken += 1;
        used += cost;
    }
    let all_turns = taken as usize == turns.len();
    let with_leading = all_turns && used + tokens_of(leading) <= max_tokens;
    let mut window: Vec<i64> = Vec::new();
    if with_leading {
        window.extend(leading.iter().map(|m| m.0));
    }
    for turn in &turns[turns.len() - taken as usize..] {
        window.extend(turn.iter().map(|m| m.0));
    }
    let omitted_turns =
        (turns.len() as i64 - taken) + i64::from(!leading.is_empty() && !with_leading);
    let omitted_tokens =
        tokens_of(&rest) - used - if with_leading { tokens_of(leading) } else { 0 };
    (window, omitted_turns, omitted_tokens)
}

/// The message at `at` (modulo the count), if there is one.
fn pick(model: &Model, at: usize) -> Option<i64> {
    (!model.messages.is_empty()).then(|| model.messages[at % model.messages.len()].0)
}

async fn check_edits(store: &Store, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut id = open_conversation(store, &unique_key("edits@")).await.id;
    let mut model = Model::default();
    for (n, op) in ops.iter().enumerate() {
        match op {
            Op::Save(saves) => {
                let messages = saves
                    .iter()
                    .map(|&(role, tokens)| NewMessage::new(role, format!("op{n}")).tokens(tokens))
                    .collect();
                let saved = req(
                    store,
                    SaveMessages {
                        conversation_id: id,
                        messages,
                    },
                )
                .await?;
                for (s, &(role, tokens)) in saved.iter().zip(saves) {
                    model.messages.push((s.message.id, role, tokens));
                }
            }
            Op::TruncateLast(count) => {
                let cut = req(
                    store,
                    Truncate {
                        conversation_id: id,
                        cut: Cut::Last(*count),
                    },
                )
                .await?;
                let keep = model.messages.len().saturating_sub(*count as usize);
                let gone: Vec<i64> = model.messages.drain(keep..).map(|m| m.0).collect();
                let removed: Vec<i64> = cut.removed.iter().map(|m| m.id).collect();
                prop_assert_eq!(removed, gone.clone(), "ops[{}] removed", n);
                if model.checkpoint.is_some_and(|(c, _)| gone.contains(&c)) {
                    model.checkpoint = None;
                }
            }
            Op::TruncateAfter(at) => {
                let Some(after) = pick(&model, *at) else {
                    continue;
                };
                let cut = req(
                    store,
                    Truncate {
                        conversation_id: id,
                        cut: Cut::After(after),
                    },
                )
                .await?;
                let keep = model.messages.iter().take_while(|m| m.0 <= after).count();
                let gone: Vec<i64> = model.messages.drain(keep..).map(|m| m.0).collect();
                let removed: Vec<i64> = cut.removed.iter().map(|m| m.id).collect();
                prop_assert_eq!(removed, gone.clone(), "ops[{}] removed", n);
                if model.checkpoint.is_some_and(|(c, _)| gone.contains(&c)) {
                    model.checkpoint = None;
                }
            }
            Op::Delete(at) => {
                let Some(message_id) = pick(&model, *at) else {
                    continue;
                };
                req(
                    store,
                    DeleteMessage {
                        conversation_id: id,
                        message_id,
                    },
                )
                .await?;
                model.messages.retain(|m| m.0 != message_id);
                if model.checkpoint.is_some_and(|(c, _)| c == message_id) {
                    model.checkpoint = None;
                }
            }
            Op::Checkpoint(at, tokens) => {
                let Some(through) = pick(&model, *at) else {
                    continue;
                };
                let request = SetSummary {
                    conversation_id: id,
                    summary: Some(format!("through {through}")),
                    covers_through_id: Some(through),
                    tokens: Some(*tokens),
                };
                req(store, request).await?;
                model.checkpoint = Some((through, *tokens));
            }
            Op::ClearSummary => {
                let request = SetSummary {
                    conversation_id: id,
                    summary: None,
                    covers_through_id: None,
                    tokens: None,
                };
                req(store, request).await?;
                model.checkpoint = None;
            }
            Op::Usage(tokens) => {
                req(
                    store,
                    UpdateConversationStats {
                        conversation_id: id,
                        tokens_used: *tokens,
                    },
                )
                .await?;
                model.usage += tokens;
            }
            Op::Fork(at) => {
                let through_id = at.and_then(|at| pick(&model, at));
                let request = ForkConversation {
                    conversation_id: id,
                    user_key: unique_key("fork@"),
                    platform: None,
                    chat_id: None,
                    through_id,
                };
                let fork = req(store, request).await?;
                let copies = all_messages(store, fork.id).await;
                let kept: Vec<(i64, Role, i64)> = model
                    .messages
                    .iter()
                    .filter(|m| through_id.is_none_or(|t| m.0 <= t))
                    .copied()
                    .collect();
                prop_assert_eq!(copies.len(), kept.len(), "ops[{}] copies", n);
                let position = model.checkpoint.and_then(|(c, tokens)| {
                    kept.iter().position(|m| m.0 == c).map(|at| (at, tokens))
                });
                model = Model {
                    messages: copies
                        .iter()
                        .zip(&kept)
                        .map(|(copy, &(_, role, tokens))| (copy.id, role, tokens))
                        .collect(),
                    usage: 0,
                    checkpoint: position.map(|(at, tokens)| (copies[at].id, tokens)),
                };
                let roles: Vec<Role> = copies.iter().map(|m: &StoredMessage| m.role).collect();
                let expected: Vec<Role> = model.messages.iter().map(|m| m.1).collect();
                prop_assert_eq!(roles, expected, "ops[{}] copied roles", n);
                id = fork.id;
            }
            Op::Context(max_tokens, max_turns) => {
                let budget = ContextBudget {
                    max_tokens: *max_tokens,
                    max_turns: *max_turns,
                };
                let context = req(
                    store,
                    LoadContext {
                        conversation_id: id,
                        budget,
                    },
                )
                .await?;
                let (window, omitted_turns, omitted_tokens) = expected_context(&model, budget);
                let got: Vec<i64> = context.messages.iter().map(|m| m.id).collect();
                prop_assert_eq!(got, window, "ops[{}] {:?} window of {:?}", n, budget, model);
                prop_assert_eq!(
                    (context.omitted_turns, context.omitted_tokens),
                    (omitted_turns, omitted_tokens),
                    "ops[{}] {:?} omitted, of {:?}",
                    n,
                    budget,
                    model
                );
                let summary_tokens = model.checkpoint.map_or(0, |c| c.1);
                let shown: i64 = context.messages.iter().map(|m| i64::from(m.tokens)).sum();
                prop_assert_eq!(context.total_tokens, summary_tokens + shown);
            }
        }

        let c = conversation(store, id).await;
        let stored = all_messages(store, id).await;
        let ids: Vec<i64> = stored.iter().map(|m| m.id).collect();
        let expected: Vec<i64> = model.messages.iter().map(|m| m.0).collect();
        prop_assert_eq!(ids, expected, "messages after ops[{}]", n);
        let tokens: i64 = model.messages.iter().map(|m| m.2).sum();
        prop_assert_eq!(
            (c.message_count, c.total_tokens),
            (model.messages.len() as i64, tokens + model.usage),
            "counters after ops[{}]",
            n
        );
        prop_assert_eq!(
            (c.summary_covers_through_id, c.summary_tokens),
            (
                model.checkpoint.map(|c| c.0),
                model.checkpoint.map_or(0, |c| c.1)
            ),
            "checkpoint after ops[{}]",
            n
        );
    }
    Ok(())
}

#[test]
fn edits_keep_counters_checkpoints_and_contexts_exact() {
    let harness = Harness::new(1);
    let store = harness.store(0);
    harness.check(vec(op(), 1..24), |ops| check_edits(store, ops));
}
