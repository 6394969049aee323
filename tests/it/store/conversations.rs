//! Conversation records: get-or-create, lookups by id and by user, listing with filters
//! and keyset paging.

use convstore::store::requests::*;
use convstore::{Conversation, Role};

use crate::fixtures::db::TestDb;
use crate::fixtures::store::*;

backend_test!(
    get_or_create_creates_once_then_replaces_platform_and_chat_id,
    async |db: &TestDb| {
        let store = db.store().await;
        let ask = |platform: &str, chat_id: Option<&str>| GetOrCreate {
            user_key: "feishu:group:user123".into(),
            platform: platform.into(),
            chat_id: chat_id.map(Into::into),
        };

        let first = ok(&store, ask("feishu", Some("chat456"))).await;
        assert!(first.created);
        let created = first.conversation;
        assert!(created.id > 0);
        assert_eq!(created.user_key, "feishu:group:user123");
        assert_eq!(created.platform, "feishu");
        assert_eq!(created.chat_id.as_deref(), Some("chat456"));
        assert_eq!((created.message_count, created.total_tokens), (0, 0));
        assert_eq!(
            (
                created.summary.as_deref(),
                created.active_persona_id.as_deref()
            ),
            (None, None)
        );
        assert_eq!(created.created_at, created.last_activity);

        pause().await;
        let second = ok(&store, ask("qq", None)).await;
        assert!(!second.created);
        let kept = second.conversation;
        assert_eq!(kept.id, created.id);
        assert_eq!(kept.platform, "qq", "the platform is replaced");
        assert_eq!(
            kept.chat_id.as_deref(),
            Some("chat456"),
            "no chat id keeps the stored one"
        );
        assert_eq!(kept.created_at, created.created_at);
        assert_eq!(
            kept.last_activity, created.last_activity,
            "get-or-create is not among the calls that move last_activity"
        );

        pause().await;
        let third = ok(&store, ask("qq", Some("chat789"))).await;
        assert!(!third.created);
        assert_eq!(third.conversation.chat_id.as_deref(), Some("chat789"));
        assert_eq!(third.conversation.last_activity, created.last_activity);
        assert_eq!(
            conversation(&store, created.id).await,
            third.conversation,
            "what was answered is stored"
        );

        let other = ok(
            &store,
            GetOrCreate {
                user_key: "feishu:group:user124".into(),
                platform: "feishu".into(),
                chat_id: None,
            },
        )
        .await;
        assert!(other.created);
        assert_ne!(other.conversation.id, created.id);
        assert_eq!(other.conversation.chat_id, None);
    }
);

backend_test!(
    conversations_are_found_by_id_and_by_user,
    async |db: &TestDb| {
        let store = db.store().await;
        let alice = open_conversation(&store, "alice").await;
        let bob = open_conversation(&store, "bob").await;
        save(&store, bob.id, Role::User, "hi", 4).await;

        assert_eq!(conversation(&store, alice.id).await, alice);
        let bob_now = conversation(&store, bob.id).await;
        assert_eq!(
            (
                bob_now.user_key.as_str(),
                bob_now.message_count,
                bob_now.total_tokens
            ),
            ("bob", 1, 4)
        );
        assert_not_found(
            call(
                &store,
                GetConversation {
                    conversation_id: bob.id + 1000,
                },
            )
            .await,
        );

        let by_user = |user_key: &str| GetConversationByUser {
            user_key: user_key.into(),
        };
        assert_eq!(ok(&store, by_user("bob")).await, Some(bob_now));
        assert_eq!(ok(&store, by_user("alice")).await, Some(alice));
        assert_eq!(ok(&store, by_user("carol")).await, None);
        assert_eq!(
            ok(&store, by_user("Bob")).await,
            None,
            "user keys compare exactly"
        );
    }
);

/// Pages through `filter` with its `limit`, checking the paging contract on the way:
/// full pages until the last, `next_after_id` = the last id of a page, `None` at the end.
async fn list_all(store: &Store, filter: ListConversations) -> Vec<Conversation> {
    let limit = filter.limit.unwrap_or(50) as usize;
    let mut all: Vec<Conversation> = Vec::new();
    let mut after_id = None;
    loop {
        let page = ok(
            store,
            ListConversations {
                after_id,
                ..filter.clone()
            },
        )
        .await;
        assert!(page.conversations.len() <= limit);
        all.extend(page.conversations.iter().cloned());
        match page.next_after_id {
            Some(next) => {
                assert_eq!(
                    page.conversations.len(),
                    limit,
                    "only the last page is short"
                );
                assert_eq!(Some(next), page.conversations.last().map(|c| c.id));
                after_id = Some(next);
            }
            None => return all,
        }
        assert!(all.len() < 1000, "paging does not end");
    }
}

fn ids(conversations: &[Conversation]) -> Vec<i64> {
    conversations.iter().map(|c| c.id).collect()
}

backend_test!(list_conversations_filters_and_pages, async |db: &TestDb| {
    let store = db.store().await;
    // (user, platform, last activity): ties on the activity are ordered by id.
    let people = [
        ("a", "feishu", "2025-01-08T10:00:00"),
        ("b", "qq", "2025-01-08T12:00:00"),
        ("c", "feishu", "2025-01-08T11:00:00"),
        ("d", "feishu", "2025-01-08T11:00:00"),
        ("e", "qq", "2025-01-08T09:00:00"),
        ("f", "feishu", "2025-01-08T12:00:00"),
        ("g", "slack", "2025-01-08T08:00:00"),
    ];
    let mut imported = Vec::new();
    for (user, platform, activity) in people {
        imported.push(
            import(&store, document(user, platform, activity, vec![]))
                .await
                .conversation,
        );
    }
    let mut expected = imported.clone();
    expected.sort_by_key(|c| std::cmp::Reverse((c.last_activity, c.id)));

    for limit in [1, 2, 3, 7, 50] {
        let listed = list_all(
            &store,
            ListConversations {
                limit: Some(limit),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(
            listed, expected,
            "limit {limit}: every conversation once, newest activity first"
        );
    }
    let default_page = ok(&store, ListConversations::default()).await;
    assert_eq!(
        (default_page.conversations, default_page.next_after_id),
        (expected.clone(), None)
    );

    let feishu = list_all(
        &store,
        ListConversations {
            platform: Some("feishu".into()),
            limit: Some(2),
            ..Default::default()
        },
    )
    .await;
    let expected_feishu: Vec<_> = expected
        .iter()
        .filter(|c| c.platform == "feishu")
        .cloned()
        .collect();
    assert_eq!(feishu.len(), 4);
    assert_eq!(feishu, expected_feishu);

    let only_d = ok(
        &store,
        ListConversations {
            user_key: Some("d".into()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        (ids(&only_d.conversations), only_d.next_after_id),
        (vec![imported[3].id], None)
    );
    let mismatch = ListConversations {
        user_key: Some("a".into()),
        platform: Some("qq".into()),
        ..Default::default()
    };
    assert_eq!(ok(&store, mismatch).await.conversations, vec![]);

    // Activity moves a conversation to the front.
    let g = imported[6].id;
    save(&store, g, Role::User, "back again", 1).await;
    let first = ok(
        &store,
        ListConversations {
            limit: Some(1),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(ids(&first.conversations), vec![g]);
    assert_eq!(first.next_after_id, Some(g));
});
