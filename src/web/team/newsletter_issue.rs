//! A newsletter issue's pages: the composer (subject and body per language
//! side by side, with a live preview of the HTML and the text: htmx posts the
//! form to `/app/newsletter/preview` as one types; without JavaScript the
//! "Preview" button shows the same), the issue page (review by role, test
//! send, schedule in a zone, send now) and the progress page (counts per
//! state, rate, time left, polled every 2 s by htmx, or reloaded by a link)
//! with the per-recipient report. Writes go through `app::records`,
//! `app::reviews` and `app::sending` only.

use super::super::format;
use super::super::i18n::Tr;
use super::super::page::{
    self, Chrome, Form, Refused, State, chrome, render, see_other, signed_in, to_sign_in,
};
use super::activity::{ReviewButton, review_action, review_state_label};
use super::query;
use crate::app::reviews::{self, Subject};
use crate::db::PageRequest;
use crate::domain::newsletter::{DeliveryState, Issue, IssueState, IssueTranslation, Progress};
use crate::domain::review::ReviewAction;
use crate::domain::{Language, Role};
use crate::error::Error;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};
use std::collections::HashMap;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/app/newsletter/issues/new", web::get().to(new_form))
        .route("/app/newsletter/issues/new", web::post().to(create))
        .route("/app/newsletter/preview", web::post().to(preview_fragment))
        .route("/app/newsletter/issues/{id}", web::get().to(show))
        .route("/app/newsletter/issues/{id}/edit", web::get().to(edit_form))
        .route("/app/newsletter/issues/{id}/edit", web::post().to(save))
        .route("/app/newsletter/issues/{id}/review", web::post().to(review))
        .route(
            "/app/newsletter/issues/{id}/test",
            web::post().to(test_send),
        )
        .route(
            "/app/newsletter/issues/{id}/schedule",
            web::post().to(schedule),
        )
        .route("/app/newsletter/issues/{id}/send", web::post().to(send_now))
        .route(
            "/app/newsletter/issues/{id}/{move:pause|resume|cancel|unschedule}",
            web::post().to(move_to),
        )
        .route(
            "/app/newsletter/issues/{id}/retry-failed",
            web::post().to(retry_failed),
        )
        .route(
            "/app/newsletter/issues/{id}/progress",
            web::get().to(progress_page),
        )
        .route(
            "/app/newsletter/issues/{id}/progress/counts",
            web::get().to(progress_fragment),
        );
}

pub fn issue_state_label(t: &Tr, s: IssueState) -> &'static str {
    match s {
        IssueState::Draft => t.t("nl.state.draft"),
        IssueState::Scheduled => t.t("nl.state.scheduled"),
        IssueState::Sending => t.t("nl.state.sending"),
        IssueState::Paused => t.t("nl.state.paused"),
        IssueState::Sent => t.t("nl.state.sent"),
        IssueState::SentWithFailures => t.t("nl.state.sent_with_failures"),
        IssueState::Failed => t.t("nl.state.failed"),
        IssueState::Cancelled => t.t("nl.state.cancelled"),
    }
}

fn delivery_state_label(t: &Tr, s: DeliveryState) -> &'static str {
    match s {
        DeliveryState::Queued => t.t("nl.delivery.queued"),
        DeliveryState::Sending => t.t("nl.delivery.sending"),
        DeliveryState::Sent => t.t("nl.delivery.sent"),
        DeliveryState::Retry => t.t("nl.delivery.retry"),
        DeliveryState::Failed => t.t("nl.delivery.failed"),
        DeliveryState::Unknown => t.t("nl.delivery.unknown"),
        DeliveryState::Cancelled => t.t("nl.delivery.cancelled"),
    }
}

// ---------------------------------------------------------------- composer

pub struct ListChoice {
    pub id: i64,
    pub name: String,
    pub checked: bool,
}

pub struct LangFields {
    pub code: &'static str,
    pub name: &'static str,
    pub subject: String,
    pub body: String,
    pub subject_error: Option<String>,
    pub body_error: Option<String>,
}

pub struct PreviewView {
    pub code: &'static str,
    pub name: &'static str,
    pub subject: String,
    /// The email's HTML body, as the renderer made it (every text in it escaped).
    pub html: String,
    pub text: String,
}

#[derive(askama::Template)]
#[template(path = "team/newsletter_compose.html")]
pub struct ComposePage {
    pub c: Chrome,
    pub action: String,
    pub heading: String,
    pub back: String,
    pub name: String,
    pub version: String,
    pub lists: Vec<ListChoice>,
    pub langs: Vec<LangFields>,
    pub errors: HashMap<String, String>,
    pub general_error: Option<String>,
    pub previews: Vec<PreviewView>,
}

impl ComposePage {
    pub fn err(&self, name: &str) -> Option<&str> {
        self.errors.get(name).map(|s| s.as_str())
    }
}

#[derive(askama::Template)]
#[template(path = "team/newsletter_preview.html")]
pub struct PreviewFragment {
    pub c: Chrome,
    pub previews: Vec<PreviewView>,
}

/// The composer's values: name, lists, subject and body per language.
#[derive(Default, Clone)]
struct Draft {
    name: String,
    list_ids: Vec<i64>,
    texts: Vec<(Language, String, String)>,
    version: Option<i32>,
    activity_id: Option<i64>,
}

