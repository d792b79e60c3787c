//! The signed-in person's own pages: "My account" (language, the weekly
//! digest switch, their sessions with "sign out" each and "sign out
//! everywhere") and the API tokens page (each account its own tokens; an
//! administrator every token, and tokens for any account). Writes go through
//! `app::accounts`, `app::sessions` and `app::tokens` only.

use super::super::format;
use super::super::page::{self, Chrome, State, chrome, render, see_other, signed_in, to_sign_in};
use crate::domain::account::{AccountKind, AccountPreferences, AccountStatus};
use crate::domain::{Language, Role};
use crate::error::Error;
use crate::http::auth::{self, Principal};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use std::collections::HashMap;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/app/me", web::get().to(me))
        .route("/app/me/language", web::post().to(set_language))
        .route("/app/me/digest", web::post().to(set_digest))
        .route("/app/me/sessions/{id}/end", web::post().to(end_session))
        .route(
            "/app/me/sign-out-everywhere",
            web::post().to(sign_out_everywhere),
        )
        .route("/app/tokens", web::get().to(tokens))
        .route("/app/tokens", web::post().to(create_token))
        .route("/app/tokens/{id}/revoke", web::post().to(revoke_token));
}

pub struct LangChoice {
    pub code: &'static str,
    pub name: &'static str,
    pub selected: bool,
}

pub struct SessionRow {
    pub id: i64,
    pub method: &'static str,
    pub started: String,
    pub last_seen: String,
    pub expires: String,
    pub current: bool,
}

#[derive(askama::Template)]
#[template(path = "team/me.html")]
pub struct MePage {
    pub c: Chrome,
    pub name: String,
    pub email: String,
    pub role: &'static str,
    pub notice: Option<&'static str>,
    pub languages: Vec<LangChoice>,
    pub weekly_digest: bool,
    pub sessions: Vec<SessionRow>,
}

/// "My account".
async fn me(state: State, req: HttpRequest) -> HttpResponse {
    let Some(who) = signed_in(&req) else {
        return to_sign_in(&req);
    };
    let mut c = chrome(&state, &req, Some(&who), None).await;
    let t = c.tr();
    let zone = format::viewer_zone(&req);
    let (actor, id, now) = (who.actor(), who.account_id(), state.clock.now());
    let found = state
        .db
        .run(move |conn| {
            Ok((
                crate::db::accounts::get(conn, id)?,
                crate::app::accounts::preferences(&actor, conn, id)?,
                crate::app::sessions::list_mine(&actor, now, conn)?,
            ))
        })
        .await;
    let (account, prefs, sessions) = match found {
        Ok(f) => f,
        Err(e) => return page::error_page(&mut c, &e),
    };
    let notice = match super::query(&req, "saved").as_deref() {
        Some("language") => Some(t.t("me.language_saved")),
        Some("digest") => Some(t.t("me.digest_saved")),
        Some("session") => Some(t.t("me.session_ended")),
        _ => None,
    };
    c.set_title(t.t("me.title"));
    let page = MePage {
        name: account.name.clone(),
        email: account.email.clone().unwrap_or_default(),
        role: page::role_label(&t, account.role),
        notice,
        languages: Language::ALL
            .iter()
            .map(|l| LangChoice {
                code: l.as_str(),
                name: format::lang_name(&t, *l),
                selected: *l == account.language,
            })
            .collect(),
        weekly_digest: prefs.weekly_digest,
        sessions: sessions
            .iter()
            .map(|s| SessionRow {
                id: s.id,
                method: match s.method {
                    crate::domain::session::SignInMethod::Password => t.t("me.by_password"),
                    crate::domain::session::SignInMethod::Link => t.t("me.by_link"),
                },
                started: format::datetime(&t, s.created_at, zone),
                last_seen: format::datetime(&t, s.last_seen_at, zone),
                expires: format::datetime(&t, s.expires_at, zone),
                current: s.current,
            })
            .collect(),
        c,
    };
    render(StatusCode::OK, &page.c, &page)
}

/// An error of one of the account page's forms: the refusal for a role, else
/// the error page.
async fn failed(state: &State, req: &HttpRequest, who: &Principal, e: Error) -> HttpResponse {
    if let Error::Forbidden(_) = e {
        return page::refused(state, req, page::Refused::Forbidden).await;
    }
    let mut c = chrome(state, req, Some(who), None).await;
    page::error_page(&mut c, &e)
}

