//! An evaluator for VTIMEZONE text written from RFC 5545 §3.6.5 alone (it
//! shares no code with the generator), and the checks comparing what it
//! computes with chrono-tz.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, NaiveDateTime, Offset, TimeDelta, TimeZone, Weekday};
use chrono_tz::Tz;

use super::super::vtimezone::{TZDATA_LAST_YEAR, ZoneWindow, vtimezone};

#[derive(Debug, Clone)]
pub struct Rule {
    month: u32,
    /// 0 means every matching weekday (used with `monthdays`).
    nth: i32,
    weekday: Weekday,
    monthdays: Vec<u32>,
    until: Option<NaiveDateTime>,
}

#[derive(Debug, Clone)]
pub struct Observance {
    pub daylight: bool,
    pub dtstart: NaiveDateTime,
    pub from: i32,
    pub to: i32,
    pub rule: Option<Rule>,
    pub rdates: Vec<NaiveDateTime>,
    pub tzname: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Zone {
    pub tzid: String,
    pub observances: Vec<Observance>,
}

fn parse_offset(s: &str) -> i32 {
    let sign = match &s[..1] {
        "+" => 1,
        "-" => -1,
        _ => panic!("offset without sign: {s}"),
    };
    let digits = &s[1..];
    assert!(digits.len() == 4 || digits.len() == 6, "bad offset {s}");
    let n = |r: std::ops::Range<usize>| digits[r].parse::<i32>().unwrap();
    let secs = if digits.len() == 6 { n(4..6) } else { 0 };
    assert!(
        digits.len() == 4 || secs != 0,
        "RFC 5545 offsets omit zero seconds: {s}"
    );
    sign * (n(0..2) * 3600 + n(2..4) * 60 + secs)
}

fn parse_local(s: &str) -> NaiveDateTime {
    assert!(!s.ends_with('Z'), "observance times must be local: {s}");
    NaiveDateTime::parse_from_str(s, "%Y%m%dT%H%M%S").unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn parse_weekday(s: &str) -> Weekday {
    match s {
        "MO" => Weekday::Mon,
        "TU" => Weekday::Tue,
        "WE" => Weekday::Wed,
        "TH" => Weekday::Thu,
        "FR" => Weekday::Fri,
        "SA" => Weekday::Sat,
        "SU" => Weekday::Sun,
        _ => panic!("weekday {s}"),
    }
}

fn parse_rule(s: &str) -> Rule {
    let parts: BTreeMap<&str, &str> = s
        .split(';')
        .map(|p| p.split_once('=').expect("k=v"))
        .collect();
    for k in parts.keys() {
        assert!(
            ["FREQ", "BYMONTH", "BYDAY", "BYMONTHDAY", "UNTIL"].contains(k),
            "rule part this evaluator does not implement: {k} in {s}"
        );
    }
    assert_eq!(parts["FREQ"], "YEARLY", "{s}");
    let byday = parts["BYDAY"];
    assert!(!byday.contains(','), "single BYDAY expected: {s}");
    let (num, wd) = byday.split_at(byday.len() - 2);
    let nth = if num.is_empty() {
        0
    } else {
        num.parse::<i32>().unwrap()
    };
    let monthdays: Vec<u32> = parts
        .get("BYMONTHDAY")
        .map(|v| v.split(',').map(|d| d.parse().unwrap()).collect())
        .unwrap_or_default();
    assert!(
        (nth != 0) == monthdays.is_empty(),
        "expected either an nth weekday or a weekday with month days: {s}"
    );
    let until = parts.get("UNTIL").map(|u| {
        let u = u
            .strip_suffix('Z')
            .unwrap_or_else(|| panic!("UNTIL must be UTC in VTIMEZONE: {s}"));
        NaiveDateTime::parse_from_str(u, "%Y%m%dT%H%M%S").unwrap()
    });
    Rule {
        month: parts["BYMONTH"].parse().unwrap(),
        nth,
        weekday: parse_weekday(wd),
        monthdays,
        until,
    }
}

/// Parses every VTIMEZONE in an iCalendar stream.
pub fn parse_vtimezones(ics: &str) -> Vec<Zone> {
    let unfolded = ics.replace("\r\n ", "").replace("\r\n\t", "");
    let mut zones = Vec::new();
    let mut zone: Option<Zone> = None;
    let mut obs: Option<(bool, BTreeMap<String, Vec<String>>)> = None;
    for line in unfolded.split("\r\n").filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':').expect("content line");
        match (name, value) {
            ("BEGIN", "VTIMEZONE") => {
                zone = Some(Zone {
                    tzid: String::new(),
                    observances: Vec::new(),
                })
            }
            ("END", "VTIMEZONE") => zones.push(zone.take().expect("BEGIN before END")),
            ("BEGIN", "STANDARD" | "DAYLIGHT") => {
                obs = Some((value == "DAYLIGHT", BTreeMap::new()))
            }
            ("END", "STANDARD" | "DAYLIGHT") => {
                let (daylight, props) = obs.take().expect("BEGIN before END");
                let one = |k: &str| {
                    let v = props.get(k).unwrap_or_else(|| panic!("{k} missing"));
                    assert_eq!(v.len(), 1, "{k} repeated");
                    v[0].clone()
                };
                zone.as_mut().unwrap().observances.push(Observance {
                    daylight,
                    dtstart: parse_local(&one("DTSTART")),
                    from: parse_offset(&one("TZOFFSETFROM")),
                    to: parse_offset(&one("TZOFFSETTO")),
                    rule: props
                        .contains_key("RRULE")
                        .then(|| parse_rule(&one("RRULE"))),
                    rdates: props
                        .get("RDATE")
                        .into_iter()
                        .flatten()
                        .flat_map(|v| v.split(','))
                        .map(parse_local)
                        .collect(),
                    tzname: props.contains_key("TZNAME").then(|| one("TZNAME")),
                });
            }
            _ => {
                if let Some((_, props)) = obs.as_mut() {
                    assert!(
                        !name.contains(';'),
                        "unexpected parameters in observance: {line}"
                    );
                    props
                        .entry(name.to_string())
                        .or_default()
                        .push(value.to_string());
                } else if let Some(z) = zone.as_mut()
                    && name == "TZID"
                {
                    z.tzid = value.to_string();
                }
            }
        }
    }
    zones
}

