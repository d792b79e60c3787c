//! VTIMEZONE generation from the tz database shipped in chrono-tz.
//!
//! chrono-tz exposes offsets, not rules, so transitions are recovered by
//! sampling the zone's offset and bisecting to the second. Trailing
//! transitions that follow a yearly pattern are then written as RRULE
//! observances (the form Outlook and Apple expect), everything else as
//! one-off observances with RDATEs.
//!
//! Classification: an observance is DAYLIGHT when the tz database gives it a
//! positive DST amount, STANDARD when the amount is negative, and, when the
//! amount is zero, DAYLIGHT only if it neighbours a negative-DST state with a
//! smaller offset. That last rule exists for Europe/Dublin, which tzdb models
//! with IST (+01, summer) as standard time and GMT (winter) as "negative
//! DST": clients expect the larger offset to be the daylight observance, so
//! IST is written as DAYLIGHT and GMT as STANDARD. A transition that
//! changes the zone's standard offset (as opposed to entering or leaving
//! DST) is always STANDARD.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Offset, TimeZone, Weekday};
use chrono_tz::{OffsetComponents, OffsetName, Tz};

use super::writer::{ContentWriter, format_local_datetime, format_utc_datetime, format_utc_offset};

/// Last year for which chrono-tz 0.10's prebuilt tables list transitions
/// (they stop in 2099; afterwards chrono-tz reports standard time forever).
/// A yearly rule that is still in force in this year is taken to be the
/// zone's open-ended rule and written without UNTIL.
pub const TZDATA_LAST_YEAR: i32 = 2099;

/// Sampling step when looking for transitions. Two transitions closer than
/// this that return to the same offset would be missed; tzdb has none
/// within the years a calendar feed deals with.
const SAMPLE_STEP_SECS: i64 = 6 * 3600;

/// A yearly pattern is written as RRULE only when it repeats at least this
/// many times; shorter runs are clearer (and better supported) as RDATEs.
const MIN_RRULE_OCCURRENCES: usize = 3;

/// Kept small because every distinct (zone, year range) is one entry and the
/// service never needs more than a few dozen at once.
const CACHE_CAPACITY: usize = 512;

/// The years a VTIMEZONE must be correct for.
///
/// `last_year: None` means an event in the zone recurs without end, so the
/// VTIMEZONE must be correct for every instant after `first_year`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ZoneWindow {
    pub first_year: i32,
    pub last_year: Option<i32>,
}

impl ZoneWindow {
    /// Window for wall-clock dates from `earliest` to `latest`, with one
    /// year of margin on each side so that clients showing neighbouring
    /// weeks, or converting from far-away zones, still find a definition.
    pub fn covering(earliest: NaiveDate, latest: NaiveDate, unbounded: bool) -> Self {
        ZoneWindow {
            first_year: earliest.year() - 1,
            last_year: (!unbounded).then_some(latest.year().max(earliest.year()) + 1),
        }
    }
}

/// True for the zones that are UTC under another name; events in them are
/// written in UTC form (`…Z`) and need no VTIMEZONE. Etc/GMT and friends are
/// deliberately not included: they are valid TZIDs in their own right.
pub fn is_utc(tz: Tz) -> bool {
    matches!(
        tz.name(),
        "UTC" | "Etc/UTC" | "Etc/UCT" | "UCT" | "Etc/Universal" | "Universal" | "Etc/Zulu" | "Zulu"
    )
}

