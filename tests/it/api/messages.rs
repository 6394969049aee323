//! Message routes: save (and its idempotent repeat), batch, history windows, clear.

use actix_web::http::StatusCode;
use serde_json::{Value, json};

use crate::fixtures::http::{Server, invalid};

fn contents(reply: &Value) -> Vec<String> {
    reply["messages"]
        .as_array()
        .expect("a messages array")
        .iter()
        .map(|m| m["content"].as_str().unwrap().to_string())
        .collect()
}

#[actix_rt::test]
async fn save_returns_the_message_and_moves_counters() {
    let server = Server::start().await;
    let id = server.conversation("msg:save").await;
    let path = format!("/v1/conversations/{id}/messages");
    let body = json!({"role": "assistant", "content": "Hello!", "tokens": 12, "metadata": {"model": "m1"}});
    let saved = server
        .post(&path, &body)
        .await
        .expect(StatusCode::CREATED)
        .json();
    assert_eq!(saved["conversation_id"], id);
    assert_eq!(
        (saved["role"].as_str(), saved["content"].as_str()),
        (Some("assistant"), Some("Hello!"))
    );
    assert_eq!(saved["tokens"], 12);
    assert_eq!(saved["metadata"], json!({"model": "m1"}));
    assert!(saved["id"].as_i64().unwrap() > 0);
    assert!(saved["timestamp"].as_str().unwrap().ends_with('Z'));

    // Tokens and metadata may be absent; null metadata is none.
    let bare = server
        .post(
            &path,
            &json!({"role": "user", "content": "hi", "metadata": null}),
        )
        .await
        .expect(StatusCode::CREATED)
        .json();
    assert_eq!(
        (bare["tokens"].as_i64(), bare["metadata"].clone()),
        (Some(0), json!({}))
    );

    assert_eq!(server.counters(id).await, (2, 12));
}

#[actix_rt::test]
async fn a_repeated_idempotency_key_is_200_and_saves_nothing() {
    let server = Server::start().await;
    let id = server.conversation("msg:idem").await;
    let path = format!("/v1/conversations/{id}/messages");
    let body = json!({"role": "user", "content": "once", "tokens": 5, "idempotency_key": "platform-msg-1"});
    let first = server
        .post(&path, &body)
        .await
        .expect(StatusCode::CREATED)
        .json();
    let again = server
        .post(&path, &body)
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(first, again);
    assert_eq!(server.counters(id).await, (1, 5));
}

#[actix_rt::test]
async fn save_checks_its_fields() {
    let server = Server::start().await;
    let id = server.conversation("msg:bad").await;
    let path = format!("/v1/conversations/{id}/messages");
    let message = invalid(
        &server
            .post(&path, &json!({"role": "robot", "content": "x"}))
            .await,
        "role",
    );
    assert!(message.contains("robot"), "{message}");
    invalid(
        &server.post(&path, &json!({"role": "user"})).await,
        "content",
    );
    invalid(
        &server
            .post(&path, &json!({"role": "user", "content": 5}))
            .await,
        "content",
    );
    invalid(
        &server
            .post(
                &path,
                &json!({"role": "user", "content": "x", "tokens": -1}),
            )
            .await,
        "tokens",
    );
    invalid(
        &server
            .post(
                &path,
                &json!({"role": "user", "content": "x", "tokens": "3"}),
            )
            .await,
        "tokens",
    );
    invalid(
        &server
            .post(
                &path,
                &json!({"role": "user", "content": "x", "metadata": [1]}),
            )
            .await,
        "metadata",
    );
    invalid(
        &server
            .post(
                &path,
                &json!({"role": "user", "content": "x", "metadata": "m"}),
            )
            .await,
        "metadata",
    );
    let conversation = server.get(&format!("/v1/conversations/{id}")).await.json();
    assert_eq!(conversation["message_count"], 0);
}

