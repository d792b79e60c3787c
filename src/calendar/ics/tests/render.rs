use chrono::{NaiveDateTime, TimeDelta, TimeZone};
use chrono_tz::Tz;

use super::super::model::{Event, EventTime, Method, OccurrenceId};
use super::super::writer::unescape_text;
use super::super::{IcsError, render, try_render, validate};
use super::tz_eval::{offset_at, onsets, parse_vtimezones};
use super::*;

/// Logical (unfolded) lines, checking on the way that the physical ones
/// are CRLF-terminated and at most 75 octets.
fn logical_lines(ics: &str) -> Vec<String> {
    assert!(ics.ends_with("\r\n"));
    for (i, l) in ics[..ics.len() - 2].split("\r\n").enumerate() {
        assert!(
            l.len() <= 75,
            "physical line {i} has {} octets: {l}",
            l.len()
        );
        assert!(
            !l.contains('\n') && !l.contains('\r'),
            "bare line break in {l:?}"
        );
    }
    ics.replace("\r\n ", "")
        .trim_end_matches("\r\n")
        .split("\r\n")
        .map(str::to_owned)
        .collect()
}

fn props<'a>(lines: &'a [String], name: &str) -> Vec<&'a str> {
    lines
        .iter()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(':') || rest.starts_with(';'))
        })
        .map(String::as_str)
        .collect()
}

fn value(line: &str) -> &str {
    // Parameters here never contain a quoted ':' before the value except
    // CN, which tests do not read through this helper.
    line.split_once(':').unwrap().1
}

fn one_event(time: EventTime) -> Vec<String> {
    logical_lines(&render(&calendar(vec![Event::new(
        "u1",
        stamp(),
        "x",
        time,
    )])))
}

#[test]
fn all_day_events_end_the_next_day_across_month_year_and_leap_day() {
    for (day, end) in [
        (date(2020, 1, 31), "20200201"),
        (date(2020, 2, 29), "20200301"),
        (date(2021, 2, 28), "20210301"),
        (date(2020, 12, 31), "20210101"),
    ] {
        let lines = one_event(EventTime::all_day(day, day).unwrap());
        assert_eq!(
            props(&lines, "DTSTART"),
            [format!("DTSTART;VALUE=DATE:{}", day.format("%Y%m%d"))]
        );
        assert_eq!(props(&lines, "DTEND"), [format!("DTEND;VALUE=DATE:{end}")]);
        assert!(
            props(&lines, "BEGIN")
                .iter()
                .all(|l| *l != "BEGIN:VTIMEZONE")
        );
    }
    let three = one_event(EventTime::all_day(date(2020, 12, 30), date(2021, 1, 1)).unwrap());
    assert_eq!(props(&three, "DTEND"), ["DTEND;VALUE=DATE:20210102"]);
    assert_eq!(EventTime::all_day(date(2020, 1, 2), date(2020, 1, 1)), None);
}

#[test]
fn recurring_madrid_event_across_march_dst_has_tzid_vtimezone_and_verbatim_rrule() {
    let rule = "FREQ=WEEKLY;BYDAY=TU;UNTIL=20200414T235959Z";
    let ev = Event {
        rrule: Some(rule.into()),
        ..Event::new(
            "weekly@pregon.example",
            stamp(),
            "Semanal",
            timed(
                local(2020, 3, 10, 10, 0),
                local(2020, 3, 10, 11, 0),
                Tz::Europe__Madrid,
            ),
        )
    };
    let ics = render(&calendar(vec![ev]));
    let lines = logical_lines(&ics);
    assert_eq!(
        props(&lines, "DTSTART")
            .into_iter()
            .filter(|l| l.contains("TZID"))
            .collect::<Vec<_>>(),
        ["DTSTART;TZID=Europe/Madrid:20200310T100000"]
    );
    assert_eq!(
        props(&lines, "DTEND"),
        ["DTEND;TZID=Europe/Madrid:20200310T110000"]
    );
    assert_eq!(
        props(&lines, "RRULE").last().copied(),
        Some(&*format!("RRULE:{rule}"))
    );

    let zones = parse_vtimezones(&ics);
    assert_eq!(zones.len(), 1);
    assert_eq!(zones[0].tzid, "Europe/Madrid");
    // The weekly occurrences, converted to UTC with the VTIMEZONE as a
    // client would, land where chrono-tz puts them: 09:00Z before the
    // change, 08:00Z after.
    let ons = onsets(&zones[0], 2021);
    for week in 0..6 {
        let wall = local(2020, 3, 10, 10, 0) + TimeDelta::weeks(week);
        let expected = Tz::Europe__Madrid
            .from_local_datetime(&wall)
            .unwrap()
            .naive_utc();
        // Solve wall = utc + offset(utc) for utc, as clients do.
        let guess = wall - TimeDelta::seconds(offset_at(&ons, wall).unwrap().into());
        let utc = wall - TimeDelta::seconds(offset_at(&ons, guess).unwrap().into());
        assert_eq!(utc, expected, "week {week}");
        let hour = if week < 3 { 9 } else { 8 };
        assert_eq!(utc.format("%H").to_string(), format!("{hour:02}"));
    }
}

