//! Hand-made inputs for the edge cases the fixtures do not cover.

use chrono::NaiveDate;

use super::super::{
    ImportError, ImportLimits, ImportedTime, ParsedCalendar, Status, parse_calendar,
};
use super::{import_text, utc};

fn crlf(text: &str) -> String {
    text.lines().map(|line| format!("{line}\r\n")).collect()
}

/// One VEVENT; `props` start on physical line 7 (BEGIN:VEVENT is line 4).
fn one_event(props: &str) -> String {
    crlf(&format!(
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//Pregon//test//EN\nBEGIN:VEVENT\n\
         UID:test-1@example.org\nDTSTAMP:20240101T000000Z\n{props}\nEND:VEVENT\nEND:VCALENDAR"
    ))
}

fn error_of(text: &str) -> ImportError {
    import_text(text).expect_err("the input must be refused")
}

fn only_event(calendar: &ParsedCalendar) -> &super::super::ImportedEvent {
    assert_eq!(calendar.events.len(), 1, "{:?}", calendar.events);
    &calendar.events[0]
}

fn timed(
    calendar: &ParsedCalendar,
) -> (
    chrono::DateTime<chrono::Utc>,
    chrono::DateTime<chrono::Utc>,
    Option<chrono_tz::Tz>,
) {
    match only_event(calendar).time {
        ImportedTime::Timed { start, end, tz } => (start, end, tz),
        other => panic!("expected a timed event, got {other:?}"),
    }
}

fn messages(calendar: &ParsedCalendar) -> Vec<(usize, &str)> {
    calendar
        .warnings
        .iter()
        .map(|w| (w.line, w.message.as_str()))
        .collect()
}

#[test]
fn lf_only_line_endings_import_like_crlf() {
    let with_crlf = one_event("DTSTART:20240301T100000Z\nSUMMARY:folded\n  text");
    let with_lf = with_crlf.replace("\r\n", "\n");
    let a = import_text(&with_crlf).unwrap();
    let b = import_text(&with_lf).unwrap();
    assert_eq!(a, b);
    assert_eq!(only_event(&b).summary.as_deref(), Some("folded text"));
    assert!(b.warnings.is_empty());
}

#[test]
fn continuation_line_at_file_start_is_refused() {
    let error = error_of(" BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n");
    assert_eq!(error.line, Some(1));
    assert!(
        error.message.contains("starts with a continuation line"),
        "{error}"
    );
}

#[test]
fn mismatched_end_is_refused_naming_both_lines() {
    let text = one_event("DTSTART:20240301T100000Z").replace("END:VEVENT", "END:VTODO");
    let error = error_of(&text);
    assert_eq!(
        error.to_string(),
        "line 8: END:VTODO does not match BEGIN:VEVENT at line 4"
    );
}

#[test]
fn missing_end_before_the_next_event_is_refused() {
    let text = crlf(
        "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:a\nDTSTART:20240301T100000Z\nBEGIN:VEVENT\nUID:b\n\
         END:VEVENT\nEND:VCALENDAR",
    );
    assert_eq!(
        error_of(&text).to_string(),
        "line 5: BEGIN:VEVENT inside VEVENT (opened at line 2); is END:VEVENT missing?"
    );
}

#[test]
fn content_after_the_calendar_is_refused() {
    let text = one_event("DTSTART:20240301T100000Z") + "SUMMARY:stray\r\n";
    let error = error_of(&text);
    assert_eq!(error.line, Some(10));
    assert!(
        error.message.contains("outside any BEGIN:VCALENDAR"),
        "{error}"
    );
}

#[test]
fn unknown_tzid_without_vtimezone_is_refused() {
    let error = error_of(&one_event("DTSTART;TZID=Mars/Olympus_Mons:20240301T100000"));
    assert_eq!(
        error.to_string(),
        "line 7: TZID \"Mars/Olympus_Mons\" has no VTIMEZONE in the file and is not a known \
         IANA or Windows time zone"
    );
}

