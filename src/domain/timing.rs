//! When an activity happens, as precisely as it is really known: an exact time in
//! an IANA zone, whole days, only a month, or "to be confirmed". An unknown date is
//! a state of its own, never a made-up date.

use super::zone::Zone;
use crate::error::Error;
use chrono::{
    DateTime, Datelike, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc,
};
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;
use utoipa::ToSchema;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Timing {
    /// Wall-clock start and end in `zone`; `end` is after `start`.
    Exact {
        start: NaiveDateTime,
        end: NaiveDateTime,
        zone: Zone,
    },
    /// Whole days, `end` inclusive.
    Days { start: NaiveDate, end: NaiveDate },
    /// Only the month is known.
    Month(YearMonth),
    /// The date is to be confirmed.
    ToBeConfirmed,
}

/// How precisely an activity's time is known; the database's `time_precision`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    Exact,
    Days,
    Month,
    Tbc,
}

impl Precision {
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::Exact => "exact",
            Precision::Days => "days",
            Precision::Month => "month",
            Precision::Tbc => "tbc",
        }
    }
}

/// Resolves a wall-clock time in a zone to an instant. A time that does not exist
/// (skipped by a DST change) is refused; an ambiguous one (repeated hour) takes the
/// earlier instant, as RFC 5545 §3.3.5 reads a `TZID` local time. New input never
/// stores an ambiguous time without saying which instant it is (see
/// [`resolve_input`]); this reading is for stored times and series expansion.
pub fn resolve_local(
    zone: Zone,
    local: NaiveDateTime,
    field: &str,
) -> Result<DateTime<Utc>, Error> {
    match zone.tz().from_local_datetime(&local) {
        LocalResult::Single(t) => Ok(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(earlier, _) => Ok(earlier.with_timezone(&Utc)),
        LocalResult::None => Err(skipped(zone, local, field)),
    }
}

fn skipped(zone: Zone, local: NaiveDateTime, field: &str) -> Error {
    Error::invalid(
        field,
        format!(
            "{} does not exist in {} (skipped by a daylight-saving change)",
            local.format("%Y-%m-%dT%H:%M:%S"),
            zone.name()
        ),
    )
}

/// Resolves a wall-clock time given by a client. A time a DST change repeats is
/// refused unless `offset` says which of the two instants is meant: clients
/// disagree on what a bare repeated time means, so it is never stored without
/// one. Only the first of the two can be published with `TZID` (RFC 5545 §3.3.5
/// reads a repeated local time as its first occurrence), so the second is refused
/// with a way out. An offset is refused where the time is not repeated, and where
/// it is neither of the zone's two offsets at that time.
pub fn resolve_input(
    zone: Zone,
    local: NaiveDateTime,
    offset: Option<FixedOffset>,
    field: &str,
) -> Result<DateTime<Utc>, Error> {
    let shown = local.format("%Y-%m-%dT%H:%M:%S");
    let wrong_offset = |offset: FixedOffset, valid: &[FixedOffset]| {
        let valid: Vec<String> = valid.iter().map(|o| o.to_string()).collect();
        Error::invalid(
            field,
            format!(
                "{shown} in {} has the UTC offset {}, not {offset}",
                zone.name(),
                valid.join(" or ")
            ),
        )
    };
    match zone.tz().from_local_datetime(&local) {
        LocalResult::None => Err(skipped(zone, local, field)),
        // The zone decides the offset: one given where there is no choice is refused,
        // as before offsets were accepted, so a time is written one way only.
        LocalResult::Single(t) => match offset {
            Some(o) => Err(Error::invalid(
                field,
                format!(
                    "\"{shown}{o}\" carries an offset; give the wall-clock time \
                     (YYYY-MM-DDTHH:MM[:SS]) and the zone in time_zone (an offset is only \
                     needed where a daylight-saving change repeats the time)"
                ),
            )),
            None => Ok(t.with_timezone(&Utc)),
        },
        LocalResult::Ambiguous(earlier, later) => {
            let (first, second) = (earlier.offset().fix(), later.offset().fix());
            let instant = |t: DateTime<chrono_tz::Tz>| {
                t.with_timezone(&Utc)
                    .format("%Y-%m-%dT%H:%M:%SZ")
                    .to_string()
            };
            match offset {
                None => Err(Error::invalid(
                    field,
                    format!(
                        "{shown} happens twice in {}: at {} (UTC offset {first}) and at {} \
                         (UTC offset {second}); add the offset to say which, e.g. {shown}{first}",
                        zone.name(),
                        instant(earlier),
                        instant(later),
                    ),
                )),
                Some(o) if o == first => Ok(earlier.with_timezone(&Utc)),
                Some(o) if o == second => Err(Error::invalid(
                    field,
                    format!(
                        "{shown}{second} is the second {shown} in {} ({}); a calendar reads \
                         {shown} there as the first one (RFC 5545 §3.3.5), so it cannot be \
                         published in this zone: give the time in UTC (time_zone \"UTC\") \
                         or in a zone with a fixed offset",
                        zone.name(),
                        instant(later),
                    ),
                )),
                Some(o) => Err(wrong_offset(o, &[first, second])),
            }
        }
    }
}

impl Timing {
    /// An exact timing from bare wall-clock times: a repeated (ambiguous) one is
    /// refused, see [`resolve_input`].
    pub fn exact(start: NaiveDateTime, end: NaiveDateTime, zone: Zone) -> Result<Timing, Error> {
        Timing::exact_with_offsets((start, None), (end, None), zone)
    }

    /// An exact timing whose wall-clock times may carry the UTC offset that says
    /// which instant a repeated time is.
    pub fn exact_with_offsets(
        (start, start_offset): (NaiveDateTime, Option<FixedOffset>),
        (end, end_offset): (NaiveDateTime, Option<FixedOffset>),
        zone: Zone,
    ) -> Result<Timing, Error> {
        let start_utc = resolve_input(zone, start, start_offset, "timing.start")?;
        let end_utc = resolve_input(zone, end, end_offset, "timing.end")?;
        if end_utc <= start_utc {
            return Err(Error::invalid("timing.end", "must be after start"));
        }
        Ok(Timing::Exact { start, end, zone })
    }

    pub fn days(start: NaiveDate, end: NaiveDate) -> Result<Timing, Error> {
        if end < start {
            return Err(Error::invalid("timing.end", "must not be before start"));
        }
        Ok(Timing::Days { start, end })
    }

    pub fn precision(&self) -> Precision {
        match self {
            Timing::Exact { .. } => Precision::Exact,
            Timing::Days { .. } => Precision::Days,
            Timing::Month(_) => Precision::Month,
            Timing::ToBeConfirmed => Precision::Tbc,
        }
    }

    /// Start and end as instants, for exact timings.
    pub fn instants(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        match *self {
            Timing::Exact { start, end, zone } => Some((
                resolve_local(zone, start, "").ok()?,
                resolve_local(zone, end, "").ok()?,
            )),
            _ => None,
        }
    }

    /// The calendar days the activity touches (inclusive), in its own zone.
    pub fn date_range(&self) -> Option<(NaiveDate, NaiveDate)> {
        match *self {
            Timing::Exact { start, end, .. } => {
                // An event ending at midnight does not touch the next day.
                let last = if end.time() == chrono::NaiveTime::MIN && end.date() > start.date() {
                    end.date().pred_opt().unwrap_or(end.date())
                } else {
                    end.date()
                };
                Some((start.date(), last))
            }
            Timing::Days { start, end } => Some((start, end)),
            Timing::Month(m) => Some((m.first_day(), m.last_day())),
            Timing::ToBeConfirmed => None,
        }
    }

    pub fn zone(&self) -> Option<Zone> {
        match self {
            Timing::Exact { zone, .. } => Some(*zone),
            _ => None,
        }
    }
}

/// A calendar month, written `2020-05`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct YearMonth {
    year: i32,
    month: u32,
}

