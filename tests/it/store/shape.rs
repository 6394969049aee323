//! The shape of the work, not its speed: how many SQL statements a history read, a
//! statistics call and a group commit issue must not grow with the data, and a
//! get-or-create that changes nothing writes nothing.

use actix::Actor;
use convstore::Role;
use convstore::db::{Db, DbSettings};
use convstore::store::StoreActor;
use convstore::store::requests::*;

use crate::fixtures::db::TestDb;
use crate::fixtures::store::{Store, conversation, ok, open_conversation, save_all, save_turns};

/// Statements `db` runs while `work` runs.
async fn statements_during(db: &Db, work: impl AsyncFnOnce()) -> u64 {
    let before = db.statements_executed();
    work().await;
    db.statements_executed() - before
}

async fn read_tail(store: &Store, conversation_id: i64) {
    ok(
        store,
        LoadHistory {
            conversation_id,
            window: HistoryWindow {
                max_turns: Some(5),
                ..Default::default()
            },
        },
    )
    .await;
}

backend_test!(
    history_reads_cost_the_window_not_the_conversation,
    async |test: &TestDb| {
        let db = test.open().await;
        let store = StoreActor::new(db.clone(), Default::default()).start();
        let short = open_conversation(&store, "short").await.id;
        let long = open_conversation(&store, "long").await.id;
        save_turns(&store, short, 6).await;
        for _ in 0..10 {
            let messages = (0..200)
                .map(|i| {
                    NewMessage::new(
                        if i % 2 == 0 {
                            Role::User
                        } else {
                            Role::Assistant
                        },
                        "x",
                    )
                })
                .collect();
            save_all(&store, long, messages).await;
        }
        let on_short = statements_during(&db, async || read_tail(&store, short).await).await;
        let on_long = statements_during(&db, async || read_tail(&store, long).await).await;
        assert_eq!(
            on_short, on_long,
            "a read of 5 turns of 2,000 messages issues as many statements as of 12"
        );
        assert!(
            on_long <= 3,
            "a short-window read issues {on_long} statements"
        );
    }
);

backend_test!(
    stats_cost_does_not_grow_with_the_store,
    async |test: &TestDb| {
        let db = test.open().await;
        let store = StoreActor::new(db.clone(), Default::default()).start();
        let first = open_conversation(&store, "first").await.id;
        save_turns(&store, first, 2).await;
        let small = statements_during(&db, async || {
            ok(&store, GetStats).await;
        })
        .await;
        for i in 0..300 {
            open_conversation(&store, &format!("user-{i}")).await;
        }
        let large = statements_during(&db, async || {
            ok(&store, GetStats).await;
        })
        .await;
        assert_eq!(small, large);
        // Totals and the longest conversation, plus the pool's liveness check of the
        // connection on the server backends.
        assert!(large <= 3, "stats issue {large} statements");
    }
);

/// Statements of one group commit that saves `count` messages to a new conversation.
async fn statements_to_save(db: &Db, store: &Store, user_key: &str, count: usize) -> u64 {
    let id = open_conversation(store, user_key).await.id;
    let messages: Vec<NewMessage> = (0..count)
        .map(|i| NewMessage::new(Role::User, format!("m{i}")))
        .collect();
    statements_during(db, async || save_all(store, id, messages).await).await
}

/// Whether the MySQL-family server of `test` is MariaDB from 10.5 on, whose multi-row
/// INSERT returns the new ids.
async fn mariadb_returning(test: &TestDb) -> bool {
    use diesel_async::{AsyncConnection, RunQueryDsl};
    let convstore::db::DbTarget::Mysql(url) = test.target() else {
        return false;
    };
    let mut conn = diesel_async::AsyncMysqlConnection::establish(url)
        .await
        .expect("connect");
    let version: String = diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>("VERSION()"))
        .get_result(&mut conn)
        .await
        .expect("VERSION()");
    convstore::db::returns_inserted_ids(&version)
}

backend_test!(
    a_group_commit_costs_a_constant_number_of_statements,
    async |test: &TestDb| {
        let db = test.open().await;
        let store = StoreActor::new(db.clone(), Default::default()).start();
        let few = statements_to_save(&db, &store, "few", 10).await;
        let many = statements_to_save(&db, &store, "many", 300).await;
        // BEGIN, conversation lock, one counter update, the inserts, the store-wide
        // totals and the day's activity, COMMIT (and the pool's liveness check): never a
        // counter update per message.
        assert!(few <= 7 + 10, "10 messages took {few} statements");
        let server_returns_ids = match db.backend() {
            convstore::db::Backend::Postgres => true,
            convstore::db::Backend::Mysql => mariadb_returning(test).await,
            // In process, a prepared INSERT per row costs no round trip.
            convstore::db::Backend::Sqlite => false,
        };
        if server_returns_ids {
            // One multi-row INSERT answers every id: no round trip per message.
            assert_eq!(
                few, many,
                "300 messages took {many} statements, 10 took {few}"
            );
        } else {
            // MySQL asks for each new id with a second statement.
            let per_row = if db.backend() == convstore::db::Backend::Mysql {
                2
            } else {
                1
            };
            assert_eq!(many - few, per_row * 290, "10 messages: {few}, 300: {many}");
        }
    }
);

