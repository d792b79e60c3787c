//! Tests against the real-world fixtures and synthetic edge cases.

mod fixtures;
mod synthetic;

use chrono::{DateTime, TimeZone, Utc};

use super::{ImportError, ImportLimits, ParsedCalendar, Strictness, parse_calendar_with};

/// The real-world `.ics` fixtures shipped with the repository
/// (`tests/fixtures/ics`, origins and licences in its SOURCES.md).
fn fixtures_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ics")
}

pub(super) fn fixture_bytes(name: &str) -> Vec<u8> {
    let path = fixtures_dir().join(format!("{name}.ics"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()))
}

// Strict, so that a test that an event is refused sees the refusal; the lenient
// reading (the default) is tested on its own in `synthetic`.
fn import_fixture(name: &str) -> Result<ParsedCalendar, ImportError> {
    parse_calendar_with(
        &fixture_bytes(name),
        &ImportLimits::default(),
        Strictness::Strict,
    )
}

fn import_text(text: &str) -> Result<ParsedCalendar, ImportError> {
    parse_calendar_with(
        text.as_bytes(),
        &ImportLimits::default(),
        Strictness::Strict,
    )
}

/// `YYYYMMDDTHHMMSS` read as a UTC instant.
pub(super) fn utc(text: &str) -> DateTime<Utc> {
    let (local, _) = super::values::parse_date_time(text).expect("valid test date-time");
    Utc.from_utc_datetime(&local)
}
