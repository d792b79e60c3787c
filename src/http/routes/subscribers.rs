//! Subscribers as editors manage them: add (with double opt-in unless consent
//! was obtained elsewhere), edit, erase, unsubscribe, import and export CSV,
//! and bounces. Plus the sending limits that can change at run time.

use super::State;
use crate::db::Page;
use crate::db::subscriber_csv::{self, ImportReport, RowError};
use crate::db::subscribers::{self as db, SubscriberFilter};
use crate::dispatch::message_domain;
use crate::domain::newsletter::{
    BounceInput, BounceOutcome, EmailLimits, Subscriber, SubscriberInput, SubscriberUpdate,
    SubscriptionStatus,
};
use crate::domain::text::Text;
use crate::error::Error;
use crate::http::ExpectedVersion;
use crate::http::auth::{Admin, Editor, Viewer};
use crate::http::json::{Json, read_body};
use crate::http::problem::{ApiError, ApiResult, Problem};
use actix_web::{HttpRequest, HttpResponse, delete, get, post, put, web};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list)
        .service(create)
        .service(read)
        .service(replace)
        .service(erase)
        .service(unsubscribe)
        .service(import)
        .service(export)
        .service(bounce)
        .service(bounce_message)
        .service(limits)
        .service(set_limits);
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct Filters {
    list_id: Option<i64>,
    /// Subscription status on `list_id` (or on any list).
    status: Option<SubscriptionStatus>,
    /// Addresses containing this text.
    #[param(value_type = Option<String>, max_length = 254)]
    email: Option<Text<254>>,
    page: Option<i64>,
    per_page: Option<i64>,
}

#[utoipa::path(tag = "newsletter", params(Filters), security(("bearer" = ["viewer"])),
    responses((status = 200, body = Page<Subscriber>), (status = 401, body = Problem)))]
#[get("/subscribers")]
async fn list(
    _: Viewer,
    state: State,
    q: crate::http::query::Query<Filters>,
) -> ApiResult<HttpResponse> {
    let page = crate::http::query::page(q.page, q.per_page)?;
    let q = q.into_inner();
    let filter = SubscriberFilter {
        list_id: q.list_id,
        status: q.status,
        email: q.email.as_ref().map(|e| e.as_str().to_owned()),
        search: None,
    };
    let found = state
        .db
        .run(move |c| db::list_subscribers(c, &filter, page))
        .await?;
    Ok(HttpResponse::Ok().json(found))
}

/// Adds a subscriber to lists. `pending` (the default) sends the double
/// opt-in email; `confirmed` records consent obtained elsewhere (`source`).
#[utoipa::path(tag = "newsletter", request_body = SubscriberInput, security(("bearer" = ["editor"])),
    responses((status = 201, body = Subscriber), (status = 422, body = Problem)))]
#[post("/subscribers")]
async fn create(
    editor: Editor,
    state: State,
    req: HttpRequest,
    input: Json<SubscriberInput>,
) -> ApiResult<HttpResponse> {
    let cx = super::context(&state, &editor.0, &req);
    let hours = state.settings.email.confirm_link_hours;
    let domain = message_domain(&state.settings.email);
    let created = state
        .db
        .transaction(move |c| {
            crate::app::subscribers::create(c, &cx, &input.0, &editor.0.name, hours, &domain)
        })
        .await?;
    Ok(super::versioned(
        actix_web::http::StatusCode::CREATED,
        &created,
        created.version,
    ))
}

#[utoipa::path(tag = "newsletter", params(("id" = i64, Path)), security(("bearer" = ["viewer"])),
    responses((status = 200, body = Subscriber), (status = 404, body = Problem)))]
#[get("/subscribers/{id}")]
async fn read(_: Viewer, state: State, id: web::Path<i64>) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let found = state.db.run(move |c| db::get_subscriber(c, id)).await?;
    Ok(super::versioned(
        actix_web::http::StatusCode::OK,
        &found,
        found.version,
    ))
}

