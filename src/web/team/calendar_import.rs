//! Importing a partner's calendar (`.ics`) from the web: a file uploaded or
//! text pasted, a dry run that lists what each event would become (created,
//! updated, unchanged, skipped with its reason) and writes nothing, then the
//! import confirmed. Both go through `app::imports`, as the API and the CLI
//! do: the dry run is `imports::preview` (the same code, rolled back), the
//! import `imports::apply_with`.

use super::super::page::{
    self, Chrome, Form, Refused, State, chrome, render, signed_in, to_sign_in,
};
use crate::app::imports::{self as ingest, Destination, ImportReport, Outcome};
use crate::calendar::import::{ImportLimits, Strictness, parse_calendar_with};
use crate::db::PageRequest;
use crate::domain::Role;
use crate::domain::activity::Visibility;
use crate::domain::language::Language;
use crate::web::i18n::Tr;
use crate::web::multipart;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

pub const PATH: &str = "/app/imports/calendar";

/// The largest file (or pasted text) the page takes, as for the CSV upload.
pub const MAX_BYTES: usize = 5 * 1024 * 1024;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(PATH, web::get().to(page))
        .route(PATH, web::post().to(submit));
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

pub struct EventRow {
    pub line: usize,
    pub uid: String,
    pub outcome: &'static str,
    pub outcome_code: &'static str,
    pub reason: String,
}

/// What the form held.
#[derive(Default)]
struct Fields {
    organisation: String,
    plan: String,
    lang: String,
    visibility: String,
    ics: String,
}

#[derive(Default)]
struct Errors {
    /// Above the form: what is wrong, in short.
    summary: Option<String>,
    organisation: Option<String>,
    plan: Option<String>,
    ics: Option<String>,
    file: Option<String>,
}

#[derive(askama::Template)]
#[template(path = "team/calendar_import.html")]
pub struct ImportPage {
    pub c: Chrome,
    pub action: &'static str,
    pub organisations: Vec<Choice>,
    pub plans: Vec<Choice>,
    pub langs: Vec<Choice>,
    pub visibilities: Vec<Choice>,
    pub ics: String,
    pub file_hint: String,
    pub summary_error: Option<String>,
    pub organisation_error: Option<String>,
    pub plan_error: Option<String>,
    pub ics_error: Option<String>,
    pub file_error: Option<String>,
    /// After a dry run: what the import would do (and the confirm button).
    pub preview: Option<String>,
    /// After the import: what it did.
    pub done: Option<String>,
    pub events: Vec<EventRow>,
    pub warnings: Vec<String>,
}

fn size_label(bytes: usize) -> String {
    format!("{} MB", bytes / (1024 * 1024))
}

fn outcome_label(t: &Tr, o: Outcome) -> (&'static str, &'static str) {
    match o {
        Outcome::Created => (t.t("ics_import.created"), "created"),
        Outcome::Updated => (t.t("ics_import.updated"), "updated"),
        Outcome::Unchanged => (t.t("ics_import.unchanged"), "unchanged"),
        Outcome::Skipped => (t.t("ics_import.skipped"), "skipped"),
    }
}

fn counts_line(t: &Tr, key: &str, r: &ImportReport) -> String {
    t.t(key)
        .replace("{created}", &r.created.to_string())
        .replace("{updated}", &r.updated.to_string())
        .replace("{unchanged}", &r.unchanged.to_string())
        .replace("{skipped}", &r.skipped.to_string())
}