fn rule_day(rule: &Rule, year: i32) -> Option<NaiveDate> {
    let first = NaiveDate::from_ymd_opt(year, rule.month, 1)?;
    let days: Vec<NaiveDate> = first
        .iter_days()
        .take_while(|d| d.month() == rule.month)
        .filter(|d| d.weekday() == rule.weekday)
        .filter(|d| rule.monthdays.is_empty() || rule.monthdays.contains(&d.day()))
        .collect();
    match rule.nth {
        0 => {
            assert!(
                days.len() <= 1,
                "BYMONTHDAY set matches several days in {year}"
            );
            days.first().copied()
        }
        n if n > 0 => days.get(n as usize - 1).copied(),
        n => days
            .len()
            .checked_sub(n.unsigned_abs() as usize)
            .map(|i| days[i]),
    }
}

/// Onsets of a zone as (UTC instant, TZOFFSETFROM, TZOFFSETTO), sorted,
/// expanded through `last_year`.
pub fn onsets(zone: &Zone, last_year: i32) -> Vec<(NaiveDateTime, i32, i32)> {
    let mut out = Vec::new();
    for o in &zone.observances {
        let utc = |local: NaiveDateTime| local - TimeDelta::seconds(o.from.into());
        out.push((utc(o.dtstart), o.from, o.to));
        for rd in &o.rdates {
            out.push((utc(*rd), o.from, o.to));
        }
        if let Some(rule) = &o.rule {
            assert_eq!(
                rule_day(rule, o.dtstart.year()),
                Some(o.dtstart.date()),
                "DTSTART {} is not the rule's first instance",
                o.dtstart
            );
            for year in o.dtstart.year() + 1..=last_year {
                let Some(day) = rule_day(rule, year) else {
                    continue;
                };
                let at = utc(day.and_time(o.dtstart.time()));
                if rule.until.is_some_and(|u| at > u) {
                    break;
                }
                out.push((at, o.from, o.to));
            }
        }
    }
    out.sort();
    out
}

/// UTC offset at `t` according to the onsets, `None` before the first.
pub fn offset_at(onsets: &[(NaiveDateTime, i32, i32)], t: NaiveDateTime) -> Option<i32> {
    let i = onsets.partition_point(|o| o.0 <= t);
    i.checked_sub(1).map(|i| onsets[i].2)
}

fn tzdb_offset(tz: Tz, t: NaiveDateTime) -> i32 {
    tz.offset_from_utc_datetime(&t).fix().local_minus_utc()
}

