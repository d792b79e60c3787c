//! Invitations to an activity's participants: iTIP REQUEST messages (and
//! CANCEL when the activity is cancelled), queued as deliveries like any
//! other message. Once an activity has been sent invitations, every change a
//! calendar would show (its SEQUENCE goes up) sends the update to the people
//! invited, and a newer message supersedes an older one still queued.

use super::schema::{activities, deliveries, participations, people};
use super::{DbConnection, activities as activity_db};
use crate::domain::activity::Activity;
use crate::domain::newsletter::{DeliveryKind, DeliveryState};
use crate::domain::timing::Timing;
use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use diesel::prelude::*;

/// A participant who can be invited: has an email address.
#[derive(Debug, Clone)]
struct Invitee {
    person_id: i64,
    name: String,
    email: String,
    language: Option<String>,
}

fn participants(conn: &mut DbConnection, activity_id: i64) -> Result<Vec<Invitee>> {
    let rows: Vec<(i64, String, Option<String>, Option<String>)> = participations::table
        .inner_join(people::table)
        .filter(participations::activity_id.eq(activity_id))
        .select((people::id, people::name, people::email, people::language))
        .order(people::id)
        .distinct()
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(person_id, name, email, language)| {
            Some(Invitee {
                person_id,
                name,
                email: email?,
                language,
            })
        })
        .collect())
}

/// Whether an activity can be put in a calendar invitation.
pub fn invitable(activity: &Activity) -> bool {
    matches!(activity.timing, Timing::Exact { .. } | Timing::Days { .. })
}

fn method_for(activity: &Activity) -> &'static str {
    if activity.status.is_off() {
        "cancel"
    } else {
        "request"
    }
}

