//! Editing a conversation (truncate, delete one message, fork), summary checkpoints and
//! the context of a turn, on every backend: what each returns, and that the counters and
//! the checkpoint follow every edit exactly.

use convstore::store::requests::*;
use convstore::{Conversation, Role, StoredMessage as Stored};
use serde_json::json;

use crate::fixtures::db::TestDb;
use crate::fixtures::store::*;

/// Saves `turns` turns: a question (10 tokens), a tool call and its result (5 each) and
/// an answer (5): 25 tokens a turn.
async fn tool_turns(store: &Store, id: i64, turns: usize) -> Vec<Stored> {
    let mut saved = Vec::new();
    for turn in 0..turns {
        saved.push(save(store, id, Role::User, &format!("question {turn}"), 10).await);
        let call = NewMessage::new(Role::Assistant, "")
            .tokens(5)
            .metadata(json!({"tool_calls": [{"id": format!("c{turn}")}]}));
        let result = NewMessage::new(Role::Tool, format!("result {turn}"))
            .tokens(5)
            .metadata(json!({"tool_call_id": format!("c{turn}")}));
        let pair = ok(
            store,
            SaveMessages {
                conversation_id: id,
                messages: vec![call, result],
            },
        )
        .await;
        saved.extend(pair.into_iter().map(|s| s.message));
        saved.push(save(store, id, Role::Assistant, &format!("answer {turn}"), 5).await);
    }
    saved
}

fn ids(messages: &[Stored]) -> Vec<i64> {
    messages.iter().map(|m| m.id).collect()
}

fn counters(c: &Conversation) -> (i64, i64) {
    (c.message_count, c.total_tokens)
}

async fn truncate(store: &Store, id: i64, cut: Cut) -> Truncated {
    ok(
        store,
        Truncate {
            conversation_id: id,
            cut,
        },
    )
    .await
}

async fn checkpoint(store: &Store, id: i64, through: i64, tokens: i64) -> Conversation {
    ok(
        store,
        SetSummary {
            conversation_id: id,
            summary: Some(format!("up to {through}")),
            covers_through_id: Some(through),
            tokens: Some(tokens),
        },
    )
    .await
}

async fn context(
    store: &Store,
    id: i64,
    max_tokens: Option<i64>,
    max_turns: Option<i64>,
) -> TurnContext {
    ok(
        store,
        LoadContext {
            conversation_id: id,
            budget: ContextBudget {
                max_tokens,
                max_turns,
            },
        },
    )
    .await
}

backend_test!(
    truncate_after_an_id_and_the_newest_n,
    async |db: &TestDb| {
        let store = db.store().await;
        let id = open_conversation(&store, "truncated").await.id;
        let messages = tool_turns(&store, id, 3).await;
        ok(
            &store,
            UpdateConversationStats {
                conversation_id: id,
                tokens_used: 7,
            },
        )
        .await;

        let cut = truncate(&store, id, Cut::After(messages[7].id)).await;
        assert_eq!(ids(&cut.removed), ids(&messages[8..]));
        assert_eq!(cut.removed[1].metadata, messages[9].metadata);
        // Only the removed messages' tokens go: the usage stays counted.
        assert_eq!(counters(&cut.conversation), (8, 50 + 7));
        assert_eq!(cut.conversation, conversation(&store, id).await);

        let undo = truncate(&store, id, Cut::Last(2)).await;
        assert_eq!(contents(&undo.removed), ["result 1", "answer 1"]);
        assert_eq!(counters(&undo.conversation), (6, 40 + 7));
        assert_eq!(ids(&all_messages(&store, id).await), ids(&messages[..6]));

        // More than there are: all of them; then nothing is left to remove.
        let all = truncate(&store, id, Cut::Last(100)).await;
        assert_eq!(ids(&all.removed), ids(&messages[..6]));
        assert_eq!(counters(&all.conversation), (0, 7));
        assert!(truncate(&store, id, Cut::Last(1)).await.removed.is_empty());
    }
);

