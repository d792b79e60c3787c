//! Calendar feeds: the public one, partners' private ones at token URLs, one
//! activity as a file, and the admin API that manages private feeds.

use super::State;
use crate::app;
use crate::calendar::cache::Rendered;
use crate::calendar::feed::{self, Context};
use crate::calendar::ics;
use crate::calendar::publish::{Publisher, Target, load_context};
use crate::db::{activities, feeds as db};
use crate::domain::activity::ActivityKind;
use crate::domain::feed::{Feed, FeedInput, FeedLinks, FeedWithLinks};
use crate::domain::language::Language;
use crate::http::ExpectedVersion;
use crate::http::auth::{Admin, Viewer};
use crate::http::json::Json;
use crate::http::problem::{ApiResult, Problem};
use crate::http::rate_limit::FeedRateLimit;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HttpDate};
use actix_web::{HttpRequest, HttpResponse, delete, get, post, put, route, web};
use chrono::TimeDelta;
use serde::{Deserialize, Serialize};
use std::time::{Duration, UNIX_EPOCH};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

/// Feeds outside /api/v1: calendar clients fetch them without a token header.
pub fn configure_public(cfg: &mut ServiceConfig) {
    // The public feed first: `public.ics` would otherwise match the token route.
    cfg.service(public_feed).service(private_feed);
}

pub fn configure_api(cfg: &mut ServiceConfig) {
    cfg.service(list)
        .service(create)
        .service(read)
        .service(replace)
        .service(revoke)
        .service(rotate)
        .service(activity_ics);
}

/// Feed URLs are pasted into calendar programs with whatever a link shortener or
/// a mail client appended (`utm_source=…`, `fbclid=…`): unknown parameters are
/// ignored here, unlike in the API, so such a subscription still works. Known
/// parameters with an invalid value are still a 400.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct FeedQuery {
    /// Language of titles and descriptions (falls back as in the API).
    lang: Option<Language>,
    /// Only activities of this kind.
    kind: Option<ActivityKind>,
}

/// The public calendar: every public activity.
#[utoipa::path(tag = "feeds", params(FeedQuery), responses(
    (status = 200, content_type = "text/calendar", description = "RFC 5545 calendar; ETag and Last-Modified set"),
    (status = 304, description = "Not modified since the validators sent"),
    (status = 400, body = Problem),
    (status = 429, body = Problem),
))]
#[route("/feeds/public.ics", method = "GET", method = "HEAD")]
async fn public_feed(
    _: FeedRateLimit,
    state: State,
    req: HttpRequest,
    q: crate::http::query::Query<FeedQuery>,
) -> ApiResult<HttpResponse> {
    let now = state.clock.now();
    let rendered = state
        .publisher
        .render(&state.db, now, Target::Public, q.lang, q.kind)
        .await?;
    Ok(respond(
        &req,
        &rendered,
        "public",
        state.settings.feeds.refresh_minutes,
    ))
}

/// A partner's private calendar. A revoked or unknown token is a plain 404.
#[utoipa::path(tag = "feeds", params(("token" = String, Path), FeedQuery), responses(
    (status = 200, content_type = "text/calendar"),
    (status = 304),
    (status = 404, body = Problem),
    (status = 429, body = Problem),
))]
#[route("/feeds/{token}.ics", method = "GET", method = "HEAD")]
async fn private_feed(
    _: FeedRateLimit,
    state: State,
    req: HttpRequest,
    token: web::Path<String>,
    q: crate::http::query::Query<FeedQuery>,
) -> ApiResult<HttpResponse> {
    let feed = state
        .publisher
        .private_feed(&state.db, &token)
        .await?
        .ok_or_else(|| crate::Error::not_found("feed", ""))?;
    let now = state.clock.now();
    let rendered = state
        .publisher
        .render(&state.db, now, Target::Private(feed), q.lang, q.kind)
        .await?;
    Ok(respond(
        &req,
        &rendered,
        "private",
        state.settings.feeds.refresh_minutes,
    ))
}

