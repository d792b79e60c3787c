//! What subscribers reach without a login: the subscription form endpoint,
//! the double opt-in confirmation, the RFC 8058 one-click unsubscribe and the
//! preferences page. All are rate-limited per client; none tells whether an
//! address is known.

use super::State;
use crate::db::{issues, subscribers as db};
use crate::dispatch::message_domain;
use crate::domain::Language;
use crate::domain::newsletter::{PublicSubscribe, SubscriptionStatus};
use crate::email::links::{LinkError, LinkSigner};
use crate::error::Error;
use crate::http::json::Json;
use crate::http::problem::{ApiResult, Problem};
use crate::http::rate_limit::PublicRateLimit;
use crate::web::public::{LinkPage, link_page};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(subscribe)
        .service(confirm_page)
        .service(confirm)
        .service(preferences_page)
        .service(one_click_unsubscribe)
        .service(update_preferences);
}

#[derive(Serialize, ToSchema)]
struct Accepted {
    /// Always the same, whether the address was new, pending, subscribed or
    /// suppressed: the answer reveals nothing about it.
    status: &'static str,
}

/// Public subscription (double opt-in): a confirmation email is sent if the
/// address needs one. The answer is the same whatever the address's state.
#[utoipa::path(tag = "public", request_body = PublicSubscribe,
    responses((status = 202, body = Accepted), (status = 422, body = Problem), (status = 429, body = Problem)))]
#[post("/newsletter/subscribe")]
async fn subscribe(
    _: PublicRateLimit,
    state: State,
    input: Json<PublicSubscribe>,
) -> ApiResult<HttpResponse> {
    let hours = state.settings.email.confirm_link_hours;
    let domain = message_domain(&state.settings.email);
    let intake = &state.public_intake;
    crate::app::subscribers::subscribe_on_form(
        &state.db,
        intake,
        state.clock.now(),
        input.0,
        hours,
        domain,
    )
    .await?;
    Ok(HttpResponse::Accepted().json(Accepted {
        status: "if this address can receive the newsletter, a confirmation email is on its way",
    }))
}

async fn signer(state: &State) -> ApiResult<LinkSigner> {
    let now = state.clock.now();
    Ok(state
        .db
        .transaction(move |c| db::link_signer(c, now))
        .await?)
}

/// A bad or expired link: a page for browsers, a problem document for
/// programs (mail clients posting one-click unsubscribes, API tools).
async fn link_error(
    req: &HttpRequest,
    state: &State,
    lang: Language,
    error: LinkError,
) -> ApiResult<HttpResponse> {
    let wants_html = req
        .headers()
        .get(actix_web::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    if wants_html {
        let what = match error {
            LinkError::Invalid => LinkPage::Invalid,
            LinkError::Expired => LinkPage::Expired,
        };
        return Ok(link_page(state, req, lang, what).await);
    }
    Err(Error::not_found(
        "link",
        match error {
            LinkError::Invalid => "(invalid)",
            LinkError::Expired => "(expired)",
        },
    )
    .into())
}

/// The language of the visitor when the link says nothing better.
fn visitor_language(req: &HttpRequest) -> Language {
    crate::web::i18n::choose(req, None).0
}

/// The language of the subscriber a confirmation link is for.
async fn confirm_language(state: &State, subscription: i64) -> Option<Language> {
    state
        .db
        .run(move |c| crate::app::subscribers::language_of_subscription(c, subscription))
        .await
        .ok()
        .flatten()
}

/// The page a confirmation link opens: one button, so that link scanners
/// that fetch every URL in a message do not confirm on someone's behalf.
#[utoipa::path(tag = "public", params(("token" = String, Path)),
    responses((status = 200, content_type = "text/html", body = String), (status = 404, content_type = "text/html", body = String)))]
