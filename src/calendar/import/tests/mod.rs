//! Tests against the real-world fixtures and synthetic edge cases.

mod fixtures;
mod synthetic;

use chrono::{DateTime, TimeZone, Utc};

use super::{ImportError, ImportLimits, ParsedCalendar, parse_calendar};

/// The shared real-world `.ics` fixtures: `PREGON_FIXTURES_DIR` if set, else
/// `shared/fixtures/ics` beside this checkout or beside one of its parents
/// (the project's layout puts the clone next to `shared/`).
fn fixtures_dir() -> std::path::PathBuf {
    if let Ok(dir) = std::env::var("PREGON_FIXTURES_DIR") {
        return dir.into();
    }
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|a| a.join("shared/fixtures/ics"))
        .find(|d| d.is_dir())
        .expect(
            "the shared .ics fixtures: set PREGON_FIXTURES_DIR or put the checkout beside shared/",
        )
}

pub(super) fn fixture_bytes(name: &str) -> Vec<u8> {
    let path = fixtures_dir().join(format!("{name}.ics"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()))
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
