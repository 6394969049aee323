//! Every history window is the one a simple reference model picks.

use std::fmt::Debug;

use convstore::Role;
use convstore::store::StoreSettings;
use convstore::store::requests::*;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use crate::fixtures::store::{Store, open_conversation};

use super::*;

/// Where a `before_id` points, resolved against the conversation's ids.
#[derive(Debug, Clone)]
enum Before {
    None,
    /// The id of message `index` (modulo the length).
    At(prop::sample::Index),
    /// One less than the id of message `index`: often a message of another
    /// conversation.
    JustBelow(prop::sample::Index),
    /// Past every message.
    Past,
}

#[derive(Debug, Clone)]
struct WindowCase {
    max_turns: Option<i64>,
    max_messages: Option<i64>,
    max_tokens: Option<i64>,
    before: Before,
}

#[derive(Debug, Clone)]
struct HistoryCase {
    /// The conversation, saved in `chunks`, another conversation's message between two.
    messages: Vec<(Role, i64)>,
    chunks: Vec<prop::sample::Index>,
    windows: Vec<WindowCase>,
}

fn window_case() -> impl Strategy<Value = WindowCase> {
    (
        prop::option::of(1i64..=6),
        prop::option::of(1i64..=12),
        prop::option::of(1i64..=60),
        prop_oneof![
            Just(Before::None),
            any::<prop::sample::Index>().prop_map(Before::At),
            any::<prop::sample::Index>().prop_map(Before::JustBelow),
            Just(Before::Past),
        ],
    )
        .prop_map(|(max_turns, max_messages, max_tokens, before)| WindowCase {
            max_turns,
            max_messages,
            max_tokens,
            before,
        })
}

fn history_case() -> impl Strategy<Value = HistoryCase> {
    // Users and tool results often enough to make turns of every shape.
    let role = prop::sample::select(vec![
        Role::User,
        Role::User,
        Role::Assistant,
        Role::Assistant,
        Role::Tool,
        Role::System,
    ]);
    let tokens = prop_oneof![Just(0i64), 0i64..=12];
    (
        vec((role, tokens), 0..=30),
        vec(any::<prop::sample::Index>(), 0..3),
        vec(window_case(), 1..=4),
    )
        .prop_map(|(messages, chunks, windows)| HistoryCase {
            messages,
            chunks,
            windows,
        })
}

/// The window a `LoadHistory` must return, found the slow, obvious way: of the
/// messages before `before_id`, the longest suffix that starts where a window may
/// start and stays within every limit. `messages` holds (id, role, tokens), oldest
/// first.
fn reference_window(
    messages: &[(i64, Role, i64)],
    turns: Option<i64>,
    most: Option<i64>,
    budget: Option<i64>,
    before_id: Option<i64>,
) -> Vec<i64> {
    let prefix: Vec<_> = messages
        .iter()
        .filter(|(id, ..)| before_id.is_none_or(|b| *id < b))
        .collect();
    let turn_based = turns.is_some() || budget.is_some();
    for start in 0..prefix.len() {
        let suffix = &prefix[start..];
        let role = suffix[0].1;
        let may_start = start == 0
            || if turn_based {
                role == Role::User
            } else {
                role != Role::Tool
            };
        let user_messages = suffix.iter().filter(|m| m.1 == Role::User).count() as i64;
        let token_sum: i64 = suffix.iter().map(|m| m.2).sum();
        let fits = most.is_none_or(|n| suffix.len() as i64 <= n)
            && turns.is_none_or(|n| user_messages <= n)
            && budget.is_none_or(|n| token_sum <= n);
        if may_start && fits {
            return suffix.iter().map(|m| m.0).collect();
        }
    }
    Vec::new()
}

