use super::State;
use crate::http::problem::ApiResult;
use crate::http::rate_limit::PublicRateLimit;
use actix_web::{HttpResponse, get};
use serde_json::json;

/// Liveness: the process answers.
#[utoipa::path(tag = "health", responses((status = 200, description = "The process is alive")))]
#[get("/healthz")]
pub async fn healthz(_: PublicRateLimit) -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Readiness: the database is reachable.
#[utoipa::path(tag = "health", responses(
    (status = 200, description = "The database answers"),
    (status = 503, description = "The database does not answer", body = crate::http::problem::Problem)
))]
#[get("/readyz")]
pub async fn readyz(_: PublicRateLimit, state: State) -> ApiResult<HttpResponse> {
    state.db.ping().await?;
    Ok(HttpResponse::Ok().json(json!({"status": "ready", "database": state.db.backend().name()})))
}