impl YearMonth {
    pub fn new(year: i32, month: u32) -> Option<YearMonth> {
        ((1..=12).contains(&month) && (1900..=9999).contains(&year))
            .then_some(YearMonth { year, month })
    }

    pub fn of(date: NaiveDate) -> YearMonth {
        YearMonth {
            year: date.year(),
            month: date.month(),
        }
    }

    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).expect("validated month")
    }

    pub fn last_day(self) -> NaiveDate {
        let (y, m) = if self.month == 12 {
            (self.year + 1, 1)
        } else {
            (self.year, self.month + 1)
        };
        NaiveDate::from_ymd_opt(y, m, 1)
            .and_then(|d| d.pred_opt())
            .expect("validated month")
    }
}

impl fmt::Display for YearMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl std::str::FromStr for YearMonth {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let err = || format!("{s:?} is not a month; write it as YYYY-MM, e.g. 2020-05");
        let (y, m) = s.split_once('-').ok_or_else(err)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(err());
        }
        YearMonth::new(y.parse().map_err(|_| err())?, m.parse().map_err(|_| err())?).ok_or_else(err)
    }
}

impl Serialize for YearMonth {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for YearMonth {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A wall-clock date-time without offset, as written in JSON (`2020-03-10T10:00`,
/// seconds optional). An offset is refused: the zone is given separately, so a
/// time stays right across daylight-saving changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
#[schema(value_type = String, example = "2020-03-10T10:00:00")]
pub struct LocalDateTime(pub NaiveDateTime);

impl std::str::FromStr for LocalDateTime {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        for format in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"] {
            if let Ok(t) = NaiveDateTime::parse_from_str(s, format) {
                return Ok(LocalDateTime(t));
            }
        }
        if DateTime::parse_from_rfc3339(s).is_ok() {
            return Err(format!(
                "{s:?} carries an offset; give the wall-clock time (YYYY-MM-DDTHH:MM[:SS]) and the zone in time_zone"
            ));
        }
        Err(format!(
            "{s:?} is not a valid date-time; expected YYYY-MM-DDTHH:MM[:SS]"
        ))
    }
}

impl<'de> Deserialize<'de> for LocalDateTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// For a `NaiveDateTime` field of an input: the forms `LocalDateTime` accepts
/// (seconds optional), the same everywhere a local date-time is read.
pub fn local_date_time<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDateTime, D::Error> {
    LocalDateTime::deserialize(d).map(|t| t.0)
}

/// Timing as a client writes it. One flat object rather than a tagged union, so
/// an error can name the exact field at fault (`timing.end`).
///
/// - `exact`: `start`, `end` as wall-clock `YYYY-MM-DDTHH:MM[:SS]` and `time_zone`;
///   a time a DST change repeats needs its UTC offset (`2020-10-25T02:30+02:00`);
/// - `days`: `start` and optional `end` (inclusive) as `YYYY-MM-DD`;
/// - `month`: `month` as `YYYY-MM`;
/// - `tbc`: nothing else: the date is to be confirmed.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TimingInput {
    pub precision: Precision,
    #[schema(example = "2020-03-10T10:00", max_length = 64)]
    pub start: Option<String>,
    #[schema(max_length = 64)]
    pub end: Option<String>,
    pub time_zone: Option<Zone>,
    #[schema(value_type = Option<String>, example = "2020-05", max_length = 7)]
    pub month: Option<YearMonth>,
}