impl Draft {
    fn of(issue: &Issue) -> Draft {
        Draft {
            name: issue.name.clone(),
            list_ids: issue.list_ids.clone(),
            texts: Language::ALL
                .iter()
                .map(|l| {
                    let t = issue.translations.get(l);
                    (
                        *l,
                        t.map(|t| t.subject.clone()).unwrap_or_default(),
                        t.map(|t| t.body.clone()).unwrap_or_default(),
                    )
                })
                .collect(),
            version: Some(issue.version),
            activity_id: issue.activity_id,
        }
    }

    fn from_form(form: &Form, activity_id: Option<i64>) -> Draft {
        Draft {
            name: form.get("name").unwrap_or_default().to_owned(),
            list_ids: form
                .all("list_ids")
                .iter()
                .filter_map(|v| v.parse().ok())
                .collect(),
            texts: Language::ALL
                .iter()
                .map(|l| {
                    (
                        *l,
                        form.get(&format!("translations.{l}.subject"))
                            .unwrap_or_default()
                            .to_owned(),
                        form.get(&format!("translations.{l}.body"))
                            .unwrap_or_default()
                            .to_owned(),
                    )
                })
                .collect(),
            version: form.text("version").and_then(|v| v.parse().ok()),
            activity_id,
        }
    }

    /// The API's input for this draft (what a POST or PUT of /issues takes).
    fn input(&self) -> Value {
        let mut translations = serde_json::Map::new();
        for (l, subject, body) in &self.texts {
            if !subject.trim().is_empty() || !body.trim().is_empty() {
                translations.insert(
                    l.as_str().into(),
                    json!({"subject": subject.trim(), "body": body}),
                );
            }
        }
        json!({
            "name": self.name.trim(),
            "activity_id": self.activity_id,
            "list_ids": self.list_ids,
            "translations": translations,
            "version": self.version,
        })
    }
}

/// The email's `<body>` without its inline styles (the page's policy allows
/// none): what the preview shows in the page.
fn body_of(html: &str) -> String {
    let start = html
        .find("<body")
        .and_then(|i| html[i..].find('>').map(|j| i + j + 1))
        .unwrap_or(0);
    let end = html.rfind("</body>").unwrap_or(html.len());
    let mut inner = &html[start..end.max(start)];
    let mut out = String::with_capacity(inner.len());
    while let Some(i) = inner.find(" style=\"") {
        out.push_str(&inner[..i]);
        let rest = &inner[i + 8..];
        inner = rest.find('"').map(|j| &rest[j + 1..]).unwrap_or("");
    }
    out.push_str(inner);
    out
}

/// Each written language as a recipient would get it (named "Ana").
fn previews(state: &State, t: &Tr, draft: &Draft) -> Vec<PreviewView> {
    let now = state.clock.now();
    let translations = draft
        .texts
        .iter()
        .filter(|(_, s, b)| !s.trim().is_empty() || !b.trim().is_empty())
        .map(|(l, s, b)| {
            (
                *l,
                IssueTranslation {
                    subject: s.trim().to_owned(),
                    body: b.clone(),
                },
            )
        })
        .collect();
    let issue = Issue {
        id: 0,
        name: draft.name.clone(),
        activity_id: None,
        list_ids: Vec::new(),
        state: IssueState::Draft,
        translations,
        scheduled_at: None,
        schedule: None,
        started_at: None,
        finished_at: None,
        version: 0,
        created_at: now,
        updated_at: now,
        uid: String::new(),
    };
    let public = state.settings.server.public_url.trim_end_matches('/');
    let url = crate::dispatch::content::unsubscribe_url(public, "preview");
    issue
        .translations
        .keys()
        .filter_map(|l| {
            let (lang, prepared) =
                crate::dispatch::content::prepare(&issue, *l, &state.settings.email)?;
            let body = prepared.newsletter.personalise("Ana", &url);
            Some(PreviewView {
                code: lang.as_str(),
                name: format::lang_name(t, lang),
                subject: crate::email::render::personalise_subject(&prepared.subject, "Ana"),
                html: body_of(&body.html),
                text: body.text,
            })
        })
        .collect()
}

async fn all_lists(state: &State) -> crate::Result<Vec<(i64, String)>> {
    state
        .db
        .run(|conn| {
            Ok(crate::db::subscribers::list_lists(
                conn,
                PageRequest {
                    page: Some(1),
                    per_page: Some(200),
                },
            )?
            .items
            .into_iter()
            .map(|l| (l.id, l.name))
            .collect())
        })
        .await
}

