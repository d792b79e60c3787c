//! Bearer API tokens. A handler states the role it needs by the extractor it takes:
//! `Viewer` for reads, `Editor` for writes, `Admin` for tokens and deletes.

use super::AppState;
use super::problem::ApiError;
use crate::db::tokens;
use crate::domain::Role;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use std::future::Future;
use std::pin::Pin;

#[derive(Debug, Clone)]
pub struct Principal {
    pub token_id: i64,
    pub name: String,
    pub role: Role,
}

async fn authenticate(req: HttpRequest, required: Role) -> Result<Principal, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or(ApiError::Unauthorized)?;
    let secret = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .ok_or(ApiError::Unauthorized)?;
    let now = state.clock.now();
    let token = state
        .db
        .run(move |conn| tokens::authenticate(conn, &secret, now))
        .await?
        .ok_or(ApiError::Unauthorized)?;
    if !token.role.includes(required) {
        return Err(ApiError::Forbidden(required.as_str()));
    }
    Ok(Principal {
        token_id: token.id,
        name: token.name,
        role: token.role,
    })
}

macro_rules! role_extractor {
    ($(#[$doc:meta])* $name:ident, $role:expr) => {
        $(#[$doc])*
        pub struct $name(pub Principal);

        impl FromRequest for $name {
            type Error = ApiError;
            type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

            fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
                let req = req.clone();
                Box::pin(async move { authenticate(req, $role).await.map($name) })
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
    /// An admin token.
    Admin,
    Role::Admin
);