fn required<'a>(
    value: &'a Option<String>,
    field: &str,
    precision: Precision,
) -> Result<&'a str, Error> {
    value.as_deref().ok_or_else(|| {
        Error::invalid(
            field,
            format!("is required with precision {}", precision.as_str()),
        )
    })
}

fn date(value: &str, field: &str) -> Result<NaiveDate, Error> {
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .map_err(|_| Error::invalid(field, format!("{value:?} is not a date (YYYY-MM-DD)")))
}

/// A wall-clock time in the activity's zone, optionally followed by its UTC
/// offset (`2020-10-25T02:30+02:00`), which is only needed, and only checked,
/// to say which instant a time repeated by a DST change is.
fn zoned_date_time(
    value: &str,
    field: &str,
) -> Result<(NaiveDateTime, Option<FixedOffset>), Error> {
    if let Ok(t) = value.parse::<LocalDateTime>() {
        return Ok((t.0, None));
    }
    // The offset is the last 6 characters (`+02:00`) or `Z`.
    let split = if value.ends_with(['Z', 'z']) {
        value.len() - 1
    } else {
        value.len().saturating_sub(6)
    };
    let (local, offset) = (value.get(..split), value.get(split..));
    let offset = offset.and_then(|o| {
        if o.eq_ignore_ascii_case("Z") {
            return FixedOffset::east_opt(0);
        }
        DateTime::parse_from_rfc3339(&format!("2000-01-01T00:00:00{o}"))
            .ok()
            .map(|t| *t.offset())
    });
    match (local.and_then(|l| l.parse::<LocalDateTime>().ok()), offset) {
        (Some(t), Some(offset)) => Ok((t.0, Some(offset))),
        _ => Err(Error::invalid(
            field,
            format!(
                "{value:?} is not a valid date-time; expected YYYY-MM-DDTHH:MM[:SS], \
                 optionally with the UTC offset (+02:00) where a DST change repeats the time"
            ),
        )),
    }
}

