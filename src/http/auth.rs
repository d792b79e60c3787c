//! Credentials: bearer API tokens (`pgn_…`), which act as their account with at
//! most its role, and the secrets of sessions people open by signing in
//! (`pgs_…`, as a bearer credential or the session cookie). A handler states the role it needs by the extractor it takes:
//! `Viewer` for reads, `Editor` for writes, `Approver` for approvals, `Admin`
//! for tokens, accounts and deletes. The credential and its account are read on
//! every request, so a revoked token or a disabled account stops at once.

use super::AppState;
use super::problem::ApiError;
use crate::app::Actor;
use crate::db::{sessions, tokens};
use crate::domain::Role;
use crate::domain::session::SESSION_PREFIX;
use crate::domain::token;
use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use std::future::{Ready, ready};

/// Who is calling, as the use-case layer sees them (`actor`), with the
/// effective role: the lower of the credential's and its account's.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The account's name.
    pub name: String,
    pub role: Role,
    pub actor: Actor,
}

impl Principal {
    pub fn actor(&self) -> Actor {
        self.actor.clone()
    }

    pub fn account_id(&self) -> i64 {
        match self.actor {
            Actor::Account { account_id, .. } => account_id,
            _ => unreachable!("a principal is always an account"),
        }
    }

    pub fn token_id(&self) -> Option<i64> {
        match self.actor {
            Actor::Account { token_id, .. } => token_id,
            _ => None,
        }
    }

    pub fn session_id(&self) -> Option<i64> {
        match self.actor {
            Actor::Account { session_id, .. } => session_id,
            _ => None,
        }
    }

    fn new(
        account_id: i64,
        token_id: Option<i64>,
        session_id: Option<i64>,
        name: String,
        role: Role,
    ) -> Self {
        Principal {
            name,
            role,
            actor: Actor::Account {
                account_id,
                token_id,
                session_id,
                role,
            },
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

/// The cookie a session's secret is also set in, for the web interface.
pub const SESSION_COOKIE: &str = "pregon_session";

/// Middleware step: looks the credential up once per request: a bearer API
/// token or session secret, or else the session cookie, which alone may only
/// read (GET/HEAD) until the web interface adds CSRF protection for forms.
/// Doing it before extraction means the role check is decided first, so a
/// caller without the role gets 401/403 whatever its body holds.
async fn resolve_token(req: &ServiceRequest) {
    let secret = bearer(req.headers()).or_else(|| {
        let read_only = req.method() == Method::GET || req.method() == Method::HEAD;
        read_only.then(|| session_cookie(req.headers())).flatten()
    });
    let credentials = match secret {
        None => Credentials::Missing,
        Some(secret) => match req.app_data::<web::Data<AppState>>().cloned() {
            None => Credentials::Invalid,
            Some(state) => {
                let now = state.clock.now();
                match state.db.run(move |conn| lookup(conn, &secret, now)).await {
                    Ok(Some(principal)) => Credentials::Valid(principal),
                    Ok(None) => Credentials::Invalid,
                    Err(e) => {
                        tracing::error!(error = %e, "credential lookup failed");
                        Credentials::Invalid
                    }
                }
            }
        },
    };
    req.extensions_mut().insert(credentials);
}

/// The principal a secret stands for, if it is live and its account active.
fn lookup(
    conn: &mut crate::db::DbConnection,
    secret: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> crate::Result<Option<Principal>> {
    if secret.starts_with(SESSION_PREFIX) {
        return Ok(
            sessions::authenticate(conn, &token::hash(secret), now)?.map(|s| {
                Principal::new(
                    s.account_id,
                    None,
                    Some(s.session_id),
                    s.account_name,
                    s.role,
                )
            }),
        );
    }
    Ok(tokens::authenticate(conn, secret, now)?.map(|found| {
        Principal::new(
            found.token.account_id,
            Some(found.token.id),
            None,
            found.account_name,
            // A token never does more than its account, even one demoted since.
            found.token.role.min(found.account_role),
        )
    }))
}

fn session_cookie(headers: &header::HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The `Set-Cookie` value carrying a new session's secret: HttpOnly,
/// SameSite=Lax, Secure when the service is reached over https.
pub fn session_cookie_header(secret: &str, max_age_secs: i64, secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}={secret}; Path=/; Max-Age={max_age_secs}; HttpOnly; SameSite=Lax{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_session_cookie_header(secure: bool) -> String {
    session_cookie_header("", 0, secure)
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
    /// Any valid credential: viewer, editor, approver or admin.
    Viewer,
    Role::Viewer
);
role_extractor!(
    /// An editor, approver or admin.
    Editor,
    Role::Editor
);
role_extractor!(
    /// An approver (an editor who may also approve) or admin.
    Approver,
    Role::Approver
);
role_extractor!(
    /// An admin.
    Admin,
    Role::Admin
);

/// The principal the middleware found for this request, if any: a bearer
/// credential, or on GET/HEAD the session cookie. For the web interface's pages.
pub fn current(req: &HttpRequest) -> Option<Principal> {
    match req.extensions().get::<Credentials>() {
        Some(Credentials::Valid(p)) => Some(p.clone()),
        _ => None,
    }
}

/// The principal of the session cookie, for the web interface's forms: the
/// caller checks the form's CSRF token first (the cookie alone never writes).
pub async fn from_session_cookie(state: &AppState, req: &HttpRequest) -> Option<Principal> {
    let secret = session_cookie(req.headers())?;
    if !secret.starts_with(SESSION_PREFIX) {
        return None;
    }
    let now = state.clock.now();
    match state.db.run(move |conn| lookup(conn, &secret, now)).await {
        Ok(found) => found,
        Err(e) => {
            tracing::error!(error = %e, "session lookup failed");
            None
        }
    }
}