#[test]
fn text_with_separators_emoji_and_newlines_round_trips_through_unescape() {
    let ics = render(&sample_feed());
    let lines = logical_lines(&ics);
    let summary = props(&lines, "SUMMARY")
        .into_iter()
        .find(|l| l.contains("Tendencias"))
        .unwrap();
    assert_eq!(
        summary,
        "SUMMARY;LANGUAGE=es:Tendencias en Innovación Municipal\\; ODS\\, 2020\\nMálaga 🎉"
    );
    assert_eq!(unescape_text(value(summary)), TRICKY_TITLE);
    assert_eq!(
        props(&lines, "CATEGORIES"),
        ["CATEGORIES:Innovación,ODS\\, Agenda 2030"]
    );
    assert_eq!(
        props(&lines, "ORGANIZER"),
        ["ORGANIZER;CN=\"Oficina de Prensa, Ayto\":mailto:prensa@malaga.example"]
    );
    assert_eq!(
        props(&lines, "ATTENDEE"),
        [
            "ATTENDEE;CN=\"Pérez; Ana\";ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;RSVP=TRUE:mailto:ana@example.org"
        ]
    );
    let desc = props(&lines, "DESCRIPTION")
        .into_iter()
        .find(|l| l.contains("Jornada"))
        .unwrap();
    assert!(desc.len() > 150, "long enough to be folded several times");
    assert_eq!(
        unescape_text(value(desc)),
        sample_feed().events[0].description.clone().unwrap()
    );
}

#[test]
fn calendar_properties_and_component_order() {
    let ics = render(&sample_feed());
    let lines = logical_lines(&ics);
    assert_eq!(
        &lines[..12],
        [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//Pregón//Plan de comunicación//ES",
            "CALSCALE:GREGORIAN",
            "METHOD:PUBLISH",
            "NAME:Agenda\\, Ayuntamiento",
            "X-WR-CALNAME:Agenda\\, Ayuntamiento",
            "DESCRIPTION:Eventos del plan de comunicación",
            "X-WR-CALDESC:Eventos del plan de comunicación",
            "URL:https://pregon.example/feeds/agenda.ics",
            "REFRESH-INTERVAL;VALUE=DURATION:PT4H",
            "X-PUBLISHED-TTL:PT4H",
        ]
    );
    assert_eq!(lines.last().unwrap(), "END:VCALENDAR");
    // VTIMEZONEs sorted by TZID, all before the first VEVENT.
    let tzids: Vec<&str> = props(&lines, "TZID").into_iter().map(value).collect();
    assert_eq!(tzids, ["Africa/Johannesburg", "Europe/Madrid"]);
    let last_tz = lines.iter().rposition(|l| l == "END:VTIMEZONE").unwrap();
    let first_ev = lines.iter().position(|l| l == "BEGIN:VEVENT").unwrap();
    assert!(last_tz < first_ev);
    assert_eq!(
        props(&lines, "BEGIN")
            .iter()
            .filter(|l| **l == "BEGIN:VEVENT")
            .count(),
        6
    );
    assert_eq!(
        props(&lines, "STATUS"),
        ["STATUS:CONFIRMED", "STATUS:TENTATIVE", "STATUS:CANCELLED"]
    );
    assert_eq!(
        props(&lines, "TRANSP")
            .iter()
            .filter(|l| **l == "TRANSP:TRANSPARENT")
            .count(),
        1
    );
    assert_eq!(
        props(&lines, "EXDATE"),
        ["EXDATE;TZID=Europe/Madrid:20200215T180000"]
    );
    assert_eq!(
        props(&lines, "RECURRENCE-ID"),
        ["RECURRENCE-ID;TZID=Europe/Madrid:20200515T180000"]
    );
    assert_eq!(props(&lines, "CREATED"), ["CREATED:20191201T090000Z"]);
    assert_eq!(
        props(&lines, "LAST-MODIFIED"),
        ["LAST-MODIFIED:20191220T093000Z"]
    );
}