#[test]
fn windows_and_global_tzids_without_vtimezone_resolve_with_a_warning() {
    let calendar = import_text(&one_event(
        "DTSTART;TZID=Eastern Standard Time:20240701T100000\n\
         DTEND;TZID=/mozilla.org/20070129_1/America/New_York:20240701T110000",
    ))
    .unwrap();
    assert_eq!(
        timed(&calendar),
        (
            utc("20240701T140000"),
            utc("20240701T150000"),
            Some(chrono_tz::America::New_York)
        )
    );
    let lines: Vec<usize> = calendar.warnings.iter().map(|w| w.line).collect();
    assert_eq!(lines, [7, 8]);
    assert!(calendar.warnings[0].message.contains("Windows zone"));
}

const CUSTOMIZED_ZONE: &str = "BEGIN:VTIMEZONE\nTZID:Customized Time Zone\nBEGIN:STANDARD\n\
    DTSTART:16010101T030000\nTZOFFSETFROM:+0200\nTZOFFSETTO:+0100\n\
    RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=4SU;BYMONTH=10\nEND:STANDARD\nBEGIN:DAYLIGHT\n\
    DTSTART:16010101T020000\nTZOFFSETFROM:+0100\nTZOFFSETTO:+0200\n\
    RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3\nEND:DAYLIGHT\nEND:VTIMEZONE";

fn custom_zone_event(local: &str) -> String {
    crlf(&format!(
        "BEGIN:VCALENDAR\nVERSION:2.0\n{CUSTOMIZED_ZONE}\nBEGIN:VEVENT\nUID:c@example.org\n\
         DTSTART;TZID=Customized Time Zone:{local}\nEND:VEVENT\nEND:VCALENDAR"
    ))
}

#[test]
fn custom_vtimezone_rules_compute_the_instant() {
    // Exchange's "Customized Time Zone" ends DST on the 4th Sunday of October. In 2023 that is
    // 22 Oct, a week before Europe's last Sunday: on 25 Oct it is already +01:00.
    let calendar = import_text(&custom_zone_event("20231025T100000")).unwrap();
    assert_eq!(
        timed(&calendar),
        (utc("20231025T090000"), utc("20231025T090000"), None)
    );
    assert_eq!(calendar.warnings.len(), 1);
    assert!(
        calendar.warnings[0].message.contains("match no IANA zone"),
        "{:?}",
        calendar.warnings
    );
}

#[test]
fn custom_vtimezone_reports_a_matching_iana_zone() {
    // Around 2025 the 4th Sunday of October is also the last one, so central Europe matches.
    let calendar = import_text(&custom_zone_event("20250610T100000")).unwrap();
    assert_eq!(
        timed(&calendar),
        (
            utc("20250610T080000"),
            utc("20250610T080000"),
            Some(chrono_tz::Europe::Paris)
        )
    );
    assert!(
        calendar.warnings[0]
            .message
            .contains("match Europe/Paris around 2025")
    );
}

#[test]
fn impossible_dates_and_times_are_refused() {
    for (value, shown) in [
        ("DTSTART:20230230", "20230230"),
        ("DTSTART:20231301", "20231301"),
        ("DTSTART:20230101T250000", "20230101T250000"),
        ("DTSTART:20230101T1000", "20230101T1000"),
    ] {
        let error = error_of(&one_event(value));
        assert_eq!(
            error.to_string(),
            format!("line 7: DTSTART \"{shown}\" is not a valid date or date-time")
        );
    }
    let error = error_of(&one_event("DTSTART;VALUE=DATE:20230230"));
    assert_eq!(
        error.to_string(),
        "line 7: DTSTART \"20230230\" is not a valid date (VALUE=DATE)"
    );
}

#[test]
fn dtend_before_dtstart_is_refused() {
    let error = error_of(&one_event(
        "DTSTART:20240301T100000Z\nDTEND:20240301T090000Z",
    ));
    assert_eq!(
        error.to_string(),
        "line 8: DTEND 20240301T090000Z is before DTSTART 20240301T100000Z (line 7)"
    );
    let error = error_of(&one_event(
        "DTSTART;VALUE=DATE:20240301\nDTEND;VALUE=DATE:20240229",
    ));
    assert_eq!(error.line, Some(8));
}

