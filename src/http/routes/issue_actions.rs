//! What can be done to a newsletter issue beyond editing it: preview, test
//! send, schedule, send now, pause, resume, cancel, retry the failed, and
//! follow its progress recipient by recipient.

use super::State;
use crate::app::sending::IssueMove;
use crate::db::{Page, deliveries, issues as db};
use crate::dispatch::{self, message_domain};
use crate::domain::Language;
use crate::domain::newsletter::{
    DeliveryState, DeliveryView, Issue, Preview, Progress, ScheduleInput, TestSendInput,
    TestSendResult,
};
use crate::domain::text::Name;
use crate::error::Error;
use crate::http::auth::{Editor, Viewer};
use crate::http::json::Json;
use crate::http::problem::{ApiError, ApiResult, Problem};
use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(preview)
        .service(test_send)
        .service(schedule)
        .service(unschedule)
        .service(send_now)
        .service(pause)
        .service(resume)
        .service(cancel)
        .service(retry)
        .service(progress)
        .service(deliveries_page)
        .service(report_csv);
}

/// Sending to real people needs the sender's identity in the footer.
fn check_ready(state: &State) -> Result<(), ApiError> {
    crate::app::sending::ready_to_send(&state.settings.email).map_err(Into::into)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct PreviewQuery {
    /// The language wanted; the fallback order applies (default en).
    lang: Option<Language>,
    /// Name put in `{{name}}` (default "Ana").
    #[param(value_type = Option<String>, max_length = 200)]
    name: Option<Name>,
}

/// The issue rendered as a recipient in `lang` would get it.
#[utoipa::path(tag = "newsletter", params(("id" = i64, Path), PreviewQuery), security(("bearer" = ["viewer"])),
    responses((status = 200, body = Preview), (status = 404, body = Problem)))]
#[get("/issues/{id}/preview")]
async fn preview(
    _: Viewer,
    state: State,
    id: web::Path<i64>,
    q: crate::http::query::Query<PreviewQuery>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let issue = state.db.run(move |c| db::get(c, id)).await?;
    let wanted = q.lang.unwrap_or(Language::En);
    let name = q
        .name
        .as_ref()
        .map_or_else(|| "Ana".to_owned(), |n| n.as_str().to_owned());
    let (language, prepared) = dispatch::content::prepare(&issue, wanted, &state.settings.email)
        .ok_or_else(|| Error::not_found("translation", wanted))?;
    let url = dispatch::content::unsubscribe_url(&public_url(&state), "preview");
    let body = prepared.newsletter.personalise(&name, &url);
    Ok(HttpResponse::Ok().json(Preview {
        language,
        subject: crate::email::render::personalise_subject(&prepared.subject, &name),
        html: body.html,
        text: body.text,
    }))
}

fn public_url(state: &State) -> String {
    state
        .settings
        .server
        .public_url
        .trim_end_matches('/')
        .to_owned()
}

/// Sends the issue now to 1-10 addresses, marked as a test, and reports what
/// the relay answered for each. Nothing is recorded as a delivery.
#[utoipa::path(tag = "newsletter", params(("id" = i64, Path)), request_body = TestSendInput,
    security(("bearer" = ["editor"])),
    responses((status = 200, body = Vec<TestSendResult>), (status = 422, body = Problem)))]
#[post("/issues/{id}/test")]
async fn test_send(
    _: Editor,
    state: State,
    id: web::Path<i64>,
    input: Json<TestSendInput>,
) -> ApiResult<HttpResponse> {
    let results = crate::app::sending::send_test(
        &state.db,
        &state.settings.email,
        &public_url(&state),
        state.clock.now(),
        id.into_inner(),
        input.0,
    )
    .await?;
    Ok(HttpResponse::Ok().json(results))
}

