//! A newsletter issue's life after it is written — scheduled, sent, paused,
//! cancelled, finished — and inviting an activity's participants. What sends
//! something out on a person's word needs a current approval of exactly what
//! goes out; every step is recorded in the history, and so is what it did to
//! the issue's linked activity (the feeds show that one).

use super::Context;
use super::history::{self, Action, Entry};
use super::policy::{self, Operation};
use super::reviews::{self, Subject};
use crate::config::EmailSettings;
use crate::db::Db;
use crate::db::{self, DbConnection};
use crate::dispatch;
use crate::domain::Language;
use crate::domain::activity::Activity;
use crate::domain::newsletter::{EmailLimits, Issue, IssueState, ScheduleInput};
use crate::domain::newsletter::{TestSendInput, TestSendResult};
use crate::error::{Error, Result};
use chrono::{DateTime, Utc};

/// The issue as it was, and its linked activity as it was.
struct Before {
    issue: Issue,
    activity: Option<Activity>,
}

fn before(conn: &mut DbConnection, issue: Issue) -> Result<Before> {
    let activity = match issue.activity_id {
        Some(id) => Some(db::activities::get(conn, id)?),
        None => None,
    };
    Ok(Before { issue, activity })
}

fn state_changed(conn: &mut DbConnection, cx: &Context, was: &Before, after: &Issue) -> Result<()> {
    history::record_in(
        conn,
        cx,
        "issue",
        after.id,
        Action::StateChanged,
        history::diff_of(Some(&was.issue), Some(after), &[]),
    )?;
    if let Some(activity) = &was.activity {
        let now = db::activities::get(conn, activity.id)?;
        history::record(
            conn,
            &cx.actor,
            cx.now,
            Entry {
                entity: "activity",
                entity_id: activity.id,
                action: Action::StateChanged,
                changes: history::diff_of(Some(activity), Some(&now), &[]),
                reason: Some("follows its newsletter issue"),
            },
        )?;
    }
    Ok(())
}

pub fn schedule_issue(
    conn: &mut DbConnection,
    cx: &Context,
    id: i64,
    input: &ScheduleInput,
) -> Result<Issue> {
    policy::require(&cx.actor, Operation::SendApproved)?;
    reviews::require_approved(conn, Subject::Issue(id))?;
    let issue = db::issues::get(conn, id)?;
    let was = before(conn, issue)?;
    let after = db::issues::schedule(conn, id, input, cx.now)?;
    state_changed(conn, cx, &was, &after)?;
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
    let issue = db::issues::get(conn, id)?;
    let was = before(conn, issue)?;
    let (after, queued) = db::issues::start_sending(conn, id, message_domain, cx.now)?;
    state_changed(conn, cx, &was, &after)?;
    Ok((after, queued))
}

/// A scheduled issue whose approval was superseded by an edit goes back to draft:
/// nothing unapproved leaves at the scheduled time.
pub fn unschedule_unapproved(conn: &mut DbConnection, cx: &Context, issue: &Issue) -> Result<()> {
    if issue.state != IssueState::Scheduled
        || reviews::require_approved(conn, Subject::Issue(issue.id)).is_ok()
    {
        return Ok(());
    }
    let was = before(conn, issue.clone())?;
    let after = db::issues::unschedule(conn, issue.id, cx.now)?;
    state_changed(conn, cx, &was, &after)
}

/// A person moves a newsletter issue on: back to draft, pause, resume, cancel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueMove {
    Unschedule,
    Pause,
    Resume,
    Cancel,
}

pub fn move_issue(conn: &mut DbConnection, cx: &Context, id: i64, to: IssueMove) -> Result<Issue> {
    policy::require(&cx.actor, Operation::Write)?;
    let issue = db::issues::get(conn, id)?;
    let was = before(conn, issue)?;
    let after = match to {
        IssueMove::Unschedule => db::issues::unschedule(conn, id, cx.now)?,
        IssueMove::Pause => db::issues::pause(conn, id, cx.now)?,
        IssueMove::Resume => db::issues::resume(conn, id, cx.now)?,
        IssueMove::Cancel => db::issues::cancel(conn, id, cx.now)?,
    };
    state_changed(conn, cx, &was, &after)?;
    Ok(after)
}

/// The dispatcher's end of a send: issues whose deliveries all reached an end
/// become sent, sent with failures or failed, and their activities follow.
pub fn finish_completed(conn: &mut DbConnection, cx: &Context) -> Result<Vec<Issue>> {
    let mut sending = Vec::new();
    for issue in db::issues::list_in_state(conn, IssueState::Sending)? {
        sending.push(before(conn, issue)?);
    }
    let finished = db::issues::finish_completed(conn, cx.now)?;
    for after in &finished {
        if let Some(was) = sending.iter().find(|b| b.issue.id == after.id) {
            state_changed(conn, cx, was, after)?;
        }
        super::webhooks::emit(
            conn,
            cx.now,
            crate::domain::webhook::EventType::NewsletterSent,
            serde_json::json!({"id": after.id, "state": after.state, "activity_id": after.activity_id}),
        )?;
    }
    Ok(finished)
}

