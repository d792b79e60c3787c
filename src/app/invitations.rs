//! Answers to invitations: a participant's calendar replies (iTIP REPLY,
//! RFC 5546) to the ORGANIZER address, and the answer (accepted, tentative,
//! declined) is recorded on their participation, with its history.

use super::Context;
use super::history::{self, Action};
use super::policy::{self, Operation};
use crate::db::{DbConnection, participations as db};
use crate::domain::participation::ParticipationAnswer;
use crate::email::itip::Reply;
use crate::error::{Error, Result};
use serde::Serialize;
use utoipa::ToSchema;

/// What became of a reply.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReplyOutcome {
    pub activity_id: i64,
    /// The participations answered (a person may take part in several roles).
    pub participation_ids: Vec<i64>,
    pub answer: ParticipationAnswer,
    /// False when a reply to a later SEQUENCE was recorded already: an older
    /// reply arriving late does not overwrite it.
    pub recorded: bool,
}

/// Records a reply on the participations of its attendee in its activity.
pub fn record_reply(conn: &mut DbConnection, cx: &Context, reply: &Reply) -> Result<ReplyOutcome> {
    policy::require(&cx.actor, Operation::Write)?;
    let activity_id = db::activity_by_uid(conn, &reply.uid)?
        .ok_or_else(|| Error::invalid("UID", format!("no activity has the UID {}", reply.uid)))?;
    let participations = db::of_attendee(conn, activity_id, &reply.attendee)?;
    if participations.is_empty() {
        return Err(Error::invalid(
            "ATTENDEE",
            "is not a participant of the activity",
        ));
    }
    let stale = participations
        .iter()
        .any(|(_, answered)| answered.is_some_and(|s| s > reply.sequence));
    if !stale {
        for (id, _) in &participations {
            let before = db::get(conn, *id)?;
            db::set_answer(conn, *id, reply.answer, reply.sequence, cx.now)?;
            let after = db::get(conn, *id)?;
            let changes = history::diff_of(Some(&before), Some(&after), &[]);
            history::record_in(conn, cx, "participation", *id, Action::Updated, changes)?;
        }
    }
    Ok(ReplyOutcome {
        activity_id,
        participation_ids: participations.iter().map(|(id, _)| *id).collect(),
        answer: reply.answer,
        recorded: !stale,
    })
}
