//! Recurring activities (a monthly newsletter, a quarterly report) as an RFC 5545
//! RRULE, validated against the activity's start, never expanded into copies.
//! Expansion happens only to answer questions ("what happens in March?").

use super::campaign::Translation;
use super::language::Translations;
use super::timing::{Timing, resolve_local};
use crate::error::Error;
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use rrule::{Frequency, RRule, RRuleSet, Tz as RTz, Unvalidated};
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use utoipa::ToSchema;

/// Occurrences computed for one question are capped: a rule may be endless.
pub const MAX_OCCURRENCES: u16 = 1000;

/// Default of `calendar.max_occurrences_per_day`.
pub const DEFAULT_MAX_OCCURRENCES_PER_DAY: u32 = 24;

static MAX_PER_DAY: AtomicU32 = AtomicU32::new(DEFAULT_MAX_OCCURRENCES_PER_DAY);

/// Sets the most occurrences one rule may generate on one day
/// (`calendar.max_occurrences_per_day`); the server sets it once at start-up.
/// Validation has no access to the settings, and the limit is the same for every
/// request of a process.
pub fn set_max_occurrences_per_day(limit: u32) {
    MAX_PER_DAY.store(limit.max(1), Ordering::Relaxed);
}

pub fn max_occurrences_per_day() -> u32 {
    MAX_PER_DAY.load(Ordering::Relaxed)
}

/// RFC 5545 §3.3.10 rule parts in the order Pregón writes them: FREQ first (the
/// RFC asks for it to come first for compatibility with older parsers), then the
/// bounds, then the BYxxx parts from the largest unit to the smallest.
const PART_ORDER: [&str; 14] = [
    "FREQ",
    "UNTIL",
    "COUNT",
    "INTERVAL",
    "BYMONTH",
    "BYWEEKNO",
    "BYYEARDAY",
    "BYMONTHDAY",
    "BYDAY",
    "BYHOUR",
    "BYMINUTE",
    "BYSECOND",
    "BYSETPOS",
    "WKST",
];

/// The canonical text of an RRULE value: names and values upper-case, spaces and
/// empty parts (`;;`, a trailing `;`) dropped, parts in [`PART_ORDER`]. RFC 5545
/// §3.3.10 lets parts come in any order and names be in any case, but widely used
/// clients' parsers reject lower-case names or an empty part, and with them the
/// whole feed; a canonical form also makes equal rules compare equal.
pub fn canonical_rule(value: &str) -> Result<String, String> {
    let mut parts: Vec<(usize, String, String)> = Vec::new();
    for part in value.split(';') {
        let part: String = part.chars().filter(|c| !c.is_whitespace()).collect();
        if part.is_empty() {
            continue;
        }
        let (name, val) = part
            .split_once('=')
            .ok_or_else(|| format!("rule part {part:?} is not NAME=VALUE"))?;
        let name = name.to_ascii_uppercase();
        let val = val.to_ascii_uppercase();
        if name.starts_with("X-") {
            // Vendor extensions (RFC 5545 §3.3.10 x-name) change nothing Pregón
            // expands, and some clients refuse them: not kept.
            continue;
        }
        let rank = PART_ORDER
            .iter()
            .position(|p| *p == name)
            .ok_or_else(|| format!("{name} is not an RRULE part (RFC 5545 §3.3.10)"))?;
        if val.is_empty() {
            return Err(format!("{name} has no value"));
        }
        if parts.iter().any(|(r, _, _)| *r == rank) {
            // RFC 5545 §3.3.10: each rule part MUST NOT occur more than once.
            return Err(format!("{name} appears more than once"));
        }
        parts.push((rank, name, val));
    }
    parts.sort_by_key(|(rank, _, _)| *rank);
    Ok(parts
        .into_iter()
        .map(|(_, name, val)| format!("{name}={val}"))
        .collect::<Vec<_>>()
        .join(";"))
}