/// Keyed by zone name: `Tz` is not `Ord`, and a map that is not ordered
/// would tempt someone into iterating it.
type Cache = BTreeMap<(&'static str, ZoneWindow), Arc<str>>;

/// The VTIMEZONE component for `tz`, as folded CRLF-terminated lines,
/// correct for every instant in `window`. Cached: the result depends only on
/// the arguments and the compiled-in tz database.
pub fn vtimezone(tz: Tz, window: ZoneWindow) -> Arc<str> {
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(BTreeMap::new()));
    let key = (tz.name(), window);
    // A poisoned lock only means another thread panicked while holding it;
    // the map itself is always in a consistent state.
    if let Some(hit) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return Arc::clone(hit);
    }
    // Generated outside the lock: it takes milliseconds and other zones
    // should not wait for it. Two threads may compute the same entry; the
    // results are identical.
    let text: Arc<str> = generate(tz, window).into();
    let mut map = cache.lock().unwrap_or_else(|e| e.into_inner());
    if map.len() >= CACHE_CAPACITY {
        map.clear();
    }
    map.entry(key).or_insert_with(|| Arc::clone(&text));
    text
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct State {
    total: i32,
    dst: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Transition {
    /// Unix seconds of the first instant of the new state.
    at: i64,
    from: State,
    to: State,
    to_name: Option<String>,
}

impl Transition {
    /// RFC 5545 §3.6.5: an observance's onset is given as local time in
    /// the offset in force before it (TZOFFSETFROM).
    fn local_onset(&self) -> NaiveDateTime {
        utc(self.at).naive_utc() + chrono::TimeDelta::seconds(self.from.total.into())
    }
}

fn utc(secs: i64) -> DateTime<chrono::Utc> {
    DateTime::from_timestamp(secs, 0).expect("timestamp within chrono's range")
}

fn state_at(tz: Tz, secs: i64) -> State {
    let off = tz.offset_from_utc_datetime(&utc(secs).naive_utc());
    State {
        total: off.fix().local_minus_utc(),
        dst: off.dst_offset().num_seconds() as i32,
    }
}

fn name_at(tz: Tz, secs: i64) -> Option<String> {
    tz.offset_from_utc_datetime(&utc(secs).naive_utc())
        .abbreviation()
        .map(str::to_owned)
}

/// All transitions in `(start, end]`, in order.
fn transitions(tz: Tz, start: i64, end: i64) -> Vec<Transition> {
    let mut out = Vec::new();
    let mut t = start;
    let mut s = state_at(tz, t);
    while t < end {
        let u = (t + SAMPLE_STEP_SECS).min(end);
        let su = state_at(tz, u);
        // Loop because one sampling step can contain several transitions
        // (a → b → c); each bisection finds the first remaining one.
        while su != s {
            let (mut lo, mut hi) = (t, u);
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if state_at(tz, mid) == s {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            let to = state_at(tz, hi);
            out.push(Transition {
                at: hi,
                from: s,
                to,
                to_name: name_at(tz, hi),
            });
            t = hi;
            s = to;
        }
        t = u;
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Standard,
    Daylight,
}

impl Kind {
    fn component(self) -> &'static str {
        match self {
            Kind::Standard => "STANDARD",
            Kind::Daylight => "DAYLIGHT",
        }
    }
}

fn classify(state: State, neighbours: &[State]) -> Kind {
    use std::cmp::Ordering::*;
    match state.dst.cmp(&0) {
        Greater => Kind::Daylight,
        Less => Kind::Standard,
        Equal
            if neighbours
                .iter()
                .any(|n| n.dst < 0 && n.total < state.total) =>
        {
            Kind::Daylight
        }
        Equal => Kind::Standard,
    }
}

/// Which day of the month a yearly transition falls on, in RRULE terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DayRule {
    /// `BYDAY=-1SU`.
    Last(Weekday),
    /// `BYDAY=2SU`.
    Nth(u32, Weekday),
    /// `BYDAY=SU;BYMONTHDAY=2,…,8`: the weekday on or after the given day
    /// (tzdb's `Sun>=2`, used by Chile and Israel), when not an nth.
    OnOrAfter(u32, Weekday),
}

impl DayRule {
    fn rrule_parts(self) -> String {
        let wd = |w: Weekday| format!("{w:?}").to_uppercase()[..2].to_owned();
        match self {
            DayRule::Last(w) => format!("BYDAY=-1{}", wd(w)),
            DayRule::Nth(n, w) => format!("BYDAY={n}{}", wd(w)),
            DayRule::OnOrAfter(d, w) => {
                let days: Vec<String> = (d..d + 7).map(|x| x.to_string()).collect();
                format!("BYDAY={};BYMONTHDAY={}", wd(w), days.join(","))
            }
        }
    }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    let (ny, nm) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    NaiveDate::from_ymd_opt(ny, nm, 1)
        .and_then(|d| d.pred_opt())
        .map(|d| d.day())
        .expect("valid month")
}

/// Shortest length the month ever has, so an `OnOrAfter` rule never needs a
/// day that some year lacks.
fn min_days_in_month(month: u32) -> u32 {
    match month {
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The day rules a single date satisfies: bit `d` of `on_or_after` set means
/// "weekday on or after day d" holds, and `last` means it is the last such
/// weekday of the month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DayCandidates {
    on_or_after: u32,
    last: bool,
}

impl DayCandidates {
    fn of(date: NaiveDate) -> Self {
        let day = date.day();
        let max_start = min_days_in_month(date.month()) - 6;
        let mut mask = 0u32;
        for d in day.saturating_sub(6).max(1)..=day.min(max_start) {
            mask |= 1 << d;
        }
        DayCandidates {
            on_or_after: mask,
            last: day + 7 > days_in_month(date.year(), date.month()),
        }
    }

    fn intersect(self, other: Self) -> Self {
        DayCandidates {
            on_or_after: self.on_or_after & other.on_or_after,
            last: self.last && other.last,
        }
    }

    fn is_empty(self) -> bool {
        self.on_or_after == 0 && !self.last
    }

    /// Prefers the forms every client understands: last, then nth.
    fn pick(self, weekday: Weekday) -> Option<DayRule> {
        if self.last {
            return Some(DayRule::Last(weekday));
        }
        for n in 1..=4 {
            if self.on_or_after & (1 << (7 * (n - 1) + 1)) != 0 {
                return Some(DayRule::Nth(n, weekday));
            }
        }
        (1..32)
            .find(|d| self.on_or_after & (1 << d) != 0)
            .map(|d| DayRule::OnOrAfter(d, weekday))
    }
}

/// What must repeat, year after year, for two transitions to be the same
/// yearly rule.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    month: u32,
    weekday: Weekday,
    time: chrono::NaiveTime,
    from: State,
    to: State,
    kind: Kind,
    name: Option<String>,
}

/// A maximal index range of transitions where each one repeats the one two
/// places earlier, one year later, with a day rule common to all.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Run {
    first: usize,
    last: usize,
    /// Indexed by `index % 2`.
    days: [DayCandidates; 2],
}