/// Changes a subscriber's name or language.
#[utoipa::path(tag = "newsletter", params(("id" = i64, Path)), request_body = SubscriberUpdate,
    security(("bearer" = ["editor"])),
    responses((status = 200, body = Subscriber), (status = 409, body = Problem), (status = 412, body = Problem), (status = 428, body = Problem)))]
#[put("/subscribers/{id}")]
async fn replace(
    who: Editor,
    state: State,
    req: HttpRequest,
    id: web::Path<i64>,
    input: Json<SubscriberUpdate>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let expected = ExpectedVersion::from_request(&req, input.0.version)?;
    let cx = super::context(&state, &who.0, &req);
    let updated = state
        .db
        .transaction(move |c| {
            let version = expected
                .or_current(|| Ok(crate::db::subscribers::get_subscriber(c, id)?.version))?;
            crate::app::subscribers::update(c, &cx, id, version, &input.0)
        })
        .await
        .map_err(|e| expected.map_err(e))?;
    Ok(super::versioned(
        actix_web::http::StatusCode::OK,
        &updated,
        updated.version,
    ))
}

/// Erases a subscriber (right to erasure): their record, subscriptions, and
/// their address in past delivery reports.
#[utoipa::path(tag = "newsletter", params(("id" = i64, Path)), security(("bearer" = ["admin"])),
    responses((status = 204, description = "Erased"), (status = 404, body = Problem)))]
#[delete("/subscribers/{id}")]
async fn erase(
    who: Admin,
    state: State,
    req: HttpRequest,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let cx = super::context(&state, &who.0, &req);
    state
        .db
        .transaction(move |c| crate::app::subscribers::erase(c, &cx, id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"list_ids": [1]})))]
struct UnsubscribeInput {
    /// Lists to leave; all when absent.
    list_ids: Option<Vec<i64>>,
}

/// Unsubscribes on someone's behalf (e.g. they asked by email).
#[utoipa::path(tag = "newsletter", params(("id" = i64, Path)), request_body = UnsubscribeInput,
    security(("bearer" = ["editor"])),
    responses((status = 200, body = Subscriber), (status = 404, body = Problem)))]
#[post("/subscribers/{id}/unsubscribe")]
async fn unsubscribe(
    who: Editor,
    state: State,
    req: HttpRequest,
    id: web::Path<i64>,
    input: Json<UnsubscribeInput>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let cx = super::context(&state, &who.0, &req);
    let found = state
        .db
        .transaction(move |c| {
            crate::app::subscribers::unsubscribe(c, &cx, id, input.0.list_ids.as_deref())
                .map(|(subscriber, _)| subscriber)
        })
        .await?;
    Ok(HttpResponse::Ok().json(found))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ImportQuery {
    /// Consent was obtained elsewhere: subscribe as confirmed (needs `source`).
    /// Otherwise each new subscription gets a double opt-in email.
    confirmed: Option<bool>,
    /// How consent was obtained, recorded with each subscription.
    #[param(value_type = Option<String>, max_length = 500)]
    source: Option<Text<500>>,
}

#[derive(Serialize, ToSchema)]
struct ImportProblem {
    #[serde(rename = "type")]
    kind: &'static str,
    title: &'static str,
    status: u16,
    detail: String,
    /// Every bad row; nothing was imported.
    rows: Vec<RowError>,
}

const IMPORT_LIMIT: usize = 64 * 1024 * 1024;

/// Imports subscribers from CSV (`email`, optional `name` and `language`
/// columns) into a list. Any bad row: 422 listing every bad row by line, and
/// nothing imported. Never re-subscribes the unsubscribed or suppressed.
#[utoipa::path(tag = "newsletter", params(("id" = i64, Path), ImportQuery),
    request_body(content = String, content_type = "text/csv",
        example = json!("email,name,language\nana@example.org,Ana,es\njean@example.org,Jean,fr\n")),
    security(("bearer" = ["editor"])),
    responses((status = 200, body = ImportReport), (status = 422, body = ImportProblem)))]
