//! The real files in `tests/fixtures/ics` (see SOURCES.md there).

use std::collections::HashMap;

use chrono::NaiveDate;
use chrono_tz::Tz;

use super::super::{EventDate, ImportedEvent, ImportedTime, RecurrenceDate, Status};
use super::{import_fixture, utc};

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn timed(
    event: &ImportedEvent,
) -> (
    chrono::DateTime<chrono::Utc>,
    chrono::DateTime<chrono::Utc>,
    Option<Tz>,
) {
    match event.time {
        ImportedTime::Timed { start, end, tz } => (start, end, tz),
        ImportedTime::AllDay { .. } => panic!("expected a timed event: {event:?}"),
    }
}

/// Expands an imported RRULE the way the service will, proving the normalised rule and the
/// reported zone work together across DST changes.
fn occurrences(event: &ImportedEvent, limit: u16) -> Vec<chrono::DateTime<chrono::Utc>> {
    let (start, _, tz) = timed(event);
    let dt_start = start.with_timezone(&rrule::Tz::Tz(tz.unwrap_or(chrono_tz::UTC)));
    let rule: rrule::RRule<rrule::Unvalidated> = event.rrule.as_deref().unwrap().parse().unwrap();
    rrule::RRuleSet::new(dt_start)
        .rrule(rule.validate(dt_start).unwrap())
        .all(limit)
        .dates
        .into_iter()
        .map(|d| d.with_timezone(&chrono::Utc))
        .collect()
}

fn warning_lines(warnings: &[super::super::ImportWarning]) -> Vec<usize> {
    warnings.iter().map(|w| w.line).collect()
}

#[test]
fn google_public_holidays_import_all_111_all_day_events() {
    let calendar = import_fixture("google__us-public-holidays-allday").unwrap();
    assert_eq!(calendar.events.len(), 111);
    assert!(calendar.warnings.is_empty(), "{:?}", calendar.warnings);

    let first = &calendar.events[0];
    assert_eq!(first.uid, "20231110_rhv0a9kca8mmmdo4ei84ubu46s@google.com");
    assert_eq!(first.summary.as_deref(), Some("Veterans Day (substitute)"));
    assert_eq!(first.description.as_deref(), Some("Public holiday"));
    assert_eq!(first.status, Some(Status::Confirmed));
    assert_eq!(first.dtstamp, Some(utc("20220730T150314")));
    assert_eq!(first.line, 9);
    assert_eq!(
        first.time,
        ImportedTime::AllDay {
            start: date(2023, 11, 10),
            end_exclusive: date(2023, 11, 11)
        }
    );
    // Every holiday lasts exactly one day (exclusive DTEND), and UIDs are unique.
    let mut per_day: HashMap<NaiveDate, usize> = HashMap::new();
    for event in &calendar.events {
        let ImportedTime::AllDay {
            start,
            end_exclusive,
        } = event.time
        else {
            panic!("timed event in an all-day feed: {event:?}");
        };
        assert_eq!(end_exclusive, start.succ_opt().unwrap(), "{event:?}");
        *per_day.entry(start).or_default() += 1;
    }
    let mut uids: Vec<&str> = calendar.events.iter().map(|e| e.uid.as_str()).collect();
    uids.sort_unstable();
    uids.dedup();
    assert_eq!(uids.len(), 111);
    assert!(
        per_day.values().any(|&n| n == 2),
        "some dates carry two holidays"
    );
}

