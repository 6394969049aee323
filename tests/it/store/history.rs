//! History windows: turns that keep a tool result with its call, message and token
//! windows, paging back with `before_id`, the default window, and the shape of what
//! comes back.

use convstore::store::StoreSettings;
use convstore::store::requests::*;
use convstore::{Role, StoredMessage as Stored};
use serde_json::json;

use crate::fixtures::db::TestDb;
use crate::fixtures::store::*;

/// u1 a1 u2 a2(tool call) t2 a2': the second turn holds a tool call and its result.
const TOOL_TURN: [(Role, &str, i64); 6] = [
    (Role::User, "u1", 10),
    (Role::Assistant, "a1", 10),
    (Role::User, "u2", 1),
    (Role::Assistant, "a2", 2),
    (Role::Tool, "t2", 3),
    (Role::Assistant, "a2'", 4),
];

/// The contents of the window of conversation `id` that `window` sets.
async fn window(store: &Store, id: i64, window: HistoryWindow) -> Vec<String> {
    let loaded = history(
        store,
        LoadHistory {
            conversation_id: id,
            window,
        },
    )
    .await;
    contents(&loaded).into_iter().map(String::from).collect()
}

/// A window of at most `turns` turns, `messages` messages and `tokens` tokens; 0: no
/// limit of that kind.
fn limits(turns: i64, messages: i64, tokens: i64) -> HistoryWindow {
    let limit = |n: i64| (n > 0).then_some(n);
    HistoryWindow {
        max_turns: limit(turns),
        max_messages: limit(messages),
        max_tokens: limit(tokens),
        before_id: None,
    }
}

fn turns(n: i64) -> HistoryWindow {
    limits(n, 0, 0)
}

fn messages(n: i64) -> HistoryWindow {
    limits(0, n, 0)
}

fn tokens(n: i64) -> HistoryWindow {
    limits(0, 0, n)
}

backend_test!(
    turn_windows_keep_tool_results_with_their_calls,
    async |db: &TestDb| {
        let store = db.store().await;
        let c = open_conversation(&store, "user").await;
        save_script(&store, c.id, &TOOL_TURN).await;

        assert_eq!(
            window(&store, c.id, turns(1)).await,
            ["u2", "a2", "t2", "a2'"]
        );
        assert_eq!(
            window(&store, c.id, turns(2)).await,
            ["u1", "a1", "u2", "a2", "t2", "a2'"]
        );
        assert_eq!(
            window(&store, c.id, turns(10_000)).await.len(),
            6,
            "a larger window returns everything"
        );

        // Messages before the first user message belong to no turn and come with the first.
        let prompted = open_conversation(&store, "prompted").await;
        save_script(
            &store,
            prompted.id,
            &[
                (Role::System, "be brief", 1),
                (Role::User, "u1", 1),
                (Role::Assistant, "a1", 1),
                (Role::User, "u2", 1),
            ],
        )
        .await;
        assert_eq!(window(&store, prompted.id, turns(1)).await, ["u2"]);
        assert_eq!(
            window(&store, prompted.id, turns(2)).await,
            ["be brief", "u1", "a1", "u2"]
        );
    }
);

backend_test!(
    message_windows_drop_a_leading_orphan_tool_result,
    async |db: &TestDb| {
        let store = db.store().await;
        let c = open_conversation(&store, "user").await;
        save_script(&store, c.id, &TOOL_TURN).await;

        assert_eq!(window(&store, c.id, messages(1)).await, ["a2'"]);
        assert_eq!(
            window(&store, c.id, messages(2)).await,
            ["a2'"],
            "t2 without its call is left out"
        );
        assert_eq!(window(&store, c.id, messages(3)).await, ["a2", "t2", "a2'"]);
        assert_eq!(
            window(&store, c.id, messages(5)).await,
            ["a1", "u2", "a2", "t2", "a2'"]
        );
        assert_eq!(window(&store, c.id, messages(100_000)).await.len(), 6);

        // The smallest of several windows wins.
        let both = limits(2, 4, 0);
        assert_eq!(window(&store, c.id, both).await, ["u2", "a2", "t2", "a2'"]);
        let both = limits(1, 6, 0);
        assert_eq!(window(&store, c.id, both).await, ["u2", "a2", "t2", "a2'"]);
    }
);