#[post("/lists/{id}/import")]
async fn import(
    editor: Editor,
    state: State,
    req: actix_web::HttpRequest,
    id: web::Path<i64>,
    q: crate::http::query::Query<ImportQuery>,
    mut body: web::Payload,
) -> ApiResult<HttpResponse> {
    let mut data = web::BytesMut::new();
    while let Some(chunk) = body.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::BadQuery(format!("could not read the body: {e}")))?;
        if data.len() + chunk.len() > IMPORT_LIMIT {
            return Err(ApiError::TooLarge {
                limit: IMPORT_LIMIT,
            });
        }
        data.extend_from_slice(&chunk);
    }
    let confirmed = q.confirmed.unwrap_or(false);
    let source = match (&q.source, confirmed) {
        (Some(s), _) => format!("import:{}: {}", editor.0.name, s.as_str()),
        (_, true) => {
            return Err(Error::invalid(
                "source",
                "say how consent was obtained when importing confirmed subscribers",
            )
            .into());
        }
        _ => format!("import:{}", editor.0.name),
    };
    let id = id.into_inner();
    let target = state.db.run(move |c| db::get_list(c, id)).await?;
    let rows = match subscriber_csv::parse(&data, target.default_language) {
        Ok(rows) => rows,
        Err(errors) => {
            let problem = ImportProblem {
                kind: "urn:pregon:problem:validation",
                title: "Invalid CSV",
                status: 422,
                detail: format!("{} row(s) are invalid; nothing was imported", errors.len()),
                rows: errors,
            };
            return Ok(HttpResponse::UnprocessableEntity()
                .content_type(crate::http::problem::CONTENT_TYPE)
                .json(problem));
        }
    };
    let hours = state.settings.email.confirm_link_hours;
    let domain = message_domain(&state.settings.email);
    let cx = super::context(&state, &editor.0, &req);
    let report = state
        .db
        .transaction(move |c| {
            crate::app::subscribers::import_csv(
                c,
                &cx,
                id,
                &rows,
                confirmed,
                &source,
                hours,
                &domain,
                &crate::app::progress::Silent,
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(report))
}

/// Every subscription of a list, as CSV.
#[utoipa::path(tag = "newsletter", params(("id" = i64, Path)), security(("bearer" = ["viewer"])),
    responses((status = 200, content_type = "text/csv", body = String), (status = 404, body = Problem)))]
#[get("/lists/{id}/export.csv")]
async fn export(_: Viewer, state: State, id: web::Path<i64>) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let csv = state.db.run(move |c| subscriber_csv::export(c, id)).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"list-{id}.csv\""),
        ))
        .body(csv))
}

/// Records a bounce or complaint (from the relay's DSNs or a feedback loop).
/// A hard bounce or complaint stops every future send to the address.
#[utoipa::path(tag = "newsletter", request_body = BounceInput, security(("bearer" = ["editor"])),
    responses((status = 200, body = BounceOutcome), (status = 422, body = Problem)))]
#[post("/bounces")]
async fn bounce(
    who: Editor,
    state: State,
    req: actix_web::HttpRequest,
    input: Json<BounceInput>,
) -> ApiResult<HttpResponse> {
    let cx = super::context(&state, &who.0, &req);
    let outcome = state
        .db
        .transaction(move |c| crate::app::subscribers::record_bounce(c, &cx, &input.0))
        .await?;
    Ok(HttpResponse::Ok().json(outcome))
}

/// Bounce messages are small; a returned original rarely adds much.
const BOUNCE_MESSAGE_LIMIT: usize = 1024 * 1024;

#[derive(Serialize, ToSchema)]
struct BounceMessageReport {
    recorded: Vec<BounceOutcome>,
    /// Recipients the report names without a bounce (`a@b.org: delayed`).
    ignored: Vec<String>,
}

