//! Signing in on the web: a password, or a link sent by email. Both call
//! the same operations as the API (`app::sessions`) and set the same cookie.

use super::super::page::{self, Form, State, chrome, message, render, see_other};
use crate::app::sessions::{self, PasswordOutcome};
use crate::http::auth;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};

#[derive(askama::Template)]
#[template(path = "team/sign_in.html")]
pub struct SignInPage {
    pub c: page::Chrome,
    pub next: String,
    pub email: String,
    pub error: Option<&'static str>,
}

/// Only paths of this service are followed after signing in.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with("/app") && !n.starts_with("//") && !n.contains('\\') => {
            n.to_owned()
        }
        _ => "/app".to_owned(),
    }
}

pub async fn page(state: State, req: HttpRequest) -> HttpResponse {
    if page::signed_in(&req).is_some() {
        return see_other("/app");
    }
    let mut c = chrome(&state, &req, None, None).await;
    c.set_title(c.tr().t("sign_in.title"));
    let next = safe_next(super::query(&req, "next").as_deref());
    let page = SignInPage {
        c,
        next,
        email: String::new(),
        error: None,
    };
    render(StatusCode::OK, &page.c, &page)
}

fn client_ip(req: &HttpRequest) -> String {
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

pub async fn with_password(state: State, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let form = Form::parse(&body);
    if !super::super::csrf::verify(&state, &req, form.get(super::super::csrf::FIELD)) {
        return page::refused(&state, &req, page::Refused::Csrf).await;
    }
    let email = form.text("email").unwrap_or_default();
    let password = form.get("password").unwrap_or_default().to_owned();
    let next = safe_next(form.get("next"));
    let now = state.clock.now();
    let ip = client_ip(&req);
    let settings = state.settings.clone();
    let tried = email.clone();
    let outcome = state
        .db
        .run(move |c| {
            sessions::sign_in_with_password(now, c, &tried, &password, &ip, &settings.accounts)
        })
        .await;
    let mut c = chrome(&state, &req, None, None).await;
    c.set_title(c.tr().t("sign_in.title"));
    let error = match outcome {
        Ok(PasswordOutcome::SignedIn(created)) => {
            let max_age = (created.session.expires_at - created.session.created_at).num_seconds();
            let secure = state.settings.server.public_url.starts_with("https://");
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, next))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .insert_header((
                    header::SET_COOKIE,
                    auth::session_cookie_header(&created.secret, max_age, secure),
                ))
                .finish();
        }
        Ok(PasswordOutcome::Failed) => c.tr().t("sign_in.wrong"),
        Ok(PasswordOutcome::RateLimited { .. }) => c.tr().t("sign_in.too_many"),
        Err(e) => return page::error_page(&mut c, &e),
    };
    let status = if error == c.tr().t("sign_in.too_many") {
        StatusCode::TOO_MANY_REQUESTS
    } else {
        StatusCode::UNAUTHORIZED
    };
    let page = SignInPage {
        c,
        next,
        email,
        error: Some(error),
    };
    render(status, &page.c, &page)
}

pub async fn ask_for_link(
    _: crate::http::rate_limit::PublicRateLimit,
    state: State,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let form = Form::parse(&body);
    if !super::super::csrf::verify(&state, &req, form.get(super::super::csrf::FIELD)) {
        return page::refused(&state, &req, page::Refused::Csrf).await;
    }
    let email = form.text("email").unwrap_or_default();
    let now = state.clock.now();
    let settings = state.settings.clone();
    let found = state
        .db
        .run(move |c| {
            crate::db::write_transaction(c, |c| {
                sessions::request_link(now, c, &email, &settings.accounts)
            })
        })
        .await;
    let mut c = chrome(&state, &req, None, None).await;
    let t = c.tr();
    match found {
        Ok(Some((account, secret))) => {
            crate::http::routes::send_link_later(&state, account, secret, now)
        }
        Ok(None) => {}
        Err(e) => return page::error_page(&mut c, &e),
    }
    message(
        StatusCode::OK,
        &mut c,
        t.t("sign_in.link_sent_title"),
        t.t("sign_in.link_sent"),
        None,
    )
}

pub async fn sign_out(state: State, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    // Signed out already: the refusal is the sign-in page, as after signing out.
    let (_, who) = match page::team_post(&state, &req, &body, crate::domain::Role::Viewer).await {
        Ok(posted) => posted,
        Err(refusal) => return refusal,
    };
    if let Some(id) = who.session_id() {
        let actor = who.actor();
        let now = state.clock.now();
        if let Err(e) = state
            .db
            .run(move |c| crate::db::write_transaction(c, |c| sessions::revoke(&actor, now, c, id)))
            .await
        {
            tracing::warn!(error = %e, "sign-out failed");
        }
    }
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
