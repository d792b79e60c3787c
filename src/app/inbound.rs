//! A message read from the inbound mailbox, handled once: a bounce or
//! complaint goes through `subscribers::record_bounce`, an invitation reply
//! through `invitations::record_reply` (the same use cases as the API and
//! the CLI), and the message is recorded with what became of it, its UID
//! moving the mailbox's cursor, in the same transaction. A message the use
//! case refuses (a reply for an unknown event, a report naming nobody) is
//! recorded as skipped with the reason, and not tried again.

use super::Context;
use crate::db::DbConnection;
use crate::db::inbound::{self as db, Cursor};
use crate::domain::inbound::InboundOutcome;
use crate::domain::newsletter::BounceKind;
use crate::email::inbound::{self as read, Inbound};
use crate::error::{Error, Result};
use diesel::connection::SimpleConnection;

/// What handling a message came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    Recorded {
        outcome: InboundOutcome,
        detail: String,
    },
    /// This message was handled before (by this or another fetcher).
    AlreadyRecorded,
}

/// Handles the message with this UID of the mailbox at `cursor`.
pub fn handle(
    conn: &mut DbConnection,
    cx: &Context,
    cursor: &Cursor,
    uid: i64,
    raw: &[u8],
) -> Result<Handled> {
    if db::is_recorded(conn, cursor, uid)? {
        return Ok(Handled::AlreadyRecorded);
    }
    let message_id = read::message_id(raw);
    // The effects in a savepoint: a refusal undoes them, and the message is
    // still recorded (skipped) so it is not read again.
    // (SQL savepoints: the outer transaction is begun by hand on SQLite.)
    conn.batch_execute("SAVEPOINT inbound_message")?;
    let (outcome, detail) = match apply(conn, cx, raw) {
        Ok(done) => {
            conn.batch_execute("RELEASE SAVEPOINT inbound_message")?;
            done
        }
        Err(e) if refused(&e) => {
            conn.batch_execute("ROLLBACK TO SAVEPOINT inbound_message")?;
            conn.batch_execute("RELEASE SAVEPOINT inbound_message")?;
            (InboundOutcome::Skipped, e.to_string())
        }
        Err(e) => return Err(e),
    };
    record(
        conn,
        cx,
        cursor,
        uid,
        message_id.as_deref(),
        outcome,
        &detail,
    )
}

/// Records a message without reading it (too large, unreadable over IMAP).
pub fn skip(
    conn: &mut DbConnection,
    cx: &Context,
    cursor: &Cursor,
    uid: i64,
    reason: &str,
) -> Result<Handled> {
    if db::is_recorded(conn, cursor, uid)? {
        return Ok(Handled::AlreadyRecorded);
    }
    record(conn, cx, cursor, uid, None, InboundOutcome::Skipped, reason)
}

fn record(
    conn: &mut DbConnection,
    cx: &Context,
    cursor: &Cursor,
    uid: i64,
    message_id: Option<&str>,
    outcome: InboundOutcome,
    detail: &str,
) -> Result<Handled> {
    db::record(conn, cursor, uid, message_id, outcome, detail, cx.now)?;
    Ok(Handled::Recorded {
        outcome,
        detail: detail.to_owned(),
    })
}

/// Errors that are the message's fault, not the service's: recorded, not retried.
fn refused(e: &Error) -> bool {
    !matches!(
        e,
        Error::Database(_) | Error::Pool(_) | Error::Internal(_) | Error::Duplicate { .. }
    )
}

fn apply(conn: &mut DbConnection, cx: &Context, raw: &[u8]) -> Result<(InboundOutcome, String)> {
    let inbound = match read::read(raw) {
        Ok(inbound) => inbound,
        Err(why) => return Ok((InboundOutcome::Skipped, why)),
    };
    match inbound {
        Inbound::Report(report) => {
            let mut lines = Vec::new();
            let mut complaint = false;
            for input in &report.bounces {
                let outcome = super::subscribers::record_bounce(conn, cx, input)?;
                complaint |= outcome.kind == BounceKind::Complaint;
                lines.push(format!(
                    "{}: {} bounce{}",
                    outcome.email,
                    outcome.kind,
                    match (outcome.known_subscriber, outcome.suppressed) {
                        (false, _) => ", no subscriber has this address",
                        (true, true) => ", the address receives nothing more",
                        (true, false) => "",
                    }
                ));
            }
            lines.extend(report.ignored.iter().map(|l| format!("{l}: ignored")));
            let outcome = if complaint {
                InboundOutcome::Complaint
            } else if report.bounces.is_empty() {
                InboundOutcome::Ignored
            } else {
                InboundOutcome::Bounce
            };
            Ok((outcome, lines.join("; ")))
        }
        Inbound::Reply(reply) => {
            let outcome = super::invitations::record_reply(conn, cx, &reply)?;
            Ok((
                InboundOutcome::Reply,
                format!(
                    "{} answered {} (activity {}){}",
                    reply.attendee,
                    outcome.answer,
                    outcome.activity_id,
                    if outcome.recorded {
                        ""
                    } else {
                        ", older than the answer recorded: not applied"
                    }
                ),
            ))
        }
    }
}