impl TryFrom<TimingInput> for Timing {
    type Error = Error;
    fn try_from(input: TimingInput) -> Result<Timing, Error> {
        let p = input.precision;
        let unused = |present: bool, field: &str| {
            if present {
                Err(Error::invalid(
                    field,
                    format!("is not used with precision {}", p.as_str()),
                ))
            } else {
                Ok(())
            }
        };
        match p {
            Precision::Exact => {
                unused(input.month.is_some(), "timing.month")?;
                let start =
                    zoned_date_time(required(&input.start, "timing.start", p)?, "timing.start")?;
                let end = zoned_date_time(required(&input.end, "timing.end", p)?, "timing.end")?;
                let zone = input.time_zone.ok_or_else(|| {
                    Error::invalid("timing.time_zone", "is required with precision exact")
                })?;
                Timing::exact_with_offsets(start, end, zone)
            }
            Precision::Days => {
                unused(input.month.is_some(), "timing.month")?;
                unused(input.time_zone.is_some(), "timing.time_zone")?;
                let start = date(required(&input.start, "timing.start", p)?, "timing.start")?;
                let end = match &input.end {
                    Some(end) => date(end, "timing.end")?,
                    None => start,
                };
                Timing::days(start, end)
            }
            Precision::Month => {
                unused(input.start.is_some(), "timing.start")?;
                unused(input.end.is_some(), "timing.end")?;
                unused(input.time_zone.is_some(), "timing.time_zone")?;
                input.month.map(Timing::Month).ok_or_else(|| {
                    Error::invalid("timing.month", "is required with precision month")
                })
            }
            Precision::Tbc => {
                unused(input.start.is_some(), "timing.start")?;
                unused(input.end.is_some(), "timing.end")?;
                unused(input.time_zone.is_some(), "timing.time_zone")?;
                unused(input.month.is_some(), "timing.month")?;
                Ok(Timing::ToBeConfirmed)
            }
        }
    }
}

/// Timing as the API shows it: the input form plus, for exact times, the instants.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TimingView {
    pub precision: Precision,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub start: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub end: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<Zone>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_utc: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_utc: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub month: Option<YearMonth>,
}

impl From<&Timing> for TimingView {
    fn from(t: &Timing) -> Self {
        let mut view = TimingView {
            precision: t.precision(),
            start: None,
            end: None,
            time_zone: None,
            start_utc: None,
            end_utc: None,
            month: None,
        };
        match *t {
            Timing::Exact { start, end, zone } => {
                view.start = Some(wall_clock(start, zone));
                view.end = Some(wall_clock(end, zone));
                view.time_zone = Some(zone);
                if let Some((s, e)) = t.instants() {
                    view.start_utc = Some(s);
                    view.end_utc = Some(e);
                }
            }
            Timing::Days { start, end } => {
                view.start = Some(start.to_string());
                view.end = Some(end.to_string());
            }
            Timing::Month(m) => view.month = Some(m),
            Timing::ToBeConfirmed => {}
        }
        view
    }
}