/// Saves the person's language; the pages follow it from the next one on.
async fn set_language(state: State, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let (form, who) = match page::team_post(&state, &req, &body, Role::Viewer).await {
        Ok(posted) => posted,
        Err(refusal) => return refusal,
    };
    let Some(language) = form
        .get("language")
        .and_then(|l| l.parse::<Language>().ok())
    else {
        let mut c = chrome(&state, &req, Some(&who), None).await;
        let t = c.tr();
        return page::message(
            StatusCode::UNPROCESSABLE_ENTITY,
            &mut c,
            t.t("error.invalid"),
            t.t("me.bad_language"),
            Some(("/app/me".into(), t.t("me.title").into())),
        );
    };
    let (actor, now) = (who.actor(), state.clock.now());
    match state
        .db
        .transaction(move |conn| {
            crate::app::accounts::set_own_language(&actor, now, conn, language)
        })
        .await
    {
        // The page switch's cookie would win over the account: it goes.
        Ok(_) => {
            let mut res = see_other("/app/me?saved=language");
            res.headers_mut().append(
                header::SET_COOKIE,
                header::HeaderValue::from_static("pregon_lang=; Path=/; Max-Age=0; SameSite=Lax"),
            );
            res
        }
        Err(e) => failed(&state, &req, &who, e).await,
    }
}

/// The weekly digest on (the box ticked) or off.
async fn set_digest(state: State, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let (form, who) = match page::team_post(&state, &req, &body, Role::Viewer).await {
        Ok(posted) => posted,
        Err(refusal) => return refusal,
    };
    let wanted = AccountPreferences {
        weekly_digest: form.get("weekly_digest").is_some(),
    };
    let (actor, id, now) = (who.actor(), who.account_id(), state.clock.now());
    match state
        .db
        .transaction(move |conn| {
            crate::app::accounts::set_preferences(&actor, now, conn, id, &wanted)
        })
        .await
    {
        Ok(_) => see_other("/app/me?saved=digest"),
        Err(e) => failed(&state, &req, &who, e).await,
    }
}

/// Ends one of the person's sessions (another browser); ending the current
/// one signs out here too.
async fn end_session(
    state: State,
    req: HttpRequest,
    id: web::Path<i64>,
    body: web::Bytes,
) -> HttpResponse {
    let (_, who) = match page::team_post(&state, &req, &body, Role::Viewer).await {
        Ok(posted) => posted,
        Err(refusal) => return refusal,
    };
    let id = id.into_inner();
    let (actor, now) = (who.actor(), state.clock.now());
    match state
        .db
        .transaction(move |conn| crate::app::sessions::revoke(&actor, now, conn, id))
        .await
    {
        Ok(_) if who.session_id() == Some(id) => signed_out(&state),
        Ok(_) => see_other("/app/me?saved=session"),
        Err(e) => failed(&state, &req, &who, e).await,
    }
}

/// "Sign out everywhere": every session of the account ends, this one too.
async fn sign_out_everywhere(state: State, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let (_, who) = match page::team_post(&state, &req, &body, Role::Viewer).await {
        Ok(posted) => posted,
        Err(refusal) => return refusal,
    };
    let (actor, now) = (who.actor(), state.clock.now());
    match state
        .db
        .transaction(move |conn| crate::app::sessions::sign_out_everywhere(&actor, now, conn))
        .await
    {
        Ok(_) => signed_out(&state),
        Err(e) => failed(&state, &req, &who, e).await,
    }
}

/// To the sign-in page, the session cookie cleared.
fn signed_out(state: &State) -> HttpResponse {
    let secure = state.settings.server.public_url.starts_with("https://");
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/app/sign-in"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::SET_COOKIE,
            auth::clear_session_cookie_header(secure),
        ))
        .finish()
}

// ---------------------------------------------------------------- tokens

pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub account: String,
    pub role: &'static str,
    pub created: String,
    pub last_used: Option<String>,
    pub revoked: Option<String>,
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// A token just made: its secret, shown on this page only.
pub struct Fresh {
    pub name: String,
    pub secret: String,
}