#[allow(clippy::too_many_arguments)]
fn compose_page(
    c: Chrome,
    id: Option<i64>,
    lists: Vec<(i64, String)>,
    draft: &Draft,
    errors: HashMap<String, String>,
    general_error: Option<String>,
    previews: Vec<PreviewView>,
) -> ComposePage {
    let t = c.tr();
    let (action, heading, back) = match id {
        Some(id) => (
            format!("/app/newsletter/issues/{id}/edit"),
            format!("{}: {}", t.t("nl.edit_issue"), draft.name),
            format!("/app/newsletter/issues/{id}"),
        ),
        None => (
            "/app/newsletter/issues/new".to_owned(),
            t.t("nl.new_issue").to_owned(),
            "/app/newsletter".to_owned(),
        ),
    };
    let langs = draft
        .texts
        .iter()
        .map(|(l, s, b)| LangFields {
            code: l.as_str(),
            name: format::lang_name(&t, *l),
            subject: s.clone(),
            body: b.clone(),
            subject_error: errors
                .get(&format!("translations.{l}.subject"))
                .or_else(|| errors.get(&format!("translations.{l}")))
                .cloned(),
            body_error: errors.get(&format!("translations.{l}.body")).cloned(),
        })
        .collect();
    ComposePage {
        action,
        heading,
        back,
        name: draft.name.clone(),
        version: draft.version.map(|v| v.to_string()).unwrap_or_default(),
        lists: lists
            .into_iter()
            .map(|(id, name)| ListChoice {
                id,
                name,
                checked: draft.list_ids.contains(&id),
            })
            .collect(),
        langs,
        errors,
        general_error,
        previews,
        c,
    }
}

async fn new_form(state: State, req: HttpRequest) -> HttpResponse {
    let Some(who) = signed_in(&req) else {
        return to_sign_in(&req);
    };
    if !who.role.includes(Role::Editor) {
        return page::refused(&state, &req, Refused::Forbidden).await;
    }
    let mut c = chrome(&state, &req, Some(&who), None).await;
    let lists = match all_lists(&state).await {
        Ok(l) => l,
        Err(e) => return page::error_page(&mut c, &e),
    };
    c.set_title(c.tr().t("nl.new_issue"));
    let draft = Draft {
        texts: Language::ALL
            .iter()
            .map(|l| (*l, String::new(), String::new()))
            .collect(),
        ..Default::default()
    };
    let page = compose_page(c, None, lists, &draft, HashMap::new(), None, Vec::new());
    render(StatusCode::OK, &page.c, &page)
}

async fn edit_form(state: State, req: HttpRequest, id: web::Path<i64>) -> HttpResponse {
    let Some(who) = signed_in(&req) else {
        return to_sign_in(&req);
    };
    if !who.role.includes(Role::Editor) {
        return page::refused(&state, &req, Refused::Forbidden).await;
    }
    let id = id.into_inner();
    let mut c = chrome(&state, &req, Some(&who), None).await;
    let found = state
        .db
        .run(move |conn| crate::db::issues::get(conn, id))
        .await;
    let (issue, lists) = match (found, all_lists(&state).await) {
        (Ok(i), Ok(l)) => (i, l),
        (Err(e), _) | (_, Err(e)) => return page::error_page(&mut c, &e),
    };
    c.set_title(format!("{} · {}", c.tr().t("nl.edit_issue"), issue.name));
    let draft = Draft::of(&issue);
    let shown = previews(&state, &c.tr(), &draft);
    let page = compose_page(c, Some(id), lists, &draft, HashMap::new(), None, shown);
    render(StatusCode::OK, &page.c, &page)
}

async fn create(state: State, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    submit(state, req, None, body).await
}

async fn save(
    state: State,
    req: HttpRequest,
    id: web::Path<i64>,
    body: web::Bytes,
) -> HttpResponse {
    submit(state, req, Some(id.into_inner()), body).await
}

fn field_of(path: &str) -> String {
    let p = path.trim_start_matches('.');
    // serde_path_to_error names list items `list_ids[0]`.
    match p.find('[') {
        Some(i) => p[..i].to_owned(),
        None => p.to_owned(),
    }
}

