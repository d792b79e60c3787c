use super::State;
use super::crud::record_routes;
use crate::db::{Page, people as db};
use crate::domain::person::{Person, PersonInput};
use crate::http::auth::Viewer;
use crate::http::problem::{ApiResult, Problem};
use actix_web::{HttpResponse, get};
use serde::Deserialize;
use utoipa::IntoParams;

record_routes! {
    tag: "people",
    collection: "/people",
    item: "/people/{id}",
    history: "/people/{id}/history",
    input: PersonInput,
    output: Person,
    record: crate::app::entities::People,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct Filters {
    organisation_id: Option<i64>,
    page: Option<i64>,
    per_page: Option<i64>,
}

#[utoipa::path(tag = "people", params(Filters), security(("bearer" = ["viewer"])),
    responses((status = 200, body = Page<Person>), (status = 401, body = Problem)))]
#[get("/people")]
async fn list(
    _: Viewer,
    state: State,
    q: crate::http::query::Query<Filters>,
) -> ApiResult<HttpResponse> {
    let page = crate::http::query::page(q.page, q.per_page)?;
    let org = q.organisation_id;
    let found = state.db.run(move |c| db::list(c, org, page)).await?;
    Ok(HttpResponse::Ok().json(found))
}
