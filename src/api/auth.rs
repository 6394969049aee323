//! Bearer-token authentication: when a token is configured, a request must present it
//! in `Authorization: Bearer <token>`. The comparison takes the same time wherever the
//! presented token differs, so that timing does not reveal the token. The token is
//! never logged.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::AUTHORIZATION;
use actix_web::middleware::Next;
use actix_web::web::Data;

use super::error::ApiError;
use super::state::ApiState;

/// Middleware: answers 401 unless the configured token (if any) is presented.
pub async fn require_token<B: MessageBody>(
    state: Data<ApiState>,
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    match &state.settings.token {
        Some(token) if !presents(&req, token) => Ok(req
            .error_response(ApiError::Unauthorized)
            .map_into_right_body()),
        _ => next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body),
    }
}

/// Whether the request's `Authorization` header is `Bearer <token>` (the scheme name is
/// case-insensitive, as RFC 7235 has it).
fn presents(req: &ServiceRequest, token: &str) -> bool {
    let Some(header) = req.headers().get(AUTHORIZATION) else {
        return false;
    };
    let Some((scheme, presented)) = header.as_bytes().split_at_checked(7) else {
        return false;
    };
    scheme.eq_ignore_ascii_case(b"bearer ") && constant_time_eq(presented, token.as_bytes())
}

/// `presented == secret`, in a time that depends on the length of `presented` only.
fn constant_time_eq(presented: &[u8], secret: &[u8]) -> bool {
    let mut difference = u8::from(presented.len() != secret.len());
    for (index, byte) in presented.iter().enumerate() {
        let expected = secret.get(index).copied().unwrap_or(0);
        difference |= byte ^ expected;
    }
    std::hint::black_box(difference) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_whole_tokens() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secreT", b"secret"));
        assert!(!constant_time_eq(b"secret2", b"secret"));
        assert!(!constant_time_eq(b"secre", b"secret"));
        assert!(!constant_time_eq(b"", b"secret"));
        assert!(!constant_time_eq(b"secret\0", b"secret"));
    }
}