/// Queues one invitation per invitee at the activity's current SEQUENCE,
/// superseding older ones still queued. People who already have this
/// sequence's message (queued or sent) are skipped. Returns the number queued.
fn queue(
    conn: &mut DbConnection,
    activity: &Activity,
    invitees: &[Invitee],
    method: &str,
    message_domain: &str,
    now: DateTime<Utc>,
) -> Result<usize> {
    let mut queued = 0;
    for person in invitees {
        let already: i64 = deliveries::table
            .filter(deliveries::activity_id.eq(activity.id))
            .filter(deliveries::person_id.eq(person.person_id))
            .filter(deliveries::sequence.eq(activity.sequence))
            .filter(deliveries::method.eq(method))
            .filter(deliveries::state.ne_all(["failed", "cancelled"]))
            .count()
            .get_result(conn)?;
        if already > 0 {
            continue;
        }
        diesel::update(
            deliveries::table
                .filter(deliveries::activity_id.eq(activity.id))
                .filter(deliveries::person_id.eq(person.person_id))
                .filter(deliveries::kind.eq(DeliveryKind::Invitation))
                .filter(deliveries::state.eq_any([DeliveryState::Queued, DeliveryState::Retry])),
        )
        .set((
            deliveries::state.eq(DeliveryState::Cancelled),
            deliveries::smtp_reply.eq("superseded by a newer invitation"),
            deliveries::updated_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
        diesel::insert_into(deliveries::table)
            .values((
                deliveries::kind.eq(DeliveryKind::Invitation),
                deliveries::activity_id.eq(activity.id),
                deliveries::person_id.eq(person.person_id),
                deliveries::email.eq(person.email.trim().to_lowercase()),
                deliveries::name.eq(&person.name),
                deliveries::language.eq(person.language.as_deref().unwrap_or("en")),
                deliveries::method.eq(method),
                deliveries::sequence.eq(activity.sequence),
                deliveries::message_id.eq(format!(
                    "<invite.{}.{}.{}.{}@{message_domain}>",
                    activity.id,
                    person.person_id,
                    activity.sequence,
                    uuid::Uuid::new_v4().simple()
                )),
                deliveries::state.eq(DeliveryState::Queued),
                deliveries::next_attempt_at.eq(now.naive_utc()),
                deliveries::created_at.eq(now.naive_utc()),
                deliveries::updated_at.eq(now.naive_utc()),
            ))
            .execute(conn)?;
        queued += 1;
    }
    Ok(queued)
}

/// Invites the activity's participants (those with an email address).
pub fn invite(
    conn: &mut DbConnection,
    activity_id: i64,
    message_domain: &str,
    now: DateTime<Utc>,
) -> Result<usize> {
    let activity = activity_db::get(conn, activity_id)?;
    if !invitable(&activity) {
        return Err(Error::invalid(
            "timing",
            "the activity has no date yet: invitations need exact times or days",
        ));
    }
    let invitees = participants(conn, activity_id)?;
    if invitees.is_empty() {
        return Err(Error::Conflict(
            "no participant of this activity has an email address".into(),
        ));
    }
    queue(
        conn,
        &activity,
        &invitees,
        method_for(&activity),
        message_domain,
        now,
    )
}

/// After an activity changed: if invitations went out before and the
/// calendar-visible SEQUENCE moved on, the people invited get the update
/// (REQUEST) or the cancellation (CANCEL).
pub fn follow_change(
    conn: &mut DbConnection,
    activity_id: i64,
    now: DateTime<Utc>,
) -> Result<usize> {
    let invited: Vec<(i64, Option<i32>, String)> = deliveries::table
        .filter(deliveries::activity_id.eq(activity_id))
        .filter(deliveries::kind.eq(DeliveryKind::Invitation))
        .filter(deliveries::state.ne(DeliveryState::Cancelled))
        .select((
            deliveries::person_id.assume_not_null(),
            deliveries::sequence,
            deliveries::message_id,
        ))
        .load(conn)?;
    // The Message-ID domain the earlier invitations used (the sender's).
    let Some(message_domain) = invited.first().and_then(|(_, _, id)| {
        id.trim_end_matches('>')
            .rsplit_once('@')
            .map(|(_, d)| d.to_owned())
    }) else {
        return Ok(0);
    };
    let sequence: i32 = activities::table
        .find(activity_id)
        .select(activities::sequence)
        .first(conn)?;
    if invited.iter().all(|(_, s, _)| s.unwrap_or(0) >= sequence) {
        return Ok(0);
    }
    let activity = activity_db::get(conn, activity_id)?;
    if !invitable(&activity) {
        return Ok(0);
    }
    let mut ids: Vec<i64> = invited.into_iter().map(|(p, _, _)| p).collect();
    ids.sort_unstable();
    ids.dedup();
    // Everyone invited before, with their current address.
    let invitees: Vec<Invitee> = people::table
        .filter(people::id.eq_any(&ids))
        .select((people::id, people::name, people::email, people::language))
        .load::<(i64, String, Option<String>, Option<String>)>(conn)?
        .into_iter()
        .filter_map(|(person_id, name, email, language)| {
            Some(Invitee {
                person_id,
                name,
                email: email?,
                language,
            })
        })
        .collect();
    queue(
        conn,
        &activity,
        &invitees,
        method_for(&activity),
        &message_domain,
        now,
    )
}

/// Someone was removed from an activity they had been invited to: they get
/// the cancellation (METHOD:CANCEL), unless they still take part in another
/// role. An invitation still waiting to go is simply withdrawn.
pub fn uninvite(
    conn: &mut DbConnection,
    activity_id: i64,
    person_id: i64,
    now: DateTime<Utc>,
) -> Result<usize> {
    let still_there: i64 = participations::table
        .filter(participations::activity_id.eq(activity_id))
        .filter(participations::person_id.eq(person_id))
        .count()
        .get_result(conn)?;
    let earlier: Vec<(String, String, Option<String>, String, String)> = deliveries::table
        .filter(deliveries::activity_id.eq(activity_id))
        .filter(deliveries::person_id.eq(person_id))
        .filter(deliveries::kind.eq(DeliveryKind::Invitation))
        .filter(deliveries::state.ne(DeliveryState::Cancelled))
        .order(deliveries::id.desc())
        .select((
            deliveries::state,
            deliveries::email,
            deliveries::name,
            deliveries::language,
            deliveries::message_id,
        ))
        .load(conn)?;
    if still_there > 0 || earlier.is_empty() {
        return Ok(0);
    }
    let reached = earlier
        .iter()
        .any(|(state, ..)| !matches!(state.as_str(), "queued" | "retry"));
    if !reached {
        diesel::update(
            deliveries::table
                .filter(deliveries::activity_id.eq(activity_id))
                .filter(deliveries::person_id.eq(person_id))
                .filter(deliveries::kind.eq(DeliveryKind::Invitation))
                .filter(deliveries::state.eq_any([DeliveryState::Queued, DeliveryState::Retry])),
        )
        .set((
            deliveries::state.eq(DeliveryState::Cancelled),
            deliveries::smtp_reply.eq("withdrawn: no longer a participant"),
            deliveries::updated_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
        return Ok(0);
    }
    let activity = activity_db::get(conn, activity_id)?;
    if !invitable(&activity) {
        return Ok(0);
    }
    let (_, email, name, language, message_id) = &earlier[0];
    let Some((_, domain)) = message_id.trim_end_matches('>').rsplit_once('@') else {
        return Ok(0);
    };
    let invitee = Invitee {
        person_id,
        name: name.clone().unwrap_or_default(),
        email: email.clone(),
        language: Some(language.clone()),
    };
    queue(conn, &activity, &[invitee], "cancel", domain, now)
}

/// An activity whose invitations reached people is cancelled before it is
/// deleted, so that their calendars are told (a deleted activity can no
/// longer be described in a CANCEL).
pub fn check_deletable(conn: &mut DbConnection, activity_id: i64) -> Result<()> {
    let status: Option<String> = activities::table
        .find(activity_id)
        .select(activities::status)
        .first(conn)
        .optional()?;
    let Some(status) = status else {
        return Ok(());
    };
    let called_off = status
        .parse::<crate::domain::activity::ActivityStatus>()
        .is_ok_and(|s| s.is_off());
    let reached: i64 = deliveries::table
        .filter(deliveries::activity_id.eq(activity_id))
        .filter(deliveries::kind.eq(DeliveryKind::Invitation))
        .filter(deliveries::state.eq_any([
            DeliveryState::Sent,
            DeliveryState::Unknown,
            DeliveryState::Sending,
        ]))
        .count()
        .get_result(conn)?;
    if reached > 0 && !called_off {
        return Err(Error::Conflict(
            "invitations to this activity were sent: cancel it first (status \"cancelled\"), \
             so the people invited receive the cancellation, then delete it"
                .into(),
        ));
    }
    Ok(())
}