backend_test!(
    truncate_refuses_bad_input_and_changes_nothing,
    async |db: &TestDb| {
        let store = db.store().await;
        let id = open_conversation(&store, "kept").await.id;
        let other = open_conversation(&store, "other").await.id;
        tool_turns(&store, id, 1).await;
        let foreign = tool_turns(&store, other, 1).await;
        let before = snapshot(db, &store).await;
        for (field, cut) in [
            ("last", Cut::Last(0)),
            ("last", Cut::Last(-1)),
            ("last", Cut::Last(100_001)),
            ("after_id", Cut::After(0)),
            ("after_id", Cut::After(foreign[0].id)),
            ("after_id", Cut::After(foreign[3].id + 1_000)),
        ] {
            let request = Truncate {
                conversation_id: id,
                cut,
            };
            rejects(&store, field, request).await;
        }
        assert_not_found(
            call(
                &store,
                Truncate {
                    conversation_id: other + 10,
                    cut: Cut::Last(1),
                },
            )
            .await,
        );
        assert_eq!(snapshot(db, &store).await, before);
    }
);

backend_test!(
    delete_one_message_moves_only_its_counters,
    async |db: &TestDb| {
        let store = db.store().await;
        let id = open_conversation(&store, "deleting").await.id;
        let other = open_conversation(&store, "other").await.id;
        let messages = tool_turns(&store, id, 2).await;
        let foreign = save(&store, other, Role::User, "theirs", 3).await;
        ok(
            &store,
            DeleteMessage {
                conversation_id: id,
                message_id: messages[2].id,
            },
        )
        .await;
        let left = all_messages(&store, id).await;
        let mut expected = ids(&messages);
        expected.remove(2);
        assert_eq!(ids(&left), expected);
        assert_eq!(counters(&conversation(&store, id).await), (7, 45));
        for message_id in [messages[2].id, foreign.id] {
            assert_not_found(
                call(
                    &store,
                    DeleteMessage {
                        conversation_id: id,
                        message_id,
                    },
                )
                .await,
            );
        }
        rejects(
            &store,
            "message_id",
            DeleteMessage {
                conversation_id: id,
                message_id: 0,
            },
        )
        .await;
        assert_eq!(counters(&conversation(&store, other).await), (1, 3));
    }
);

backend_test!(
    a_checkpoint_is_set_checked_and_cleared_with_its_message,
    async |db: &TestDb| {
        let store = db.store().await;
        let id = open_conversation(&store, "summarised").await.id;
        let other = open_conversation(&store, "other").await.id;
        let messages = tool_turns(&store, id, 3).await;
        let foreign = save(&store, other, Role::User, "theirs", 3).await;

        let set = checkpoint(&store, id, messages[7].id, 4).await;
        assert_eq!(
            (set.summary_covers_through_id, set.summary_tokens),
            (Some(messages[7].id), 4)
        );
        let before = snapshot(db, &store).await;
        let bad = |covers_through_id, tokens, summary: Option<&str>| SetSummary {
            conversation_id: id,
            summary: summary.map(str::to_string),
            covers_through_id,
            tokens,
        };
        rejects(
            &store,
            "covers_through_id",
            bad(Some(foreign.id), None, Some("s")),
        )
        .await;
        rejects(
            &store,
            "covers_through_id",
            bad(Some(10_000_000), None, Some("s")),
        )
        .await;
        rejects(&store, "covers_through_id", bad(Some(0), None, Some("s"))).await;
        rejects(
            &store,
            "covers_through_id",
            bad(Some(messages[0].id), None, None),
        )
        .await;
        rejects(
            &store,
            "tokens",
            bad(Some(messages[0].id), Some(-1), Some("s")),
        )
        .await;
        rejects(
            &store,
            "tokens",
            bad(Some(messages[0].id), Some(1 << 40), Some("s")),
        )
        .await;
        rejects(&store, "tokens", bad(None, Some(3), Some("s"))).await;
        assert_eq!(snapshot(db, &store).await, before);

        // Removing messages after the checkpoint keeps it; deleting its message clears it.
        truncate(&store, id, Cut::Last(1)).await;
        assert_eq!(
            conversation(&store, id).await.summary_covers_through_id,
            Some(messages[7].id)
        );
        ok(
            &store,
            DeleteMessage {
                conversation_id: id,
                message_id: messages[7].id,
            },
        )
        .await;
        let cleared = conversation(&store, id).await;
        assert_eq!(
            (cleared.summary_covers_through_id, cleared.summary_tokens),
            (None, 0)
        );

        // A truncate that reaches it clears it too; a summary without one sets none.
        checkpoint(&store, id, messages[5].id, 4).await;
        truncate(&store, id, Cut::After(messages[4].id)).await;
        let cleared = conversation(&store, id).await;
        assert_eq!(
            (cleared.summary_covers_through_id, cleared.summary_tokens),
            (None, 0)
        );
        checkpoint(&store, id, messages[2].id, 4).await;
        let plain = ok(&store, bad(None, None, Some("plain"))).await;
        assert_eq!(
            (plain.summary_covers_through_id, plain.summary_tokens),
            (None, 0)
        );
        assert_eq!(plain.summary.as_deref(), Some("plain"));
        let none = ok(&store, bad(None, None, None)).await;
        assert_eq!((none.summary, none.summary_covers_through_id), (None, None));
    }
);