/// Statements `db` runs and statements it prepares into a connection's cache while
/// `work` runs.
async fn statements_and_prepares(db: &Db, work: impl AsyncFnOnce()) -> (u64, u64) {
    let prepared = db.statements_prepared();
    let executed = statements_during(db, work).await;
    (executed, db.statements_prepared() - prepared)
}

backend_test!(
    a_group_commit_prepares_its_statements_once,
    async |test: &TestDb| {
        let setup = StoreActor::new(test.open().await, Default::default()).start();
        let first = open_conversation(&setup, "first").await.id;
        let second = open_conversation(&setup, "second").await.id;
        // A store whose connection has prepared nothing yet but the migrations' check:
        // one connection, as a statement cache is a connection's.
        let db = Db::open(DbSettings {
            pool_size: 1,
            ..test.settings()
        })
        .await
        .expect("open the test database");
        let store = StoreActor::new(db.clone(), Default::default()).start();
        // The servers' pool checks a connection on its every checkout but the first.
        conversation(&store, first).await;
        let one = || vec![NewMessage::new(Role::User, "hi")];
        let (executed, prepared) =
            statements_and_prepares(&db, async || save_all(&store, first, one()).await).await;
        // Each statement of the commit ran once. diesel keeps no UPDATE, upsert or `IN`
        // list prepared unless told to, and parses one it does not keep on every commit.
        use convstore::db::Backend;
        let kept = match db.backend() {
            // All but BEGIN and COMMIT.
            Backend::Sqlite => executed - 2,
            // The pool's check, the totals, the day's activity and the lock of the
            // conversations by `= ANY($1)`. The counter UPDATE (a CASE per column) and
            // the multi-row INSERT change their text with the batch: the server parses
            // them in the round trip that runs them, as it does BEGIN and COMMIT.
            Backend::Postgres => 4,
            // The same, where the lock is an `IN` list, whose text changes too.
            Backend::Mysql => 3,
        };
        assert_eq!(
            prepared, kept,
            "a group commit ran {executed} statements and kept {prepared} prepared"
        );
        let (_, prepared_again) =
            statements_and_prepares(&db, async || save_all(&store, second, one()).await).await;
        assert_eq!(
            prepared_again, 0,
            "the second group commit prepared {prepared_again} statements anew"
        );
    }
);

backend_test!(
    get_or_create_of_an_unchanged_conversation_writes_nothing,
    async |test: &TestDb| {
        let db = test.open().await;
        let store = StoreActor::new(db.clone(), Default::default()).start();
        let ask = |chat_id: Option<&str>| GetOrCreate {
            user_key: "every-turn".into(),
            platform: "feishu".into(),
            chat_id: chat_id.map(Into::into),
        };
        let created = ok(&store, ask(Some("chat-1"))).await.conversation;
        // The pool's liveness check of the connection, on the server backends.
        let checkout = u64::from(db.backend() != convstore::db::Backend::Sqlite);
        for chat_id in [Some("chat-1"), None] {
            let transactions = db.transactions_begun();
            let statements = statements_during(&db, async || {
                let again = ok(&store, ask(chat_id)).await;
                assert!(!again.created);
                assert_eq!(again.conversation, created);
            })
            .await;
            assert_eq!(db.transactions_begun(), transactions, "a transaction began");
            assert!(
                statements <= checkout + 1,
                "an unchanged get-or-create ({chat_id:?}) issued {statements} statements: \
                 more than the one SELECT"
            );
        }
        // A new chat id is written, in one UPDATE of its own; the activity stays.
        let transactions = db.transactions_begun();
        let changed = ok(&store, ask(Some("chat-2"))).await.conversation;
        assert_eq!(db.transactions_begun(), transactions);
        assert_eq!(changed.chat_id.as_deref(), Some("chat-2"));
        assert_eq!(changed.last_activity, created.last_activity);
        assert_eq!(conversation(&store, created.id).await, changed);
    }
);

