use super::State;
use super::crud::record_routes;
use crate::db::{Page, campaigns as db};
use crate::domain::activity::ActivityStatus;
use crate::domain::campaign::{Campaign, CampaignInput};
use crate::http::auth::Viewer;
use crate::http::problem::{ApiResult, Problem};
use actix_web::{HttpResponse, get};
use serde::Deserialize;
use utoipa::IntoParams;

record_routes! {
    tag: "campaigns",
    collection: "/campaigns",
    item: "/campaigns/{id}",
    history: "/campaigns/{id}/history",
    input: CampaignInput,
    output: Campaign,
    record: crate::app::entities::Campaigns,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct Filters {
    plan_id: Option<i64>,
    status: Option<ActivityStatus>,
    page: Option<i64>,
    per_page: Option<i64>,
}

#[utoipa::path(tag = "campaigns", params(Filters), security(("bearer" = ["viewer"])),
    responses((status = 200, body = Page<Campaign>), (status = 401, body = Problem)))]
#[get("/campaigns")]
async fn list(
    _: Viewer,
    state: State,
    q: crate::http::query::Query<Filters>,
) -> ApiResult<HttpResponse> {
    let page = crate::http::query::page(q.page, q.per_page)?;
    let (plan, status) = (q.plan_id, q.status);
    let found = state
        .db
        .run(move |c| db::list(c, plan, status, page))
        .await?;
    Ok(HttpResponse::Ok().json(found))
}
