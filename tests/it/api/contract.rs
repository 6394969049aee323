//! The contract in the repository (`docs/API.md`) and the document the daemon serves
//! (`/openapi.json`) list the same routes with the same methods and every status the
//! contract names for a route, and the limits the document states are the store's rules
//! (`store::validate`), where each is written once.

use std::collections::{BTreeMap, BTreeSet};

use actix_web::http::StatusCode;
use convstore::store::validate;
use serde_json::Value;

use crate::fixtures::http::Server;

/// `docs/API.md`, as the repository holds it.
const CONTRACT: &str = include_str!("../../../docs/API.md");

/// The HTTP statuses the contract uses (a number in a row that is none of these, say a
/// limit of 100 lines, is not a status).
const STATUSES: [&str; 12] = [
    "200", "201", "204", "304", "400", "401", "404", "409", "413", "415", "500", "503",
];

/// Every row of the contract's route tables (`| GET /v1/stats | ...`): its (method, path)
/// and the statuses the row names.
fn contract_rows() -> BTreeMap<(String, String), BTreeSet<String>> {
    CONTRACT
        .lines()
        .filter_map(|line| line.strip_prefix("| "))
        .filter_map(|row| {
            let route = row.split(" |").next()?;
            let (method, path) = route.split_once(' ')?;
            let known = ["GET", "POST", "PUT", "DELETE", "PATCH"].contains(&method);
            let statuses = row
                .split(|c: char| !c.is_ascii_alphanumeric())
                .filter(|word| STATUSES.contains(word))
                .map(str::to_string)
                .collect();
            known.then(|| {
                (
                    (method.to_ascii_lowercase(), path.trim().to_string()),
                    statuses,
                )
            })
        })
        .collect()
}

/// The (method, path) of every row of the contract's route tables.
fn contract_routes() -> BTreeSet<(String, String)> {
    contract_rows().into_keys().collect()
}

/// The (method, path) of every operation of the OpenAPI document.
fn document_routes(document: &Value) -> BTreeSet<(String, String)> {
    let paths = document["paths"].as_object().expect("paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            let methods = item.as_object().expect("a path item").keys();
            methods
                .filter(|m| ["get", "post", "put", "delete", "patch"].contains(&m.as_str()))
                .map(move |method| (method.clone(), path.clone()))
        })
        .collect()
}

async fn document(server: &Server) -> Value {
    server
        .get("/openapi.json")
        .await
        .expect(StatusCode::OK)
        .json()
}

#[actix_rt::test]
async fn the_contract_and_the_openapi_document_list_the_same_routes() {
    let server = Server::start().await;
    let contract = contract_routes();
    let served = document_routes(&document(&server).await);
    assert!(
        contract.len() >= 20,
        "the contract's tables were read: {contract:?}"
    );
    let undocumented: Vec<_> = served.difference(&contract).collect();
    let unserved: Vec<_> = contract.difference(&served).collect();
    assert!(
        undocumented.is_empty() && unserved.is_empty(),
        "served but not in docs/API.md: {undocumented:?}; in docs/API.md but not served: {unserved:?}"
    );
}

#[actix_rt::test]
async fn every_status_the_contract_names_for_a_route_is_in_the_openapi_document() {
    let server = Server::start().await;
    let document = document(&server).await;
    let rows = contract_rows();
    assert!(
        rows.values().any(|statuses| statuses.contains("409")),
        "the contract's statuses were read: {rows:?}"
    );
    let mut missing = Vec::new();
    for ((method, path), statuses) in &rows {
        let responses = &document["paths"][path][method]["responses"];
        for status in statuses {
            if responses.get(status).is_none() {
                missing.push(format!("{status} of {method} {path}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "named in docs/API.md, absent from /openapi.json: {missing:?}"
    );
    // 409 is no error every route shares: the document names it only where the
    // contract does.
    let unnamed: Vec<_> = document_routes(&document)
        .into_iter()
        .filter(|(method, path)| !document["paths"][path][method]["responses"]["409"].is_null())
        .filter(|route| !rows.get(route).is_some_and(|s| s.contains("409")))
        .collect();
    assert!(
        unnamed.is_empty(),
        "409 in /openapi.json, not in docs/API.md: {unnamed:?}"
    );
}

/// The `name` parameter of the `method` operation on `path`.
fn parameter<'a>(document: &'a Value, method: &str, path: &str, name: &str) -> &'a Value {
    let parameters = document["paths"][path][method]["parameters"]
        .as_array()
        .unwrap_or_else(|| panic!("{method} {path} has parameters"));
    parameters
        .iter()
        .find(|p| p["name"] == name)
        .map(|p| &p["schema"])
        .unwrap_or_else(|| panic!("{method} {path} has the parameter {name}"))
}

#[actix_rt::test]
async fn the_limits_the_document_states_are_the_stores_rules() {
    let server = Server::start().await;
    let document = document(&server).await;
    let history = "/v1/conversations/{id}/history";
    for (name, max) in [
        ("max_turns", validate::MAX_TURNS),
        ("max_messages", validate::MAX_MESSAGES),
        ("max_tokens", validate::MAX_TOKENS_WINDOW),
    ] {
        assert_eq!(
            parameter(&document, "get", history, name)["maximum"],
            max,
            "{name}"
        );
    }
    let limit = parameter(&document, "get", "/v1/conversations", "limit");
    assert_eq!(limit["maximum"], validate::MAX_PAGE);
    let prefix = parameter(&document, "get", "/v1/conversations", "user_key_prefix");
    assert_eq!(prefix["maxLength"], validate::MAX_KEY_CHARS);
    let days = parameter(&document, "post", "/admin/cleanup", "days");
    assert_eq!(days["maximum"], validate::MAX_CLEANUP_DAYS);
    let daily = parameter(&document, "get", "/v1/stats/daily", "days");
    assert_eq!(daily["maximum"], validate::MAX_DAILY_DAYS);
    let user_key = parameter(&document, "get", "/v1/budget/{user_key}", "user_key");
    assert_eq!(user_key["maxLength"], validate::MAX_KEY_CHARS);

    let schemas = &document["components"]["schemas"];
    assert_eq!(
        schemas["Usage"]["properties"]["tokens_used"]["maximum"],
        validate::MAX_USAGE
    );
    assert_eq!(
        schemas["Batch"]["properties"]["messages"]["maxItems"],
        validate::MAX_BATCH_MESSAGES
    );
    let create = &schemas["CreateConversation"]["properties"];
    assert_eq!(create["user_key"]["maxLength"], validate::MAX_KEY_CHARS);
    assert_eq!(
        create["platform"]["maxLength"],
        validate::MAX_PLATFORM_CHARS
    );
    assert_eq!(create["chat_id"]["maxLength"], validate::MAX_KEY_CHARS);
    let message = &schemas["MessageInput"]["properties"];
    assert_eq!(message["tokens"]["maximum"], i32::MAX);
    assert_eq!(
        message["idempotency_key"]["maxLength"],
        validate::MAX_KEY_CHARS
    );
}
