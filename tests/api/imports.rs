use crate::helpers::*;
use serde_json::{Value, json};

/// The real-world `.ics` fixtures shipped with the repository
/// (`tests/fixtures/ics`, origins and licences in its SOURCES.md).
pub fn fixtures_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ics")
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixtures_dir().join(format!("{name}.ics")))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

async fn partner(app: &TestApp, slug: &str) {
    app.create(
        "/api/v1/organisations",
        json!({"slug": slug, "name": slug, "kind": "partner"}),
    )
    .await;
}

async fn import(app: &TestApp, org: &str, body: Vec<u8>) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/api/v1/imports?organisation={org}")))
        .bearer_auth(&app.editor)
        .header("content-type", "text/calendar; charset=utf-8")
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn external_count(app: &TestApp) -> i64 {
    app.get_json("/api/v1/activities?kind=external").await["total"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn every_valid_client_file_imports() {
    let app = spawn_seeded_app().await;
    // (fixture, events created) — the counts are the fixtures' own events. Each
    // file is a different partner's calendar: some fixtures share UIDs.
    let cases = [
        ("google__us-public-holidays-allday", 111),
        ("exchange__o365-teams-request-daily", 1),
        ("exchange__o365-windows-tz-biweekly-exdate", 2),
        ("outlook__2016-long-html-altdesc", 1),
        ("apple__macos-rrule-exdate-override", 1),
        ("thunderbird__alarms-full-vtimezone", 1),
        ("nextcloud__allday-yearly-attendees-alarms", 1),
        ("i18n__multiscript-summaries", 9),
        ("i18n__emoji-summary", 1),
        ("malformed__fold-splits-utf8", 1),
        ("itip__rfc2446-request-reply-cancel", 8),
    ];
    let mut total = 0;
    for (name, created) in cases {
        let org = name.replace('_', "-");
        partner(&app, &org).await;
        let res = import(&app, &org, fixture(name)).await;
        let status = res.status();
        let report: Value = res.json().await.unwrap();
        assert_eq!(status, 200, "{name}: {report}");
        assert_eq!(report["created"], created, "{name}: {report}");
        total += created;
        // Importing the same file again changes nothing.
        let again: Value = import(&app, &org, fixture(name))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            (again["created"].clone(), again["updated"].clone()),
            (json!(0), json!(0)),
            "{name}: {again}"
        );
    }
    assert_eq!(external_count(&app).await, total);

    // Quirks are taken with a warning naming the line.
    let report: Value = import(&app, "i18n--emoji-summary", fixture("i18n__emoji-summary"))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        report["warnings"][0]["line"].as_u64().unwrap() > 0,
        "{report}"
    );
    let list = app
        .get_json("/api/v1/activities?kind=external&per_page=500")
        .await;
    let titles: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["title"].as_str().unwrap())
        .collect();
    assert!(titles.contains(&"🎄"));
    // The Apple series: an RRULE with exceptions, in its own zone.
    let apple = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["timing"]["time_zone"] == "America/Los_Angeles")
        .expect("the Apple event keeps its zone");
    assert!(
        apple["recurrence"]["rule"]
            .as_str()
            .unwrap()
            .contains("FREQ=MONTHLY")
    );
    assert!(
        !apple["recurrence"]["exceptions"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn broken_files_are_refused_naming_the_line_and_nothing_is_written() {
    let app = spawn_seeded_app().await;
    partner(&app, "partner").await;
    // The structure is broken: refused whole, however lenient the import.
    // (An unreadable event is refused whole only when asked: `?strict=true`.)
    for (name, line, query) in [
        ("malformed__truncated-missing-end", 215, ""),
        ("malformed__invalid-dtstart", 6, "&strict=true"),
        ("pregon__one-unusable-event", 14, "&strict=true"),
    ] {
        let res = app
            .client
            .post(app.url(&format!("/api/v1/imports?organisation=partner{query}")))
            .bearer_auth(&app.editor)
            .header("content-type", "text/calendar")
            .body(fixture(name))
            .send()
            .await
            .unwrap();
        let problem = expect_problem(res, 422).await;
        assert_eq!(problem["line"], line, "{name}: {problem}");
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains(&format!("line {line}"))
        );
    }
    let bad_utf8 = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:1\r\nDTSTAMP:20200101T000000Z\r\nDTSTART:20200101T100000Z\r\nSUMMARY:caf\xe9\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n".to_vec();
    let problem = expect_problem(import(&app, "partner", bad_utf8).await, 422).await;
    assert_eq!(problem["line"], 8, "{problem}");
    // A broken line outside any event spoils the calendar object: refused whole.
    let broken_calendar = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID;X=\"x:y\r\nBEGIN:VEVENT\r\nUID:1\r\nDTSTAMP:20200101T000000Z\r\nDTSTART:20200210T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n".to_vec();
    let problem = expect_problem(import(&app, "partner", broken_calendar).await, 422).await;
    assert_eq!(problem["line"], 3, "{problem}");
    // A valid event before a broken one is not kept: one transaction, all or nothing.
    let mut mixed = fixture("i18n__multiscript-summaries");
    mixed.extend_from_slice(b"\nBEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nUID:x\nDTSTART:2020");
    expect_problem(import(&app, "partner", mixed).await, 422).await;
    assert_eq!(external_count(&app).await, 0);
}

#[tokio::test]
async fn one_unusable_event_is_skipped_with_its_line_and_the_others_import() {
    let app = spawn_seeded_app().await;
    partner(&app, "partner").await;
    let res = import(&app, "partner", fixture("pregon__one-unusable-event")).await;
    assert_eq!(res.status(), 200);
    let report: Value = res.json().await.unwrap();
    assert_eq!(report["created"], 2, "{report}");
    assert_eq!(report["skipped"], 2, "{report}");
    let events = report["events"].as_array().unwrap();
    let outcome = |uid: &str| {
        events
            .iter()
            .find(|e| e["uid"] == uid)
            .unwrap_or_else(|| panic!("{uid} not in {report}"))
            .clone()
    };
    assert_eq!(outcome("good-1@pregon.test")["outcome"], "created");
    assert_eq!(outcome("good-4@pregon.test")["outcome"], "created");
    // The start swallowed by a broken quoted parameter: the event's line, and
    // the line at fault in the reason.
    let broken = outcome("broken-2@pregon.test");
    assert_eq!(broken["outcome"], "skipped");
    assert_eq!(broken["line"], 11);
    assert!(
        broken["reason"].as_str().unwrap().starts_with("line 14:"),
        "{broken}"
    );
    let impossible = outcome("bad-date-3@pregon.test");
    assert_eq!(impossible["outcome"], "skipped");
    assert!(
        impossible["reason"].as_str().unwrap().contains("20200230"),
        "{impossible}"
    );
    assert_eq!(external_count(&app).await, 2);
    // Importing again: the two are unchanged, the two still skipped.
    let report: Value = import(&app, "partner", fixture("pregon__one-unusable-event"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (report["unchanged"].as_u64(), report["skipped"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(external_count(&app).await, 2);
}

#[tokio::test]
async fn oversized_and_mistyped_uploads_are_refused() {
    let app = spawn_app_with(|s| s.imports.max_bytes = 1024 * 1024).await;
    partner(&app, "partner").await;
    let big = vec![b'A'; 2 * 1024 * 1024];
    expect_problem(import(&app, "partner", big).await, 413).await;
    let res = app
        .client
        .post(app.url("/api/v1/imports?organisation=partner"))
        .bearer_auth(&app.editor)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    expect_problem(res, 415).await;
    let res = import(&app, "nobody", fixture("i18n__emoji-summary")).await;
    let problem = expect_problem(res, 422).await;
    assert_eq!(problem["field"], "organisation");
}

const ONE_EVENT: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//UN-Habitat//x//EN\r\nBEGIN:VEVENT\r\nUID:wuf-2020@unhabitat\r\nDTSTAMP:20200101T000000Z\r\nSEQUENCE:{seq}\r\nLAST-MODIFIED:{modified}\r\nDTSTART;TZID=Africa/Johannesburg:20200208T090000\r\nDTEND;TZID=Africa/Johannesburg:20200208T170000\r\nSUMMARY:{title}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

fn one_event(seq: u32, modified: &str, title: &str) -> Vec<u8> {
    ONE_EVENT
        .replace("{seq}", &seq.to_string())
        .replace("{modified}", modified)
        .replace("{title}", title)
        .into_bytes()
}

#[tokio::test]
async fn only_a_higher_sequence_or_a_newer_modification_changes_an_import() {
    let app = spawn_seeded_app().await;
    partner(&app, "un-habitat-events").await;
    let org = "un-habitat-events";
    let r: Value = import(&app, org, one_event(1, "20200101T000000Z", "Forum"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["created"], 1);
    let r: Value = import(
        &app,
        org,
        one_event(0, "20200301T000000Z", "Older sequence"),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(r["unchanged"], 1, "{r}");
    let r: Value = import(
        &app,
        org,
        one_event(1, "20191201T000000Z", "Same sequence, older"),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(r["unchanged"], 1, "{r}");
    let r: Value = import(
        &app,
        org,
        one_event(1, "20200102T000000Z", "Same sequence, newer"),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(r["updated"], 1, "{r}");
    let r: Value = import(
        &app,
        org,
        one_event(2, "20191201T000000Z", "World Urban Forum"),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(r["updated"], 1, "{r}");
    let list = app.get_json("/api/v1/activities?kind=external").await;
    assert_eq!(list["total"], 1);
    let event = &list["items"][0];
    assert_eq!(event["title"], "World Urban Forum");
    assert_eq!(event["external_uid"], "wuf-2020@unhabitat");
    assert_eq!(event["timing"]["start_utc"], "2020-02-08T07:00:00Z");
    assert_eq!(event["timing"]["time_zone"], "Africa/Johannesburg");
    assert_eq!(event["visibility"], "internal");
}

#[tokio::test]
async fn exported_feeds_import_back_to_the_same_events() {
    let app = spawn_app().await;
    let f = crate::activities::fixture(&app).await;
    let mut monthly = crate::activities::activity(
        &f,
        json!({"precision": "exact", "start": "2020-01-07T10:00", "end": "2020-01-07T11:00", "time_zone": "Europe/Madrid"}),
    );
    monthly["recurrence"] = json!({
        "rule": "FREQ=MONTHLY;BYDAY=1TU",
        "exceptions": [
            {"occurrence": "2020-04-07T10:00:00", "cancelled": true},
            {"occurrence": "2020-05-05T10:00:00", "timing": {"precision": "exact", "start": "2020-05-06T16:00", "end": "2020-05-06T17:00", "time_zone": "Europe/Madrid"}}
        ]
    });
    let originals = vec![
        app.create("/api/v1/activities", monthly).await,
        app.create(
            "/api/v1/activities",
            crate::activities::activity(&f, json!({"precision": "days", "start": "2020-02-28", "end": "2020-03-01"})),
        )
        .await,
        app.create(
            "/api/v1/activities",
            crate::activities::activity(&f, json!({"precision": "exact", "start": "2019-11-12T14:00", "end": "2019-11-12T15:30", "time_zone": "Africa/Johannesburg"})),
        )
        .await,
    ];
    let ics = app
        .client
        .get(app.url("/feeds/public.ics?lang=en"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    partner(&app, "mirror").await;
    let r: Value = import(&app, "mirror", ics.into_bytes())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["created"], 3, "{r}");
    let imported = app.get_json("/api/v1/activities?kind=external").await;
    for original in originals {
        let copy = imported["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["external_uid"] == original["uid"])
            .unwrap_or_else(|| panic!("{} did not come back", original["uid"]));
        assert_eq!(copy["timing"], original["timing"]);
        assert_eq!(copy["recurrence"], original["recurrence"]);
        assert_eq!(copy["title"], original["translations"]["en"]["title"]);
    }
}

fn bare_event(props: &str) -> Vec<u8> {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Partner//x//EN\r\nBEGIN:VEVENT\r\nUID:meet@partner\r\n{props}END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    .into_bytes()
}

async fn import_report(app: &TestApp, org: &str, body: Vec<u8>) -> Value {
    let res = import(app, org, body).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

#[tokio::test]
async fn an_event_is_unchanged_only_if_what_it_says_is_unchanged() {
    let app = spawn_seeded_app().await;
    partner(&app, "partner").await;
    // RFC 5546 §2.1.5: at equal SEQUENCE the later DTSTAMP wins. An iTIP update
    // that keeps SEQUENCE and LAST-MODIFIED but is a newer message is applied.
    let itip = |stamp: &str, hour: &str| {
        bare_event(&format!(
            "SEQUENCE:3\r\nLAST-MODIFIED:20200101T000000Z\r\nDTSTAMP:{stamp}\r\nDTSTART:20200310T{hour}0000Z\r\nSUMMARY:Meeting\r\n"
        ))
    };
    let r = import_report(&app, "partner", itip("20200201T000000Z", "10")).await;
    assert_eq!(r["created"], 1, "{r}");
    let r = import_report(&app, "partner", itip("20200202T000000Z", "11")).await;
    assert_eq!(r["updated"], 1, "{r}");
    let r = import_report(&app, "partner", itip("20200102T000000Z", "12")).await;
    assert_eq!(r["unchanged"], 1, "an older DTSTAMP loses: {r}");
    assert!(
        r["events"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("DTSTAMP"),
        "{r}"
    );
    let list = app.get_json("/api/v1/activities?kind=external").await;
    assert_eq!(
        list["items"][0]["timing"]["start_utc"],
        "2020-03-10T11:00:00Z"
    );

    // Neither SEQUENCE nor LAST-MODIFIED (nor DTSTAMP): compared by content, so
    // a moved event is updated and an identical one is unchanged.
    partner(&app, "plain").await;
    let plain = |hour: &str| {
        bare_event(&format!(
            "DTSTART:20200410T{hour}0000Z\r\nSUMMARY:Plain\r\n"
        ))
    };
    assert_eq!(
        import_report(&app, "plain", plain("10")).await["created"],
        1
    );
    let r = import_report(&app, "plain", plain("10")).await;
    assert_eq!(r["unchanged"], 1, "{r}");
    let r = import_report(&app, "plain", plain("15")).await;
    assert_eq!(r["updated"], 1, "a moved event is updated: {r}");
    let list = app.get_json("/api/v1/activities?kind=external").await;
    let moved = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["timing"]["start_utc"] == "2020-04-10T15:00:00Z");
    assert!(moved, "{list}");
}

#[tokio::test]
async fn a_this_and_future_override_is_refused_clearly_not_applied_to_one_occurrence() {
    // RFC 5545 §3.8.4.4: RANGE=THISANDFUTURE changes this and every later
    // occurrence; applying it to one would publish the later ones wrong.
    let app = spawn_seeded_app().await;
    partner(&app, "partner").await;
    let r = import_report(&app, "partner", fixture("pregon__range-thisandfuture")).await;
    assert_eq!(
        (r["created"].as_u64(), r["skipped"].as_u64()),
        (Some(1), Some(1)),
        "{r}"
    );
    let skipped = r["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["outcome"] == "skipped")
        .unwrap();
    assert_eq!(skipped["line"], 12, "{r}");
    assert!(
        skipped["reason"]
            .as_str()
            .unwrap()
            .contains("THISANDFUTURE"),
        "{r}"
    );
    let list = app.get_json("/api/v1/activities?kind=external").await;
    let series = &list["items"][0];
    assert_eq!(series["recurrence"]["exceptions"], json!([]), "{series}");
    // With strict=true the file is refused, naming the line.
    let res = app
        .client
        .post(app.url("/api/v1/imports?organisation=partner&strict=true"))
        .bearer_auth(&app.editor)
        .header("content-type", "text/calendar")
        .body(fixture("pregon__range-thisandfuture"))
        .send()
        .await
        .unwrap();
    let problem = expect_problem(res, 422).await;
    assert_eq!(problem["field"], "line 12", "{problem}");
}

#[tokio::test]
async fn an_event_ending_in_the_repeated_hour_is_kept_in_utc() {
    // 02:00 CEST + 1 h ends at 02:00 CET, the second of two 02:00s on
    // 25 October 2020 in Madrid, which a TZID cannot say (RFC 5545 §3.3.5).
    let app = spawn_seeded_app().await;
    partner(&app, "partner").await;
    let r = import_report(
        &app,
        "partner",
        bare_event(
            "DTSTAMP:20200101T000000Z\r\nDTSTART;TZID=Europe/Madrid:20201025T020000\r\nDURATION:PT1H\r\nSUMMARY:Night shift\r\n",
        ),
    )
    .await;
    assert_eq!(r["created"], 1, "{r}");
    let warned = r["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w["message"].as_str().unwrap().contains("kept in UTC"));
    assert!(warned, "{r}");
    let list = app.get_json("/api/v1/activities?kind=external").await;
    let timing = &list["items"][0]["timing"];
    assert_eq!(timing["time_zone"], "UTC", "{timing}");
    assert_eq!(timing["start_utc"], "2020-10-25T00:00:00Z");
    assert_eq!(timing["end_utc"], "2020-10-25T01:00:00Z");
}
