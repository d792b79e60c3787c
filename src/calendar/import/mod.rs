//! Import of partner calendars (`.ics`, RFC 5545) as external activities.
//!
//! [`parse_calendar`] turns the bytes of an iCalendar file into a [`ParsedCalendar`]: every
//! event with its times resolved to UTC, plus warnings for the producer quirks that were
//! accepted. It never returns part of a file: either every importable event is there, or the
//! whole import is refused with an [`ImportError`] naming the physical line at fault. The one
//! unit smaller than a file is the iTIP message: in a stream of several VCALENDAR objects each
//! is independent (RFC 5546), so an invalid one is skipped whole, with a warning.
//!
//! Policy, in the order it is applied:
//! 1. Every file that follows RFC 5545 (and, for iTIP streams, RFC 5546) imports.
//! 2. Quirks of real clients whose meaning is unambiguous are accepted with a warning, the way
//!    Google Calendar or Thunderbird accept them (bare dates without `VALUE=DATE`, TZIDs without
//!    a VTIMEZONE, Windows zone names, a fold that splits a UTF-8 character, …).
//! 3. Anything structurally broken or ambiguous is refused, naming the line.
//!
//! The work is split in passes, because the `ical` crate gives no line numbers and silently
//! stops on a physical line that is not UTF-8:
//! - `lexer`: physical lines → unfolded content lines (at the byte level), UTF-8 decoding,
//!   content-line syntax; each content line keeps its first physical line number.
//! - `structure`: BEGIN/END balance and nesting, limits, then `ical::IcalParser` on the
//!   normalised text for the component tree and property parameters, re-associated with lines.
//! - `event`, `timezones`, `recur`, `values`: the RFC 5545 semantics of each VEVENT.

mod event;
mod lexer;
mod recur;
mod structure;
#[cfg(test)]
mod tests;
mod timezones;
mod values;
mod windows_zones;

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize, Serializer};

/// Bounds on what one import may cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportLimits {
    /// Files larger than this are refused before any parsing work.
    pub max_bytes: usize,
    /// Files with more VEVENT components than this are refused (counted before any event is
    /// interpreted, so a huge file stops early).
    pub max_events: usize,
}

impl ImportLimits {
    pub const DEFAULT_MAX_BYTES: usize = 10 * 1024 * 1024;
    /// A busy partner calendar has a few thousand events; ten thousand leaves room for years
    /// of history while bounding the work of one request.
    pub const DEFAULT_MAX_EVENTS: usize = 10_000;
}

impl Default for ImportLimits {
    fn default() -> Self {
        Self {
            max_bytes: Self::DEFAULT_MAX_BYTES,
            max_events: Self::DEFAULT_MAX_EVENTS,
        }
    }
}

/// Result of a successful import.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParsedCalendar {
    /// Events in file order. A recurring master and its RECURRENCE-ID overrides share the UID
    /// and are kept as separate entries.
    pub events: Vec<ImportedEvent>,
    /// Accepted quirks and skipped components, ordered by line.
    pub warnings: Vec<ImportWarning>,
    /// Events that could not be understood and were left out (lenient mode only).
    pub skipped: Vec<SkippedEvent>,
    /// The VEVENTs of METHOD:CANCEL messages, in file order: what they cancel.
    pub cancellations: Vec<Cancellation>,
}

/// A VEVENT of a METHOD:CANCEL message (RFC 5546 §3.2.5): the organizer cancels
/// the event with this UID, or only its instance at `recurrence_id`. It is
/// applied to the event imported earlier from the same partner, unless its
/// SEQUENCE is lower than the one held (RFC 5546 §2.1.5: an out-of-date message).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cancellation {
    pub uid: String,
    pub sequence: u32,
    pub dtstamp: Option<DateTime<Utc>>,
    pub recurrence_id: Option<RecurrenceId>,
    /// Physical line of its BEGIN:VEVENT.
    pub line: usize,
}

/// A VEVENT left out of an import because it cannot be read unambiguously.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedEvent {
    /// Physical line of its BEGIN:VEVENT.
    pub line: usize,
    /// Its UID, when it has a readable one.
    pub uid: Option<String>,
    /// Why, with the line at fault ("line 7: DTSTART … is not a valid date").
    pub reason: String,
}

/// What an event that cannot be read does to the import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strictness {
    /// The event is skipped and reported; the others import. A file is refused
    /// whole only when its structure is broken (truncated, not UTF-8, no
    /// calendar object, over the limits).
    #[default]
    Lenient,
    /// Any event that cannot be read refuses the whole file (`--strict`,
    /// `?strict=true`).
    Strict,
}

/// Something the importer accepted or skipped that the person importing may want to check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportWarning {
    /// 1-based physical line of the file.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ImportWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Why a file was refused. `line` is the 1-based physical line at fault, when there is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{}{}", line_prefix(.line), .message)]
pub struct ImportError {
    pub line: Option<usize>,
    pub message: String,
}

fn line_prefix(line: &Option<usize>) -> String {
    line.map(|l| format!("line {l}: ")).unwrap_or_default()
}

impl ImportError {
    fn at(line: usize, message: impl Into<String>) -> Self {
        Self {
            line: Some(line),
            message: message.into(),
        }
    }

    fn whole_file(message: impl Into<String>) -> Self {
        Self {
            line: None,
            message: message.into(),
        }
    }
}

/// STATUS of a VEVENT (RFC 5545 §3.8.1.11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Tentative,
    Confirmed,
    Cancelled,
}

/// When an event happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ImportedTime {
    Timed {
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        /// The IANA zone the event was written in, for showing local times and expanding
        /// recurrences across DST changes. `None` for UTC times, for floating times (read as
        /// UTC, with a warning), and for custom VTIMEZONEs that match no IANA zone.
        #[serde(serialize_with = "serialize_tz")]
        tz: Option<Tz>,
    },
    AllDay {
        start: NaiveDate,
        end_exclusive: NaiveDate,
    },
}