/// The composer's POST: "Preview" shows the form again with the preview and
/// writes nothing; "Save" creates or replaces the issue through
/// `app::records`, or shows each error beside its field, nothing written.
async fn submit(state: State, req: HttpRequest, id: Option<i64>, body: web::Bytes) -> HttpResponse {
    let (form, who) = match page::team_post(&state, &req, &body, Role::Editor).await {
        Ok(posted) => posted,
        Err(refusal) => return refusal,
    };
    let mut c = chrome(&state, &req, Some(&who), None).await;
    let t = c.tr();
    let stored = match id {
        Some(id) => match state
            .db
            .run(move |conn| crate::db::issues::get(conn, id))
            .await
        {
            Ok(i) => Some(i),
            Err(e) => return page::error_page(&mut c, &e),
        },
        None => None,
    };
    let lists = match all_lists(&state).await {
        Ok(l) => l,
        Err(e) => return page::error_page(&mut c, &e),
    };
    let draft = Draft::from_form(&form, stored.as_ref().and_then(|i| i.activity_id));
    c.set_title(match id {
        Some(_) => format!("{} · {}", t.t("nl.edit_issue"), draft.name),
        None => t.t("nl.new_issue").to_owned(),
    });
    let shown = previews(&state, &t, &draft);
    if form.get("do") == Some("preview") {
        let page = compose_page(c, id, lists, &draft, HashMap::new(), None, shown);
        return render(StatusCode::OK, &page.c, &page);
    }
    let mut errors = HashMap::new();
    let parsed: Result<crate::domain::newsletter::IssueInput, _> =
        serde_path_to_error::deserialize(draft.input());
    let input = match parsed {
        Ok(i) => i,
        Err(e) => {
            errors.insert(field_of(&e.path().to_string()), e.into_inner().to_string());
            let page = compose_page(
                c,
                id,
                lists,
                &draft,
                errors,
                Some(t.t("activity.fix_errors").into()),
                shown,
            );
            return render(StatusCode::UNPROCESSABLE_ENTITY, &page.c, &page);
        }
    };
    let cx = crate::app::Context::new(who.actor(), state.clock.now());
    let version = draft.version.or(stored.as_ref().map(|i| i.version));
    let result = state
        .db
        .transaction(move |conn| match id {
            Some(id) => crate::app::records::update::<crate::app::entities::Issues>(
                conn,
                &cx,
                id,
                version.unwrap_or_default(),
                &input,
            ),
            None => crate::app::records::create::<crate::app::entities::Issues>(conn, &cx, &input),
        })
        .await;
    let (status, general) = match result {
        Ok(issue) => return see_other(&format!("/app/newsletter/issues/{}?saved=1", issue.id)),
        Err(Error::Invalid { field, message }) => {
            errors.insert(field_of(&field), message);
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                t.t("activity.fix_errors").to_owned(),
            )
        }
        Err(Error::VersionMismatch { .. }) => {
            (StatusCode::CONFLICT, t.t("activity.conflict").to_owned())
        }
        Err(Error::Forbidden(_)) => return page::refused(&state, &req, Refused::Forbidden).await,
        Err(e) => (StatusCode::CONFLICT, e.to_string()),
    };
    let page = compose_page(c, id, lists, &draft, errors, Some(general), shown);
    render(status, &page.c, &page)
}

/// htmx's live preview: the form as it is now, rendered, nothing written.
async fn preview_fragment(state: State, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let (form, who) = match page::team_post(&state, &req, &body, Role::Editor).await {
        Ok(posted) => posted,
        Err(refusal) => return refusal,
    };
    let c = chrome(&state, &req, Some(&who), None).await;
    let draft = Draft::from_form(&form, None);
    let page = PreviewFragment {
        previews: previews(&state, &c.tr(), &draft),
        c,
    };
    render(StatusCode::OK, &page.c, &page)
}

// ---------------------------------------------------------------- issue page

pub struct ZoneChoice {
    pub name: &'static str,
}

#[derive(askama::Template)]
#[template(path = "team/newsletter_issue.html")]
pub struct IssuePage {
    pub c: Chrome,
    pub id: i64,
    pub name: String,
    pub notice: Option<&'static str>,
    pub state: &'static str,
    pub state_code: &'static str,
    pub lists: Vec<String>,
    pub languages: Vec<&'static str>,
    pub schedule: Option<String>,
    pub review_state: &'static str,
    pub review_comment: Option<String>,
    pub buttons: Vec<ReviewButton>,
    pub approved: bool,
    pub can_send: bool,
    /// Pause, resume, cancel: those the issue's state allows (editors).
    pub moves: Vec<MoveButton>,
    /// Failed deliveries may be queued again (editors, approved issues).
    pub can_retry: bool,
    pub values: HashMap<String, String>,
    pub errors: HashMap<String, String>,
    pub general_error: Option<String>,
    pub test_results: Vec<TestRow>,
    pub zones: Vec<ZoneChoice>,
    pub previews: Vec<PreviewView>,
}

impl IssuePage {
    pub fn v(&self, name: &str) -> &str {
        self.values.get(name).map(|s| s.as_str()).unwrap_or("")
    }

    pub fn err(&self, name: &str) -> Option<&str> {
        self.errors.get(name).map(|s| s.as_str())
    }
}

/// A button moving the issue on (`POST …/{action}`).
pub struct MoveButton {
    pub action: &'static str,
    pub label: &'static str,
    pub primary: bool,
}

/// The moves an issue in `state` allows, as the use-case layer would take them.
fn moves_of(t: &Tr, state: IssueState) -> Vec<MoveButton> {
    let button = |action, key, primary| MoveButton {
        action,
        label: t.t(key),
        primary,
    };
    match state {
        IssueState::Sending => vec![
            button("pause", "nl_actions.pause", true),
            button("cancel", "nl_actions.cancel", false),
        ],
        IssueState::Paused => vec![
            button("resume", "nl_actions.resume", true),
            button("cancel", "nl_actions.cancel", false),
        ],
        IssueState::Scheduled => vec![
            button("unschedule", "nl_actions.unschedule", true),
            button("cancel", "nl_actions.cancel", false),
        ],
        _ => Vec::new(),
    }
}

/// What the issue page shows besides the form's own values.
#[derive(Default)]
struct Outcome {
    values: HashMap<String, String>,
    errors: HashMap<String, String>,
    general_error: Option<String>,
    test_results: Vec<TestRow>,
}

/// What the relay answered to a test send.
pub struct TestRow {
    pub address: String,
    pub accepted: bool,
    pub reply: String,
}

