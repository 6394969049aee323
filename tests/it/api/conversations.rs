//! Conversation routes: get or create, read, by user, list, delete, usage, summary,
//! persona; bad and unknown ids.

use actix_web::http::StatusCode;
use serde_json::json;

use crate::fixtures::http::{Server, invalid};

const FIELDS: [&str; 12] = [
    "id",
    "user_key",
    "platform",
    "chat_id",
    "created_at",
    "last_activity",
    "summary",
    "total_tokens",
    "message_count",
    "active_persona_id",
    "summary_covers_through_id",
    "summary_tokens",
];

#[actix_rt::test]
async fn create_is_201_then_200_and_updates_identity() {
    let server = Server::start().await;
    let body = json!({"user_key": "feishu:group:u1", "platform": "feishu", "chat_id": "c1"});
    let created = server
        .post("/v1/conversations", &body)
        .await
        .expect(StatusCode::CREATED)
        .json();
    let keys: Vec<&str> = created
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = FIELDS.to_vec();
    expected.sort_unstable();
    assert_eq!(keys, expected);
    assert_eq!(created["chat_id"], "c1");
    assert_eq!(
        (
            created["total_tokens"].as_i64(),
            created["message_count"].as_i64()
        ),
        (Some(0), Some(0))
    );
    let stamp = created["created_at"].as_str().unwrap();
    assert!(
        stamp.ends_with('Z') && stamp.len() == "2025-01-08T10:00:00.123456Z".len(),
        "{stamp}"
    );

    // Absent chat_id keeps the stored one; platform is replaced.
    let again = server
        .post(
            "/v1/conversations",
            &json!({"user_key": "feishu:group:u1", "platform": "qq"}),
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(again["id"], created["id"]);
    assert_eq!(
        (again["platform"].as_str(), again["chat_id"].as_str()),
        (Some("qq"), Some("c1"))
    );
    let replaced = server
        .post(
            "/v1/conversations",
            &json!({"user_key": "feishu:group:u1", "platform": "qq", "chat_id": "c2"}),
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(replaced["chat_id"], "c2");
}

#[actix_rt::test]
async fn create_checks_its_fields() {
    let server = Server::start().await;
    invalid(
        &server
            .post("/v1/conversations", &json!({"platform": "feishu"}))
            .await,
        "user_key",
    );
    invalid(
        &server
            .post(
                "/v1/conversations",
                &json!({"user_key": 5, "platform": "feishu"}),
            )
            .await,
        "user_key",
    );
    invalid(
        &server
            .post(
                "/v1/conversations",
                &json!({"user_key": "", "platform": "feishu"}),
            )
            .await,
        "user_key",
    );
    invalid(
        &server
            .post(
                "/v1/conversations",
                &json!({"user_key": "u", "platform": "x".repeat(51)}),
            )
            .await,
        "platform",
    );
    invalid(
        &server
            .post("/v1/conversations", &json!(["u", "feishu"]))
            .await,
        "body",
    );
}

#[actix_rt::test]
async fn read_by_id_and_by_user() {
    let server = Server::start().await;
    let key = "slack:team/1:user 42";
    let id = server.conversation(key).await;
    let read = server
        .get(&format!("/v1/conversations/{id}"))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(read["user_key"], key);
    let encoded = "slack%3Ateam%2F1%3Auser%2042";
    let by_user = server
        .get(&format!("/v1/conversations/by-user/{encoded}"))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(by_user, read);
    let missing = server.get("/v1/conversations/by-user/nobody").await;
    missing.error(StatusCode::NOT_FOUND, "not_found");
    invalid(
        &server
            .get(&format!("/v1/conversations/by-user/{}", "k".repeat(256)))
            .await,
        "user_key",
    );
    // Percent-encoded bytes that are not UTF-8 are read lossily: just an unknown user.
    let odd = server.get("/v1/conversations/by-user/%FF%FE").await;
    odd.error(StatusCode::NOT_FOUND, "not_found");
    // A user key that reads like a sub-route is still a user key.
    server.conversation("history").await;
    server
        .get("/v1/conversations/by-user/history")
        .await
        .expect(StatusCode::OK);
}

#[actix_rt::test]
async fn list_pages_newest_activity_first() {
    let server = Server::start().await;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(server.conversation(&format!("list:{n}")).await);
    }
    // Activity on the first makes it the newest.
    server
        .post(
            &format!("/v1/conversations/{}/usage", ids[0]),
            &json!({"tokens_used": 1}),
        )
        .await
        .expect(StatusCode::OK);

    let first = server
        .get("/v1/conversations?limit=2")
        .await
        .expect(StatusCode::OK)
        .json();
    let page_ids: Vec<i64> = first["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    assert_eq!(page_ids[0], ids[0]);
    assert_eq!(page_ids.len(), 2);
    let after = first["next_after_id"].as_i64().expect("a next page");
    let mut seen = page_ids;
    let mut cursor = Some(after);
    while let Some(after) = cursor {
        let page = server
            .get(&format!("/v1/conversations?limit=2&after_id={after}"))
            .await
            .expect(StatusCode::OK)
            .json();
        seen.extend(
            page["conversations"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_i64().unwrap()),
        );
        cursor = page["next_after_id"].as_i64();
    }
    seen.sort_unstable();
    assert_eq!(seen, ids);

    let filtered = server
        .get("/v1/conversations?user_key=list%3A3")
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(filtered["conversations"].as_array().unwrap().len(), 1);
    assert!(filtered["next_after_id"].is_null());
    let platform = server
        .get("/v1/conversations?platform=qq")
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(platform["conversations"], json!([]));

    invalid(&server.get("/v1/conversations?limit=abc").await, "limit");
    invalid(&server.get("/v1/conversations?limit=0").await, "limit");
    invalid(
        &server.get("/v1/conversations?after_id=-4").await,
        "after_id",
    );
}

#[actix_rt::test]
async fn delete_is_204_then_404() {
    let server = Server::start().await;
    let id = server.conversation("delete:me").await;
    server
        .post(
            &format!("/v1/conversations/{id}/messages"),
            &json!({"role": "user", "content": "hi"}),
        )
        .await
        .expect(StatusCode::CREATED);
    let deleted = server
        .delete(&format!("/v1/conversations/{id}"))
        .await
        .expect(StatusCode::NO_CONTENT);
    assert!(deleted.body.is_empty());
    server
        .get(&format!("/v1/conversations/{id}"))
        .await
        .error(StatusCode::NOT_FOUND, "not_found");
    server
        .delete(&format!("/v1/conversations/{id}"))
        .await
        .error(StatusCode::NOT_FOUND, "not_found");
}

#[actix_rt::test]
async fn usage_summary_and_persona() {
    let server = Server::start().await;
    let id = server.conversation("fields").await;
    let base = format!("/v1/conversations/{id}");

    let used = server
        .post(&format!("{base}/usage"), &json!({"tokens_used": 120}))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(used["total_tokens"], 120);
    invalid(
        &server
            .post(&format!("{base}/usage"), &json!({"tokens_used": -1}))
            .await,
        "tokens_used",
    );
    invalid(
        &server.post(&format!("{base}/usage"), &json!({})).await,
        "tokens_used",
    );
    invalid(
        &server
            .post(&format!("{base}/usage"), &json!({"tokens_used": "many"}))
            .await,
        "tokens_used",
    );

    let summarized = server
        .put(
            &format!("{base}/summary"),
            &json!({"summary": "talked about cats"}),
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(summarized["summary"], "talked about cats");
    // The key is required: a misspelt one must not clear the summary.
    invalid(
        &server
            .put(&format!("{base}/summary"), &json!({"sumary": null}))
            .await,
        "summary",
    );
    let cleared = server
        .put(&format!("{base}/summary"), &json!({"summary": null}))
        .await
        .expect(StatusCode::OK)
        .json();
    assert!(cleared["summary"].is_null());

    let persona = server
        .put(&format!("{base}/persona"), &json!({"persona_id": "pirate"}))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(persona["active_persona_id"], "pirate");
    let cleared = server
        .put(&format!("{base}/persona"), &json!({"persona_id": null}))
        .await
        .expect(StatusCode::OK)
        .json();
    assert!(cleared["active_persona_id"].is_null());
    invalid(
        &server
            .put(&format!("{base}/persona"), &json!({"persona_id": 7}))
            .await,
        "persona_id",
    );
}

#[actix_rt::test]
async fn bad_ids_are_400_and_unknown_ids_404_on_every_id_route() {
    let server = Server::start().await;
    let routes: [(&str, &str, Option<serde_json::Value>); 11] = [
        ("GET", "", None),
        ("DELETE", "", None),
        ("POST", "/usage", Some(json!({"tokens_used": 1}))),
        ("PUT", "/summary", Some(json!({"summary": "s"}))),
        ("PUT", "/persona", Some(json!({"persona_id": "p"}))),
        (
            "POST",
            "/messages",
            Some(json!({"role": "user", "content": "c"})),
        ),
        (
            "POST",
            "/messages/batch",
            Some(json!({"messages": [{"role": "user", "content": "c"}]})),
        ),
        ("GET", "/history", None),
        ("DELETE", "/messages", None),
        ("GET", "/export", None),
        ("GET", "/history?max_turns=2", None),
    ];
    for (method, suffix, body) in &routes {
        for (id, status, code) in [
            ("abc", StatusCode::BAD_REQUEST, "invalid_input"),
            ("0", StatusCode::BAD_REQUEST, "invalid_input"),
            ("-1", StatusCode::BAD_REQUEST, "invalid_input"),
            (
                "99999999999999999999",
                StatusCode::BAD_REQUEST,
                "invalid_input",
            ),
            ("1.5", StatusCode::BAD_REQUEST, "invalid_input"),
            ("424242", StatusCode::NOT_FOUND, "not_found"),
        ] {
            let (path, query) = suffix
                .split_once('?')
                .map_or((*suffix, None), |(p, q)| (p, Some(q)));
            let url = match query {
                Some(query) => format!("/v1/conversations/{id}{path}?{query}"),
                None => format!("/v1/conversations/{id}{path}"),
            };
            let request = server.request(method.parse().unwrap(), &url);
            let reply = match body {
                Some(body) => crate::fixtures::http::Reply::of(request.send_json(body)).await,
                None => crate::fixtures::http::Reply::of(request.send()).await,
            };
            let message = reply.error(status, code);
            if status == StatusCode::BAD_REQUEST {
                assert!(message.starts_with("id: "), "{method} {url}: {message}");
            }
        }
    }
}
