//! What looks dangerous or sits at the edge of a limit is accepted and stored as it is:
//! strings that look like SQL injection are plain data, and values just inside every
//! limit are saved.

use actix_web::http::StatusCode;
use serde_json::{Value, json};

use crate::fixtures::http::{Server, encode};

#[actix_rt::test]
async fn sql_looking_strings_are_stored_verbatim() {
    let server = Server::start().await;
    let user_key = "x'; DROP TABLE conversations; --";
    let platform = "p\"; DELETE FROM messages; --";
    let chat_id = "1 OR 1=1";
    let reply = server
        .post(
            "/v1/conversations",
            &json!({"user_key": user_key, "platform": platform, "chat_id": chat_id}),
        )
        .await
        .expect(StatusCode::CREATED);
    let id = reply.json()["id"].as_i64().expect("an id");
    // Another conversation, which a `1=1` leaking into a WHERE would touch.
    let bystander = server.conversation("bystander").await;

    let saves = [
        json!({"role": "user", "content": "' OR 1=1 --", "idempotency_key": "k' OR '1'='1",
               "metadata": {"q": "'; DROP TABLE messages; --"}}),
        json!({"role": "assistant", "content": "Robert'); DROP TABLE messages;--", "tokens": 3}),
        json!({"role": "user", "content": "%_\\%' ESCAPE '\\ \" ; SELECT * FROM sqlite_master"}),
    ];
    let mut ids = Vec::new();
    for save in &saves {
        let path = format!("/v1/conversations/{id}/messages");
        let message = server
            .post(&path, save)
            .await
            .expect(StatusCode::CREATED)
            .json();
        assert_eq!(message["content"], save["content"]);
        ids.push(message["id"].clone());
    }
    let summary = "'; UPDATE conversations SET total_tokens = 0; --";
    server
        .put(
            &format!("/v1/conversations/{id}/summary"),
            &json!({"summary": summary}),
        )
        .await
        .expect(StatusCode::OK);
    let persona = "\\'; --";
    server
        .put(
            &format!("/v1/conversations/{id}/persona"),
            &json!({"persona_id": persona}),
        )
        .await
        .expect(StatusCode::OK);

    // Read back by the key, through the list filter, and in the history.
    let found = server
        .get(&format!("/v1/conversations/by-user/{}", encode(user_key)))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(found["id"], id);
    assert_eq!(found["user_key"], user_key);
    assert_eq!(found["platform"], platform);
    assert_eq!(found["chat_id"], chat_id);
    assert_eq!(found["summary"], summary);
    assert_eq!(found["active_persona_id"], persona);
    assert_eq!(found["message_count"], 3);
    assert_eq!(found["total_tokens"], 3);
    let listed = server
        .get(&format!("/v1/conversations?user_key={}", encode(user_key)))
        .await
        .expect(StatusCode::OK)
        .json();
    let listed: Vec<&Value> = listed["conversations"]
        .as_array()
        .expect("a list")
        .iter()
        .collect();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["id"], id);
    for pattern in ["%", "x%", "_"] {
        let listed = server
            .get(&format!("/v1/conversations?user_key={}", encode(pattern)))
            .await
            .expect(StatusCode::OK)
            .json();
        assert_eq!(
            listed["conversations"],
            json!([]),
            "{pattern:?} is no pattern"
        );
    }
    let history = server
        .get(&format!("/v1/conversations/{id}/history?max_messages=10"))
        .await
        .expect(StatusCode::OK)
        .json();
    let messages = history["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), saves.len());
    for ((message, save), id) in messages.iter().zip(&saves).zip(&ids) {
        assert_eq!(&message["id"], id);
        assert_eq!(message["content"], save["content"]);
        assert_eq!(message["role"], save["role"]);
    }
    assert_eq!(messages[0]["metadata"], saves[0]["metadata"]);
    // The key is a key, not a condition: the repeat finds exactly the first message.
    let repeat = server
        .post(&format!("/v1/conversations/{id}/messages"), &saves[0])
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(repeat["id"], ids[0]);

    // Nothing else moved, and the tables are all there.
    let other = server
        .get(&format!("/v1/conversations/{bystander}"))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(
        (other["message_count"].as_i64(), other["summary"].as_str()),
        (Some(0), None)
    );
    let stats = server.get("/v1/stats").await.expect(StatusCode::OK).json();
    assert_eq!(stats["total_conversations"], 2, "{stats}");
    assert_eq!(stats["total_messages"], 3, "{stats}");
    assert_eq!(stats["longest_conversation_user"], user_key, "{stats}");
    server.get("/healthz").await.expect(StatusCode::OK);
}

#[actix_rt::test]
async fn values_just_inside_the_limits_are_accepted() {
    let server = Server::start().await;
    // 255 characters of two bytes each: the limit counts characters, not bytes.
    let user_key = "é".repeat(255);
    let reply = server
        .post(
            "/v1/conversations",
            &json!({"user_key": user_key, "platform": "p".repeat(50), "chat_id": "c".repeat(255)}),
        )
        .await
        .expect(StatusCode::CREATED);
    let id = reply.json()["id"].as_i64().expect("an id");
    let key = "k".repeat(255);
    let path = format!("/v1/conversations/{id}/messages");
    let body = json!({"role": "tool", "content": "", "tokens": i32::MAX, "idempotency_key": key});
    let saved = server
        .post(&path, &body)
        .await
        .expect(StatusCode::CREATED)
        .json();
    assert_eq!(saved["tokens"], i32::MAX);
    server
        .get(&format!("/v1/conversations/{id}/history?max_turns=10000&max_messages=100000&max_tokens=1000000000"))
        .await
        .expect(StatusCode::OK);
    let found = server
        .get(&format!("/v1/conversations/by-user/{}", encode(&user_key)))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(found["user_key"], user_key.as_str());
    assert_eq!(found["total_tokens"], i32::MAX);
}