async fn issue_page(
    state: &State,
    req: &HttpRequest,
    mut c: Chrome,
    id: i64,
    out: Outcome,
) -> Result<IssuePage, HttpResponse> {
    let t = c.tr();
    let found = state
        .db
        .run(move |conn| {
            let issue = crate::db::issues::get(conn, id)?;
            let review = reviews::get(conn, Subject::Issue(id))?;
            let approved = reviews::require_approved(conn, Subject::Issue(id)).is_ok();
            let mut lists = Vec::new();
            for l in &issue.list_ids {
                lists.push(crate::db::subscribers::get_list(conn, *l)?.name);
            }
            Ok((issue, review, approved, lists))
        })
        .await;
    let (issue, review, approved, lists) = match found {
        Ok(f) => f,
        Err(e) => return Err(page::error_page(&mut c, &e)),
    };
    let role = c.user.as_ref().map(|u| u.role).unwrap_or(Role::Viewer);
    let mut buttons = Vec::new();
    for action in review.state.allowed() {
        let (needed, label, primary) = match action {
            ReviewAction::Submit => (Role::Editor, t.t("review.submit"), true),
            ReviewAction::Approve => (Role::Approver, t.t("review.approve"), true),
            ReviewAction::RequestChanges => (Role::Approver, t.t("review.request_changes"), false),
            ReviewAction::Supersede => continue,
        };
        if role.includes(needed) {
            buttons.push(ReviewButton {
                action: action.as_str(),
                label,
                primary,
            });
        }
    }
    let zone = format::viewer_zone(req);
    let mut values = out.values;
    values
        .entry("time_zone".into())
        .or_insert_with(|| match zone.name() {
            "UTC" => "Europe/Madrid".to_owned(),
            other => other.to_owned(),
        });
    values
        .entry("language".into())
        .or_insert_with(|| c.lang.as_str().to_owned());
    let notice = match query(req, "saved").as_deref() {
        Some("1") => Some(t.t("nl.saved")),
        Some("review") => Some(t.t("review.done")),
        Some("scheduled") => Some(t.t("nl.scheduled")),
        Some("moved") => Some(t.t("nl_actions.moved")),
        _ => None,
    };
    let draft = Draft::of(&issue);
    c.set_title(issue.name.clone());
    Ok(IssuePage {
        id,
        name: issue.name.clone(),
        notice,
        state: issue_state_label(&t, issue.state),
        state_code: issue.state.as_str(),
        lists,
        languages: issue
            .translations
            .keys()
            .map(|l| format::lang_name(&t, *l))
            .collect(),
        schedule: issue.schedule.as_ref().map(|s| {
            let at = issue
                .scheduled_at
                .map(|u| format::datetime(&t, u, zone))
                .unwrap_or_default();
            format!(
                "{} {} ({}) — {}",
                format::date(&t, s.at.date()),
                s.at.format("%H:%M"),
                s.time_zone.name(),
                at
            )
        }),
        review_state: review_state_label(&t, review.state),
        review_comment: review.comment.clone(),
        buttons,
        approved,
        can_send: role.includes(Role::Editor)
            && matches!(issue.state, IssueState::Draft | IssueState::Scheduled),
        moves: if role.includes(Role::Editor) {
            moves_of(&t, issue.state)
        } else {
            Vec::new()
        },
        can_retry: role.includes(Role::Editor)
            && approved
            && matches!(
                issue.state,
                IssueState::SentWithFailures | IssueState::Failed
            ),
        values,
        errors: out.errors,
        general_error: out.general_error,
        test_results: out.test_results,
        zones: ["Europe/Madrid", "Europe/Paris", "Europe/London", "UTC"]
            .into_iter()
            .map(|name| ZoneChoice { name })
            .collect(),
        previews: previews(state, &t, &draft),
        c,
    })
}

async fn show(state: State, req: HttpRequest, id: web::Path<i64>) -> HttpResponse {
    let Some(who) = signed_in(&req) else {
        return to_sign_in(&req);
    };
    let c = chrome(&state, &req, Some(&who), None).await;
    match issue_page(&state, &req, c, id.into_inner(), Outcome::default()).await {
        Ok(page) => render(StatusCode::OK, &page.c, &page),
        Err(res) => res,
    }
}

/// The issue page again, with the form's values and what went wrong.
/// The answer to an action on the issue: on to `next` when it was done, the
/// refusal page when the role does not allow it, else the issue page again
/// with the problem beside its field.
async fn answered<T>(
    state: &State,
    req: &HttpRequest,
    c: Chrome,
    form: &Form,
    id: i64,
    result: Result<T, Error>,
    next: &str,
) -> HttpResponse {
    match result {
        Ok(_) => see_other(next),
        Err(Error::Forbidden(_)) => page::refused(state, req, Refused::Forbidden).await,
        Err(e) => {
            let (status, out) = outcome_of(&c.tr(), form, e, &[]);
            again(state, req, c, id, status, out).await
        }
    }
}

async fn again(
    state: &State,
    req: &HttpRequest,
    c: Chrome,
    id: i64,
    status: StatusCode,
    out: Outcome,
) -> HttpResponse {
    match issue_page(state, req, c, id, out).await {
        Ok(page) => render(status, &page.c, &page),
        Err(res) => res,
    }
}

fn values_of(form: &Form) -> HashMap<String, String> {
    form.0
        .iter()
        .filter(|(k, _)| k != "csrf")
        .cloned()
        .collect()
}