/// The page with the form as it was, and what came of it.
async fn view(
    state: &State,
    mut c: Chrome,
    f: Fields,
    e: Errors,
    report: Option<(bool, ImportReport)>,
) -> Result<ImportPage, HttpResponse> {
    let t = c.tr();
    let found = state
        .db
        .run(|conn| {
            let all = PageRequest {
                page: Some(1),
                per_page: Some(500),
            };
            let orgs = crate::db::organisations::list(conn, None, all)?.items;
            let plans = crate::db::plans::list(conn, all)?.items;
            Ok((orgs, plans))
        })
        .await;
    let (orgs, plans) = match found {
        Ok(found) => found,
        Err(err) => return Err(page::error_page(&mut c, &err)),
    };
    let lang = if f.lang.is_empty() {
        c.lang.as_str().to_owned()
    } else {
        f.lang.clone()
    };
    let (summary, done, events, warnings) = match report {
        None => (None, None, Vec::new(), Vec::new()),
        Some((written, r)) => {
            let line = if written {
                counts_line(&t, "ics_import.done", &r)
            } else {
                counts_line(&t, "ics_import.would", &r)
            };
            let events = r
                .events
                .iter()
                .map(|ev| {
                    let (outcome, code) = outcome_label(&t, ev.outcome);
                    EventRow {
                        line: ev.line,
                        uid: ev.uid.clone().unwrap_or_default(),
                        outcome,
                        outcome_code: code,
                        reason: ev.reason.clone().unwrap_or_default(),
                    }
                })
                .collect();
            let warnings = r
                .warnings
                .iter()
                .map(|w| {
                    format!(
                        "{}: {}",
                        t.t("nl.line").replace("{n}", &w.line.to_string()),
                        w.message
                    )
                })
                .collect();
            if written {
                (None, Some(line), events, warnings)
            } else {
                (Some(line), None, events, warnings)
            }
        }
    };
    c.set_title(t.t("ics_import.title").to_owned());
    Ok(ImportPage {
        action: PATH,
        organisations: orgs
            .into_iter()
            .map(|o| Choice {
                selected: o.slug == f.organisation,
                value: o.slug,
                label: o.name,
            })
            .collect(),
        plans: plans
            .into_iter()
            .map(|p| Choice {
                selected: p.slug == f.plan,
                value: p.slug,
                label: p.title,
            })
            .collect(),
        langs: Language::ALL
            .iter()
            .map(|l| Choice {
                value: l.as_str().to_owned(),
                label: crate::web::format::lang_name(&t, *l).to_owned(),
                selected: l.as_str() == lang,
            })
            .collect(),
        visibilities: [Visibility::Internal, Visibility::Public]
            .into_iter()
            .map(|v| Choice {
                value: v.as_str().to_owned(),
                label: t.t(&format!("visibility.{}", v.as_str())).to_owned(),
                selected: v.as_str() == f.visibility,
            })
            .collect(),
        ics: f.ics,
        file_hint: t
            .t("ics_import.file_hint")
            .replace("{size}", &size_label(MAX_BYTES)),
        summary_error: e.summary,
        organisation_error: e.organisation,
        plan_error: e.plan,
        ics_error: e.ics,
        file_error: e.file,
        preview: summary,
        done,
        events,
        warnings,
        c,
    })
}

async fn answer(
    state: &State,
    c: Chrome,
    status: StatusCode,
    f: Fields,
    e: Errors,
    report: Option<(bool, ImportReport)>,
) -> HttpResponse {
    match view(state, c, f, e, report).await {
        Ok(p) => render(status, &p.c, &p),
        Err(res) => res,
    }
}

/// The empty form (editors; others see the page without it).
async fn page(state: State, req: HttpRequest) -> HttpResponse {
    let Some(who) = signed_in(&req) else {
        return to_sign_in(&req);
    };
    let c = chrome(&state, &req, Some(&who), None).await;
    answer(
        &state,
        c,
        StatusCode::OK,
        Fields::default(),
        Errors::default(),
        None,
    )
    .await
}

fn fields(form: &Form) -> Fields {
    Fields {
        organisation: form.get("organisation").unwrap_or_default().to_owned(),
        plan: form.get("plan").unwrap_or_default().to_owned(),
        lang: form.get("lang").unwrap_or_default().to_owned(),
        visibility: form.get("visibility").unwrap_or_default().to_owned(),
        ics: form.get("ics").unwrap_or_default().to_owned(),
    }
}

