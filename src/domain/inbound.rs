//! Messages read from the inbound mailbox (IMAP): bounces, complaints and
//! invitation replies, and what became of each.

use super::macros::text_enum;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

text_enum!(
    /// What a message read from the mailbox was taken as: a bounce report
    /// (RFC 3464) whose failures were recorded, an abuse complaint (ARF),
    /// an invitation reply (iTIP REPLY), a report that named no failure
    /// (`ignored`: delayed, delivered), or `skipped`: not readable as any
    /// of these, or refused by the use case (its reason in `detail`).
    /// Every one is handled once; a skipped message is not tried again.
    InboundOutcome {
        Bounce => "bounce",
        Complaint => "complaint",
        Reply => "reply",
        Ignored => "ignored",
        Skipped => "skipped",
    }
);

/// One message read, as recorded.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InboundMessageView {
    pub id: i64,
    /// `user@host:port/mailbox`.
    pub mailbox: String,
    pub uid_validity: i64,
    pub uid: i64,
    pub message_id: Option<String>,
    pub outcome: InboundOutcome,
    pub detail: String,
    pub received_at: DateTime<Utc>,
}