/// Errors of the use-case layer: beside their field when they name one.
fn outcome_of(t: &Tr, form: &Form, e: Error, field_map: &[(&str, &str)]) -> (StatusCode, Outcome) {
    let mut out = Outcome {
        values: values_of(form),
        ..Default::default()
    };
    let status = match e {
        Error::Invalid { field, message } => {
            let field = field_map
                .iter()
                .find(|(from, _)| *from == field)
                .map(|(_, to)| (*to).to_owned())
                .unwrap_or(field);
            out.errors.insert(field, message);
            out.general_error = Some(t.t("activity.fix_errors").into());
            StatusCode::UNPROCESSABLE_ENTITY
        }
        other => {
            out.general_error = Some(other.to_string());
            StatusCode::CONFLICT
        }
    };
    (status, out)
}

async fn review(
    state: State,
    req: HttpRequest,
    id: web::Path<i64>,
    body: web::Bytes,
) -> HttpResponse {
    let (form, who) = match page::team_post_as(&state, &req, &body, |f| match review_action(f) {
        Some(ReviewAction::Submit) => Role::Editor,
        _ => Role::Approver,
    })
    .await
    {
        Ok(posted) => posted,
        Err(refusal) => return refusal,
    };
    let action = review_action(&form);
    let id = id.into_inner();
    let c = chrome(&state, &req, Some(&who), None).await;
    let t = c.tr();
    let Some(action) = action else {
        let mut out = Outcome::default();
        out.errors
            .insert("action".into(), t.t("error.invalid").into());
        return again(&state, &req, c, id, StatusCode::UNPROCESSABLE_ENTITY, out).await;
    };
    let comment = form.text("comment");
    let four_eyes = state.settings.approval.four_eyes;
    let cx = crate::app::Context::new(who.actor(), state.clock.now());
    let result = state
        .db
        .transaction(move |conn| {
            reviews::act(conn, &cx, Subject::Issue(id), action, comment, four_eyes)
        })
        .await;
    answered(
        &state,
        &req,
        c,
        &form,
        id,
        result,
        &format!("/app/newsletter/issues/{id}?saved=review"),
    )
    .await
}

async fn test_send(
    state: State,
    req: HttpRequest,
    id: web::Path<i64>,
    body: web::Bytes,
) -> HttpResponse {
    let (form, who) = match page::team_post(&state, &req, &body, Role::Editor).await {
        Ok(posted) => posted,
        Err(refusal) => return refusal,
    };
    let id = id.into_inner();
    let c = chrome(&state, &req, Some(&who), None).await;
    let t = c.tr();
    let input = serde_json::from_value::<crate::domain::newsletter::TestSendInput>(json!({
        "addresses": [form.get("address").unwrap_or_default().trim()],
        "language": form.text("language"),
    }));
    let input = match input {
        Ok(i) => i,
        Err(e) => {
            let mut out = Outcome {
                values: values_of(&form),
                ..Default::default()
            };
            let field = if e.to_string().contains("language") {
                "language"
            } else {
                "address"
            };
            out.errors.insert(field.into(), e.to_string());
            out.general_error = Some(t.t("activity.fix_errors").into());
            return again(&state, &req, c, id, StatusCode::UNPROCESSABLE_ENTITY, out).await;
        }
    };
    match crate::app::sending::send_test(
        &state.db,
        &state.settings.email,
        state.settings.server.public_url.trim_end_matches('/'),
        state.clock.now(),
        id,
        input,
    )
    .await
    {
        Ok(results) => {
            let out = Outcome {
                values: values_of(&form),
                test_results: results
                    .into_iter()
                    .map(|r| TestRow {
                        address: r.address,
                        accepted: r.accepted,
                        reply: r.reply,
                    })
                    .collect(),
                ..Default::default()
            };
            again(&state, &req, c, id, StatusCode::OK, out).await
        }
        Err(e) => {
            let (status, out) = outcome_of(&t, &form, e, &[("addresses", "address")]);
            again(&state, &req, c, id, status, out).await
        }
    }
}

async fn schedule(
    state: State,
    req: HttpRequest,
    id: web::Path<i64>,
    body: web::Bytes,
) -> HttpResponse {
    let (form, who) = match page::team_post(&state, &req, &body, Role::Editor).await {
        Ok(posted) => posted,
        Err(refusal) => return refusal,
    };
    let id = id.into_inner();
    let c = chrome(&state, &req, Some(&who), None).await;
    let t = c.tr();
    let parsed: Result<crate::domain::newsletter::ScheduleInput, _> =
        serde_path_to_error::deserialize(json!({
            "at": form.get("at").unwrap_or_default().trim(),
            "time_zone": form.get("time_zone").unwrap_or_default().trim(),
        }));
    let input = match parsed {
        Ok(i) => i,
        Err(e) => {
            let mut out = Outcome {
                values: values_of(&form),
                ..Default::default()
            };
            out.errors
                .insert(field_of(&e.path().to_string()), e.into_inner().to_string());
            out.general_error = Some(t.t("activity.fix_errors").into());
            return again(&state, &req, c, id, StatusCode::UNPROCESSABLE_ENTITY, out).await;
        }
    };
    let ready = crate::app::sending::ready_to_send(&state.settings.email);
    let cx = crate::app::Context::new(who.actor(), state.clock.now());
    let result = match ready {
        Ok(()) => {
            state
                .db
                .transaction(move |conn| crate::app::sending::schedule_issue(conn, &cx, id, &input))
                .await
        }
        Err(e) => Err(e),
    };
    answered(
        &state,
        &req,
        c,
        &form,
        id,
        result,
        &format!("/app/newsletter/issues/{id}?saved=scheduled"),
    )
    .await
}