/// A stored wall-clock time as the API shows it: with its UTC offset when a DST
/// change repeats it, so that what a client reads it can send back.
pub fn wall_clock(local: NaiveDateTime, zone: Zone) -> String {
    let text = local.format("%Y-%m-%dT%H:%M:%S").to_string();
    match zone.tz().from_local_datetime(&local) {
        LocalResult::Ambiguous(earlier, _) => format!("{text}{}", earlier.offset().fix()),
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(s: &str) -> NaiveDateTime {
        s.parse::<LocalDateTime>().unwrap().0
    }

    #[test]
    fn exact_needs_end_after_start_in_real_time() {
        let madrid: Zone = "Europe/Madrid".parse().unwrap();
        assert!(Timing::exact(dt("2020-03-10T10:00"), dt("2020-03-10T09:00"), madrid).is_err());
        assert!(Timing::exact(dt("2020-03-10T10:00"), dt("2020-03-10T10:00"), madrid).is_err());
        // 02:30 on 29 March 2020 was skipped in Madrid.
        let err =
            Timing::exact(dt("2020-03-29T02:30"), dt("2020-03-29T04:00"), madrid).unwrap_err();
        assert!(matches!(err, Error::Invalid { ref field, .. } if field == "timing.start"));
    }

    fn exact(start: &str, end: &str, zone: &str) -> Result<Timing, Error> {
        Timing::try_from(TimingInput {
            precision: Precision::Exact,
            start: Some(start.into()),
            end: Some(end.into()),
            time_zone: Some(zone.parse().unwrap()),
            month: None,
        })
    }

    #[test]
    fn a_time_repeated_by_dst_needs_its_offset() {
        // 02:30 on 25 October 2020 happened twice in Madrid (CEST then CET).
        let err = exact("2020-10-25T02:30", "2020-10-25T03:30", "Europe/Madrid").unwrap_err();
        let Error::Invalid { field, message } = err else {
            panic!("not a validation error")
        };
        assert_eq!(field, "timing.start");
        assert!(message.contains("2020-10-25T00:30:00Z"), "{message}");
        assert!(message.contains("2020-10-25T01:30:00Z"), "{message}");
        // The offset says which: the first one is what TZID means (RFC 5545 §3.3.5).
        let t = exact(
            "2020-10-25T02:30+02:00",
            "2020-10-25T03:30",
            "Europe/Madrid",
        )
        .unwrap();
        let (s, e) = t.instants().unwrap();
        assert_eq!(s.to_rfc3339(), "2020-10-25T00:30:00+00:00");
        assert_eq!(e.to_rfc3339(), "2020-10-25T02:30:00+00:00");
        // ... and the API shows it with its offset, so it can be sent back.
        assert_eq!(
            TimingView::from(&t).start.as_deref(),
            Some("2020-10-25T02:30:00+02:00")
        );
        assert_eq!(
            TimingView::from(&t).end.as_deref(),
            Some("2020-10-25T03:30:00")
        );
        // The second cannot be written with TZID: refused with a way out.
        let err = exact(
            "2020-10-25T02:30+01:00",
            "2020-10-25T03:30",
            "Europe/Madrid",
        )
        .unwrap_err();
        assert!(err.to_string().contains("UTC"), "{err}");
        // An offset the zone does not have then is an error, not a silent shift.
        assert!(
            exact(
                "2020-10-25T02:30+05:00",
                "2020-10-25T03:30",
                "Europe/Madrid"
            )
            .is_err()
        );
        // Where the time is not repeated, the zone alone says it; no offset.
        assert!(
            exact(
                "2020-03-10T10:00+01:00",
                "2020-03-10T11:00",
                "Europe/Madrid"
            )
            .is_err()
        );
        assert!(exact("2020-03-10T10:00Z", "2020-03-10T11:00", "UTC").is_err());
    }

    #[test]
    fn local_date_time_refuses_offsets_with_a_reason() {
        assert!("2020-03-10T10:00:00".parse::<LocalDateTime>().is_ok());
        let err = "2020-03-10T10:00:00Z".parse::<LocalDateTime>().unwrap_err();
        assert!(err.contains("offset"), "{err}");
        assert!("2020-02-30T10:00".parse::<LocalDateTime>().is_err());
    }

    #[test]
    fn months_and_ranges() {
        let m: YearMonth = "2020-02".parse().unwrap();
        assert_eq!(m.last_day().to_string(), "2020-02-29");
        assert_eq!(
            "2019-12"
                .parse::<YearMonth>()
                .unwrap()
                .last_day()
                .to_string(),
            "2019-12-31"
        );
        for bad in ["2020-13", "2020-1", "20-01", "2020/01", "2020-00"] {
            assert!(bad.parse::<YearMonth>().is_err(), "{bad}");
        }
        let night = Timing::exact(
            dt("2020-03-10T20:00"),
            dt("2020-03-11T00:00"),
            "UTC".parse().unwrap(),
        )
        .unwrap();
        let d = NaiveDate::from_ymd_opt(2020, 3, 10).unwrap();
        assert_eq!(night.date_range(), Some((d, d)));
        assert_eq!(Timing::ToBeConfirmed.date_range(), None);
    }
}
