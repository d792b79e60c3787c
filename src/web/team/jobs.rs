//! The jobs page (administrators): the jobs held for a person (outcome
//! unknown) first, then every job filtered by state and kind, newest first,
//! each with the actions the API offers on it (run again: failed, unknown
//! or cancelled; cancel: queued or unknown), and one job's attempts. Through
//! `app::jobs` only, as the API's `/api/v1/jobs`.

use super::super::format;
use super::super::i18n::Tr;
use super::super::page::{self, Refused, State, chrome, render, signed_in};
use super::webhooks::{job_state_class, job_state_label};
use crate::app::jobs::JobDetail;
use crate::domain::Role;
use crate::domain::job::{JobState, JobView};
use crate::domain::zone::Zone;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/app/jobs", web::get().to(list))
        .route("/app/jobs/{id}/{action:retry|cancel}", web::post().to(act));
}

const PER_PAGE: i64 = 50;

pub const STATES: [JobState; 6] = [
    JobState::Queued,
    JobState::Running,
    JobState::Done,
    JobState::Failed,
    JobState::Unknown,
    JobState::Cancelled,
];

pub struct JobRow {
    pub id: i64,
    pub kind: String,
    pub key: String,
    pub state: &'static str,
    pub state_class: &'static str,
    pub attempts: i32,
    pub last_result: Option<String>,
    pub remote_url: Option<String>,
    pub next_attempt: String,
    pub can_retry: bool,
    pub can_cancel: bool,
}

pub struct AttemptRow {
    pub attempt: i32,
    pub started: String,
    pub outcome: String,
    pub status: Option<i32>,
    pub request: Option<String>,
    pub reply: Option<String>,
}

#[derive(askama::Template)]
#[template(path = "team/jobs.html")]
pub struct JobsPage {
    pub c: page::Chrome,
    pub notice: Option<&'static str>,
    pub held: Vec<JobRow>,
    pub jobs: Vec<JobRow>,
    pub states: Vec<(&'static str, &'static str, bool)>,
    pub kind: String,
    pub state_error: Option<&'static str>,
    pub detail: Option<(Vec<JobRow>, Vec<AttemptRow>)>,
    pub next: Option<String>,
}

fn row(t: &Tr, zone: Zone, j: &JobView) -> JobRow {
    JobRow {
        id: j.id,
        kind: j.kind.clone(),
        key: j.idempotency_key.clone(),
        state: job_state_label(t, j.state),
        state_class: job_state_class(j.state),
        attempts: j.attempts,
        last_result: j.last_result.clone(),
        remote_url: j.remote_url.clone(),
        next_attempt: format::datetime(t, j.next_attempt_at, zone),
        can_retry: matches!(
            j.state,
            JobState::Failed | JobState::Unknown | JobState::Cancelled
        ),
        can_cancel: matches!(j.state, JobState::Queued | JobState::Unknown),
    }
}

/// `GET /app/jobs?state=&kind=&page=&job=`.
pub async fn list(state: State, req: HttpRequest) -> HttpResponse {
    let Some(who) = signed_in(&req) else {
        return page::to_sign_in(&req);
    };
    if !who.role.includes(Role::Admin) {
        return page::refused(&state, &req, Refused::Forbidden).await;
    }
    let mut c = chrome(&state, &req, Some(&who), None).await;
    let t = c.tr();
    let zone = format::viewer_zone(&req);
    let wanted_state = super::query(&req, "state");
    let (filter, state_error) = match wanted_state.as_deref().map(str::parse::<JobState>) {
        None => (None, None),
        Some(Ok(s)) => (Some(s), None),
        Some(Err(_)) => (None, Some(t.t("jobs_page.bad_state"))),
    };
    let kind = super::query(&req, "kind");
    let page_no = super::query(&req, "page")
        .and_then(|p| p.parse::<i64>().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1);
    let job = super::query(&req, "job").and_then(|j| j.parse::<i64>().ok());
    let cx = crate::app::Context::new(who.actor(), state.clock.now());
    let kind_q = kind.clone();
    let found = state
        .db
        .run(move |conn| {
            let held = crate::app::jobs::list(conn, &cx, None, Some(JobState::Unknown), 1, 100)?;
            let jobs = crate::app::jobs::list(
                conn,
                &cx,
                kind_q.as_deref(),
                filter,
                page_no,
                PER_PAGE + 1,
            )?;
            let detail: Option<JobDetail> = match job {
                Some(id) => Some(crate::app::jobs::get(conn, &cx, id)?),
                None => None,
            };
            Ok((held, jobs, detail))
        })
        .await;
    let (held, mut jobs, detail) = match found {
        Ok(f) => f,
        Err(e) => return page::error_page(&mut c, &e),
    };
    let next = (jobs.len() as i64 > PER_PAGE).then(|| {
        jobs.truncate(PER_PAGE as usize);
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        if let Some(s) = filter {
            q.append_pair("state", s.as_str());
        }
        if let Some(k) = &kind {
            q.append_pair("kind", k);
        }
        q.append_pair("page", &(page_no + 1).to_string());
        format!("/app/jobs?{}", q.finish())
    });
    let notice = match super::query(&req, "saved").as_deref() {
        Some("retry") => Some(t.t("jobs_page.retried")),
        Some("cancel") => Some(t.t("jobs_page.cancelled")),
        _ => None,
    };
    c.set_title(t.t("jobs_page.title"));
    let page = JobsPage {
        notice,
        held: held.iter().map(|j| row(&t, zone, j)).collect(),
        jobs: jobs.iter().map(|j| row(&t, zone, j)).collect(),
        states: STATES
            .iter()
            .map(|s| (s.as_str(), job_state_label(&t, *s), Some(*s) == filter))
            .collect(),
        kind: kind.unwrap_or_default(),
        state_error,
        detail: detail.map(|d| {
            (
                vec![row(&t, zone, &d.job)],
                d.attempts
                    .iter()
                    .map(|a| AttemptRow {
                        attempt: a.attempt,
                        started: format::datetime(&t, a.started_at, zone),
                        outcome: a.outcome.to_string(),
                        status: a.status,
                        request: a.request.clone(),
                        reply: a.reply.clone(),
                    })
                    .collect(),
            )
        }),
        next,
        c,
    };
    let status = if page.state_error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render(status, &page.c, &page)
}

/// `POST /app/jobs/{id}/{retry|cancel}`: `app::jobs::retry` / `cancel`; a
/// move the job's state does not allow is a 409 page, nothing changed.
pub async fn act(
    state: State,
    req: HttpRequest,
    path: web::Path<(i64, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let (id, action) = path.into_inner();
    let retry = action == "retry";
    let acted = page::act(&state, &req, &body, Role::Admin, |_, cx| {
        move |conn: &mut crate::db::DbConnection| {
            if retry {
                crate::app::jobs::retry(conn, &cx, id)
            } else {
                crate::app::jobs::cancel(conn, &cx, id)
            }
        }
    })
    .await;
    match acted {
        Ok(acted) => acted.redirect_or_error(|_| format!("/app/jobs?saved={action}")),
        Err(refusal) => refusal,
    }
}
