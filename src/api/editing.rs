//! Routes that edit a conversation's messages (truncate, delete one), fork it, and read
//! the context of a turn.

use actix_web::web::Data;
use actix_web::{HttpResponse, delete, get, post};
use serde::Deserialize;
use utoipa::ToSchema;

use super::ask::ask;
use super::error::{ApiError, ErrorBody, ErrorResponses};
use super::extract::{Body, ConversationId, MessageId, Params};
use super::state::ApiState;
use crate::model::Conversation;
use crate::store::requests::{
    ContextBudget, Cut, DeleteMessage, ForkConversation, LoadContext, Truncate, Truncated,
    TurnContext,
};

/// Body of `POST /v1/conversations/{id}/truncate`: exactly one of the two.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TruncateBody {
    /// Remove every message newer than this message of the conversation.
    #[serde(default)]
    #[schema(minimum = 1)]
    pub after_id: Option<i64>,
    /// Remove the newest this many messages (1 to 100000).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100_000)]
    pub last: Option<i64>,
}

impl TruncateBody {
    /// Where to cut; 400 naming `after_id` unless exactly one of the two is given.
    fn cut(&self) -> Result<Cut, ApiError> {
        match (self.after_id, self.last) {
            (Some(after), None) => Ok(Cut::After(after)),
            (None, Some(n)) => Ok(Cut::Last(n)),
            _ => Err(ApiError::invalid(
                "after_id",
                "give exactly one of after_id and last",
            )),
        }
    }
}

/// Removes the newest messages: every one after `after_id`, or the `last` n (undo of a
/// turn, a regenerated answer, a session's pop).
#[utoipa::path(
    tag = "editing",
    params(ConversationId),
    request_body = TruncateBody,
    responses((status = 200, description = "The removed messages, oldest first, and the conversation", body = Truncated), ErrorResponses)
)]
#[post("/v1/conversations/{id}/truncate")]
pub async fn truncate(
    state: Data<ApiState>,
    id: ConversationId,
    Body(body): Body<TruncateBody>,
) -> Result<HttpResponse, ApiError> {
    let request = Truncate {
        conversation_id: id.0,
        cut: body.cut()?,
    };
    Ok(HttpResponse::Ok().json(ask(&state, request).await?))
}

/// Deletes one message of the conversation (moderation, a user's request to forget it).
#[utoipa::path(
    tag = "editing",
    params(ConversationId, MessageId),
    responses((status = 204, description = "Deleted"), ErrorResponses)
)]
#[delete("/v1/conversations/{id}/messages/{message_id}")]
pub async fn delete_message(
    state: Data<ApiState>,
    id: ConversationId,
    message_id: MessageId,
) -> Result<HttpResponse, ApiError> {
    let request = DeleteMessage {
        conversation_id: id.0,
        message_id: message_id.0,
    };
    ask(&state, request).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Body of `POST /v1/conversations/{id}/fork`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ForkBody {
    /// The new conversation's user; 409 when it has a conversation.
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub user_key: String,
    /// Its platform; absent: the source's.
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 50,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub platform: Option<String>,
    /// Its chat id; absent: the source's.
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub chat_id: Option<String>,
    /// The newest message to copy (one of the source's); absent: all.
    #[serde(default)]
    #[schema(minimum = 1)]
    pub through_id: Option<i64>,
}

/// Forks the conversation: a new one holding copies of its messages up to `through_id`,
/// with the summary checkpoint when it lies within them.
#[utoipa::path(
    tag = "editing",
    params(ConversationId),
    request_body = ForkBody,
    responses(
        (status = 201, description = "The new conversation", body = Conversation),
        (status = 409, description = "The user_key has a conversation", body = ErrorBody),
        ErrorResponses,
    )
)]
#[post("/v1/conversations/{id}/fork")]
pub async fn fork(
    state: Data<ApiState>,
    id: ConversationId,
    Body(body): Body<ForkBody>,
) -> Result<HttpResponse, ApiError> {
    let request = ForkConversation {
        conversation_id: id.0,
        user_key: body.user_key,
        platform: body.platform,
        chat_id: body.chat_id,
        through_id: body.through_id,
    };
    Ok(HttpResponse::Created().json(ask(&state, request).await?))
}

/// The context of a turn: persona, summary with its checkpoint, and the newest whole
/// turns after it that fit `max_tokens` (less the summary's tokens) and `max_turns`.
#[utoipa::path(
    tag = "editing",
    params(ConversationId, ContextBudget),
    responses((status = 200, description = "OK", body = TurnContext), ErrorResponses)
)]
#[get("/v1/conversations/{id}/context")]
pub async fn context(
    state: Data<ApiState>,
    id: ConversationId,
    Params(budget): Params<ContextBudget>,
) -> Result<HttpResponse, ApiError> {
    let request = LoadContext {
        conversation_id: id.0,
        budget,
    };
    Ok(HttpResponse::Ok().json(ask(&state, request).await?))
}