#[test]
fn exchange_teams_request_maps_windows_zone_and_unescapes_text() {
    let calendar = import_fixture("exchange__o365-teams-request-daily").unwrap();
    assert!(calendar.warnings.is_empty(), "{:?}", calendar.warnings);
    let [event] = calendar.events.as_slice() else {
        panic!("expected one event: {:?}", calendar.events);
    };
    assert_eq!(
        event.uid,
        "040000C08200E00074C5B7101A89E00800000000EEB3773267BEA601000000000000000\
         01000000023B1CC4F9EF21B4BBA06F5F3B4E42720"
    );
    // W. Europe Standard Time is Europe/Berlin; 11:00 CET on 24 Nov 2020 is 10:00 UTC.
    assert_eq!(
        timed(event),
        (
            utc("20201124T100000"),
            utc("20201124T103000"),
            Some(chrono_tz::Europe::Berlin)
        )
    );
    assert_eq!(
        event.summary.as_deref(),
        Some(" Testmeeting \u{27A1} ignore it!")
    );
    let description = event.description.as_deref().unwrap();
    assert!(description.starts_with("\n\n\n\n____"), "{description:?}");
    assert!(
        description.contains(
            "Microsoft Teams-Besprechung\n\nNehmen Sie teil auf Ihrem Computer oder auf der mobilen App\n\
             Klicken Sie hier, um an der Besprechung teilzunehmen<https://url>"
        ),
        "{description:?}"
    );
    assert_eq!(event.location, None, "an empty LOCATION is no location");
    assert_eq!(event.language.as_deref(), Some("en-US"));
    assert_eq!(event.status, Some(Status::Confirmed));
    assert_eq!(
        event.rrule.as_deref(),
        Some("FREQ=DAILY;UNTIL=20201126T100000Z;INTERVAL=2")
    );
    assert_eq!(
        occurrences(event, 10),
        [utc("20201124T100000"), utc("20201126T100000")]
    );
}

#[test]
fn exchange_biweekly_series_with_exdates_keeps_local_time_across_dst() {
    let calendar = import_fixture("exchange__o365-windows-tz-biweekly-exdate").unwrap();
    assert!(calendar.warnings.is_empty(), "{:?}", calendar.warnings);
    let [busy, tentative] = calendar.events.as_slice() else {
        panic!("expected two events: {:?}", calendar.events);
    };
    assert_eq!(busy.summary.as_deref(), Some("Zajęty"));
    assert_eq!(busy.sequence, 46);
    assert_eq!(
        timed(busy),
        (
            utc("20240502T090000"),
            utc("20240502T100000"),
            Some(chrono_tz::Europe::Warsaw)
        )
    );

    assert_eq!(tentative.summary.as_deref(), Some("Wstępna akceptacja"));
    assert_eq!(tentative.sequence, 5);
    // 15:00 CEST in May is 13:00 UTC; the EXDATEs are 15:00 CET in winter, 14:00 UTC.
    assert_eq!(timed(tentative).0, utc("20240521T130000"));
    assert_eq!(
        tentative.exdates,
        [
            EventDate::DateTime(utc("20241231T140000")),
            EventDate::DateTime(utc("20250225T140000"))
        ]
    );
    assert_eq!(
        tentative.rrule.as_deref(),
        Some("FREQ=WEEKLY;UNTIL=20260505T130000Z;INTERVAL=2;BYDAY=TU;WKST=SU")
    );
    let all = occurrences(tentative, 200);
    assert_eq!(all.len(), 52);
    assert_eq!(all.first(), Some(&utc("20240521T130000")));
    assert_eq!(all.last(), Some(&utc("20260505T130000")));
    assert!(
        all.contains(&utc("20241105T140000")),
        "winter instance at 15:00 CET"
    );
    assert!(
        all.contains(&utc("20250617T130000")),
        "summer instance at 15:00 CEST"
    );
}

