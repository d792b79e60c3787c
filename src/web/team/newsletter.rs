//! The newsletter's team pages: lists and their subscribers (search, import
//! CSV with every bad line shown beside the form, export CSV), and the index
//! of issues. The issues' own pages (composer, review, sending, progress) are
//! in `newsletter_issue.rs`. Reads go through `db` queries; writes only
//! through `app::subscribers`.

use super::super::page::{self, Chrome, Refused, State, chrome, render, signed_in, to_sign_in};
use super::newsletter_issue::{self, issue_state_label};
use super::query;
use crate::db::PageRequest;
use crate::db::subscribers::SubscriberFilter;
use crate::domain::Role;
use crate::domain::newsletter::{SubscriberStatus, SubscriptionStatus};
use crate::web::i18n::Tr;
use crate::web::multipart;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/app/newsletter", web::get().to(index))
        .route("/app/newsletter/lists/{id}", web::get().to(list_page))
        .route("/app/newsletter/lists/{id}/import", web::post().to(import));
    newsletter_issue::configure(cfg);
}

pub struct ListRow {
    pub id: i64,
    pub name: String,
    pub slug: String,
    pub confirmed: i64,
}

pub struct IssueRow {
    pub id: i64,
    pub name: String,
    pub state: &'static str,
    pub state_code: &'static str,
}

#[derive(askama::Template)]
#[template(path = "team/newsletter.html")]
pub struct IndexPage {
    pub c: Chrome,
    pub lists: Vec<ListRow>,
    pub issues: Vec<IssueRow>,
}

async fn index(state: State, req: HttpRequest) -> HttpResponse {
    let Some(who) = signed_in(&req) else {
        return to_sign_in(&req);
    };
    let mut c = chrome(&state, &req, Some(&who), None).await;
    let t = c.tr();
    let all = PageRequest {
        page: Some(1),
        per_page: Some(200),
    };
    let found = state
        .db
        .run(move |conn| {
            let lists = crate::db::subscribers::list_lists(conn, all)?.items;
            let issues = crate::db::issues::list(conn, None, all)?.items;
            Ok((lists, issues))
        })
        .await;
    let (lists, issues) = match found {
        Ok(f) => f,
        Err(e) => return page::error_page(&mut c, &e),
    };
    c.set_title(t.t("nl.title"));
    let page = IndexPage {
        lists: lists
            .into_iter()
            .map(|l| ListRow {
                id: l.id,
                name: l.name,
                slug: l.slug,
                confirmed: l.confirmed_subscribers,
            })
            .collect(),
        issues: issues
            .into_iter()
            .map(|i| IssueRow {
                id: i.id,
                name: i.name,
                state: issue_state_label(&t, i.state),
                state_code: i.state.as_str(),
            })
            .collect(),
        c,
    };
    render(StatusCode::OK, &page.c, &page)
}

pub struct SubscriberRow {
    pub email: String,
    pub name: String,
    pub language: &'static str,
    pub subscription: &'static str,
    pub status: &'static str,
    pub suppressed: Option<String>,
}

pub struct LineError {
    pub line: u64,
    pub message: String,
}

#[derive(askama::Template)]
#[template(path = "team/newsletter_list.html")]
pub struct ListPage {
    pub c: Chrome,
    pub id: i64,
    pub name: String,
    pub search: String,
    pub total: i64,
    pub rows: Vec<SubscriberRow>,
    pub prev: Option<String>,
    pub next: Option<String>,
    pub page_label: String,
    pub csv: String,
    pub confirmed: bool,
    pub source: String,
    pub csv_error: Option<String>,
    /// Beside the file input: too large, not UTF-8.
    pub file_error: Option<String>,
    pub file_hint: String,
    pub source_error: Option<String>,
    pub line_errors: Vec<LineError>,
    pub imported: Option<String>,
    pub export: String,
}

fn subscription_label(t: &Tr, s: SubscriptionStatus) -> &'static str {
    match s {
        SubscriptionStatus::Pending => t.t("nl.sub.pending"),
        SubscriptionStatus::Confirmed => t.t("nl.sub.confirmed"),
        SubscriptionStatus::Unsubscribed => t.t("nl.sub.unsubscribed"),
    }
}

fn subscriber_label(t: &Tr, s: SubscriberStatus) -> &'static str {
    match s {
        SubscriberStatus::Active => t.t("nl.subscriber.active"),
        SubscriberStatus::Bounced => t.t("nl.subscriber.bounced"),
        SubscriberStatus::Complained => t.t("nl.subscriber.complained"),
    }
}

const PER_PAGE: i64 = 50;

