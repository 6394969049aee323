//! Shorthands for driving a store through its messages in tests: send and unwrap, check
//! a rejection, build conversations and scripted histories, write import documents, and
//! take a snapshot of everything stored to prove that a call wrote nothing.

use std::fmt::Debug;
use std::time::Duration;

use actix::prelude::*;
use convstore::store::requests::*;
use convstore::transfer::ExportDocument;
use convstore::{Conversation, Role, Stats, StoreActor, StoreError, StoredMessage as Stored};
use serde_json::{Value, json};

use crate::helpers::TestDb;

/// The address tests talk to.
pub type Store = Addr<StoreActor>;

/// Sends `msg` and returns the store's answer.
pub async fn call<M, T>(store: &Store, msg: M) -> Result<T, StoreError>
where
    M: actix::Message<Result = Result<T, StoreError>> + Send + 'static,
    T: Send + 'static,
    StoreActor: Handler<M>,
{
    store.send(msg).await.expect("the store's mailbox is open")
}

/// Sends `msg` and returns the answer, failing the test on an error.
pub async fn ok<M, T>(store: &Store, msg: M) -> T
where
    M: actix::Message<Result = Result<T, StoreError>> + Send + 'static,
    T: Send + 'static,
    StoreActor: Handler<M>,
{
    call(store, msg)
        .await
        .unwrap_or_else(|e| panic!("{} failed: {e:?}", std::any::type_name::<M>()))
}

/// Asserts that `result` is an `InvalidInput` naming `field`.
#[track_caller]
pub fn assert_invalid<T: Debug>(result: Result<T, StoreError>, field: &str) {
    match result {
        Err(StoreError::InvalidInput { field: named, .. }) if named == field => {}
        other => panic!("expected InvalidInput naming {field:?}, got {other:?}"),
    }
}

/// Asserts that `result` is a `NotFound`.
#[track_caller]
pub fn assert_not_found<T: Debug>(result: Result<T, StoreError>) {
    assert!(
        matches!(result, Err(StoreError::NotFound(_))),
        "expected NotFound, got {result:?}"
    );
}

/// Sends `msg` and asserts that the store rejects it as invalid input in `field`.
pub async fn rejects<M, T>(store: &Store, field: &str, msg: M)
where
    M: actix::Message<Result = Result<T, StoreError>> + Send + 'static,
    T: Send + Debug + 'static,
    StoreActor: Handler<M>,
{
    let result = call(store, msg).await;
    if !matches!(&result, Err(StoreError::InvalidInput { field: named, .. }) if named == field) {
        panic!(
            "{}: expected InvalidInput naming {field:?}, got {result:?}",
            std::any::type_name::<M>()
        );
    }
}

/// Waits long enough for the clock to move past the last timestamp the store wrote.
pub async fn pause() {
    actix_rt::time::sleep(Duration::from_millis(5)).await;
}

/// Gets (or creates) the conversation of `user_key` on platform `feishu`.
pub async fn open_conversation(store: &Store, user_key: &str) -> Conversation {
    ok(
        store,
        GetOrCreate {
            user_key: user_key.into(),
            platform: "feishu".into(),
            chat_id: None,
        },
    )
    .await
    .conversation
}

/// The conversation `id` as stored now.
pub async fn conversation(store: &Store, id: i64) -> Conversation {
    ok(
        store,
        GetConversation {
            conversation_id: id,
        },
    )
    .await
}

/// Saves one message and returns it as stored (it must be new).
pub async fn save(store: &Store, id: i64, role: Role, content: &str, tokens: i64) -> Stored {
    let saved = ok(
        store,
        SaveMessage {
            conversation_id: id,
            message: NewMessage::new(role, content).tokens(tokens),
        },
    )
    .await;
    assert!(saved.created, "{content:?} was saved as new");
    saved.message
}

/// Saves `script` one message after the other: each entry is (role, content, tokens).
pub async fn save_script(store: &Store, id: i64, script: &[(Role, &str, i64)]) -> Vec<Stored> {
    let mut saved = Vec::with_capacity(script.len());
    for &(role, content, tokens) in script {
        saved.push(save(store, id, role, content, tokens).await);
    }
    saved
}

/// Saves `turns` turns of a user question and an assistant answer (`u1`, `a1`, `u2`, ...),
/// one token each.
pub async fn save_turns(store: &Store, id: i64, turns: usize) -> Vec<Stored> {
    let mut saved = Vec::with_capacity(turns * 2);
    for turn in 1..=turns {
        saved.push(save(store, id, Role::User, &format!("u{turn}"), 1).await);
        saved.push(save(store, id, Role::Assistant, &format!("a{turn}"), 1).await);
    }
    saved
}

/// The history `request` returns.
pub async fn history(store: &Store, request: LoadHistory) -> Vec<Stored> {
    ok(store, request).await
}

/// Every stored message of conversation `id`, oldest first.
pub async fn all_messages(store: &Store, id: i64) -> Vec<Stored> {
    history(
        store,
        LoadHistory {
            conversation_id: id,
            window: HistoryWindow {
                max_messages: Some(100_000),
                ..Default::default()
            },
        },
    )
    .await
}

/// The contents of `messages`, in order.
pub fn contents(messages: &[Stored]) -> Vec<&str> {
    messages.iter().map(|m| m.content.as_str()).collect()
}

/// Imports `document`, keeping an existing conversation of the same user.
pub async fn import(store: &Store, document: Value) -> Obtained {
    ok(
        store,
        ImportConversation {
            document,
            on_conflict: OnConflict::Skip,
        },
    )
    .await
}

/// An import document in the guide's format, without the optional keys.
pub fn document(
    user_key: &str,
    platform: &str,
    last_activity: &str,
    messages: Vec<Value>,
) -> Value {
    json!({
        "conversation": {
            "user_key": user_key,
            "platform": platform,
            "chat_id": null,
            "created_at": last_activity,
            "last_activity": last_activity,
        },
        "messages": messages,
    })
}

/// A message of an import document.
pub fn document_message(role: &str, content: &str, timestamp: &str, tokens: i64) -> Value {
    json!({
        "role": role,
        "content": content,
        "timestamp": timestamp,
        "tokens": tokens,
        "metadata": {},
    })
}

/// Every conversation with all its messages, in id order.
pub async fn export_all(store: &Store) -> Vec<ExportDocument> {
    let mut all = Vec::new();
    loop {
        let after_id = all.last().map_or(0, |d: &ExportDocument| d.conversation.id);
        let page = ok(
            store,
            ExportPage {
                after_id,
                limit: 1000,
            },
        )
        .await;
        if page.is_empty() {
            return all;
        }
        all.extend(page);
    }
}

/// Everything a store holds, as seen through the store and counted in the tables.
#[derive(Debug, PartialEq)]
pub struct Snapshot {
    stats: Stats,
    documents: Vec<ExportDocument>,
    conversation_rows: i64,
    message_rows: i64,
}

/// Takes a [`Snapshot`] of the store on `db`.
pub async fn snapshot(db: &TestDb, store: &Store) -> Snapshot {
    Snapshot {
        stats: ok(store, GetStats).await,
        documents: export_all(store).await,
        conversation_rows: db.count_rows("conversations").await,
        message_rows: db.count_rows("messages").await,
    }
}
