use super::State;
use crate::app::imports::{self as ingest, Destination, ImportReport};
use crate::calendar::import::{ImportLimits, Strictness, parse_calendar_with};
use crate::domain::language::Language;
use crate::domain::text::Slug;
use crate::http::auth::Editor;
use crate::http::json::read_body;
use crate::http::problem::{ApiError, ApiResult, Problem};
use actix_web::dev::Payload;
use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(import);
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ImportQuery {
    /// Slug of the partner whose calendar this is.
    #[param(value_type = String, min_length = 1, max_length = 64)]
    organisation: Slug,
    /// Slug of the plan to import into (default: the first plan).
    #[param(value_type = Option<String>, min_length = 1, max_length = 64)]
    plan: Option<Slug>,
    /// Language of the partner's texts (default en).
    lang: Option<Language>,
    /// Visibility of the imported activities (default internal; public
    /// republishes the partner's events in the public feed).
    visibility: Option<crate::domain::activity::Visibility>,
    /// Refuse the whole file if any event cannot be imported (default false:
    /// such an event is skipped and reported, the others import).
    strict: Option<bool>,
}

/// Imports a partner's `.ics` as external activities, matched by UID; only a
/// newer version (RFC 5546 §2.1.5) changes an imported event. An event that
/// cannot be understood is skipped and listed with its line and reason; a file
/// whose structure is broken (or any unreadable event with `strict=true`) is
/// refused whole, naming the line, and nothing is written.
#[utoipa::path(tag = "imports", params(ImportQuery), security(("bearer" = ["editor"])),
    request_body(content = String, content_type = "text/calendar",
        example = json!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Partner//Calendar//EN\r\nBEGIN:VEVENT\r\nUID:congress-2020@partner.example\r\nDTSTAMP:20200101T000000Z\r\nDTSTART:20200310T090000Z\r\nDTEND:20200310T110000Z\r\nSUMMARY:Partner session at the Congress\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")),
    responses(
        (status = 200, body = ImportReport),
        (status = 413, body = Problem, description = "Larger than imports.max_bytes"),
        (status = 415, body = Problem, description = "Not text/calendar"),
        (status = 422, body = Problem, description = "Invalid calendar; `line` names the line at fault"),
    ))]
#[post("/imports")]
async fn import(
    who: Editor,
    state: State,
    req: HttpRequest,
    q: crate::http::query::Query<ImportQuery>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let limits = ImportLimits {
        max_bytes: state.settings.imports.max_bytes,
        max_events: state.settings.imports.max_events,
    };
    let mut payload: Payload = payload.into_inner();
    let body = read_body(&req, &mut payload, limits.max_bytes, |essence| {
        essence == "text/calendar"
    })
    .await?;
    let strictness = if q.strict.unwrap_or(false) {
        Strictness::Strict
    } else {
        Strictness::Lenient
    };
    let parsed = web::block(move || parse_calendar_with(&body, &limits, strictness))
        .await
        .map_err(|e| crate::Error::Internal(anyhow::anyhow!("import task failed: {e}")))?
        .map_err(|e| ApiError::Import {
            line: e.line,
            message: e.to_string(),
        })?;
    let q = q.into_inner();
    let cx = super::context(&state, &who.0, &req);
    let report = state
        .db
        .transaction(move |c| {
            let to = Destination::resolve(
                c,
                q.organisation.as_str(),
                q.plan.as_ref().map(Slug::as_str),
                q.lang.unwrap_or(Language::En),
            )?
            .with_visibility(
                q.visibility
                    .unwrap_or(crate::domain::activity::Visibility::Internal),
            );
            let cx = cx.with_reason(Some(format!("import from {}", q.organisation)));
            ingest::apply_with(c, &cx, parsed, &to, strictness)
        })
        .await?;
    Ok(HttpResponse::Ok().json(report))
}
