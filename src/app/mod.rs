//! The use-case layer: one function per operation (edit an activity, approve an
//! issue, import a calendar, sign in). Each takes who acts and when (`Context`)
//! and a connection inside a write transaction; it checks the rules, writes
//! through `db`, records the change in the history and queues its effects, all in
//! that one transaction. `http`, `cli`, the `.ics` import and the seed call these
//! functions; they never write through `db` themselves.

pub mod accounts;
pub mod actor;
pub mod entities;
pub mod feeds;
pub mod history;
pub mod imports;
pub mod inbound;
pub mod invitations;
pub mod jobs;
pub mod policy;
pub mod posts;
pub mod progress;
pub mod records;
pub mod reports;
pub mod reviews;
pub mod sending;
pub mod sessions;
pub mod subscribers;
pub mod tokens;
pub mod webhooks;

pub use actor::Actor;

use chrono::{DateTime, Utc};

/// Who acts, when, and why (an optional reason shown in the history, e.g.
/// "date confirmed by URAIA").
#[derive(Debug, Clone)]
pub struct Context {
    pub actor: Actor,
    pub now: DateTime<Utc>,
    pub reason: Option<String>,
}

impl Context {
    pub fn new(actor: Actor, now: DateTime<Utc>) -> Context {
        Context {
            actor,
            now,
            reason: None,
        }
    }

    pub fn with_reason(mut self, reason: Option<String>) -> Context {
        self.reason = reason;
        self
    }
}
