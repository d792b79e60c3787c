use super::State;
use crate::db::tokens as db;
use crate::domain::token::{CreatedToken, Token, TokenInput};
use crate::http::auth::Admin;
use crate::http::json::Json;
use crate::http::problem::{ApiResult, Problem};
use actix_web::{HttpResponse, delete, get, post, web};
use utoipa_actix_web::service_config::ServiceConfig;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list).service(create).service(revoke);
}

/// API tokens, without their secrets.
#[utoipa::path(tag = "tokens", security(("bearer" = ["admin"])),
    responses((status = 200, body = Vec<Token>), (status = 403, body = Problem)))]
#[get("/tokens")]
async fn list(_: Admin, state: State) -> ApiResult<HttpResponse> {
    let tokens = state.db.run(db::list).await?;
    Ok(HttpResponse::Ok().json(tokens))
}

/// Creates a token; the secret is in this response only.
#[utoipa::path(tag = "tokens", request_body = TokenInput, security(("bearer" = ["admin"])),
    responses((status = 201, body = CreatedToken), (status = 409, body = Problem)))]
#[post("/tokens")]
async fn create(_: Admin, state: State, input: Json<TokenInput>) -> ApiResult<HttpResponse> {
    let now = state.clock.now();
    let created = state
        .db
        .transaction(move |c| db::create(c, &input.0, now))
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(created))
}

#[utoipa::path(tag = "tokens", security(("bearer" = ["admin"])),
    responses((status = 200, body = Token), (status = 404, body = Problem)))]
#[delete("/tokens/{id}")]
async fn revoke(_: Admin, state: State, id: web::Path<i64>) -> ApiResult<HttpResponse> {
    let id = id.into_inner().to_string();
    let now = state.clock.now();
    let token = state
        .db
        .transaction(move |c| db::revoke(c, &id, now))
        .await?;
    Ok(HttpResponse::Ok().json(token))
}