#[actix_rt::test]
async fn batch_is_all_or_nothing() {
    let server = Server::start().await;
    let id = server.conversation("msg:batch").await;
    let path = format!("/v1/conversations/{id}/messages/batch");
    let good = json!({"messages": [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": "{\"call\":\"weather\"}", "tokens": 3},
        {"role": "tool", "content": "sunny", "metadata": {"tool": "weather"}},
    ]});
    let saved = server
        .post(&path, &good)
        .await
        .expect(StatusCode::CREATED)
        .json();
    assert_eq!(
        contents(&saved),
        ["weather?", "{\"call\":\"weather\"}", "sunny"]
    );
    assert_eq!(saved["messages"][2]["metadata"], json!({"tool": "weather"}));

    let bad_role =
        json!({"messages": [{"role": "user", "content": "a"}, {"role": "bot", "content": "b"}]});
    invalid(&server.post(&path, &bad_role).await, "messages[1].role");
    let bad_metadata = json!({"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b", "metadata": 1}]});
    invalid(
        &server.post(&path, &bad_metadata).await,
        "messages[1].metadata",
    );
    let bad_type =
        json!({"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": ["b"]}]});
    invalid(&server.post(&path, &bad_type).await, "messages[1].content");
    invalid(
        &server.post(&path, &json!({"messages": []})).await,
        "messages",
    );
    invalid(
        &server.post(&path, &json!({"messages": "none"})).await,
        "messages",
    );

    let conversation = server.get(&format!("/v1/conversations/{id}")).await.json();
    assert_eq!(conversation["message_count"], 3);
}

#[actix_rt::test]
async fn history_windows_and_paging() {
    let server = Server::start().await;
    let id = server.conversation("msg:history").await;
    let mut batch = Vec::new();
    for turn in 0..4 {
        batch.push(json!({"role": "user", "content": format!("q{turn}"), "tokens": 10}));
        batch.push(json!({"role": "assistant", "content": format!("a{turn}"), "tokens": 10}));
    }
    let saved = server
        .post(
            &format!("/v1/conversations/{id}/messages/batch"),
            &json!({"messages": batch}),
        )
        .await
        .expect(StatusCode::CREATED)
        .json();
    let base = format!("/v1/conversations/{id}/history");

    let all = server.get(&base).await.expect(StatusCode::OK).json();
    assert_eq!(
        contents(&all),
        ["q0", "a0", "q1", "a1", "q2", "a2", "q3", "a3"]
    );
    let keys: Vec<&String> = all["messages"][0].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "content",
            "conversation_id",
            "id",
            "metadata",
            "role",
            "timestamp",
            "tokens"
        ]
    );
    assert_eq!(
        contents(&server.get(&format!("{base}?max_turns=2")).await.json()),
        ["q2", "a2", "q3", "a3"]
    );
    assert_eq!(
        contents(&server.get(&format!("{base}?max_messages=3")).await.json()),
        ["a2", "q3", "a3"]
    );
    assert_eq!(
        contents(&server.get(&format!("{base}?max_tokens=45")).await.json()),
        ["q2", "a2", "q3", "a3"]
    );
    let q2 = saved["messages"][4]["id"].as_i64().unwrap();
    assert_eq!(
        contents(
            &server
                .get(&format!("{base}?max_turns=1&before_id={q2}"))
                .await
                .json()
        ),
        ["q1", "a1"]
    );

    invalid(
        &server.get(&format!("{base}?max_turns=abc")).await,
        "max_turns",
    );
    invalid(
        &server.get(&format!("{base}?max_turns=0")).await,
        "max_turns",
    );
    invalid(
        &server.get(&format!("{base}?max_messages=1.5")).await,
        "max_messages",
    );
    invalid(
        &server.get(&format!("{base}?max_tokens=-3")).await,
        "max_tokens",
    );
    invalid(
        &server.get(&format!("{base}?before_id=x")).await,
        "before_id",
    );
}

#[actix_rt::test]
async fn clear_keeps_the_record() {
    let server = Server::start().await;
    let id = server.conversation("msg:clear").await;
    server
        .post(
            &format!("/v1/conversations/{id}/messages"),
            &json!({"role": "user", "content": "x", "tokens": 4}),
        )
        .await
        .expect(StatusCode::CREATED);
    server
        .put(
            &format!("/v1/conversations/{id}/summary"),
            &json!({"summary": "s"}),
        )
        .await
        .expect(StatusCode::OK);
    let cleared = server
        .delete(&format!("/v1/conversations/{id}/messages"))
        .await
        .expect(StatusCode::NO_CONTENT);
    assert!(cleared.body.is_empty());
    let conversation = server
        .get(&format!("/v1/conversations/{id}"))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(
        (
            conversation["message_count"].as_i64(),
            conversation["total_tokens"].as_i64()
        ),
        (Some(0), Some(0))
    );
    assert!(conversation["summary"].is_null());
    let history = server
        .get(&format!("/v1/conversations/{id}/history"))
        .await
        .json();
    assert_eq!(history["messages"], json!([]));
}