async fn check_history(store: &Store, noise: i64, case: HistoryCase) -> Result<(), TestCaseError> {
    let id = open_conversation(store, &unique_key("history@")).await.id;
    // Save in chunks, with a message of another conversation between two, so that
    // the conversation's ids have gaps.
    let mut cuts: Vec<usize> = case
        .chunks
        .iter()
        .map(|i| i.index(case.messages.len() + 1))
        .collect();
    cuts.push(case.messages.len());
    cuts.sort_unstable();
    let mut stored: Vec<(i64, Role, i64)> = Vec::new();
    let mut from = 0;
    for cut in cuts {
        if cut > from {
            let batch = case.messages[from..cut]
                .iter()
                .enumerate()
                .map(|(i, &(role, tokens))| {
                    NewMessage::new(role, format!("m{}", from + i)).tokens(tokens)
                })
                .collect();
            let saved = req(
                store,
                SaveMessages {
                    conversation_id: id,
                    messages: batch,
                },
            )
            .await?;
            stored.extend(
                saved
                    .iter()
                    .map(|s| (s.message.id, s.message.role, i64::from(s.message.tokens))),
            );
            from = cut;
        }
        req(
            store,
            SaveMessage {
                conversation_id: noise,
                message: NewMessage::new(Role::User, "noise"),
            },
        )
        .await?;
    }

    for window in case.windows {
        let before_id = match (&window.before, stored.as_slice()) {
            (Before::None, _) => None,
            (_, []) => Some(1),
            (Before::At(i), s) => Some(s[i.index(s.len())].0),
            (Before::JustBelow(i), s) => Some((s[i.index(s.len())].0 - 1).max(1)),
            (Before::Past, s) => Some(s[s.len() - 1].0 + 1),
        };
        let request = LoadHistory {
            conversation_id: id,
            window: HistoryWindow {
                max_turns: window.max_turns,
                max_messages: window.max_messages,
                max_tokens: window.max_tokens,
                before_id,
            },
        };
        let loaded = req(store, request.clone()).await?;
        let got: Vec<i64> = loaded.iter().map(|m| m.id).collect();

        // The properties one by one, so that a failure says which one broke.
        let prefix: Vec<&(i64, Role, i64)> = stored
            .iter()
            .filter(|(id, ..)| before_id.is_none_or(|b| *id < b))
            .collect();
        prop_assert!(
            got.len() <= prefix.len(),
            "more messages than stored: {:?}",
            got
        );
        let suffix_ids: Vec<i64> = prefix[prefix.len() - got.len()..]
            .iter()
            .map(|m| m.0)
            .collect();
        prop_assert_eq!(&got, &suffix_ids, "not the newest messages in order");
        for (m, s) in loaded.iter().zip(&prefix[prefix.len() - got.len()..]) {
            prop_assert_eq!(
                (m.conversation_id, m.role, i64::from(m.tokens)),
                (id, s.1, s.2)
            );
        }
        let (turns, most, budget) = match (window.max_turns, window.max_messages, window.max_tokens)
        {
            (None, None, None) => (Some(StoreSettings::default().max_history_turns), None, None),
            limits => limits,
        };
        if let Some(first) = loaded.first() {
            let is_first = first.id == prefix[0].0;
            prop_assert!(
                is_first || first.role != Role::Tool,
                "starts with a tool result cut off from its call"
            );
            if turns.is_some() || budget.is_some() {
                prop_assert!(
                    is_first || first.role == Role::User,
                    "a turn window starts at a {} message",
                    first.role
                );
            }
        }
        let user_messages = loaded.iter().filter(|m| m.role == Role::User).count() as i64;
        let token_sum: i64 = loaded.iter().map(|m| i64::from(m.tokens)).sum();
        prop_assert!(
            most.is_none_or(|n| loaded.len() as i64 <= n),
            "too many messages"
        );
        prop_assert!(turns.is_none_or(|n| user_messages <= n), "too many turns");
        prop_assert!(
            budget.is_none_or(|n| token_sum <= n),
            "over the token budget"
        );

        let expected = reference_window(&stored, turns, most, budget, before_id);
        prop_assert_eq!(&got, &expected, "not the largest window; {:?}", request);
    }
    Ok(())
}

#[test]
fn history_windows_are_the_largest_that_fit() {
    let harness = Harness::new(1);
    let store = harness.store(0);
    let noise = harness.block_on(open_conversation(store, "noise")).id;
    harness.check(history_case(), |case| check_history(store, noise, case));
}

#[test]
fn the_reference_window_model_is_right() {
    use Role::*;
    let m = |roles: &[(Role, i64)]| -> Vec<(i64, Role, i64)> {
        roles
            .iter()
            .enumerate()
            .map(|(i, &(r, t))| (i as i64 + 1, r, t))
            .collect()
    };
    let chat = m(&[
        (System, 1),
        (User, 1),
        (Assistant, 1),
        (User, 1),
        (Assistant, 1),
        (Tool, 1),
        (Assistant, 1),
    ]);
    assert_eq!(
        reference_window(&chat, Some(1), None, None, None),
        [4, 5, 6, 7]
    );
    assert_eq!(
        reference_window(&chat, Some(2), None, None, None),
        [1, 2, 3, 4, 5, 6, 7]
    );
    assert_eq!(reference_window(&chat, None, Some(2), None, None), [7]);
    assert_eq!(
        reference_window(&chat, None, Some(3), None, None),
        [5, 6, 7]
    );
    assert_eq!(
        reference_window(&chat, None, None, Some(3), None),
        Vec::<i64>::new()
    );
    assert_eq!(
        reference_window(&chat, None, None, Some(4), None),
        [4, 5, 6, 7]
    );
    assert_eq!(
        reference_window(&chat, Some(5), None, None, Some(4)),
        [1, 2, 3]
    );
    assert_eq!(reference_window(&chat, None, Some(1), None, Some(3)), [2]);
}
