//! The page a manual post's email links to (`/p/done/{token}`): GET shows
//! the post and asks where it was posted, POST (CSRF-checked) marks it
//! published through `app::posts::mark_done_by_link`. An unknown link is a
//! 404 page, a used or expired one a 410 page; nothing is written then.
//! Rate-limited like the newsletter's links. In the language the email was
//! written in.

use super::page::{self, Chrome, Form, State, chrome, render};
use crate::app::posts::DoneLink;
use crate::domain::Language;
use crate::http::rate_limit::PublicRateLimit;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/p/done/{token}", web::get().to(show))
        .route("/p/done/{token}", web::post().to(mark));
}

#[derive(askama::Template)]
#[template(path = "public/manual_done.html")]
pub struct DonePage {
    pub c: Chrome,
    /// Where the form posts: the emailed link itself, or the team page's
    /// `/app/activities/{id}/variants/{channel}/{lang}/done`.
    pub action: String,
    pub intro: String,
    pub text: String,
    pub url: String,
    pub error: Option<String>,
}

async fn page_chrome(state: &State, req: &HttpRequest, lang: Option<Language>) -> Chrome {
    let mut c = chrome(state, req, None, lang).await;
    c.team = false;
    c.scripts = false;
    c
}

/// The page for what the link found (`Open`: the form, with `error` beside
/// the address when it was refused).
async fn answer(
    state: &State,
    req: &HttpRequest,
    token: &str,
    found: DoneLink,
    url: &str,
    error: bool,
) -> HttpResponse {
    let (lang, status, text) = match &found {
        DoneLink::Unknown => (None, StatusCode::NOT_FOUND, "manual.unknown"),
        DoneLink::Expired { lang } => (Some(*lang), StatusCode::GONE, "manual.expired"),
        DoneLink::Used { lang } => (Some(*lang), StatusCode::GONE, "manual.used"),
        DoneLink::Open { lang, .. } => (Some(*lang), StatusCode::OK, ""),
    };
    let mut c = page_chrome(state, req, lang).await;
    let t = c.tr();
    let DoneLink::Open {
        title,
        channel,
        variant_lang,
        text: post,
        ..
    } = found
    else {
        return page::message(status, &mut c, t.t("manual.page_title"), t.t(text), None);
    };
    c.set_title(t.t("manual.page_title"));
    let intro = t
        .t("manual.page_intro")
        .replace("{title}", &title)
        .replace("{channel}", &channel)
        .replace(
            "{language}",
            t.t(&format!("lang.{}", variant_lang.as_str())),
        );
    let page = DonePage {
        action: format!("/p/done/{token}"),
        intro,
        text: post,
        url: url.to_owned(),
        error: error.then(|| t.t("manual.error_url").to_owned()),
        c,
    };
    let status = if error {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render(status, &page.c, &page)
}

async fn show(
    _: PublicRateLimit,
    state: State,
    req: HttpRequest,
    token: web::Path<String>,
) -> HttpResponse {
    let token = token.into_inner();
    let now = state.clock.now();
    let lookup = token.clone();
    let found = state
        .db
        .run(move |c| crate::app::posts::done_link(c, &lookup, now))
        .await;
    match found {
        Ok(found) => answer(&state, &req, &token, found, "", false).await,
        Err(e) => {
            let mut c = page_chrome(&state, &req, None).await;
            page::error_page(&mut c, &e)
        }
    }
}

async fn mark(
    _: PublicRateLimit,
    state: State,
    req: HttpRequest,
    token: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let form = Form::parse(&body);
    if !super::csrf::verify(&state, &req, form.get(super::csrf::FIELD)) {
        return page::refused(&state, &req, page::Refused::Csrf).await;
    }
    let token = token.into_inner();
    let url = form.get("url").unwrap_or("").trim().to_owned();
    let now = state.clock.now();
    let (lookup, given) = (token.clone(), url.clone());
    let outcome = state
        .db
        .transaction(move |c| crate::app::posts::mark_done_by_link(c, now, &lookup, Some(&given)))
        .await;
    match outcome {
        Ok(DoneLink::Open { lang, .. }) => {
            let mut c = page_chrome(&state, &req, Some(lang)).await;
            let t = c.tr();
            page::message(
                StatusCode::OK,
                &mut c,
                t.t("manual.done_title"),
                t.t("manual.done"),
                None,
            )
        }
        Ok(other) => answer(&state, &req, &token, other, "", false).await,
        Err(crate::Error::Invalid { .. }) => {
            let lookup = token.clone();
            let found = state
                .db
                .run(move |c| crate::app::posts::done_link(c, &lookup, now))
                .await
                .unwrap_or(DoneLink::Unknown);
            answer(&state, &req, &token, found, &url, true).await
        }
        Err(e) => {
            let mut c = page_chrome(&state, &req, None).await;
            page::error_page(&mut c, &e)
        }
    }
}
