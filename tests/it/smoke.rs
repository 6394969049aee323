use convstore::Role;
use convstore::store::messages::*;

use crate::helpers::TestDb;

backend_test!(save_and_load, async |db: &TestDb| {
    let store = db.store().await;
    let obtained = store
        .send(GetOrCreate {
            user_key: "u1".into(),
            platform: "feishu".into(),
            chat_id: Some("c".into()),
        })
        .await
        .unwrap()
        .unwrap();
    assert!(obtained.created);
    let id = obtained.conversation.id;
    for i in 0..5 {
        store
            .send(SaveMessage {
                conversation_id: id,
                message: NewMessage::new(Role::User, format!("m{i}")).tokens(3),
            })
            .await
            .unwrap()
            .unwrap();
    }
    let history = store
        .send(LoadHistory {
            conversation_id: id,
            max_turns: Some(2),
            ..Default::default()
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        history
            .iter()
            .map(|m| m.content.as_str())
            .collect::<Vec<_>>(),
        ["m3", "m4"]
    );
    let conversation = store
        .send(GetConversation {
            conversation_id: id,
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (conversation.message_count, conversation.total_tokens),
        (5, 15)
    );
    let stats = store.send(GetStats).await.unwrap().unwrap();
    assert_eq!(stats.total_messages, 5);
});
