use super::State;
use super::crud::record_routes;
use crate::db::Page;
use crate::db::activities::{self as db, ActivityFilter};
use crate::domain::activity::{Activity, ActivityInput, ActivityKind, ActivityStatus, Visibility};
use crate::domain::language::Language;
use crate::http::auth::Viewer;
use crate::http::problem::{ApiResult, Problem};
use actix_web::{HttpResponse, get};
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::IntoParams;

record_routes! {
    tag: "activities",
    collection: "/activities",
    item: "/activities/{id}",
    history: "/activities/{id}/history",
    input: ActivityInput,
    output: Activity,
    record: crate::app::entities::Activities,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct Filters {
    plan_id: Option<i64>,
    kind: Option<ActivityKind>,
    status: Option<ActivityStatus>,
    campaign_id: Option<i64>,
    channel_id: Option<i64>,
    visibility: Option<Visibility>,
    /// Only activities written in this language; titles are given in it.
    lang: Option<Language>,
    /// First day of a date range (inclusive). Recurring activities are included
    /// when an occurrence falls in the range, and list those occurrences.
    #[param(value_type = Option<String>, format = Date)]
    from: Option<NaiveDate>,
    /// Last day of the range (inclusive).
    #[param(value_type = Option<String>, format = Date)]
    to: Option<NaiveDate>,
    /// Imported activities of this partner organisation.
    source_organisation_id: Option<i64>,
    page: Option<i64>,
    per_page: Option<i64>,
}

#[utoipa::path(tag = "activities", params(Filters), security(("bearer" = ["viewer"])),
    responses((status = 200, body = Page<Activity>), (status = 400, body = Problem), (status = 401, body = Problem)))]
#[get("/activities")]
async fn list(
    _: Viewer,
    state: State,
    q: crate::http::query::Query<Filters>,
) -> ApiResult<HttpResponse> {
    let page = crate::http::query::page(q.page, q.per_page)?;
    let q = q.into_inner();
    let filter = ActivityFilter {
        plan_id: q.plan_id,
        kind: q.kind,
        status: q.status,
        campaign_id: q.campaign_id,
        channel_id: q.channel_id,
        visibility: q.visibility,
        lang: q.lang,
        from: q.from,
        to: q.to,
        source_organisation_id: q.source_organisation_id,
    };
    let found: Page<Activity> = state.db.run(move |c| db::list(c, &filter, page)).await?;
    Ok(HttpResponse::Ok().json(found))
}