async fn send_now(
    state: State,
    req: HttpRequest,
    id: web::Path<i64>,
    body: web::Bytes,
) -> HttpResponse {
    let (form, who) = match page::team_post(&state, &req, &body, Role::Editor).await {
        Ok(posted) => posted,
        Err(refusal) => return refusal,
    };
    let id = id.into_inner();
    let c = chrome(&state, &req, Some(&who), None).await;
    let ready = crate::app::sending::ready_to_send(&state.settings.email);
    let cx = crate::app::Context::new(who.actor(), state.clock.now());
    let domain = crate::dispatch::message_domain(&state.settings.email);
    let result = match ready {
        Ok(()) => {
            state
                .db
                .transaction(move |conn| {
                    crate::app::sending::send_issue_now(conn, &cx, id, &domain)
                })
                .await
        }
        Err(e) => Err(e),
    };
    answered(
        &state,
        &req,
        c,
        &form,
        id,
        result,
        &format!("/app/newsletter/issues/{id}/progress"),
    )
    .await
}

/// Back to draft, pause, resume or cancel, through
/// `app::sending::move_issue` (as the API's `…/unschedule`, `…/pause`,
/// `…/resume`, `…/cancel`); a move the state does not allow
/// is the issue page again saying why.
async fn move_to(
    state: State,
    req: HttpRequest,
    path: web::Path<(i64, String)>,
    body: web::Bytes,
) -> HttpResponse {
    use crate::app::sending::IssueMove;
    let (id, to) = path.into_inner();
    // The route admits only these four.
    let to = match to.as_str() {
        "pause" => IssueMove::Pause,
        "resume" => IssueMove::Resume,
        "unschedule" => IssueMove::Unschedule,
        _ => IssueMove::Cancel,
    };
    let (form, who) = match page::team_post(&state, &req, &body, Role::Editor).await {
        Ok(posted) => posted,
        Err(refusal) => return refusal,
    };
    let c = chrome(&state, &req, Some(&who), None).await;
    let cx = crate::app::Context::new(who.actor(), state.clock.now());
    let result = state
        .db
        .transaction(move |conn| crate::app::sending::move_issue(conn, &cx, id, to))
        .await;
    answered(
        &state,
        &req,
        c,
        &form,
        id,
        result,
        &format!("/app/newsletter/issues/{id}?saved=moved"),
    )
    .await
}

/// Queues the failed deliveries again (and, ticked, those of unknown
/// outcome), through `app::sending::retry_failed`; on to the progress page.
async fn retry_failed(
    state: State,
    req: HttpRequest,
    id: web::Path<i64>,
    body: web::Bytes,
) -> HttpResponse {
    let (form, who) = match page::team_post(&state, &req, &body, Role::Editor).await {
        Ok(posted) => posted,
        Err(refusal) => return refusal,
    };
    let id = id.into_inner();
    let c = chrome(&state, &req, Some(&who), None).await;
    let include_unknown = form.get("include_unknown").is_some();
    let cx = crate::app::Context::new(who.actor(), state.clock.now());
    let result = state
        .db
        .transaction(move |conn| crate::app::sending::retry_failed(conn, &cx, id, include_unknown))
        .await;
    answered(
        &state,
        &req,
        c,
        &form,
        id,
        result,
        &format!("/app/newsletter/issues/{id}/progress"),
    )
    .await
}

// ---------------------------------------------------------------- progress

pub struct CountView {
    pub label: &'static str,
    pub code: &'static str,
    pub count: i64,
}

#[derive(askama::Template)]
#[template(path = "team/newsletter_progress_counts.html")]
pub struct CountsFragment {
    pub c: Chrome,
    pub id: i64,
    pub live: bool,
    pub state: &'static str,
    pub state_code: &'static str,
    pub total: i64,
    pub counts: Vec<CountView>,
    pub rate: String,
    pub eta: Option<String>,
}

pub struct DeliveryRow {
    pub email: String,
    pub language: &'static str,
    pub state: &'static str,
    pub state_code: &'static str,
    pub attempts: i32,
    pub reply: String,
    pub sent_at: String,
    pub bounced_at: String,
}

