//! Review and approval of activities and newsletter issues, and the change
//! history across every record.

use super::State;
use crate::app::reviews::{self, Subject};
use crate::domain::history::{ChangePage, HistoryEntry};
use crate::domain::review::{Review, ReviewAction};
use crate::domain::text::Text;
use crate::error::Error;
use crate::http::auth::{Editor, Viewer};
use crate::http::json::Json;
use crate::http::problem::{ApiResult, Problem};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(activity_review)
        .service(activity_review_action)
        .service(issue_review)
        .service(issue_review_action)
        .service(changes);
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"action": "submit", "comment": "Ready for the communication team"})))]
struct ReviewInput {
    /// `submit` (editor: send for review), `approve` or `request_changes` (approver).
    action: ReviewAction,
    /// Shown with the review: what to change, or a note with the approval.
    #[schema(max_length = 2000)]
    comment: Option<String>,
}

async fn act(
    who: &crate::http::auth::Principal,
    state: &State,
    req: &HttpRequest,
    subject: Subject,
    input: ReviewInput,
) -> ApiResult<HttpResponse> {
    let cx = super::context(state, who, req);
    let four_eyes = state.settings.approval.four_eyes;
    let comment = input
        .comment
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty());
    if comment.as_ref().is_some_and(|c| c.chars().count() > 2000) {
        return Err(Error::invalid("comment", "at most 2000 characters").into());
    }
    // Social post variants are checked against their instances' real
    // limits: read them (or take them from the day's cache) first.
    if let (Subject::Activity(id), ReviewAction::Approve) = (subject, input.action) {
        let outbound = crate::app::posts::outbound(&state.settings)?;
        crate::app::posts::warm_limits(&state.db, &outbound, id, None, cx.now).await?;
    }
    let review = state
        .db
        .transaction(move |c| reviews::act(c, &cx, subject, input.action, comment, four_eyes))
        .await?;
    Ok(HttpResponse::Ok().json(review))
}

/// The review of an activity: its state, what may be done next, the content
/// hashes per language and channel variant, and who approved what.
#[utoipa::path(tag = "review", params(("id" = i64, Path)), security(("bearer" = ["viewer"])),
    responses((status = 200, body = Review), (status = 404, body = Problem)))]
#[get("/activities/{id}/review")]
async fn activity_review(_: Viewer, state: State, id: web::Path<i64>) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let review = state
        .db
        .run(move |c| reviews::get(c, Subject::Activity(id)))
        .await?;
    Ok(HttpResponse::Ok().json(review))
}

/// Moves an activity's review on. Approving needs the approver role and, with
/// `approval.four_eyes`, someone other than the author and the last editor;
/// an action the state does not allow answers 409 with the state and what it allows.
#[utoipa::path(tag = "review", params(("id" = i64, Path)), request_body = ReviewInput,
    security(("bearer" = ["editor"])),
    responses((status = 200, body = Review), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/activities/{id}/review")]
async fn activity_review_action(
    who: Editor,
    state: State,
    req: HttpRequest,
    id: web::Path<i64>,
    input: Json<ReviewInput>,
) -> ApiResult<HttpResponse> {
    act(
        &who.0,
        &state,
        &req,
        Subject::Activity(id.into_inner()),
        input.0,
    )
    .await
}

/// The review of a newsletter issue.
#[utoipa::path(tag = "review", params(("id" = i64, Path)), security(("bearer" = ["viewer"])),
    responses((status = 200, body = Review), (status = 404, body = Problem)))]
#[get("/issues/{id}/review")]
async fn issue_review(_: Viewer, state: State, id: web::Path<i64>) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let review = state
        .db
        .run(move |c| reviews::get(c, Subject::Issue(id)))
        .await?;
    Ok(HttpResponse::Ok().json(review))
}

/// Moves a newsletter issue's review on (as for activities). Scheduling and
/// sending need a current approval.
#[utoipa::path(tag = "review", params(("id" = i64, Path)), request_body = ReviewInput,
    security(("bearer" = ["editor"])),
    responses((status = 200, body = Review), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/issues/{id}/review")]
async fn issue_review_action(
    who: Editor,
    state: State,
    req: HttpRequest,
    id: web::Path<i64>,
    input: Json<ReviewInput>,
) -> ApiResult<HttpResponse> {
    act(
        &who.0,
        &state,
        &req,
        Subject::Issue(id.into_inner()),
        input.0,
    )
    .await
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ChangesQuery {
    /// Entries after this cursor (the `next` of the previous page; 0 or absent
    /// from the beginning).
    since: Option<i64>,
    /// Only changes of this kind of record (activity, plan, issue, …).
    #[param(value_type = Option<String>, max_length = 64)]
    entity: Option<Text<64>>,
    /// 1 to 500, default 100.
    limit: Option<i64>,
}

/// Every change to every record, oldest first, cursor-paginated.
#[utoipa::path(tag = "review", params(ChangesQuery), security(("bearer" = ["viewer"])),
    responses((status = 200, body = ChangePage), (status = 422, body = Problem)))]
#[get("/changes")]
async fn changes(
    _: Viewer,
    state: State,
    q: crate::http::query::Query<ChangesQuery>,
) -> ApiResult<HttpResponse> {
    let q = q.into_inner();
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(Error::invalid("limit", "between 1 and 500").into());
    }
    let since = q.since.unwrap_or(0);
    let entity = q.entity.as_ref().map(|e| e.as_str().to_owned());
    let (items, next): (Vec<HistoryEntry>, Option<i64>) = state
        .db
        .run(move |c| crate::app::history::changes(c, since, entity.as_deref(), limit))
        .await?;
    Ok(HttpResponse::Ok().json(ChangePage { items, next }))
}