#[test]
fn dtend_and_dtstart_of_different_types_are_refused() {
    let error = error_of(&one_event(
        "DTSTART;VALUE=DATE:20240301\nDTEND:20240302T000000Z",
    ));
    assert_eq!(
        error.to_string(),
        "line 8: DTEND is a date-time but DTSTART (line 7) is a date; RFC 5545 requires the \
         same type"
    );
}

#[test]
fn end_defaults_follow_rfc_5545() {
    let calendar = import_text(&one_event("DTSTART:20240301T100000Z")).unwrap();
    assert_eq!(
        timed(&calendar),
        (utc("20240301T100000"), utc("20240301T100000"), None)
    );
    let calendar = import_text(&one_event("DTSTART;VALUE=DATE:20240229")).unwrap();
    assert_eq!(
        only_event(&calendar).time,
        ImportedTime::AllDay {
            start: NaiveDate::from_ymd_opt(2024, 2, 29).unwrap(),
            end_exclusive: NaiveDate::from_ymd_opt(2024, 3, 1).unwrap()
        }
    );
}

#[test]
fn all_day_dtend_equal_to_dtstart_is_one_day_with_a_warning() {
    let calendar = import_text(&one_event(
        "DTSTART;VALUE=DATE:20240301\nDTEND;VALUE=DATE:20240301",
    ))
    .unwrap();
    assert_eq!(
        only_event(&calendar).time,
        ImportedTime::AllDay {
            start: NaiveDate::from_ymd_opt(2024, 3, 1).unwrap(),
            end_exclusive: NaiveDate::from_ymd_opt(2024, 3, 2).unwrap()
        }
    );
    assert_eq!(
        messages(&calendar),
        [(
            8,
            "DTEND equals DTSTART for an all-day event; read as a one-day event"
        )]
    );
}

#[test]
fn duration_days_are_nominal_across_dst() {
    // 30 Mar 2024 12:00 CET + P1D = 31 Mar 12:00 CEST (10:00 UTC), 23 hours later;
    // the PT30M part is exact.
    let calendar = import_text(&one_event(
        "DTSTART;TZID=Europe/Berlin:20240330T120000\nDURATION:P1DT30M",
    ))
    .unwrap();
    assert_eq!(
        timed(&calendar),
        (
            utc("20240330T110000"),
            utc("20240331T103000"),
            Some(chrono_tz::Europe::Berlin)
        )
    );
}

#[test]
fn dtend_wins_over_a_duration_given_beside_it() {
    // RFC 5545 §3.6.1: DTEND and DURATION MUST NOT both occur; clients that write
    // both are read as lenient parsers read them: DTEND, with a warning.
    let calendar = import_text(&one_event(
        "DTSTART:20240301T100000Z\nDTEND:20240301T120000Z\nDURATION:PT1H",
    ))
    .unwrap();
    assert_eq!(timed(&calendar).1, utc("20240301T120000"));
    assert_eq!(calendar.warnings.len(), 1);
    assert_eq!(calendar.warnings[0].line, 9);
    assert!(
        calendar.warnings[0]
            .message
            .contains("disagree; DTEND is used")
    );
    let calendar = import_text(&one_event(
        "DTSTART:20240301T100000Z\nDTEND:20240301T120000Z\nDURATION:soon",
    ))
    .unwrap();
    assert_eq!(timed(&calendar).1, utc("20240301T120000"));
    assert!(
        calendar.warnings[0]
            .message
            .contains("DTEND is used instead")
    );
    let calendar = import_text(&one_event(
        "DTSTART:20240301T100000Z\nDTEND:20240301T110000Z\nDURATION:PT1H",
    ))
    .unwrap();
    assert_eq!(timed(&calendar).1, utc("20240301T110000"));
    assert_eq!(calendar.warnings.len(), 1);
    let error = error_of(&one_event("DTSTART:20240301T100000Z\nDURATION:-PT1H"));
    assert_eq!(error.line, Some(8));
}

