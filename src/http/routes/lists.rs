use super::State;
use super::crud::record_routes;
use crate::db::{Page, PageRequest, subscribers as db};
use crate::domain::newsletter::{ListInput, MailingList};
use crate::http::auth::Viewer;
use crate::http::problem::{ApiResult, Problem};
use actix_web::{HttpResponse, get};

record_routes! {
    tag: "newsletter",
    collection: "/lists",
    item: "/lists/{id}",
    history: "/lists/{id}/history",
    input: ListInput,
    output: MailingList,
    record: crate::app::entities::Lists,
}

/// Mailing lists (audiences), with their confirmed subscriber counts.
#[utoipa::path(tag = "newsletter", params(PageRequest), security(("bearer" = ["viewer"])),
    responses((status = 200, body = Page<MailingList>), (status = 401, body = Problem)))]
#[get("/lists")]
async fn list(
    _: Viewer,
    state: State,
    q: crate::http::query::Query<PageRequest>,
) -> ApiResult<HttpResponse> {
    let page = crate::http::query::page(q.page, q.per_page)?;
    let found = state.db.run(move |c| db::list_lists(c, page)).await?;
    Ok(HttpResponse::Ok().json(found))
}
