//! Direct reads (`StoreActor::open_in_process`): on SQLite, the reads a caller runs on
//! its own thread answer exactly what the actor answers, see every save the store has
//! answered, and refuse bad input alike; the server backends have none.

use convstore::StoreActor;
use convstore::db::Backend;
use convstore::store::StoreSettings;
use convstore::store::requests::*;

use crate::fixtures::db::TestDb;
use crate::fixtures::store::*;

backend_test!(
    direct_reads_answer_what_the_actor_answers,
    async |db: &TestDb| {
        let opened = StoreActor::open_in_process(db.settings(), StoreSettings::default()).await;
        let (store, reads) = opened.expect("open the test store");
        let Some(reads) = reads else {
            assert_ne!(db.backend(), Backend::Sqlite, "SQLite has direct reads");
            return;
        };
        assert_eq!(
            db.backend(),
            Backend::Sqlite,
            "only SQLite has direct reads"
        );
        let conv = open_conversation(&store, "direct").await;
        let id = conv.id;
        ok(
            &store,
            SetActivePersona {
                conversation_id: id,
                persona_id: Some("p1".into()),
            },
        )
        .await;
        save_turns(&store, id, 3).await;
        let window = HistoryWindow {
            max_turns: Some(2),
            ..Default::default()
        };
        let load = LoadHistory {
            conversation_id: id,
            window,
        };
        // Each read runs on a thread of its own, as a caller's thread would run it.
        let (reads_on_a_thread, load_on_a_thread) = (reads.clone(), load.clone());
        let direct = std::thread::spawn(move || {
            let reads = reads_on_a_thread;
            (
                reads.load_history(load_on_a_thread).unwrap(),
                reads
                    .get_conversation(GetConversation {
                        conversation_id: id,
                    })
                    .unwrap(),
                reads
                    .get_conversation_by_user(GetConversationByUser {
                        user_key: "direct".into(),
                    })
                    .unwrap(),
                reads
                    .get_active_persona(GetActivePersona {
                        conversation_id: id,
                    })
                    .unwrap(),
                reads
                    .load_context(LoadContext {
                        conversation_id: id,
                        budget: ContextBudget::default(),
                    })
                    .unwrap(),
            )
        })
        .join()
        .unwrap();
        assert_eq!(direct.0, ok(&store, load.clone()).await);
        assert_eq!(
            direct.0.len(),
            4,
            "two turns of a user and an assistant message"
        );
        assert_eq!(
            direct.1,
            ok(
                &store,
                GetConversation {
                    conversation_id: id
                }
            )
            .await
        );
        assert_eq!(direct.1.message_count, 6, "every answered save is seen");
        assert_eq!(direct.2, Some(direct.1.clone()));
        assert_eq!(direct.3.as_deref(), Some("p1"));
        let context = LoadContext {
            conversation_id: id,
            budget: ContextBudget::default(),
        };
        assert_eq!(direct.4, ok(&store, context).await);
        // A save answered now is in the next direct read.
        save(&store, id, convstore::Role::User, "one more", 1).await;
        let newest = reads.load_history(load).unwrap();
        assert_eq!(newest.last().map(|m| m.content.as_str()), Some("one more"));
        // Bad input is refused as the actor refuses it, naming the field.
        let bad = HistoryWindow {
            max_turns: Some(0),
            ..Default::default()
        };
        assert_invalid(
            reads.load_history(LoadHistory {
                conversation_id: id,
                window: bad,
            }),
            "max_turns",
        );
        assert_invalid(
            reads.get_conversation(GetConversation { conversation_id: 0 }),
            "conversation_id",
        );
        assert_not_found(reads.get_conversation(GetConversation {
            conversation_id: id + 1000,
        }));
    }
);
