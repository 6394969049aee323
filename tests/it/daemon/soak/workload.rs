//! The soak's clients: writers (saves, batches, re-deliveries, clears), readers
//! (history, records, stats), an exporter and a cleaner, each checking what it gets.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::client::Client;
use super::{CLEANUP_EVERY, CLEAR_AFTER, CONVERSATIONS_PER_WRITER, WRITERS};

/// A conversation as its writer knows it: what it saved since the last clear.
#[derive(Debug, Clone)]
pub struct Tracked {
    pub id: i64,
    /// (content, tokens) of every message saved since the last clear, in order.
    pub messages: Vec<(String, i64)>,
}

/// A single save the writer may deliver again, as a chat platform re-delivers a webhook.
pub struct LastSave {
    pub conversation: usize,
    pub body: Value,
    pub message_id: i64,
}

/// Saves into `conversations` until `stop_at`: mostly single messages, every 10th
/// operation a batch (a tool call and its result), every 7th a re-delivery of the last
/// single save, and a clear once a conversation holds `CLEAR_AFTER` messages.
pub async fn writer(
    client: &Client<'_>,
    writer: usize,
    mut conversations: Vec<Tracked>,
    stop_at: Instant,
) -> Vec<Tracked> {
    let mut last: Option<LastSave> = None;
    let mut n: u64 = 0;
    while Instant::now() < stop_at {
        n += 1;
        let index = (n as usize) % conversations.len();
        let conversation = &mut conversations[index];
        let id = conversation.id;
        if conversation.messages.len() >= CLEAR_AFTER {
            let path = format!("/v1/conversations/{id}/messages");
            if client
                .call("clear", awc::http::Method::DELETE, &path, None, 204)
                .await
                .is_some()
            {
                conversation.messages.clear();
                if last.as_ref().is_some_and(|l| l.conversation == index) {
                    last = None;
                }
            }
            continue;
        }
        if n.is_multiple_of(10) {
            let tokens = [(n % 13) as i64 + 1, (n % 7) as i64, (n % 17) as i64 + 2];
            let contents = [
                format!("w{writer} n{n}: calling the weather tool"),
                format!("w{writer} n{n}: {{\"temperature\": {}}}", n % 35),
                format!("w{writer} n{n}: it is {} degrees", n % 35),
            ];
            let body = json!({"messages": [
                {"role": "assistant", "content": contents[0], "tokens": tokens[0],
                 "metadata": {"tool_calls": [{"name": "weather"}]}},
                {"role": "tool", "content": contents[1], "tokens": tokens[1]},
                {"role": "assistant", "content": contents[2], "tokens": tokens[2]},
            ]});
            let path = format!("/v1/conversations/{id}/messages/batch");
            if let Some(answer) = client
                .call("batch", awc::http::Method::POST, &path, Some(&body), 201)
                .await
            {
                let saved: Vec<&str> = answer["messages"]
                    .as_array()
                    .map(|m| m.iter().filter_map(|m| m["content"].as_str()).collect())
                    .unwrap_or_default();
                if saved != contents.iter().map(String::as_str).collect::<Vec<_>>() {
                    client
                        .tally
                        .error(format!("batch into {id}: answered {answer}"));
                }
                conversation
                    .messages
                    .extend(contents.into_iter().zip(tokens));
            }
            continue;
        }
        if n.is_multiple_of(7)
            && let Some(repeat) = &last
        {
            let id = conversations[repeat.conversation].id;
            let path = format!("/v1/conversations/{id}/messages");
            if let Some(answer) = client
                .call(
                    "redelivery",
                    awc::http::Method::POST,
                    &path,
                    Some(&repeat.body),
                    200,
                )
                .await
                && answer["id"].as_i64() != Some(repeat.message_id)
            {
                client.tally.error(format!(
                    "re-delivery into {id} answered {answer}, not message {}",
                    repeat.message_id
                ));
            }
            continue;
        }
        let content = format!("w{writer} n{n}: message");
        let tokens = (n % 40) as i64 + 1;
        let role = if n.is_multiple_of(2) {
            "user"
        } else {
            "assistant"
        };
        let body = json!({
            "role": role,
            "content": content,
            "tokens": tokens,
            "idempotency_key": format!("w{writer}-{n}"),
        });
        let path = format!("/v1/conversations/{id}/messages");
        if let Some(answer) = client
            .call("save", awc::http::Method::POST, &path, Some(&body), 201)
            .await
        {
            conversation.messages.push((content, tokens));
            last = answer["id"].as_i64().map(|message_id| LastSave {
                conversation: index,
                body,
                message_id,
            });
        }
    }
    conversations
}

/// Reads until `stop_at`: history windows (checked oldest first, at most the window,
/// all of the asked conversation), conversation records, and the statistics.
pub async fn reader(client: &Client<'_>, reader: usize, ids: &[i64], stop_at: Instant) {
    let mut n = reader;
    while Instant::now() < stop_at {
        n += 1;
        let id = ids[n % ids.len()];
        if n.is_multiple_of(5) {
            if let Some(stats) = client.get("stats", "/v1/stats").await
                && !stats["total_messages"].is_i64()
            {
                client
                    .tally
                    .error(format!("stats without total_messages: {stats}"));
            }
        } else if n.is_multiple_of(3) {
            if let Some(conversation) = client
                .get("conversation", &format!("/v1/conversations/{id}"))
                .await
                && conversation["id"].as_i64() != Some(id)
            {
                client
                    .tally
                    .error(format!("conversation {id} answered {conversation}"));
            }
        } else if let Some(answer) = client
            .get(
                "history",
                &format!("/v1/conversations/{id}/history?max_messages=50"),
            )
            .await
        {
            let messages = answer["messages"].as_array().cloned().unwrap_or_default();
            let ids: Vec<i64> = messages.iter().filter_map(|m| m["id"].as_i64()).collect();
            let in_order = ids.windows(2).all(|w| w[0] < w[1]);
            let all_ours = messages
                .iter()
                .all(|m| m["conversation_id"].as_i64() == Some(id));
            if messages.len() > 50 || ids.len() != messages.len() || !in_order || !all_ours {
                client
                    .tally
                    .error(format!("history of {id} is not a window of it: {answer}"));
            }
        }
    }
}

