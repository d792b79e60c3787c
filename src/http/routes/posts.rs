//! Social post variants under their activity (text per channel and
//! language, checked against the network's real limits, what became of
//! each), and the channel accounts they go out through (administrators; the
//! credentials are never shown).

use super::{State, context};
use crate::app;
use crate::app::posts::{
    ChannelAccount, ChannelAccountInput, ChannelAccountUpdate, DoneInput, VariantInput, VariantView,
};
use crate::domain::language::Language;
use crate::error::Error;
use crate::http::auth::{Admin, Editor, Viewer};
use crate::http::json::Json;
use crate::http::problem::{ApiError, ApiResult, Problem};
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, put, web};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(variants)
        .service(put_variant)
        .service(upload_media)
        .service(delete_variant)
        .service(mark_done)
        .service(accounts)
        .service(create_account)
        .service(account)
        .service(update_account)
        .service(delete_account)
        .service(account_history);
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

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct MediaParams {
    /// What the image shows (required; Mastodon's `description`, Bluesky's
    /// `alt`), at most 1,500 characters.
    #[param(max_length = 1500)]
    alt: Option<String>,
    /// The part it goes with: 1 (the default) is the post itself, 2 the
    /// thread's first reply, … (not a number, or no such part: 422 naming
    /// `part`).
    #[param(value_type = Option<i32>, minimum = 1, maximum = 25)]
    part: Option<String>,
}

impl MediaParams {
    /// The part asked for, if any; not a number is invalid input (422), as
    /// a part the variant does not have is.
    fn part(&self) -> Result<Option<i32>, Error> {
        self.part
            .as_deref()
            .map(|p| {
                p.trim().parse::<i32>().map_err(|_| {
                    Error::invalid(
                        "part",
                        "a part's number: 1 is the post itself, 2 its first reply, …",
                    )
                })
            })
            .transpose()
    }
}

/// Adds one image to the variant, its bytes the request's body as they are
/// (up to `social.max_image_bytes`, 8 MiB by default; the network's own
/// limit applies too: Bluesky 1,000,000 bytes, Mastodon the instance's
/// `image_size_limit`). Its type is read from the bytes (PNG, JPEG, GIF,
/// WebP), not from `Content-Type`. An edit of the activity, like images
/// given in the variant: in its history, a standing approval superseded.
#[utoipa::path(tag = "posts",
    params(("id" = i64, Path), ("channel_id" = i64, Path), ("lang" = Language, Path), MediaParams),
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
        description = "The image's bytes (PNG, JPEG, GIF or WebP)"),
    security(("bearer" = ["editor"])),
    responses((status = 201, body = Vec<VariantView>),
        (status = 404, body = Problem, description = "No such activity or variant"),
        (status = 413, body = Problem, description = "Larger than `social.max_image_bytes`"),
        (status = 415, body = Problem, description = "The bytes are not a PNG, JPEG, GIF or WebP image"),
        (status = 422, body = Problem, description = "`alt` missing, empty or too long, `part` not a number or no such part, or too big for the network")))]