/// The most occurrences a canonical rule can produce on one day: BYHOUR,
/// BYMINUTE and BYSECOND multiply the occurrences of each selected day
/// (RFC 5545 §3.3.10, "BYxxx rule parts … expand"), and a daily rule's BYSETPOS
/// keeps at most that many of them. Frequencies below a day are refused earlier.
fn occurrences_per_day(canonical: &str) -> u64 {
    let count = |name: &str| -> Option<u64> {
        canonical.split(';').find_map(|p| {
            let (n, v) = p.split_once('=')?;
            (n == name).then(|| v.split(',').filter(|x| !x.is_empty()).count() as u64)
        })
    };
    let per_day = ["BYHOUR", "BYMINUTE", "BYSECOND"]
        .iter()
        .map(|n| count(n).unwrap_or(1).max(1))
        .product::<u64>();
    match count("BYSETPOS") {
        Some(kept) if canonical.starts_with("FREQ=DAILY") => per_day.min(kept),
        _ => per_day,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recurrence {
    /// The canonical RRULE value; empty for a series of RDATEs alone
    /// ([`Recurrence::dates_only`]).
    rule: String,
    /// RDATE occurrences (RFC 5545 §3.8.5.2): extra starts beside the rule's, each
    /// with the series' length, in the series' own frame; sorted, no duplicates.
    rdates: Vec<OccurrenceKey>,
}

/// The longest RRULE value accepted (the API documents it as `maxLength`).
pub const MAX_RULE_CHARS: usize = 1000;

impl Recurrence {
    /// Parses and validates an RRULE value (with or without the `RRULE:` prefix)
    /// for an activity with the given timing; the rule is kept in canonical form
    /// ([`canonical_rule`]) and may not produce more than
    /// [`max_occurrences_per_day`] occurrences on one day.
    pub fn parse(text: &str, timing: &Timing) -> Result<Recurrence, Error> {
        Recurrence::parse_with_limit(text, timing, max_occurrences_per_day())
    }

    pub fn parse_with_limit(
        text: &str,
        timing: &Timing,
        max_per_day: u32,
    ) -> Result<Recurrence, Error> {
        const FIELD: &str = "recurrence.rule";
        if text.chars().count() > MAX_RULE_CHARS {
            return Err(Error::invalid(
                FIELD,
                format!("is longer than {MAX_RULE_CHARS} characters"),
            ));
        }
        let value = text.trim();
        let value = match value.get(..6) {
            Some(prefix) if prefix.eq_ignore_ascii_case("RRULE:") => &value[6..],
            _ => value,
        };
        if value.is_empty() || value.contains(['\r', '\n']) {
            return Err(Error::invalid(FIELD, "must be a single RRULE value"));
        }
        let canonical = canonical_rule(value)
            .map_err(|e| Error::invalid(FIELD, format!("not a valid RRULE: {e}")))?;
        if canonical.is_empty() {
            return Err(Error::invalid(FIELD, "must be a single RRULE value"));
        }
        let rule: RRule<Unvalidated> = canonical
            .parse()
            .map_err(|e| Error::invalid(FIELD, format!("not a valid RRULE: {e}")))?;
        if matches!(
            rule.get_freq(),
            Frequency::Secondly | Frequency::Minutely | Frequency::Hourly
        ) {
            return Err(Error::invalid(
                FIELD,
                "recurrences more frequent than daily are not supported",
            ));
        }
        let per_day = occurrences_per_day(&canonical);
        if per_day > u64::from(max_per_day) {
            return Err(Error::invalid(
                FIELD,
                format!(
                    "generates up to {per_day} occurrences a day; at most {max_per_day} are allowed \
                     (calendar.max_occurrences_per_day)"
                ),
            ));
        }
        let start = series_start(timing).ok_or_else(|| {
            Error::invalid(
                FIELD,
                "only activities with an exact time or whole days can recur",
            )
        })?;
        rule.validate(start)
            .map_err(|e| Error::invalid(FIELD, format!("not valid for this start: {e}")))?;
        Ok(Recurrence {
            rule: canonical,
            rdates: Vec::new(),
        })
    }

    /// The series with RDATE occurrences added (RFC 5545 §3.8.5.2). Each must be of
    /// the series' kind (a wall-clock date-time in its zone for exact times, a date
    /// for whole days) and, for exact times, exist on the clock (not inside a DST
    /// gap); duplicates and dates the rule already generates are kept once.
    pub fn with_rdates(
        mut self,
        rdates: &[OccurrenceKey],
        timing: &Timing,
        field: &str,
    ) -> Result<Recurrence, Error> {
        if rdates.len() > usize::from(MAX_OCCURRENCES) {
            return Err(Error::invalid(
                field,
                format!("at most {MAX_OCCURRENCES} RDATE occurrences"),
            ));
        }
        for (i, key) in rdates.iter().enumerate() {
            let field = format!("{field}[{i}]");
            match (timing, key) {
                (Timing::Exact { zone, .. }, OccurrenceKey::DateTime(at)) => {
                    resolve_local(*zone, *at, &field)?;
                }
                (Timing::Days { .. }, OccurrenceKey::Date(_)) => {}
                (Timing::Exact { .. }, OccurrenceKey::Date(_)) => {
                    return Err(Error::invalid(
                        field,
                        "the series has exact times: give a date-time (2020-04-07T10:00:00)",
                    ));
                }
                _ => {
                    return Err(Error::invalid(
                        field,
                        "the series is of whole days: give a date (2020-04-07)",
                    ));
                }
            }
        }
        let mut rdates = rdates.to_vec();
        rdates.sort();
        rdates.dedup();
        self.rdates = rdates;
        Ok(self)
    }

    /// A series with no rule: DTSTART and the given RDATEs (RFC 5545 §3.8.5.2: the
    /// recurrence set is DTSTART with the RRULE, RDATE and EXDATE values; a set of
    /// dates needs no rule). At least one RDATE; checked as
    /// [`Recurrence::with_rdates`] checks them.
    pub fn dates_only(
        rdates: &[OccurrenceKey],
        timing: &Timing,
        field: &str,
    ) -> Result<Recurrence, Error> {
        if rdates.is_empty() {
            return Err(Error::invalid(
                field,
                "a series without a rule needs at least one extra date",
            ));
        }
        series_start(timing).ok_or_else(|| {
            Error::invalid(
                field,
                "only activities with an exact time or whole days can recur",
            )
        })?;
        Recurrence {
            rule: String::new(),
            rdates: Vec::new(),
        }
        .with_rdates(rdates, timing, field)
    }

    /// Whether the series has an RRULE (else it is DTSTART and its RDATEs).
    pub fn has_rule(&self) -> bool {
        !self.rule.is_empty()
    }

    /// Rebuilds a rule read from the database, where it was validated on the way in.
    /// Rules stored before rules were canonicalised are published canonically too.
    pub fn from_stored(rule: String) -> Recurrence {
        let rule = canonical_rule(&rule).unwrap_or(rule);
        Recurrence {
            rule,
            rdates: Vec::new(),
        }
    }

    /// [`Recurrence::from_stored`] with the stored RDATE list (comma-separated keys).
    pub fn from_stored_with_rdates(rule: String, rdates: Option<&str>) -> Recurrence {
        let mut r = Recurrence::from_stored(rule);
        r.rdates = rdates
            .unwrap_or("")
            .split(',')
            .filter_map(|k| k.trim().parse().ok())
            .collect();
        r.rdates.sort();
        r.rdates.dedup();
        r
    }

    pub fn rule(&self) -> &str {
        &self.rule
    }

    pub fn rdates(&self) -> &[OccurrenceKey] {
        &self.rdates
    }

    /// The RDATE list as stored: comma-separated keys, `None` when empty.
    pub fn stored_rdates(&self) -> Option<String> {
        (!self.rdates.is_empty()).then(|| {
            self.rdates
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        })
    }

    fn set(&self, timing: &Timing) -> Option<RRuleSet> {
        let start = series_start(timing)?;
        let mut set = if self.rule.is_empty() {
            // No rule: DTSTART is the first occurrence (RFC 5545 §3.8.5.2).
            RRuleSet::new(start).rdate(start)
        } else {
            let rule = self.rule.parse::<RRule<Unvalidated>>().ok()?;
            RRuleSet::new(start).rrule(rule.validate(start).ok()?)
        };
        for key in &self.rdates {
            if let Some(at) = key_instant(timing, *key) {
                set = set.rdate(at);
            }
        }
        Some(set)
    }

    /// The timing of the series' occurrence starting at `key` (same length as the
    /// series), whether or not an exception changes it.
    pub fn occurrence_timing(&self, timing: &Timing, key: OccurrenceKey) -> Option<Timing> {
        shifted(timing, key)
    }

    /// Original starts of the series between two instants (inclusive), in the
    /// activity's own frame: wall-clock times for exact timings, dates for days.
    fn starts_between(
        &self,
        timing: &Timing,
        after: DateTime<RTz>,
        before: DateTime<RTz>,
    ) -> Vec<OccurrenceKey> {
        let Some(set) = self.set(timing) else {
            return Vec::new();
        };
        set.after(after)
            .before(before)
            .all(MAX_OCCURRENCES)
            .dates
            .into_iter()
            .map(|d| match timing {
                Timing::Exact { .. } => OccurrenceKey::DateTime(d.naive_local()),
                _ => OccurrenceKey::Date(d.date_naive()),
            })
            .collect()
    }

    /// Is `key` one of the series' own occurrences?
    pub fn has_occurrence(&self, timing: &Timing, key: OccurrenceKey) -> bool {
        let Some(at) = key_instant(timing, key) else {
            return false;
        };
        self.starts_between(timing, at, at).contains(&key)
    }

    /// The days the whole series touches, exceptions applied: its first day and
    /// its last (`None` when the series never ends, or has more occurrences than
    /// [`MAX_OCCURRENCES`] and so is treated as endless). Moved occurrences widen
    /// it; cancelled ones are not subtracted (the span may be wider than needed,
    /// never narrower). `None` for a timing that cannot recur.
    pub fn span(
        &self,
        timing: &Timing,
        exceptions: &[Exception],
    ) -> Option<(NaiveDate, Option<NaiveDate>)> {
        let (first, last) = timing.date_range()?;
        let length = last - first;
        let set = self.set(timing)?;
        let finite =
            self.rule.is_empty() || self.rule.contains("COUNT=") || self.rule.contains("UNTIL=");
        let mut until = if finite {
            let result = set.all(MAX_OCCURRENCES);
            if result.limited {
                None
            } else {
                let last_start = result.dates.iter().map(|d| d.date_naive()).max();
                Some(last_start.map_or(last, |d| d + length).max(last))
            }
        } else {
            None
        };
        let mut from = first;
        if let Some(earliest) = self.rdates.first() {
            let day = match *earliest {
                OccurrenceKey::DateTime(t) => t.date(),
                OccurrenceKey::Date(d) => d,
            };
            from = from.min(day);
        }
        for exception in exceptions {
            if let ExceptionChange::Moved(ref moved) = exception.change
                && let Some((s, e)) = moved.date_range()
            {
                from = from.min(s);
                until = until.map(|u| u.max(e));
            }
        }
        Some((from, until))
    }

    /// The occurrences that touch the days `from..=to`, with exceptions applied:
    /// cancelled ones are left out, moved ones appear at their new time.
    pub fn occurrences(
        &self,
        timing: &Timing,
        exceptions: &[Exception],
        from: NaiveDate,
        to: NaiveDate,
    ) -> Vec<Occurrence> {
        let Some((first, last)) = timing.date_range() else {
            return Vec::new();
        };
        // An occurrence starting up to `span` days before `from` still touches it.
        let span = last - first;
        let Some(zone) = frame_zone(timing) else {
            return Vec::new();
        };
        let after = zone
            .from_local_datetime(&(from - span).and_time(NaiveTime::MIN))
            .earliest();
        let before = zone
            .from_local_datetime(&to.and_hms_opt(23, 59, 59).expect("valid time"))
            .latest();
        let (Some(after), Some(before)) = (after, before) else {
            return Vec::new();
        };
        let mut found: Vec<Occurrence> = self
            .starts_between(timing, after, before)
            .into_iter()
            .filter(|key| !exceptions.iter().any(|e| e.key == *key))
            .filter_map(|key| {
                Some(Occurrence {
                    key,
                    timing: shifted(timing, key)?,
                    moved: false,
                })
            })
            .collect();
        for exception in exceptions {
            if let ExceptionChange::Moved(ref moved) = exception.change {
                let touches = moved
                    .date_range()
                    .is_some_and(|(s, e)| s <= to && e >= from);
                if touches {
                    found.push(Occurrence {
                        key: exception.key,
                        timing: moved.clone(),
                        moved: true,
                    });
                }
            }
        }
        found.sort_by_key(|o| o.timing.date_range().map(|r| r.0));
        found
    }
}

/// The series' first start as the rrule crate wants it. Days recur in UTC, where
/// a date is a date.
fn series_start(timing: &Timing) -> Option<DateTime<RTz>> {
    let zone = frame_zone(timing)?;
    match *timing {
        Timing::Exact { start, .. } => zone.from_local_datetime(&start).earliest(),
        Timing::Days { start, .. } => zone
            .from_local_datetime(&start.and_time(NaiveTime::MIN))
            .earliest(),
        _ => None,
    }
}

fn frame_zone(timing: &Timing) -> Option<RTz> {
    match timing {
        Timing::Exact { zone, .. } => Some(zone.tz().into()),
        Timing::Days { .. } => Some(RTz::UTC),
        _ => None,
    }
}

fn key_instant(timing: &Timing, key: OccurrenceKey) -> Option<DateTime<RTz>> {
    let zone = frame_zone(timing)?;
    let local = match key {
        OccurrenceKey::DateTime(t) => t,
        OccurrenceKey::Date(d) => d.and_time(NaiveTime::MIN),
    };
    zone.from_local_datetime(&local).earliest()
}

/// The timing of the occurrence starting at `key`: same wall-clock length.
fn shifted(timing: &Timing, key: OccurrenceKey) -> Option<Timing> {
    match (timing, key) {
        (Timing::Exact { start, end, zone }, OccurrenceKey::DateTime(at)) => {
            let length = *end - *start;
            let end = at + length;
            // A series crossing a DST gap keeps its wall-clock time; resolve checks it exists.
            resolve_local(*zone, at, "").ok()?;
            Some(Timing::Exact {
                start: at,
                end,
                zone: *zone,
            })
        }
        (Timing::Days { start, end }, OccurrenceKey::Date(at)) => Some(Timing::Days {
            start: at,
            end: at + (*end - *start),
        }),
        _ => None,
    }
}

/// Identifies one occurrence of a series by its original start, as RFC 5545's
/// RECURRENCE-ID does: a wall-clock time (`2020-04-07T10:00:00`) or a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OccurrenceKey {
    DateTime(NaiveDateTime),
    Date(NaiveDate),
}

impl fmt::Display for OccurrenceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OccurrenceKey::DateTime(t) => write!(f, "{}", t.format("%Y-%m-%dT%H:%M:%S")),
            OccurrenceKey::Date(d) => write!(f, "{d}"),
        }
    }
}