#[test]
fn outlook_tab_folded_export_with_quoted_tzid() {
    let calendar = import_fixture("outlook__2016-long-html-altdesc").unwrap();
    assert!(calendar.warnings.is_empty(), "{:?}", calendar.warnings);
    let [event] = calendar.events.as_slice() else {
        panic!("expected one event: {:?}", calendar.events);
    };
    // The UID is folded with a TAB; joined it must be whole.
    assert_eq!(
        event.uid,
        "040000008200E00074C5B7101A82E00800000000509A92BD8164D801000000000000000\
         01000000002B8A0B2A4159442998858E43D9B0927"
    );
    // 08:00 CEST on the day before the October change is 06:00 UTC.
    assert_eq!(
        timed(event),
        (
            utc("20221029T060000"),
            utc("20221029T063000"),
            Some(chrono_tz::Europe::Berlin)
        )
    );
    assert_eq!(event.summary.as_deref(), Some("29.10. 8-8:30"));
    assert_eq!(event.language.as_deref(), Some("de"));
    assert_eq!(event.description.as_deref(), Some(" \n"));
    assert_eq!(event.line, 21);
}

#[test]
fn apple_series_resolves_tzid_without_vtimezone_with_a_warning() {
    let calendar = import_fixture("apple__macos-rrule-exdate-override").unwrap();
    assert_eq!(warning_lines(&calendar.warnings), [16]);
    assert!(
        calendar.warnings[0]
            .message
            .contains("\"America/Los_Angeles\" has no VTIMEZONE"),
        "{:?}",
        calendar.warnings
    );
    let [master, override_] = calendar.events.as_slice() else {
        panic!("expected master and override: {:?}", calendar.events);
    };
    assert_eq!(master.uid, override_.uid);
    // 13:00 PDT on 24 Mar 2015 is 20:00 UTC.
    assert_eq!(
        timed(master),
        (
            utc("20150324T200000"),
            utc("20150324T204500"),
            Some(chrono_tz::America::Los_Angeles)
        )
    );
    assert_eq!(master.sequence, 3);
    assert_eq!(master.last_modified, Some(utc("20150324T195543")));
    assert_eq!(
        master.rrule.as_deref(),
        Some("FREQ=MONTHLY;INTERVAL=2;BYSETPOS=-1;BYDAY=MO,TU,WE,TH,FR")
    );
    assert_eq!(
        master.exdates,
        [
            EventDate::DateTime(utc("20150529T200000")),
            EventDate::DateTime(utc("20150324T200000")),
            EventDate::DateTime(utc("20150331T200000"))
        ]
    );
    // Last weekday of every other month, 13:00 local: PDT until November, then PST.
    // (31 Mar and 29 May are EXDATEs; removing them is the expander's job.)
    assert_eq!(
        occurrences(master, 5),
        [
            utc("20150331T200000"),
            utc("20150529T200000"),
            utc("20150731T200000"),
            utc("20150930T200000"),
            utc("20151130T210000")
        ]
    );
    assert_eq!(
        override_.recurrence_id.unwrap().value,
        EventDate::DateTime(utc("20150731T200000"))
    );
    assert!(!override_.recurrence_id.unwrap().this_and_future);
    assert_eq!(override_.rrule, None);
    assert_eq!(timed(override_).0, utc("20150731T200000"));
}

#[test]
fn thunderbird_event_with_full_london_vtimezone() {
    let calendar = import_fixture("thunderbird__alarms-full-vtimezone").unwrap();
    assert!(calendar.warnings.is_empty(), "{:?}", calendar.warnings);
    let [event] = calendar.events.as_slice() else {
        panic!("expected one event: {:?}", calendar.events);
    };
    // 15:00 BST is 14:00 UTC; the 85-block VTIMEZONE agrees with the tz database.
    assert_eq!(
        timed(event),
        (
            utc("20241023T140000"),
            utc("20241023T150000"),
            Some(chrono_tz::Europe::London)
        )
    );
    assert_eq!(event.summary.as_deref(), Some("event with alarms"));
    assert_eq!(event.line, 603);
}

