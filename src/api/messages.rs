//! Routes on the messages of a conversation: save one (idempotently), save a batch, read
//! the history window, clear.

use actix_web::web::Data;
use actix_web::{HttpResponse, delete, get, post};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ask::ask;
use super::error::ApiError;
use super::error::ErrorResponses;
use super::extract::{Body, ConversationId, Params};
use super::reply::created_or_ok;
use super::state::ApiState;
use crate::error::StoreError;
use crate::model::{Role, StoredMessage};
use crate::store::requests::{
    ClearConversation, HistoryWindow, LoadHistory, NewMessage, SaveMessage, SaveMessages,
};

/// A message to save, as a request carries it.
#[derive(Debug, Deserialize, ToSchema)]
pub struct MessageInput {
    /// `user`, `assistant`, `system` or `tool`.
    #[schema(value_type = Role)]
    pub role: String,
    /// The text (no NUL character; at most the configured size, 1 MiB by default).
    #[schema(pattern = "^[^\\u0000]*$")]
    pub content: String,
    /// Token count, 0 to 2^31-1 (default 0).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 2_147_483_647)]
    pub tokens: i64,
    /// A JSON object (tool calls, model, ...); absent or `null`: none.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
    /// The platform's message id: a repeat with the same key in the same conversation
    /// returns the stored message and saves nothing.
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub idempotency_key: Option<String>,
}

impl MessageInput {
    /// The message to save; `prefix` goes before the field an error names
    /// (`messages[2].` in a batch).
    fn into_message(self, prefix: &str) -> Result<NewMessage, ApiError> {
        let role: Role = self.role.parse().map_err(|error| match error {
            StoreError::InvalidInput { field, message } => {
                ApiError::invalid(format!("{prefix}{field}"), message)
            }
            other => ApiError::from(other),
        })?;
        Ok(NewMessage {
            role,
            content: self.content,
            tokens: self.tokens,
            metadata: self.metadata,
            idempotency_key: self.idempotency_key,
        })
    }
}

/// Body of `POST /v1/conversations/{id}/messages/batch`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Batch {
    /// The messages, in order (1 to 1000); saved all or nothing.
    #[schema(min_items = 1, max_items = 1000)]
    pub messages: Vec<MessageInput>,
}

/// A list of messages, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct Messages {
    /// The messages.
    pub messages: Vec<StoredMessage>,
}

/// Saves one message; with an `idempotency_key` already saved here, returns that one.
#[utoipa::path(
    tag = "messages",
    params(ConversationId),
    request_body = MessageInput,
    responses(
        (status = 201, description = "Saved", body = StoredMessage),
        (status = 200, description = "The idempotency key was already saved; the stored message", body = StoredMessage),
        ErrorResponses,
    )
)]
#[post("/v1/conversations/{id}/messages")]
pub async fn save(
    state: Data<ApiState>,
    id: ConversationId,
    Body(body): Body<MessageInput>,
) -> Result<HttpResponse, ApiError> {
    let request = SaveMessage {
        conversation_id: id.0,
        message: body.into_message("")?,
    };
    let saved = ask(&state, request).await?;
    Ok(created_or_ok(saved.created).json(saved.message))
}

/// Saves several messages, all or nothing (a tool call and its result land together).
#[utoipa::path(
    tag = "messages",
    params(ConversationId),
    request_body = Batch,
    responses((status = 201, description = "Saved", body = Messages), ErrorResponses)
)]
#[post("/v1/conversations/{id}/messages/batch")]
pub async fn save_batch(
    state: Data<ApiState>,
    id: ConversationId,
    Body(body): Body<Batch>,
) -> Result<HttpResponse, ApiError> {
    let messages = body
        .messages
        .into_iter()
        .enumerate()
        .map(|(index, message)| message.into_message(&format!("messages[{index}].")))
        .collect::<Result<_, _>>()?;
    let request = SaveMessages {
        conversation_id: id.0,
        messages,
    };
    let saved = ask(&state, request).await?;
    let messages = saved.into_iter().map(|saved| saved.message).collect();
    Ok(HttpResponse::Created().json(Messages { messages }))
}

/// The recent history, oldest message first.
#[utoipa::path(
    tag = "messages",
    params(ConversationId, HistoryWindow),
    responses((status = 200, description = "OK", body = Messages), ErrorResponses)
)]
#[get("/v1/conversations/{id}/history")]
pub async fn history(
    state: Data<ApiState>,
    id: ConversationId,
    Params(window): Params<HistoryWindow>,
) -> Result<HttpResponse, ApiError> {
    let request = LoadHistory {
        conversation_id: id.0,
        window,
    };
    let messages = ask(&state, request).await?;
    Ok(HttpResponse::Ok().json(Messages { messages }))
}

/// Clears a conversation: messages deleted, counters and summary reset, record kept.
#[utoipa::path(
    tag = "messages",
    params(ConversationId),
    responses((status = 204, description = "Cleared"), ErrorResponses)
)]
#[delete("/v1/conversations/{id}/messages")]
pub async fn clear(state: Data<ApiState>, id: ConversationId) -> Result<HttpResponse, ApiError> {
    ask(
        &state,
        ClearConversation {
            conversation_id: id.0,
        },
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
