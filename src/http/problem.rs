//! Every error leaves the API as an RFC 9457 `application/problem+json` document,
//! naming the field at fault when there is one.

use crate::error::Error;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

pub const CONTENT_TYPE: &str = "application/problem+json";

#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URN naming the kind of problem (see docs/api.md).
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The input field at fault, as a dotted path (`timing.end`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The same, as JSON Pointers, one per invalid field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
    /// For a refused calendar file: the line at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// On a refused delete: what still refers to the record.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub referenced_by: Vec<crate::error::Reference>,
    /// On a version conflict: the version the server holds now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_version: Option<i32>,
    /// On a refused state change: the state the record is in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_state: Option<String>,
    /// On a refused state change: what the record's state allows next.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed: Option<Vec<String>>,
}

/// One place at fault: a JSON Pointer into the body, or the name of a query
/// or path parameter, or of a header (exactly one of the three).
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldProblem {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    pub detail: String,
}

/// The errors of the HTTP edge: the domain's, plus those only HTTP has.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Domain(#[from] Error),
    /// The body is not JSON at all (400) or not the expected shape (422).
    #[error("{message}")]
    BadBody {
        syntax: bool,
        field: Option<String>,
        message: String,
    },
    #[error("request body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("the request target is longer than {limit} bytes")]
    UriTooLong { limit: usize },
    #[error("the request headers are larger than {limit} bytes or more than {count}")]
    HeadersTooLarge { limit: usize, count: usize },
    #[error("the request body did not arrive within {ms} ms")]
    BodyTimeout { ms: u64 },
    #[error("this Content-Type is not accepted here")]
    UnsupportedMediaType,
    /// An upload whose bytes are not an image type taken (sniffed, not
    /// the `Content-Type` the client gave).
    #[error("the body is not a PNG, JPEG, GIF or WebP image")]
    NotAnImage,
    /// A calendar file that cannot be imported.
    #[error("{message}")]
    Import {
        line: Option<usize>,
        message: String,
    },
    #[error("{0}")]
    BadQuery(String),
    /// A query or path parameter that cannot be read; `name` when known.
    #[error("{message}")]
    BadParameter {
        place: &'static str,
        name: Option<String>,
        message: String,
    },
    /// A request header that cannot be used; `name` is the header.
    #[error("{name}: {message}")]
    BadHeader { name: &'static str, message: String },
    /// A conditional request whose precondition cannot hold.
    #[error("{0}")]
    PreconditionFailed(String),
    #[error("missing or invalid bearer token")]
    Unauthorized,
    #[error("this needs the {0} role")]
    Forbidden(&'static str),
    #[error("send If-Match with the current ETag, or the current `version` in the body")]
    PreconditionRequired,
    /// A version mismatch where the version came in the body.
    #[error("version {given} is not the current version {current}")]
    VersionConflict { given: i32, current: i32 },
    #[error("no such route")]
    NoRoute,
    #[error("this path answers only {}", .0.join(", "))]
    MethodNotAllowed(Vec<String>),
    #[error("too many requests; retry in {retry_after_secs} s")]
    TooManyRequests { retry_after_secs: u64 },
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        ApiError::Domain(e.into())
    }
}

/// `timing.end` → `#/timing/end` (RFC 6901 inside a URI fragment).
fn pointer(field: &str) -> String {
    let mut out = String::from("#");
    for part in field.split('.') {
        out.push('/');
        // `participants[2]` → `participants/2`
        let part = part.replace('[', "/").replace(']', "");
        out.push_str(&part.replace('~', "~0"));
    }
    out
}