impl std::str::FromStr for OccurrenceKey {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            return Ok(OccurrenceKey::Date(d));
        }
        s.parse::<super::timing::LocalDateTime>()
            .map(|t| OccurrenceKey::DateTime(t.0))
    }
}

impl Serialize for OccurrenceKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for OccurrenceKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for OccurrenceKey {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(
                "Original start of the occurrence: wall-clock date-time or date",
            ))
            .max_length(Some(64))
            .into()
    }
}
impl ToSchema for OccurrenceKey {}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exception {
    pub key: OccurrenceKey,
    pub change: ExceptionChange,
    /// What the occurrence says differently from its series (only for a
    /// [`ExceptionChange::Moved`] one; a cancelled occurrence says nothing).
    pub text: OccurrenceText,
}

impl Exception {
    pub fn cancelled(key: OccurrenceKey) -> Exception {
        Exception {
            key,
            change: ExceptionChange::Cancelled,
            text: OccurrenceText::default(),
        }
    }

    pub fn moved(key: OccurrenceKey, timing: Timing) -> Exception {
        Exception {
            key,
            change: ExceptionChange::Moved(timing),
            text: OccurrenceText::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExceptionChange {
    /// The occurrence is skipped (EXDATE).
    Cancelled,
    /// The occurrence is overridden (RECURRENCE-ID): it happens at this timing,
    /// which may be its original one when only its text changes.
    Moved(Timing),
}

/// The text of one occurrence that differs from its series' (RFC 5545 §3.8.4.4:
/// a RECURRENCE-ID instance may change SUMMARY, DESCRIPTION and LOCATION, not
/// only its time). A translation replaces the series' title and description in
/// that language on that date; `location` replaces the place's name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OccurrenceText {
    pub translations: Translations<Translation>,
    pub location: Option<String>,
}

impl OccurrenceText {
    pub fn is_empty(&self) -> bool {
        self.translations.is_empty() && self.location.is_none()
    }
}

impl Exception {
    /// Checks an exception against its series: it must name a real occurrence, and a
    /// moved one keeps the series' kind of timing.
    pub fn validate(
        &self,
        recurrence: &Recurrence,
        timing: &Timing,
        field: &str,
    ) -> Result<(), Error> {
        if !recurrence.has_occurrence(timing, self.key) {
            return Err(Error::invalid(
                format!("{field}.occurrence"),
                format!("{} is not an occurrence of the series", self.key),
            ));
        }
        if self.change == ExceptionChange::Cancelled && !self.text.is_empty() {
            return Err(Error::invalid(
                format!("{field}.translations"),
                "a cancelled occurrence says nothing: leave it out",
            ));
        }
        if let ExceptionChange::Moved(ref moved) = self.change
            && moved.precision() != timing.precision()
        {
            return Err(Error::invalid(
                format!("{field}.timing"),
                "a moved occurrence keeps the precision of its series",
            ));
        }
        Ok(())
    }
}

/// One occurrence of a series, as answered to a date-range question.
#[derive(Debug, Clone)]
pub struct Occurrence {
    pub key: OccurrenceKey,
    pub timing: Timing,
    pub moved: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::timing::LocalDateTime;

    fn madrid_monthly() -> (Timing, Recurrence) {
        let t = Timing::exact(
            "2020-01-07T10:00".parse::<LocalDateTime>().unwrap().0,
            "2020-01-07T11:00".parse::<LocalDateTime>().unwrap().0,
            "Europe/Madrid".parse().unwrap(),
        )
        .unwrap();
        let r = Recurrence::parse("RRULE:FREQ=MONTHLY;BYDAY=1TU", &t).unwrap();
        (t, r)
    }

    #[test]
    fn rules_are_validated() {
        let (t, _) = madrid_monthly();
        assert!(Recurrence::parse("FREQ=NEVER", &t).is_err());
        assert!(Recurrence::parse("FREQ=MINUTELY", &t).is_err());
        assert!(Recurrence::parse("FREQ=WEEKLY\r\nX:1", &t).is_err());
        // The documented maxLength is the limit: a longer rule is refused
        // before it is read, one at the limit is read.
        let padded = |n: usize| format!("FREQ=WEEKLY;COUNT=2{}", " ".repeat(n - 19));
        let too_long = Recurrence::parse(&padded(MAX_RULE_CHARS + 1), &t).unwrap_err();
        assert!(
            too_long.to_string().contains("longer than 1000"),
            "{too_long}"
        );
        assert!(Recurrence::parse(&padded(MAX_RULE_CHARS), &t).is_ok());
        assert!(Recurrence::parse("FREQ=WEEKLY", &Timing::ToBeConfirmed).is_err());
        assert_eq!(
            Recurrence::parse("FREQ=QUARTERLY", &t)
                .unwrap_err()
                .to_string()[..15]
                .to_owned(),
            "recurrence.rule"
        );
    }

    #[test]
    fn rules_are_kept_in_canonical_form() {
        // RFC 5545 §3.3.10: names are case-insensitive and parts may come in any
        // order; what is stored and published is one canonical spelling.
        let (t, _) = madrid_monthly();
        let rule = |s: &str| Recurrence::parse(s, &t).map(|r| r.rule().to_owned());
        assert_eq!(rule("freq=weekly;count=2").unwrap(), "FREQ=WEEKLY;COUNT=2");
        assert_eq!(
            rule("rrule:count=3;;byday=tu, th ;freq=weekly;").unwrap(),
            "FREQ=WEEKLY;COUNT=3;BYDAY=TU,TH"
        );
        assert_eq!(
            rule("WKST=MO;BYSETPOS=-1;BYDAY=MO,TU;INTERVAL=2;FREQ=MONTHLY;X-NAME=1").unwrap(),
            "FREQ=MONTHLY;INTERVAL=2;BYDAY=MO,TU;BYSETPOS=-1;WKST=MO"
        );
        // RFC 5545 §3.3.10: a rule part MUST NOT occur more than once.
        assert!(rule("FREQ=WEEKLY;COUNT=2;COUNT=3").is_err());
        assert!(rule("FREQ=WEEKLY;COLOR=RED").is_err());
        assert_eq!(
            Recurrence::from_stored("freq=monthly;byday=1tu".into()).rule(),
            "FREQ=MONTHLY;BYDAY=1TU"
        );
    }

    #[test]
    fn a_rule_generates_at_most_the_configured_occurrences_a_day() {
        let (t, _) = madrid_monthly();
        let hours: Vec<String> = (0..24).map(|h| h.to_string()).collect();
        let minutes: Vec<String> = (0..60).map(|m| m.to_string()).collect();
        let every_minute = format!(
            "FREQ=DAILY;BYHOUR={};BYMINUTE={}",
            hours.join(","),
            minutes.join(",")
        );
        let err = Recurrence::parse_with_limit(&every_minute, &t, 24).unwrap_err();
        assert!(err.to_string().contains("1440 occurrences a day"), "{err}");
        assert!(Recurrence::parse_with_limit("FREQ=DAILY;BYHOUR=9,10,11", &t, 2).is_err());
        assert!(Recurrence::parse_with_limit("FREQ=DAILY;BYHOUR=9,10,11", &t, 3).is_ok());
        // A daily BYSETPOS keeps only that many of the day's expansions.
        assert!(
            Recurrence::parse_with_limit("FREQ=DAILY;BYHOUR=9,10,11;BYSETPOS=1", &t, 1).is_ok()
        );
        assert!(Recurrence::parse_with_limit("FREQ=WEEKLY;BYDAY=MO,TU,WE", &t, 1).is_ok());
    }

    #[test]
    fn expansion_keeps_wall_clock_time_across_dst() {
        let (t, r) = madrid_monthly();
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let occ = r.occurrences(&t, &[], d("2020-03-01"), d("2020-04-30"));
        let starts: Vec<_> = occ
            .iter()
            .map(|o| o.timing.instants().unwrap().0.to_rfc3339())
            .collect();
        // 10:00 in Madrid is 09:00 UTC in winter and 08:00 UTC after 29 March.
        assert_eq!(
            starts,
            ["2020-03-03T09:00:00+00:00", "2020-04-07T08:00:00+00:00"]
        );
    }

    #[test]
    fn exceptions_skip_and_move() {
        let (t, r) = madrid_monthly();
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let key = |s: &str| s.parse::<OccurrenceKey>().unwrap();
        let moved = Timing::exact(
            "2020-05-06T16:00".parse::<LocalDateTime>().unwrap().0,
            "2020-05-06T17:00".parse::<LocalDateTime>().unwrap().0,
            "Europe/Madrid".parse().unwrap(),
        )
        .unwrap();
        let exceptions = [
            Exception::cancelled(key("2020-04-07T10:00:00")),
            Exception::moved(key("2020-05-05T10:00:00"), moved.clone()),
        ];
        for e in &exceptions {
            e.validate(&r, &t, "recurrence.exceptions[0]").unwrap();
        }
        let not_an_occurrence = Exception::cancelled(key("2020-05-06T10:00:00"));
        assert!(not_an_occurrence.validate(&r, &t, "x").is_err());

        let occ = r.occurrences(&t, &exceptions, d("2020-04-01"), d("2020-06-30"));
        let got: Vec<_> = occ.iter().map(|o| (o.key.to_string(), o.moved)).collect();
        assert_eq!(
            got,
            [
                ("2020-05-05T10:00:00".to_string(), true),
                ("2020-06-02T10:00:00".to_string(), false)
            ]
        );
        assert_eq!(occ[0].timing, moved);
    }

    #[test]
    fn whole_day_series() {
        let t = Timing::days(
            NaiveDate::from_ymd_opt(2020, 1, 31).unwrap(),
            NaiveDate::from_ymd_opt(2020, 1, 31).unwrap(),
        )
        .unwrap();
        let r = Recurrence::parse("FREQ=MONTHLY;BYMONTHDAY=-1;COUNT=3", &t).unwrap();
        let occ = r.occurrences(
            &t,
            &[],
            NaiveDate::from_ymd_opt(2020, 1, 1).unwrap(),
            NaiveDate::from_ymd_opt(2020, 12, 31).unwrap(),
        );
        let keys: Vec<_> = occ.iter().map(|o| o.key.to_string()).collect();
        assert_eq!(keys, ["2020-01-31", "2020-02-29", "2020-03-31"]);
    }

    #[test]
    fn a_series_spans_its_first_to_its_last_occurrence() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let dt = |s: &str| s.parse::<LocalDateTime>().unwrap().0;
        let madrid = "Europe/Madrid".parse().unwrap();
        // An evening event ending after midnight touches the next day too.
        let t = Timing::exact(dt("2020-01-31T22:00"), dt("2020-02-01T01:00"), madrid).unwrap();
        let r = Recurrence::parse("FREQ=MONTHLY;BYMONTHDAY=-1;COUNT=3", &t).unwrap();
        assert_eq!(
            r.span(&t, &[]),
            Some((d("2020-01-31"), Some(d("2020-04-01"))))
        );
        // A moved occurrence widens the span, before and after.
        let moved = |a: &str, b: &str| {
            Exception::moved(
                "2020-02-29T22:00:00".parse().unwrap(),
                Timing::exact(dt(a), dt(b), madrid).unwrap(),
            )
        };
        let early = moved("2020-01-10T10:00", "2020-01-10T11:00");
        assert_eq!(
            r.span(&t, &[early]),
            Some((d("2020-01-10"), Some(d("2020-04-01"))))
        );
        let late = moved("2020-06-10T10:00", "2020-06-10T11:00");
        assert_eq!(
            r.span(&t, &[late]),
            Some((d("2020-01-31"), Some(d("2020-06-10"))))
        );
        // UNTIL ends a series; without COUNT or UNTIL it never ends.
        let until = Recurrence::parse("FREQ=WEEKLY;UNTIL=20200301T000000Z", &t).unwrap();
        assert_eq!(
            until.span(&t, &[]),
            Some((d("2020-01-31"), Some(d("2020-02-29"))))
        );
        let endless = Recurrence::parse("FREQ=YEARLY", &t).unwrap();
        assert_eq!(endless.span(&t, &[]), Some((d("2020-01-31"), None)));
        // More occurrences than are ever expanded: treated as endless.
        let days = Timing::days(d("2020-01-01"), d("2020-01-01")).unwrap();
        let long = Recurrence::parse("FREQ=DAILY;COUNT=5000", &days).unwrap();
        assert_eq!(long.span(&days, &[]), Some((d("2020-01-01"), None)));
    }
}