/// A feed poll whose `If-None-Match` matches the feed in memory, answered 304
/// before routing, the request span and every other middleware: no database,
/// no allocation beyond the headers. Partners poll, and most answers are 304s
/// (issue 12: a 304 cost Pregón far more than nginx). Anything else — no
/// `If-None-Match`, a stale or missing cache entry, a private token not in
/// memory, an invalid `lang`/`kind`, a client over its feed budget — is `None`
/// and goes the routed way, which answers it fully (and 400/404/429 alike).
/// The headers are those [`respond`] sends for a 304.
pub fn not_modified_early(
    req: &actix_web::dev::ServiceRequest,
) -> Option<(HttpResponse, &'static str)> {
    use actix_web::http::Method;
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return None;
    }
    let tag = req.headers().get(header::IF_NONE_MATCH)?.to_str().ok()?;
    let name = req.path().strip_prefix("/feeds/")?.strip_suffix(".ics")?;
    if name.is_empty() || name.contains('/') {
        return None;
    }
    let state = req.app_data::<State>()?;
    let query: FeedQuery = if req.query_string().is_empty() {
        FeedQuery {
            lang: None,
            kind: None,
        }
    } else {
        serde_urlencoded::from_str(req.query_string()).ok()?
    };
    let generation = state.db.generation();
    let (target, token, route, cache) = if name == "public" {
        (Target::Public, None, "/feeds/public.ics", "public")
    } else {
        let feed = state.publisher.cached_private_feed(name, generation)?;
        (
            Target::Private(feed),
            Some(name),
            "/feeds/{token}.ics",
            "private",
        )
    };
    let rendered = state.publisher.cached(
        &target,
        query.lang,
        query.kind,
        generation,
        state.clock.now(),
    )?;
    if !etag_matches(tag, &rendered.etag) {
        return None;
    }
    let ip = crate::http::client::client_ip(req.request());
    let feed = crate::http::rate_limit::feed_key_of(token);
    if !crate::http::rate_limit::charge_feed_poll(&state.limits, ip, feed) {
        return None;
    }
    let mut res = HttpResponse::build(StatusCode::NOT_MODIFIED);
    validators(
        &mut res,
        req.request(),
        &rendered,
        cache,
        state.settings.feeds.refresh_minutes,
    );
    Some((res.finish(), route))
}

/// ETag, Last-Modified, Vary and Cache-Control of a feed answer, 200 or 304.
fn validators(
    res: &mut actix_web::HttpResponseBuilder,
    req: &HttpRequest,
    r: &Rendered,
    cache: &str,
    refresh_minutes: u32,
) -> HttpDate {
    // Each representation has its own strong validator.
    let etag = if accepts_gzip(req) {
        format!("\"{}-gzip\"", r.etag)
    } else {
        format!("\"{}\"", r.etag)
    };
    let last_modified =
        HttpDate::from(UNIX_EPOCH + Duration::from_secs(r.last_modified.timestamp().max(0) as u64));
    res.insert_header((header::ETAG, etag))
        .insert_header((header::LAST_MODIFIED, last_modified))
        .insert_header((header::VARY, "Accept-Encoding"))
        .insert_header((
            header::CACHE_CONTROL,
            format!(
                "{cache}, max-age={}",
                u64::from(refresh_minutes.min(60)) * 60 / 4
            ),
        ));
    last_modified
}

/// Answers with the cached bytes, or 304 when the client's validators match.
fn respond(req: &HttpRequest, r: &Rendered, cache: &str, refresh_minutes: u32) -> HttpResponse {
    let gzip = accepts_gzip(req);
    let last_modified =
        HttpDate::from(UNIX_EPOCH + Duration::from_secs(r.last_modified.timestamp().max(0) as u64));
    let not_modified = match req.headers().get(header::IF_NONE_MATCH) {
        Some(value) => etag_matches(value.to_str().unwrap_or(""), &r.etag),
        None => req
            .headers()
            .get(header::IF_MODIFIED_SINCE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<HttpDate>().ok())
            .is_some_and(|since| {
                let since: std::time::SystemTime = since.into();
                std::time::SystemTime::from(last_modified) <= since
            }),
    };
    let mut res = HttpResponse::build(if not_modified {
        StatusCode::NOT_MODIFIED
    } else {
        StatusCode::OK
    });
    validators(&mut res, req, r, cache, refresh_minutes);
    if not_modified {
        return res.finish();
    }
    res.content_type("text/calendar; charset=utf-8");
    if gzip {
        res.insert_header((header::CONTENT_ENCODING, "gzip"));
        res.body(Slices(r.gzip.clone()))
    } else {
        res.body(Slices(r.body.clone()))
    }
}