#[get("/newsletter/confirm/{token}")]
async fn confirm_page(
    _: PublicRateLimit,
    req: HttpRequest,
    state: State,
    token: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let signer = signer(&state).await?;
    let subscription = match signer.verify_confirm(&token, state.clock.now()) {
        Ok(id) => id,
        Err(e) => return link_error(&req, &state, visitor_language(&req), e).await,
    };
    let lang = confirm_language(&state, subscription)
        .await
        .unwrap_or_else(|| visitor_language(&req));
    Ok(link_page(&state, &req, lang, LinkPage::Confirm).await)
}

/// Confirms the subscription a confirmation link names.
#[utoipa::path(tag = "public", params(("token" = String, Path)),
    responses((status = 200, content_type = "text/html", body = String), (status = 404, content_type = "text/html", body = String)))]
#[post("/newsletter/confirm/{token}")]
async fn confirm(
    _: PublicRateLimit,
    req: HttpRequest,
    state: State,
    token: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let signer = signer(&state).await?;
    let now = state.clock.now();
    let subscription = match signer.verify_confirm(&token, now) {
        Ok(id) => id,
        Err(e) => return link_error(&req, &state, visitor_language(&req), e).await,
    };
    let lang = confirm_language(&state, subscription)
        .await
        .unwrap_or_else(|| visitor_language(&req));
    let cx = by_the_subscriber(now);
    let confirmed = state
        .db
        .transaction(move |c| crate::app::subscribers::confirm(c, &cx, subscription))
        .await?;
    Ok(match confirmed {
        Some(list) => link_page(&state, &req, lang, LinkPage::Confirmed { list }).await,
        None => return link_error(&req, &state, lang, LinkError::Invalid).await,
    })
}

/// Whose link it is and which lists it is about.
async fn resolve(state: &State, token: &str) -> ApiResult<Result<(i64, Vec<i64>), LinkError>> {
    let signer = signer(state).await?;
    let (subscriber, issue) = match signer.verify_unsubscribe(token) {
        Ok(found) => found,
        Err(e) => return Ok(Err(e)),
    };
    let lists = state
        .db
        .run(move |c| match issues::get(c, issue) {
            Ok(issue) => Ok(issue.list_ids),
            Err(Error::NotFound { .. }) => Ok(Vec::new()),
            Err(e) => Err(e),
        })
        .await?;
    Ok(Ok((subscriber, lists)))
}

/// RFC 8058 one-click unsubscribe (what `List-Unsubscribe-Post` points mail
/// clients at): leaves the lists of the issue the link came in, at once, with
/// no further step. Also the button of the preferences page.
#[utoipa::path(tag = "public", params(("token" = String, Path)),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "List-Unsubscribe=One-Click",
        example = json!("List-Unsubscribe=One-Click")),
    responses((status = 200, content_type = "text/html", body = String), (status = 404, content_type = "text/html", body = String)))]
#[post("/newsletter/unsubscribe/{token}")]
async fn one_click_unsubscribe(
    _: PublicRateLimit,
    req: HttpRequest,
    state: State,
    token: web::Path<String>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    // The preferences page's "all lists" button says so; a mail client's
    // one-click POST (`List-Unsubscribe=One-Click`) leaves the issue's lists.
    let all = url::form_urlencoded::parse(&body).any(|(k, v)| k == "scope" && v == "all");
    let (subscriber, lists) = match resolve(&state, &token).await? {
        Ok(found) => found,
        Err(e) => return link_error(&req, &state, visitor_language(&req), e).await,
    };
    let now = state.clock.now();
    let lang = state
        .db
        .transaction(move |c| {
            let lang = match db::get_subscriber(c, subscriber) {
                Ok(s) => s.language,
                // Erased meanwhile: nothing left to unsubscribe.
                Err(Error::NotFound { .. }) => return Ok(Language::En),
                Err(e) => return Err(e),
            };
            let cx = by_the_subscriber(now);
            if all {
                let choice = crate::app::subscribers::Preferences::LeaveAll;
                crate::app::subscribers::save_preferences(c, &cx, subscriber, &choice)?;
            } else {
                let scope = (!lists.is_empty()).then_some(lists.as_slice());
                crate::app::subscribers::unsubscribe(c, &cx, subscriber, scope)?;
            }
            Ok(lang)
        })
        .await?;
    Ok(link_page(&state, &req, lang, LinkPage::Unsubscribed).await)
}

