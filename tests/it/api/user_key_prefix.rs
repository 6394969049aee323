//! `GET /v1/conversations?user_key_prefix=`: the listing filtered to users whose key
//! starts with a prefix, compared exactly (case, LIKE's wildcards and multibyte
//! characters included), on every backend, through a real socket.

use actix_web::http::StatusCode;
use convstore::api::ApiSettings;
use serde_json::Value;

use crate::fixtures::db::TestDb;
use crate::fixtures::http::{Server, encode, invalid};
use crate::fixtures::store::{document, import};

/// The user keys listed for `query`, paging with `limit` through every page.
async fn listed(server: &Server, query: &str, limit: usize) -> Vec<String> {
    let mut keys = Vec::new();
    let mut after = String::new();
    loop {
        let page = server
            .get(&format!("/v1/conversations?limit={limit}&{query}{after}"))
            .await
            .expect(StatusCode::OK)
            .json();
        let conversations = page["conversations"].as_array().expect("a list");
        assert!(conversations.len() <= limit, "{page}");
        keys.extend(
            conversations
                .iter()
                .map(|c| c["user_key"].as_str().expect("a key").to_string()),
        );
        match &page["next_after_id"] {
            Value::Null => return keys,
            next => after = format!("&after_id={next}"),
        }
        assert!(keys.len() < 100, "paging does not end");
    }
}

backend_test!(
    lists_the_users_whose_key_starts_with_the_prefix,
    async |db: &TestDb| {
        let store = db.store().await;
        // Oldest activity first, so the listing (newest first) is this list reversed.
        let users = [
            ("feishu:group:alice", "feishu"),
            ("feishu:group:Alice", "feishu"),
            ("feishu:group:alice2", "qq"),
            ("feishu:dm:alice", "feishu"),
            ("feishu%group_x", "feishu"),
            ("日本:ユーザー", "qq"),
            ("日本語", "qq"),
            ("FEISHU:group:alice", "feishu"),
        ];
        for (minute, (user_key, platform)) in users.iter().enumerate() {
            let activity = format!("2025-01-08T10:{minute:02}:00");
            import(&store, document(user_key, platform, &activity, vec![])).await;
        }
        let server = Server::serve(store, None, ApiSettings::default(), None);
        let prefixed = |prefix: &str| format!("user_key_prefix={}", encode(prefix));

        for limit in [1, 2, 50] {
            assert_eq!(
                listed(&server, &prefixed("feishu:group:"), limit).await,
                [
                    "feishu:group:alice2",
                    "feishu:group:Alice",
                    "feishu:group:alice"
                ],
                "limit {limit}: newest activity first, every page"
            );
        }
        let cases: [(&str, &[&str]); 9] = [
            (
                "feishu:group:a",
                &["feishu:group:alice2", "feishu:group:alice"],
            ),
            ("feishu:group:A", &["feishu:group:Alice"]),
            (
                "feishu:group:alice",
                &["feishu:group:alice2", "feishu:group:alice"],
            ),
            ("feishu:group:alice2", &["feishu:group:alice2"]),
            ("feishu:group:alice22", &[]),
            ("feishu%", &["feishu%group_x"]),
            ("feishu_", &[]),
            ("日本", &["日本語", "日本:ユーザー"]),
            ("日本:", &["日本:ユーザー"]),
        ];
        for (prefix, expected) in cases {
            assert_eq!(
                listed(&server, &prefixed(prefix), 50).await,
                expected,
                "prefix {prefix:?}"
            );
        }
        assert_eq!(
            listed(&server, &format!("{}&platform=qq", prefixed("feishu:")), 50).await,
            ["feishu:group:alice2"],
            "with a platform, both filters apply"
        );
        assert_eq!(
            listed(
                &server,
                &format!("{}&user_key=feishu:group:alice", prefixed("feishu:")),
                50
            )
            .await,
            ["feishu:group:alice"],
            "with a user_key, both filters apply"
        );

        for bad in ["", "a%00b", "a%0Ab"] {
            let reply = server
                .get(&format!("/v1/conversations?user_key_prefix={bad}"))
                .await;
            invalid(&reply, "user_key_prefix");
        }
        let too_long = "x".repeat(256);
        invalid(
            &server
                .get(&format!("/v1/conversations?user_key_prefix={too_long}"))
                .await,
            "user_key_prefix",
        );
    }
);
