//! iCalendar (RFC 5545) feed writer.
//!
//! Built to avoid the faults commonly found in event platforms' feeds:
//! unfolded or mid-character-folded lines, LF line ends, unescaped commas
//! and semicolons, floating times, TZIDs without a VTIMEZONE (or with one
//! that is wrong outside a single year), inclusive all-day ends, overrides
//! separated from their master, and output that changes between requests.
//!
//! The service builds a [`Calendar`] and calls [`render`] (or
//! [`try_render`] to reject inconsistent input first). Output depends only
//! on the input and the compiled-in tz database, so it can back a strong
//! ETag.

pub mod model;
mod render;
pub mod vtimezone;
pub mod writer;

#[cfg(test)]
mod tests;

pub use self::model::{
    Attendee, Calendar, Event, EventStatus, EventTime, Method, OccurrenceId, Organizer, PartStat,
    Role,
};
pub use self::render::{render, try_render, validate};

/// Input that cannot be written as a consistent calendar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IcsError {
    #[error("PRODID is empty")]
    EmptyProdid,
    /// DURATION has no fractions, so anything shorter would be written as
    /// `PT0S`.
    #[error("refresh interval must be at least one second")]
    NonPositiveRefreshInterval,
    #[error("event #{index} has an empty UID")]
    EmptyUid { index: usize },
    #[error("event {uid}: end must be after start")]
    EndNotAfterStart { uid: String },
    #[error(
        "event {uid}: {field} is not of the same kind (date vs. date-time) as the event's time"
    )]
    OccurrenceKindMismatch { uid: String, field: &'static str },
    #[error("event {uid}: EXDATE without RRULE or RDATE")]
    ExdatesWithoutRrule { uid: String },
    #[error("event {uid}: an override (RECURRENCE-ID) cannot carry its own RRULE")]
    OverrideWithRrule { uid: String },
    #[error("event {uid}: more than one master event (without RECURRENCE-ID)")]
    DuplicateMaster { uid: String },
    #[error("event {uid}: more than one override for the same RECURRENCE-ID")]
    DuplicateOverride { uid: String },
    #[error("event {uid}: override must use the master's time kind and zone")]
    OverrideTimeMismatch { uid: String },
    #[error("event {uid}: METHOD {method} requires an ORGANIZER")]
    MissingOrganizer { uid: String, method: &'static str },
}
