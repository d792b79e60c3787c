//! TZID resolution: IANA names, Windows names, and the file's own VTIMEZONE definitions.
//!
//! Order of preference for a TZID, and why:
//! 1. A name the tz database knows (IANA, a `/vendor/…/Europe/Berlin` global ID, a Windows ID
//!    or Outlook display name via CLDR) → that IANA zone, whether or not the file has a
//!    VTIMEZONE. Google Calendar does the same. Exchange's VTIMEZONEs only carry today's rules
//!    (they start in 1601), so for past dates the tz database is the better source; when the
//!    file's definition disagrees at the time used, a warning says so.
//! 2. An unknown name with a VTIMEZONE ("Customized Time Zone", RFC 2446's "America-Chicago")
//!    → the file's definition computes the instants, and an IANA zone whose offsets agree around
//!    that date is reported as `tz` so recurrences expand with the right DST rules.
//! 3. An unknown name without a VTIMEZONE → refused: the meaning of the time is unknown.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::str::FromStr;

use chrono::{
    DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;

use super::structure::{Component, Property};
use super::values::{DateValue, parse_date_or_date_time, parse_utc_offset};
use super::windows_zones::WINDOWS_ZONES;
use super::{ImportError, ImportWarning};

/// How local times of one TZID (or of floating values) become UTC instants.
#[derive(Debug, Clone)]
pub(super) enum Zone {
    Utc,
    Iana(Tz),
    Custom(Rc<CustomZone>),
}

impl Zone {
    /// The IANA zone reported to callers; `None` for UTC and for unmatched custom zones.
    pub fn tz(&self) -> Option<Tz> {
        match self {
            Zone::Utc => None,
            Zone::Iana(tz) => Some(*tz),
            Zone::Custom(custom) => custom.matched,
        }
    }

    pub fn to_utc(&self, local: NaiveDateTime) -> DateTime<Utc> {
        match self {
            Zone::Utc => Utc.from_utc_datetime(&local),
            Zone::Iana(tz) => iana_to_utc(*tz, local),
            Zone::Custom(custom) => custom.to_utc(local),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Zone::Utc => "UTC".into(),
            Zone::Iana(tz) => tz.name().into(),
            Zone::Custom(custom) => format!("the VTIMEZONE \"{}\"", custom.tzid),
        }
    }
}

fn iana_to_utc(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local).earliest() {
        // For a repeated hour `earliest` is the first occurrence, as RFC 5545 §3.3.5 says.
        Some(time) => time.with_timezone(&Utc),
        None => {
            // In a DST gap §3.3.5 reads the time with the offset in effect before the gap.
            let before = tz
                .offset_from_utc_datetime(&(local - Duration::days(1)))
                .fix()
                .local_minus_utc();
            Utc.from_utc_datetime(&(local - Duration::seconds(i64::from(before))))
        }
    }
}

fn iana_offset(tz: Tz, utc: NaiveDateTime) -> i32 {
    tz.offset_from_utc_datetime(&utc).fix().local_minus_utc()
}

const UTC_ALIASES: &[&str] = &[
    "UTC",
    "Etc/UTC",
    "Etc/UCT",
    "UCT",
    "Universal",
    "Etc/Universal",
    "Zulu",
    "Etc/Zulu",
    "GMT",
    "Etc/GMT",
    "Etc/GMT+0",
    "Etc/GMT-0",
    "Etc/GMT0",
    "GMT0",
    "GMT+0",
    "GMT-0",
    "Greenwich",
    "Etc/Greenwich",
];

