//! Outbound webhook subscriptions (Standard Webhooks), their delivery log
//! and replay. Administrators only; a secret is shown once, when created or
//! rotated.

use super::{State, context};
use crate::app;
use crate::app::jobs::JobDetail;
use crate::app::webhooks::Rules;
use crate::domain::webhook::{Webhook, WebhookInput, WebhookWithSecret};
use crate::http::auth::Admin;
use crate::http::json::Json;
use crate::http::problem::{ApiResult, Problem};
use actix_web::{HttpRequest, HttpResponse, delete, get, post, put, web};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list)
        .service(create)
        .service(show)
        .service(update)
        .service(remove)
        .service(rotate)
        .service(deliveries)
        .service(replay);
}

fn rules(state: &State) -> crate::error::Result<Rules> {
    Rules::from_settings(&state.settings)
}

#[utoipa::path(tag = "webhooks", security(("bearer" = ["admin"])),
    responses((status = 200, body = Vec<Webhook>), (status = 403, body = Problem)))]
#[get("/webhooks")]
async fn list(who: Admin, state: State, req: HttpRequest) -> ApiResult<HttpResponse> {
    let cx = context(&state, &who.0, &req);
    let hooks = state.db.run(move |c| app::webhooks::list(c, &cx)).await?;
    Ok(HttpResponse::Ok().json(hooks))
}

/// Subscribes a URL to event types; the signing secret (`whsec_…`) is in
/// this response only.
#[utoipa::path(tag = "webhooks", request_body = WebhookInput, security(("bearer" = ["admin"])),
    responses((status = 201, body = WebhookWithSecret), (status = 422, body = Problem),
        (status = 409, body = Problem)))]
#[post("/webhooks")]
async fn create(
    who: Admin,
    state: State,
    req: HttpRequest,
    input: Json<WebhookInput>,
) -> ApiResult<HttpResponse> {
    let cx = context(&state, &who.0, &req);
    let rules = rules(&state)?;
    let created = state
        .db
        .transaction(move |c| app::webhooks::create(c, &cx, &rules, &input.0))
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(created))
}

#[utoipa::path(tag = "webhooks", security(("bearer" = ["admin"])),
    responses((status = 200, body = Webhook), (status = 404, body = Problem)))]
#[get("/webhooks/{id}")]
async fn show(
    who: Admin,
    state: State,
    req: HttpRequest,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let cx = context(&state, &who.0, &req);
    let id = id.into_inner();
    let hook = state
        .db
        .run(move |c| app::webhooks::get(c, &cx, id))
        .await?;
    Ok(HttpResponse::Ok().json(hook))
}

/// Changes the URL, the event types or the description; `enabled: true`
/// re-enables an endpoint disabled by a 410.
#[utoipa::path(tag = "webhooks", request_body = WebhookInput, security(("bearer" = ["admin"])),
    responses((status = 200, body = Webhook), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
#[put("/webhooks/{id}")]
async fn update(
    who: Admin,
    state: State,
    req: HttpRequest,
    id: web::Path<i64>,
    input: Json<WebhookInput>,
) -> ApiResult<HttpResponse> {
    let cx = context(&state, &who.0, &req);
    let rules = rules(&state)?;
    let id = id.into_inner();
    let hook = state
        .db
        .transaction(move |c| app::webhooks::update(c, &cx, &rules, id, &input.0))
        .await?;
    Ok(HttpResponse::Ok().json(hook))
}

/// Deletes the subscription and its delivery log.
#[utoipa::path(tag = "webhooks", security(("bearer" = ["admin"])),
    responses((status = 204), (status = 404, body = Problem)))]
#[delete("/webhooks/{id}")]
async fn remove(
    who: Admin,
    state: State,
    req: HttpRequest,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let cx = context(&state, &who.0, &req);
    let id = id.into_inner();
    state
        .db
        .transaction(move |c| app::webhooks::delete(c, &cx, id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A new signing secret (in this response only); the older ones keep
/// signing for `webhooks.rotation_overlap_hours`.
#[utoipa::path(tag = "webhooks", security(("bearer" = ["admin"])),
    responses((status = 200, body = WebhookWithSecret), (status = 404, body = Problem)))]
#[post("/webhooks/{id}/rotate-secret")]
async fn rotate(
    who: Admin,
    state: State,
    req: HttpRequest,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let cx = context(&state, &who.0, &req);
    let rules = rules(&state)?;
    let id = id.into_inner();
    let rotated = state
        .db
        .transaction(move |c| app::webhooks::rotate_secret(c, &cx, &rules, id))
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(rotated))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct Paging {
    page: Option<i64>,
    per_page: Option<i64>,
}

/// The endpoint's deliveries, newest first, each with every attempt.
#[utoipa::path(tag = "webhooks", params(Paging), security(("bearer" = ["admin"])),
    responses((status = 200, body = Vec<JobDetail>), (status = 404, body = Problem)))]
#[get("/webhooks/{id}/deliveries")]
async fn deliveries(
    who: Admin,
    state: State,
    req: HttpRequest,
    id: web::Path<i64>,
    q: crate::http::query::Query<Paging>,
) -> ApiResult<HttpResponse> {
    let page = crate::http::query::page(q.page, q.per_page)?;
    let cx = context(&state, &who.0, &req);
    let id = id.into_inner();
    let log = state
        .db
        .run(move |c| app::webhooks::deliveries(c, &cx, id, page.page(), page.limit()))
        .await?;
    Ok(HttpResponse::Ok().json(log))
}

/// Sends a delivery's event again, with the same `webhook-id` and body.
#[utoipa::path(tag = "webhooks", security(("bearer" = ["admin"])),
    responses((status = 201, body = JobDetail), (status = 404, body = Problem)))]
#[post("/webhooks/{id}/deliveries/{job_id}/replay")]
async fn replay(
    who: Admin,
    state: State,
    req: HttpRequest,
    path: web::Path<(i64, i64)>,
) -> ApiResult<HttpResponse> {
    let cx = context(&state, &who.0, &req);
    let (id, job_id) = path.into_inner();
    let job = state
        .db
        .transaction(move |c| app::webhooks::replay(c, &cx, id, job_id))
        .await?;
    Ok(HttpResponse::Created().json(job))
}
