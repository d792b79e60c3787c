use super::State;
use super::crud::record_routes;
use crate::db::{Page, participations as db};
use crate::domain::participation::{Participation, ParticipationInput};
use crate::http::auth::Viewer;
use crate::http::problem::{ApiResult, Problem};
use actix_web::{HttpResponse, get};
use serde::Deserialize;
use utoipa::IntoParams;

record_routes! {
    tag: "participations",
    collection: "/participations",
    item: "/participations/{id}",
    history: "/participations/{id}/history",
    input: ParticipationInput,
    output: Participation,
    record: crate::app::entities::Participations,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct Filters {
    activity_id: Option<i64>,
    person_id: Option<i64>,
    page: Option<i64>,
    per_page: Option<i64>,
}

#[utoipa::path(tag = "participations", params(Filters), security(("bearer" = ["viewer"])),
    responses((status = 200, body = Page<Participation>), (status = 401, body = Problem)))]
#[get("/participations")]
async fn list(
    _: Viewer,
    state: State,
    q: crate::http::query::Query<Filters>,
) -> ApiResult<HttpResponse> {
    let page = crate::http::query::page(q.page, q.per_page)?;
    let (activity, person) = (q.activity_id, q.person_id);
    let found = state
        .db
        .run(move |c| db::list(c, activity, person, page))
        .await?;
    Ok(HttpResponse::Ok().json(found))
}