/// Exports the whole store every `every` until `stop_at`. Every line must be a document
/// of the store, its messages oldest first, and every conversation of `ids` must be in
/// it once. With `snapshots`, each document's counters must also match its messages.
pub async fn exporter(
    client: &Client<'_>,
    ids: &[i64],
    every: Duration,
    snapshots: bool,
    stop_at: Instant,
) -> u64 {
    let mut exports = 0;
    while Instant::now() + every < stop_at {
        actix_rt::time::sleep(every).await;
        let Some(Value::Array(documents)) = client.get("export", "/admin/export").await else {
            continue;
        };
        exports += 1;
        let exported: Vec<i64> = documents
            .iter()
            .filter_map(|d| d["conversation"]["id"].as_i64())
            .collect();
        if exported.len() != documents.len() || !exported.windows(2).all(|w| w[0] < w[1]) {
            client
                .tally
                .error(format!("export {exports}: conversation ids {exported:?}"));
        }
        if let Some(missing) = ids.iter().find(|id| !exported.contains(id)) {
            client
                .tally
                .error(format!("export {exports} lacks conversation {missing}"));
        }
        for document in &documents {
            let message_ids: Option<Vec<i64>> = document["messages"]
                .as_array()
                .map(|m| m.iter().filter_map(|m| m["id"].as_i64()).collect());
            if !message_ids.is_some_and(|ids| ids.windows(2).all(|w| w[0] < w[1])) {
                client.tally.error(format!(
                    "export {exports}: a malformed document: {document}"
                ));
            }
            if snapshots && let Err(problem) = consistent(document) {
                client
                    .tally
                    .error(format!("export {exports} under load: {problem}"));
            }
        }
    }
    exports
}

/// Every [`CLEANUP_EVERY`] until `stop_at`: imports a conversation last active in 2000
/// and runs a cleanup of everything idle for ten years, which must delete exactly it.
pub async fn cleaner(client: &Client<'_>, stop_at: Instant) -> u64 {
    let mut cycles = 0;
    while Instant::now() + CLEANUP_EVERY < stop_at {
        actix_rt::time::sleep(CLEANUP_EVERY).await;
        cycles += 1;
        let old = "2000-01-08T10:00:00.123456Z";
        let document = json!({
            "conversation": {"user_key": format!("soak:old:{cycles}"), "platform": "qq",
                             "created_at": old, "last_activity": old},
            "messages": [
                {"role": "user", "content": "an old question", "timestamp": old, "tokens": 4},
                {"role": "assistant", "content": "an old answer", "timestamp": old, "tokens": 6},
            ],
        });
        if client
            .call(
                "import",
                awc::http::Method::POST,
                "/v1/import",
                Some(&document),
                201,
            )
            .await
            .is_none()
        {
            continue;
        }
        if let Some(report) = client
            .call(
                "cleanup",
                awc::http::Method::POST,
                "/admin/cleanup?days=3650",
                None,
                200,
            )
            .await
            && report["deleted"].as_u64() != Some(1)
        {
            client.tally.error(format!(
                "cleanup {cycles} deleted {report}, not the 1 old one"
            ));
        }
    }
    cycles
}

/// Whether an export document's counters match its messages (the soak records no usage
/// outside messages, so the tokens add up exactly).
pub fn consistent(document: &Value) -> Result<(), String> {
    let conversation = &document["conversation"];
    let messages = document["messages"]
        .as_array()
        .ok_or_else(|| format!("a document without messages: {document}"))?;
    let count = messages.len() as i64;
    let tokens: i64 = messages.iter().filter_map(|m| m["tokens"].as_i64()).sum();
    let stated = (
        conversation["message_count"].as_i64(),
        conversation["total_tokens"].as_i64(),
    );
    if stated != (Some(count), Some(tokens)) {
        return Err(format!(
            "conversation {} states {stated:?} but holds {count} messages of {tokens} tokens",
            conversation["id"]
        ));
    }
    Ok(())
}

/// Creates the conversations of every writer, `CONVERSATIONS_PER_WRITER` each.
pub async fn create_conversations(client: &Client<'_>) -> Vec<Vec<Tracked>> {
    let mut plans = Vec::new();
    for w in 0..WRITERS {
        let mut tracked = Vec::new();
        for c in 0..CONVERSATIONS_PER_WRITER {
            let body = json!({"user_key": format!("soak:w{w}:c{c}"), "platform": "slack",
                              "chat_id": format!("chat-{w}")});
            let created = client
                .call(
                    "create",
                    awc::http::Method::POST,
                    "/v1/conversations",
                    Some(&body),
                    201,
                )
                .await
                .expect("create a conversation");
            let id = created["id"].as_i64().expect("a conversation id");
            tracked.push(Tracked {
                id,
                messages: Vec::new(),
            });
        }
        plans.push(tracked);
    }
    plans
}
