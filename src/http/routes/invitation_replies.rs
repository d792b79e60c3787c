//! Answers to invitations, handed over as the participant's calendar sent
//! them to the ORGANIZER address (`email.invitation_organizer`): the iTIP
//! REPLY object or the whole email carrying it.

use super::State;
use crate::app::invitations::ReplyOutcome;
use crate::error::Error;
use crate::http::auth::Editor;
use crate::http::json::read_body;
use crate::http::problem::{ApiResult, Problem};
use actix_web::{HttpRequest, HttpResponse, post, web};
use utoipa_actix_web::service_config::ServiceConfig;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(reply);
}

const REPLY_LIMIT: usize = 1024 * 1024;

/// Records a participant's answer (accepted, tentative, declined) from their
/// calendar's iTIP REPLY (RFC 5546), `text/calendar` or the email
/// (`message/rfc822`) that carries it. A reply to an older SEQUENCE than one
/// already recorded changes nothing (`recorded: false`).
#[utoipa::path(tag = "activities", security(("bearer" = ["editor"])),
    request_body(content = String, content_type = "text/calendar", description = "METHOD:REPLY, or a message/rfc822 email carrying it",
        example = json!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Example//Calendar//EN\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:activity-1@pregon.example\r\nDTSTAMP:20200301T080000Z\r\nSEQUENCE:0\r\nORGANIZER:mailto:agenda@pregon.example\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:ane@bilbao.example\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")),
    responses(
        (status = 200, body = ReplyOutcome),
        (status = 413, body = Problem),
        (status = 415, body = Problem, description = "Neither text/calendar nor message/rfc822"),
        (status = 422, body = Problem, description = "Not a reply, or not from a participant"),
    ))]
#[post("/invitations/replies")]
async fn reply(
    editor: Editor,
    state: State,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let mut payload = payload.into_inner();
    let body = read_body(&req, &mut payload, REPLY_LIMIT, |essence| {
        essence == "text/calendar" || essence == "message/rfc822"
    })
    .await?;
    let reply =
        crate::email::itip::parse(&body).map_err(|e| Error::invalid("body", e.to_string()))?;
    let mut cx = super::context(&state, &editor.0, &req);
    cx.reason
        .get_or_insert_with(|| "the participant's calendar replied".into());
    let outcome = state
        .db
        .transaction(move |c| crate::app::invitations::record_reply(c, &cx, &reply))
        .await?;
    Ok(HttpResponse::Ok().json(outcome))
}
