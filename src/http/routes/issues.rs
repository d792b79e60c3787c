use super::State;
use super::crud::record_routes;
use crate::db::{Page, issues as db};
use crate::domain::newsletter::{Issue, IssueInput, IssueState};
use crate::http::auth::Viewer;
use crate::http::problem::{ApiResult, Problem};
use actix_web::{HttpResponse, get};
use serde::Deserialize;
use utoipa::IntoParams;

record_routes! {
    tag: "newsletter",
    collection: "/issues",
    item: "/issues/{id}",
    history: "/issues/{id}/history",
    input: IssueInput,
    output: Issue,
    record: crate::app::entities::Issues,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct Filters {
    state: Option<IssueState>,
    page: Option<i64>,
    per_page: Option<i64>,
}

/// Newsletter issues, newest first.
#[utoipa::path(tag = "newsletter", params(Filters), security(("bearer" = ["viewer"])),
    responses((status = 200, body = Page<Issue>), (status = 401, body = Problem)))]
#[get("/issues")]
async fn list(
    _: Viewer,
    state: State,
    q: crate::http::query::Query<Filters>,
) -> ApiResult<HttpResponse> {
    let page = crate::http::query::page(q.page, q.per_page)?;
    let filter = q.state;
    let found = state.db.run(move |c| db::list(c, filter, page)).await?;
    Ok(HttpResponse::Ok().json(found))
}
