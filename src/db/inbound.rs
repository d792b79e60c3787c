//! Where the inbound mailbox fetcher got to (UIDVALIDITY and the last UID
//! handled, per mailbox) and the record of every message it read.

use super::outbound_schema::{inbound_mailboxes, inbound_messages};
use super::{DbConnection, parse_stored, utc};
use crate::domain::inbound::{InboundMessageView, InboundOutcome};
use crate::error::Result;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

/// A mailbox's place: messages with a UID above `last_uid` under this
/// `uid_validity` are new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub mailbox_id: i64,
    pub uid_validity: i64,
    pub last_uid: i64,
}

/// The cursor of `name`, created at UID 0 for a mailbox never read. When
/// the server's UIDVALIDITY is not the stored one, the UIDs seen before
/// mean nothing any more: the cursor starts again at 0 under the new one
/// (and `reset` says so).
pub fn cursor(
    conn: &mut DbConnection,
    name: &str,
    uid_validity: i64,
    now: DateTime<Utc>,
) -> Result<(Cursor, bool)> {
    let found: Option<(i64, i64, i64)> = inbound_mailboxes::table
        .filter(inbound_mailboxes::name.eq(name))
        .select((
            inbound_mailboxes::id,
            inbound_mailboxes::uid_validity,
            inbound_mailboxes::last_uid,
        ))
        .first(conn)
        .optional()?;
    match found {
        Some((id, validity, last_uid)) if validity == uid_validity => Ok((
            Cursor {
                mailbox_id: id,
                uid_validity,
                last_uid,
            },
            false,
        )),
        Some((id, _, _)) => {
            diesel::update(inbound_mailboxes::table.find(id))
                .set((
                    inbound_mailboxes::uid_validity.eq(uid_validity),
                    inbound_mailboxes::last_uid.eq(0i64),
                    inbound_mailboxes::updated_at.eq(now.naive_utc()),
                ))
                .execute(conn)?;
            Ok((
                Cursor {
                    mailbox_id: id,
                    uid_validity,
                    last_uid: 0,
                },
                true,
            ))
        }
        None => {
            let id = diesel::insert_into(inbound_mailboxes::table)
                .values((
                    inbound_mailboxes::name.eq(name),
                    inbound_mailboxes::uid_validity.eq(uid_validity),
                    inbound_mailboxes::last_uid.eq(0i64),
                    inbound_mailboxes::updated_at.eq(now.naive_utc()),
                ))
                .returning(inbound_mailboxes::id)
                .get_result(conn)?;
            Ok((
                Cursor {
                    mailbox_id: id,
                    uid_validity,
                    last_uid: 0,
                },
                false,
            ))
        }
    }
}

/// Whether this message was read already.
pub fn is_recorded(conn: &mut DbConnection, cursor: &Cursor, uid: i64) -> Result<bool> {
    let n: i64 = inbound_messages::table
        .filter(inbound_messages::mailbox_id.eq(cursor.mailbox_id))
        .filter(inbound_messages::uid_validity.eq(cursor.uid_validity))
        .filter(inbound_messages::uid.eq(uid))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Records a message read and moves the cursor past it. The pair
/// (mailbox, UIDVALIDITY, UID) is unique: a second fetcher that read the
/// same message gets `Error::Duplicate`, and its transaction (with whatever
/// the message did) is rolled back.
#[allow(clippy::too_many_arguments)]
pub fn record(
    conn: &mut DbConnection,
    cursor: &Cursor,
    uid: i64,
    message_id: Option<&str>,
    outcome: InboundOutcome,
    detail: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    diesel::insert_into(inbound_messages::table)
        .values((
            inbound_messages::mailbox_id.eq(cursor.mailbox_id),
            inbound_messages::uid_validity.eq(cursor.uid_validity),
            inbound_messages::uid.eq(uid),
            inbound_messages::message_id.eq(message_id),
            inbound_messages::outcome.eq(outcome),
            inbound_messages::detail.eq(detail),
            inbound_messages::received_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    diesel::update(
        inbound_mailboxes::table
            .find(cursor.mailbox_id)
            .filter(inbound_mailboxes::uid_validity.eq(cursor.uid_validity))
            .filter(inbound_mailboxes::last_uid.lt(uid)),
    )
    .set((
        inbound_mailboxes::last_uid.eq(uid),
        inbound_mailboxes::updated_at.eq(now.naive_utc()),
    ))
    .execute(conn)?;
    Ok(())
}

/// A message read, as stored: id, mailbox, UIDVALIDITY, UID, Message-ID,
/// outcome, detail, when.
type MessageRow = (
    i64,
    String,
    i64,
    i64,
    Option<String>,
    String,
    String,
    NaiveDateTime,
);

/// The messages read, newest first.
pub fn recent(conn: &mut DbConnection, limit: i64) -> Result<Vec<InboundMessageView>> {
    let rows: Vec<MessageRow> = inbound_messages::table
        .inner_join(inbound_mailboxes::table)
        .order(inbound_messages::id.desc())
        .limit(limit)
        .select((
            inbound_messages::id,
            inbound_mailboxes::name,
            inbound_messages::uid_validity,
            inbound_messages::uid,
            inbound_messages::message_id,
            inbound_messages::outcome,
            inbound_messages::detail,
            inbound_messages::received_at,
        ))
        .load(conn)?;
    rows.into_iter()
        .map(
            |(id, mailbox, uid_validity, uid, message_id, outcome, detail, received_at)| {
                Ok(InboundMessageView {
                    id,
                    mailbox,
                    uid_validity,
                    uid,
                    message_id,
                    outcome: parse_stored(&outcome)?,
                    detail,
                    received_at: utc(received_at),
                })
            },
        )
        .collect()
}