/// A conversation of `messages` messages (turns of a question and an answer, one token
/// each), imported at once, with a checkpoint on its fourth message.
async fn summarised(store: &Store, user_key: &str, messages: usize) -> i64 {
    let items: Vec<serde_json::Value> = (0..messages)
        .map(|i| {
            let role = if i % 2 == 0 { "user" } else { "assistant" };
            serde_json::json!({"id": i + 1, "role": role, "content": "x", "tokens": 1})
        })
        .collect();
    let document = serde_json::json!({
        "conversation": {
            "user_key": user_key,
            "platform": "feishu",
            "summary": "the first two turns",
            "summary_covers_through_id": 4,
            "summary_tokens": 2,
        },
        "messages": items,
    });
    let imported = ok(
        store,
        ImportConversation {
            document,
            on_conflict: OnConflict::Skip,
        },
    )
    .await;
    imported.conversation.id
}

async fn read_context(store: &Store, conversation_id: i64, budget: ContextBudget) -> TurnContext {
    ok(
        store,
        LoadContext {
            conversation_id,
            budget,
        },
    )
    .await
}

backend_test!(
    context_costs_the_window_not_the_conversation,
    async |test: &TestDb| {
        let db = test.open().await;
        let store = StoreActor::new(db.clone(), Default::default()).start();
        let short = summarised(&store, "short", 20).await;
        let long = summarised(&store, "long", 20_000).await;
        for budget in [
            ContextBudget {
                max_tokens: Some(10),
                max_turns: None,
            },
            ContextBudget {
                max_tokens: None,
                max_turns: Some(3),
            },
        ] {
            let mut answers = Vec::new();
            let mut costs = Vec::new();
            for id in [short, long] {
                let mut answer = None;
                let cost = statements_during(&db, async || {
                    answer = Some(read_context(&store, id, budget).await);
                })
                .await;
                answers.push(answer.unwrap());
                costs.push(cost);
            }
            assert_eq!(answers[0].messages.len(), answers[1].messages.len());
            assert!(answers[1].omitted_turns > answers[0].omitted_turns);
            assert_eq!(
                answers[1].omitted_tokens,
                20_000 - 4 - answers[1].messages.len() as i64
            );
            assert_eq!(
                costs[0], costs[1],
                "{budget:?}: a context of 20,000 messages issues as many statements as of 20"
            );
            // The snapshot's BEGIN and COMMIT, the conversation, one tail read, the first
            // message after the checkpoint (and the pool's liveness check).
            assert!(
                costs[1] <= 6,
                "{budget:?}: a context call issues {} statements",
                costs[1]
            );
        }
    }
);

backend_test!(
    daily_stats_cost_one_statement_whatever_the_window,
    async |test: &TestDb| {
        let db = test.open().await;
        let store = StoreActor::new(db.clone(), Default::default()).start();
        let first = open_conversation(&store, "first").await.id;
        save_turns(&store, first, 2).await;
        let mut counts = Vec::new();
        for days in [1, 30, 366] {
            counts.push(
                statements_during(&db, async || {
                    ok(&store, GetDailyStats { days }).await;
                })
                .await,
            );
        }
        assert!(counts.iter().all(|n| *n == counts[0]), "{counts:?}");
        // The day counters, plus the pool's liveness check on the server backends.
        assert!(counts[0] <= 2, "daily stats issue {} statements", counts[0]);
    }
);

/// A turn window over a conversation without `user` messages reads at most
/// `MAX_WINDOW_MESSAGES` of them (on SQLite: the bound is the store's, not a backend's).
#[actix_rt::test]
async fn a_turn_window_without_user_messages_reads_a_bounded_amount() {
    use convstore::store::MAX_WINDOW_MESSAGES;
    let test = TestDb::create(convstore::db::Backend::Sqlite)
        .await
        .expect("SQLite");
    let db = test.open().await;
    let store = StoreActor::new(db.clone(), Default::default()).start();
    let messages: Vec<serde_json::Value> = (0..MAX_WINDOW_MESSAGES + 500)
        .map(|n| serde_json::json!({"role": "assistant", "content": format!("a{n}")}))
        .collect();
    let document = serde_json::json!({
        "conversation": {"user_key": "no-users", "platform": "test"},
        "messages": messages,
    });
    let id = crate::fixtures::store::import(&store, document)
        .await
        .conversation
        .id;
    let mut answer = Vec::new();
    let statements = statements_during(&db, async || {
        answer = ok(
            &store,
            LoadHistory {
                conversation_id: id,
                window: HistoryWindow {
                    max_turns: Some(3),
                    ..Default::default()
                },
            },
        )
        .await;
    })
    .await;
    assert!(
        answer.len() as i64 <= MAX_WINDOW_MESSAGES,
        "{} messages",
        answer.len()
    );
    assert!(
        statements <= (MAX_WINDOW_MESSAGES / 1000 + 10) as u64,
        "{statements} statements"
    );
}