#[test]
fn invalid_rrules_are_refused() {
    for rule in [
        "FREQ=SOMETIMES",
        "FREQ=MONTHLY;BYMONTH=13",
        "INTERVAL=2;BYDAY=MO",
        "FREQ=DAILY;COUNT=3;UNTIL=20240310T000000Z",
        "FREQ=WEEKLY;BYDAY=XX",
        "FREQ=DAILY;UNTIL=20240230T000000Z",
    ] {
        let error = error_of(&one_event(&format!(
            "DTSTART:20240301T100000Z\nRRULE:{rule}"
        )));
        assert_eq!(error.line, Some(8), "{rule}: {error}");
        assert!(
            error.message.starts_with(&format!(
                "RRULE \"{rule}\" is not a valid recurrence rule: "
            )),
            "{error}"
        );
    }
}

#[test]
fn local_until_with_tzid_is_read_in_the_event_zone() {
    let calendar = import_text(&one_event(
        "DTSTART;TZID=Europe/Berlin:20240301T100000\nRRULE:FREQ=DAILY;UNTIL=20240305T100000",
    ))
    .unwrap();
    assert_eq!(
        only_event(&calendar).rrule.as_deref(),
        Some("FREQ=DAILY;UNTIL=20240305T090000Z")
    );
    // Line 7: Europe/Berlin has no VTIMEZONE; line 8: the local UNTIL.
    let lines: Vec<usize> = calendar.warnings.iter().map(|w| w.line).collect();
    assert_eq!(lines, [7, 8]);
    assert!(calendar.warnings[1].message.contains("should be in UTC"));
}

#[test]
fn all_day_until_is_normalised_to_midnight_utc() {
    let calendar = import_text(&one_event(
        "DTSTART;VALUE=DATE:20240301\nRRULE:FREQ=WEEKLY;UNTIL=20240329",
    ))
    .unwrap();
    assert_eq!(
        only_event(&calendar).rrule.as_deref(),
        Some("FREQ=WEEKLY;UNTIL=20240329T000000Z")
    );
    assert!(calendar.warnings.is_empty());
}

#[test]
fn until_before_dtstart_leaves_a_single_occurrence() {
    let calendar = import_text(&one_event(
        "DTSTART:20240301T100000Z\nRRULE:FREQ=DAILY;UNTIL=20240201T000000Z",
    ))
    .unwrap();
    assert_eq!(only_event(&calendar).rrule, None);
    assert_eq!(calendar.warnings.len(), 1);
}

#[test]
fn files_over_the_size_limit_are_refused_before_parsing() {
    // Not UTF-8 and not a calendar: any parsing would report that instead of the size.
    let bytes = vec![0xFF_u8; 50 * 1024 * 1024];
    let error = parse_calendar(&bytes, &ImportLimits::default()).unwrap_err();
    assert_eq!(
        error,
        ImportError {
            line: None,
            message: "the file is 52428800 bytes, larger than the import limit of 10485760 bytes"
                .into()
        }
    );
}

#[test]
fn event_count_limit_names_the_first_event_over_it() {
    let text = crlf(
        "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:a\nDTSTART:20240301T100000Z\nEND:VEVENT\n\
         BEGIN:VEVENT\nUID:b\nDTSTART:20240302T100000Z\nEND:VEVENT\nEND:VCALENDAR",
    );
    let limits = ImportLimits {
        max_events: 1,
        ..ImportLimits::default()
    };
    let error = parse_calendar(text.as_bytes(), &limits).unwrap_err();
    assert_eq!(
        error.to_string(),
        "line 6: the file has more than 1 events, the import limit"
    );
}

#[test]
fn empty_and_non_calendar_inputs_are_refused() {
    for empty in ["", "\r\n  \r\n"] {
        let error = error_of(empty);
        assert_eq!(error.line, None);
        assert_eq!(error.message, "the file is empty: it has no iCalendar data");
    }
    assert_eq!(
        error_of("Dear partner,\nplease find our events attached.\n").to_string(),
        "line 1: not an iCalendar file: expected BEGIN:VCALENDAR, found \"Dear partner,\""
    );
    assert_eq!(
        error_of("\n<!DOCTYPE html>\n<html>").to_string(),
        "line 2: not an iCalendar file: expected BEGIN:VCALENDAR, found \"<!DOCTYPE html>\""
    );
}

