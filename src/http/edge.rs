//! What the HTTP edge answers before or instead of a handler, as problem+json
//! like every other 4xx: a request line or header block too large (414, 431),
//! and errors of actix's own extractors (e.g. a form body over the limit, 413),
//! which would otherwise leave as plain text.

use super::problem::{ApiError, CONTENT_TYPE};
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, ResponseError};

/// The longest request target answered; longer ones get 414.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// The largest header block (names and values) answered; larger gets 431.
/// (actix itself closes heads over 128 KiB or 96 headers with a bare 431.)
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
pub const MAX_HEADERS: usize = 64;

pub fn oversized_head(req: &HttpRequest) -> Option<ApiError> {
    let uri = req.uri().to_string().len();
    if uri > MAX_URI_BYTES {
        return Some(ApiError::UriTooLong {
            limit: MAX_URI_BYTES,
        });
    }
    let headers = req.headers();
    let bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if bytes > MAX_HEADER_BYTES || headers.len() > MAX_HEADERS {
        return Some(ApiError::HeadersTooLarge {
            limit: MAX_HEADER_BYTES,
            count: MAX_HEADERS,
        });
    }
    None
}

/// Refuses an oversized head; otherwise hands the request on.
pub fn refuse(req: ServiceRequest) -> Result<ServiceRequest, Box<ServiceResponse<BoxBody>>> {
    match oversized_head(req.request()) {
        Some(err) => Err(Box::new(req.into_response(err.error_response()))),
        None => Ok(req),
    }
}

/// An error response that is not problem+json (actix's own) becomes one, with
/// the same status and the error's text as `detail`.
pub fn as_problem<B: MessageBody + 'static>(res: ServiceResponse<B>) -> ServiceResponse<BoxBody> {
    let status = res.status();
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(CONTENT_TYPE));
    let detail = match res.response().error() {
        Some(e) if !is_problem && status.is_client_error() => e.to_string(),
        _ => return res.map_into_boxed_body(),
    };
    let problem = serde_json::json!({
        "type": format!("urn:pregon:problem:http-{}", status.as_u16()),
        "title": status.canonical_reason().unwrap_or("Client error"),
        "status": status.as_u16(),
        "detail": detail,
    });
    let response = HttpResponse::build(status)
        .content_type(CONTENT_TYPE)
        .body(problem.to_string());
    res.into_response(response)
}
