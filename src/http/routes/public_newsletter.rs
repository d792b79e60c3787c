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
use crate::email::render::escape_html;
use crate::error::Error;
use crate::http::json::Json;
use crate::http::problem::{ApiResult, Problem};
use crate::http::rate_limit::PublicRateLimit;
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
    let input = input.0;
    let hours = state.settings.email.confirm_link_hours;
    let domain = message_domain(&state.settings.email);
    let cx = by_the_subscriber(state.clock.now());
    state
        .db
        .transaction(move |c| {
            crate::app::subscribers::subscribe_public(c, &cx, &input, hours, &domain)
        })
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

struct Strings {
    confirm_title: &'static str,
    confirm_button: &'static str,
    confirmed: &'static str,
    invalid: &'static str,
    expired: &'static str,
    preferences: &'static str,
    language: &'static str,
    save: &'static str,
    saved: &'static str,
    unsubscribe_all: &'static str,
    unsubscribed: &'static str,
}

fn strings(lang: Language) -> &'static Strings {
    match lang {
        Language::Es => &Strings {
            confirm_title: "Confirma tu suscripción",
            confirm_button: "Confirmar",
            confirmed: "Suscripción confirmada. ¡Gracias!",
            invalid: "Este enlace no es válido.",
            expired: "Este enlace ha caducado: vuelve a suscribirte para recibir otro.",
            preferences: "Tus suscripciones",
            language: "Idioma",
            save: "Guardar",
            saved: "Preferencias guardadas.",
            unsubscribe_all: "Darme de baja de todo",
            unsubscribed: "Te has dado de baja. No recibirás más mensajes de estas listas.",
        },
        Language::Fr => &Strings {
            confirm_title: "Confirmez votre abonnement",
            confirm_button: "Confirmer",
            confirmed: "Abonnement confirmé. Merci !",
            invalid: "Ce lien n'est pas valide.",
            expired: "Ce lien a expiré : abonnez-vous à nouveau pour en recevoir un autre.",
            preferences: "Vos abonnements",
            language: "Langue",
            save: "Enregistrer",
            saved: "Préférences enregistrées.",
            unsubscribe_all: "Me désabonner de tout",
            unsubscribed: "Vous êtes désabonné·e. Vous ne recevrez plus de messages de ces listes.",
        },
        Language::En => &Strings {
            confirm_title: "Confirm your subscription",
            confirm_button: "Confirm",
            confirmed: "Subscription confirmed. Thank you!",
            invalid: "This link is not valid.",
            expired: "This link has expired: subscribe again to receive a new one.",
            preferences: "Your subscriptions",
            language: "Language",
            save: "Save",
            saved: "Preferences saved.",
            unsubscribe_all: "Unsubscribe from everything",
            unsubscribed: "You are unsubscribed. You will receive no more messages from these lists.",
        },
    }
}

fn page(
    status: actix_web::http::StatusCode,
    lang: Language,
    title: &str,
    body: &str,
) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .insert_header(("X-Robots-Tag", "noindex"))
        .body(format!(
            "<!DOCTYPE html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title}</title></head>\n<body style=\"font-family:Arial,Helvetica,sans-serif;max-width:600px;margin:2em auto\">\
             <h1>{title}</h1>\n{body}</body></html>\n",
            title = escape_html(title)
        ))
}