impl ApiError {
    fn describe(&self) -> (&'static str, &'static str, Option<String>, Option<i32>) {
        match self {
            ApiError::Domain(Error::NotFound { .. }) => ("not-found", "Not found", None, None),
            ApiError::Domain(Error::Invalid { field, .. }) => {
                ("validation", "Invalid field", Some(field.clone()), None)
            }
            ApiError::Domain(Error::Conflict(_)) => ("conflict", "Conflict", None, None),
            ApiError::Domain(Error::Referenced { .. }) => {
                ("still-referenced", "Still referred to", None, None)
            }
            ApiError::Domain(Error::Duplicate { fields }) => {
                ("duplicate", "Already exists", fields.first().cloned(), None)
            }
            // 412: the version came in If-Match (a body version gives 409).
            ApiError::Domain(Error::VersionMismatch { current, .. }) => (
                "version-mismatch",
                "The record changed since you read it",
                Some("If-Match".into()),
                Some(*current),
            ),
            ApiError::Domain(Error::Pool(_)) => ("unavailable", "Database unavailable", None, None),
            ApiError::Domain(Error::NotAllowed { kind, .. }) => (kind, "Not allowed", None, None),
            ApiError::Domain(Error::InvalidTransition { .. }) => (
                "invalid-transition",
                "Not allowed in this state",
                None,
                None,
            ),
            ApiError::Domain(Error::Blocked { kind, .. }) => (kind, "Not yet possible", None, None),
            ApiError::Domain(Error::Forbidden(_)) => ("forbidden", "Forbidden", None, None),
            ApiError::Domain(Error::Unauthenticated(_)) => {
                ("unauthorized", "Unauthorized", None, None)
            }
            ApiError::Domain(Error::RateLimited { .. }) => {
                ("rate-limited", "Too many requests", None, None)
            }
            ApiError::Domain(Error::Database(_) | Error::Internal(_)) => {
                ("internal", "Internal error", None, None)
            }
            ApiError::BadBody {
                syntax: true,
                field,
                ..
            } => ("malformed-json", "Malformed JSON", field.clone(), None),
            ApiError::BadBody { field, .. } => ("validation", "Invalid field", field.clone(), None),
            ApiError::TooLarge { .. } => ("too-large", "Request body too large", None, None),
            ApiError::BodyTimeout { .. } => ("body-timeout", "Request body too slow", None, None),
            ApiError::UriTooLong { .. } => ("uri-too-long", "Request target too long", None, None),
            ApiError::HeadersTooLarge { .. } => {
                ("headers-too-large", "Request headers too large", None, None)
            }
            ApiError::UnsupportedMediaType => (
                "unsupported-media-type",
                "Unsupported media type",
                None,
                None,
            ),
            ApiError::NotAnImage => (
                "not-an-image",
                "Unsupported media type",
                Some("body".to_owned()),
                None,
            ),
            ApiError::BadQuery(_) => ("bad-query", "Invalid query parameter", None, None),
            ApiError::BadParameter {
                place: "path",
                name,
                ..
            } => ("bad-path", "Invalid path parameter", name.clone(), None),
            ApiError::BadParameter { name, .. } => {
                ("bad-query", "Invalid query parameter", name.clone(), None)
            }
            ApiError::BadHeader { name, .. } => (
                "bad-header",
                "Invalid header",
                Some((*name).to_owned()),
                None,
            ),
            ApiError::PreconditionFailed(_) => (
                "precondition-failed",
                "Precondition failed",
                Some("If-Match".into()),
                None,
            ),
            ApiError::Unauthorized => ("unauthorized", "Unauthorized", None, None),
            ApiError::Forbidden(_) => ("forbidden", "Forbidden", None, None),
            ApiError::PreconditionRequired => {
                ("precondition-required", "Precondition required", None, None)
            }
            ApiError::VersionConflict { current, .. } => (
                "version-mismatch",
                "The record changed since you read it",
                Some("version".into()),
                Some(*current),
            ),
            ApiError::TooManyRequests { .. } => ("rate-limited", "Too many requests", None, None),
            ApiError::NoRoute => ("no-route", "No such route", None, None),
            ApiError::MethodNotAllowed(_) => {
                ("method-not-allowed", "Method not allowed", None, None)
            }
            ApiError::Import { .. } => ("invalid-calendar", "Invalid calendar file", None, None),
        }
    }

