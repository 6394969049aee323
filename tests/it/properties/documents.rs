//! Any valid document survives export, import and export again.

use std::fmt::Debug;

use chrono::{DateTime, FixedOffset, Utc};
use convstore::model::{self, timestamp};
use convstore::store::requests::*;
use convstore::transfer::ExportDocument;
use convstore::{Conversation, Role};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{Map, Value, json};

use crate::fixtures::store::Store;

use super::*;

/// 2000-01-01 and 2100-01-01, in microseconds since the epoch.
const EARLIEST_MICROS: i64 = 946_684_800_000_000;
const LATEST_MICROS: i64 = 4_102_444_800_000_000;

/// A point in time and the way a document writes it.
#[derive(Debug, Clone)]
struct Stamp {
    at: DateTime<Utc>,
    text: String,
}

fn stamp() -> impl Strategy<Value = Stamp> {
    (
        EARLIEST_MICROS..LATEST_MICROS,
        prop_oneof![Just(0i64), 0i64..1_000].prop_map(|m| m * 1_000),
        0u8..5,
        -56i32..=56,
    )
        .prop_map(|(micros, whole_millis, style, quarter_hours)| {
            // Some times land on a whole second or millisecond, which Python's
            // isoformat() writes with fewer digits.
            let micros = match style % 3 {
                0 => micros - micros.rem_euclid(1_000_000) + whole_millis,
                _ => micros,
            };
            let at = DateTime::from_timestamp_micros(micros).expect("in range");
            let offset = FixedOffset::east_opt(quarter_hours * 15 * 60).expect("in range");
            let local = at.with_timezone(&offset);
            let text = match style {
                // This store's own form.
                0 => timestamp::format(&at),
                // Python's naive isoformat(), and str() of a naive datetime.
                1 => at.naive_utc().format("%Y-%m-%dT%H:%M:%S%.f").to_string(),
                2 => at.naive_utc().format("%Y-%m-%d %H:%M:%S%.f").to_string(),
                // Python's isoformat() and str() of an aware datetime.
                3 => local.format("%Y-%m-%dT%H:%M:%S%.f%:z").to_string(),
                _ => local.format("%Y-%m-%d %H:%M:%S%.f%:z").to_string(),
            };
            Stamp { at, text }
        })
}

/// How a document gives a message's metadata.
#[derive(Debug, Clone)]
enum Metadata {
    Absent,
    Null,
    Object(Map<String, Value>),
}

#[derive(Debug, Clone)]
struct DocMessage {
    role: Role,
    content: String,
    tokens: i64,
    metadata: Metadata,
    timestamp: Option<Stamp>,
    idempotency_key: Option<String>,
    /// Written as the Python original does: with `id` and `conversation_id`.
    python: bool,
}

#[derive(Debug, Clone)]
struct Doc {
    user_key_tail: String,
    platform: String,
    chat_id: Option<String>,
    summary: Option<String>,
    persona: Option<String>,
    total_tokens: Option<i64>,
    created_at: Option<Stamp>,
    last_activity: Option<Stamp>,
    messages: Vec<DocMessage>,
}

fn tokens() -> impl Strategy<Value = i64> {
    prop_oneof![
        0i64..=20,
        0..=i64::from(i32::MAX),
        Just(i64::from(i32::MAX))
    ]
}

fn doc_message() -> impl Strategy<Value = DocMessage> {
    (
        any_role(),
        text(8),
        tokens(),
        prop_oneof![
            Just(Metadata::Absent),
            Just(Metadata::Null),
            json_object(json_value()).prop_map(Metadata::Object),
        ],
        prop::option::weighted(0.9, stamp()),
        prop::option::of(identifier(20)),
        any::<bool>(),
    )
        .prop_map(
            |(role, content, tokens, metadata, timestamp, idempotency_key, python)| DocMessage {
                role,
                content,
                tokens,
                metadata,
                timestamp,
                idempotency_key,
                python,
            },
        )
}

