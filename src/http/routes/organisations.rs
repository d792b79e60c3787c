use super::{State, versioned};
use crate::db::{Page, PageRequest, organisations as db};
use crate::domain::activity::OrganisationKind;
use crate::domain::organisation::{Organisation, OrganisationInput};
use crate::http::ExpectedVersion;
use crate::http::auth::{Admin, Editor, Viewer};
use crate::http::json::Json;
use crate::http::problem::{ApiResult, Problem};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, delete, get, post, put, web};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list)
        .service(create)
        .service(read)
        .service(replace)
        .service(remove);
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct Filters {
    kind: Option<OrganisationKind>,
    page: Option<i64>,
    per_page: Option<i64>,
}

#[utoipa::path(tag = "organisations", params(Filters), security(("bearer" = [])),
    responses((status = 200, body = Page<Organisation>), (status = 401, body = Problem)))]
#[get("/organisations")]
async fn list(_: Viewer, state: State, q: web::Query<Filters>) -> ApiResult<HttpResponse> {
    let page = PageRequest {
        page: q.page,
        per_page: q.per_page,
    }
    .validate()?;
    let kind = q.kind;
    let found = state.db.run(move |c| db::list(c, kind, page)).await?;
    Ok(HttpResponse::Ok().json(found))
}

#[utoipa::path(tag = "organisations", request_body = OrganisationInput, security(("bearer" = [])),
    responses((status = 201, body = Organisation), (status = 422, body = Problem), (status = 409, body = Problem)))]
#[post("/organisations")]
async fn create(
    _: Editor,
    state: State,
    input: Json<OrganisationInput>,
) -> ApiResult<HttpResponse> {
    let now = state.clock.now();
    let created = state
        .db
        .transaction(move |c| db::create(c, &input.0, now))
        .await?;
    Ok(versioned(StatusCode::CREATED, &created, created.version))
}

#[utoipa::path(tag = "organisations", security(("bearer" = [])),
    responses((status = 200, body = Organisation), (status = 404, body = Problem)))]
#[get("/organisations/{id}")]
async fn read(_: Viewer, state: State, id: web::Path<i64>) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let found = state.db.run(move |c| db::get(c, id)).await?;
    Ok(versioned(StatusCode::OK, &found, found.version))
}

#[utoipa::path(tag = "organisations", request_body = OrganisationInput, security(("bearer" = [])),
    params(("If-Match" = Option<String>, Header, description = "ETag of the version being replaced")),
    responses((status = 200, body = Organisation), (status = 412, body = Problem), (status = 409, body = Problem), (status = 428, body = Problem)))]
#[put("/organisations/{id}")]
async fn replace(
    _: Editor,
    state: State,
    req: HttpRequest,
    id: web::Path<i64>,
    input: Json<OrganisationInput>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let expected = ExpectedVersion::from_request(&req, input.0.version)?;
    let now = state.clock.now();
    let updated = state
        .db
        .transaction(move |c| db::update(c, id, expected.value(), &input.0, now))
        .await
        .map_err(|e| expected.map_err(e))?;
    Ok(versioned(StatusCode::OK, &updated, updated.version))
}

#[utoipa::path(tag = "organisations", security(("bearer" = [])),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
#[delete("/organisations/{id}")]
async fn remove(_: Admin, state: State, id: web::Path<i64>) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    state.db.transaction(move |c| db::delete(c, id)).await?;
    Ok(HttpResponse::NoContent().finish())
}