    fn detail(&self) -> String {
        match self {
            // Internal details go to the log, not to the client.
            ApiError::Domain(Error::Database(_) | Error::Internal(_)) => {
                "an internal error occurred; it has been logged".into()
            }
            ApiError::Domain(Error::Invalid { message, .. }) => message.clone(),
            other => other.to_string(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Domain(e) => match e {
                Error::NotFound { .. } => StatusCode::NOT_FOUND,
                Error::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
                Error::Conflict(_) | Error::Referenced { .. } | Error::Duplicate { .. } => {
                    StatusCode::CONFLICT
                }
                Error::VersionMismatch { .. } => StatusCode::PRECONDITION_FAILED,
                Error::Pool(_) => StatusCode::SERVICE_UNAVAILABLE,
                Error::NotAllowed { .. } => StatusCode::FORBIDDEN,
                Error::InvalidTransition { .. } | Error::Blocked { .. } => StatusCode::CONFLICT,
                Error::Forbidden(_) => StatusCode::FORBIDDEN,
                Error::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
                Error::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
                Error::Database(_) | Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            },
            ApiError::BadBody { syntax: true, .. } => StatusCode::BAD_REQUEST,
            ApiError::BadBody { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            ApiError::UriTooLong { .. } => StatusCode::URI_TOO_LONG,
            ApiError::HeadersTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::UnsupportedMediaType | ApiError::NotAnImage => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            ApiError::BadQuery(_) | ApiError::BadHeader { .. } | ApiError::BadParameter { .. } => {
                StatusCode::BAD_REQUEST
            }
            ApiError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            ApiError::VersionConflict { .. } => StatusCode::CONFLICT,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::NoRoute => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Import { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let (kind, title, field, current_version) = self.describe();
        let detail = self.detail();
        // Pointers point into the body; parameters and headers are named.
        let place = match self {
            ApiError::BadHeader { .. }
            | ApiError::PreconditionFailed(_)
            | ApiError::Domain(Error::VersionMismatch { .. }) => Place::Header,
            ApiError::BadParameter { .. } => Place::Parameter,
            _ => Place::Body,
        };
        let errors = field
            .iter()
            .map(|f| FieldProblem {
                pointer: matches!(place, Place::Body).then(|| pointer(f)),
                parameter: matches!(place, Place::Parameter).then(|| f.clone()),
                header: matches!(place, Place::Header).then(|| f.clone()),
                detail: detail.clone(),
            })
            .collect();
        let problem = Problem {
            kind: format!("urn:pregon:problem:{kind}"),
            title: title.into(),
            status: status.as_u16(),
            detail: Some(detail),
            field,
            errors,
            line: match self {
                ApiError::Import { line, .. } => *line,
                _ => None,
            },
            referenced_by: match self {
                ApiError::Domain(Error::Referenced { by, .. }) => by.clone(),
                _ => Vec::new(),
            },
            current_version,
            current_state: match self {
                ApiError::Domain(Error::InvalidTransition { current, .. }) => Some(current.clone()),
                _ => None,
            },
            allowed: match self {
                ApiError::Domain(Error::InvalidTransition { allowed, .. }) => Some(allowed.clone()),
                _ => None,
            },
        };
        let mut response = HttpResponse::build(status);
        response.insert_header((header::CONTENT_TYPE, CONTENT_TYPE));
        match self {
            ApiError::Unauthorized => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"pregon\""));
            }
            ApiError::MethodNotAllowed(methods) => {
                response.insert_header((header::ALLOW, methods.join(", ")));
            }
            ApiError::TooManyRequests { retry_after_secs }
            | ApiError::Domain(Error::RateLimited { retry_after_secs }) => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            _ => {}
        }
        response.body(serde_json::to_string(&problem).unwrap_or_default())
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

enum Place {
    Body,
    Parameter,
    Header,
}

#[cfg(test)]
mod tests {
    #[test]
    fn pointers() {
        assert_eq!(super::pointer("timing.end"), "#/timing/end");
        assert_eq!(
            super::pointer("recurrence.exceptions[1].occurrence"),
            "#/recurrence/exceptions/1/occurrence"
        );
    }
}
