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
    if !input.consent {
        return Err(Error::invalid("consent", "must be true to subscribe").into());
    }
    if input.lists.is_empty() {
        return Err(Error::invalid("lists", "name at least one list").into());
    }
    let now = state.clock.now();
    let hours = state.settings.email.confirm_link_hours;
    let domain = message_domain(&state.settings.email);
    // Which lists is public knowledge, the same for every address; the
    // address itself is looked at only after answering.
    let slugs = input.lists.clone();
    let (list_ids, default_language) = state
        .db
        .run(move |c| {
            let mut list_ids = Vec::new();
            let mut default_language = None;
            for (i, slug) in slugs.iter().enumerate() {
                match db::find_list_by_slug(c, slug.as_str())? {
                    Some(list) if list.public_subscribe => {
                        default_language.get_or_insert(list.default_language);
                        list_ids.push(list.id);
                    }
                    _ => {
                        return Err(Error::invalid(
                            format!("lists[{i}]"),
                            format!("there is no public list {slug}"),
                        ));
                    }
                }
            }
            Ok((list_ids, default_language))
        })
        .await?;
    let request = crate::app::subscribers::PublicRequest {
        email: input.email,
        name: input.name.map(|n| n.as_str().to_owned()),
        language: input.language.or(default_language).unwrap_or(Language::En),
        list_ids,
    };
    state.public_intake.submit(now, request, hours, domain);
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
    let subscription = match signer.verify_confirm(&token, state.clock.now()) {
        Ok(id) => id,
        Err(e) => return link_error(&req, Language::En, e),
    };
    let lang = subscription_language(&state, subscription).await?;
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
    let lang = subscription_language(&state, subscription).await?;
    let confirmed = state
        .db
        .transaction(move |c| {
            let cx = by_the_subscriber(now);
            crate::app::subscribers::confirm(c, &cx, subscription)
        })
        .await?;
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

/// The language of the subscriber a confirmation link is for.
async fn subscription_language(state: &State, subscription: i64) -> ApiResult<Language> {
    Ok(state
        .db
        .run(move |c| crate::app::subscribers::language_of_subscription(c, subscription))
        .await?
        .unwrap_or(Language::En))
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
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    // The preferences page's "all lists" button says so; a mail client's
    // one-click POST (`List-Unsubscribe=One-Click`) leaves the issue's lists.
    let all = url::form_urlencoded::parse(&body).any(|(k, v)| k == "scope" && v == "all");
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
         <form method=\"post\"><input type=\"hidden\" name=\"scope\" value=\"all\">\
         <p><button type=\"submit\">{}</button></p></form>\n",
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