#[test]
fn nextcloud_all_day_yearly_event_without_final_newline() {
    let calendar = import_fixture("nextcloud__allday-yearly-attendees-alarms").unwrap();
    assert!(calendar.warnings.is_empty(), "{:?}", calendar.warnings);
    let [event] = calendar.events.as_slice() else {
        panic!("expected one event: {:?}", calendar.events);
    };
    assert_eq!(
        event.time,
        ImportedTime::AllDay {
            start: date(2022, 9, 20),
            end_exclusive: date(2022, 9, 21)
        }
    );
    assert_eq!(event.rrule.as_deref(), Some("FREQ=YEARLY;BYMONTH=9"));
    assert_eq!(event.location.as_deref(), Some("Some Hotel, Some Country"));
    assert_eq!(
        event.description.as_deref(),
        Some("Event with a tag, a notification\nand a recurrence.")
    );
    assert_eq!(event.sequence, 3);
    assert_eq!(event.status, Some(Status::Confirmed));
}

#[test]
fn itip_stream_imports_organizer_messages_and_skips_the_rest() {
    let calendar = import_fixture("itip__rfc2446-request-reply-cancel").unwrap();
    // 53 messages: 24 VEVENTs from PUBLISH/REQUEST/ADD import; replies, cancels, counters,
    // refreshes and non-event components are skipped with a warning each; two messages whose
    // DTEND precedes DTSTART (typos in RFC 2446) are skipped whole.
    assert_eq!(calendar.events.len(), 24);
    let count = |needle: &str| {
        calendar
            .warnings
            .iter()
            .filter(|w| w.message.contains(needle))
            .count()
    };
    assert_eq!(count("METHOD:REPLY VEVENT"), 5);
    // RFC 5546 §3.2.5: the cancellations are read as such, to be applied to the
    // events they name.
    assert_eq!(count("METHOD:CANCEL VEVENT"), 0);
    assert_eq!(calendar.cancellations.len(), 5);
    assert!(calendar.cancellations.iter().all(|c| !c.uid.is_empty()));
    assert_eq!(count("METHOD:COUNTER VEVENT"), 2);
    assert_eq!(count("METHOD:REFRESH VEVENT"), 2);
    assert_eq!(count("METHOD:DECLINECOUNTER VEVENT"), 1);
    assert_eq!(count("VTODO skipped"), 8);
    assert_eq!(count("VJOURNAL skipped"), 1);
    assert_eq!(count("VFREEBUSY skipped"), 3);
    let skipped: Vec<_> = calendar
        .warnings
        .iter()
        .filter(|w| w.message.contains(") skipped: "))
        .map(|w| (w.line, w.message.as_str()))
        .collect();
    assert_eq!(
        skipped,
        [
            (
                74,
                "METHOD:PUBLISH message (BEGIN:VCALENDAR at line 43) skipped: DTEND \
                 19970701T180000 is before DTSTART 19970702T160000 (line 75)"
            ),
            (
                745,
                "METHOD:REQUEST message (BEGIN:VCALENDAR at line 718) skipped: DTEND \
                 19980304T180000Z is before DTSTART 19980311T160000Z (line 744)"
            ),
        ]
    );
    // 31 before cancellations were read as such: the five were warnings.
    assert_eq!(calendar.warnings.len(), 26);

    let bastille = calendar.events.iter().find(|e| e.line == 100).unwrap();
    assert_eq!(bastille.summary.as_deref(), Some(" Bastille Day"));
    assert_eq!(
        bastille.time,
        ImportedTime::AllDay {
            start: date(1997, 7, 14),
            end_exclusive: date(1997, 7, 15)
        }
    );

    // "America-SanJose" is only defined by its VTIMEZONE (1987 US rules): 14:00 PDT.
    let san_jose = calendar.events.iter().find(|e| e.line == 461).unwrap();
    assert_eq!(
        timed(san_jose),
        (
            utc("19970701T210000"),
            utc("19970701T220000"),
            Some(chrono_tz::America::Los_Angeles)
        )
    );
    assert_eq!(
        san_jose.rdates,
        [RecurrenceDate::DateTime(utc("19970910T210000"))]
    );
    // 28 Oct 1997 is after the last Sunday of October: PST, so 22:00 UTC.
    assert_eq!(
        san_jose.exdates,
        [
            EventDate::DateTime(utc("19970909T210000")),
            EventDate::DateTime(utc("19971028T220000"))
        ]
    );

    let this_and_future = calendar
        .events
        .iter()
        .filter(|e| e.recurrence_id.is_some_and(|r| r.this_and_future))
        .count();
    assert_eq!(this_and_future, 1);

    let acme = calendar
        .events
        .iter()
        .find(|e| e.uid == "acme-12345@host1.com")
        .unwrap();
    assert_eq!(
        acme.rdates,
        [RecurrenceDate::Period {
            start: utc("19970819T210000"),
            end: utc("19970819T220000")
        }]
    );
    // Its DTSTAMP is floating, which RFC 5545 forbids: read as UTC, with a warning.
    assert_eq!(acme.dtstamp, Some(utc("19970726T083000")));
    assert_eq!(count("DTSTAMP should be a UTC date-time"), 1);
}