/// An EXDATE value or a RECURRENCE-ID value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventDate {
    Date(NaiveDate),
    DateTime(DateTime<Utc>),
}

/// An RDATE value (RFC 5545 §3.8.5.2), which may also be a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecurrenceDate {
    Date(NaiveDate),
    DateTime(DateTime<Utc>),
    Period {
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    },
}

/// RECURRENCE-ID of an override: which instance of the series it replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RecurrenceId {
    pub value: EventDate,
    /// `RANGE=THISANDFUTURE`: the override also applies to all later instances.
    pub this_and_future: bool,
}

/// One VEVENT, with text unescaped and times resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportedEvent {
    /// The UID, or for the rare producers that omit it a stable UID derived from the event's
    /// content (`pregon-derived-…`, announced by a warning).
    pub uid: String,
    pub sequence: u32,
    pub last_modified: Option<DateTime<Utc>>,
    pub dtstamp: Option<DateTime<Utc>>,
    pub summary: Option<String>,
    pub description: Option<String>,
    pub location: Option<String>,
    pub url: Option<String>,
    pub status: Option<Status>,
    pub time: ImportedTime,
    /// The RRULE value, checked with the `rrule` crate. UNTIL is rewritten as a UTC date-time
    /// (`UNTIL=…Z`) so the rule can be expanded with `rrule::RRule` from DTSTART in `tz` (or
    /// UTC, midnight UTC for all-day events) without depending on the server's local zone.
    /// Every other rule part is kept as written.
    pub rrule: Option<String>,
    /// Extra occurrences (RDATE); without them a series would silently lose instances.
    pub rdates: Vec<RecurrenceDate>,
    pub exdates: Vec<EventDate>,
    pub recurrence_id: Option<RecurrenceId>,
    /// LANGUAGE parameter of SUMMARY (else of DESCRIPTION, else of LOCATION).
    pub language: Option<String>,
    /// CATEGORIES values, unescaped, in file order, once each.
    pub categories: Vec<String>,
    /// `TRANSP:TRANSPARENT` (does not block free/busy time).
    pub transparent: bool,
    /// Physical line of this event's BEGIN:VEVENT.
    pub line: usize,
}

fn serialize_tz<S: Serializer>(tz: &Option<Tz>, serializer: S) -> Result<S::Ok, S::Error> {
    match tz {
        Some(tz) => serializer.serialize_some(tz.name()),
        None => serializer.serialize_none(),
    }
}

/// Parses an iCalendar file (one VCALENDAR, or a stream of several as in iTIP mail archives).
/// An event that cannot be read is left out and listed in `skipped`; see
/// [`parse_calendar_with`] for the strict reading.
///
/// # Errors
/// The whole file is refused, with the physical line at fault where there is one, when it is
/// larger than `limits.max_bytes`, has more than `limits.max_events` VEVENTs, is not UTF-8,
/// is not an iCalendar file, is structurally broken (folding, BEGIN/END), or has an event that
/// cannot be read unambiguously (invalid or impossible dates, DTEND before DTSTART, unknown
/// time zone, invalid RRULE, …). In a stream of several VCALENDAR objects each object is an
/// independent iTIP message: a semantically invalid one is skipped with a warning, as an iTIP
/// recipient rejects one message without discarding the others.
pub fn parse_calendar(bytes: &[u8], limits: &ImportLimits) -> Result<ParsedCalendar, ImportError> {
    parse_calendar_with(bytes, limits, Strictness::Lenient)
}

/// [`parse_calendar`] with the choice of what an unreadable event does: in
/// [`Strictness::Strict`] it refuses the whole file, naming its line.
pub fn parse_calendar_with(
    bytes: &[u8],
    limits: &ImportLimits,
    strictness: Strictness,
) -> Result<ParsedCalendar, ImportError> {
    if bytes.len() > limits.max_bytes {
        return Err(ImportError::whole_file(format!(
            "the file is {} bytes, larger than the import limit of {} bytes",
            bytes.len(),
            limits.max_bytes
        )));
    }
    let mut warnings = Vec::new();
    let lines = lexer::content_lines(bytes, &mut warnings)?;
    let calendars = structure::build(&lines, limits, &mut warnings)?;

    let is_stream = calendars.len() > 1;
    let mut events = Vec::new();
    let mut skipped = Vec::new();
    let mut cancellations = Vec::new();
    let mut first_error = None;
    for calendar in &calendars {
        let mut calendar_warnings = Vec::new();
        match event::import_calendar(calendar, strictness, &mut calendar_warnings) {
            Ok((imported, mut left_out, cancelled)) => {
                events.extend(imported);
                cancellations.extend(cancelled);
                skipped.append(&mut left_out);
                warnings.append(&mut calendar_warnings);
            }
            Err(error) if is_stream => {
                warnings.push(ImportWarning {
                    line: error.line.unwrap_or(calendar.line),
                    message: format!(
                        "{} (BEGIN:VCALENDAR at line {}) skipped: {}",
                        event::describe_message(calendar),
                        calendar.line,
                        error.message
                    ),
                });
                first_error.get_or_insert(error);
            }
            Err(error) => return Err(error),
        }
    }
    // A stream in which every message that had events was invalid is not an import with
    // warnings but a broken file.
    if let (true, true, Some(error)) = (events.is_empty(), cancellations.is_empty(), first_error) {
        return Err(error);
    }
    // Passes find problems out of line order (decoding before structure before semantics).
    warnings.sort_by_key(|warning| warning.line);
    Ok(ParsedCalendar {
        events,
        warnings,
        skipped,
        cancellations,
    })
}