/// A bad or expired link: a page for browsers, a problem document for
/// programs (mail clients posting one-click unsubscribes, API tools).
fn link_error(req: &HttpRequest, lang: Language, error: LinkError) -> ApiResult<HttpResponse> {
    let wants_html = req
        .headers()
        .get(actix_web::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    if wants_html {
        return Ok(link_error_page(lang, error));
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

fn link_error_page(lang: Language, error: LinkError) -> HttpResponse {
    let s = strings(lang);
    let text = match error {
        LinkError::Invalid => s.invalid,
        LinkError::Expired => s.expired,
    };
    page(actix_web::http::StatusCode::NOT_FOUND, lang, text, "")
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
    let lang = Language::En;
    if let Err(e) = signer.verify_confirm(&token, state.clock.now()) {
        return link_error(&req, lang, e);
    }
    let s = strings(lang);
    Ok(page(
        actix_web::http::StatusCode::OK,
        lang,
        s.confirm_title,
        &format!(
            "<form method=\"post\"><button type=\"submit\">{}</button></form>\n",
            s.confirm_button
        ),
    ))
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
        Err(e) => return link_error(&req, Language::En, e),
    };
    let cx = by_the_subscriber(now);
    let confirmed = state
        .db
        .transaction(move |c| crate::app::subscribers::confirm(c, &cx, subscription))
        .await?;
    let lang = Language::En;
    Ok(match confirmed {
        Some(list) => page(
            actix_web::http::StatusCode::OK,
            lang,
            strings(lang).confirmed,
            &format!("<p>{}</p>\n", escape_html(&list)),
        ),
        None => return link_error(&req, lang, LinkError::Invalid),
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
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "List-Unsubscribe=One-Click"),
    responses((status = 200, content_type = "text/html", body = String), (status = 404, content_type = "text/html", body = String)))]
#[post("/newsletter/unsubscribe/{token}")]
async fn one_click_unsubscribe(
    _: PublicRateLimit,
    req: HttpRequest,
    state: State,
    token: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let (subscriber, lists) = match resolve(&state, &token).await? {
        Ok(found) => found,
        Err(e) => return link_error(&req, Language::En, e),
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
            let scope = (!lists.is_empty()).then_some(lists.as_slice());
            crate::app::subscribers::unsubscribe(c, &by_the_subscriber(now), subscriber, scope)?;
            Ok(lang)
        })
        .await?;
    Ok(page(
        actix_web::http::StatusCode::OK,
        lang,
        strings(lang).unsubscribed,
        "",
    ))
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
        Err(e) => return link_error(&req, Language::En, e),
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
        return link_error(&req, Language::En, LinkError::Invalid);
    };
    let lang = subscriber.language;
    let s = strings(lang);
    let mut boxes = String::new();
    for sub in &subscriber.subscriptions {
        let checked = if sub.status == SubscriptionStatus::Unsubscribed {
            ""
        } else {
            " checked"
        };
        boxes.push_str(&format!(
            "<p><label><input type=\"checkbox\" name=\"list\" value=\"{}\"{checked}> {}</label></p>\n",
            sub.list_id,
            escape_html(&sub.list_slug)
        ));
    }
    let options: String = Language::ALL
        .iter()
        .map(|l| {
            let selected = if *l == lang { " selected" } else { "" };
            format!("<option value=\"{l}\"{selected}>{l}</option>")
        })
        .collect();
    let token = escape_html(&token);
    let body = format!(
        "<form method=\"post\" action=\"../preferences/{token}\">\n{boxes}\
         <p><label>{} <select name=\"language\">{options}</select></label></p>\n\
         <p><button type=\"submit\">{}</button></p></form>\n\
         <form method=\"post\"><p><button type=\"submit\">{}</button></p></form>\n",
        s.language, s.save, s.unsubscribe_all
    );
    Ok(page(
        actix_web::http::StatusCode::OK,
        lang,
        s.preferences,
        &body,
    ))
}

/// Saves the preferences form: lists left unchecked are unsubscribed (none is
/// ever re-subscribed here: that needs a new opt-in), and the language.
#[utoipa::path(tag = "public", params(("token" = String, Path)),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "list=<id> (repeated, the lists to stay on) and language=es|en|fr"),
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
        Err(e) => return link_error(&req, Language::En, e),
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
    let cx = by_the_subscriber(state.clock.now());
    let lang = state
        .db
        .transaction(move |c| {
            crate::app::subscribers::set_preferences(c, &cx, subscriber, &keep, language)
        })
        .await?;
    Ok(match lang {
        Some(lang) => page(
            actix_web::http::StatusCode::OK,
            lang,
            strings(lang).saved,
            "",
        ),
        None => return link_error(&req, Language::En, LinkError::Invalid),
    })
}

/// What a subscriber does through their own signed link: recorded in the
/// history as Pregón's, on their word.
fn by_the_subscriber(now: chrono::DateTime<chrono::Utc>) -> crate::app::Context {
    crate::app::Context::new(crate::app::Actor::System, now)
        .with_reason(Some("by the subscriber, through their own link".into()))
}
