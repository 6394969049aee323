//! What changes a conversation record: usage not tied to a message, summary, persona,
//! the token budget they are checked against, clearing and deleting.

use convstore::Role;
use convstore::store::requests::*;

use crate::fixtures::db::TestDb;
use crate::fixtures::store::*;

backend_test!(update_conversation_stats_adds_usage, async |db: &TestDb| {
    let store = db.store().await;
    let c = open_conversation(&store, "user").await;
    save(&store, c.id, Role::User, "hi", 5).await;
    let before = conversation(&store, c.id).await;
    pause().await;
    let updated = ok(
        &store,
        UpdateConversationStats {
            conversation_id: c.id,
            tokens_used: 150,
        },
    )
    .await;
    assert_eq!((updated.total_tokens, updated.message_count), (155, 1));
    assert!(updated.last_activity > before.last_activity);
    let again = ok(
        &store,
        UpdateConversationStats {
            conversation_id: c.id,
            tokens_used: 0,
        },
    )
    .await;
    assert_eq!(again.total_tokens, 155);
    assert_eq!(conversation(&store, c.id).await, again);
    assert_not_found(
        call(
            &store,
            UpdateConversationStats {
                conversation_id: c.id + 1,
                tokens_used: 1,
            },
        )
        .await,
    );
});

backend_test!(
    summary_and_persona_are_set_and_cleared,
    async |db: &TestDb| {
        let store = db.store().await;
        let c = open_conversation(&store, "user").await;
        let other = open_conversation(&store, "other").await;
        pause().await;

        let summarised = ok(
            &store,
            SetSummary {
                conversation_id: c.id,
                summary: Some("Talked about the weather.".into()),
                covers_through_id: None,
                tokens: None,
            },
        )
        .await;
        assert_eq!(
            summarised.summary.as_deref(),
            Some("Talked about the weather.")
        );
        assert!(summarised.last_activity > c.last_activity);
        assert_eq!(conversation(&store, c.id).await.summary, summarised.summary);
        let cleared = ok(
            &store,
            SetSummary {
                conversation_id: c.id,
                summary: None,
                covers_through_id: None,
                tokens: None,
            },
        )
        .await;
        assert_eq!(cleared.summary, None);
        assert_not_found(
            call(
                &store,
                SetSummary {
                    conversation_id: other.id + 100,
                    summary: None,
                    covers_through_id: None,
                    tokens: None,
                },
            )
            .await,
        );

        let persona = |id: i64, persona_id: Option<&str>| SetActivePersona {
            conversation_id: id,
            persona_id: persona_id.map(Into::into),
        };
        assert_eq!(
            ok(
                &store,
                GetActivePersona {
                    conversation_id: c.id
                }
            )
            .await,
            None
        );
        pause().await;
        let set = ok(&store, persona(c.id, Some("pirate"))).await;
        assert_eq!(set.active_persona_id.as_deref(), Some("pirate"));
        assert!(set.last_activity > cleared.last_activity);
        assert_eq!(
            ok(
                &store,
                GetActivePersona {
                    conversation_id: c.id
                }
            )
            .await
            .as_deref(),
            Some("pirate")
        );
        assert_eq!(
            ok(
                &store,
                GetActivePersona {
                    conversation_id: other.id
                }
            )
            .await,
            None,
            "per conversation"
        );
        ok(&store, persona(c.id, None)).await;
        assert_eq!(
            ok(
                &store,
                GetActivePersona {
                    conversation_id: c.id
                }
            )
            .await,
            None
        );
        assert_not_found(call(&store, persona(other.id + 100, Some("x"))).await);
        assert_not_found(
            call(
                &store,
                GetActivePersona {
                    conversation_id: other.id + 100,
                },
            )
            .await,
        );
    }
);