backend_test!(
    token_windows_take_the_newest_whole_turns,
    async |db: &TestDb| {
        let store = db.store().await;
        let c = open_conversation(&store, "user").await;
        // Turns of 20, 10 and 2 tokens.
        save_script(
            &store,
            c.id,
            &[
                (Role::User, "u1", 10),
                (Role::Assistant, "a1", 10),
                (Role::User, "u2", 5),
                (Role::Assistant, "a2", 5),
                (Role::User, "u3", 1),
                (Role::Assistant, "a3", 1),
            ],
        )
        .await;
        assert_eq!(
            window(&store, c.id, tokens(1)).await,
            Vec::<String>::new(),
            "not even the last turn fits"
        );
        assert_eq!(window(&store, c.id, tokens(2)).await, ["u3", "a3"]);
        assert_eq!(
            window(&store, c.id, tokens(11)).await,
            ["u3", "a3"],
            "a turn is never cut"
        );
        assert_eq!(
            window(&store, c.id, tokens(12)).await,
            ["u2", "a2", "u3", "a3"]
        );
        assert_eq!(
            window(&store, c.id, tokens(31)).await,
            ["u2", "a2", "u3", "a3"]
        );
        assert_eq!(window(&store, c.id, tokens(32)).await.len(), 6);

        let tool = open_conversation(&store, "tool").await;
        save_script(&store, tool.id, &TOOL_TURN).await;
        assert_eq!(
            window(&store, tool.id, tokens(10)).await,
            ["u2", "a2", "t2", "a2'"]
        );
        assert_eq!(
            window(&store, tool.id, tokens(9)).await,
            Vec::<String>::new()
        );
    }
);

backend_test!(
    before_id_pages_back_through_a_long_history,
    async |db: &TestDb| {
        let store = db.store().await;
        let c = open_conversation(&store, "user").await;
        let saved = save_turns(&store, c.id, 30).await;

        let mut pages: Vec<Vec<Stored>> = Vec::new();
        let mut before_id = None;
        loop {
            let page = history(
                &store,
                LoadHistory {
                    conversation_id: c.id,
                    window: HistoryWindow {
                        max_turns: Some(7),
                        before_id,
                        ..Default::default()
                    },
                },
            )
            .await;
            let Some(oldest) = page.first() else { break };
            before_id = Some(oldest.id);
            pages.push(page);
            assert!(pages.len() <= 5, "paging does not end");
        }
        assert_eq!(
            pages.iter().map(Vec::len).collect::<Vec<_>>(),
            [14, 14, 14, 14, 4]
        );
        assert_eq!(contents(&pages[0])[..2], ["u24", "a24"]);
        let joined: Vec<Stored> = pages.into_iter().rev().flatten().collect();
        assert_eq!(joined, saved, "the pages cover the history once, in order");

        let mid = saved[10].id;
        let older = history(
            &store,
            LoadHistory {
                conversation_id: c.id,
                window: HistoryWindow {
                    max_messages: Some(3),
                    before_id: Some(mid),
                    ..Default::default()
                },
            },
        )
        .await;
        assert_eq!(contents(&older), ["a4", "u5", "a5"]);
    }
);

backend_test!(the_default_window_is_twenty_turns, async |db: &TestDb| {
    let store = db.store().await;
    let c = open_conversation(&store, "user").await;
    let saved = save_turns(&store, c.id, 25).await;
    let loaded = history(
        &store,
        LoadHistory {
            conversation_id: c.id,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(loaded.len(), 40);
    assert_eq!(loaded, saved[10..]);

    // The configured default replaces 20.
    let short = db
        .store_with(StoreSettings {
            max_history_turns: 3,
            ..Default::default()
        })
        .await;
    let loaded = history(
        &short,
        LoadHistory {
            conversation_id: c.id,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        contents(&loaded),
        ["u23", "a23", "u24", "a24", "u25", "a25"]
    );
});

backend_test!(
    history_returns_whole_messages_oldest_first,
    async |db: &TestDb| {
        let store = db.store().await;
        let c = open_conversation(&store, "user").await;
        assert_eq!(
            history(
                &store,
                LoadHistory {
                    conversation_id: c.id,
                    ..Default::default()
                }
            )
            .await,
            vec![]
        );
        assert_not_found(
            call(
                &store,
                LoadHistory {
                    conversation_id: c.id + 100,
                    ..Default::default()
                },
            )
            .await,
        );

        let first = save(&store, c.id, Role::User, "What's the weather?", 6).await;
        pause().await;
        let second = ok(
            &store,
            SaveMessage {
                conversation_id: c.id,
                message: NewMessage::new(Role::Assistant, "Sunny.")
                    .tokens(3)
                    .metadata(json!({"model": "gpt-4o", "finish_reason": "stop"})),
            },
        )
        .await
        .message;
        let loaded = history(
            &store,
            LoadHistory {
                conversation_id: c.id,
                ..Default::default()
            },
        )
        .await;
        assert_eq!(loaded, vec![first.clone(), second.clone()]);
        let [older, newer] = &loaded[..] else {
            unreachable!()
        };
        assert!(older.id < newer.id && older.timestamp < newer.timestamp);
        assert_eq!(
            (newer.role, newer.tokens, newer.conversation_id),
            (Role::Assistant, 3, c.id)
        );
        assert_eq!(
            serde_json::Value::Object(newer.metadata.clone()),
            json!({"model": "gpt-4o", "finish_reason": "stop"})
        );
        assert!(older.metadata.is_empty());
    }
);
