//! Whole-calendar rendering and input validation.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use chrono_tz::Tz;

use super::IcsError;
use super::model::{Calendar, Event, EventTime, Method, OccurrenceId};
use super::vtimezone::{ZoneWindow, is_utc, vtimezone};
use super::writer::{
    ContentWriter, Param, format_date, format_duration, format_local_datetime, format_utc_datetime,
};

/// Checks what the types cannot express: ends after starts, occurrence ids
/// of the event's kind, one master per UID, overrides consistent with it.
pub fn validate(cal: &Calendar) -> Result<(), IcsError> {
    if cal.prodid.trim().is_empty() {
        return Err(IcsError::EmptyProdid);
    }
    if cal
        .refresh_interval
        .is_some_and(|d| d < chrono::TimeDelta::seconds(1))
    {
        return Err(IcsError::NonPositiveRefreshInterval);
    }
    let mut masters: BTreeMap<&str, &Event> = BTreeMap::new();
    let mut overrides: BTreeSet<(&str, OccurrenceId)> = BTreeSet::new();
    for (index, ev) in cal.events.iter().enumerate() {
        let uid = || ev.uid.clone();
        if ev.uid.trim().is_empty() {
            return Err(IcsError::EmptyUid { index });
        }
        let (timed, ordered) = match ev.time {
            EventTime::Timed { start, end, .. } => (true, end > start),
            EventTime::AllDay {
                start,
                end_exclusive,
            } => (false, end_exclusive > start),
        };
        if !ordered {
            return Err(IcsError::EndNotAfterStart { uid: uid() });
        }
        let kind_ok = |o: &OccurrenceId| matches!(o, OccurrenceId::Local(_)) == timed;
        if !ev.exdates.iter().all(kind_ok) {
            return Err(IcsError::OccurrenceKindMismatch {
                uid: uid(),
                field: "EXDATE",
            });
        }
        if !ev.rdates.iter().all(kind_ok) {
            return Err(IcsError::OccurrenceKindMismatch {
                uid: uid(),
                field: "RDATE",
            });
        }
        if let Some(rid) = &ev.recurrence_id {
            if !kind_ok(rid) {
                return Err(IcsError::OccurrenceKindMismatch {
                    uid: uid(),
                    field: "RECURRENCE-ID",
                });
            }
            if ev.rrule.is_some() {
                return Err(IcsError::OverrideWithRrule { uid: uid() });
            }
            if !overrides.insert((ev.uid.as_str(), *rid)) {
                return Err(IcsError::DuplicateOverride { uid: uid() });
            }
        } else if masters.insert(ev.uid.as_str(), ev).is_some() {
            return Err(IcsError::DuplicateMaster { uid: uid() });
        }
        // EXDATE removes occurrences of the RRULE or RDATE set (RFC 5545 §3.8.5.1).
        if !ev.exdates.is_empty() && ev.rrule.is_none() && ev.rdates.is_empty() {
            return Err(IcsError::ExdatesWithoutRrule { uid: uid() });
        }
        if let Some(method @ (Method::Request | Method::Cancel)) = cal.method
            && ev.organizer.is_none()
        {
            return Err(IcsError::MissingOrganizer {
                uid: uid(),
                method: method.as_str(),
            });
        }
    }
    // A RECURRENCE-ID names an occurrence of the master's DTSTART series,
    // so it is only meaningful in the master's zone and value type.
    for ev in cal.events.iter().filter(|e| e.recurrence_id.is_some()) {
        if let Some(master) = masters.get(ev.uid.as_str()) {
            let same = match (master.time, ev.time) {
                (EventTime::Timed { tz: a, .. }, EventTime::Timed { tz: b, .. }) => a == b,
                (EventTime::AllDay { .. }, EventTime::AllDay { .. }) => true,
                _ => false,
            };
            if !same {
                return Err(IcsError::OverrideTimeMismatch {
                    uid: ev.uid.clone(),
                });
            }
        }
    }
    Ok(())
}

/// [`validate`], then [`render`].
pub fn try_render(cal: &Calendar) -> Result<String, IcsError> {
    validate(cal)?;
    Ok(render(cal))
}