#[test]
fn same_uid_events_are_adjacent_with_the_master_first() {
    let mut monthly = monthly_events();
    let master = monthly.remove(0);
    let moved = monthly.remove(0);
    let other = |uid: &str| {
        Event::new(
            uid,
            stamp(),
            uid,
            timed(
                local(2020, 1, 1, 9, 0),
                local(2020, 1, 1, 10, 0),
                Tz::Europe__Madrid,
            ),
        )
    };
    let moved_again = Event {
        recurrence_id: Some(OccurrenceId::Local(local(2020, 6, 15, 18, 0))),
        ..Event::new(
            MONTHLY_UID,
            stamp(),
            "junio",
            timed(
                local(2020, 6, 16, 18, 0),
                local(2020, 6, 16, 19, 0),
                Tz::Europe__Madrid,
            ),
        )
    };
    let cal = calendar(vec![moved, other("b"), master, other("c"), moved_again]);
    let lines = logical_lines(&render(&cal));
    let uids: Vec<&str> = props(&lines, "UID").into_iter().map(value).collect();
    assert_eq!(uids, [MONTHLY_UID, MONTHLY_UID, MONTHLY_UID, "b", "c"]);
    let summaries: Vec<&str> = props(&lines, "SUMMARY").into_iter().map(value).collect();
    assert_eq!(
        &summaries[..3],
        ["Comité mensual", "Comité mensual (trasladado)", "junio"]
    );
}

#[test]
fn rendering_is_deterministic_and_uses_only_the_given_dtstamp() {
    let a = render(&sample_feed());
    let b = render(&sample_feed());
    assert_eq!(a.as_bytes(), b.as_bytes());
    let lines = logical_lines(&a);
    let stamps = props(&lines, "DTSTAMP");
    assert_eq!(stamps.len(), 6);
    assert!(
        stamps.iter().all(|s| *s == "DTSTAMP:20200102T030400Z"),
        "{stamps:?}"
    );
    // Same content built in a different order of zones still yields the
    // same VTIMEZONE order.
    let mut reversed = sample_feed();
    reversed.events.reverse();
    let tz_order: Vec<String> = props(&logical_lines(&render(&reversed)), "TZID")
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(tz_order, ["TZID:Africa/Johannesburg", "TZID:Europe/Madrid"]);
}

#[test]
fn utc_events_use_z_and_no_vtimezone() {
    let ev = Event {
        rrule: Some("FREQ=DAILY;COUNT=3".into()),
        exdates: vec![OccurrenceId::Local(local(2020, 3, 11, 10, 0))],
        ..Event::new(
            "utc",
            stamp(),
            "UTC",
            timed(
                local(2020, 3, 10, 10, 0),
                local(2020, 3, 10, 11, 0),
                Tz::Etc__UTC,
            ),
        )
    };
    let lines = logical_lines(&render(&calendar(vec![ev])));
    assert!(!lines.iter().any(|l| l == "BEGIN:VTIMEZONE"));
    assert_eq!(props(&lines, "DTSTART"), ["DTSTART:20200310T100000Z"]);
    assert_eq!(props(&lines, "DTEND"), ["DTEND:20200310T110000Z"]);
    assert_eq!(props(&lines, "EXDATE"), ["EXDATE:20200311T100000Z"]);
}

fn zone_of(ics: &str, tzid: &str) -> Vec<(NaiveDateTime, i32, i32)> {
    let zone = parse_vtimezones(ics)
        .into_iter()
        .find(|z| z.tzid == tzid)
        .unwrap();
    onsets(&zone, 2100)
}

