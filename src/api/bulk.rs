//! Export and import of the whole store as NDJSON, one export document a line, streamed
//! both ways: the export reads a page of messages at a time, the import reads the body a
//! line at a time, so memory does not grow with the size of the store.

use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::web::{Data, Payload};
use actix_web::{HttpRequest, HttpResponse, get, post};
use futures_util::StreamExt;
use serde::Serialize;
use utoipa::ToSchema;

use super::ask::ask;
use super::error::ApiError;
use super::error::{ErrorResponses, too_large};
use super::extract::Params;
use super::ndjson::{Line, Lines};
use super::reply::streamed;
use super::state::ApiState;
use super::transfer::ImportQuery;
use crate::store::requests::{ExportScope, ImportConversation, OnConflict, StreamExport};
use crate::transfer::ExportDocument;

/// The content type of NDJSON.
const NDJSON: &str = "application/x-ndjson";
/// The content types the import reads (NDJSON goes by several names).
const NDJSON_TYPES: [&str; 4] = [
    NDJSON,
    "application/ndjson",
    "application/jsonl",
    "application/x-jsonlines",
];

/// What `POST /admin/import` did.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct ImportReport {
    /// Lines imported (new conversations, or replaced ones).
    pub imported: u64,
    /// Lines whose user key already had a conversation (with `on_conflict=skip`).
    pub skipped: u64,
    /// Lines that could not be imported (the others were): the first
    /// [`MAX_REPORTED_FAILURES`], so that the report's size does not grow with the body.
    pub failed: Vec<FailedLine>,
    /// How many lines failed in all (an addition to the contract): more than `failed`
    /// lists when over [`MAX_REPORTED_FAILURES`] failed.
    pub failed_count: u64,
}

/// Most failed lines an import report lists; the rest are only counted.
pub const MAX_REPORTED_FAILURES: usize = 100;

/// A line of the import that failed.
#[derive(Debug, Serialize, ToSchema)]
pub struct FailedLine {
    /// Its number, from 1.
    pub line: u64,
    /// Why (for invalid input, naming the field).
    pub error: String,
}

/// Every conversation, one export document a line, streamed.
#[utoipa::path(
    tag = "admin",
    responses(
        (status = 200, description = "One export document a line", content_type = "application/x-ndjson", body = ExportDocument),
        ErrorResponses,
    )
)]
#[get("/admin/export")]
pub async fn export_all(state: Data<ApiState>) -> Result<HttpResponse, ApiError> {
    let export = ask(
        &state,
        StreamExport {
            scope: ExportScope::All,
        },
    )
    .await?;
    streamed(export, NDJSON).await
}

/// Imports NDJSON, one export document a line, each atomically; a bad line is reported
/// and the others are imported.
#[utoipa::path(
    tag = "admin",
    params(ImportQuery),
    request_body(content = String, content_type = "application/x-ndjson", description = "One export document a line"),
    responses((status = 200, description = "OK", body = ImportReport), ErrorResponses)
)]
#[post("/admin/import")]
pub async fn import_all(
    state: Data<ApiState>,
    req: HttpRequest,
    Params(query): Params<ImportQuery>,
    mut body: Payload,
) -> Result<HttpResponse, ApiError> {
    check_content_type(&req)?;
    let limit = state.settings.max_import_bytes;
    if declared_length(&req).is_some_and(|length| length > limit) {
        return Err(too_large(limit));
    }
    let mut importer = Importer {
        state: &state,
        on_conflict: query.on_conflict.unwrap_or_default(),
        lines_read: 0,
        report: ImportReport::default(),
    };
    let mut lines = Lines::new(state.settings.max_line_bytes);
    let mut received = 0;
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        received += chunk.len();
        if received > limit {
            return Err(ApiError::TooLarge(format!(
                "the body is larger than the limit of {limit} bytes; its first {} lines were processed",
                importer.lines_read
            )));
        }
        for line in lines.feed(&chunk) {
            importer.take(line).await;
        }
    }
    if let Some(line) = lines.finish() {
        importer.take(line).await;
    }
    Ok(HttpResponse::Ok().json(importer.report))
}

fn check_content_type(req: &HttpRequest) -> Result<(), ApiError> {
    let essence = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|value| value.trim().to_ascii_lowercase());
    if essence.is_some_and(|essence| NDJSON_TYPES.contains(&essence.as_str())) {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(format!(
            "the body must be NDJSON, sent with `Content-Type: {NDJSON}`"
        )))
    }
}

fn declared_length(req: &HttpRequest) -> Option<usize> {
    req.headers()
        .get(CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Imports the lines of one request and keeps the report.
struct Importer<'a> {
    state: &'a ApiState,
    on_conflict: OnConflict,
    lines_read: u64,
    report: ImportReport,
}

impl Importer<'_> {
    /// Imports the next line; blank lines are skipped.
    async fn take(&mut self, line: Line) {
        self.lines_read += 1;
        let outcome = match line {
            Line::Text(text) if text.trim_ascii().is_empty() => return,
            Line::Text(text) => self.import(&text).await,
            Line::TooLong => Err(ApiError::TooLarge(format!(
                "the line is longer than the limit of {} bytes",
                self.state.settings.max_line_bytes
            ))),
        };
        match outcome {
            Ok(true) => self.report.imported += 1,
            Ok(false) => self.report.skipped += 1,
            Err(error) => {
                error.log();
                self.report.failed_count += 1;
                if self.report.failed.len() < MAX_REPORTED_FAILURES {
                    self.report.failed.push(FailedLine {
                        line: self.lines_read,
                        error: error.to_string(),
                    });
                }
            }
        }
    }

    /// Imports one document; `true` if it was written, `false` if skipped.
    async fn import(&self, text: &[u8]) -> Result<bool, ApiError> {
        let document = serde_json::from_slice(text)
            .map_err(|error| ApiError::invalid("document", format!("malformed JSON: {error}")))?;
        let request = ImportConversation {
            document,
            on_conflict: self.on_conflict,
        };
        Ok(ask(self.state, request).await?.created)
    }
}