/// Renders the whole VCALENDAR.
///
/// Input that [`validate`] rejects is a bug in the caller: debug builds
/// panic; release builds still write a well-formed calendar (DTEND is
/// omitted when not after DTSTART, an occurrence id of the wrong kind is
/// converted to the event's kind).
pub fn render(cal: &Calendar) -> String {
    debug_assert_eq!(
        validate(cal),
        Ok(()),
        "render() called with invalid calendar"
    );
    let mut w = ContentWriter::new();
    w.begin("VCALENDAR");
    w.property("VERSION", &[], "2.0");
    w.text("PRODID", &[], &cal.prodid);
    w.property("CALSCALE", &[], "GREGORIAN");
    if let Some(m) = cal.method {
        w.property("METHOD", &[], m.as_str());
    }
    if let Some(name) = &cal.name {
        w.text("NAME", &[], name);
        w.text("X-WR-CALNAME", &[], name);
    }
    if let Some(desc) = &cal.description {
        w.text("DESCRIPTION", &[], desc);
        w.text("X-WR-CALDESC", &[], desc);
    }
    if let Some(url) = &cal.url {
        w.property("URL", &[], url);
    }
    if let Some(every) = cal.refresh_interval {
        let d = format_duration(every);
        w.property("REFRESH-INTERVAL", &[Param::new("VALUE", "DURATION")], &d);
        w.property("X-PUBLISHED-TTL", &[], &d);
    }
    for (tz, window) in zone_windows(&cal.events) {
        w.raw_lines(&vtimezone(tz, window));
    }
    for ev in grouped(&cal.events) {
        write_event(&mut w, ev);
    }
    w.end("VCALENDAR");
    w.finish()
}

/// Events with the same UID made adjacent, master first, otherwise in input
/// order: several clients (Google, older Outlook) drop an override that
/// arrives before its master.
fn grouped(events: &[Event]) -> Vec<&Event> {
    let mut order: Vec<(Vec<&Event>, Vec<&Event>)> = Vec::new();
    let mut slot: BTreeMap<&str, usize> = BTreeMap::new();
    for ev in events {
        let i = *slot.entry(ev.uid.as_str()).or_insert_with(|| {
            order.push((Vec::new(), Vec::new()));
            order.len() - 1
        });
        if ev.recurrence_id.is_none() {
            order[i].0.push(ev);
        } else {
            order[i].1.push(ev);
        }
    }
    order
        .into_iter()
        .flat_map(|(masters, overrides)| masters.into_iter().chain(overrides))
        .collect()
}

/// Every zone used by a timed event (including its EXDATEs and
/// RECURRENCE-ID), with the years it must cover, keyed by zone name so the
/// VTIMEZONEs come out sorted.
fn zone_windows(events: &[Event]) -> Vec<(Tz, ZoneWindow)> {
    struct Span {
        tz: Tz,
        min: NaiveDate,
        max: NaiveDate,
        unbounded: bool,
    }
    let mut spans: BTreeMap<&'static str, Span> = BTreeMap::new();
    for ev in events {
        let EventTime::Timed { start, end, tz } = ev.time else {
            continue;
        };
        if is_utc(tz) {
            continue;
        }
        let occurrence_dates = ev
            .exdates
            .iter()
            .chain(&ev.rdates)
            .chain(&ev.recurrence_id)
            .map(|o| match o {
                OccurrenceId::Local(dt) => dt.date(),
                OccurrenceId::Date(d) => *d,
            });
        let (until, unbounded) = match &ev.rrule {
            None => (None, false),
            Some(rule) => match rrule_until(rule) {
                RuleEnd::Until(d) => (Some(d), false),
                RuleEnd::Open => (None, true),
            },
        };
        let dates = [start.date(), end.date()]
            .into_iter()
            .chain(occurrence_dates)
            .chain(until);
        for d in dates {
            let span = spans.entry(tz.name()).or_insert(Span {
                tz,
                min: d,
                max: d,
                unbounded: false,
            });
            span.min = span.min.min(d);
            span.max = span.max.max(d);
        }
        if unbounded {
            spans.get_mut(tz.name()).expect("inserted above").unbounded = true;
        }
    }
    spans
        .into_values()
        .map(|s| (s.tz, ZoneWindow::covering(s.min, s.max, s.unbounded)))
        .collect()
}

enum RuleEnd {
    Until(NaiveDate),
    Open,
}

/// Only UNTIL bounds a rule cheaply. COUNT does too, but finding its last
/// occurrence needs a full RRULE expansion, so a COUNT rule is treated as
/// open-ended (always correct, only a slightly longer VTIMEZONE), as is an
/// UNTIL this module cannot read.
fn rrule_until(rule: &str) -> RuleEnd {
    for part in rule.split(';') {
        if let Some((k, v)) = part.split_once('=')
            && k.trim().eq_ignore_ascii_case("UNTIL")
        {
            return v
                .trim()
                .get(..8)
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y%m%d").ok())
                .map_or(RuleEnd::Open, RuleEnd::Until);
        }
    }
    RuleEnd::Open
}

/// Brings an occurrence id to the event's kind; a no-op for valid input.
fn coerce(time: &EventTime, o: OccurrenceId) -> OccurrenceId {
    match (time, o) {
        (EventTime::Timed { start, .. }, OccurrenceId::Date(d)) => {
            OccurrenceId::Local(d.and_time(start.time()))
        }
        (EventTime::AllDay { .. }, OccurrenceId::Local(dt)) => OccurrenceId::Date(dt.date()),
        (_, o) => o,
    }
}