#[derive(askama::Template)]
#[template(path = "team/tokens.html")]
pub struct TokensPage {
    pub c: Chrome,
    pub tokens: Vec<TokenRow>,
    pub fresh: Option<Fresh>,
    pub notice: Option<&'static str>,
    pub roles: Vec<Choice>,
    /// For an administrator: whose the new token is.
    pub accounts: Vec<Choice>,
    pub values: HashMap<String, String>,
    pub errors: HashMap<String, String>,
    pub general_error: Option<String>,
}

impl TokensPage {
    pub fn v(&self, name: &str) -> &str {
        self.values.get(name).map(|s| s.as_str()).unwrap_or("")
    }

    pub fn err(&self, name: &str) -> Option<&str> {
        self.errors.get(name).map(|s| s.as_str())
    }
}

/// What the tokens page shows besides the list.
#[derive(Default)]
struct TokensOutcome {
    fresh: Option<Fresh>,
    /// The catalogue key of a notice.
    notice: Option<&'static str>,
    values: HashMap<String, String>,
    errors: HashMap<String, String>,
    general_error: Option<String>,
}

async fn tokens_page(
    state: &State,
    req: &HttpRequest,
    who: &Principal,
    status: StatusCode,
    out: TokensOutcome,
) -> HttpResponse {
    let mut c = chrome(state, req, Some(who), None).await;
    let t = c.tr();
    let zone = format::viewer_zone(req);
    let actor = who.actor();
    let found = state
        .db
        .run(move |conn| {
            Ok((
                crate::app::tokens::visible(&actor, conn)?,
                crate::db::accounts::list(conn)?,
            ))
        })
        .await;
    let (tokens, accounts) = match found {
        Ok(f) => f,
        Err(e) => return page::error_page(&mut c, &e),
    };
    let names: HashMap<i64, String> = accounts.iter().map(|a| (a.id, a.name.clone())).collect();
    let admin = who.role.includes(Role::Admin);
    let role_wanted = out.values.get("role").cloned();
    let account_wanted = out.values.get("account").cloned();
    c.set_title(t.t("tokens.title"));
    let page = TokensPage {
        tokens: tokens
            .iter()
            .rev()
            .map(|k| TokenRow {
                id: k.id,
                name: k.name.clone(),
                account: names
                    .get(&k.account_id)
                    .cloned()
                    .unwrap_or_else(|| format!("#{}", k.account_id)),
                role: page::role_label(&t, k.role),
                created: format::datetime(&t, k.created_at, zone),
                last_used: k.last_used_at.map(|at| format::datetime(&t, at, zone)),
                revoked: k.revoked_at.map(|at| format::datetime(&t, at, zone)),
            })
            .collect(),
        roles: [Role::Viewer, Role::Editor, Role::Approver, Role::Admin]
            .into_iter()
            .filter(|r| who.role.includes(*r))
            .map(|r| Choice {
                value: r.as_str().to_owned(),
                label: page::role_label(&t, r).to_owned(),
                selected: role_wanted.as_deref() == Some(r.as_str()),
            })
            .collect(),
        accounts: if admin {
            accounts
                .iter()
                .filter(|a| a.kind == AccountKind::Person && a.status == AccountStatus::Active)
                .map(|a| Choice {
                    value: a.id.to_string(),
                    label: format!("{} ({})", a.name, a.email.clone().unwrap_or_default()),
                    selected: match &account_wanted {
                        Some(v) => *v == a.id.to_string(),
                        None => a.id == who.account_id(),
                    },
                })
                .collect()
        } else {
            Vec::new()
        },
        fresh: out.fresh,
        notice: out.notice.map(|key| t.t(key)),
        values: out.values,
        errors: out.errors,
        general_error: out.general_error,
        c,
    };
    render(status, &page.c, &page)
}

/// The tokens page: the person's own tokens (an administrator's: all).
async fn tokens(state: State, req: HttpRequest) -> HttpResponse {
    let Some(who) = signed_in(&req) else {
        return to_sign_in(&req);
    };
    let notice = match super::query(&req, "saved").as_deref() {
        Some("revoked") => Some("tokens.revoked_notice"),
        _ => None,
    };
    let out = TokensOutcome {
        notice,
        ..Default::default()
    };
    tokens_page(&state, &req, &who, StatusCode::OK, out).await
}