/// What the import form held, and what it led to.
#[derive(Default)]
struct ImportForm {
    csv: String,
    confirmed: bool,
    source: String,
    csv_error: Option<String>,
    file_error: Option<String>,
    source_error: Option<String>,
    line_errors: Vec<LineError>,
    imported: Option<String>,
}

/// The largest subscriber CSV file (or pasted text) the import takes.
pub const IMPORT_MAX_BYTES: usize = 5 * 1024 * 1024;

/// A size for people: "5 MB".
fn size_label(bytes: usize) -> String {
    format!("{} MB", bytes / (1024 * 1024))
}

async fn list_view(
    state: &State,
    req: &HttpRequest,
    mut c: Chrome,
    id: i64,
    form: ImportForm,
) -> Result<ListPage, HttpResponse> {
    let t = c.tr();
    let search = query(req, "q").unwrap_or_default();
    let page_no = query(req, "page")
        .and_then(|p| p.parse::<i64>().ok())
        .unwrap_or(1)
        .max(1);
    let filter = SubscriberFilter {
        list_id: Some(id),
        search: Some(search.clone()).filter(|s| !s.is_empty()),
        ..Default::default()
    };
    let found = state
        .db
        .run(move |conn| {
            let list = crate::db::subscribers::get_list(conn, id)?;
            let found = crate::db::subscribers::list_subscribers(
                conn,
                &filter,
                PageRequest {
                    page: Some(page_no),
                    per_page: Some(PER_PAGE),
                },
            )?;
            Ok((list, found))
        })
        .await;
    let (list, found) = match found {
        Ok(f) => f,
        Err(e) => return Err(page::error_page(&mut c, &e)),
    };
    let zone = crate::web::format::viewer_zone(req);
    let rows = found
        .items
        .iter()
        .map(|s| SubscriberRow {
            email: s.email.clone(),
            name: s.name.clone().unwrap_or_default(),
            language: crate::web::format::lang_name(&t, s.language),
            subscription: s
                .subscriptions
                .iter()
                .find(|x| x.list_id == id)
                .map(|x| subscription_label(&t, x.status))
                .unwrap_or(""),
            status: subscriber_label(&t, s.status),
            suppressed: s.suppressed_at.map(|at| {
                format!(
                    "{} · {}",
                    crate::web::format::datetime(&t, at, zone),
                    s.suppression_reason.clone().unwrap_or_default()
                )
            }),
        })
        .collect();
    let link = |p: i64| {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        if !search.is_empty() {
            q.append_pair("q", &search);
        }
        q.append_pair("page", &p.to_string());
        format!("/app/newsletter/lists/{id}?{}", q.finish())
    };
    let pages = found.pages();
    c.set_title(format!("{} · {}", t.t("nl.list"), list.name));
    Ok(ListPage {
        id,
        name: list.name,
        total: found.total,
        rows,
        prev: (page_no > 1).then(|| link(page_no - 1)),
        next: (page_no < pages).then(|| link(page_no + 1)),
        page_label: t
            .t("nl.page_of")
            .replace("{page}", &page_no.to_string())
            .replace("{pages}", &pages.to_string()),
        search,
        csv: form.csv,
        confirmed: form.confirmed,
        source: form.source,
        csv_error: form.csv_error,
        file_error: form.file_error,
        file_hint: t
            .t("csv_file.hint")
            .replace("{size}", &size_label(IMPORT_MAX_BYTES)),
        source_error: form.source_error,
        line_errors: form.line_errors,
        imported: form.imported,
        export: format!("/api/v1/lists/{id}/export.csv"),
        c,
    })
}

async fn list_page(state: State, req: HttpRequest, id: web::Path<i64>) -> HttpResponse {
    let Some(who) = signed_in(&req) else {
        return to_sign_in(&req);
    };
    let c = chrome(&state, &req, Some(&who), None).await;
    let imported = query(&req, "imported").map(|n| c.tr().t("nl.imported").replace("{n}", &n));
    let form = ImportForm {
        imported,
        ..Default::default()
    };
    match list_view(&state, &req, c, id.into_inner(), form).await {
        Ok(page) => render(StatusCode::OK, &page.c, &page),
        Err(res) => res,
    }
}

/// A body over the import's limit: nothing was read past it, nothing is
/// written; the list page says so (413) to an editor signed in.
async fn too_large(state: &State, req: &HttpRequest, id: i64) -> HttpResponse {
    let Some(who) = crate::http::auth::from_session_cookie(state, req).await else {
        return page::refused(state, req, Refused::SignedOut).await;
    };
    if !who.role.includes(Role::Editor) {
        return page::refused(state, req, Refused::Forbidden).await;
    }
    let c = chrome(state, req, Some(&who), None).await;
    let message = c
        .tr()
        .t("csv_file.too_large")
        .replace("{size}", &size_label(IMPORT_MAX_BYTES));
    let f = ImportForm {
        csv_error: Some(message.clone()),
        file_error: Some(message),
        ..Default::default()
    };
    match list_view(state, req, c, id, f).await {
        Ok(page) => render(StatusCode::PAYLOAD_TOO_LARGE, &page.c, &page),
        Err(res) => res,
    }
}