/// A cached feed body handed to the connection a slice at a time (each a view
/// of the shared bytes, no copy). Given whole, the HTTP layer copies all of it
/// into the connection's write buffer, which then keeps that capacity: 64
/// keep-alive subscribers of a 277 KB feed held some 30 MB (issue 12: peak RSS
/// over 64 MiB). In slices the buffer fills to its limit, drains, and stays
/// small. The length is known, so the answer keeps its Content-Length.
struct Slices(actix_web::web::Bytes);

/// A few times the HTTP layer's write-buffer limit (32 KiB by default): each
/// slice is one more poll and write, and 16 KiB slices cut the 200s to a
/// quarter of nginx's rate (docs/benchmarks.md).
const SLICE_BYTES: usize = 96 * 1024;

impl actix_web::body::MessageBody for Slices {
    type Error = std::convert::Infallible;

    fn size(&self) -> actix_web::body::BodySize {
        actix_web::body::BodySize::Sized(self.0.len() as u64)
    }

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<actix_web::web::Bytes, Self::Error>>> {
        if self.0.is_empty() {
            return std::task::Poll::Ready(None);
        }
        let n = self.0.len().min(SLICE_BYTES);
        std::task::Poll::Ready(Some(Ok(self.0.split_to(n))))
    }
}

fn accepts_gzip(req: &HttpRequest) -> bool {
    req.headers()
        .get_all(header::ACCEPT_ENCODING)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    == Some(0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

/// `If-None-Match` against either representation of the same content.
fn etag_matches(header: &str, etag: &str) -> bool {
    header.split(',').map(str::trim).any(|candidate| {
        let candidate = candidate.strip_prefix("W/").unwrap_or(candidate);
        candidate == "*"
            || candidate == format!("\"{etag}\"")
            || candidate == format!("\"{etag}-gzip\"")
    })
}

#[derive(Serialize, ToSchema)]
struct FeedList {
    /// Links of the public feed.
    public: FeedLinks,
    /// Private feeds (their tokens, and so their links, are shown only when
    /// created or rotated).
    private: Vec<Feed>,
}

#[utoipa::path(tag = "feeds", security(("bearer" = ["admin"])),
    responses((status = 200, body = FeedList), (status = 403, body = Problem)))]
#[get("/feeds")]
async fn list(_: Admin, state: State) -> ApiResult<HttpResponse> {
    let private = state.db.run(db::list).await?;
    let public = state.publisher.links(
        Publisher::public_path(),
        state.settings.feeds.name.get(Language::En),
    );
    Ok(HttpResponse::Ok().json(FeedList { public, private }))
}

fn with_links(state: &State, (feed, token): (Feed, String)) -> FeedWithLinks {
    let links = state
        .publisher
        .links(&Publisher::private_path(&token), &feed.name);
    FeedWithLinks { feed, token, links }
}

/// Creates a private feed; its token and links are in this response only.
#[utoipa::path(tag = "feeds", request_body = FeedInput, security(("bearer" = ["admin"])),
    responses((status = 201, body = FeedWithLinks), (status = 422, body = Problem)))]
#[post("/feeds")]
async fn create(
    who: Admin,
    state: State,
    req: HttpRequest,
    input: Json<FeedInput>,
) -> ApiResult<HttpResponse> {
    let cx = super::context(&state, &who.0, &req);
    let created = state
        .db
        .transaction(move |c| app::feeds::create(c, &cx, &input.0))
        .await?;
    let body = with_links(&state, created);
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body))
}

#[utoipa::path(tag = "feeds", params(("id" = i64, Path)), security(("bearer" = ["admin"])),
    responses((status = 200, body = Feed), (status = 404, body = Problem)))]