backend_test!(
    context_holds_the_newest_whole_turns_that_fit,
    async |db: &TestDb| {
        let store = db.store().await;
        let c = open_conversation(&store, "context").await;
        let messages = tool_turns(&store, c.id, 3).await;
        ok(
            &store,
            SetActivePersona {
                conversation_id: c.id,
                persona_id: Some("pirate".into()),
            },
        )
        .await;

        let all = context(&store, c.id, None, None).await;
        assert_eq!(ids(&all.messages), ids(&messages));
        assert_eq!(all.persona_id.as_deref(), Some("pirate"));
        assert_eq!(
            (
                all.summary,
                all.summary_covers_through_id,
                all.summary_tokens
            ),
            (None, None, 0)
        );
        assert_eq!(
            (all.omitted_turns, all.omitted_tokens, all.total_tokens),
            (0, 0, 75)
        );

        // 50 tokens hold two turns; 49 only one: a turn is never cut (its tool result stays).
        let two = context(&store, c.id, Some(50), None).await;
        assert_eq!(ids(&two.messages), ids(&messages[4..]));
        assert_eq!(
            (two.omitted_turns, two.omitted_tokens, two.total_tokens),
            (1, 25, 50)
        );
        let one = context(&store, c.id, Some(49), None).await;
        assert_eq!(ids(&one.messages), ids(&messages[8..]));
        assert_eq!((one.omitted_turns, one.omitted_tokens), (2, 50));
        let by_turns = context(&store, c.id, Some(1_000), Some(1)).await;
        assert_eq!(ids(&by_turns.messages), ids(&messages[8..]));
        assert_eq!((by_turns.omitted_turns, by_turns.omitted_tokens), (2, 50));
        let none = context(&store, c.id, Some(24), None).await;
        assert!(none.messages.is_empty());
        assert_eq!(
            (none.omitted_turns, none.omitted_tokens, none.total_tokens),
            (3, 75, 0)
        );

        // A checkpoint: the summary, and only what follows it, within the budget less the
        // summary's tokens.
        checkpoint(&store, c.id, messages[3].id, 4).await;
        let after = context(&store, c.id, Some(54), None).await;
        assert_eq!(
            after.summary.as_deref(),
            Some(format!("up to {}", messages[3].id).as_str())
        );
        assert_eq!(
            (after.summary_covers_through_id, after.summary_tokens),
            (Some(messages[3].id), 4)
        );
        assert_eq!(ids(&after.messages), ids(&messages[4..]));
        assert_eq!(
            (
                after.omitted_turns,
                after.omitted_tokens,
                after.total_tokens
            ),
            (0, 0, 54)
        );
        let tight = context(&store, c.id, Some(53), None).await;
        assert_eq!(ids(&tight.messages), ids(&messages[8..]));
        assert_eq!(
            (
                tight.omitted_turns,
                tight.omitted_tokens,
                tight.total_tokens
            ),
            (1, 25, 29)
        );

        // A checkpoint inside a turn: its rest is a turn of its own, left out first.
        checkpoint(&store, c.id, messages[5].id, 0).await;
        let cut = context(&store, c.id, Some(25), None).await;
        assert_eq!(ids(&cut.messages), ids(&messages[8..]));
        assert_eq!((cut.omitted_turns, cut.omitted_tokens), (1, 10));
        let whole = context(&store, c.id, None, None).await;
        assert_eq!(ids(&whole.messages), ids(&messages[6..]));

        for (field, max_tokens, max_turns) in [
            ("max_tokens", Some(0), None),
            ("max_tokens", Some(1_000_000_001), None),
            ("max_turns", None, Some(0)),
            ("max_turns", Some(10), Some(10_001)),
        ] {
            let request = LoadContext {
                conversation_id: c.id,
                budget: ContextBudget {
                    max_tokens,
                    max_turns,
                },
            };
            rejects(&store, field, request).await;
        }
        assert_not_found(
            call(
                &store,
                LoadContext {
                    conversation_id: c.id + 100,
                    budget: ContextBudget::default(),
                },
            )
            .await,
        );
    }
);

