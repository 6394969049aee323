//! Middleware that counts every request in the metrics: the route pattern (not the raw
//! path, which would make a label per conversation), the method, the status and the
//! time to the response head.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::web::Data;

use super::state::ApiState;

/// The route label of requests that matched no route.
const UNMATCHED: &str = "unmatched";

/// Middleware: records the request once its response head is ready.
pub async fn observe<B: MessageBody>(
    state: Data<ApiState>,
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, actix_web::Error> {
    let started = Instant::now();
    let method = method_label(req.method());
    let result = next.call(req).await;
    let (route, status) = match &result {
        Ok(response) => (
            response.request().match_pattern().filter(|p| !p.is_empty()),
            response.status(),
        ),
        Err(error) => (None, error.as_response_error().status_code()),
    };
    state.metrics.record_request(
        route.as_deref().unwrap_or(UNMATCHED),
        method,
        status.as_u16(),
        started.elapsed(),
    );
    result
}

/// The method as a label; methods outside the standard set share one label.
fn method_label(method: &Method) -> &'static str {
    static KNOWN: [Method; 7] = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::HEAD,
        Method::OPTIONS,
    ];
    KNOWN
        .iter()
        .find(|known| *known == method)
        .map_or("OTHER", Method::as_str)
}