#[get("/feeds/{id}")]
async fn read(_: Admin, state: State, id: web::Path<i64>) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let feed = state.db.run(move |c| db::get(c, id)).await?;
    Ok(super::versioned(StatusCode::OK, &feed, feed.version))
}

/// Changes a feed's name, language or filters; its URL stays the same.
#[utoipa::path(tag = "feeds", request_body = FeedInput, security(("bearer" = ["admin"])),
    params(("id" = i64, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Feed), (status = 404, body = Problem), (status = 409, body = Problem),
              (status = 412, body = Problem), (status = 428, body = Problem)))]
#[put("/feeds/{id}")]
async fn replace(
    who: Admin,
    state: State,
    req: HttpRequest,
    id: web::Path<i64>,
    input: Json<FeedInput>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let expected = ExpectedVersion::from_request(&req, input.0.version)?;
    let cx = super::context(&state, &who.0, &req);
    let feed = state
        .db
        .transaction(move |c| {
            let version = expected.or_current(|| Ok(crate::db::feeds::get(c, id)?.version))?;
            app::feeds::update(c, &cx, id, version, &input.0)
        })
        .await
        .map_err(|e| expected.map_err(e))?;
    Ok(super::versioned(StatusCode::OK, &feed, feed.version))
}

/// Revokes a feed: its URL answers 404 from now on.
#[utoipa::path(tag = "feeds", params(("id" = i64, Path)), security(("bearer" = ["admin"])),
    responses((status = 204), (status = 404, body = Problem)))]
#[delete("/feeds/{id}")]
async fn revoke(
    who: Admin,
    state: State,
    req: HttpRequest,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let cx = super::context(&state, &who.0, &req);
    state
        .db
        .transaction(move |c| app::feeds::revoke(c, &cx, id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Gives a feed a new token (the old URL stops working); returns the new links.
#[utoipa::path(tag = "feeds", params(("id" = i64, Path)), security(("bearer" = ["admin"])),
    responses((status = 200, body = FeedWithLinks), (status = 404, body = Problem)))]
#[post("/feeds/{id}/rotate")]
async fn rotate(
    who: Admin,
    state: State,
    req: HttpRequest,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let cx = super::context(&state, &who.0, &req);
    let rotated = state
        .db
        .transaction(move |c| app::feeds::rotate(c, &cx, id))
        .await?;
    let body = with_links(&state, rotated);
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct LangQuery {
    lang: Option<Language>,
}

/// One activity as a calendar file (for "add to my calendar").
#[utoipa::path(tag = "feeds", params(("id" = i64, Path), LangQuery), security(("bearer" = ["viewer"])),
    responses((status = 200, content_type = "text/calendar"), (status = 404, body = Problem),
              (status = 422, body = Problem, description = "The activity has no date to place it at yet")))]
#[get("/activities/{id}/ics")]
async fn activity_ics(
    _: Viewer,
    state: State,
    id: web::Path<i64>,
    q: crate::http::query::Query<LangQuery>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let lang = q.lang.unwrap_or(Language::En);
    let retention = TimeDelta::days(state.settings.feeds.cancelled_retention_days.into());
    let (activity, context): (_, Context) = state
        .db
        .run(move |c| {
            let activity = activities::get(c, id)?;
            let context = load_context(c, std::slice::from_ref(&activity), retention)?;
            Ok((activity, context))
        })
        .await?;
    let events = feed::events_for(&activity, lang, &context, None);
    if events.is_empty() {
        return Err(crate::Error::invalid(
            "timing",
            "the activity's date is to be confirmed and its period has no date: there is nothing to put in a calendar yet",
        )
        .into());
    }
    let calendar = ics::Calendar {
        prodid: feed::PRODID.into(),
        method: Some(ics::Method::Publish),
        name: None,
        description: None,
        refresh_interval: None,
        url: None,
        events,
    };
    Ok(HttpResponse::Ok()
        .content_type("text/calendar; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"activity-{id}.ics\""),
        ))
        .body(ics::render(&calendar)))
}