#[test]
fn invalid_utf8_not_caused_by_folding_is_refused() {
    let mut bytes = one_event("DTSTART:20240301T100000Z\nSUMMARY:Reunion").into_bytes();
    // "Réunion" in Latin-1.
    let at = bytes.windows(7).position(|w| w == b"Reunion").unwrap();
    bytes[at + 1] = 0xE9;
    let error = parse_calendar(&bytes, &ImportLimits::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "line 8: invalid UTF-8 (byte 0xE9 at column 10); iCalendar files must be UTF-8 \
         encoded (RFC 5545 §3.1.4)"
    );
}

/// RFC 5545 requires UID; Apple iCal 1.0 omitted it. See `derive_uid` for why the event is
/// imported with a derived UID rather than refused.
#[test]
fn events_without_uid_get_a_stable_derived_uid() {
    let text = crlf(
        "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:20020113T132900Z\nSUMMARY:New Moon\nEND:VEVENT\n\
         BEGIN:VEVENT\nDTSTART:20020113T132900Z\nSUMMARY:New Moon\nEND:VEVENT\n\
         BEGIN:VEVENT\nDTSTART:20020212T074100Z\nSUMMARY:New Moon\nEND:VEVENT\nEND:VCALENDAR",
    );
    let first = import_text(&text).unwrap();
    let again = import_text(&text).unwrap();
    let uids: Vec<&str> = first.events.iter().map(|e| e.uid.as_str()).collect();
    assert_eq!(
        uids,
        again
            .events
            .iter()
            .map(|e| e.uid.as_str())
            .collect::<Vec<_>>()
    );
    assert!(uids[0].starts_with("pregon-derived-"));
    assert_eq!(
        uids[1],
        format!("{}-2", uids[0]),
        "identical events stay distinct"
    );
    assert_ne!(uids[2], uids[0]);
    assert_eq!(first.warnings.len(), 3);
    assert_eq!(first.warnings[0].line, 2);
    assert!(first.warnings[0].message.contains("has no UID"));
}

#[test]
fn text_values_are_unescaped() {
    let calendar = import_text(&one_event(
        "DTSTART:20240301T100000Z\nSUMMARY:a\\,b\\;c\\\\d\\ne\\Nf\nLOCATION:http\\://x\n\
         DESCRIPTION::-) ",
    ))
    .unwrap();
    let event = only_event(&calendar);
    assert_eq!(event.summary.as_deref(), Some("a,b;c\\d\ne\nf"));
    assert_eq!(event.location.as_deref(), Some("http://x"));
    // The ical crate would drop the leading ':' and the trailing space.
    assert_eq!(event.description.as_deref(), Some(":-) "));
    assert_eq!(
        messages(&calendar),
        [(
            9,
            "LOCATION has the escape \"\\:\", which RFC 5545 does not define; read as \":\""
        )]
    );
}

#[test]
fn unknown_components_are_ignored_and_other_components_skipped() {
    let text = crlf(
        "BEGIN:VCALENDAR\nX-WR-CALNAME:Test\nBEGIN:X-PARTNER-INFO\nNAME:ignored\n\
         BEGIN:X-NESTED\nEND:X-NESTED\nEND:X-PARTNER-INFO\nBEGIN:VEVENT\nUID:e\n\
         DTSTART:20240301T100000Z\nBEGIN:VLOCATION\nUID:l\nEND:VLOCATION\nBEGIN:VALARM\n\
         TRIGGER:-PT15M\nEND:VALARM\nEND:VEVENT\nBEGIN:VTODO\nUID:t\nEND:VTODO\nEND:VCALENDAR",
    );
    let calendar = import_text(&text).unwrap();
    assert_eq!(only_event(&calendar).uid, "e");
    assert_eq!(
        messages(&calendar),
        [
            (
                3,
                "unsupported component X-PARTNER-INFO inside VCALENDAR ignored"
            ),
            (11, "unsupported component VLOCATION inside VEVENT ignored"),
            (18, "VTODO skipped: only events (VEVENT) are imported"),
        ]
    );
}

