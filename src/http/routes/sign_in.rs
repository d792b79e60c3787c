//! Signing in and the caller's sessions. A new session's secret is returned
//! once and also set as an HttpOnly, SameSite=Lax cookie (Secure when
//! `server.public_url` is https); as a bearer credential it works on the whole
//! API, as a cookie alone only for GET and HEAD.

use super::State;
use crate::app::sessions::{self, PasswordOutcome};
use crate::domain::session::{CreatedSession, LinkRequest, PasswordSignIn, Session};
use crate::error::Error;
use crate::http::auth::{self, Viewer};
use crate::http::json::Json;
use crate::http::problem::{ApiResult, Problem};
use crate::http::rate_limit::PublicRateLimit;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

/// The page a sign-in link opens in a browser, outside /api/v1.
pub fn configure_pages(cfg: &mut ServiceConfig) {
    cfg.service(link_page).service(link_page_sign_in);
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(sign_in)
        .service(request_link)
        .service(redeem_link)
        .service(list_sessions)
        .service(sign_out_everywhere)
        .service(revoke_session);
}

/// A write transaction that does not declare the plan's data changed: links
/// and sessions are in no feed or cache, so signing in (which anyone may
/// attempt) must not make the feed caches rebuild.
fn write<T>(
    conn: &mut crate::db::DbConnection,
    work: impl FnOnce(&mut crate::db::DbConnection) -> crate::Result<T>,
) -> crate::Result<T> {
    crate::db::write_transaction(conn, work)
}

fn secure(state: &State) -> bool {
    state.settings.server.public_url.starts_with("https://")
}

fn session_response(state: &State, created: CreatedSession) -> HttpResponse {
    let max_age = (created.session.expires_at - created.session.created_at).num_seconds();
    HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .insert_header((
            header::SET_COOKIE,
            auth::session_cookie_header(&created.secret, max_age, secure(state)),
        ))
        .json(created)
}

/// The client's address as the socket sees it.
fn client_ip(req: &HttpRequest) -> String {
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// Signs in with email and password. A wrong email and a wrong password get
/// the same 401; after `accounts.max_failures_per_account` failures for an
/// account, or `max_failures_per_ip` from one address, within
/// `failure_window_minutes`, attempts are refused with 429 and Retry-After.
#[utoipa::path(tag = "sign-in", request_body = PasswordSignIn,
    responses((status = 201, body = CreatedSession), (status = 401, body = Problem),
        (status = 422, body = Problem), (status = 429, body = Problem)))]
