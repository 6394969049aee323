//! The README's bot loop in Rust ("A bot's turn"), run: the code between the markers
//! below is the README's block, word for word (checked), and the test drives it turn
//! after turn until it has summarized and set checkpoints.

use crate::fixtures::db::TestDb;
use crate::fixtures::store::*;

// README: begin
use actix::Addr;
use convstore::store::requests::{
    ContextBudget, HistoryWindow, LoadContext, LoadHistory, NewMessage, SaveMessages, SetSummary,
    TurnContext,
};
use convstore::{Role, StoreActor, StoredMessage};

/// One turn: the context within `budget` (say `max_tokens: Some(3000)`), the model's
/// answer, the save, and, when turns were left out, their summary as the new
/// checkpoint. `ask` stands for the model, `summarize` for the summarizer, `tokens` for
/// the tokenizer.
pub async fn bot_turn(
    store: &Addr<StoreActor>,
    conversation_id: i64,
    budget: ContextBudget,
    question: &str,
    ask: impl Fn(&TurnContext, &str) -> String,
    summarize: impl Fn(Option<&str>, &[StoredMessage]) -> String,
    tokens: impl Fn(&str) -> i64,
) -> Result<String, Box<dyn std::error::Error>> {
    let context = store
        .send(LoadContext {
            conversation_id,
            budget,
        })
        .await??;
    let answer = ask(&context, question);
    let messages = vec![
        NewMessage::new(Role::User, question).tokens(tokens(question)),
        NewMessage::new(Role::Assistant, answer.as_str()).tokens(tokens(&answer)),
    ];
    let saved = store
        .send(SaveMessages {
            conversation_id,
            messages,
        })
        .await??;
    if context.omitted_turns > 0 {
        // The turns left out lie before the window (before this turn when it is empty).
        let before_id = context
            .messages
            .first()
            .map_or(saved[0].message.id, |m| m.id);
        let max_turns = Some(context.omitted_turns);
        let window = HistoryWindow {
            max_turns,
            before_id: Some(before_id),
            ..Default::default()
        };
        let left_out = store
            .send(LoadHistory {
                conversation_id,
                window,
            })
            .await??;
        if let Some(newest) = left_out.last() {
            let summary = summarize(context.summary.as_deref(), &left_out);
            let request = SetSummary {
                conversation_id,
                tokens: Some(tokens(&summary)),
                summary: Some(summary),
                covers_through_id: Some(newest.id),
            };
            store.send(request).await??;
        }
    }
    Ok(answer)
}
// README: end

/// The README, and this file.
const README: &str = include_str!("../../../README.md");
const SOURCE: &str = include_str!("bot_loop.rs");

#[test]
fn the_readme_shows_this_code() {
    let begin = "// README: begin\n";
    let start = SOURCE.find(begin).unwrap() + begin.len();
    let end = SOURCE.find("// README: end").unwrap();
    let block = &SOURCE[start..end];
    assert!(
        README.contains(&format!("```rust\n{block}```")),
        "the README's bot loop differs from tests/it/store/bot_loop.rs:\n{block}"
    );
}

backend_test!(
    the_readme_bot_loop_summarizes_what_no_longer_fits,
    async |db: &TestDb| {
        let store = db.store().await;
        let id = open_conversation(&store, "bot").await.id;
        let words = |text: &str| text.split_whitespace().count() as i64;
        let ask = |context: &TurnContext, question: &str| {
            // The model sees the summary and the turns that fit, never more than the budget.
            assert!(context.total_tokens <= 40, "{context:?}");
            format!(
                "answer to {question} after {} messages",
                context.messages.len()
            )
        };
        let summarize = |earlier: Option<&str>, turns: &[StoredMessage]| {
            format!("{} +{}", earlier.unwrap_or("summary"), turns.len())
        };
        let budget = ContextBudget {
            max_tokens: Some(40),
            max_turns: None,
        };
        for n in 0..12 {
            let question = format!("question number {n}");
            bot_turn(&store, id, budget, &question, ask, summarize, words)
                .await
                .unwrap();
        }
        let c = conversation(&store, id).await;
        assert_eq!(c.message_count, 24);
        let checkpoint = c.summary_covers_through_id.expect("a checkpoint was set");
        assert!(c.summary.unwrap().starts_with("summary +"));
        // The context now starts after the checkpoint, at a question, and fits.
        let context = ok(
            &store,
            LoadContext {
                conversation_id: id,
                budget,
            },
        )
        .await;
        assert!(context.messages.iter().all(|m| m.id > checkpoint));
        assert_eq!(context.messages[0].role, Role::User);
        assert!(context.total_tokens <= 40);
    }
);