fn find_runs(trs: &[Transition], kinds: &[Kind]) -> Vec<Run> {
    let pattern = |i: usize| {
        let local = trs[i].local_onset();
        Pattern {
            month: local.month(),
            weekday: local.weekday(),
            time: local.time(),
            from: trs[i].from,
            to: trs[i].to,
            kind: kinds[i],
            name: trs[i].to_name.clone(),
        }
    };
    let year = |i: usize| trs[i].local_onset().year();
    let cands = |i: usize| DayCandidates::of(trs[i].local_onset().date());

    // Built backwards so that the run reaching the end of the data (the
    // zone's current rule) is as long as possible.
    let mut runs = Vec::new();
    let mut end = trs.len();
    while end > 0 {
        let last = end - 1;
        let mut days = [cands(last), cands(last)];
        days[(last + 1) % 2] = cands(last.saturating_sub(1));
        let mut first = last;
        if last >= 1 {
            first = last - 1;
            while first >= 1 {
                let i = first - 1;
                let next = days[i % 2].intersect(cands(i));
                if i + 2 <= last
                    && pattern(i) == pattern(i + 2)
                    && year(i) + 1 == year(i + 2)
                    && !next.is_empty()
                {
                    days[i % 2] = next;
                    first = i;
                } else {
                    break;
                }
            }
        }
        runs.push(Run { first, last, days });
        end = first;
    }
    runs.reverse();
    runs
}

#[derive(Debug)]
struct Observance {
    kind: Kind,
    onset_utc: i64,
    dtstart: NaiveDateTime,
    from: i32,
    to: i32,
    name: Option<String>,
    rrule: Option<String>,
    rdates: Vec<NaiveDateTime>,
}

fn year_start_utc(year: i32) -> i64 {
    NaiveDate::from_ymd_opt(year, 1, 1)
        .expect("year within chrono's range")
        .and_time(chrono::NaiveTime::MIN)
        .and_utc()
        .timestamp()
}

/// No zone has a transition before this year (tzdb starts with local mean
/// time around 1850-1920).
const FIRST_USEFUL_YEAR: i32 = 1800;