backend_test!(
    fork_copies_the_messages_and_the_checkpoint_within_them,
    async |db: &TestDb| {
        let store = db.store().await;
        let source = ok(
            &store,
            GetOrCreate {
                user_key: "source".into(),
                platform: "feishu".into(),
                chat_id: Some("chat".into()),
            },
        )
        .await
        .conversation;
        let messages = tool_turns(&store, source.id, 3).await;
        let keyed = ok(
            &store,
            SaveMessage {
                conversation_id: source.id,
                message: NewMessage::new(Role::User, "keyed")
                    .tokens(2)
                    .idempotency_key("om_1"),
            },
        )
        .await
        .message;
        checkpoint(&store, source.id, messages[3].id, 3).await;
        let fork = |user_key: &str, through_id| ForkConversation {
            conversation_id: source.id,
            user_key: user_key.into(),
            platform: None,
            chat_id: None,
            through_id,
        };

        let branch = ok(&store, fork("branch", Some(messages[7].id))).await;
        assert_eq!(
            (
                branch.platform.as_str(),
                branch.chat_id.as_deref(),
                counters(&branch)
            ),
            ("feishu", Some("chat"), (8, 50))
        );
        let copies = all_messages(&store, branch.id).await;
        let shape = |m: &Stored| {
            (
                m.role,
                m.content.clone(),
                m.tokens,
                m.metadata.clone(),
                m.timestamp,
            )
        };
        assert_eq!(
            copies.iter().map(shape).collect::<Vec<_>>(),
            messages[..8].iter().map(shape).collect::<Vec<_>>()
        );
        assert!(copies.iter().all(|m| m.conversation_id == branch.id));
        assert_eq!(branch.summary_covers_through_id, Some(copies[3].id));
        assert_eq!(
            (branch.summary.as_deref(), branch.summary_tokens),
            (Some(format!("up to {}", messages[3].id).as_str()), 3)
        );
        // The fork's context starts after its own checkpoint.
        let branch_context = context(&store, branch.id, None, None).await;
        assert_eq!(ids(&branch_context.messages), ids(&copies[4..]));

        // All of them, idempotency keys included; the source is untouched.
        let whole = ok(
            &store,
            ForkConversation {
                platform: Some("qq".into()),
                chat_id: Some("elsewhere".into()),
                ..fork("whole", None)
            },
        )
        .await;
        assert_eq!(
            (
                whole.platform.as_str(),
                whole.chat_id.as_deref(),
                counters(&whole)
            ),
            ("qq", Some("elsewhere"), (13, 77))
        );
        let repeat = ok(
            &store,
            SaveMessage {
                conversation_id: whole.id,
                message: NewMessage::new(Role::User, "keyed")
                    .tokens(2)
                    .idempotency_key("om_1"),
            },
        )
        .await;
        assert!(!repeat.created);
        assert_ne!(repeat.message.id, keyed.id);
        assert_eq!(counters(&conversation(&store, source.id).await), (13, 77));

        // A fork before the checkpoint leaves it (and the summary) behind.
        let early = ok(&store, fork("early", Some(messages[2].id))).await;
        assert_eq!(
            (
                early.summary.clone(),
                early.summary_covers_through_id,
                early.summary_tokens
            ),
            (None, None, 0)
        );
        assert_eq!(counters(&early), (3, 20));

        let before = snapshot(db, &store).await;
        match call(&store, fork("branch", None)).await {
            Err(convstore::StoreError::Conflict(_)) => {}
            other => panic!("expected Conflict, got {other:?}"),
        }
        rejects(
            &store,
            "through_id",
            fork("new", Some(branch_context.messages[0].id)),
        )
        .await;
        rejects(&store, "through_id", fork("new", Some(0))).await;
        rejects(&store, "user_key", fork("", None)).await;
        assert_not_found(
            call(
                &store,
                ForkConversation {
                    conversation_id: source.id + 100,
                    ..fork("new", None)
                },
            )
            .await,
        );
        assert_eq!(snapshot(db, &store).await, before);
    }
);

