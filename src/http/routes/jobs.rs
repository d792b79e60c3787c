//! Jobs (social posts, webhook deliveries, reminders): what became of each,
//! attempt by attempt; run one again, or cancel it. Administrators only.

use super::{State, context};
use crate::app;
use crate::app::jobs::JobDetail;
use crate::domain::job::{JobState, JobView};
use crate::domain::text::Text;
use crate::http::auth::Admin;
use crate::http::problem::{ApiResult, Problem};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list)
        .service(show)
        .service(retry)
        .service(cancel);
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct Filters {
    /// Only jobs of this kind (e.g. `webhook`, `social.mastodon`).
    #[param(value_type = Option<String>, max_length = 64)]
    kind: Option<Text<64>>,
    state: Option<JobState>,
    page: Option<i64>,
    per_page: Option<i64>,
}

/// Jobs, newest first.
#[utoipa::path(tag = "jobs", params(Filters), security(("bearer" = ["admin"])),
    responses((status = 200, body = Vec<JobView>), (status = 403, body = Problem)))]
#[get("/jobs")]
async fn list(
    who: Admin,
    state: State,
    req: HttpRequest,
    q: crate::http::query::Query<Filters>,
) -> ApiResult<HttpResponse> {
    let page = crate::http::query::page(q.page, q.per_page)?;
    let cx = context(&state, &who.0, &req);
    let q = q.into_inner();
    let jobs = state
        .db
        .run(move |c| {
            app::jobs::list(
                c,
                &cx,
                q.kind.as_ref().map(|k| k.as_str()),
                q.state,
                page.page(),
                page.limit(),
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(jobs))
}

/// A job and every attempt made of it.
#[utoipa::path(tag = "jobs", security(("bearer" = ["admin"])),
    responses((status = 200, body = JobDetail), (status = 404, body = Problem)))]
#[get("/jobs/{id}")]
async fn show(
    who: Admin,
    state: State,
    req: HttpRequest,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let cx = context(&state, &who.0, &req);
    let id = id.into_inner();
    let job = state.db.run(move |c| app::jobs::get(c, &cx, id)).await?;
    Ok(HttpResponse::Ok().json(job))
}

/// Runs a failed, held (outcome unknown) or cancelled job again now.
#[utoipa::path(tag = "jobs", security(("bearer" = ["admin"])),
    responses((status = 200, body = JobDetail), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
#[post("/jobs/{id}/retry")]
async fn retry(
    who: Admin,
    state: State,
    req: HttpRequest,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let cx = context(&state, &who.0, &req);
    let id = id.into_inner();
    let job = state
        .db
        .transaction(move |c| app::jobs::retry(c, &cx, id))
        .await?;
    Ok(HttpResponse::Ok().json(job))
}

/// Cancels a queued job, or one held as outcome unknown.
#[utoipa::path(tag = "jobs", security(("bearer" = ["admin"])),
    responses((status = 200, body = JobDetail), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
#[post("/jobs/{id}/cancel")]
async fn cancel(
    who: Admin,
    state: State,
    req: HttpRequest,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let cx = context(&state, &who.0, &req);
    let id = id.into_inner();
    let job = state
        .db
        .transaction(move |c| app::jobs::cancel(c, &cx, id))
        .await?;
    Ok(HttpResponse::Ok().json(job))
}
