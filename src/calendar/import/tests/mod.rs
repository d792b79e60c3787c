//! Tests against the real-world fixtures and synthetic edge cases.

mod fixtures;
mod synthetic;

use chrono::{DateTime, TimeZone, Utc};

use super::{ImportError, ImportLimits, ParsedCalendar, parse_calendar};

/// Where the shared `.ics` fixtures live, relative to this crate. The only line to change when
/// the module moves into the service (where it is `"/../shared/fixtures/ics"`).
const FIXTURES_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures/ics");

pub(super) fn fixture_bytes(name: &str) -> Vec<u8> {
    let path = format!("{FIXTURES_DIR}/{name}.ics");
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read fixture {path}: {e}"))
}

fn import_fixture(name: &str) -> Result<ParsedCalendar, ImportError> {
    parse_calendar(&fixture_bytes(name), &ImportLimits::default())
}

fn import_text(text: &str) -> Result<ParsedCalendar, ImportError> {
    parse_calendar(text.as_bytes(), &ImportLimits::default())
}

/// `YYYYMMDDTHHMMSS` read as a UTC instant.
pub(super) fn utc(text: &str) -> DateTime<Utc> {
    let (local, _) = super::values::parse_date_time(text).expect("valid test date-time");
    Utc.from_utc_datetime(&local)
}
