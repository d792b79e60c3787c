//! Social post variants under their activity (text per channel and
//! language, checked against the network's real limits, what became of
//! each), and the channel accounts they go out through (administrators; the
//! credentials are never shown).

use super::{State, context};
use crate::app;
use crate::app::posts::{ChannelAccount, ChannelAccountInput, VariantInput, VariantView};
use crate::domain::language::Language;
use crate::error::Error;
use crate::http::auth::{Admin, Editor, Viewer};
use crate::http::json::Json;
use crate::http::problem::{ApiResult, Problem};
use actix_web::{HttpRequest, HttpResponse, delete, get, post, put, web};
use utoipa_actix_web::service_config::ServiceConfig;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(variants)
        .service(put_variant)
        .service(delete_variant)
        .service(accounts)
        .service(create_account);
}

/// The activity's post variants, each with its length as its network counts
/// it (Mastodon: the instance's own limit), whether the current approval
/// covers it, and what became of it (the job, the URL where it landed).
#[utoipa::path(tag = "posts", params(("id" = i64, Path)), security(("bearer" = ["viewer"])),
    responses((status = 200, body = Vec<VariantView>), (status = 404, body = Problem)))]
#[get("/activities/{id}/variants")]
async fn variants(
    who: Viewer,
    state: State,
    req: HttpRequest,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let cx = context(&state, &who.0, &req);
    let id = id.into_inner();
    let list = state.db.run(move |c| app::posts::list(c, &cx, id)).await?;
    Ok(HttpResponse::Ok().json(list))
}

/// Writes the variant of the activity for this channel and language: an
/// edit of the activity (in its history; a standing approval goes back to
/// review). Refused when it does not fit the channel's network.
#[utoipa::path(tag = "posts",
    params(("id" = i64, Path), ("channel_id" = i64, Path), ("lang" = Language, Path)),
    request_body = VariantInput, security(("bearer" = ["editor"])),
    responses((status = 200, body = Vec<VariantView>), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
#[put("/activities/{id}/variants/{channel_id}/{lang}")]
async fn put_variant(
    who: Editor,
    state: State,
    req: HttpRequest,
    path: web::Path<(i64, i64, String)>,
    input: Json<VariantInput>,
) -> ApiResult<HttpResponse> {
    let cx = context(&state, &who.0, &req);
    let (id, channel, lang) = path.into_inner();
    let outbound = app::posts::outbound(&state.settings)?;
    app::posts::warm_limits(&state.db, &outbound, id, Some(channel), cx.now).await?;
    let list = state
        .db
        .transaction(move |c| app::posts::put(c, &cx, id, channel, &lang, &input.0))
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

/// Removes the variant (an edit of the activity).
#[utoipa::path(tag = "posts",
    params(("id" = i64, Path), ("channel_id" = i64, Path), ("lang" = Language, Path)),
    security(("bearer" = ["admin"])),
    responses((status = 204), (status = 404, body = Problem)))]
#[delete("/activities/{id}/variants/{channel_id}/{lang}")]
async fn delete_variant(
    who: Admin,
    state: State,
    req: HttpRequest,
    path: web::Path<(i64, i64, String)>,
) -> ApiResult<HttpResponse> {
    let cx = context(&state, &who.0, &req);
    let (id, channel, lang) = path.into_inner();
    state
        .db
        .transaction(move |c| app::posts::delete(c, &cx, id, channel, &lang))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(tag = "posts", security(("bearer" = ["admin"])),
    responses((status = 200, body = Vec<ChannelAccount>), (status = 403, body = Problem)))]
#[get("/channel-accounts")]
async fn accounts(who: Admin, state: State, req: HttpRequest) -> ApiResult<HttpResponse> {
    let cx = context(&state, &who.0, &req);
    let list = state
        .db
        .run(move |c| app::posts::list_accounts(c, &cx))
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

/// Adds a Mastodon or Bluesky account, optionally for a channel; its token
/// or app password is stored encrypted and never shown again.
#[utoipa::path(tag = "posts", request_body = ChannelAccountInput, security(("bearer" = ["admin"])),
    responses((status = 201, body = ChannelAccount), (status = 422, body = Problem)))]
#[post("/channel-accounts")]
async fn create_account(
    who: Admin,
    state: State,
    req: HttpRequest,
    input: Json<ChannelAccountInput>,
) -> ApiResult<HttpResponse> {
    let cx = context(&state, &who.0, &req);
    let sealer = crate::jobs::sealed::Sealer::from_hex(state.settings.credentials.key.expose())
        .map_err(Error::Internal)?;
    let created = state
        .db
        .transaction(move |c| app::posts::create_account(c, &cx, &sealer, &input.0))
        .await?;
    Ok(HttpResponse::Created().json(created))
}
