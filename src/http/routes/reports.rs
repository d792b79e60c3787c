//! The progress report to the World Secretariat, in the format asked for by
//! `format=` or, without it, by `Accept` (JSON by default).

use super::State;
use crate::app::reports::{self as app, Request};
use crate::domain::language::Language;
use crate::domain::text::Slug;
use crate::http::auth::Viewer;
use crate::http::problem::{ApiResult, Problem};
use crate::report::{self, Format, Report};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get};
use chrono::{Datelike, NaiveDate};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(progress);
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ProgressQuery {
    /// The plan's slug (or id).
    #[param(value_type = String, min_length = 1, max_length = 64)]
    plan: Slug,
    /// First day, inclusive (default: 1 January of `to`'s year, or of this year).
    #[param(value_type = Option<String>, format = Date)]
    from: Option<NaiveDate>,
    /// Last day, inclusive (default: 31 December of `from`'s year).
    #[param(value_type = Option<String>, format = Date)]
    to: Option<NaiveDate>,
    /// Only this campaign (slug or id).
    #[param(value_type = Option<String>, min_length = 1, max_length = 64)]
    campaign: Option<Slug>,
    /// Language of the report (default en).
    lang: Option<Language>,
    /// json, csv, md, html or pdf; overrides `Accept`.
    #[param(inline)]
    format: Option<Format>,
}

/// Plan versus actual for a period: per period, campaign and channel, what was
/// planned and done (with dates and delay), what is still unconfirmed and for
/// how long, what was cancelled or failed and why, what changed since the
/// previous report, newsletter reach from the delivery records (no opens or
/// clicks: Pregón does not track readers) and events attended. Every figure
/// names the records it counts.
#[utoipa::path(tag = "reports", params(ProgressQuery), security(("bearer" = ["viewer"])),
    responses(
        (status = 200, body = Report, description = "JSON; also text/csv, text/markdown, text/html, application/pdf"),
        (status = 400, body = Problem),
        (status = 401, body = Problem),
        (status = 404, body = Problem, description = "No such plan"),
    ))]
#[get("/reports/progress")]
async fn progress(
    who: Viewer,
    state: State,
    req: HttpRequest,
    q: crate::http::query::Query<ProgressQuery>,
) -> ApiResult<HttpResponse> {
    let q = q.into_inner();
    // An Accept naming none of the report's types gets JSON (RFC 9110 §12.5.1
    // lets a server answer with its default rather than 406).
    let format = q.format.unwrap_or_else(|| {
        req.headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .and_then(Format::from_accept)
            .unwrap_or(Format::Json)
    });
    let this_year = state.clock.now().year();
    let from = q
        .from
        .or_else(|| q.to.and_then(|t| NaiveDate::from_ymd_opt(t.year(), 1, 1)))
        .or_else(|| NaiveDate::from_ymd_opt(this_year, 1, 1))
        .unwrap_or_default();
    let to =
        q.to.or_else(|| NaiveDate::from_ymd_opt(from.year(), 12, 31))
            .unwrap_or_default();
    let request = Request {
        plan: q.plan.as_str().to_owned(),
        from,
        to,
        campaign: q.campaign.as_ref().map(|c| c.as_str().to_owned()),
        lang: q.lang.unwrap_or(Language::En),
    };
    let actor = who.0.actor();
    let now = state.clock.now();
    let bytes = state
        .db
        .run(move |c| {
            let report = app::progress(c, &actor, now, &request)?;
            report::render(&report, format)
        })
        .await?;
    let mut response = HttpResponse::Ok();
    response
        .content_type(format.content_type())
        .insert_header((header::VARY, "Accept"))
        .insert_header((header::CACHE_CONTROL, "private, no-store"));
    if matches!(format, Format::Csv | Format::Pdf | Format::Md) {
        response.insert_header((
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"progress-{from}-{to}.{}\"",
                format.extension()
            ),
        ));
    }
    Ok(response.body(bytes))
}
