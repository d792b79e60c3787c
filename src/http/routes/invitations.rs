//! Invitations to an activity's participants (iTIP over email).

use super::State;
use crate::db::{activities, deliveries};
use crate::dispatch::message_domain;
use crate::domain::newsletter::DeliveryView;
use crate::http::auth::{Editor, Viewer};
use crate::http::problem::{ApiResult, Problem};
use actix_web::{HttpResponse, get, post, web};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(invite).service(list);
}

#[derive(Serialize, ToSchema)]
struct Invited {
    /// Invitations queued now (participants already invited at this
    /// SEQUENCE are skipped).
    queued: usize,
    invitations: Vec<DeliveryView>,
}

/// Emails every participant with an address a calendar invitation
/// (`text/calendar; method=REQUEST`, the feeds' UID and SEQUENCE). Later
/// changes of time or place send updates, and a cancellation METHOD:CANCEL.
#[utoipa::path(tag = "activities", params(("id" = i64, Path)), security(("bearer" = ["editor"])),
    responses((status = 202, body = Invited), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/activities/{id}/invitations")]
async fn invite(
    who: Editor,
    state: State,
    req: actix_web::HttpRequest,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let cx = super::context(&state, &who.0, &req);
    let domain = message_domain(&state.settings.email);
    let (queued, invitations) = state
        .db
        .transaction(move |c| {
            let queued = crate::app::sending::invite_participants(c, &cx, id, &domain)?;
            Ok((queued, deliveries::of_activity(c, id)?))
        })
        .await?;
    Ok(HttpResponse::Accepted().json(Invited {
        queued,
        invitations,
    }))
}

/// The invitations sent for an activity and what became of each.
#[utoipa::path(tag = "activities", params(("id" = i64, Path)), security(("bearer" = ["viewer"])),
    responses((status = 200, body = Vec<DeliveryView>), (status = 404, body = Problem)))]
#[get("/activities/{id}/invitations")]
async fn list(_: Viewer, state: State, id: web::Path<i64>) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let found = state
        .db
        .run(move |c| {
            activities::get(c, id)?;
            deliveries::of_activity(c, id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(found))
}