/// The dry run (`step=preview`, the default) or the import (`step=confirm`).
async fn submit(state: State, req: HttpRequest, payload: web::Payload) -> HttpResponse {
    let body = match multipart::read_body(payload, MAX_BYTES).await {
        Ok(body) => body,
        Err(multipart::Unreadable::TooLarge) => return too_large(&state, &req).await,
        Err(multipart::Unreadable::Malformed) => Vec::new(),
    };
    let (upload, who) = match page::team_upload(&state, &req, &body, Role::Editor).await {
        Ok(posted) => posted,
        Err(refusal) => return refusal,
    };
    let c = chrome(&state, &req, Some(&who), None).await;
    let t = c.tr();
    let mut f = fields(&upload.form);
    let confirm = upload.form.get("step") == Some("confirm");
    let mut e = Errors::default();
    // A file chosen takes the place of the pasted text (and fills the box,
    // so the confirm sends the very text previewed).
    if let Some(file) = upload.file("file") {
        let data = file
            .data
            .strip_prefix(b"\xEF\xBB\xBF".as_slice())
            .unwrap_or(&file.data);
        match std::str::from_utf8(data) {
            Ok(text) => f.ics = text.to_owned(),
            Err(_) => {
                e.file = Some(t.t("ics_import.not_utf8").into());
                e.summary = e.file.clone();
                return answer(&state, c, StatusCode::UNPROCESSABLE_ENTITY, f, e, None).await;
            }
        }
    }
    if f.ics.trim().is_empty() {
        e.ics = Some(t.t("ics_import.empty").into());
    }
    if f.organisation.is_empty() {
        e.organisation = Some(t.t("ics_import.organisation_needed").into());
    }
    if e.ics.is_some() || e.organisation.is_some() {
        e.summary = Some(t.t("error.invalid").into());
        return answer(&state, c, StatusCode::UNPROCESSABLE_ENTITY, f, e, None).await;
    }
    let limits = ImportLimits {
        max_bytes: state.settings.imports.max_bytes.min(MAX_BYTES),
        max_events: state.settings.imports.max_events,
    };
    let bytes = f.ics.clone().into_bytes();
    let parsed = web::block(move || parse_calendar_with(&bytes, &limits, Strictness::Lenient))
        .await
        .map_err(|err| crate::Error::Internal(anyhow::anyhow!("import task failed: {err}")));
    let parsed = match parsed {
        Ok(Ok(parsed)) => parsed,
        Ok(Err(err)) => {
            e.ics = Some(err.to_string());
            e.summary = Some(t.t("ics_import.unreadable").into());
            return answer(&state, c, StatusCode::UNPROCESSABLE_ENTITY, f, e, None).await;
        }
        Err(err) => {
            let mut c = c;
            return page::error_page(&mut c, &err);
        }
    };
    let lang = f.lang.parse::<Language>().unwrap_or(c.lang);
    let visibility = if f.visibility == Visibility::Public.as_str() {
        Visibility::Public
    } else {
        Visibility::Internal
    };
    let (organisation, plan) = (f.organisation.clone(), f.plan.clone());
    let cx = crate::app::Context::new(who.actor(), state.clock.now())
        .with_reason(Some(format!("import from {organisation}")));
    let destination = move |conn: &mut crate::db::DbConnection| -> crate::Result<Destination> {
        let plan = Some(plan.as_str()).filter(|p| !p.is_empty());
        Ok(Destination::resolve(conn, &organisation, plan, lang)?.with_visibility(visibility))
    };
    let result = if confirm {
        state
            .db
            .transaction(move |conn| {
                let to = destination(conn)?;
                ingest::apply_with(conn, &cx, parsed, &to, Strictness::Lenient)
            })
            .await
    } else {
        // The dry run opens (and rolls back) its own transaction.
        state
            .db
            .run(move |conn| {
                let to = destination(conn)?;
                ingest::preview(conn, &cx, parsed, &to, Strictness::Lenient)
            })
            .await
    };
    match result {
        Ok(report) => answer(&state, c, StatusCode::OK, f, e, Some((confirm, report))).await,
        Err(crate::Error::Forbidden(_)) => page::refused(&state, &req, Refused::Forbidden).await,
        Err(crate::Error::Invalid { field, message }) => {
            match field.as_str() {
                "organisation" => e.organisation = Some(message),
                "plan" => e.plan = Some(message),
                _ => e.ics = Some(format!("{field}: {message}")),
            }
            e.summary = Some(t.t("error.invalid").into());
            answer(&state, c, StatusCode::UNPROCESSABLE_ENTITY, f, e, None).await
        }
        Err(err) => {
            let mut c = c;
            page::error_page(&mut c, &err)
        }
    }
}

/// A body over the limit: nothing read past it, nothing written; the page
/// says so beside the file (413) to an editor signed in.
async fn too_large(state: &State, req: &HttpRequest) -> HttpResponse {
    let Some(who) = crate::http::auth::from_session_cookie(state, req).await else {
        return page::refused(state, req, Refused::SignedOut).await;
    };
    if !who.role.includes(Role::Editor) {
        return page::refused(state, req, Refused::Forbidden).await;
    }
    let c = chrome(state, req, Some(&who), None).await;
    let message = c
        .tr()
        .t("ics_import.too_large")
        .replace("{size}", &size_label(MAX_BYTES));
    let e = Errors {
        summary: Some(message.clone()),
        file: Some(message),
        ..Errors::default()
    };
    answer(
        state,
        c,
        StatusCode::PAYLOAD_TOO_LARGE,
        Fields::default(),
        e,
        None,
    )
    .await
}
