//! Many callers at once: one conversation per user however many ask for it, exact
//! counters under a flood of saves, and two stores (two daemons) sharing one database.

use std::collections::{BTreeMap, BTreeSet};

use convstore::Role;
use convstore::store::requests::*;
use futures_util::future::join_all;

use crate::fixtures::db::TestDb;
use crate::fixtures::store::*;

fn get_or_create(user_key: &str) -> GetOrCreate {
    GetOrCreate {
        user_key: user_key.into(),
        platform: "feishu".into(),
        chat_id: None,
    }
}

fn numbered(conversation_id: i64, i: usize) -> SaveMessage {
    SaveMessage {
        conversation_id,
        message: NewMessage::new(Role::User, format!("m{i}")).tokens((i % 7) as i64),
    }
}

backend_test!(
    concurrent_get_or_create_makes_one_conversation,
    async |db: &TestDb| {
        let store = db.store().await;
        let answers =
            join_all((0..100).map(|_| call(&store, get_or_create("feishu:group:crowd")))).await;
        let answers: Vec<Obtained> = answers
            .into_iter()
            .map(|a| a.expect("get or create"))
            .collect();
        assert_eq!(
            answers.iter().filter(|a| a.created).count(),
            1,
            "exactly one call created it"
        );
        let ids: BTreeSet<i64> = answers.iter().map(|a| a.conversation.id).collect();
        assert_eq!(ids.len(), 1);
        assert_eq!(db.count_rows("conversations").await, 1);
    }
);

backend_test!(concurrent_saves_keep_exact_counters, async |db: &TestDb| {
    const SAVES: usize = 1000;
    let store = db.store().await;
    let c = open_conversation(&store, "flood").await;
    let answers = join_all((0..SAVES).map(|i| call(&store, numbered(c.id, i)))).await;
    let ids: BTreeSet<i64> = answers
        .into_iter()
        .map(|a| a.expect("save").message.id)
        .collect();
    assert_eq!(ids.len(), SAVES, "every save got its own row");

    let expected_tokens: i64 = (0..SAVES).map(|i| (i % 7) as i64).sum();
    let now = conversation(&store, c.id).await;
    assert_eq!(
        (now.message_count, now.total_tokens),
        (SAVES as i64, expected_tokens)
    );
    let stored = all_messages(&store, c.id).await;
    assert_eq!(stored.len(), SAVES);
    assert_eq!(stored.iter().map(|m| m.id).collect::<BTreeSet<_>>(), ids);
    let stored_contents: BTreeSet<&str> = contents(&stored).into_iter().collect();
    assert_eq!(stored_contents.len(), SAVES);
    assert_eq!(db.count_rows("messages").await, SAVES as i64);
});

backend_test!(two_stores_share_one_database, async |db: &TestDb| {
    const USERS: usize = 10;
    const SAVES_PER_STORE: usize = 200;
    let stores = [db.store().await, db.store().await];
    let users: Vec<String> = (0..USERS).map(|u| format!("shared:{u}")).collect();

    // Both daemons race to create every user's conversation, several times over.
    let asks = users
        .iter()
        .flat_map(|user| (0..6).map(move |i| (i % 2, user)))
        .map(|(s, user)| call(&stores[s], get_or_create(user)));
    let answers: Vec<Obtained> = join_all(asks)
        .await
        .into_iter()
        .map(|a| a.expect("get or create"))
        .collect();
    let mut by_user: BTreeMap<&str, BTreeSet<i64>> = BTreeMap::new();
    for answer in &answers {
        by_user
            .entry(answer.conversation.user_key.as_str())
            .or_default()
            .insert(answer.conversation.id);
    }
    assert!(
        by_user.values().all(|ids| ids.len() == 1),
        "one conversation per user: {by_user:?}"
    );
    assert_eq!(answers.iter().filter(|a| a.created).count(), USERS);
    assert_eq!(db.count_rows("conversations").await, USERS as i64);
    let ids: Vec<i64> = by_user
        .values()
        .map(|ids| ids.first().copied().unwrap())
        .collect();

    // Both daemons save into every conversation at once, and deliver some keys twice.
    let saves = (0..2 * SAVES_PER_STORE).map(|i| call(&stores[i % 2], numbered(ids[i % USERS], i)));
    let keyed = (0..2 * USERS).map(|i| {
        let message = NewMessage::new(Role::User, "delivered twice")
            .tokens(100)
            .idempotency_key("om_twice");
        call(
            &stores[i % 2],
            SaveMessage {
                conversation_id: ids[i / 2],
                message,
            },
        )
    });
    let (saved, keyed) = futures_util::future::join(join_all(saves), join_all(keyed)).await;
    assert!(
        saved.iter().all(Result::is_ok),
        "{:?}",
        saved.iter().find(|r| r.is_err())
    );
    let keyed: Vec<SavedMessage> = keyed.into_iter().map(|r| r.expect("keyed save")).collect();
    assert_eq!(
        keyed.iter().filter(|s| s.created).count(),
        USERS,
        "each key stored once per conversation"
    );

    let saves_per_user = 2 * SAVES_PER_STORE / USERS;
    for (u, &id) in ids.iter().enumerate() {
        let expected_tokens: i64 = (0..2 * SAVES_PER_STORE)
            .filter(|i| i % USERS == u)
            .map(|i| (i % 7) as i64)
            .sum::<i64>()
            + 100;
        for store in &stores {
            let now = conversation(store, id).await;
            assert_eq!(
                (now.message_count, now.total_tokens),
                ((saves_per_user + 1) as i64, expected_tokens)
            );
            assert_eq!(all_messages(store, id).await.len(), saves_per_user + 1);
        }
    }
    let stats = ok(&stores[1], GetStats).await;
    assert_eq!(stats.total_messages, (2 * SAVES_PER_STORE + USERS) as i64);
    assert_eq!(db.count_rows("messages").await, stats.total_messages);
    assert_eq!(stats.total_conversations, USERS as i64);
    // Each conversation counts once among the day's active ones, though both daemons
    // made its first save of the day at the same time.
    let today = &ok(&stores[0], GetDailyStats { days: 1 }).await.days[0];
    assert_eq!(today.messages, stats.total_messages);
    assert_eq!(today.tokens, stats.total_tokens);
    assert_eq!(today.active_conversations, USERS as i64);
});
