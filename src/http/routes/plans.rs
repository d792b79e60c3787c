use super::State;
use super::crud::record_routes;
use crate::db::{Page, plans as db};
use crate::domain::plan::{Plan, PlanInput};
use crate::http::auth::Viewer;
use crate::http::problem::{ApiResult, Problem};
use actix_web::{HttpResponse, get};
use serde::Deserialize;
use utoipa::IntoParams;

record_routes! {
    tag: "plans",
    collection: "/plans",
    item: "/plans/{id}",
    history: "/plans/{id}/history",
    input: PlanInput,
    output: Plan,
    record: crate::app::entities::Plans,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct Filters {
    page: Option<i64>,
    per_page: Option<i64>,
}

#[utoipa::path(tag = "plans", params(Filters), security(("bearer" = ["viewer"])),
    responses((status = 200, body = Page<Plan>), (status = 401, body = Problem)))]
#[get("/plans")]
async fn list(
    _: Viewer,
    state: State,
    q: crate::http::query::Query<Filters>,
) -> ApiResult<HttpResponse> {
    let page = crate::http::query::page(q.page, q.per_page)?;
    let found = state.db.run(move |c| db::list(c, page)).await?;
    Ok(HttpResponse::Ok().json(found))
}