#[post("/activities/{id}/variants/{channel_id}/{lang}/media")]
async fn upload_media(
    who: Editor,
    state: State,
    req: HttpRequest,
    path: web::Path<(i64, i64, String)>,
    q: crate::http::query::Query<MediaParams>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let q = q.into_inner();
    let part = q.part()?;
    let mut payload = payload.into_inner();
    let limit = state.settings.social.max_image_bytes;
    let data = crate::http::json::read_body(&req, &mut payload, limit, |_| true).await?;
    let kind = crate::social::image::sniff(&data).ok_or(ApiError::NotAnImage)?;
    let cx = context(&state, &who.0, &req);
    let (id, channel, lang) = path.into_inner();
    let outbound = app::posts::outbound(&state.settings)?;
    app::posts::warm_limits(&state.db, &outbound, id, Some(channel), cx.now).await?;
    let image = app::posts::RawImage {
        kind,
        part,
        alt: q.alt,
        data: data.to_vec(),
    };
    let list = state
        .db
        .transaction(move |c| app::posts::add_media(c, &cx, id, channel, &lang, image))
        .await?;
    Ok(HttpResponse::Created().json(list))
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

/// Marks a manual channel's variant published where it was posted (the
/// same as the owner's emailed link): `post.published` goes out with the
/// URL. Refused (409) for other networks, before the owner's email went
/// out, and when it is published already.
#[utoipa::path(tag = "posts",
    params(("id" = i64, Path), ("channel_id" = i64, Path), ("lang" = Language, Path)),
    request_body = DoneInput, security(("bearer" = ["editor"])),
    responses((status = 200, body = Vec<VariantView>), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/activities/{id}/variants/{channel_id}/{lang}/done")]
async fn mark_done(
    who: Editor,
    state: State,
    req: HttpRequest,
    path: web::Path<(i64, i64, String)>,
    input: Json<DoneInput>,
) -> ApiResult<HttpResponse> {
    let cx = context(&state, &who.0, &req);
    let (id, channel, lang) = path.into_inner();
    let list = state
        .db
        .transaction(move |c| app::posts::mark_done(c, &cx, id, channel, &lang, &input.0))
        .await?;
    Ok(HttpResponse::Ok().json(list))
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

/// Adds a Mastodon, Bluesky, webhook (CMS) or manual account, optionally
/// for a channel; its token or app password is stored encrypted and never
/// shown again (a manual account has none).
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
    let sealer = sealer(&state)?;
    let created = state
        .db
        .transaction(move |c| app::posts::create_account(c, &cx, &sealer, &input.0))
        .await?;
    Ok(HttpResponse::Created().json(created))
}

fn sealer(state: &State) -> Result<crate::jobs::sealed::Sealer, Error> {
    crate::jobs::sealed::Sealer::from_hex(state.settings.credentials.key.expose())
        .map_err(Error::Internal)
}

#[utoipa::path(tag = "posts", params(("id" = i64, Path)), security(("bearer" = ["admin"])),
    responses((status = 200, body = ChannelAccount), (status = 404, body = Problem)))]
#[get("/channel-accounts/{id}")]
async fn account(
    who: Admin,
    state: State,
    req: HttpRequest,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let cx = context(&state, &who.0, &req);
    let id = id.into_inner();
    let found = state
        .db
        .run(move |c| app::posts::get_account(c, &cx, id))
        .await?;
    Ok(HttpResponse::Ok().json(found))
}

/// Renames the account, moves it (URL, handle), rotates its credentials
/// (`secret`: the old one no longer opens, a Bluesky session made with it
/// is dropped), or disables it (nothing goes out through it) and enables it
/// again. In its history; the secret never is.
#[utoipa::path(tag = "posts", params(("id" = i64, Path)), request_body = ChannelAccountUpdate,
    security(("bearer" = ["admin"])),
    responses((status = 200, body = ChannelAccount), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
#[patch("/channel-accounts/{id}")]
async fn update_account(
    who: Admin,
    state: State,
    req: HttpRequest,
    id: web::Path<i64>,
    input: Json<ChannelAccountUpdate>,
) -> ApiResult<HttpResponse> {
    let cx = context(&state, &who.0, &req);
    let sealer = sealer(&state)?;
    let id = id.into_inner();
    let updated = state
        .db
        .transaction(move |c| app::posts::update_account(c, &cx, &sealer, id, &input.0))
        .await?;
    Ok(HttpResponse::Ok().json(updated))
}

/// Deletes the account (its credentials erased, its channel freed).
/// Refused (409) while approved variants on its channel have not gone out.
#[utoipa::path(tag = "posts", params(("id" = i64, Path)), security(("bearer" = ["admin"])),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
#[delete("/channel-accounts/{id}")]
async fn delete_account(
    who: Admin,
    state: State,
    req: HttpRequest,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let cx = context(&state, &who.0, &req);
    let id = id.into_inner();
    state
        .db
        .transaction(move |c| app::posts::delete_account(c, &cx, id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Every change of the account, oldest first (also after it was deleted):
/// its network, URL, name, handle, channel, disabling, and each rotation of
/// its credentials as `rotated` with the new version, never a secret.
#[utoipa::path(tag = "posts", params(("id" = i64, Path)), security(("bearer" = ["admin"])),
    responses((status = 200, body = Vec<crate::domain::history::HistoryEntry>)))]
#[get("/channel-accounts/{id}/history")]
async fn account_history(
    who: Admin,
    state: State,
    req: HttpRequest,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let cx = context(&state, &who.0, &req);
    let id = id.into_inner();
    let found = state
        .db
        .run(move |c| app::posts::account_history(c, &cx, id))
        .await?;
    Ok(HttpResponse::Ok().json(found))
}