#[test]
fn multiscript_summaries_decode_exactly() {
    let calendar = import_fixture("i18n__multiscript-summaries").unwrap();
    assert!(calendar.warnings.is_empty(), "{:?}", calendar.warnings);
    let summaries: Vec<&str> = calendar
        .events
        .iter()
        .map(|e| e.summary.as_deref().unwrap())
        .collect();
    assert_eq!(
        summaries,
        [
            "žmogus",
            "中文",
            "кириллица",
            "Ελληνικά",
            "עִברִית",
            "日本語",
            "한국어",
            "ไทย",
            "देवनागरी"
        ]
    );
    assert_eq!(
        timed(&calendar.events[0]),
        (utc("19970714T170000"), utc("19970715T040000"), None)
    );
}

#[test]
fn emoji_summary_with_bare_dates_is_all_day_with_warnings() {
    let calendar = import_fixture("i18n__emoji-summary").unwrap();
    let [event] = calendar.events.as_slice() else {
        panic!("expected one event: {:?}", calendar.events);
    };
    assert_eq!(event.summary.as_deref(), Some("\u{1F384}"));
    assert_eq!(
        event.time,
        ImportedTime::AllDay {
            start: date(1997, 12, 25),
            end_exclusive: date(1997, 12, 26)
        }
    );
    assert_eq!(warning_lines(&calendar.warnings), [7, 8]);
    assert_eq!(
        calendar.warnings[0].message,
        "DTSTART \"19971225\" is a date without VALUE=DATE; read as an all-day date"
    );
}

#[test]
fn fold_inside_a_utf8_sequence_is_joined_before_decoding() {
    let calendar = import_fixture("malformed__fold-splits-utf8").unwrap();
    let [event] = calendar.events.as_slice() else {
        panic!("expected one event: {:?}", calendar.events);
    };
    assert_eq!(
        event.description.as_deref(),
        Some("Event description that puts a UTF-8 multi-octet sequence right\u{A0}here.")
    );
    assert_eq!(warning_lines(&calendar.warnings), [11]);
    assert!(
        calendar.warnings[0]
            .message
            .contains("splits a multi-byte UTF-8 character")
    );
}

#[test]
fn truncated_file_is_refused_naming_the_last_line_and_the_open_vevent() {
    let error = import_fixture("malformed__truncated-missing-end").unwrap_err();
    assert_eq!(error.line, Some(215));
    assert_eq!(
        error.to_string(),
        "line 215: the file ends (last line: \"DTEND:2005\") inside VEVENT: BEGIN:VEVENT at line \
         213 has no END:VEVENT; the file looks truncated"
    );
}

#[test]
fn invalid_dtstart_is_refused_naming_its_line() {
    let error = import_fixture("malformed__invalid-dtstart").unwrap_err();
    assert_eq!(error.line, Some(6));
    assert_eq!(
        error.to_string(),
        "line 6: DTSTART \"INVALID-DATE\" is not a valid date or date-time"
    );
}