#[test]
fn vtimezone_window_follows_rrule_until_and_open_ended_rules() {
    let tehran = Tz::Asia__Tehran;
    let ev = |rule: &str| Event {
        rrule: Some(rule.into()),
        ..Event::new(
            "t",
            stamp(),
            "t",
            timed(local(2019, 1, 8, 10, 0), local(2019, 1, 8, 11, 0), tehran),
        )
    };
    let at = |y, m, d| local(y, m, d, 12, 0);
    let tzdb = |t: NaiveDateTime| {
        use chrono::Offset;
        tehran.offset_from_utc_datetime(&t).fix().local_minus_utc()
    };
    // Tehran kept DST until 2022: a rule ending in 2022 needs those years.
    let bounded = render(&calendar(vec![ev("FREQ=WEEKLY;UNTIL=20220930T000000Z")]));
    let ons = zone_of(&bounded, "Asia/Tehran");
    for t in [at(2022, 6, 1), at(2022, 9, 25), at(2019, 6, 1)] {
        assert_eq!(offset_at(&ons, t), Some(tzdb(t)), "{t}");
    }
    // A rule that never ends in Madrid: correct in 2090 too.
    let madrid = Event {
        rrule: Some("FREQ=YEARLY".into()),
        ..Event::new(
            "m",
            stamp(),
            "m",
            timed(
                local(2020, 7, 1, 10, 0),
                local(2020, 7, 1, 11, 0),
                Tz::Europe__Madrid,
            ),
        )
    };
    let open = render(&calendar(vec![madrid]));
    let ons = zone_of(&open, "Europe/Madrid");
    for t in [
        at(2090, 7, 1),
        at(2090, 1, 1),
        at(2090, 3, 26),
        at(2090, 3, 27),
    ] {
        let expected = {
            use chrono::Offset;
            Tz::Europe__Madrid
                .offset_from_utc_datetime(&t)
                .fix()
                .local_minus_utc()
        };
        assert_eq!(offset_at(&ons, t), Some(expected), "{t}");
    }
    assert!(
        !open.contains("UNTIL="),
        "an open-ended rule must not be cut off"
    );
}

#[test]
fn validation_rejects_inconsistent_input() {
    let madrid = Tz::Europe__Madrid;
    let base = || {
        Event::new(
            "v",
            stamp(),
            "v",
            timed(local(2020, 1, 1, 10, 0), local(2020, 1, 1, 11, 0), madrid),
        )
    };
    let err = |events: Vec<Event>| validate(&calendar(events)).unwrap_err();

    assert_eq!(
        err(vec![Event {
            time: timed(local(2020, 1, 1, 10, 0), local(2020, 1, 1, 10, 0), madrid),
            ..base()
        }]),
        IcsError::EndNotAfterStart { uid: "v".into() }
    );
    assert_eq!(
        err(vec![Event {
            time: EventTime::AllDay {
                start: date(2020, 1, 2),
                end_exclusive: date(2020, 1, 2)
            },
            ..base()
        }]),
        IcsError::EndNotAfterStart { uid: "v".into() }
    );
    assert!(matches!(
        err(vec![Event {
            rrule: Some("FREQ=DAILY".into()),
            exdates: vec![OccurrenceId::Date(date(2020, 1, 2))],
            ..base()
        }]),
        IcsError::OccurrenceKindMismatch {
            field: "EXDATE",
            ..
        }
    ));
    assert!(matches!(
        err(vec![Event {
            exdates: vec![OccurrenceId::Local(local(2020, 1, 2, 10, 0))],
            ..base()
        }]),
        IcsError::ExdatesWithoutRrule { .. }
    ));
    assert!(matches!(
        err(vec![base(), base()]),
        IcsError::DuplicateMaster { .. }
    ));
    let over = || Event {
        recurrence_id: Some(OccurrenceId::Local(local(2020, 1, 2, 10, 0))),
        ..base()
    };
    assert!(matches!(
        err(vec![over(), over()]),
        IcsError::DuplicateOverride { .. }
    ));
    assert!(matches!(
        err(vec![
            Event {
                rrule: Some("FREQ=DAILY".into()),
                ..base()
            },
            Event {
                time: timed(
                    local(2020, 1, 2, 10, 0),
                    local(2020, 1, 2, 11, 0),
                    Tz::Europe__Paris
                ),
                ..over()
            }
        ]),
        IcsError::OverrideTimeMismatch { .. }
    ));
    let mut request = calendar(vec![base()]);
    request.method = Some(Method::Request);
    assert!(matches!(
        validate(&request).unwrap_err(),
        IcsError::MissingOrganizer {
            method: "REQUEST",
            ..
        }
    ));
    let mut bad_refresh = calendar(vec![base()]);
    bad_refresh.refresh_interval = Some(TimeDelta::zero());
    assert_eq!(
        try_render(&bad_refresh),
        Err(IcsError::NonPositiveRefreshInterval)
    );
    bad_refresh.refresh_interval = Some(TimeDelta::milliseconds(999));
    assert_eq!(
        validate(&bad_refresh),
        Err(IcsError::NonPositiveRefreshInterval)
    );
    assert!(try_render(&sample_feed()).is_ok());
}
