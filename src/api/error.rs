//! [`ApiError`]: every way a request can fail, and the one JSON shape all of them answer
//! with: `{"error": {"code": "...", "message": "..."}}`.

use std::collections::BTreeMap;

use actix_web::error::{JsonPayloadError, PathError, PayloadError};
use actix_web::http::StatusCode;
use actix_web::http::header::WWW_AUTHENTICATE;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};

use crate::error::StoreError;

/// Why a request failed. The `Display` text is what the client reads; details of
/// server-side faults go to the log only.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request broke a rule (malformed JSON, a wrong type, a bad id, a value out of
    /// range); `field` names what to fix.
    #[error("{field}: {message}")]
    Invalid {
        /// The field at fault, e.g. `role`, `messages[2].content`, `max_turns`, `id`.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// A token is configured and the request did not present it.
    #[error("a valid `Authorization: Bearer <token>` header is required")]
    Unauthorized,
    /// The conversation (or route) does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The record to create exists already.
    #[error("{0}")]
    Conflict(String),
    /// The route exists, but not with this method.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The body is larger than the configured limit.
    #[error("{0}")]
    TooLarge(String),
    /// The body is not of the content type the route reads.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The database (or the store actor) cannot answer now; the call may be retried.
    #[error("the database is unavailable; retry later")]
    Unavailable(String),
    /// Anything else; the text is logged, the client gets a generic message.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// An [`ApiError::Invalid`] for `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// A serde error located by `serde_path_to_error`, in the input named `input` (`body`
    /// or `query`): the path names the field; at the root, the message does
    /// (`missing field ...`).
    pub(crate) fn from_path<E: std::fmt::Display>(
        input: &str,
        error: serde_path_to_error::Error<E>,
    ) -> Self {
        let path = error.path().to_string();
        let field = if path == "." { input.to_string() } else { path };
        ApiError::invalid(field, error.inner().to_string())
    }

    /// The error code of the contract.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Invalid { .. } => "invalid_input",
            ApiError::Unauthorized => "unauthorized",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::TooLarge(_) => "too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    /// Logs the details of a server-side fault; client errors are not logged.
    pub fn log(&self) {
        match self {
            ApiError::Unavailable(detail) => tracing::warn!(error = %detail, "unavailable"),
            ApiError::Internal(detail) => tracing::error!(error = %detail, "internal error"),
            _ => {}
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound(what) => ApiError::NotFound(format!("{what} not found")),
            StoreError::Conflict(what) => ApiError::Conflict(what),
            StoreError::InvalidInput { field, message } => ApiError::Invalid { field, message },
            StoreError::Unavailable(detail) => ApiError::Unavailable(detail),
            StoreError::Internal(detail) => ApiError::Internal(detail),
        }
    }
}

impl From<JsonPayloadError> for ApiError {
    fn from(error: JsonPayloadError) -> Self {
        match error {
            JsonPayloadError::OverflowKnownLength { length, limit } => ApiError::TooLarge(format!(
                "the body is {length} bytes, more than the limit of {limit}"
            )),
            JsonPayloadError::Overflow { limit } => too_large(limit),
            JsonPayloadError::ContentType => ApiError::UnsupportedMediaType(
                "the body must be JSON, sent with `Content-Type: application/json`".into(),
            ),
            JsonPayloadError::Deserialize(error) => {
                ApiError::invalid("body", format!("malformed JSON: {error}"))
            }
            JsonPayloadError::Payload(error) => error.into(),
            other => ApiError::invalid("body", other.to_string()),
        }
    }
}

impl From<PayloadError> for ApiError {
    fn from(error: PayloadError) -> Self {
        match error {
            PayloadError::Overflow => {
                ApiError::TooLarge("the body is larger than the limit".into())
            }
            other => ApiError::invalid("body", format!("cannot read the body: {other}")),
        }
    }
}

impl From<PathError> for ApiError {
    fn from(error: PathError) -> Self {
        ApiError::invalid("path", error.to_string())
    }
}

impl From<actix::MailboxError> for ApiError {
    fn from(error: actix::MailboxError) -> Self {
        ApiError::Unavailable(format!("the actor did not answer: {error}"))
    }
}

/// A [`ApiError::TooLarge`] for a body over `limit` bytes.
pub fn too_large(limit: usize) -> ApiError {
    ApiError::TooLarge(format!(
        "the body is larger than the limit of {limit} bytes"
    ))
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Invalid { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        self.log();
        let mut response = HttpResponse::build(self.status_code());
        if matches!(self, ApiError::Unauthorized) {
            response.insert_header((WWW_AUTHENTICATE, "Bearer"));
        }
        response.json(ErrorBody {
            error: ErrorDetail {
                code: self.code(),
                message: self.to_string(),
            },
        })
    }
}

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// The `error` object of an [`ErrorBody`].
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// `invalid_input`, `unauthorized`, `not_found`, `conflict`, `method_not_allowed`, `too_large`,
    /// `unsupported_media_type`, `unavailable` or `internal`.
    pub code: &'static str,
    /// A human-readable text; for `invalid_input` it names the field.
    pub message: String,
}

/// The error answers every route may give, for the OpenAPI document (which lists
/// [`ErrorBody`] among its schemas).
pub struct ErrorResponses;

impl utoipa::IntoResponses for ErrorResponses {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        [
            ("400", "Invalid input; the message names the field"),
            ("401", "A token is configured and was not presented"),
            ("404", "No such conversation"),
            ("413", "The body is larger than the limit"),
            ("415", "The body is not of the expected content type"),
            ("500", "Internal error"),
            ("503", "The database is unavailable"),
        ]
        .into_iter()
        .map(|(status, description)| {
            let schema = Ref::from_schema_name(ErrorBody::name());
            let content = ContentBuilder::new().schema(Some(schema)).build();
            let response = ResponseBuilder::new()
                .description(description)
                .content("application/json", content)
                .build();
            (status.to_string(), RefOr::T(response))
        })
        .collect()
    }
}
