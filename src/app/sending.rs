//! What sends something out on a person's word — scheduling or sending a
//! newsletter issue, inviting an activity's participants — needs a current
//! approval of exactly what goes out, and is recorded in the history.

use super::Context;
use super::history::{self, Action, Entry};
use super::policy::{self, Operation};
use super::reviews::{self, Subject};
use crate::db::{self, DbConnection};
use crate::domain::newsletter::{Issue, ScheduleInput};
use crate::error::Result;

fn state_changed(
    conn: &mut DbConnection,
    cx: &Context,
    before: &Issue,
    after: &Issue,
) -> Result<()> {
    history::record(
        conn,
        &cx.actor,
        cx.now,
        Entry {
            entity: "issue",
            entity_id: after.id,
            action: Action::StateChanged,
            changes: history::diff_of(Some(before), Some(after), &[]),
            reason: cx.reason.as_deref(),
        },
    )
}

pub fn schedule_issue(
    conn: &mut DbConnection,
    cx: &Context,
    id: i64,
    input: &ScheduleInput,
) -> Result<Issue> {
    policy::require(&cx.actor, Operation::SendApproved)?;
    reviews::require_approved(conn, Subject::Issue(id))?;
    let before = db::issues::get(conn, id)?;
    let after = db::issues::schedule(conn, id, input, cx.now)?;
    state_changed(conn, cx, &before, &after)?;
    Ok(after)
}

pub fn send_issue_now(
    conn: &mut DbConnection,
    cx: &Context,
    id: i64,
    message_domain: &str,
) -> Result<(Issue, i64)> {
    policy::require(&cx.actor, Operation::SendApproved)?;
    reviews::require_approved(conn, Subject::Issue(id))?;
    let before = db::issues::get(conn, id)?;
    let (after, queued) = db::issues::start_sending(conn, id, message_domain, cx.now)?;
    state_changed(conn, cx, &before, &after)?;
    Ok((after, queued))
}

/// A scheduled issue whose approval was superseded by an edit goes back to draft:
/// nothing unapproved leaves at the scheduled time.
pub fn unschedule_unapproved(conn: &mut DbConnection, cx: &Context, issue: &Issue) -> Result<()> {
    if issue.state != crate::domain::newsletter::IssueState::Scheduled
        || reviews::require_approved(conn, Subject::Issue(issue.id)).is_ok()
    {
        return Ok(());
    }
    let after = db::issues::unschedule(conn, issue.id, cx.now)?;
    state_changed(conn, cx, issue, &after)
}

pub fn invite_participants(
    conn: &mut DbConnection,
    cx: &Context,
    activity_id: i64,
    message_domain: &str,
) -> Result<usize> {
    policy::require(&cx.actor, Operation::SendApproved)?;
    reviews::require_approved(conn, Subject::Activity(activity_id))?;
    let queued = db::invitations::invite(conn, activity_id, message_domain, cx.now)?;
    if queued > 0 {
        history::record(
            conn,
            &cx.actor,
            cx.now,
            Entry {
                entity: "activity",
                entity_id: activity_id,
                action: Action::StateChanged,
                changes: vec![history::FieldChange {
                    field: "invitations_queued".into(),
                    before: serde_json::Value::Null,
                    after: queued.into(),
                    personal: false,
                }],
                reason: cx.reason.as_deref(),
            },
        )?;
    }
    Ok(queued)
}