fn doc() -> impl Strategy<Value = Doc> {
    (
        identifier(24),
        identifier(50),
        prop::option::of(identifier(30)),
        prop::option::of(text(10)),
        prop::option::of(identifier(30)),
        prop::option::of(prop_oneof![0i64..1_000, 0..=model::MAX_EXACT_INTEGER]),
        prop::option::weighted(0.8, stamp()),
        prop::option::weighted(0.8, stamp()),
        vec(doc_message(), 0..8),
    )
        .prop_map(
            |(
                user_key_tail,
                platform,
                chat_id,
                summary,
                persona,
                total_tokens,
                created_at,
                last_activity,
                messages,
            )| Doc {
                user_key_tail,
                platform,
                chat_id,
                summary,
                persona,
                total_tokens,
                created_at,
                last_activity,
                messages,
            },
        )
}

impl Doc {
    /// The idempotency key of message `index`: made unique within the document, which
    /// an import requires.
    fn key(&self, index: usize) -> Option<String> {
        self.messages[index]
            .idempotency_key
            .as_ref()
            .map(|k| format!("{k}#{index}"))
    }

    fn to_json(&self, user_key: &str) -> Value {
        let mut conversation = Map::new();
        conversation.insert("user_key".into(), json!(user_key));
        conversation.insert("platform".into(), json!(self.platform));
        conversation.insert("chat_id".into(), json!(self.chat_id));
        conversation.insert("summary".into(), json!(self.summary));
        conversation.insert("active_persona_id".into(), json!(self.persona));
        if let Some(total) = self.total_tokens {
            conversation.insert("total_tokens".into(), json!(total));
        }
        if let Some(at) = &self.created_at {
            conversation.insert("created_at".into(), json!(at.text));
        }
        if let Some(at) = &self.last_activity {
            conversation.insert("last_activity".into(), json!(at.text));
        }
        conversation.insert("message_count".into(), json!(self.messages.len()));
        let messages: Vec<Value> = self
            .messages
            .iter()
            .enumerate()
            .map(|(index, m)| {
                let mut message = Map::new();
                if m.python {
                    message.insert("id".into(), json!(index * 3 + 1));
                    message.insert("conversation_id".into(), json!(7));
                }
                message.insert("role".into(), json!(m.role.as_str()));
                message.insert("content".into(), json!(m.content));
                message.insert("tokens".into(), json!(m.tokens));
                match &m.metadata {
                    Metadata::Absent => {}
                    Metadata::Null => {
                        message.insert("metadata".into(), Value::Null);
                    }
                    Metadata::Object(map) => {
                        message.insert("metadata".into(), Value::Object(map.clone()));
                    }
                }
                if let Some(at) = &m.timestamp {
                    message.insert("timestamp".into(), json!(at.text));
                }
                if let Some(key) = self.key(index) {
                    message.insert("idempotency_key".into(), json!(key));
                }
                Value::Object(message)
            })
            .collect();
        json!({"conversation": conversation, "messages": messages})
    }
}