/// Schedules sending at a local time in an IANA zone (or moves the time).
#[utoipa::path(tag = "newsletter", params(("id" = i64, Path)), request_body = ScheduleInput,
    security(("bearer" = ["editor"])),
    responses((status = 200, body = Issue), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/issues/{id}/schedule")]
async fn schedule(
    who: Editor,
    state: State,
    req: actix_web::HttpRequest,
    id: web::Path<i64>,
    input: Json<ScheduleInput>,
) -> ApiResult<HttpResponse> {
    check_ready(&state)?;
    let (id, input) = (id.into_inner(), input.0);
    let cx = super::context(&state, &who.0, &req);
    let issue = state
        .db
        .transaction(move |c| crate::app::sending::schedule_issue(c, &cx, id, &input))
        .await?;
    Ok(HttpResponse::Ok().json(issue))
}

/// Takes a scheduled issue back to draft.
#[utoipa::path(tag = "newsletter", params(("id" = i64, Path)), security(("bearer" = ["editor"])),
    responses((status = 200, body = Issue), (status = 409, body = Problem)))]
#[post("/issues/{id}/unschedule")]
async fn unschedule(
    who: Editor,
    state: State,
    req: actix_web::HttpRequest,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    move_issue(&who, &state, &req, id.into_inner(), IssueMove::Unschedule).await
}

async fn move_issue(
    who: &Editor,
    state: &State,
    req: &actix_web::HttpRequest,
    id: i64,
    to: IssueMove,
) -> ApiResult<HttpResponse> {
    let cx = super::context(state, &who.0, req);
    let issue = state
        .db
        .transaction(move |c| crate::app::sending::move_issue(c, &cx, id, to))
        .await?;
    Ok(HttpResponse::Ok().json(issue))
}

#[derive(Serialize, ToSchema)]
struct Started {
    issue: Issue,
    /// Deliveries queued: the confirmed, unsuppressed subscribers, each once.
    queued: i64,
}

/// Sends now: the audience is fixed at this moment.
#[utoipa::path(tag = "newsletter", params(("id" = i64, Path)), security(("bearer" = ["editor"])),
    responses((status = 202, body = Started), (status = 409, body = Problem)))]
#[post("/issues/{id}/send")]
async fn send_now(
    who: Editor,
    state: State,
    req: actix_web::HttpRequest,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    check_ready(&state)?;
    let id = id.into_inner();
    let cx = super::context(&state, &who.0, &req);
    let domain = message_domain(&state.settings.email);
    let (issue, queued) = state
        .db
        .transaction(move |c| crate::app::sending::send_issue_now(c, &cx, id, &domain))
        .await?;
    Ok(HttpResponse::Accepted().json(Started { issue, queued }))
}

macro_rules! transition_route {
    ($(#[$doc:meta])* $name:ident, $path:literal, $call:expr) => {
        $(#[$doc])*
        #[utoipa::path(tag = "newsletter", params(("id" = i64, Path)), security(("bearer" = ["editor"])),
            responses((status = 200, body = Issue), (status = 404, body = Problem), (status = 409, body = Problem)))]
        #[post($path)]
        async fn $name(
            who: Editor,
            state: State,
            req: actix_web::HttpRequest,
            id: web::Path<i64>,
        ) -> ApiResult<HttpResponse> {
            move_issue(&who, &state, &req, id.into_inner(), $call).await
        }
    };
}

transition_route!(
    /// Stops sending after the messages in flight; nobody is sent twice on resume.
    pause,
    "/issues/{id}/pause",
    IssueMove::Pause
);
transition_route!(
    /// Continues a paused issue where it stopped.
    resume,
    "/issues/{id}/resume",
    IssueMove::Resume
);
transition_route!(
    /// Cancels: what is still queued is never sent.
    cancel,
    "/issues/{id}/cancel",
    IssueMove::Cancel
);

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct RetryQuery {
    /// Also queue again the deliveries held as "outcome unknown" (they may
    /// have arrived: resending risks a duplicate).
    include_unknown: Option<bool>,
}

#[derive(Serialize, ToSchema)]
struct Requeued {
    issue: Issue,
    requeued: i64,
}