#[test]
fn misplaced_known_component_is_refused() {
    let text = crlf(
        "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:e\nDTSTART:20240301T100000Z\nBEGIN:VTODO\nEND:VTODO\n\
         END:VEVENT\nEND:VCALENDAR",
    );
    assert_eq!(
        error_of(&text).to_string(),
        "line 5: BEGIN:VTODO cannot appear inside VEVENT (opened at line 2)"
    );
}

#[test]
fn several_vcalendar_objects_are_one_stream() {
    let text = one_event("DTSTART:20240301T100000Z")
        + &one_event("DTSTART:20240302T100000Z").replace("test-1", "test-2");
    let calendar = import_text(&text).unwrap();
    let uids: Vec<&str> = calendar.events.iter().map(|e| e.uid.as_str()).collect();
    assert_eq!(uids, ["test-1@example.org", "test-2@example.org"]);
    assert_eq!(calendar.events[1].line, 13);
}

#[test]
fn a_stream_without_any_valid_event_message_is_refused() {
    let text =
        one_event("DTSTART:20240301T100000Z\nDTEND:20240301T090000Z") + &one_event("DTSTART:2024");
    let error = error_of(&text);
    assert_eq!(error.line, Some(8));
}

#[test]
fn a_single_calendar_with_an_invalid_event_is_refused_whole() {
    let text = crlf(
        "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:good\nDTSTART:20240301T100000Z\nEND:VEVENT\n\
         BEGIN:VEVENT\nUID:bad\nDTSTART:20240301T100000Z\nDTEND:20240301T090000Z\nEND:VEVENT\n\
         END:VCALENDAR",
    );
    assert_eq!(error_of(&text).line, Some(9));
}

#[test]
fn floating_times_use_x_wr_timezone_or_utc_with_a_warning() {
    let text = one_event("DTSTART:20240701T100000").replace(
        "PRODID:-//Pregon//test//EN",
        "PRODID:-//Pregon//test//EN\r\nX-WR-TIMEZONE:Europe/Madrid",
    );
    let calendar = import_text(&text).unwrap();
    assert_eq!(
        timed(&calendar),
        (
            utc("20240701T080000"),
            utc("20240701T080000"),
            Some(chrono_tz::Europe::Madrid)
        )
    );
    assert_eq!(calendar.warnings.len(), 1);

    let calendar = import_text(&one_event("DTSTART:20240701T100000")).unwrap();
    assert_eq!(timed(&calendar).0, utc("20240701T100000"));
    assert_eq!(timed(&calendar).2, None);
    assert_eq!(
        messages(&calendar),
        [(
            7,
            "floating times (no TZID, no Z) are read as UTC: the file gives no time zone for them"
        )]
    );
}

#[test]
fn missing_or_repeated_dtstart_is_refused() {
    assert_eq!(
        error_of(&one_event("SUMMARY:no start")).to_string(),
        "line 4: VEVENT has no DTSTART; RFC 5545 requires it in a calendar without METHOD"
    );
    assert_eq!(
        error_of(&one_event(
            "DTSTART:20240301T100000Z\nDTSTART:20240302T100000Z"
        ))
        .to_string(),
        "line 8: DTSTART appears twice in one VEVENT (first at line 7); RFC 5545 allows it once"
    );
}

#[test]
fn names_are_case_insensitive_and_a_bom_is_tolerated() {
    let text = format!(
        "\u{FEFF}{}",
        one_event("dtstart;tzid=Europe/Berlin:20240301T100000\nstatus:canceled")
            .replace("BEGIN:VEVENT", "begin:vevent")
            .replace("END:VEVENT", "End:VEvent")
    );
    let calendar = import_text(&text).unwrap();
    assert_eq!(timed(&calendar).0, utc("20240301T090000"));
    assert_eq!(only_event(&calendar).status, Some(Status::Cancelled));
    let lines: Vec<usize> = calendar.warnings.iter().map(|w| w.line).collect();
    // BOM, TZID without VTIMEZONE, the CANCELED spelling.
    assert_eq!(lines, [1, 7, 8]);
}

#[test]
fn vcalendar_1_0_is_refused() {
    let text = one_event("DTSTART:20240301T100000Z").replace("VERSION:2.0", "VERSION:1.0");
    assert_eq!(error_of(&text).line, Some(2));
}