/// Writes a DTSTART-like property: `;TZID=` + local time, UTC with `Z`, or
/// `;VALUE=DATE`.
fn write_when(w: &mut ContentWriter, name: &str, time: &EventTime, o: OccurrenceId) {
    match (coerce(time, o), time) {
        (OccurrenceId::Local(dt), EventTime::Timed { tz, .. }) if is_utc(*tz) => {
            w.property(name, &[], &format_utc_datetime(dt.and_utc()));
        }
        (OccurrenceId::Local(dt), EventTime::Timed { tz, .. }) => {
            w.property(
                name,
                &[Param::new("TZID", tz.name())],
                &format_local_datetime(dt),
            );
        }
        (OccurrenceId::Date(d), _) => {
            w.property(name, &[Param::new("VALUE", "DATE")], &format_date(d));
        }
        (OccurrenceId::Local(_), EventTime::AllDay { .. }) => unreachable!("coerce() maps to Date"),
    }
}

fn write_event(w: &mut ContentWriter, ev: &Event) {
    w.begin("VEVENT");
    w.text("UID", &[], &ev.uid);
    w.property("DTSTAMP", &[], &format_utc_datetime(ev.dtstamp));
    if let Some(c) = ev.created {
        w.property("CREATED", &[], &format_utc_datetime(c));
    }
    if let Some(m) = ev.last_modified {
        w.property("LAST-MODIFIED", &[], &format_utc_datetime(m));
    }
    w.property("SEQUENCE", &[], &ev.sequence.to_string());
    if let Some(rid) = ev.recurrence_id {
        write_when(w, "RECURRENCE-ID", &ev.time, rid);
    }
    let (start, end) = match ev.time {
        EventTime::Timed { start, end, .. } => {
            (OccurrenceId::Local(start), OccurrenceId::Local(end))
        }
        EventTime::AllDay {
            start,
            end_exclusive,
        } => (OccurrenceId::Date(start), OccurrenceId::Date(end_exclusive)),
    };
    write_when(w, "DTSTART", &ev.time, start);
    if end > start {
        write_when(w, "DTEND", &ev.time, end);
    }
    if let Some(rule) = &ev.rrule {
        w.property("RRULE", &[], rule);
    }
    // One EXDATE per line: some clients read only the first value of a
    // multi-valued EXDATE.
    let exdates: BTreeSet<OccurrenceId> = ev.exdates.iter().map(|&o| coerce(&ev.time, o)).collect();
    for ex in exdates {
        write_when(w, "EXDATE", &ev.time, ex);
    }
    // RDATE likewise, one per line (RFC 5545 §3.8.5.2).
    let rdates: BTreeSet<OccurrenceId> = ev.rdates.iter().map(|&o| coerce(&ev.time, o)).collect();
    for r in rdates {
        write_when(w, "RDATE", &ev.time, r);
    }
    let lang: Vec<Param<'_>> = ev
        .language
        .iter()
        .map(|l| Param::new("LANGUAGE", l))
        .collect();
    w.text("SUMMARY", &lang, &ev.summary);
    if let Some(d) = &ev.description {
        w.text("DESCRIPTION", &lang, d);
    }
    if let Some(l) = &ev.location {
        w.text("LOCATION", &[], l);
    }
    if let Some(u) = &ev.url {
        w.property("URL", &[], u);
    }
    if let Some(o) = &ev.organizer {
        let cn: Vec<Param<'_>> = o.cn.iter().map(|c| Param::new("CN", c)).collect();
        w.property("ORGANIZER", &cn, &format!("mailto:{}", o.email));
    }
    for a in &ev.attendees {
        let mut params: Vec<Param<'_>> = Vec::new();
        if let Some(cn) = &a.cn {
            params.push(Param::new("CN", cn));
        }
        if let Some(r) = a.role {
            params.push(Param::new("ROLE", r.as_str()));
        }
        if let Some(p) = a.partstat {
            params.push(Param::new("PARTSTAT", p.as_str()));
        }
        if a.rsvp {
            params.push(Param::new("RSVP", "TRUE"));
        }
        w.property("ATTENDEE", &params, &format!("mailto:{}", a.email));
    }
    if !ev.categories.is_empty() {
        w.text_list("CATEGORIES", &[], &ev.categories);
    }
    if let Some(s) = ev.status {
        w.property("STATUS", &[], s.as_str());
    }
    w.property(
        "TRANSP",
        &[],
        if ev.transparent {
            "TRANSPARENT"
        } else {
            "OPAQUE"
        },
    );
    w.end("VEVENT");
}
