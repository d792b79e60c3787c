use super::State;
use crate::app;
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

/// Creates a token; the secret is in this response only. It acts as the
/// account `account_id` with at most its role (422 above it); without
/// `account_id` it gets a built-in account of its own named after it.
#[utoipa::path(tag = "tokens", request_body = TokenInput, security(("bearer" = ["admin"])),
    responses((status = 201, body = CreatedToken), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
#[post("/tokens")]
async fn create(who: Admin, state: State, input: Json<TokenInput>) -> ApiResult<HttpResponse> {
    let now = state.clock.now();
    let actor = who.0.actor();
    let created = state
        .db
        .transaction(move |c| app::tokens::create(&actor, now, c, &input.0))
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(created))
}

/// Revokes a token. The last way in as an administrator cannot be revoked
/// (409 says why): create another admin token or account first.
#[utoipa::path(tag = "tokens", security(("bearer" = ["admin"])),
    responses((status = 200, body = Token), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
#[delete("/tokens/{id}")]
async fn revoke(who: Admin, state: State, id: web::Path<i64>) -> ApiResult<HttpResponse> {
    let id = id.into_inner().to_string();
    let now = state.clock.now();
    let actor = who.0.actor();
    let token = state
        .db
        .transaction(move |c| app::tokens::revoke(&actor, now, c, &id))
        .await?;
    Ok(HttpResponse::Ok().json(token))
}
