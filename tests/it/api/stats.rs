//! The figures over HTTP: `GET /v1/stats/daily`, its window and its checks.

use actix_web::http::StatusCode;
use serde_json::json;

use crate::fixtures::http::{Server, invalid};

#[actix_rt::test]
async fn the_daily_figures_list_each_day_newest_first() {
    let server = Server::start().await;
    let id = server.conversation("daily").await;
    for tokens in [10, 15] {
        server
            .post(
                &format!("/v1/conversations/{id}/messages"),
                &json!({"role": "user", "content": "hi", "tokens": tokens}),
            )
            .await
            .expect(StatusCode::CREATED);
    }
    let daily = server
        .get("/v1/stats/daily")
        .await
        .expect(StatusCode::OK)
        .json();
    let days = daily["days"].as_array().expect("days");
    assert_eq!(days.len(), 30, "the default window: {daily}");
    let today = chrono::Utc::now().date_naive();
    assert_eq!(
        days[0],
        json!({"date": today.to_string(), "messages": 2, "tokens": 25, "active_conversations": 1})
    );
    assert_eq!(
        days[1]["date"],
        (today - chrono::Duration::days(1)).to_string()
    );
    assert_eq!(days[29]["messages"], 0);
    let week = server
        .get("/v1/stats/daily?days=7")
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(week["days"].as_array().map(Vec::len), Some(7));
}

#[actix_rt::test]
async fn a_bad_window_is_refused_naming_days() {
    let server = Server::start().await;
    for query in ["days=0", "days=367", "days=-3", "days=many"] {
        let reply = server.get(&format!("/v1/stats/daily?{query}")).await;
        let message = invalid(&reply, "days");
        assert!(!message.is_empty(), "{query}");
    }
}