#[post("/sign-in")]
async fn sign_in(
    state: State,
    req: HttpRequest,
    input: Json<PasswordSignIn>,
) -> ApiResult<HttpResponse> {
    let now = state.clock.now();
    let ip = client_ip(&req);
    let settings = state.settings.clone();
    let outcome = state
        .db
        .run(move |c| {
            sessions::sign_in_with_password(
                now,
                c,
                &input.0.email,
                &input.0.password,
                &ip,
                &settings.accounts,
            )
        })
        .await?;
    match outcome {
        PasswordOutcome::SignedIn(created) => Ok(session_response(&state, created)),
        PasswordOutcome::Failed => {
            Err(Error::Unauthenticated("wrong email or password".into()).into())
        }
        PasswordOutcome::RateLimited { retry_after_secs } => {
            Err(Error::RateLimited { retry_after_secs }.into())
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct Accepted {
    pub status: &'static str,
}

/// Asks for a sign-in link by email. Always 202, whether or not the address
/// has an account; the link works once, for `accounts.sign_in_link_minutes`.
#[utoipa::path(tag = "sign-in", request_body = LinkRequest,
    responses((status = 202, body = Accepted), (status = 422, body = Problem),
        (status = 429, body = Problem)))]
#[post("/sign-in/link")]
async fn request_link(
    _: PublicRateLimit,
    state: State,
    input: Json<LinkRequest>,
) -> ApiResult<HttpResponse> {
    let now = state.clock.now();
    let settings = state.settings.clone();
    let email = input.0.email;
    let found = state
        .db
        .run(move |c| {
            write(c, |c| {
                sessions::request_link(now, c, &email, &settings.accounts)
            })
        })
        .await?;
    if let Some((account, secret)) = found {
        send_link_later(&state, account, secret, now);
    }
    Ok(HttpResponse::Accepted().json(Accepted {
        status: "if this address has an account, a sign-in link is on its way",
    }))
}

/// Emails a sign-in link after the answer has gone, so the time to answer
/// does not tell whether the address has an account. The web interface's
/// sign-in page uses it too.
pub fn send_link_later(
    state: &State,
    account: crate::domain::account::Account,
    secret: String,
    now: chrono::DateTime<chrono::Utc>,
) {
    let settings = state.settings.clone();
    let mailer = state.mailer.clone();
    tokio::spawn(async move {
        let url = sessions::link_url(&settings.server.public_url, &secret);
        let minutes = settings.accounts.sign_in_link_minutes;
        let message = sessions::link_email(&settings.email, &account, &url, minutes, now)
            .map_err(|e| e.to_string())
            .and_then(|m| m.build().map_err(|e| e.to_string()));
        match message {
            Ok(message) => {
                if let Err(e) = mailer.send(&message, message.envelope()).await {
                    tracing::warn!(account_id = account.id, error = %e, "sign-in link not sent");
                }
            }
            Err(e) => {
                tracing::warn!(account_id = account.id, error = %e, "sign-in link not built")
            }
        }
    });
}

/// Exchanges a sign-in link for a session. Unknown, used or expired links are
/// refused with 404.
#[utoipa::path(tag = "sign-in", params(("token" = String, Path)),
    responses((status = 201, body = CreatedSession), (status = 404, body = Problem)))]
#[post("/sign-in/link/{token}")]
async fn redeem_link(state: State, token: web::Path<String>) -> ApiResult<HttpResponse> {
    let now = state.clock.now();
    let settings = state.settings.clone();
    let secret = token.into_inner();
    let created = state
        .db
        .run(move |c| {
            write(c, |c| {
                sessions::redeem_link(now, c, &secret, &settings.accounts)
            })
        })
        .await?;
    Ok(session_response(&state, created))
}

/// The caller's live sessions; `current` marks the one this request uses.
#[utoipa::path(tag = "sign-in", security(("bearer" = ["viewer"])),
    responses((status = 200, body = Vec<Session>), (status = 401, body = Problem)))]
#[get("/sessions")]
async fn list_sessions(who: Viewer, state: State) -> ApiResult<HttpResponse> {
    let now = state.clock.now();
    let actor = who.0.actor();
    let list = state
        .db
        .run(move |c| sessions::list_mine(&actor, now, c))
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

/// Ends one of the caller's sessions (another device, or this one: signing out).
#[utoipa::path(tag = "sign-in", params(("id" = i64, Path)), security(("bearer" = ["viewer"])),
    responses((status = 200, body = Session), (status = 404, body = Problem)))]
#[delete("/sessions/{id}")]
async fn revoke_session(who: Viewer, state: State, id: web::Path<i64>) -> ApiResult<HttpResponse> {
    let now = state.clock.now();
    let principal = who.0;
    let actor = principal.actor();
    let id = id.into_inner();
    let session = state
        .db
        .run(move |c| write(c, |c| sessions::revoke(&actor, now, c, id)))
        .await?;
    let mut response = HttpResponse::Ok();
    if principal.session_id() == Some(id) {
        response.insert_header((
            header::SET_COOKIE,
            auth::clear_session_cookie_header(secure(&state)),
        ));
    }
    Ok(response.json(session))
}

#[derive(Serialize, ToSchema)]
pub struct SignedOut {
    /// How many sessions ended.
    pub ended: usize,
}