/// Creates a token; the answer is the page with its secret, the only time it
/// is shown (never stored, never logged, the page not cached).
async fn create_token(state: State, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let (form, who) = match page::team_post(&state, &req, &body, Role::Viewer).await {
        Ok(posted) => posted,
        Err(refusal) => return refusal,
    };
    let t = chrome(&state, &req, Some(&who), None).await.tr();
    let values: HashMap<String, String> = form
        .0
        .iter()
        .filter(|(k, _)| k != "csrf")
        .cloned()
        .collect();
    let mut out = TokensOutcome {
        values,
        ..Default::default()
    };
    let name = crate::domain::text::Name::parse(form.get("name").unwrap_or_default());
    let role = form.get("role").and_then(|r| r.parse::<Role>().ok());
    if let Err(e) = &name {
        out.errors.insert("name".into(), e.clone());
    }
    if role.is_none() {
        out.errors
            .insert("role".into(), t.t("tokens.bad_role").into());
    }
    let account = if who.role.includes(Role::Admin) {
        match form.text("account").map(|a| a.parse::<i64>()) {
            Some(Ok(id)) => Some(id),
            Some(Err(_)) => {
                out.errors
                    .insert("account".into(), t.t("tokens.bad_account").into());
                None
            }
            None => Some(who.account_id()),
        }
    } else {
        None
    };
    let (Ok(name), Some(role), true) = (name, role, out.errors.is_empty()) else {
        out.general_error = Some(t.t("activity.fix_errors").into());
        return tokens_page(&state, &req, &who, StatusCode::UNPROCESSABLE_ENTITY, out).await;
    };
    let (actor, now) = (who.actor(), state.clock.now());
    let result = state
        .db
        .transaction(move |conn| match account {
            // An administrator may make a token for anyone, through the
            // same operation as `POST /api/v1/tokens`.
            Some(account_id) => crate::app::tokens::create(
                &actor,
                now,
                conn,
                &crate::domain::token::TokenInput {
                    name,
                    role,
                    account_id: Some(account_id),
                },
            ),
            None => crate::app::tokens::create_own(&actor, now, conn, name, role),
        })
        .await;
    match result {
        Ok(created) => {
            let out = TokensOutcome {
                fresh: Some(Fresh {
                    name: created.token.name,
                    secret: created.secret,
                }),
                notice: Some("tokens.created"),
                ..Default::default()
            };
            tokens_page(&state, &req, &who, StatusCode::OK, out).await
        }
        Err(Error::Invalid { field, message }) => {
            let field = if field == "account_id" {
                "account".into()
            } else {
                field
            };
            out.errors.insert(field, message);
            out.general_error = Some(t.t("activity.fix_errors").into());
            tokens_page(&state, &req, &who, StatusCode::UNPROCESSABLE_ENTITY, out).await
        }
        Err(Error::Conflict(message)) => {
            out.errors.insert("name".into(), message);
            out.general_error = Some(t.t("activity.fix_errors").into());
            tokens_page(&state, &req, &who, StatusCode::CONFLICT, out).await
        }
        Err(e) => failed(&state, &req, &who, e).await,
    }
}

/// Revokes a token: one's own, or (an administrator) any.
async fn revoke_token(
    state: State,
    req: HttpRequest,
    id: web::Path<i64>,
    body: web::Bytes,
) -> HttpResponse {
    let (_, who) = match page::team_post(&state, &req, &body, Role::Viewer).await {
        Ok(posted) => posted,
        Err(refusal) => return refusal,
    };
    let id = id.into_inner();
    let (actor, now) = (who.actor(), state.clock.now());
    match state
        .db
        .transaction(move |conn| crate::app::tokens::revoke_own(&actor, now, conn, id))
        .await
    {
        Ok(_) => see_other("/app/tokens?saved=revoked"),
        Err(Error::Conflict(message)) => {
            let out = TokensOutcome {
                general_error: Some(message),
                ..Default::default()
            };
            tokens_page(&state, &req, &who, StatusCode::CONFLICT, out).await
        }
        Err(e) => failed(&state, &req, &who, e).await,
    }
}
