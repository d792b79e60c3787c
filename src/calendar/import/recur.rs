//! RRULE checking with the `rrule` crate, and UNTIL normalisation.
//!
//! The crate reads an UNTIL without `Z` in the *server's* local zone, which would make the
//! result depend on where Pregón runs. So UNTIL is taken out and read here in the event's own
//! zone, the remaining parts are parsed by the crate, and the rule is validated with UNTIL as a
//! UTC instant. The rule handed back carries that UTC UNTIL, ready to expand the same way.

use chrono::{DateTime, NaiveTime, TimeZone, Utc};

use super::structure::Property;
use super::timezones::Zone;
use super::values::{DateValue, parse_date_or_date_time};
use super::{ImportError, ImportWarning};

/// DTSTART as the rule needs it.
pub(super) enum Start<'a> {
    AllDay(chrono::NaiveDate),
    Timed {
        utc: DateTime<Utc>,
        zone: &'a Zone,
        /// DTSTART had a TZID (so RFC 5545 requires UNTIL in UTC).
        zoned: bool,
    },
}

/// Checks an RRULE and returns it with UNTIL in UTC, or `None` when UNTIL ends the series
/// before DTSTART (only DTSTART itself remains, RFC 5545 §3.8.5.3).
pub(super) fn check_rrule(
    property: &Property,
    start: &Start<'_>,
    warnings: &mut Vec<ImportWarning>,
) -> Result<Option<String>, ImportError> {
    let value = property.value.trim();
    let invalid = |detail: String| {
        ImportError::at(
            property.line,
            format!("RRULE \"{value}\" is not a valid recurrence rule: {detail}"),
        )
    };
    let mut parts: Vec<&str> = Vec::new();
    let mut until_at = None;
    let mut has_count = false;
    for part in value.split(';').filter(|p| !p.is_empty()) {
        let Some((key, part_value)) = part.split_once('=') else {
            return Err(invalid(format!("\"{part}\" is not NAME=VALUE")));
        };
        if key.eq_ignore_ascii_case("UNTIL") {
            if until_at.is_some() {
                return Err(invalid("UNTIL appears twice".into()));
            }
            until_at = Some((parts.len(), part_value));
        }
        has_count |= key.eq_ignore_ascii_case("COUNT");
        parts.push(part);
    }
    if has_count && until_at.is_some() {
        return Err(invalid(
            "COUNT and UNTIL together are forbidden by RFC 5545".into(),
        ));
    }
    let without_until: Vec<&str> = parts
        .iter()
        .enumerate()
        .filter(|(index, _)| until_at.is_none_or(|(at, _)| at != *index))
        .map(|(_, part)| *part)
        .collect();
    let rule: rrule::RRule<rrule::Unvalidated> = without_until
        .join(";")
        .parse()
        .map_err(|e: rrule::RRuleError| invalid(e.to_string()))?;

    let dt_start = match start {
        Start::AllDay(date) => rrule::Tz::UTC.from_utc_datetime(&date.and_time(NaiveTime::MIN)),
        Start::Timed { utc, zone, .. } => {
            utc.with_timezone(&rrule::Tz::Tz(zone.tz().unwrap_or(chrono_tz::UTC)))
        }
    };
    let mut normalised: Vec<String> = parts.iter().map(|p| (*p).to_owned()).collect();
    let rule = match until_at {
        Some((index, raw)) => {
            let until = until_utc(raw, start, property.line, warnings).ok_or_else(|| {
                invalid(format!("UNTIL \"{raw}\" is not a valid date or date-time"))
            })?;
            if until < dt_start.with_timezone(&Utc) {
                warnings.push(ImportWarning {
                    line: property.line,
                    message: format!(
                        "RRULE ends (UNTIL {raw}) before DTSTART; the event is imported as a \
                         single occurrence"
                    ),
                });
                return Ok(None);
            }
            normalised[index] = format!("UNTIL={}", until.format("%Y%m%dT%H%M%SZ"));
            rule.until(until.with_timezone(&rrule::Tz::UTC))
        }
        None => rule,
    };
    rule.validate(dt_start)
        .map_err(|e| invalid(e.to_string()))?;
    Ok(Some(normalised.join(";")))
}

fn until_utc(
    raw: &str,
    start: &Start<'_>,
    line: usize,
    warnings: &mut Vec<ImportWarning>,
) -> Option<DateTime<Utc>> {
    let mut warn = |message: String| warnings.push(ImportWarning { line, message });
    let until = parse_date_or_date_time(raw)?;
    Some(match (start, until) {
        (_, DateValue::DateTime { local, utc: true }) => {
            if matches!(start, Start::AllDay(_)) {
                warn(format!(
                    "RRULE UNTIL {raw} is a date-time but DTSTART is a date; occurrences up to \
                     that UTC instant are kept"
                ));
            }
            Utc.from_utc_datetime(&local)
        }
        (Start::AllDay(_), DateValue::Date(date)) => {
            Utc.from_utc_datetime(&date.and_time(NaiveTime::MIN))
        }
        (Start::AllDay(_), DateValue::DateTime { local, utc: false }) => {
            warn(format!(
                "RRULE UNTIL {raw} is a date-time but DTSTART is a date; occurrences up to that \
                 time are kept"
            ));
            Utc.from_utc_datetime(&local)
        }
        (Start::Timed { zone, zoned, .. }, DateValue::DateTime { local, utc: false }) => {
            if *zoned {
                warn(format!(
                    "RRULE UNTIL {raw} should be in UTC when DTSTART has a TZID (RFC 5545 \
                     §3.3.10); read in {}",
                    zone.describe()
                ));
            }
            zone.to_utc(local)
        }
        (Start::Timed { zone, .. }, DateValue::Date(date)) => {
            warn(format!(
                "RRULE UNTIL {raw} is a date but DTSTART is a date-time; occurrences starting \
                 on or before that date are kept"
            ));
            zone.to_utc(date.and_hms_opt(23, 59, 59)?)
        }
    })
}
