//! Outbound webhook subscriptions (administrators): the list (URL, event
//! types, enabled), a new one, and per subscription its form (edit, enable /
//! disable), a new signing secret, deletion, and its delivery log with a
//! replay button. The `whsec_` secret is shown once, on the answer to its
//! creation or rotation (a `no-store` page), never again. Through
//! `app::webhooks` only, as the API's `/api/v1/webhooks`.

use super::super::format;
use super::super::page::{
    self, Chrome, Form, Refused, State, chrome, render, see_other, signed_in,
};
use crate::app::webhooks::Rules;
use crate::domain::Role;
use crate::domain::job::JobState;
use crate::domain::webhook::{EventType, Webhook, WebhookInput};
use crate::error::Error;
use crate::http::auth::Principal;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use std::collections::HashMap;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/app/webhooks", web::get().to(list))
        .route("/app/webhooks", web::post().to(create))
        .route("/app/webhooks/{id}", web::get().to(show))
        .route("/app/webhooks/{id}", web::post().to(save))
        .route(
            "/app/webhooks/{id}/{action:rotate|delete|enable|disable}",
            web::post().to(act),
        )
        .route(
            "/app/webhooks/{id}/deliveries/{job}/replay",
            web::post().to(replay),
        );
}

pub const EVENT_TYPES: [EventType; 8] = [
    EventType::ActivityCreated,
    EventType::ActivityChanged,
    EventType::ActivityApproved,
    EventType::ActivityCancelled,
    EventType::EventConfirmed,
    EventType::NewsletterSent,
    EventType::PostPublished,
    EventType::PostFailed,
];

pub struct HookRow {
    pub id: i64,
    pub url: String,
    pub description: Option<String>,
    pub events: String,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
}

pub struct DeliveryRow {
    pub job_id: i64,
    pub event: String,
    pub state: &'static str,
    pub state_class: &'static str,
    pub attempts: i32,
    pub last: Option<String>,
    pub created: String,
}

/// The form's values (a new subscription, or the one shown).
pub struct HookForm {
    pub url: String,
    pub description: String,
    pub events: Vec<(&'static str, bool)>,
    pub enabled: bool,
    pub errors: HashMap<String, String>,
}

impl HookForm {
    pub fn err(&self, name: &str) -> Option<&str> {
        self.errors.get(name).map(|s| s.as_str())
    }

    fn empty() -> HookForm {
        HookForm {
            url: String::new(),
            description: String::new(),
            events: EVENT_TYPES.iter().map(|e| (e.as_str(), false)).collect(),
            enabled: true,
            errors: HashMap::new(),
        }
    }

    fn of(w: &Webhook) -> HookForm {
        HookForm {
            url: w.url.clone(),
            description: w.description.clone().unwrap_or_default(),
            events: EVENT_TYPES
                .iter()
                .map(|e| (e.as_str(), w.event_types.contains(e)))
                .collect(),
            enabled: w.enabled,
            errors: HashMap::new(),
        }
    }

    fn posted(form: &Form) -> HookForm {
        let ticked = form.all("event_types");
        HookForm {
            url: form.get("url").unwrap_or_default().to_owned(),
            description: form.get("description").unwrap_or_default().to_owned(),
            events: EVENT_TYPES
                .iter()
                .map(|e| (e.as_str(), ticked.contains(&e.as_str())))
                .collect(),
            enabled: form.get("enabled").is_some(),
            errors: HashMap::new(),
        }
    }