/// Signs the caller out everywhere: every session of their account ends (API
/// tokens are not sessions: revoke those under /tokens).
#[utoipa::path(tag = "sign-in", security(("bearer" = ["viewer"])),
    responses((status = 200, body = SignedOut), (status = 401, body = Problem)))]
#[post("/sessions/sign-out-everywhere")]
async fn sign_out_everywhere(who: Viewer, state: State) -> ApiResult<HttpResponse> {
    let now = state.clock.now();
    let actor = who.0.actor();
    let ended = state
        .db
        .run(move |c| write(c, |c| sessions::sign_out_everywhere(&actor, now, c)))
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((
            header::SET_COOKIE,
            auth::clear_session_cookie_header(secure(&state)),
        ))
        .json(SignedOut { ended }))
}

fn page(status: actix_web::http::StatusCode, title: &str, body: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .insert_header(("X-Robots-Tag", "noindex"))
        .insert_header(("X-Frame-Options", "DENY"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; form-action 'self'; frame-ancestors 'none'",
        ))
        .body(format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title}</title></head>\n<body><h1>{title}</h1>\n{body}</body></html>\n",
            title = crate::email::render::escape_html(title)
        ))
}

/// The page a sign-in link opens: one button, so that link scanners that
/// fetch every URL in a message do not use up the link. Opening it changes
/// nothing.
#[utoipa::path(tag = "sign-in", params(("token" = String, Path)),
    responses((status = 200, content_type = "text/html", body = String)))]
#[get("/sign-in/{token}")]
async fn link_page(_: PublicRateLimit, _token: web::Path<String>) -> HttpResponse {
    page(
        actix_web::http::StatusCode::OK,
        "Sign in to Pregón · Entrar · Se connecter",
        "<form method=\"post\"><button type=\"submit\">Sign in · Entrar · Se connecter</button></form>\n",
    )
}

/// The page's button: uses the link and sets the session cookie. A form
/// posted from another site (its `Origin` is not `server.public_url`'s) is
/// refused, so no page elsewhere can sign a visitor in as someone else.
#[utoipa::path(tag = "sign-in", params(("token" = String, Path)),
    responses((status = 200, content_type = "text/html", body = String),
        (status = 403, content_type = "text/html", body = String),
        (status = 404, content_type = "text/html", body = String)))]
#[post("/sign-in/{token}")]
async fn link_page_sign_in(
    _: PublicRateLimit,
    req: HttpRequest,
    state: State,
    token: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let own_origin = url::Url::parse(&state.settings.server.public_url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok());
    if origin.is_some_and(|o| o != own_origin) {
        return Ok(page(
            actix_web::http::StatusCode::FORBIDDEN,
            "This form was sent from another site",
            "",
        ));
    }
    let now = state.clock.now();
    let settings = state.settings.clone();
    let secret = token.into_inner();
    let created = match state
        .db
        .run(move |c| {
            write(c, |c| {
                sessions::redeem_link(now, c, &secret, &settings.accounts)
            })
        })
        .await
    {
        Ok(created) => created,
        Err(e @ Error::NotFound { .. }) => {
            // A page for browsers, a problem document for programs.
            let wants_html = req
                .headers()
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("text/html"));
            if !wants_html {
                return Err(e.into());
            }
            return Ok(page(
                actix_web::http::StatusCode::NOT_FOUND,
                "This sign-in link is not valid: it was used, or it expired",
                "<p>Ask for a new one.</p>\n",
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let max_age = (created.session.expires_at - created.session.created_at).num_seconds();
    let mut response = page(
        actix_web::http::StatusCode::OK,
        "You are signed in · Has entrado · Vous êtes connecté",
        "<p><a href=\"/app\">Pregón</a></p>\n",
    );
    response.headers_mut().insert(
        header::SET_COOKIE,
        header::HeaderValue::from_str(&auth::session_cookie_header(
            &created.secret,
            max_age,
            secure(&state),
        ))
        .map_err(|e| Error::Internal(anyhow::anyhow!("cookie header: {e}")))?,
    );
    Ok(response)
}