pub struct StateFilter {
    pub value: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

#[derive(askama::Template)]
#[template(path = "team/newsletter_progress.html")]
pub struct ProgressPage {
    pub c: Chrome,
    pub id: i64,
    pub name: String,
    /// The counts fragment, rendered (the same htmx polls).
    pub counts: String,
    pub rows: Vec<DeliveryRow>,
    pub filters: Vec<StateFilter>,
    pub prev: Option<String>,
    pub next: Option<String>,
    pub page_label: String,
}

fn counts_view(c: Chrome, id: i64, p: &Progress) -> CountsFragment {
    let t = c.tr();
    let counts = [
        (DeliveryState::Queued, p.queued),
        (DeliveryState::Sending, p.sending),
        (DeliveryState::Sent, p.sent),
        (DeliveryState::Retry, p.retry),
        (DeliveryState::Failed, p.failed),
        (DeliveryState::Unknown, p.unknown),
        (DeliveryState::Cancelled, p.cancelled),
    ]
    .into_iter()
    .map(|(s, n)| CountView {
        label: delivery_state_label(&t, s),
        code: s.as_str(),
        count: n,
    })
    .collect();
    CountsFragment {
        id,
        live: matches!(p.state, IssueState::Sending | IssueState::Scheduled),
        state: issue_state_label(&t, p.state),
        state_code: p.state.as_str(),
        total: p.total,
        counts,
        rate: t
            .t("nl.rate")
            .replace("{n}", &p.sent_last_minute.to_string()),
        eta: p.eta_seconds.map(|s| {
            t.t("nl.eta")
                .replace("{m}", &(s / 60).to_string())
                .replace("{s}", &(s % 60).to_string())
        }),
        c,
    }
}

const PER_PAGE: i64 = 50;

async fn progress_page(state: State, req: HttpRequest, id: web::Path<i64>) -> HttpResponse {
    let Some(who) = signed_in(&req) else {
        return to_sign_in(&req);
    };
    let mut c = chrome(&state, &req, Some(&who), None).await;
    let t = c.tr();
    let id = id.into_inner();
    let filter = query(&req, "state").and_then(|s| s.parse::<DeliveryState>().ok());
    let page_no = query(&req, "page")
        .and_then(|p| p.parse::<i64>().ok())
        .unwrap_or(1)
        .max(1);
    let now = state.clock.now();
    let found = state
        .db
        .run(move |conn| {
            let issue = crate::db::issues::get(conn, id)?;
            let progress = crate::db::issues::progress(conn, id, now)?;
            let rows = crate::db::deliveries::of_issue(
                conn,
                id,
                filter,
                PageRequest {
                    page: Some(page_no),
                    per_page: Some(PER_PAGE),
                },
            )?;
            Ok((issue, progress, rows))
        })
        .await;
    let (issue, progress, rows) = match found {
        Ok(f) => f,
        Err(e) => return page::error_page(&mut c, &e),
    };
    let zone = format::viewer_zone(&req);
    let when = |at: Option<chrono::DateTime<chrono::Utc>>| {
        at.map(|a| format::datetime(&t, a, zone))
            .unwrap_or_default()
    };
    let pages = ((rows.total + PER_PAGE - 1) / PER_PAGE).max(1);
    let link = |p: i64| {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        if let Some(s) = filter {
            q.append_pair("state", s.as_str());
        }
        q.append_pair("page", &p.to_string());
        format!("/app/newsletter/issues/{id}/progress?{}", q.finish())
    };
    c.set_title(format!("{} · {}", t.t("nl.progress"), issue.name));
    let counts_chrome = chrome(&state, &req, Some(&who), None).await;
    let page = ProgressPage {
        id,
        name: issue.name,
        counts: {
            use askama::Template;
            counts_view(counts_chrome, id, &progress)
                .render()
                .unwrap_or_default()
        },
        rows: rows
            .items
            .iter()
            .map(|d| DeliveryRow {
                email: d.email.clone(),
                language: format::lang_name(&t, d.language),
                state: delivery_state_label(&t, d.state),
                state_code: d.state.as_str(),
                attempts: d.attempts,
                reply: match (d.smtp_code, &d.smtp_reply) {
                    (Some(code), Some(r)) => format!("{code} {r}"),
                    (Some(code), None) => code.to_string(),
                    (None, Some(r)) => r.clone(),
                    (None, None) => String::new(),
                },
                sent_at: when(d.sent_at),
                bounced_at: when(d.bounced_at),
            })
            .collect(),
        filters: DeliveryState::ALL
            .iter()
            .map(|s| StateFilter {
                value: s.as_str(),
                label: delivery_state_label(&t, *s),
                selected: filter == Some(*s),
            })
            .collect(),
        prev: (page_no > 1).then(|| link(page_no - 1)),
        next: (page_no < pages).then(|| link(page_no + 1)),
        page_label: t
            .t("nl.page_of")
            .replace("{page}", &page_no.to_string())
            .replace("{pages}", &pages.to_string()),
        c,
    };
    render(StatusCode::OK, &page.c, &page)
}

/// The counts alone, for htmx's polling.
async fn progress_fragment(state: State, req: HttpRequest, id: web::Path<i64>) -> HttpResponse {
    let Some(who) = signed_in(&req) else {
        return to_sign_in(&req);
    };
    let mut c = chrome(&state, &req, Some(&who), None).await;
    let (id, now) = (id.into_inner(), state.clock.now());
    let progress = match state
        .db
        .run(move |conn| crate::db::issues::progress(conn, id, now))
        .await
    {
        Ok(p) => p,
        Err(e) => return page::error_page(&mut c, &e),
    };
    let fragment = counts_view(c, id, &progress);
    render(StatusCode::OK, &fragment.c, &fragment)
}