/// Records what a bounce message says, posted as the relay sent it: a
/// delivery status notification (RFC 3464: failed with 5.x.x is a hard
/// bounce, with 4.x.x a soft one; delayed is ignored) or an ARF abuse report
/// (a complaint). Anything else is refused (422) and nothing is recorded.
#[utoipa::path(tag = "newsletter",
    request_body(content = String, content_type = "message/rfc822",
        example = json!("From: MAILER-DAEMON@relay.example\r\nTo: boletin@pregon.example\r\nSubject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; relay.example\r\n\r\nFinal-Recipient: rfc822; gone@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n--b--\r\n")),
    security(("bearer" = ["editor"])),
    responses(
        (status = 200, body = BounceMessageReport),
        (status = 413, body = Problem),
        (status = 415, body = Problem, description = "Not message/rfc822"),
        (status = 422, body = Problem, description = "Not a bounce or feedback report"),
    ))]
#[post("/bounces/message")]
async fn bounce_message(
    who: Editor,
    state: State,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let mut payload = payload.into_inner();
    let body = read_body(&req, &mut payload, BOUNCE_MESSAGE_LIMIT, |essence| {
        essence == "message/rfc822"
    })
    .await?;
    let report =
        crate::email::bounce::parse(&body).map_err(|e| Error::invalid("body", e.to_string()))?;
    let cx = super::context(&state, &who.0, &req);
    let bounces = report.bounces;
    let recorded = state
        .db
        .transaction(move |c| {
            bounces
                .iter()
                .map(|input| crate::app::subscribers::record_bounce(c, &cx, input))
                .collect::<crate::Result<Vec<_>>>()
        })
        .await?;
    Ok(HttpResponse::Ok().json(BounceMessageReport {
        recorded,
        ignored: report.ignored,
    }))
}

#[derive(Serialize, ToSchema)]
struct LimitsView {
    /// Set at run time (null: the configured value applies).
    overrides: EmailLimits,
    /// In force now: overrides, else configuration (0 = unlimited).
    effective: EmailLimits,
}

fn limits_view(state: &State, overrides: EmailLimits) -> LimitsView {
    let email = &state.settings.email;
    LimitsView {
        effective: EmailLimits {
            rate_per_second: Some(overrides.rate_per_second.unwrap_or(email.rate_per_second)),
            rate_per_hour: Some(overrides.rate_per_hour.unwrap_or(email.rate_per_hour)),
            concurrency: Some(overrides.concurrency.unwrap_or(email.concurrency)),
        },
        overrides,
    }
}

/// Sending limits per dispatcher.
#[utoipa::path(tag = "newsletter", security(("bearer" = ["viewer"])),
    responses((status = 200, body = LimitsView)))]
#[get("/email/limits")]
async fn limits(_: Viewer, state: State) -> ApiResult<HttpResponse> {
    let overrides = state.db.run(db::runtime_limits).await?;
    Ok(HttpResponse::Ok().json(limits_view(&state, overrides)))
}

/// Changes the sending limits of every dispatcher without a restart (they
/// apply them within a heartbeat). Null fields return to the configuration.
#[utoipa::path(tag = "newsletter", request_body = EmailLimits, security(("bearer" = ["editor"])),
    responses((status = 200, body = LimitsView), (status = 422, body = Problem)))]
#[put("/email/limits")]
async fn set_limits(
    who: Editor,
    state: State,
    req: actix_web::HttpRequest,
    input: Json<EmailLimits>,
) -> ApiResult<HttpResponse> {
    let cx = super::context(&state, &who.0, &req);
    let wanted = input.0;
    let stored = wanted.clone();
    state
        .db
        .transaction(move |c| crate::app::sending::set_email_limits(c, &cx, &stored))
        .await?;
    Ok(HttpResponse::Ok().json(limits_view(&state, wanted)))
}