fn zone_for(tz: Tz) -> Zone {
    if UTC_ALIASES.contains(&tz.name()) {
        Zone::Utc
    } else {
        Zone::Iana(tz)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KnownBy {
    Iana,
    Windows,
}

fn normalise(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// A zone name the tz database or CLDR's Windows table knows.
fn known_zone(tzid: &str) -> Option<(Tz, KnownBy)> {
    let tzid = tzid.trim();
    if let Ok(tz) = Tz::from_str(tzid) {
        return Some((tz, KnownBy::Iana));
    }
    // Globally unique TZIDs (§3.2.19 "/" prefix) as Evolution and old Mozilla wrote them:
    // "/softwarestudio.org/Olson_20011030_5/America/New_York", "/mozilla.org/20070129_1/Europe/Berlin".
    for (index, _) in tzid.match_indices('/') {
        if let Ok(tz) = Tz::from_str(&tzid[index + 1..]) {
            return Some((tz, KnownBy::Iana));
        }
    }
    let by_windows_id = WINDOWS_ZONES
        .iter()
        .find(|(id, _, _)| id.eq_ignore_ascii_case(tzid));
    // Older Outlook versions use the display name, "(UTC+01:00) Amsterdam, Berlin, …" or
    // "(GMT+01.00) Amsterdam / Berlin / …"; only the city list is stable across versions.
    let by_display_name = || {
        let cities = tzid.strip_prefix('(')?.split_once(')')?.1;
        let cities = normalise(cities);
        WINDOWS_ZONES
            .iter()
            .find(|(_, display, _)| !cities.is_empty() && normalise(display) == cities)
    };
    let (_, _, iana) = by_windows_id.or_else(by_display_name)?;
    Tz::from_str(iana).ok().map(|tz| (tz, KnownBy::Windows))
}

/// Zones of one VCALENDAR object (TZIDs are scoped to their VCALENDAR, RFC 5545 §3.2.19).
pub(super) struct ZoneResolver<'a> {
    /// VTIMEZONEs by exact TZID, and by lower-cased TZID for producers whose TZID parameters
    /// differ from the definition only in case; the first definition of a TZID wins.
    vtimezones: HashMap<String, &'a Component>,
    vtimezones_folded: HashMap<String, &'a Component>,
    resolved: HashMap<String, Zone>,
    /// X-WR-TIMEZONE: the calendar-wide zone Google and Apple use for floating times.
    floating: Option<Tz>,
    floating_warned: bool,
    budget: Rc<Budget>,
}

impl<'a> ZoneResolver<'a> {
    pub fn new(calendar: &'a Component, warnings: &mut Vec<ImportWarning>) -> Self {
        let floating = calendar.first("X-WR-TIMEZONE").and_then(|property| {
            let known = known_zone(&property.value).map(|(tz, _)| tz);
            if known.is_none() {
                warnings.push(ImportWarning {
                    line: property.line,
                    message: format!(
                        "X-WR-TIMEZONE \"{}\" is not a known time zone; ignored",
                        property.value.trim()
                    ),
                });
            }
            known
        });
        let mut vtimezones = HashMap::new();
        let mut vtimezones_folded = HashMap::new();
        for component in calendar.children.iter().filter(|c| c.kind == "VTIMEZONE") {
            if let Some(tzid) = component.first("TZID") {
                let tzid = tzid.value.trim();
                vtimezones.entry(tzid.to_owned()).or_insert(component);
                vtimezones_folded
                    .entry(tzid.to_lowercase())
                    .or_insert(component);
            }
        }
        Self {
            vtimezones,
            vtimezones_folded,
            resolved: HashMap::new(),
            floating,
            floating_warned: false,
            budget: Rc::new(Budget::new()),
        }
    }

    /// Refuses the calendar when its VTIMEZONE rules needed more work than any real file does;
    /// times computed after the budget ran out would be wrong, so they must not be returned.
    pub fn check_budget(&self, line: usize) -> Result<(), ImportError> {
        if self.budget.exhausted.get() {
            return Err(ImportError::at(
                line,
                "the VTIMEZONE definitions of this calendar are too complex to evaluate",
            ));
        }
        Ok(())
    }

    /// The zone for values without TZID and without Z (floating time, §3.3.5).
    pub fn floating(&mut self, line: usize, warnings: &mut Vec<ImportWarning>) -> Zone {
        if !self.floating_warned {
            self.floating_warned = true;
            let message = match self.floating {
                Some(tz) => format!(
                    "floating times (no TZID, no Z) are read in the calendar's X-WR-TIMEZONE \
                     {}, as Google Calendar and Apple Calendar do",
                    tz.name()
                ),
                None => "floating times (no TZID, no Z) are read as UTC: the file gives no \
                         time zone for them"
                    .to_owned(),
            };
            warnings.push(ImportWarning { line, message });
        }
        self.floating.map_or(Zone::Utc, zone_for)
    }

    fn vtimezone(&self, tzid: &str) -> Option<&'a Component> {
        let tzid = tzid.trim();
        self.vtimezones
            .get(tzid)
            .or_else(|| self.vtimezones_folded.get(&tzid.to_lowercase()))
            .copied()
    }

    /// Resolves a TZID parameter; `first_use` is the local time being converted, which the
    /// cross-checks and IANA matching are done around.
    pub fn resolve(
        &mut self,
        tzid: &str,
        line: usize,
        first_use: NaiveDateTime,
        warnings: &mut Vec<ImportWarning>,
    ) -> Result<Zone, ImportError> {
        if let Some(zone) = self.resolved.get(tzid) {
            return Ok(zone.clone());
        }
        let vtimezone = self.vtimezone(tzid);
        let zone = match (known_zone(tzid), vtimezone) {
            (Some((tz, by)), None) => {
                warnings.push(ImportWarning {
                    line,
                    message: match by {
                        KnownBy::Iana => format!(
                            "TZID \"{tzid}\" has no VTIMEZONE in the file; resolved from the \
                             time zone database as {}",
                            tz.name()
                        ),
                        KnownBy::Windows => format!(
                            "TZID \"{tzid}\" has no VTIMEZONE in the file; resolved as the \
                             Windows zone for {}",
                            tz.name()
                        ),
                    },
                });
                zone_for(tz)
            }
            (Some((tz, _)), Some(vtimezone)) => {
                // Best effort: a definition we cannot evaluate is not needed, the name is.
                if let Ok(custom) =
                    CustomZone::from_component(vtimezone, tzid, Rc::clone(&self.budget))
                {
                    let theirs = custom.to_utc(first_use);
                    let ours = iana_to_utc(tz, first_use);
                    if theirs != ours {
                        warnings.push(ImportWarning {
                            line,
                            message: format!(
                                "the VTIMEZONE \"{tzid}\" (line {}) puts {first_use} at {theirs}, \
                                 the time zone database's {} at {ours}; the database is used",
                                vtimezone.line,
                                tz.name()
                            ),
                        });
                    }
                }
                zone_for(tz)
            }
            (None, Some(vtimezone)) => {
                let mut custom =
                    CustomZone::from_component(vtimezone, tzid, Rc::clone(&self.budget))?;
                custom.matched = custom.matching_iana_zone(first_use.year());
                warnings.push(ImportWarning {
                    line,
                    message: match custom.matched {
                        Some(tz) => format!(
                            "TZID \"{tzid}\" is not a known zone name; times are computed from \
                             its VTIMEZONE (line {}), whose rules match {} around {}",
                            vtimezone.line,
                            tz.name(),
                            first_use.year()
                        ),
                        None => format!(
                            "TZID \"{tzid}\" is not a known zone name; times are computed from \
                             its VTIMEZONE (line {}), whose rules match no IANA zone, so \
                             recurrences cannot follow its DST changes",
                            vtimezone.line
                        ),
                    },
                });
                Zone::Custom(Rc::new(custom))
            }
            (None, None) => {
                return Err(ImportError::at(
                    line,
                    format!(
                        "TZID \"{tzid}\" has no VTIMEZONE in the file and is not a known IANA \
                         or Windows time zone"
                    ),
                ));
            }
        };
        self.resolved.insert(tzid.to_owned(), zone.clone());
        Ok(zone)
    }
}

/// UNTIL of an observance RRULE. RFC 5545 wants UTC; Thunderbird writes local time.
#[derive(Debug, Clone, Copy)]
enum Until {
    Utc(NaiveDateTime),
    Local(NaiveDateTime),
}

#[derive(Debug)]
struct Observance {
    offset_from: i32,
    offset_to: i32,
    /// Local time (in `offset_from`) of the first onset.
    start: NaiveDateTime,
    rule: Option<YearlyRule>,
    rdates: Vec<NaiveDateTime>,
}

/// The RRULE subset that VTIMEZONE observances use — FREQ=YEARLY with BYMONTH and BYDAY
/// (`-1SU`) or BYMONTHDAY+BYDAY (the pre-2007 US style) — which is every rule in RFC 5545's
/// examples and in the files of the clients we know. It is evaluated here, year by year,
/// because the `rrule` crate's iterator may spin 100 000 times on a rule that never matches,
/// and one file can hold many observances; here the cost is bounded by the years spanned.
#[derive(Debug)]
struct YearlyRule {
    interval: i32,
    count: Option<u64>,
    until: Option<Until>,
    /// Empty: DTSTART's month.
    months: Vec<u32>,
    /// `(n, weekday)`: n = 0 for every such weekday, ±n for the nth from the start/end.
    weekdays: Vec<(i32, Weekday)>,
    month_days: Vec<i32>,
}

/// Work allowed for evaluating one file's VTIMEZONE rules, in (observance, year, month)
/// steps. Real files need a few tens of thousands (Thunderbird's full Europe/London history
/// is ~40 000); the bound only stops hostile input from making an import take minutes.
const ZONE_WORK_BUDGET: u64 = 5_000_000;

/// Thunderbird's complete Europe/London history has 85; beyond this a definition is not one
/// a calendar client wrote.
const MAX_OBSERVANCES: usize = 500;

#[derive(Debug)]
pub(super) struct Budget {
    remaining: Cell<u64>,
    exhausted: Cell<bool>,
}

impl Budget {
    fn new() -> Self {
        Self {
            remaining: Cell::new(ZONE_WORK_BUDGET),
            exhausted: Cell::new(false),
        }
    }

    fn spend(&self, units: u64) -> bool {
        match self.remaining.get().checked_sub(units) {
            Some(left) => {
                self.remaining.set(left);
                true
            }
            None => {
                self.exhausted.set(true);
                false
            }
        }
    }
}

/// A transition: from this UTC instant on, `offset` applies.
#[derive(Debug, Clone, Copy)]
struct Onset {
    utc: NaiveDateTime,
    offset_from: i32,
    offset: i32,
}

#[derive(Debug, Default)]
struct Onsets {
    through_year: i32,
    sorted: Vec<Onset>,
}

/// Zones tried first when a custom VTIMEZONE is matched by its offsets: where several zones
/// share the same rules (America/Los_Angeles and America/Tijuana in the 1990s, all of central
/// Europe today) the one most people mean should win, not the first in CLDR's order.
const PREFERRED_MATCHES: &[&str] = &[
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Halifax",
    "America/St_Johns",
    "America/Mexico_City",
    "America/Sao_Paulo",
    "America/Argentina/Buenos_Aires",
    "Europe/London",
    "Europe/Lisbon",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Athens",
    "Europe/Helsinki",
    "Europe/Istanbul",
    "Europe/Moscow",
    "Africa/Johannesburg",
    "Africa/Nairobi",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Bangkok",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
];

/// A VTIMEZONE evaluated on its own rules (STANDARD/DAYLIGHT with DTSTART, RDATE, RRULE).
#[derive(Debug)]
pub(super) struct CustomZone {
    pub tzid: String,
    pub matched: Option<Tz>,
    observances: Vec<Observance>,
    onsets: RefCell<Onsets>,
    budget: Rc<Budget>,
}

impl CustomZone {
    fn from_component(
        component: &Component,
        tzid: &str,
        budget: Rc<Budget>,
    ) -> Result<Self, ImportError> {
        if component.children.len() > MAX_OBSERVANCES {
            return Err(ImportError::at(
                component.line,
                format!(
                    "VTIMEZONE \"{tzid}\" has more than {MAX_OBSERVANCES} STANDARD/DAYLIGHT \
                     definitions"
                ),
            ));
        }
        let mut observances = Vec::new();
        for child in &component.children {
            observances.push(Observance::from_component(child, tzid)?);
        }
        if observances.is_empty() {
            return Err(ImportError::at(
                component.line,
                format!("VTIMEZONE \"{tzid}\" has no STANDARD or DAYLIGHT definition"),
            ));
        }
        Ok(Self {
            tzid: tzid.to_owned(),
            matched: None,
            observances,
            onsets: RefCell::default(),
            budget,
        })
    }

    fn ensure_onsets(&self, year: i32) {
        let mut onsets = self.onsets.borrow_mut();
        if onsets.through_year > year && !onsets.sorted.is_empty() {
            return;
        }
        // Generate well past the year asked for, so most calls reuse the cache.
        let through_year = year.max(2050) + 1;
        let mut sorted = Vec::new();
        for observance in &self.observances {
            observance.onsets(through_year, &self.budget, &mut sorted);
        }
        sorted.sort_by_key(|onset| onset.utc);
        *onsets = Onsets {
            through_year,
            sorted,
        };
    }

    fn offset_at(&self, utc: NaiveDateTime) -> i32 {
        self.ensure_onsets(utc.year());
        let onsets = self.onsets.borrow();
        let after = onsets.sorted.partition_point(|onset| onset.utc <= utc);
        match after.checked_sub(1) {
            Some(index) => onsets.sorted[index].offset,
            // Before the first onset the zone is in the state that onset leaves.
            None => onsets.sorted.first().map_or(0, |onset| onset.offset_from),
        }
    }

    fn to_utc(&self, local: NaiveDateTime) -> DateTime<Utc> {
        self.ensure_onsets(local.year() + 1);
        let mut offsets: Vec<i32> = self
            .observances
            .iter()
            .flat_map(|o| [o.offset_from, o.offset_to])
            .collect();
        // Largest offset first: in a repeated hour that is the first occurrence (§3.3.5).
        offsets.sort_unstable_by(|a, b| b.cmp(a));
        offsets.dedup();
        for offset in &offsets {
            let utc = local - Duration::seconds(i64::from(*offset));
            if self.offset_at(utc) == *offset {
                return Utc.from_utc_datetime(&utc);
            }
        }
        // In a gap: the offset in effect before it (§3.3.5).
        let gap = self.onsets.borrow().sorted.iter().copied().find(|onset| {
            let gap_start = onset.utc + Duration::seconds(i64::from(onset.offset_from));
            let gap_end = onset.utc + Duration::seconds(i64::from(onset.offset));
            gap_start <= local && local < gap_end
        });
        let offset = gap.map_or_else(|| self.offset_at(local), |onset| onset.offset_from);
        Utc.from_utc_datetime(&(local - Duration::seconds(i64::from(offset))))
    }

    /// An IANA zone with the same UTC offsets as this definition from a year before `year` to
    /// a year after it; Windows-table zones first, so ties go to the zone people usually mean.
    fn matching_iana_zone(&self, year: i32) -> Option<Tz> {
        self.ensure_onsets(year + 2);
        let window_start = NaiveDate::from_ymd_opt(year - 1, 1, 1)?.and_hms_opt(0, 0, 0)?;
        let window_end = NaiveDate::from_ymd_opt(year + 2, 1, 1)?.and_hms_opt(0, 0, 0)?;
        let mut samples: Vec<NaiveDateTime> = self
            .onsets
            .borrow()
            .sorted
            .iter()
            .filter(|onset| onset.utc >= window_start && onset.utc < window_end)
            .flat_map(|onset| {
                [
                    onset.utc - Duration::hours(1),
                    onset.utc + Duration::hours(1),
                ]
            })
            .collect();
        for y in year - 1..=year + 1 {
            for month in 1..=12 {
                samples.extend(
                    NaiveDate::from_ymd_opt(y, month, 15).and_then(|d| d.and_hms_opt(12, 0, 0)),
                );
            }
        }
        let expected: Vec<(NaiveDateTime, i32)> =
            samples.iter().map(|s| (*s, self.offset_at(*s))).collect();
        let agrees = |tz: Tz| {
            expected
                .iter()
                .all(|(sample, offset)| iana_offset(tz, *sample) == *offset)
        };
        let by_name = normalise(&self.tzid);
        chrono_tz::TZ_VARIANTS
            .iter()
            .copied()
            .filter(|tz| normalise(tz.name()) == by_name)
            .chain(
                PREFERRED_MATCHES
                    .iter()
                    .filter_map(|name| Tz::from_str(name).ok()),
            )
            .chain(
                WINDOWS_ZONES
                    .iter()
                    .filter_map(|(_, _, iana)| Tz::from_str(iana).ok()),
            )
            .chain(chrono_tz::TZ_VARIANTS.iter().copied())
            .find(|tz| agrees(*tz))
    }
}

impl Observance {
    fn from_component(component: &Component, tzid: &str) -> Result<Self, ImportError> {
        let required = |name: &str| {
            component.first(name).ok_or_else(|| {
                ImportError::at(
                    component.line,
                    format!("{} of VTIMEZONE \"{tzid}\" has no {name}", component.kind),
                )
            })
        };
        let offset = |property: &Property| {
            parse_utc_offset(property.value.trim()).ok_or_else(|| {
                ImportError::at(
                    property.line,
                    format!(
                        "{} \"{}\" is not a valid UTC offset",
                        property.name,
                        property.value.trim()
                    ),
                )
            })
        };
        let local_time = |property: &Property, text: &str| match parse_date_or_date_time(text) {
            Some(DateValue::DateTime { local, .. }) => Ok(local),
            Some(DateValue::Date(date)) => Ok(date.and_hms_opt(0, 0, 0).unwrap_or_default()),
            None => Err(ImportError::at(
                property.line,
                format!(
                    "{} \"{text}\" in VTIMEZONE \"{tzid}\" is not a valid date-time",
                    property.name
                ),
            )),
        };
        let dtstart = required("DTSTART")?;
        let start = local_time(dtstart, dtstart.value.trim())?;
        let offset_from = offset(required("TZOFFSETFROM")?)?;
        let offset_to = offset(required("TZOFFSETTO")?)?;
        let mut rdates = Vec::new();
        for property in component.all("RDATE") {
            for text in property.value.split(',') {
                rdates.push(local_time(property, text.trim())?);
            }
        }
        let rule = match component.first("RRULE") {
            Some(property) => Some(YearlyRule::parse(property, tzid)?),
            None => None,
        };
        Ok(Self {
            offset_from,
            offset_to,
            start,
            rule,
            rdates,
        })
    }

    fn onsets(&self, through_year: i32, budget: &Budget, into: &mut Vec<Onset>) {
        let onset = |local: NaiveDateTime| Onset {
            utc: local - Duration::seconds(i64::from(self.offset_from)),
            offset_from: self.offset_from,
            offset: self.offset_to,
        };
        into.push(onset(self.start));
        into.extend(self.rdates.iter().copied().map(onset));
        let Some(rule) = &self.rule else {
            return;
        };
        let past_until = |local: NaiveDateTime| match rule.until {
            Some(Until::Local(until)) => local > until,
            Some(Until::Utc(until)) => onset(local).utc > until,
            None => false,
        };
        let months = if rule.months.is_empty() {
            vec![self.start.month()]
        } else {
            rule.months.clone()
        };
        // DTSTART is the first instance and counts towards COUNT (RFC 5545 §3.3.10).
        let mut emitted = 1u64;
        let mut year = self.start.year();
        while year <= through_year {
            if !budget.spend(months.len() as u64) {
                return;
            }
            let mut dates: Vec<NaiveDate> = months
                .iter()
                .flat_map(|month| rule.dates_in(year, *month, self.start.day()))
                .collect();
            dates.sort_unstable();
            for date in dates {
                let local = date.and_time(self.start.time());
                if local <= self.start {
                    continue;
                }
                if rule.count.is_some_and(|count| emitted >= count) || past_until(local) {
                    return;
                }
                emitted += 1;
                into.push(onset(local));
            }
            let Some(next) = year.checked_add(rule.interval) else {
                return;
            };
            year = next;
        }
    }
}

impl YearlyRule {
    fn parse(property: &Property, tzid: &str) -> Result<Self, ImportError> {
        let value = property.value.trim();
        let unsupported = |detail: &str| {
            ImportError::at(
                property.line,
                format!("RRULE \"{value}\" of VTIMEZONE \"{tzid}\" is not supported: {detail}"),
            )
        };
        let mut rule = YearlyRule {
            interval: 1,
            count: None,
            until: None,
            months: Vec::new(),
            weekdays: Vec::new(),
            month_days: Vec::new(),
        };
        let mut yearly = false;
        for part in value.split(';').filter(|p| !p.is_empty()) {
            let (key, text) = part
                .split_once('=')
                .ok_or_else(|| unsupported(&format!("\"{part}\" is not NAME=VALUE")))?;
            let bad = || unsupported(&format!("{key}={text} is not valid"));
            let list = || text.split(',').map(str::trim);
            match key.to_ascii_uppercase().as_str() {
                "FREQ" => yearly = text.eq_ignore_ascii_case("YEARLY"),
                "INTERVAL" => {
                    rule.interval = text.parse().ok().filter(|i| *i >= 1).ok_or_else(bad)?;
                }
                "COUNT" => rule.count = Some(text.parse().map_err(|_| bad())?),
                "UNTIL" => {
                    rule.until = Some(match parse_date_or_date_time(text) {
                        Some(DateValue::DateTime { local, utc: true }) => Until::Utc(local),
                        Some(DateValue::DateTime { local, utc: false }) => Until::Local(local),
                        Some(DateValue::Date(date)) => {
                            Until::Local(date.and_hms_opt(23, 59, 59).ok_or_else(bad)?)
                        }
                        None => return Err(bad()),
                    });
                }
                "BYMONTH" => {
                    for month in list() {
                        rule.months.push(
                            month
                                .parse()
                                .ok()
                                .filter(|m| (1..=12).contains(m))
                                .ok_or_else(bad)?,
                        );
                    }
                }
                "BYMONTHDAY" => {
                    for day in list() {
                        rule.month_days.push(
                            day.parse()
                                .ok()
                                .filter(|d: &i32| *d != 0 && (-31..=31).contains(d))
                                .ok_or_else(bad)?,
                        );
                    }
                }
                "BYDAY" => {
                    for day in list() {
                        let split = day.len().checked_sub(2).ok_or_else(bad)?;
                        let (n, weekday) = day.split_at_checked(split).ok_or_else(bad)?;
                        let n = if n.is_empty() {
                            0
                        } else {
                            n.parse()
                                .ok()
                                .filter(|n: &i32| *n != 0 && (-5..=5).contains(n))
                                .ok_or_else(bad)?
                        };
                        rule.weekdays
                            .push((n, weekday_of(weekday).ok_or_else(bad)?));
                    }
                }
                "WKST" => {}
                _ => {
                    return Err(unsupported(&format!(
                        "{key} is not used in time zone rules"
                    )));
                }
            }
        }
        if !yearly {
            return Err(unsupported("time zone rules must be FREQ=YEARLY"));
        }
        Ok(rule)
    }

    fn dates_in(&self, year: i32, month: u32, start_day: u32) -> Vec<NaiveDate> {
        let Some(first) = NaiveDate::from_ymd_opt(year, month, 1) else {
            return Vec::new();
        };
        let days_in_month = first
            .checked_add_months(chrono::Months::new(1))
            .and_then(|next| next.pred_opt())
            .map_or(28, |last| last.day());
        let day_number = |d: i32| {
            let day = if d > 0 {
                d
            } else {
                days_in_month as i32 + 1 + d
            };
            u32::try_from(day)
                .ok()
                .filter(|d| (1..=days_in_month).contains(d))
        };
        let weekday_matches = |date: NaiveDate| {
            self.weekdays.is_empty()
                || self.weekdays.iter().any(|&(n, weekday)| {
                    let day = date.day() as i32;
                    date.weekday() == weekday
                        && (n == 0
                            || n == (day - 1) / 7 + 1
                            || n == -((days_in_month as i32 - day) / 7 + 1))
                })
        };
        let candidates: Vec<u32> = if !self.month_days.is_empty() {
            self.month_days
                .iter()
                .filter_map(|d| day_number(*d))
                .collect()
        } else if !self.weekdays.is_empty() {
            (1..=days_in_month).collect()
        } else {
            day_number(start_day as i32).into_iter().collect()
        };
        candidates
            .into_iter()
            .filter_map(|day| NaiveDate::from_ymd_opt(year, month, day))
            .filter(|date| weekday_matches(*date))
            .collect()
    }
}

fn weekday_of(code: &str) -> Option<Weekday> {
    Some(match code.to_ascii_uppercase().as_str() {
        "MO" => Weekday::Mon,
        "TU" => Weekday::Tue,
        "WE" => Weekday::Wed,
        "TH" => Weekday::Thu,
        "FR" => Weekday::Fri,
        "SA" => Weekday::Sat,
        "SU" => Weekday::Sun,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::{fixture_bytes, utc};
    use super::super::{ImportLimits, lexer, structure};
    use super::*;

    /// The first VTIMEZONE of an iCalendar text, evaluated on its own rules.
    fn custom_zone(bytes: &[u8]) -> CustomZone {
        let mut warnings = Vec::new();
        let lexed = lexer::content_lines(bytes, &mut warnings).unwrap();
        let calendars = structure::build(&lexed, &ImportLimits::default(), &mut warnings).unwrap();
        let vtimezone = calendars[0]
            .children
            .iter()
            .find(|c| c.kind == "VTIMEZONE")
            .unwrap();
        let tzid = vtimezone.first("TZID").unwrap().value.clone();
        CustomZone::from_component(vtimezone, &tzid, Rc::new(Budget::new())).unwrap()
    }

    /// Every 6 hours across the years, the definition and the tz database agree.
    fn assert_same_offsets(zone: &CustomZone, tz: Tz, years: std::ops::RangeInclusive<i32>) {
        let mut t = NaiveDate::from_ymd_opt(*years.start(), 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        let end = NaiveDate::from_ymd_opt(*years.end() + 1, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        while t < end {
            assert_eq!(
                zone.offset_at(t),
                iana_offset(tz, t),
                "{} at {t} UTC",
                tz.name()
            );
            t += Duration::hours(6);
        }
        assert!(!zone.budget.exhausted.get());
    }

    #[test]
    fn thunderbird_london_history_matches_the_tz_database() {
        let zone = custom_zone(&fixture_bytes("thunderbird__alarms-full-vtimezone"));
        assert_same_offsets(&zone, chrono_tz::Europe::London, 1972..=2035);
    }

    #[test]
    fn exchange_1601_rules_match_the_tz_database_today() {
        let zone = custom_zone(&fixture_bytes("exchange__o365-teams-request-daily"));
        assert_same_offsets(&zone, chrono_tz::Europe::Berlin, 1996..=2035);
        let local = |s| super::super::values::parse_date_time(s).unwrap().0;
        // Repeated hour: the first occurrence; gap: the offset before it (RFC 5545 §3.3.5).
        assert_eq!(
            zone.to_utc(local("20241027T023000")),
            utc("20241027T003000")
        );
        assert_eq!(
            zone.to_utc(local("20240331T023000")),
            utc("20240331T013000")
        );
    }

    #[test]
    fn month_day_and_weekday_rules_match_old_us_dst() {
        let text = "BEGIN:VCALENDAR\nBEGIN:VTIMEZONE\nTZID:Old US Eastern\nBEGIN:DAYLIGHT\n\
            DTSTART:19870405T020000\nTZOFFSETFROM:-0500\nTZOFFSETTO:-0400\n\
            RRULE:FREQ=YEARLY;BYMONTH=4;BYMONTHDAY=1,2,3,4,5,6,7;BYDAY=SU;UNTIL=20060402T070000Z\n\
            END:DAYLIGHT\nBEGIN:STANDARD\nDTSTART:19871025T020000\nTZOFFSETFROM:-0400\n\
            TZOFFSETTO:-0500\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU;UNTIL=20061029T060000Z\n\
            END:STANDARD\nEND:VTIMEZONE\nEND:VCALENDAR\n";
        let zone = custom_zone(text.as_bytes());
        assert_same_offsets(&zone, chrono_tz::America::New_York, 1988..=2006);
    }

    #[test]
    fn every_windows_table_zone_is_in_the_tz_database() {
        for (id, _, iana) in WINDOWS_ZONES {
            assert!(Tz::from_str(iana).is_ok(), "{id} → {iana}");
        }
    }

    #[test]
    fn knows_iana_windows_global_and_display_names() {
        let name = |tzid: &str| known_zone(tzid).map(|(tz, by)| (tz.name(), by));
        assert_eq!(
            name("W. Europe Standard Time"),
            Some(("Europe/Berlin", KnownBy::Windows))
        );
        assert_eq!(
            name("central european standard time"),
            Some(("Europe/Warsaw", KnownBy::Windows))
        );
        assert_eq!(
            name("(GMT+01.00) Amsterdam / Berlin / Bern / Rome / Stockholm / Vienna"),
            Some(("Europe/Berlin", KnownBy::Windows))
        );
        assert_eq!(
            name("/mozilla.org/20070129_1/Europe/Berlin"),
            Some(("Europe/Berlin", KnownBy::Iana))
        );
        assert_eq!(
            name("America/Los_Angeles"),
            Some(("America/Los_Angeles", KnownBy::Iana))
        );
        assert_eq!(name("Customized Time Zone"), None);
        assert_eq!(name("America-Chicago"), None);
    }

    #[test]
    fn gap_and_repeated_hour_follow_rfc_5545() {
        let berlin = Zone::Iana(chrono_tz::Europe::Berlin);
        let local = |s| super::super::values::parse_date_time(s).unwrap().0;
        // 02:30 does not exist on 2024-03-31: read with the offset before the gap (+01:00).
        assert_eq!(
            berlin.to_utc(local("20240331T023000")),
            utc("20240331T013000")
        );
        // 02:30 happens twice on 2024-10-27: the first one (+02:00).
        assert_eq!(
            berlin.to_utc(local("20241027T023000")),
            utc("20241027T003000")
        );
    }
}
