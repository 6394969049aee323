//! Editing and context routes: truncate, delete one message, fork, summary checkpoints
//! and the context of a turn, with their errors.

use actix_web::http::StatusCode;
use serde_json::{Value, json};

use crate::fixtures::http::{Server, invalid};

/// Saves a turn per entry (a question and an answer, `tokens` each) and returns the
/// stored messages' ids.
async fn turns(server: &Server, id: i64, tokens: &[i64]) -> Vec<i64> {
    let mut ids = Vec::new();
    for (n, &t) in tokens.iter().enumerate() {
        let body = json!({"messages": [
            {"role": "user", "content": format!("q{n}"), "tokens": t},
            {"role": "assistant", "content": format!("a{n}"), "tokens": t},
        ]});
        let saved = server
            .post(&format!("/v1/conversations/{id}/messages/batch"), &body)
            .await
            .expect(StatusCode::CREATED)
            .json();
        for message in saved["messages"].as_array().unwrap() {
            ids.push(message["id"].as_i64().unwrap());
        }
    }
    ids
}

fn ids(messages: &Value) -> Vec<i64> {
    messages
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect()
}

#[actix_rt::test]
async fn truncate_answers_the_removed_messages_and_the_conversation() {
    let server = Server::start().await;
    let id = server.conversation("edit:truncate").await;
    let saved = turns(&server, id, &[1, 2, 3]).await;
    let path = format!("/v1/conversations/{id}/truncate");
    let cut = server
        .post(&path, &json!({"after_id": saved[3]}))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(ids(&cut["removed"]), saved[4..]);
    assert_eq!(cut["removed"][0]["content"], "q2");
    assert_eq!(
        (
            cut["conversation"]["message_count"].as_i64(),
            cut["conversation"]["total_tokens"].as_i64()
        ),
        (Some(4), Some(6))
    );
    let popped = server
        .post(&path, &json!({"last": 1}))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(ids(&popped["removed"]), [saved[3]]);
    assert_eq!(server.counters(id).await, (3, 4));

    for (body, field) in [
        (json!({}), "after_id"),
        (json!({"after_id": saved[0], "last": 1}), "after_id"),
        (json!({"last": 0}), "last"),
        (json!({"last": 1_000_000}), "last"),
        (json!({"after_id": saved[5]}), "after_id"),
        (json!({"after_id": "x"}), "after_id"),
    ] {
        invalid(&server.post(&path, &body).await, field);
    }
    assert_eq!(server.counters(id).await, (3, 4));
    server
        .post(
            &format!("/v1/conversations/{}/truncate", id + 9),
            &json!({"last": 1}),
        )
        .await
        .error(StatusCode::NOT_FOUND, "not_found");
}

#[actix_rt::test]
async fn delete_one_message_is_204_then_404() {
    let server = Server::start().await;
    let id = server.conversation("edit:delete").await;
    let saved = turns(&server, id, &[4, 6]).await;
    let path = format!("/v1/conversations/{id}/messages/{}", saved[1]);
    server.delete(&path).await.expect(StatusCode::NO_CONTENT);
    assert_eq!(server.counters(id).await, (3, 16));
    server
        .delete(&path)
        .await
        .error(StatusCode::NOT_FOUND, "not_found");
    invalid(
        &server
            .delete(&format!("/v1/conversations/{id}/messages/abc"))
            .await,
        "message_id",
    );
    invalid(
        &server
            .delete(&format!("/v1/conversations/{id}/messages/0"))
            .await,
        "message_id",
    );
}

#[actix_rt::test]
async fn a_checkpoint_shapes_the_context() {
    let server = Server::start().await;
    let id = server.conversation("edit:context").await;
    let saved = turns(&server, id, &[10, 10, 10]).await;
    server
        .put(
            &format!("/v1/conversations/{id}/persona"),
            &json!({"persona_id": "pirate"}),
        )
        .await
        .expect(StatusCode::OK);
    let summary = format!("/v1/conversations/{id}/summary");
    let set = server
        .put(
            &summary,
            &json!({"summary": "Two questions.", "covers_through_id": saved[1], "tokens": 5}),
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(
        (
            set["summary_covers_through_id"].as_i64(),
            set["summary_tokens"].as_i64()
        ),
        (Some(saved[1]), Some(5))
    );
    invalid(
        &server
            .put(
                &summary,
                &json!({"summary": "x", "covers_through_id": 999_999}),
            )
            .await,
        "covers_through_id",
    );
    invalid(
        &server
            .put(
                &summary,
                &json!({"summary": "x", "covers_through_id": saved[0], "tokens": -1}),
            )
            .await,
        "tokens",
    );

    let context = server
        .get(&format!("/v1/conversations/{id}/context?max_tokens=30"))
        .await
        .expect(StatusCode::OK)
        .json();
    let mut keys: Vec<&str> = context
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "conversation_id",
            "messages",
            "omitted_tokens",
            "omitted_turns",
            "persona_id",
            "summary",
            "summary_covers_through_id",
            "summary_tokens",
            "total_tokens"
        ]
    );
    assert_eq!(ids(&context["messages"]), saved[4..]);
    assert_eq!(
        (
            &context["persona_id"],
            &context["summary"],
            &context["summary_tokens"]
        ),
        (&json!("pirate"), &json!("Two questions."), &json!(5))
    );
    assert_eq!(
        (
            context["omitted_turns"].as_i64(),
            context["omitted_tokens"].as_i64(),
            context["total_tokens"].as_i64()
        ),
        (Some(1), Some(20), Some(25))
    );
    for query in [
        "max_tokens=0",
        "max_tokens=abc",
        "max_turns=0",
        "max_tokens=99999999999",
    ] {
        let field = query.split('=').next().unwrap();
        invalid(
            &server
                .get(&format!("/v1/conversations/{id}/context?{query}"))
                .await,
            field,
        );
    }
}

#[actix_rt::test]
async fn fork_is_201_then_409() {
    let server = Server::start().await;
    let id = server.conversation("edit:source").await;
    let saved = turns(&server, id, &[1, 2]).await;
    let path = format!("/v1/conversations/{id}/fork");
    let fork = server
        .post(
            &path,
            &json!({"user_key": "edit:fork", "through_id": saved[1]}),
        )
        .await
        .expect(StatusCode::CREATED)
        .json();
    assert_eq!(
        (
            fork["user_key"].as_str(),
            fork["platform"].as_str(),
            fork["message_count"].as_i64()
        ),
        (Some("edit:fork"), Some("feishu"), Some(2))
    );
    let fork_id = fork["id"].as_i64().unwrap();
    assert_ne!(fork_id, id);
    assert_eq!(server.counters(fork_id).await, (2, 2));
    let message = server
        .post(&path, &json!({"user_key": "edit:fork"}))
        .await
        .error(StatusCode::CONFLICT, "conflict");
    assert!(message.contains("edit:fork"), "{message}");
    invalid(
        &server
            .post(
                &path,
                &json!({"user_key": "edit:other", "through_id": 999_999}),
            )
            .await,
        "through_id",
    );
    invalid(
        &server.post(&path, &json!({"platform": "qq"})).await,
        "user_key",
    );
}
