//! Bearer API tokens. A handler states the role it needs by the extractor it takes:
//! `Viewer` for reads, `Editor` for writes, `Admin` for tokens and deletes.

use super::AppState;
use super::problem::ApiError;
use crate::db::tokens;
use crate::domain::Role;
use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use std::future::{Ready, ready};

#[derive(Debug, Clone)]
pub struct Principal {
    pub token_id: i64,
    pub name: String,
    pub role: Role,
}

impl Principal {
    /// Who acts, for the use-case layer.
    pub fn actor(&self) -> crate::app::Actor {
        // Until tokens belong to accounts, each token stands for its own account.
        crate::app::Actor::Account {
            account_id: self.token_id,
            token_id: Some(self.token_id),
            session_id: None,
            role: self.role,
        }
    }
}

/// The outcome of reading the `Authorization` header, stored in the request's
/// extensions by `resolve_token` before any handler runs.
#[derive(Debug, Clone)]
enum Credentials {
    Missing,
    Invalid,
    Valid(Principal),
}

/// Middleware step: looks the bearer token up once per request. Doing it before
/// extraction means the role check is decided first, so a caller without the
/// role gets 401/403 whatever its body holds.
async fn resolve_token(req: &ServiceRequest) {
    let credentials = match bearer(req.headers()) {
        None => Credentials::Missing,
        Some(secret) => match req.app_data::<web::Data<AppState>>().cloned() {
            None => Credentials::Invalid,
            Some(state) => {
                let now = state.clock.now();
                match state
                    .db
                    .run(move |conn| tokens::authenticate(conn, &secret, now))
                    .await
                {
                    Ok(Some(token)) => Credentials::Valid(Principal {
                        token_id: token.id,
                        name: token.name,
                        role: token.role,
                    }),
                    Ok(None) => Credentials::Invalid,
                    Err(e) => {
                        tracing::error!(error = %e, "token lookup failed");
                        Credentials::Invalid
                    }
                }
            }
        },
    };
    req.extensions_mut().insert(credentials);
}

pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    resolve_token(&req).await;
    next.call(req).await
}

fn bearer(headers: &header::HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))?
        .trim();
    (!token.is_empty()).then(|| token.to_owned())
}

fn authorize(req: &HttpRequest, required: Role) -> Result<Principal, ApiError> {
    match req.extensions().get::<Credentials>() {
        Some(Credentials::Valid(p)) if p.role.includes(required) => Ok(p.clone()),
        Some(Credentials::Valid(_)) => Err(ApiError::Forbidden(required.as_str())),
        _ => Err(ApiError::Unauthorized),
    }
}

macro_rules! role_extractor {
    ($(#[$doc:meta])* $name:ident, $role:expr) => {
        $(#[$doc])*
        pub struct $name(pub Principal);

        impl FromRequest for $name {
            type Error = ApiError;
            type Future = Ready<Result<Self, ApiError>>;

            fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
                ready(authorize(req, $role).map($name))
            }
        }
    };
}

role_extractor!(
    /// Any valid token: viewer, editor or admin.
    Viewer,
    Role::Viewer
);
role_extractor!(
    /// An editor or admin token.
    Editor,
    Role::Editor
);
role_extractor!(
    /// An approver or admin token.
    Approver,
    Role::Approver
);
role_extractor!(
    /// An admin token.
    Admin,
    Role::Admin
);