/// The preferences page a newsletter's unsubscribe link opens in a browser:
/// which lists, which language, and an unsubscribe button.
#[utoipa::path(tag = "public", params(("token" = String, Path)),
    responses((status = 200, content_type = "text/html", body = String), (status = 404, content_type = "text/html", body = String)))]
#[get("/newsletter/unsubscribe/{token}")]
async fn preferences_page(
    _: PublicRateLimit,
    req: HttpRequest,
    state: State,
    token: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let (subscriber, _) = match resolve(&state, &token).await? {
        Ok(found) => found,
        Err(e) => return link_error(&req, &state, visitor_language(&req), e).await,
    };
    let found = state
        .db
        .run(move |c| match db::get_subscriber(c, subscriber) {
            Ok(s) => Ok(Some(s)),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        })
        .await?;
    let Some(subscriber) = found else {
        return link_error(&req, &state, visitor_language(&req), LinkError::Invalid).await;
    };
    let lang = subscriber.language;
    let lists = subscriber
        .subscriptions
        .iter()
        .map(|sub| {
            (
                sub.list_id,
                sub.list_slug.clone(),
                sub.status != SubscriptionStatus::Unsubscribed,
            )
        })
        .collect();
    Ok(link_page(
        &state,
        &req,
        lang,
        LinkPage::Preferences {
            token: token.into_inner(),
            lists,
            language: lang,
        },
    )
    .await)
}

/// Saves the preferences form: lists left unchecked are unsubscribed (none is
/// ever re-subscribed here: that needs a new opt-in), and the language.
#[utoipa::path(tag = "public", params(("token" = String, Path)),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "list=<id> (repeated, the lists to stay on) and language=es|en|fr",
        example = json!("list=1&list=2&language=fr")),
    responses((status = 200, content_type = "text/html", body = String), (status = 404, content_type = "text/html", body = String)))]
#[post("/newsletter/preferences/{token}")]
async fn update_preferences(
    _: PublicRateLimit,
    req: HttpRequest,
    state: State,
    token: web::Path<String>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let (subscriber, _) = match resolve(&state, &token).await? {
        Ok(found) => found,
        Err(e) => return link_error(&req, &state, visitor_language(&req), e).await,
    };
    let mut keep = Vec::new();
    let mut language = None;
    for (key, value) in url::form_urlencoded::parse(&body) {
        match key.as_ref() {
            "list" => keep.extend(value.parse::<i64>().ok()),
            "language" => language = value.parse::<Language>().ok(),
            _ => {}
        }
    }
    let now = state.clock.now();
    let choice = crate::app::subscribers::Preferences::Keep {
        list_ids: keep,
        language,
    };
    let lang = state
        .db
        .transaction(move |c| {
            let cx = by_the_subscriber(now);
            crate::app::subscribers::save_preferences(c, &cx, subscriber, &choice)
        })
        .await?;
    Ok(match lang {
        Some(lang) => link_page(&state, &req, lang, LinkPage::Saved).await,
        None => {
            return link_error(&req, &state, visitor_language(&req), LinkError::Invalid).await;
        }
    })
}

/// What a subscriber does through their own signed link: recorded in the
/// history as Pregón's, on their word.
fn by_the_subscriber(now: chrono::DateTime<chrono::Utc>) -> crate::app::Context {
    crate::app::Context::new(crate::app::Actor::System, now)
        .with_reason(Some("by the subscriber, through their own link".into()))
}
