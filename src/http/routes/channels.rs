use super::State;
use super::crud::record_routes;
use crate::db::{Page, channels as db};
use crate::domain::activity::ChannelKind;
use crate::domain::channel::{Channel, ChannelInput};
use crate::http::auth::Viewer;
use crate::http::problem::{ApiResult, Problem};
use actix_web::{HttpResponse, get};
use serde::Deserialize;
use utoipa::IntoParams;

record_routes! {
    tag: "channels",
    collection: "/channels",
    item: "/channels/{id}",
    history: "/channels/{id}/history",
    input: ChannelInput,
    output: Channel,
    record: crate::app::entities::Channels,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct Filters {
    kind: Option<ChannelKind>,
    page: Option<i64>,
    per_page: Option<i64>,
}

#[utoipa::path(tag = "channels", params(Filters), security(("bearer" = ["viewer"])),
    responses((status = 200, body = Page<Channel>), (status = 401, body = Problem)))]
#[get("/channels")]
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