fn generate(tz: Tz, window: ZoneWindow) -> String {
    // chrono-tz has nothing before FIRST_USEFUL_YEAR or after
    // TZDATA_LAST_YEAR, so scanning there would only cost time (and years
    // near chrono's limits would overflow).
    let first_year = window
        .first_year
        .clamp(FIRST_USEFUL_YEAR, TZDATA_LAST_YEAR + 1);
    let last_year = window
        .last_year
        .map(|y| y.clamp(first_year, TZDATA_LAST_YEAR + 1));
    let t0 = year_start_utc(first_year);
    // Scan back far enough to find the transition that set the offset in
    // force at t0 for any zone with yearly DST, and, for windows near the
    // end of the data, to see enough years to recognise the current rule.
    let scan_start = (t0 - 400 * 86_400).min(year_start_utc(TZDATA_LAST_YEAR - 10));
    let scan_end = year_start_utc(TZDATA_LAST_YEAR + 1) + 86_400;
    let trs = transitions(tz, scan_start, scan_end);

    let kinds: Vec<Kind> = trs
        .iter()
        .enumerate()
        .map(|(i, tr)| {
            let mut nb = vec![tr.from];
            if let Some(next) = trs.get(i + 1) {
                nb.push(next.to);
            }
            let base = |s: State| s.total - s.dst;
            match classify(tr.to, &nb) {
                // A change of the standard offset (Samoa's 2011 jump over the
                // date line, from -10 DST to +14 DST) is not a switch to
                // daylight time, and clients derive the DST amount of a
                // DAYLIGHT observance from TZOFFSETTO - TZOFFSETFROM: 24 h
                // there, which python-dateutil rejects outright.
                Kind::Daylight if base(tr.from) != base(tr.to) && tr.from.total != tr.to.total => {
                    Kind::Standard
                }
                kind => kind,
            }
        })
        .collect();
    let (trs, kinds) = drop_no_ops(trs, kinds);

    let first_idx = trs.iter().rposition(|tr| tr.at <= t0);
    let last_idx = match last_year {
        None => trs.len().checked_sub(1),
        Some(y) => {
            let t1 = year_start_utc(y + 1) + 86_400;
            trs.iter().rposition(|tr| tr.at <= t1)
        }
    };

    let mut observances = Vec::new();
    if first_idx.is_none() {
        // Nothing changed in the 400 days before t0: one observance with
        // no offset change, starting a little before t0, describes the
        // offset until the first transition (if any). Always STANDARD: a
        // DAYLIGHT observance with TZOFFSETFROM = TZOFFSETTO would claim a
        // zero DST amount.
        let state = state_at(tz, t0);
        let dtstart = NaiveDate::from_ymd_opt(first_year - 1, 12, 31)
            .expect("valid date")
            .and_time(chrono::NaiveTime::MIN);
        observances.push(Observance {
            kind: Kind::Standard,
            onset_utc: dtstart.and_utc().timestamp() - i64::from(state.total),
            dtstart,
            from: state.total,
            to: state.total,
            name: name_at(tz, t0),
            rrule: None,
            rdates: Vec::new(),
        });
    }

    if let Some(last_idx) = last_idx {
        let lo = first_idx.unwrap_or_else(|| trs.partition_point(|tr| tr.at <= t0));
        if lo <= last_idx {
            emit_transitions(&trs, &kinds, lo, last_idx, &mut observances);
        }
    }

    observances.sort_by_key(|o| (o.onset_utc, o.kind));

    let mut w = ContentWriter::new();
    w.begin("VTIMEZONE");
    w.text("TZID", &[], tz.name());
    for o in &observances {
        w.begin(o.kind.component());
        w.property("DTSTART", &[], &format_local_datetime(o.dtstart));
        w.property("TZOFFSETFROM", &[], &format_utc_offset(o.from));
        w.property("TZOFFSETTO", &[], &format_utc_offset(o.to));
        if let Some(r) = &o.rrule {
            w.property("RRULE", &[], r);
        }
        for rd in &o.rdates {
            w.property("RDATE", &[], &format_local_datetime(*rd));
        }
        if let Some(n) = &o.name {
            w.text("TZNAME", &[], n);
        }
        w.end(o.kind.component());
    }
    w.end("VTIMEZONE");
    w.finish()
}

