use super::State;
use super::crud::record_routes;
use crate::db::{Page, organisations as db};
use crate::domain::activity::OrganisationKind;
use crate::domain::organisation::{Organisation, OrganisationInput};
use crate::http::auth::Viewer;
use crate::http::problem::{ApiResult, Problem};
use actix_web::{HttpResponse, get};
use serde::Deserialize;
use utoipa::IntoParams;

record_routes! {
    tag: "organisations",
    collection: "/organisations",
    item: "/organisations/{id}",
    history: "/organisations/{id}/history",
    input: OrganisationInput,
    output: Organisation,
    record: crate::app::entities::Organisations,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct Filters {
    kind: Option<OrganisationKind>,
    page: Option<i64>,
    per_page: Option<i64>,
}

#[utoipa::path(tag = "organisations", params(Filters), security(("bearer" = ["viewer"])),
    responses((status = 200, body = Page<Organisation>), (status = 401, body = Problem)))]
#[get("/organisations")]
async fn list(
    _: Viewer,
    state: State,
    q: crate::http::query::Query<Filters>,
) -> ApiResult<HttpResponse> {
    let page = crate::http::query::page(q.page, q.per_page)?;
    let kind = q.kind;
    let found = state.db.run(move |c| db::list(c, kind, page)).await?;
    Ok(HttpResponse::Ok().json(found))
}