    fn input(&self) -> WebhookInput {
        WebhookInput {
            url: self.url.clone(),
            event_types: EVENT_TYPES
                .iter()
                .zip(&self.events)
                .filter(|(_, (_, on))| *on)
                .map(|(e, _)| *e)
                .collect(),
            description: Some(self.description.clone()),
            enabled: Some(self.enabled),
        }
    }
}

/// A secret shown once.
pub struct Fresh {
    pub url: String,
    pub secret: String,
}

#[derive(askama::Template)]
#[template(path = "team/webhooks.html")]
pub struct HooksPage {
    pub c: Chrome,
    pub notice: Option<&'static str>,
    pub fresh: Option<Fresh>,
    pub hooks: Vec<HookRow>,
    pub form: HookForm,
}

#[derive(askama::Template)]
#[template(path = "team/webhook.html")]
pub struct HookPage {
    pub c: Chrome,
    pub id: i64,
    pub notice: Option<&'static str>,
    pub fresh: Option<Fresh>,
    pub disabled_reason: Option<String>,
    pub secrets: Vec<String>,
    pub form: HookForm,
    pub deliveries: Vec<DeliveryRow>,
    pub general_error: Option<String>,
}

fn cx(state: &State, who: &Principal) -> crate::app::Context {
    crate::app::Context::new(who.actor(), state.clock.now())
}

pub fn job_state_class(s: JobState) -> &'static str {
    match s {
        JobState::Done => "status-confirmed",
        JobState::Failed | JobState::Unknown => "status-failed",
        JobState::Cancelled => "status-cancelled",
        JobState::Queued | JobState::Running => "status-tentative",
    }
}

pub fn job_state_label(t: &super::super::i18n::Tr, s: JobState) -> &'static str {
    match s {
        JobState::Queued => t.t("jobs_page.state_queued"),
        JobState::Running => t.t("jobs_page.state_running"),
        JobState::Done => t.t("jobs_page.state_done"),
        JobState::Failed => t.t("jobs_page.state_failed"),
        JobState::Unknown => t.t("jobs_page.state_unknown"),
        JobState::Cancelled => t.t("jobs_page.state_cancelled"),
    }
}

async fn admin_get(state: &State, req: &HttpRequest) -> Result<(Principal, Chrome), HttpResponse> {
    let Some(who) = signed_in(req) else {
        return Err(page::to_sign_in(req));
    };
    if !who.role.includes(Role::Admin) {
        return Err(page::refused(state, req, Refused::Forbidden).await);
    }
    let c = chrome(state, req, Some(&who), None).await;
    Ok((who, c))
}

