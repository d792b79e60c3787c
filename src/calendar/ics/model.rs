//! Plain data the service fills in; rendering rules live in the parent module.
//!
//! `Calendar` and `Event` carry `chrono_tz::Tz` and `chrono::TimeDelta`,
//! which have no serde support with the service's feature set, so only the
//! small value types derive serde (handy for storing them in config or rows).

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// iTIP method (RFC 5546) written as `METHOD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Method {
    Publish,
    Request,
    Cancel,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Publish => "PUBLISH",
            Method::Request => "REQUEST",
            Method::Cancel => "CANCEL",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Calendar {
    pub prodid: String,
    pub method: Option<Method>,
    /// Written as `NAME` (RFC 7986) and `X-WR-CALNAME` (Google, Outlook and
    /// Apple only read the latter).
    pub name: Option<String>,
    /// Written as `DESCRIPTION` and `X-WR-CALDESC`.
    pub description: Option<String>,
    /// Written as `REFRESH-INTERVAL;VALUE=DURATION` and `X-PUBLISHED-TTL`.
    pub refresh_interval: Option<TimeDelta>,
    pub url: Option<String>,
    pub events: Vec<Event>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventStatus {
    Tentative,
    Confirmed,
    Cancelled,
}

impl EventStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EventStatus::Tentative => "TENTATIVE",
            EventStatus::Confirmed => "CONFIRMED",
            EventStatus::Cancelled => "CANCELLED",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organizer {
    pub cn: Option<String>,
    pub email: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    Chair,
    ReqParticipant,
    OptParticipant,
    NonParticipant,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Chair => "CHAIR",
            Role::ReqParticipant => "REQ-PARTICIPANT",
            Role::OptParticipant => "OPT-PARTICIPANT",
            Role::NonParticipant => "NON-PARTICIPANT",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PartStat {
    NeedsAction,
    Accepted,
    Declined,
    Tentative,
    Delegated,
}

impl PartStat {
    pub fn as_str(self) -> &'static str {
        match self {
            PartStat::NeedsAction => "NEEDS-ACTION",
            PartStat::Accepted => "ACCEPTED",
            PartStat::Declined => "DECLINED",
            PartStat::Tentative => "TENTATIVE",
            PartStat::Delegated => "DELEGATED",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attendee {
    pub cn: Option<String>,
    pub email: String,
    /// `None` leaves the RFC default (REQ-PARTICIPANT) implicit.
    pub role: Option<Role>,
    /// `None` leaves the RFC default (NEEDS-ACTION) implicit.
    pub partstat: Option<PartStat>,
    pub rsvp: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventTime {
    /// Wall-clock times in `tz`. Written with `TZID=<IANA name>` plus a
    /// generated VTIMEZONE, except for UTC, which is written with `Z`.
    Timed {
        start: NaiveDateTime,
        end: NaiveDateTime,
        tz: Tz,
    },
    /// `end_exclusive` is the day after the last day (RFC 5545 DTEND is
    /// exclusive): a one-day event on 31 Jan has `end_exclusive` 1 Feb.
    AllDay {
        start: NaiveDate,
        end_exclusive: NaiveDate,
    },
}

impl EventTime {
    /// All-day event from `first` through `last` inclusive; computes the
    /// exclusive end so callers never write DTEND = last day (a common
    /// fault that makes clients show the event one day short). `None` if
    /// `last` is before `first` or is the last representable date.
    pub fn all_day(first: NaiveDate, last: NaiveDate) -> Option<Self> {
        (last >= first).then_some(())?;
        Some(EventTime::AllDay {
            start: first,
            end_exclusive: last.succ_opt()?,
        })
    }
}

/// Identifies one occurrence of a recurring event (EXDATE, RECURRENCE-ID).
/// It must be of the same kind as the event's time: `Local` (a wall time in
/// the event's zone) for `Timed`, `Date` for `AllDay`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum OccurrenceId {
    Local(NaiveDateTime),
    Date(NaiveDate),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub uid: String,
    pub dtstamp: DateTime<Utc>,
    pub created: Option<DateTime<Utc>>,
    pub last_modified: Option<DateTime<Utc>>,
    pub sequence: u32,
    pub summary: String,
    pub description: Option<String>,
    pub location: Option<String>,
    pub url: Option<String>,
    pub organizer: Option<Organizer>,
    pub attendees: Vec<Attendee>,
    pub categories: Vec<String>,
    pub status: Option<EventStatus>,
    /// `TRANSP:TRANSPARENT` (does not block free/busy) when true.
    pub transparent: bool,
    pub time: EventTime,
    /// An already-validated RRULE value (without the `RRULE:` prefix),
    /// written verbatim.
    pub rrule: Option<String>,
    pub exdates: Vec<OccurrenceId>,
    /// Extra occurrences (RDATE), of the same kind as `time`, each lasting as
    /// long as the event; written one per line.
    pub rdates: Vec<OccurrenceId>,
    /// Set on an override of one occurrence of a recurring event; the
    /// override shares the master's UID.
    pub recurrence_id: Option<OccurrenceId>,
    /// BCP 47 tag written as the LANGUAGE parameter of SUMMARY and DESCRIPTION.
    pub language: Option<String>,
}

impl Event {
    /// An event with the given identity and time and every optional field
    /// empty, to be completed with struct-update syntax.
    pub fn new(
        uid: impl Into<String>,
        dtstamp: DateTime<Utc>,
        summary: impl Into<String>,
        time: EventTime,
    ) -> Self {
        Event {
            uid: uid.into(),
            dtstamp,
            created: None,
            last_modified: None,
            sequence: 0,
            summary: summary.into(),
            description: None,
            location: None,
            url: None,
            organizer: None,
            attendees: Vec::new(),
            categories: Vec::new(),
            status: None,
            transparent: false,
            time,
            rrule: None,
            exdates: Vec::new(),
            rdates: Vec::new(),
            recurrence_id: None,
            language: None,
        }
    }
}