fn year_start(y: i32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(y, 1, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
}

/// Deterministic so a failure reproduces.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Exact transitions of `tz` in `[a, b)` found from chrono-tz alone.
fn tzdb_transitions(tz: Tz, a: NaiveDateTime, b: NaiveDateTime) -> Vec<NaiveDateTime> {
    let step = TimeDelta::hours(3);
    let mut out = Vec::new();
    let mut t = a;
    while t < b {
        let u = t + step;
        if tzdb_offset(tz, t) != tzdb_offset(tz, u) {
            let (mut lo, mut hi) = (t, u);
            while hi - lo > TimeDelta::seconds(1) {
                let mid = lo + (hi - lo) / 2;
                if tzdb_offset(tz, mid) == tzdb_offset(tz, t) {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            out.push(hi);
        }
        t = u;
    }
    out
}

pub struct Checked {
    pub zone: Zone,
    pub transitions: usize,
    pub instants: usize,
}

/// Generates the VTIMEZONE for `tz`/`window` and compares the offsets it
/// defines with chrono-tz: every hour of the window (bounded windows, and
/// the first ten years of open-ended ones), every hour of 2090 for
/// open-ended ones, every hour within a day and every minute within an hour
/// of each transition, the seconds around it, and random instants.
pub fn check_zone(tz: Tz, window: ZoneWindow, random_instants: usize) -> Checked {
    let text = vtimezone(tz, window);
    let zones = parse_vtimezones(&text);
    assert_eq!(zones.len(), 1, "{}: one VTIMEZONE expected", tz.name());
    let zone = zones.into_iter().next().unwrap();
    assert_eq!(zone.tzid, tz.name());

    let a = year_start(window.first_year);
    let b = match window.last_year {
        Some(y) => year_start(y + 1),
        // chrono-tz stops applying DST rules after its last listed year.
        None => year_start(TZDATA_LAST_YEAR + 1) - TimeDelta::days(60),
    };
    let ons = onsets(&zone, b.year() + 1);

    // Each onset must leave from the offset the previous one went to:
    // otherwise TZOFFSETFROM (and so every DTSTART/RDATE) is wrong even if
    // the offsets after it are right.
    for w in ons.windows(2).filter(|w| w[1].0 <= b) {
        assert_eq!(
            w[1].1,
            w[0].2,
            "{}: onset at {} leaves from a wrong offset",
            tz.name(),
            w[1].0
        );
    }

    let mut n = 0;
    let mut check = |t: NaiveDateTime| {
        if t < a || t >= b {
            return;
        }
        let ours = offset_at(&ons, t);
        assert_eq!(
            ours,
            Some(tzdb_offset(tz, t)),
            "{} window {window:?}: offset at {t} UTC differs\n{text}",
            tz.name()
        );
        n += 1;
    };

    let hourly_end = match window.last_year {
        Some(_) => b,
        None => (a + TimeDelta::days(3653)).min(b),
    };
    let mut t = a;
    while t < hourly_end {
        check(t);
        t += TimeDelta::hours(1);
    }
    if window.last_year.is_none() {
        let mut t = year_start(2090);
        while t < year_start(2091) {
            check(t);
            t += TimeDelta::hours(1);
        }
    }
    let trs = tzdb_transitions(tz, a, b);
    for &tr in &trs {
        for h in -24..=24 {
            check(tr + TimeDelta::hours(h));
        }
        for m in -60..=60 {
            check(tr + TimeDelta::minutes(m));
        }
        for s in -2..=2 {
            check(tr + TimeDelta::seconds(s));
        }
    }
    let mut rng = SplitMix(0x5eed ^ u64::from(tz.name().len() as u32));
    let span = (b - a).num_seconds() as u64;
    for _ in 0..random_instants {
        check(a + TimeDelta::seconds((rng.next() % span) as i64));
    }
    Checked {
        zone,
        transitions: trs.len(),
        instants: n,
    }
}

fn windows() -> [ZoneWindow; 5] {
    let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
    [
        ZoneWindow::covering(d(2019, 1, 1), d(2021, 12, 31), false),
        ZoneWindow::covering(d(2010, 1, 1), d(2030, 12, 31), false),
        ZoneWindow::covering(d(2010, 6, 1), d(2010, 6, 1), true),
        // Rules that ended (US 1987-2006) must be cut off with UNTIL.
        ZoneWindow::covering(d(1996, 1, 1), d(2004, 12, 31), false),
        // Near the end of chrono-tz's tables the rule must still be found.
        ZoneWindow::covering(d(2099, 6, 1), d(2099, 6, 1), true),
    ]
}

const ZONES: [Tz; 15] = [
    Tz::Europe__Madrid,
    Tz::Europe__London,
    Tz::Europe__Dublin,
    Tz::Africa__Johannesburg,
    Tz::America__New_York,
    Tz::America__Sao_Paulo,
    Tz::America__Santiago,
    Tz::Australia__Sydney,
    Tz::Australia__Lord_Howe,
    Tz::Asia__Kolkata,
    Tz::Asia__Kathmandu,
    Tz::Asia__Tehran,
    Tz::Pacific__Apia,
    Tz::Europe__Istanbul,
    Tz::UTC,
];

fn open_rules(zone: &Zone) -> Vec<&Observance> {
    zone.observances
        .iter()
        .filter(|o| o.rule.as_ref().is_some_and(|r| r.until.is_none()))
        .collect()
}

#[test]
fn generated_vtimezones_match_tzdb_for_listed_zones_and_windows() {
    for tz in ZONES {
        for window in windows() {
            let c = check_zone(tz, window, 3000);
            assert!(c.instants > 3000, "{}: too few instants checked", tz.name());
            let open = open_rules(&c.zone);
            let has_dst_today = !matches!(
                tz,
                Tz::Africa__Johannesburg
                    | Tz::America__Sao_Paulo
                    | Tz::Asia__Kolkata
                    | Tz::Asia__Kathmandu
                    | Tz::Asia__Tehran
                    | Tz::Pacific__Apia
                    | Tz::Europe__Istanbul
                    | Tz::UTC
            );
            if window.last_year.is_none() {
                // The open-ended rule is what keeps the zone right after 2099.
                assert_eq!(
                    open.len(),
                    if has_dst_today { 2 } else { 0 },
                    "{}",
                    tz.name()
                );
                if has_dst_today {
                    assert!(open.iter().any(|o| o.daylight) && open.iter().any(|o| !o.daylight));
                }
            }
            if c.transitions == 0 {
                assert_eq!(c.zone.observances.len(), 1, "{}", tz.name());
                let o = &c.zone.observances[0];
                assert!(!o.daylight && o.from == o.to && o.rule.is_none() && o.rdates.is_empty());
            }
        }
    }
}

#[test]
fn the_larger_offset_is_daylight() {
    // Dublin is modelled in tzdb with negative DST in winter, Lord Howe has
    // a 30-minute shift, Santiago and Sydney are southern.
    for tz in [
        Tz::Europe__Dublin,
        Tz::Europe__London,
        Tz::Australia__Lord_Howe,
        Tz::America__Santiago,
        Tz::Australia__Sydney,
    ] {
        let window = ZoneWindow::covering(
            NaiveDate::from_ymd_opt(2020, 1, 1).unwrap(),
            NaiveDate::from_ymd_opt(2020, 1, 1).unwrap(),
            true,
        );
        let c = check_zone(tz, window, 200);
        let open = open_rules(&c.zone);
        assert_eq!(open.len(), 2, "{}", tz.name());
        for o in open {
            assert_eq!(o.daylight, o.to > o.from, "{}: {o:?}", tz.name());
        }
    }
    let dublin = parse_vtimezones(&vtimezone(
        Tz::Europe__Dublin,
        ZoneWindow {
            first_year: 2020,
            last_year: Some(2020),
        },
    ))
    .remove(0);
    let daylight: Vec<_> = dublin.observances.iter().filter(|o| o.daylight).collect();
    assert!(!daylight.is_empty());
    for o in daylight {
        assert_eq!((o.to, o.tzname.as_deref()), (3600, Some("IST")));
    }
}

#[test]
fn specific_observances_are_written_as_expected() {
    let one = |tz: Tz, window: ZoneWindow| parse_vtimezones(&vtimezone(tz, window)).remove(0);
    let open2010 = ZoneWindow {
        first_year: 2010,
        last_year: None,
    };
    // Lord Howe: +1030 ↔ +11, first Sunday of October / April at 02:00.
    let lh = one(Tz::Australia__Lord_Howe, open2010);
    let rules: Vec<_> = open_rules(&lh)
        .iter()
        .map(|o| {
            (
                o.daylight,
                o.from,
                o.to,
                o.rule.as_ref().unwrap().month,
                o.rule.as_ref().unwrap().nth,
            )
        })
        .collect();
    assert!(rules.contains(&(true, 37800, 39600, 10, 1)), "{rules:?}");
    assert!(rules.contains(&(false, 39600, 37800, 4, 1)), "{rules:?}");
    // Kathmandu: a flat +0545.
    let ktm = one(Tz::Asia__Kathmandu, open2010);
    assert_eq!(ktm.observances.len(), 1);
    assert_eq!(
        (ktm.observances[0].from, ktm.observances[0].to),
        (20700, 20700)
    );
    // chrono-tz has no abbreviation for numeric ones like "+0545", so no
    // TZNAME is written rather than a made-up one.
    assert_eq!(ktm.observances[0].tzname, None);
    // Apia: the day that was skipped, 2011-12-30, written as a jump from
    // -10 (DST) straight to +14 at midnight local.
    let apia = one(Tz::Pacific__Apia, open2010);
    let jump = apia
        .observances
        .iter()
        .flat_map(|o| {
            std::iter::once(o.dtstart)
                .chain(o.rdates.iter().copied())
                .map(move |t| (t, o))
        })
        .find(|(_, o)| o.from == -36000 && o.to == 50400)
        .expect("the 2011 date-line jump");
    assert_eq!(jump.0.to_string(), "2011-12-30 00:00:00");
    assert!(!jump.1.daylight, "a change of standard offset is not DST");
    // Santiago's Sun>=2 rule needs month days, not an nth weekday.
    let scl = one(Tz::America__Santiago, open2010);
    assert!(
        open_rules(&scl)
            .iter()
            .all(|o| o.rule.as_ref().unwrap().monthdays == vec![2, 3, 4, 5, 6, 7, 8])
    );
}

#[test]
fn evaluator_detects_a_wrong_vtimezone() {
    // Guards the guard: the evaluator must disagree with chrono-tz when an
    // observance is shifted by one week.
    let text = vtimezone(
        Tz::Europe__Madrid,
        ZoneWindow {
            first_year: 2019,
            last_year: Some(2021),
        },
    );
    let broken = text
        .replace("BYMONTH=3;BYDAY=-1SU", "BYMONTH=3;BYDAY=-2SU")
        .replace("DTSTART:20190331", "DTSTART:20190324");
    assert_ne!(broken, *text);
    let ons = onsets(&parse_vtimezones(&broken)[0], 2022);
    let t = NaiveDate::from_ymd_opt(2020, 3, 26)
        .unwrap()
        .and_hms_opt(12, 0, 0)
        .unwrap();
    assert_eq!(tzdb_offset(Tz::Europe__Madrid, t), 3600);
    assert_eq!(offset_at(&ons, t), Some(7200));
}

#[test]
fn every_zone_in_tzdb_is_correct_for_an_open_ended_window() {
    // Far less thorough per zone than the test above, but it catches zones
    // nobody thought of (Morocco's Ramadan changes, Israel's Fri>=23, ...).
    let window = ZoneWindow {
        first_year: 2018,
        last_year: None,
    };
    let mut failures = Vec::new();
    for &tz in chrono_tz::TZ_VARIANTS.iter() {
        let r = std::panic::catch_unwind(|| check_zone_light(tz, window));
        if r.is_err() {
            failures.push(tz.name());
        }
    }
    assert!(
        failures.is_empty(),
        "zones with a wrong VTIMEZONE: {failures:?}"
    );
}

/// Offsets at each transition's neighbourhood and at random instants only.
fn check_zone_light(tz: Tz, window: ZoneWindow) {
    let zone = parse_vtimezones(&vtimezone(tz, window)).remove(0);
    // Clients derive the DST amount of a DAYLIGHT observance from
    // TZOFFSETTO - TZOFFSETFROM, so it has to look like one.
    for o in zone.observances.iter().filter(|o| o.daylight) {
        let shift = o.to - o.from;
        assert!(
            shift > 0 && shift <= 2 * 3600,
            "{}: DAYLIGHT shift {shift} s: {o:?}",
            tz.name()
        );
    }
    let a = year_start(window.first_year);
    let b = year_start(TZDATA_LAST_YEAR + 1) - TimeDelta::days(60);
    let ons = onsets(&zone, TZDATA_LAST_YEAR + 1);
    let check = |t: NaiveDateTime| {
        assert_eq!(
            offset_at(&ons, t),
            Some(tzdb_offset(tz, t)),
            "{} at {t}",
            tz.name()
        );
    };
    for tr in tzdb_transitions(tz, a, b) {
        for s in [-86400, -3600, -1, 0, 1, 3600, 86400] {
            let t = tr + TimeDelta::seconds(s);
            if t >= a && t < b {
                check(t);
            }
        }
    }
    let mut rng = SplitMix(7);
    let span = (b - a).num_seconds() as u64;
    for _ in 0..200 {
        check(a + TimeDelta::seconds((rng.next() % span) as i64));
    }
}