/// Checks that `exported` holds exactly what `doc` says, with the import's defaults
/// for what it leaves out ("now" is between `before` and `after`).
fn matches_document(
    exported: &ExportDocument,
    doc: &Doc,
    user_key: &str,
    before: DateTime<Utc>,
    after: DateTime<Utc>,
) -> Result<(), TestCaseError> {
    let c = &exported.conversation;
    prop_assert_eq!(&c.user_key, user_key);
    prop_assert_eq!(&c.platform, &doc.platform);
    prop_assert_eq!(&c.chat_id, &doc.chat_id);
    prop_assert_eq!(&c.summary, &doc.summary);
    prop_assert_eq!(&c.active_persona_id, &doc.persona);
    let message_tokens: i64 = doc.messages.iter().map(|m| m.tokens).sum();
    prop_assert_eq!(c.total_tokens, doc.total_tokens.unwrap_or(message_tokens));
    prop_assert_eq!(c.message_count, doc.messages.len() as i64);

    let times = doc.messages.iter().filter_map(|m| m.timestamp.as_ref());
    let first = times.clone().map(|s| s.at).min();
    let last = times.map(|s| s.at).max();
    match doc.created_at.as_ref().map(|s| s.at).or(first) {
        Some(created) => prop_assert_eq!(c.created_at, created),
        None => prop_assert!(
            (before..=after).contains(&c.created_at),
            "created_at {} is not the time of the import",
            c.created_at
        ),
    }
    let last_activity = doc
        .last_activity
        .as_ref()
        .map(|s| s.at)
        .or(last)
        .unwrap_or(c.created_at);
    prop_assert_eq!(c.last_activity, last_activity);

    prop_assert_eq!(exported.messages.len(), doc.messages.len());
    for (index, (got, want)) in exported.messages.iter().zip(&doc.messages).enumerate() {
        prop_assert_eq!(got.role, want.role, "messages[{}].role", index);
        prop_assert_eq!(&got.content, &want.content, "messages[{}].content", index);
        prop_assert_eq!(
            i64::from(got.tokens),
            want.tokens,
            "messages[{}].tokens",
            index
        );
        let metadata = match &want.metadata {
            Metadata::Object(map) => map.clone(),
            Metadata::Absent | Metadata::Null => Map::new(),
        };
        prop_assert_eq!(&got.metadata, &metadata, "messages[{}].metadata", index);
        let time = want.timestamp.as_ref().map_or(last_activity, |s| s.at);
        prop_assert_eq!(got.timestamp, time, "messages[{}].timestamp", index);
        prop_assert_eq!(
            &got.idempotency_key,
            &doc.key(index),
            "messages[{}].key",
            index
        );
    }
    if let Some(pair) = exported.messages.windows(2).find(|w| w[0].id >= w[1].id) {
        prop_assert!(
            false,
            "messages out of id order: {} {}",
            pair[0].id,
            pair[1].id
        );
    }
    Ok(())
}

/// `document` without what a second import changes: the ids and the user key.
fn comparable(mut document: ExportDocument) -> ExportDocument {
    document.conversation.id = 0;
    document.conversation.user_key.clear();
    for message in &mut document.messages {
        message.id = 0;
    }
    document
}

async fn import_new(store: &Store, document: Value) -> Result<Conversation, TestCaseError> {
    let obtained = req(
        store,
        ImportConversation {
            document,
            on_conflict: OnConflict::Skip,
        },
    )
    .await?;
    prop_assert!(obtained.created, "the user key was new");
    Ok(obtained.conversation)
}

#[test]
fn any_valid_document_survives_export_and_import() {
    let harness = Harness::new(2);
    let (first, second) = (harness.store(0), harness.store(1));
    harness.check(doc(), |doc| async move {
        let user_key = unique_key(&format!("{}@", doc.user_key_tail));
        let before = model::now();
        let imported = import_new(first, doc.to_json(&user_key)).await?;
        let after = model::now();
        let exported = export(first, imported.id).await?;
        prop_assert_eq!(&exported.conversation, &imported);
        matches_document(&exported, &doc, &user_key, before, after)?;

        // The export, as JSON text, read back by serde and imported into another
        // store under another user key, exports the same again.
        let text = serde_json::to_string(&exported).expect("an export serializes");
        let parsed: ExportDocument = serde_json::from_str(&text).expect("an export parses");
        prop_assert_eq!(&parsed, &exported);
        let mut again: Value = serde_json::from_str(&text).expect("an export is JSON");
        let moved_key = unique_key("moved@");
        again["conversation"]["user_key"] = json!(moved_key);
        let reimported = import_new(second, again).await?;
        let reexported = export(second, reimported.id).await?;
        prop_assert_eq!(&reexported.conversation.user_key, &moved_key);
        prop_assert_eq!(comparable(reexported), comparable(exported));
        Ok(())
    });
}