/// Queues an issue's failed deliveries again (and those of unknown outcome
/// when asked), never to addresses unsubscribed or suppressed since.
pub fn retry_failed(
    conn: &mut DbConnection,
    cx: &Context,
    id: i64,
    include_unknown: bool,
) -> Result<(Issue, i64)> {
    policy::require(&cx.actor, Operation::SendApproved)?;
    reviews::require_approved(conn, Subject::Issue(id))?;
    let issue = db::issues::get(conn, id)?;
    let was = before(conn, issue)?;
    let (after, requeued) = db::issues::retry_failed(conn, id, include_unknown, cx.now)?;
    if requeued > 0 {
        let mut changes = history::diff_of(Some(&was.issue), Some(&after), &[]);
        changes.push(history::FieldChange {
            field: "deliveries_requeued".into(),
            before: serde_json::Value::Null,
            after: requeued.into(),
            personal: false,
        });
        history::record_in(conn, cx, "issue", id, Action::StateChanged, changes)?;
    }
    Ok((after, requeued))
}

/// Sets the sending limits every dispatcher applies within a heartbeat;
/// `None` fields return to the configuration.
pub fn set_email_limits(conn: &mut DbConnection, cx: &Context, limits: &EmailLimits) -> Result<()> {
    policy::require(&cx.actor, Operation::Write)?;
    let was = db::subscribers::runtime_limits(conn)?;
    db::subscribers::set_runtime_limits(conn, limits, cx.now)?;
    let changes = history::diff_of(Some(&was), Some(limits), &[]);
    history::record_in(conn, cx, "email_limits", 1, Action::Updated, changes)
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
        history::record_in(
            conn,
            cx,
            "activity",
            activity_id,
            Action::StateChanged,
            vec![history::FieldChange {
                field: "invitations_queued".into(),
                before: serde_json::Value::Null,
                after: queued.into(),
                personal: false,
            }],
        )?;
    }
    Ok(queued)
}

/// Whether the configuration lets newsletters go out (the web pages ask too).
pub fn ready_to_send(email: &EmailSettings) -> Result<()> {
    if email.transport == crate::config::TransportKind::Smtp
        && (email.postal_address.trim().is_empty() || email.organisation.trim().is_empty())
    {
        return Err(Error::invalid(
            "email.postal_address",
            "set email.organisation and email.postal_address in the configuration before sending through SMTP: every newsletter must say who sends it and from where",
        ));
    }
    Ok(())
}

/// The test send itself, for the API and the web page alike: 1-10 addresses,
/// marked as a test, what the relay answered for each; nothing recorded.
pub async fn send_test(
    db: &Db,
    email: &EmailSettings,
    public_url: &str,
    now: DateTime<Utc>,
    id: i64,
    input: TestSendInput,
) -> Result<Vec<TestSendResult>> {
    if input.addresses.is_empty() || input.addresses.len() > 10 {
        return Err(Error::invalid("addresses", "give 1 to 10 addresses"));
    }
    let issue = db.run(move |c| db::issues::get(c, id)).await?;
    let transport = dispatch::transport_from_settings(email).map_err(Error::Internal)?;
    let (_, prepared) =
        dispatch::content::prepare(&issue, input.language.unwrap_or(Language::En), email)
            .ok_or_else(|| Error::invalid("language", "the issue has no text"))?;
    let mut results = Vec::new();
    for address in &input.addresses {
        let url = dispatch::content::unsubscribe_url(public_url, "test");
        let body = prepared.newsletter.encode("", &url);
        let message_id = format!(
            "<test.{}.{}@{}>",
            issue.uid,
            uuid::Uuid::new_v4().simple(),
            dispatch::message_domain(email)
        );
        let subject = format!(
            "[TEST] {}",
            crate::email::render::personalise_subject(&prepared.subject, "")
        );
        let to = address
            .as_str()
            .parse()
            .map(|a| lettre::message::Mailbox::new(None, a))
            .map_err(|e| Error::invalid("addresses", format!("{e}")))?;
        let content = crate::email::Content::Encoded(body);
        let built = dispatch::content::base_email(email, to, subject, content, &message_id, now)
            .map_err(|e| Error::invalid("email.from_address", format!("{e:?}")))
            .and_then(|out| {
                out.into_message()
                    .map_err(|e| Error::invalid("addresses", e.to_string()))
            })?;
        let result = match transport.send(&built, built.envelope()).await {
            Ok(accepted) => TestSendResult {
                address: address.as_str().to_owned(),
                accepted: true,
                smtp_code: Some(accepted.code),
                reply: accepted.reply,
            },
            Err(e) => TestSendResult {
                address: address.as_str().to_owned(),
                accepted: false,
                smtp_code: e.code(),
                reply: e.to_string(),
            },
        };
        results.push(result);
    }
    Ok(results)
}