async fn list_page(
    state: &State,
    who: &Principal,
    mut c: Chrome,
    status: StatusCode,
    notice: Option<&'static str>,
    fresh: Option<Fresh>,
    form: HookForm,
) -> HttpResponse {
    let t = c.tr();
    let cx = cx(state, who);
    let hooks = match state
        .db
        .run(move |conn| crate::app::webhooks::list(conn, &cx))
        .await
    {
        Ok(h) => h,
        Err(e) => return page::error_page(&mut c, &e),
    };
    c.set_title(t.t("hooks.title"));
    let page = HooksPage {
        notice,
        fresh,
        hooks: hooks
            .iter()
            .map(|w| HookRow {
                id: w.id,
                url: w.url.clone(),
                description: w.description.clone(),
                events: w
                    .event_types
                    .iter()
                    .map(|e| e.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                enabled: w.enabled,
                disabled_reason: w.disabled_reason.clone(),
            })
            .collect(),
        form,
        c,
    };
    render(status, &page.c, &page)
}

/// `GET /app/webhooks`.
pub async fn list(state: State, req: HttpRequest) -> HttpResponse {
    let (who, c) = match admin_get(&state, &req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let notice = match super::query(&req, "saved").as_deref() {
        Some("delete") => Some(c.tr().t("hooks.deleted")),
        _ => None,
    };
    list_page(
        &state,
        &who,
        c,
        StatusCode::OK,
        notice,
        None,
        HookForm::empty(),
    )
    .await
}

fn put_error(form: &mut HookForm, e: Error) -> Result<StatusCode, Error> {
    match e {
        Error::Invalid { field, message } => {
            let field = if field.starts_with("event_types") {
                "event_types".to_owned()
            } else {
                field
            };
            form.errors.insert(field, message);
            Ok(StatusCode::UNPROCESSABLE_ENTITY)
        }
        other => Err(other),
    }
}

/// `POST /app/webhooks`: a new subscription (`app::webhooks::create`); the
/// answer shows its secret once. An invalid URL or no event type is the
/// form again with the message beside it, nothing written.
pub async fn create(state: State, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let (form, who) = match page::team_post(&state, &req, &body, Role::Admin).await {
        Ok(posted) => posted,
        Err(refusal) => return refusal,
    };
    let mut c = chrome(&state, &req, Some(&who), None).await;
    let mut values = HookForm::posted(&form);
    let input = values.input();
    let cx = cx(&state, &who);
    let result = match Rules::from_settings(&state.settings) {
        Ok(rules) => {
            state
                .db
                .transaction(move |conn| crate::app::webhooks::create(conn, &cx, &rules, &input))
                .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(created) => {
            let fresh = Fresh {
                url: created.webhook.url.clone(),
                secret: created.secret,
            };
            let notice = Some(c.tr().t("hooks.created"));
            list_page(
                &state,
                &who,
                c,
                StatusCode::OK,
                notice,
                Some(fresh),
                HookForm::empty(),
            )
            .await
        }
        Err(Error::Forbidden(_)) => page::refused(&state, &req, Refused::Forbidden).await,
        Err(e) => match put_error(&mut values, e) {
            Ok(status) => list_page(&state, &who, c, status, None, None, values).await,
            Err(e) => page::error_page(&mut c, &e),
        },
    }
}

#[allow(clippy::too_many_arguments)]
async fn hook_page(
    state: &State,
    req: &HttpRequest,
    who: &Principal,
    mut c: Chrome,
    status: StatusCode,
    id: i64,
    notice: Option<&'static str>,
    fresh: Option<Fresh>,
    form: Option<HookForm>,
    general_error: Option<String>,
) -> HttpResponse {
    let t = c.tr();
    let zone = format::viewer_zone(req);
    let cx = cx(state, who);
    let found = state
        .db
        .run(move |conn| {
            let hook = crate::app::webhooks::get(conn, &cx, id)?;
            let deliveries = crate::app::webhooks::deliveries(conn, &cx, id, 1, 50)?;
            Ok((hook, deliveries))
        })
        .await;
    let (hook, deliveries) = match found {
        Ok(f) => f,
        Err(e) => return page::error_page(&mut c, &e),
    };
    c.set_title(format!("{} · {}", t.t("hooks.one"), hook.url));
    let page = HookPage {
        id,
        notice,
        fresh,
        disabled_reason: hook.disabled_reason.clone(),
        secrets: hook
            .secrets
            .iter()
            .map(|s| match s.expires_at {
                Some(until) => format!(
                    "#{} — {} {}",
                    s.id,
                    t.t("hooks.signs_until"),
                    format::datetime(&t, until, zone)
                ),
                None => format!(
                    "#{} — {} {}",
                    s.id,
                    t.t("hooks.since"),
                    format::datetime(&t, s.created_at, zone)
                ),
            })
            .collect(),
        form: form.unwrap_or_else(|| HookForm::of(&hook)),
        deliveries: deliveries
            .iter()
            .map(|d| DeliveryRow {
                job_id: d.job.id,
                event: d.job.payload["type"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                state: job_state_label(&t, d.job.state),
                state_class: job_state_class(d.job.state),
                attempts: d.job.attempts,
                last: d.job.last_result.clone(),
                created: format::datetime(&t, d.job.created_at, zone),
            })
            .collect(),
        general_error,
        c,
    };
    render(status, &page.c, &page)
}

/// `GET /app/webhooks/{id}`.
pub async fn show(state: State, req: HttpRequest, id: web::Path<i64>) -> HttpResponse {
    let (who, c) = match admin_get(&state, &req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let t = c.tr();
    let notice = match super::query(&req, "saved").as_deref() {
        Some("1") => Some(t.t("hooks.saved")),
        Some("enable") | Some("disable") => Some(t.t("hooks.saved")),
        Some("replay") => Some(t.t("hooks.replayed")),
        _ => None,
    };
    hook_page(
        &state,
        &req,
        &who,
        c,
        StatusCode::OK,
        id.into_inner(),
        notice,
        None,
        None,
        None,
    )
    .await
}

/// `POST /app/webhooks/{id}`: the form saved (`app::webhooks::update`).
pub async fn save(
    state: State,
    req: HttpRequest,
    id: web::Path<i64>,
    body: web::Bytes,
) -> HttpResponse {
    let (form, who) = match page::team_post(&state, &req, &body, Role::Admin).await {
        Ok(posted) => posted,
        Err(refusal) => return refusal,
    };
    let id = id.into_inner();
    let mut c = chrome(&state, &req, Some(&who), None).await;
    let mut values = HookForm::posted(&form);
    let input = values.input();
    let cx = cx(&state, &who);
    let result = match Rules::from_settings(&state.settings) {
        Ok(rules) => {
            state
                .db
                .transaction(move |conn| {
                    crate::app::webhooks::update(conn, &cx, &rules, id, &input)
                })
                .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => see_other(&format!("/app/webhooks/{id}?saved=1")),
        Err(Error::Forbidden(_)) => page::refused(&state, &req, Refused::Forbidden).await,
        Err(e) => match put_error(&mut values, e) {
            Ok(status) => {
                hook_page(
                    &state,
                    &req,
                    &who,
                    c,
                    status,
                    id,
                    None,
                    None,
                    Some(values),
                    None,
                )
                .await
            }
            Err(e) => page::error_page(&mut c, &e),
        },
    }
}

/// `POST /app/webhooks/{id}/{rotate|delete|enable|disable}`.
pub async fn act(
    state: State,
    req: HttpRequest,
    path: web::Path<(i64, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let (_, who) = match page::team_post(&state, &req, &body, Role::Admin).await {
        Ok(posted) => posted,
        Err(refusal) => return refusal,
    };
    let (id, action) = path.into_inner();
    let mut c = chrome(&state, &req, Some(&who), None).await;
    let rules = match Rules::from_settings(&state.settings) {
        Ok(r) => r,
        Err(e) => return page::error_page(&mut c, &e),
    };
    let cx = cx(&state, &who);
    match action.as_str() {
        "rotate" => {
            let result = state
                .db
                .transaction(move |conn| crate::app::webhooks::rotate_secret(conn, &cx, &rules, id))
                .await;
            match result {
                Ok(rotated) => {
                    let fresh = Fresh {
                        url: rotated.webhook.url.clone(),
                        secret: rotated.secret,
                    };
                    let notice = Some(c.tr().t("hooks.rotated"));
                    hook_page(
                        &state,
                        &req,
                        &who,
                        c,
                        StatusCode::OK,
                        id,
                        notice,
                        Some(fresh),
                        None,
                        None,
                    )
                    .await
                }
                Err(e) => page::error_page(&mut c, &e),
            }
        }
        "delete" => {
            let result = state
                .db
                .transaction(move |conn| crate::app::webhooks::delete(conn, &cx, id))
                .await;
            match result {
                Ok(()) => see_other("/app/webhooks?saved=delete"),
                Err(e) => page::error_page(&mut c, &e),
            }
        }
        _ => {
            let enabled = action == "enable";
            let result = state
                .db
                .transaction(move |conn| {
                    let hook = crate::app::webhooks::get(conn, &cx, id)?;
                    let input = WebhookInput {
                        url: hook.url,
                        event_types: hook.event_types,
                        description: hook.description,
                        enabled: Some(enabled),
                    };
                    crate::app::webhooks::update(conn, &cx, &rules, id, &input)
                })
                .await;
            match result {
                Ok(_) => see_other(&format!("/app/webhooks/{id}?saved={action}")),
                Err(e) => page::error_page(&mut c, &e),
            }
        }
    }
}

/// `POST /app/webhooks/{id}/deliveries/{job}/replay`: the delivery's event
/// sent again (`app::webhooks::replay`: the same `webhook-id` and body).
pub async fn replay(
    state: State,
    req: HttpRequest,
    path: web::Path<(i64, i64)>,
    body: web::Bytes,
) -> HttpResponse {
    let (id, job) = path.into_inner();
    let acted = page::act(&state, &req, &body, Role::Admin, |_, cx| {
        move |conn: &mut crate::db::DbConnection| crate::app::webhooks::replay(conn, &cx, id, job)
    })
    .await;
    match acted {
        Ok(acted) => acted.redirect_or_error(|_| format!("/app/webhooks/{id}?saved=replay")),
        Err(refusal) => refusal,
    }
}
