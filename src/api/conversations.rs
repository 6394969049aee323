//! Routes on conversation records: get or create, read, list, delete, and the fields a
//! bot updates (usage, summary, persona).

use actix_web::web::{Data, Path};
use actix_web::{HttpResponse, delete, get, post, put};
use serde::Deserialize;
use utoipa::ToSchema;

use super::ask::ask;
use super::error::ApiError;
use super::error::ErrorResponses;
use super::extract::{Body, ConversationId, Params};
use super::reply::created_or_ok;
use super::state::ApiState;
use crate::model::Conversation;
use crate::store::requests::{
    ConversationPage, DeleteConversation, GetConversation, GetConversationByUser, GetOrCreate,
    ListConversations, SetActivePersona, SetSummary, UpdateConversationStats,
};

/// Body of `POST /v1/conversations`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateConversation {
    /// Unique user identifier, e.g. `feishu:group:user123`.
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub user_key: String,
    /// Platform name (feishu, qq, slack, ...); replaces the stored one.
    #[schema(
        min_length = 1,
        max_length = 50,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub platform: String,
    /// Chat or group id; absent keeps the stored one.
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub chat_id: Option<String>,
}

/// Body of `POST /v1/conversations/{id}/usage`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Usage {
    /// Tokens to add to the conversation's total (0 to 10^12).
    #[schema(minimum = 0, maximum = 1_000_000_000_000_i64)]
    pub tokens_used: i64,
}

/// Body of `PUT /v1/conversations/{id}/summary`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Summary {
    /// The new summary; `null` clears it. The key is required, so that a misspelt key
    /// does not clear the summary.
    #[serde(deserialize_with = "Option::deserialize")]
    #[schema(required = true, pattern = "^[^\\u0000]*$")]
    pub summary: Option<String>,
    /// The checkpoint: the newest message (of this conversation) the summary stands
    /// for; a context call starts after it. Absent: no checkpoint.
    #[serde(default)]
    #[schema(minimum = 1)]
    pub covers_through_id: Option<i64>,
    /// The summary's token count (0 to 2^31-1, default 0), only with
    /// `covers_through_id`.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 2_147_483_647)]
    pub tokens: Option<i64>,
}

/// Body of `PUT /v1/conversations/{id}/persona`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Persona {
    /// The persona the bot now plays; `null` clears it. The key is required.
    #[serde(deserialize_with = "Option::deserialize")]
    #[schema(
        required = true,
        min_length = 1,
        max_length = 255,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub persona_id: Option<String>,
}

/// Gets the conversation of a user, creating it if there is none.
#[utoipa::path(
    tag = "conversations",
    request_body = CreateConversation,
    responses(
        (status = 201, description = "Created", body = Conversation),
        (status = 200, description = "It existed; platform and chat id updated", body = Conversation),
        ErrorResponses,
    )
)]
#[post("/v1/conversations")]
pub async fn create(
    state: Data<ApiState>,
    Body(body): Body<CreateConversation>,
) -> Result<HttpResponse, ApiError> {
    let request = GetOrCreate {
        user_key: body.user_key,
        platform: body.platform,
        chat_id: body.chat_id,
    };
    let obtained = ask(&state, request).await?;
    Ok(created_or_ok(obtained.created).json(obtained.conversation))
}

/// Gets one conversation.
#[utoipa::path(
    tag = "conversations",
    params(ConversationId),
    responses((status = 200, description = "OK", body = Conversation), ErrorResponses)
)]
#[get("/v1/conversations/{id}")]
pub async fn read(state: Data<ApiState>, id: ConversationId) -> Result<HttpResponse, ApiError> {
    let conversation = ask(
        &state,
        GetConversation {
            conversation_id: id.0,
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(conversation))
}

/// Gets the conversation of a user (the key URL-encoded); 404 if there is none.
#[utoipa::path(
    tag = "conversations",
    params(("user_key" = String, Path, description = "The user key, URL-encoded", min_length = 1, max_length = 255, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$")),
    responses((status = 200, description = "OK", body = Conversation), ErrorResponses)
)]
#[get("/v1/conversations/by-user/{user_key}")]
pub async fn by_user(
    state: Data<ApiState>,
    user_key: Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user_key = user_key.into_inner();
    let found = ask(
        &state,
        GetConversationByUser {
            user_key: user_key.clone(),
        },
    )
    .await?;
    let conversation =
        found.ok_or_else(|| ApiError::NotFound(format!("no conversation of user {user_key:?}")))?;
    Ok(HttpResponse::Ok().json(conversation))
}

/// Lists conversations, most recently active first, a page at a time.
#[utoipa::path(
    tag = "conversations",
    params(ListConversations),
    responses((status = 200, description = "OK", body = ConversationPage), ErrorResponses)
)]
#[get("/v1/conversations")]
pub async fn list(
    state: Data<ApiState>,
    Params(request): Params<ListConversations>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(ask(&state, request).await?))
}

/// Deletes a conversation and its messages.
#[utoipa::path(
    tag = "conversations",
    params(ConversationId),
    responses((status = 204, description = "Deleted"), ErrorResponses)
)]
#[delete("/v1/conversations/{id}")]
pub async fn remove(state: Data<ApiState>, id: ConversationId) -> Result<HttpResponse, ApiError> {
    ask(
        &state,
        DeleteConversation {
            conversation_id: id.0,
        },
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Adds token usage not tied to a message (the guide's `update_conversation_stats`).
#[utoipa::path(
    tag = "conversations",
    params(ConversationId),
    request_body = Usage,
    responses((status = 200, description = "OK", body = Conversation), ErrorResponses)
)]
#[post("/v1/conversations/{id}/usage")]
pub async fn usage(
    state: Data<ApiState>,
    id: ConversationId,
    Body(body): Body<Usage>,
) -> Result<HttpResponse, ApiError> {
    let request = UpdateConversationStats {
        conversation_id: id.0,
        tokens_used: body.tokens_used,
    };
    Ok(HttpResponse::Ok().json(ask(&state, request).await?))
}

/// Sets or clears the summary and its checkpoint.
#[utoipa::path(
    tag = "conversations",
    params(ConversationId),
    request_body = Summary,
    responses((status = 200, description = "OK", body = Conversation), ErrorResponses)
)]
#[put("/v1/conversations/{id}/summary")]
pub async fn summary(
    state: Data<ApiState>,
    id: ConversationId,
    Body(body): Body<Summary>,
) -> Result<HttpResponse, ApiError> {
    let request = SetSummary {
        conversation_id: id.0,
        summary: body.summary,
        covers_through_id: body.covers_through_id,
        tokens: body.tokens,
    };
    Ok(HttpResponse::Ok().json(ask(&state, request).await?))
}

/// Sets or clears the active persona.
#[utoipa::path(
    tag = "conversations",
    params(ConversationId),
    request_body = Persona,
    responses((status = 200, description = "OK", body = Conversation), ErrorResponses)
)]
#[put("/v1/conversations/{id}/persona")]
pub async fn persona(
    state: Data<ApiState>,
    id: ConversationId,
    Body(body): Body<Persona>,
) -> Result<HttpResponse, ApiError> {
    let request = SetActivePersona {
        conversation_id: id.0,
        persona_id: body.persona_id,
    };
    Ok(HttpResponse::Ok().json(ask(&state, request).await?))
}