/// Queues the failed deliveries again (only those; never to addresses
/// unsubscribed or suppressed since).
#[utoipa::path(tag = "newsletter", params(("id" = i64, Path), RetryQuery), security(("bearer" = ["editor"])),
    responses((status = 200, body = Requeued), (status = 409, body = Problem)))]
#[post("/issues/{id}/retry-failed")]
async fn retry(
    who: Editor,
    state: State,
    req: actix_web::HttpRequest,
    id: web::Path<i64>,
    q: crate::http::query::Query<RetryQuery>,
) -> ApiResult<HttpResponse> {
    let (id, unknown) = (id.into_inner(), q.include_unknown.unwrap_or(false));
    let cx = super::context(&state, &who.0, &req);
    let (issue, requeued) = state
        .db
        .transaction(move |c| crate::app::sending::retry_failed(c, &cx, id, unknown))
        .await?;
    Ok(HttpResponse::Ok().json(Requeued { issue, requeued }))
}

/// Deliveries per state, the last minute's rate and the time left.
#[utoipa::path(tag = "newsletter", params(("id" = i64, Path)), security(("bearer" = ["viewer"])),
    responses((status = 200, body = Progress), (status = 404, body = Problem)))]
#[get("/issues/{id}/progress")]
async fn progress(_: Viewer, state: State, id: web::Path<i64>) -> ApiResult<HttpResponse> {
    let (id, now) = (id.into_inner(), state.clock.now());
    let progress = state.db.run(move |c| db::progress(c, id, now)).await?;
    Ok(HttpResponse::Ok().json(progress))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct DeliveryFilters {
    state: Option<DeliveryState>,
    page: Option<i64>,
    per_page: Option<i64>,
}

/// What happened to each recipient.
#[utoipa::path(tag = "newsletter", params(("id" = i64, Path), DeliveryFilters), security(("bearer" = ["viewer"])),
    responses((status = 200, body = Page<DeliveryView>), (status = 404, body = Problem)))]
#[get("/issues/{id}/deliveries")]
async fn deliveries_page(
    _: Viewer,
    state: State,
    id: web::Path<i64>,
    q: crate::http::query::Query<DeliveryFilters>,
) -> ApiResult<HttpResponse> {
    let page = crate::http::query::page(q.page, q.per_page)?;
    let (id, filter) = (id.into_inner(), q.state);
    let found = state
        .db
        .run(move |c| {
            db::get(c, id)?;
            deliveries::of_issue(c, id, filter, page)
        })
        .await?;
    Ok(HttpResponse::Ok().json(found))
}

const CSV_CHUNK: i64 = 2000;

/// The delivery report as CSV, one row per recipient, streamed.
#[utoipa::path(tag = "newsletter", params(("id" = i64, Path)), security(("bearer" = ["viewer"])),
    responses((status = 200, content_type = "text/csv", body = String), (status = 404, body = Problem)))]
#[get("/issues/{id}/deliveries.csv")]
async fn report_csv(_: Viewer, state: State, id: web::Path<i64>) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    state.db.run(move |c| db::get(c, id)).await?;
    let header = web::Bytes::from_static(deliveries::CSV_HEADER);
    let db = state.db.clone();
    let rows =
        futures_util::stream::unfold((db, 0i64, false), move |(db, after, done)| async move {
            if done {
                return None;
            }
            let chunk = db
                .run(move |c| deliveries::report_chunk(c, id, after, CSV_CHUNK))
                .await;
            match chunk {
                Err(e) => Some((Err(ApiError::from(e)), (db, after, true))),
                Ok(rows) if rows.is_empty() => None,
                Ok(rows) => {
                    let last = rows.last().map(|r| r.id).unwrap_or(after);
                    let more = rows.len() as i64 == CSV_CHUNK;
                    Some((
                        Ok(web::Bytes::from(deliveries::csv_rows(&rows))),
                        (db, last, !more),
                    ))
                }
            }
        });
    let body = futures_util::stream::once(async move { Ok::<_, ApiError>(header) }).chain(rows);
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"issue-{id}-deliveries.csv\""),
        ))
        .streaming(body))
}

use futures_util::StreamExt;