/// The list page again, with the import form as it was sent and what is wrong.
async fn refuse(
    state: &State,
    req: &HttpRequest,
    c: Chrome,
    id: i64,
    f: ImportForm,
) -> HttpResponse {
    match list_view(state, req, c, id, f).await {
        Ok(page) => render(StatusCode::UNPROCESSABLE_ENTITY, &page.c, &page),
        Err(res) => res,
    }
}

/// The import: the CSV pasted into the form (columns `email`, optional `name`
/// and `language`). Any bad line: every bad line is listed beside the form and
/// nothing is imported.
async fn import(
    state: State,
    req: HttpRequest,
    id: web::Path<i64>,
    payload: web::Payload,
) -> HttpResponse {
    let id = id.into_inner();
    let body = match multipart::read_body(payload, IMPORT_MAX_BYTES).await {
        Ok(body) => body,
        Err(multipart::Unreadable::TooLarge) => return too_large(&state, &req, id).await,
        Err(multipart::Unreadable::Malformed) => Vec::new(),
    };
    let (upload, who) = match page::team_upload(&state, &req, &body, Role::Editor).await {
        Ok(posted) => posted,
        Err(refusal) => return refusal,
    };
    let form = &upload.form;
    let c = chrome(&state, &req, Some(&who), None).await;
    let t = c.tr();
    let mut f = ImportForm {
        csv: form.get("csv").unwrap_or_default().to_owned(),
        confirmed: form.get("confirmed").is_some(),
        source: form.get("source").unwrap_or_default().to_owned(),
        ..Default::default()
    };
    // A file chosen takes the place of the pasted text.
    let text = match upload.file("file") {
        Some(file) => {
            let data = file
                .data
                .strip_prefix(b"\xEF\xBB\xBF".as_slice())
                .unwrap_or(&file.data);
            match std::str::from_utf8(data) {
                Ok(text) => text.to_owned(),
                Err(_) => {
                    f.file_error = Some(t.t("csv_file.not_utf8").into());
                    f.csv_error = f.file_error.clone();
                    return refuse(&state, &req, c, id, f).await;
                }
            }
        }
        None => f.csv.clone(),
    };
    if text.trim().is_empty() {
        f.csv_error = Some(t.t("nl.csv_empty").into());
        return refuse(&state, &req, c, id, f).await;
    }
    let source = match (f.source.trim(), f.confirmed) {
        ("", true) => {
            f.source_error = Some(t.t("nl.source_needed").into());
            return refuse(&state, &req, c, id, f).await;
        }
        ("", false) => format!("import:{}", who.name),
        (s, _) => format!("import:{}: {}", who.name, s),
    };
    let list = match state
        .db
        .run(move |conn| crate::db::subscribers::get_list(conn, id))
        .await
    {
        Ok(l) => l,
        Err(e) => {
            let mut c = c;
            return page::error_page(&mut c, &e);
        }
    };
    let rows = match crate::db::subscriber_csv::parse(text.as_bytes(), list.default_language) {
        Ok(rows) => rows,
        Err(errors) => {
            f.csv_error = Some(
                t.t("nl.csv_invalid")
                    .replace("{n}", &errors.len().to_string()),
            );
            f.line_errors = errors
                .into_iter()
                .map(|e| LineError {
                    line: e.line,
                    message: e.message,
                })
                .collect();
            return refuse(&state, &req, c, id, f).await;
        }
    };
    let hours = state.settings.email.confirm_link_hours;
    let domain = crate::dispatch::message_domain(&state.settings.email);
    let cx = crate::app::Context::new(who.actor(), state.clock.now());
    let confirmed = f.confirmed;
    let result = state
        .db
        .transaction(move |conn| {
            crate::app::subscribers::import_csv(
                conn,
                &cx,
                id,
                &rows,
                confirmed,
                &source,
                hours,
                &domain,
                &crate::app::progress::Silent,
            )
        })
        .await;
    match result {
        Ok(report) => page::see_other(&format!(
            "/app/newsletter/lists/{id}?imported={}",
            report.subscribed
        )),
        Err(crate::Error::Forbidden(_)) => page::refused(&state, &req, Refused::Forbidden).await,
        Err(crate::Error::Invalid { field, message }) => {
            f.csv_error = Some(format!("{field}: {message}"));
            refuse(&state, &req, c, id, f).await
        }
        Err(e) => {
            let mut c = c;
            page::error_page(&mut c, &e)
        }
    }
}
