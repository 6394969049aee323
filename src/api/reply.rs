//! How handlers shape an answer beyond its JSON body.

use actix_web::web::Bytes;
use actix_web::{HttpResponse, HttpResponseBuilder};
use futures_util::{StreamExt, stream};

use super::error::ApiError;
use crate::store::ExportStream;

/// 201 when the call created the record, 200 when it existed.
pub fn created_or_ok(created: bool) -> HttpResponseBuilder {
    if created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    }
}

/// 200 with the bytes of `export` as they come, of type `content_type`. The first chunk
/// is awaited before answering, so that an export failing before its first byte (a
/// conversation not found, a database outage) gets its status; a failure after it ends
/// the body early (logged), which the client sees as a broken transfer.
pub async fn streamed(
    mut export: ExportStream,
    content_type: &'static str,
) -> Result<HttpResponse, ApiError> {
    let first = export.next_chunk().await.transpose()?;
    let rest = export.map(|chunk| {
        chunk
            .map(Bytes::from)
            .map_err(ApiError::from)
            .inspect_err(ApiError::log)
    });
    let body = stream::iter(first.map(|chunk| Ok(Bytes::from(chunk)))).chain(rest);
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .streaming(body))
}