/// Removes transitions that do not change the offset, except a switch from
/// DAYLIGHT to STANDARD (Istanbul in 2016 kept +03 but stopped calling it
/// summer time). Clients take TZOFFSETTO - TZOFFSETFROM of a DAYLIGHT
/// observance as its DST amount, so a DAYLIGHT observance with equal
/// offsets (Grand Turk 2018: AST became EDT at -04) would claim zero DST,
/// and python-dateutil then gets the following hour wrong; dropping it only
/// leaves the previous TZNAME in place until the next real change.
fn drop_no_ops(trs: Vec<Transition>, kinds: Vec<Kind>) -> (Vec<Transition>, Vec<Kind>) {
    let mut prev: Option<Kind> = trs.first().map(|tr| classify(tr.from, &[tr.to]));
    let mut out = (
        Vec::with_capacity(trs.len()),
        Vec::with_capacity(kinds.len()),
    );
    for (tr, kind) in trs.into_iter().zip(kinds) {
        let leaves_dst = kind == Kind::Standard && prev == Some(Kind::Daylight);
        if tr.from.total != tr.to.total || leaves_dst {
            out.0.push(tr);
            out.1.push(kind);
            prev = Some(kind);
        }
    }
    out
}

/// Emits the transitions `lo..=hi` as observances: yearly runs as RRULEs,
/// the rest grouped into DTSTART + RDATE observances.
fn emit_transitions(
    trs: &[Transition],
    kinds: &[Kind],
    lo: usize,
    hi: usize,
    out: &mut Vec<Observance>,
) {
    let runs = find_runs(trs, kinds);
    let data_last = trs.len() - 1;
    let mut singles: Vec<usize> = Vec::new();
    for run in &runs {
        let (a, b) = (run.first.max(lo), run.last.min(hi));
        if a > b {
            continue;
        }
        let years = (run.last - run.first) / 2 + 1;
        if years < MIN_RRULE_OCCURRENCES {
            singles.extend(a..=b);
            continue;
        }
        // Open-ended only if the rule is still in force where the data ends.
        let open = run.last == data_last && trs[data_last].local_onset().year() >= TZDATA_LAST_YEAR;
        for parity in 0..2 {
            // An open-ended rule needs both observances even when the
            // window holds only one of them (a window that starts after the
            // spring change of the data's last year).
            let start = (a..=b)
                .find(|i| i % 2 == parity)
                .or_else(|| open.then(|| (run.first..a).rev().find(|i| i % 2 == parity))?);
            let Some(start) = start else {
                continue;
            };
            let tr = &trs[start];
            let local = tr.local_onset();
            let rule = run.days[parity]
                .pick(local.weekday())
                .expect("run day candidates are never empty");
            let mut rrule = format!(
                "FREQ=YEARLY;BYMONTH={};{}",
                local.month(),
                rule.rrule_parts()
            );
            if !open {
                let last = (run.first..=run.last)
                    .rev()
                    .find(|i| i % 2 == parity)
                    .expect("run has both parities");
                // Any UNTIL from the last onset up to (excluding) the next
                // year's is equivalent per RFC 5545. One day later keeps the
                // last onset included by clients that wrongly compare UNTIL
                // with local time (python-dateutil does).
                let until = utc(trs[last].at + 86_400);
                rrule.push_str(&format!(";UNTIL={}", format_utc_datetime(until)));
            }
            out.push(Observance {
                kind: kinds[start],
                onset_utc: tr.at,
                dtstart: local,
                from: tr.from.total,
                to: tr.to.total,
                name: tr.to_name.clone(),
                rrule: Some(rrule),
                rdates: Vec::new(),
            });
        }
    }

    // Group one-off transitions that share everything but the date, so a
    // zone with decades of irregular DST still yields few components.
    let mut groups: BTreeMap<(Kind, i32, i32, Option<String>), Vec<usize>> = BTreeMap::new();
    for i in singles {
        let tr = &trs[i];
        groups
            .entry((kinds[i], tr.from.total, tr.to.total, tr.to_name.clone()))
            .or_default()
            .push(i);
    }
    for ((kind, from, to, name), idx) in groups {
        let first = &trs[idx[0]];
        out.push(Observance {
            kind,
            onset_utc: first.at,
            dtstart: first.local_onset(),
            from,
            to,
            name,
            rrule: None,
            rdates: idx[1..].iter().map(|&i| trs[i].local_onset()).collect(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd_hms(y: i32, m: u32, d: u32, h: u32, mi: u32, s: u32) -> i64 {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, mi, s)
            .unwrap()
            .and_utc()
            .timestamp()
    }

    #[test]
    fn finds_madrid_2020_transitions_to_the_second() {
        let trs = transitions(
            Tz::Europe__Madrid,
            ymd_hms(2020, 1, 1, 0, 0, 0),
            ymd_hms(2021, 1, 1, 0, 0, 0),
        );
        assert_eq!(trs.len(), 2);
        assert_eq!(trs[0].at, ymd_hms(2020, 3, 29, 1, 0, 0));
        assert_eq!(trs[0].local_onset().to_string(), "2020-03-29 02:00:00");
        assert_eq!((trs[0].from.total, trs[0].to.total), (3600, 7200));
        assert_eq!(trs[0].to_name.as_deref(), Some("CEST"));
        assert_eq!(trs[1].at, ymd_hms(2020, 10, 25, 1, 0, 0));
        assert_eq!(trs[1].local_onset().to_string(), "2020-10-25 03:00:00");
    }

    #[test]
    fn chrono_tz_data_horizon_is_what_this_module_assumes() {
        // If chrono-tz extends its tables, TZDATA_LAST_YEAR must follow,
        // or open-ended rules would be written with an UNTIL.
        let madrid = |y| transitions(Tz::Europe__Madrid, year_start_utc(y), year_start_utc(y + 1));
        assert_eq!(madrid(TZDATA_LAST_YEAR).len(), 2);
        assert_eq!(madrid(TZDATA_LAST_YEAR + 1).len(), 0);
    }

    #[test]
    fn day_candidates() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
        // 2020-03-29 is the last Sunday of March: last and on-or-after 23..=25.
        let c = DayCandidates::of(d(2020, 3, 29));
        assert!(c.last);
        assert_eq!(c.pick(Weekday::Sun), Some(DayRule::Last(Weekday::Sun)));
        // 2021-03-14 is the 2nd Sunday: nth 2.
        let c = DayCandidates::of(d(2021, 3, 14));
        assert!(!c.last);
        assert_eq!(c.pick(Weekday::Sun), Some(DayRule::Nth(2, Weekday::Sun)));
        // Chile's Sun>=2 pinned by a year where it falls on the 2nd and one
        // where it falls on the 8th.
        let c = DayCandidates::of(d(2024, 9, 8)).intersect(DayCandidates::of(d(2030, 9, 2)));
        assert_eq!(
            c.pick(Weekday::Sun),
            Some(DayRule::OnOrAfter(2, Weekday::Sun))
        );
        assert_eq!(
            DayRule::OnOrAfter(2, Weekday::Sun).rrule_parts(),
            "BYDAY=SU;BYMONTHDAY=2,3,4,5,6,7,8"
        );
        assert_eq!(DayRule::Last(Weekday::Sun).rrule_parts(), "BYDAY=-1SU");
        // February 22nd is in the last week only when there is no 29th.
        assert!(DayCandidates::of(d(2025, 2, 22)).last);
        assert!(!DayCandidates::of(d(2020, 2, 22)).last);
    }

    #[test]
    fn dublin_summer_is_daylight_despite_negative_dst_in_tzdb() {
        let trs = transitions(
            Tz::Europe__Dublin,
            year_start_utc(2020),
            year_start_utc(2021),
        );
        assert_eq!(trs.len(), 2);
        assert_eq!(trs[0].to.total, 3600);
        assert_eq!(trs[0].to.dst, 0, "tzdb models IST as standard time");
        assert_eq!(trs[1].to.dst, -3600);
        assert_eq!(
            classify(trs[0].to, &[trs[0].from, trs[1].to]),
            Kind::Daylight
        );
        assert_eq!(classify(trs[1].to, &[trs[1].from]), Kind::Standard);
    }

    #[test]
    fn madrid_uses_two_open_ended_rrules() {
        let text = generate(
            Tz::Europe__Madrid,
            ZoneWindow {
                first_year: 2019,
                last_year: Some(2021),
            },
        );
        let expected = "BEGIN:VTIMEZONE\r\n\
            TZID:Europe/Madrid\r\n\
            BEGIN:STANDARD\r\n\
            DTSTART:20181028T030000\r\n\
            TZOFFSETFROM:+0200\r\n\
            TZOFFSETTO:+0100\r\n\
            RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\n\
            TZNAME:CET\r\n\
            END:STANDARD\r\n\
            BEGIN:DAYLIGHT\r\n\
            DTSTART:20190331T020000\r\n\
            TZOFFSETFROM:+0100\r\n\
            TZOFFSETTO:+0200\r\n\
            RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\n\
            TZNAME:CEST\r\n\
            END:DAYLIGHT\r\n\
            END:VTIMEZONE\r\n";
        assert_eq!(text, expected);
    }

    #[test]
    fn finished_rules_get_an_until_that_survives_local_time_misreading() {
        let text = generate(
            Tz::America__New_York,
            ZoneWindow {
                first_year: 2000,
                last_year: Some(2009),
            },
        );
        // 1987-2006 rule: last onsets 2006-04-02 07:00Z and 2006-10-29 06:00Z.
        assert!(
            text.contains("RRULE:FREQ=YEARLY;BYMONTH=4;BYDAY=1SU;UNTIL=20060403T070000Z\r\n"),
            "{text}"
        );
        assert!(
            text.contains("RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU;UNTIL=20061030T060000Z\r\n"),
            "{text}"
        );
        // 2007 onwards: still in force, so open-ended.
        assert!(
            text.contains("RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU\r\n"),
            "{text}"
        );
        assert!(
            text.contains("RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU\r\n"),
            "{text}"
        );
    }

    #[test]
    fn zone_without_transitions_gets_one_flat_standard() {
        let text = generate(
            Tz::Africa__Johannesburg,
            ZoneWindow {
                first_year: 2019,
                last_year: None,
            },
        );
        assert_eq!(
            text,
            "BEGIN:VTIMEZONE\r\nTZID:Africa/Johannesburg\r\nBEGIN:STANDARD\r\n\
             DTSTART:20181231T000000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0200\r\n\
             TZNAME:SAST\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
        );
    }

    #[test]
    fn extreme_windows_are_clamped_not_panicking() {
        // Before any tzdb data: local mean time, flat.
        let early = generate(
            Tz::Europe__Madrid,
            ZoneWindow {
                first_year: -5000,
                last_year: Some(1000),
            },
        );
        assert!(
            early.contains("TZOFFSETFROM:-001444\r\nTZOFFSETTO:-001444\r\n"),
            "{early}"
        );
        // Beyond chrono-tz's tables the current rule still applies.
        let late = generate(
            Tz::Europe__Madrid,
            ZoneWindow {
                first_year: 9000,
                last_year: Some(200_000),
            },
        );
        assert!(
            late.contains("RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\n"),
            "{late}"
        );
        assert!(
            late.contains("RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\n"),
            "{late}"
        );
        assert!(!late.contains("UNTIL"), "{late}");
        // An inverted window still yields a usable component.
        let inverted = generate(
            Tz::Europe__Madrid,
            ZoneWindow {
                first_year: 2020,
                last_year: Some(2010),
            },
        );
        assert!(inverted.contains("BEGIN:STANDARD"), "{inverted}");
    }

    #[test]
    fn cache_returns_the_same_text() {
        let w = ZoneWindow {
            first_year: 2015,
            last_year: Some(2017),
        };
        let a = vtimezone(Tz::America__New_York, w);
        let b = vtimezone(Tz::America__New_York, w);
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(&*a, generate(Tz::America__New_York, w));
    }

    #[test]
    fn utc_aliases() {
        assert!(is_utc(Tz::UTC) && is_utc(Tz::Etc__UTC) && is_utc(Tz::Zulu));
        assert!(!is_utc(Tz::Etc__GMT) && !is_utc(Tz::Europe__London));
    }
}