backend_test!(token_budget_follows_the_guide, async |db: &TestDb| {
    let store = db.store().await;
    let budget = |user_key: &str, budget: i64| CheckTokenBudget {
        user_key: user_key.into(),
        budget,
    };

    let nobody = ok(&store, budget("nobody", 100)).await;
    assert_eq!(
        (nobody.user_key.as_str(), nobody.total_tokens, nobody.budget),
        ("nobody", 0, 100)
    );
    assert!(nobody.within_budget);
    assert_eq!(
        ok(&store, GetStats).await.total_conversations,
        0,
        "checking creates nothing"
    );

    let c = open_conversation(&store, "spender").await;
    save(&store, c.id, Role::User, "question", 60).await;
    save(&store, c.id, Role::Assistant, "answer", 40).await;
    let cases = [(101, true), (100, false), (50, false)];
    for (limit, within) in cases {
        let status = ok(&store, budget("spender", limit)).await;
        assert_eq!(status.total_tokens, 100);
        assert_eq!(
            status.within_budget, within,
            "100 tokens against a budget of {limit}"
        );
    }
});

backend_test!(clear_keeps_the_record_and_resets_it, async |db: &TestDb| {
    let store = db.store().await;
    let c = open_conversation(&store, "user").await;
    let other = open_conversation(&store, "other").await;
    save_turns(&store, c.id, 3).await;
    save_turns(&store, other.id, 1).await;
    let summarised = ok(
        &store,
        SetSummary {
            conversation_id: c.id,
            summary: Some("old".into()),
            covers_through_id: None,
            tokens: None,
        },
    )
    .await;

    pause().await;
    assert_eq!(
        ok(
            &store,
            ClearConversation {
                conversation_id: c.id
            }
        )
        .await,
        6
    );
    let cleared = conversation(&store, c.id).await;
    assert_eq!((cleared.id, cleared.user_key.as_str()), (c.id, "user"));
    assert_eq!(cleared.created_at, summarised.created_at);
    assert!(
        cleared.last_activity > summarised.last_activity,
        "clearing is activity"
    );
    assert_eq!(
        (cleared.message_count, cleared.total_tokens, cleared.summary),
        (0, 0, None)
    );
    assert_eq!(all_messages(&store, c.id).await, vec![]);
    assert_eq!(
        db.count_rows("messages").await,
        2,
        "only the other conversation's messages remain"
    );
    assert_eq!(
        contents(&all_messages(&store, other.id).await),
        ["u1", "a1"]
    );
    assert_eq!(conversation(&store, other.id).await.message_count, 2);

    // The conversation goes on from zero, and clearing an empty one is fine.
    save(&store, c.id, Role::User, "again", 3).await;
    let resumed = conversation(&store, c.id).await;
    assert_eq!((resumed.message_count, resumed.total_tokens), (1, 3));
    assert_eq!(
        ok(
            &store,
            ClearConversation {
                conversation_id: c.id
            }
        )
        .await,
        1
    );
    assert_eq!(
        ok(
            &store,
            ClearConversation {
                conversation_id: c.id
            }
        )
        .await,
        0
    );
    assert_not_found(
        call(
            &store,
            ClearConversation {
                conversation_id: other.id + 100,
            },
        )
        .await,
    );
});

backend_test!(
    delete_removes_the_conversation_and_its_messages,
    async |db: &TestDb| {
        let store = db.store().await;
        let c = open_conversation(&store, "user").await;
        let other = open_conversation(&store, "other").await;
        save_turns(&store, c.id, 2).await;
        save_turns(&store, other.id, 1).await;

        ok(
            &store,
            DeleteConversation {
                conversation_id: c.id,
            },
        )
        .await;
        assert_not_found(
            call(
                &store,
                GetConversation {
                    conversation_id: c.id,
                },
            )
            .await,
        );
        assert_not_found(
            call(
                &store,
                LoadHistory {
                    conversation_id: c.id,
                    ..Default::default()
                },
            )
            .await,
        );
        assert_not_found(
            call(
                &store,
                DeleteConversation {
                    conversation_id: c.id,
                },
            )
            .await,
        );
        assert_eq!(
            ok(
                &store,
                GetConversationByUser {
                    user_key: "user".into()
                }
            )
            .await,
            None
        );
        assert_eq!(
            db.count_rows("messages").await,
            2,
            "the messages went with it"
        );
        assert_eq!(db.count_rows("conversations").await, 1);
        assert_eq!(
            contents(&all_messages(&store, other.id).await),
            ["u1", "a1"]
        );

        // The user key is free again.
        let fresh = ok(
            &store,
            GetOrCreate {
                user_key: "user".into(),
                platform: "qq".into(),
                chat_id: None,
            },
        )
        .await;
        assert!(fresh.created);
        assert_ne!(fresh.conversation.id, c.id);
    }
);