#[test]
fn errors_and_results_serialize_for_the_api() {
    let calendar = import_text(&one_event("DTSTART;TZID=Europe/Berlin:20240301T100000")).unwrap();
    let json = serde_json::to_value(&calendar).unwrap();
    assert_eq!(json["events"][0]["time"]["tz"], "Europe/Berlin");
    assert_eq!(json["events"][0]["time"]["start"], "2024-03-01T09:00:00Z");
    assert_eq!(json["warnings"][0]["line"], 7);
    let error = ImportError {
        line: None,
        message: "whole file".into(),
    };
    assert_eq!(error.to_string(), "whole file");
}

fn zone_calendar(vtimezone: &str, dtstart: &str) -> String {
    crlf(&format!(
        "BEGIN:VCALENDAR\nVERSION:2.0\n{vtimezone}\nBEGIN:VEVENT\nUID:z@example.org\n\
         {dtstart}\nEND:VEVENT\nEND:VCALENDAR"
    ))
}

#[test]
fn known_zone_name_wins_over_a_disagreeing_vtimezone_with_a_warning() {
    // A stale definition claiming Berlin is at +03:00 all year.
    let text = zone_calendar(
        "BEGIN:VTIMEZONE\nTZID:Europe/Berlin\nBEGIN:STANDARD\nDTSTART:19700101T000000\n\
         TZOFFSETFROM:+0300\nTZOFFSETTO:+0300\nEND:STANDARD\nEND:VTIMEZONE",
        "DTSTART;TZID=Europe/Berlin:20240115T120000",
    );
    let calendar = import_text(&text).unwrap();
    assert_eq!(timed(&calendar).0, utc("20240115T110000"));
    assert_eq!(
        messages(&calendar),
        [(
            13,
            "the VTIMEZONE \"Europe/Berlin\" (line 3) puts 2024-01-15 12:00:00 at 2024-01-15 \
             09:00:00 UTC, the time zone database's Europe/Berlin at 2024-01-15 11:00:00 UTC; \
             the database is used"
        )]
    );
}

#[test]
fn unsupported_observance_rule_of_a_custom_zone_is_refused() {
    let text = zone_calendar(
        "BEGIN:VTIMEZONE\nTZID:Odd Zone\nBEGIN:STANDARD\nDTSTART:19700101T000000\n\
         TZOFFSETFROM:+0100\nTZOFFSETTO:+0100\nRRULE:FREQ=MONTHLY\nEND:STANDARD\nEND:VTIMEZONE",
        "DTSTART;TZID=Odd Zone:20240115T120000",
    );
    assert_eq!(
        error_of(&text).to_string(),
        "line 9: RRULE \"FREQ=MONTHLY\" of VTIMEZONE \"Odd Zone\" is not supported: time zone \
         rules must be FREQ=YEARLY"
    );
}

#[test]
fn custom_zone_without_offsets_is_refused() {
    let text = zone_calendar(
        "BEGIN:VTIMEZONE\nTZID:Broken Zone\nBEGIN:STANDARD\nDTSTART:19700101T000000\n\
         TZOFFSETTO:+0100\nEND:STANDARD\nEND:VTIMEZONE",
        "DTSTART;TZID=Broken Zone:20240115T120000",
    );
    assert_eq!(
        error_of(&text).to_string(),
        "line 5: STANDARD of VTIMEZONE \"Broken Zone\" has no TZOFFSETFROM"
    );
}

#[test]
fn huge_observance_interval_does_not_overflow() {
    let text = zone_calendar(
        "BEGIN:VTIMEZONE\nTZID:Sparse Zone\nBEGIN:STANDARD\nDTSTART:19700101T000000\n\
         TZOFFSETFROM:+0100\nTZOFFSETTO:+0100\nRRULE:FREQ=YEARLY;INTERVAL=2147483647\n\
         END:STANDARD\nEND:VTIMEZONE",
        "DTSTART;TZID=Sparse Zone:20240115T120000",
    );
    let calendar = import_text(&text).unwrap();
    assert_eq!(timed(&calendar).0, utc("20240115T110000"));
}
