//! Export and import of one conversation, in the guide's JSON document format.

use actix_web::dev::JsonBody;
use actix_web::web::{Data, Payload};
use actix_web::{HttpRequest, HttpResponse, get, post};
use serde::Deserialize;
use utoipa::IntoParams;

use super::ask::ask;
use super::error::{ApiError, ErrorBody, ErrorResponses};
use super::extract::{ConversationId, Params};
use super::reply::{created_or_ok, streamed};
use super::state::ApiState;
use crate::model::Conversation;
use crate::store::requests::{ExportScope, ImportConversation, OnConflict, StreamExport};
use crate::transfer::ExportDocument;

/// Query of the import routes.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// What to do when the user key already has a conversation: `skip` (default) keeps
    /// it, `replace` deletes it and imports the document.
    pub on_conflict: Option<OnConflict>,
}

/// Exports a conversation and all its messages, streamed a page of messages at a time.
#[utoipa::path(
    tag = "transfer",
    params(ConversationId),
    responses((status = 200, description = "OK", body = ExportDocument), ErrorResponses)
)]
#[get("/v1/conversations/{id}/export")]
pub async fn export(state: Data<ApiState>, id: ConversationId) -> Result<HttpResponse, ApiError> {
    let scope = ExportScope::Conversation(id.0);
    let export = ask(&state, StreamExport { scope }).await?;
    streamed(export, "application/json").await
}

/// Imports an export document (this store's or the Python original's), atomically. It
/// reads documents up to `limits.max_line_bytes`, the largest an export writes, rather
/// than the `limits.max_body_bytes` of the other routes.
#[utoipa::path(
    tag = "transfer",
    params(ImportQuery),
    request_body = ExportDocument,
    responses(
        (status = 201, description = "Imported (or replaced)", body = Conversation),
        (status = 200, description = "The user key exists; the existing conversation", body = Conversation),
        (status = 409, description = "Other processes created and deleted this user key's conversation under the import three times running; retry", body = ErrorBody),
        ErrorResponses,
    )
)]
#[post("/v1/import")]
pub async fn import(
    state: Data<ApiState>,
    req: HttpRequest,
    Params(query): Params<ImportQuery>,
    body: Payload,
) -> Result<HttpResponse, ApiError> {
    let document = JsonBody::<serde_json::Value>::new(&req, &mut body.into_inner(), None, true)
        .limit(state.settings.max_line_bytes)
        .await?;
    let request = ImportConversation {
        document,
        on_conflict: query.on_conflict.unwrap_or_default(),
    };
    let obtained = ask(&state, request).await?;
    Ok(created_or_ok(obtained.created).json(obtained.conversation))
}