backend_test!(
    export_and_import_carry_the_checkpoint,
    async |db: &TestDb| {
        let store = db.store().await;
        let id = open_conversation(&store, "exported").await.id;
        let messages = tool_turns(&store, id, 2).await;
        checkpoint(&store, id, messages[3].id, 3).await;
        let document = ok(
            &store,
            ExportConversation {
                conversation_id: id,
            },
        )
        .await;
        assert_eq!(document.format, "convstore/1");
        let mut value = serde_json::to_value(&document).unwrap();
        assert_eq!(
            value["conversation"]["summary_covers_through_id"],
            messages[3].id
        );
        value["conversation"]["user_key"] = json!("copy");
        let copy = import(&store, value.clone()).await.conversation;
        let copies = all_messages(&store, copy.id).await;
        assert_eq!(
            (copy.summary_covers_through_id, copy.summary_tokens),
            (Some(copies[3].id), 3)
        );
        assert_eq!(copy.last_activity, document.conversation.last_activity);
        let copied_context = context(&store, copy.id, None, None).await;
        assert_eq!(contents(&copied_context.messages), contents(&messages[4..]));

        // A checkpoint on no message of the document is refused; a document without one
        // (an older one) imports without a checkpoint.
        value["conversation"]["user_key"] = json!("bad");
        value["conversation"]["summary_covers_through_id"] = json!(messages[7].id + 1);
        let bad = call(
            &store,
            ImportConversation {
                document: value.clone(),
                on_conflict: OnConflict::Skip,
            },
        )
        .await;
        assert_invalid(bad, "conversation.summary_covers_through_id");
        value["conversation"]["summary_covers_through_id"] = json!(messages[0].id);
        value["conversation"]["summary_tokens"] = json!(-1);
        let bad = call(
            &store,
            ImportConversation {
                document: value.clone(),
                on_conflict: OnConflict::Skip,
            },
        )
        .await;
        assert_invalid(bad, "conversation.summary_tokens");
        let conversation_fields = value["conversation"].as_object_mut().unwrap();
        conversation_fields.remove("summary_covers_through_id");
        conversation_fields.remove("summary_tokens");
        let older = import(&store, value).await.conversation;
        assert_eq!(
            (older.summary_covers_through_id, older.summary_tokens),
            (None, 0)
        );
        assert_eq!(older.summary, document.conversation.summary);
    }
);

backend_test!(
    edits_and_group_commits_to_one_conversation_serialize,
    async |db: &TestDb| {
        let store = db.store().await;
        let id = open_conversation(&store, "busy").await.id;
        tool_turns(&store, id, 2).await;
        let mut tasks = Vec::new();
        for writer in 0..8 {
            let store = store.clone();
            tasks.push(actix_rt::spawn(async move {
                for n in 0..15 {
                    let role = if n % 2 == 0 {
                        Role::User
                    } else {
                        Role::Assistant
                    };
                    let message = NewMessage::new(role, format!("w{writer} m{n}")).tokens(3);
                    ok(
                        &store,
                        SaveMessage {
                            conversation_id: id,
                            message,
                        },
                    )
                    .await;
                    if n % 5 == 4 {
                        let _ = call(
                            &store,
                            Truncate {
                                conversation_id: id,
                                cut: Cut::Last(2),
                            },
                        )
                        .await;
                    }
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let stored = all_messages(&store, id).await;
        let c = conversation(&store, id).await;
        let tokens: i64 = stored.iter().map(|m| i64::from(m.tokens)).sum();
        assert_eq!(counters(&c), (stored.len() as i64, tokens));
        assert_eq!(db.count_rows("messages").await, stored.len() as i64);
        // Every turn's tokens are in the context's accounting too.
        let window = context(&store, id, Some(30), None).await;
        let shown: i64 = window.messages.iter().map(|m| i64::from(m.tokens)).sum();
        assert_eq!(shown + window.omitted_tokens, tokens);
    }
);
