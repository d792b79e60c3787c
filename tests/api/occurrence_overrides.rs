//! Overrides keep what they change (issue 12). RFC 5545 §3.8.4.4: a component
//! with a RECURRENCE-ID replaces that one instance of the series, with whatever
//! properties it carries — a new SUMMARY, DESCRIPTION or LOCATION as much as a
//! new time. Such an instance is stored per occurrence (its own text per
//! language), published on its date as a RECURRENCE-ID component, updated when
//! a file changes only it, and settable through the API.

use crate::activities::{activity, fixture};
use crate::feeds::validate;
use crate::helpers::*;
use serde_json::{Value, json};

fn calendar(events: &[&str]) -> Vec<u8> {
    let mut lines = vec![
        "BEGIN:VCALENDAR".to_owned(),
        "VERSION:2.0".to_owned(),
        "PRODID:-//Partner//Overrides//EN".to_owned(),
    ];
    for e in events {
        lines.push("BEGIN:VEVENT".into());
        lines.extend(e.lines().map(str::to_owned));
        lines.push("END:VEVENT".into());
    }
    lines.push("END:VCALENDAR".into());
    (lines.join("\r\n") + "\r\n").into_bytes()
}

async fn import(app: &TestApp, body: Vec<u8>) -> Value {
    let res = app
        .client
        .post(app.url("/api/v1/imports?organisation=partner"))
        .bearer_auth(&app.editor)
        .header("content-type", "text/calendar; charset=utf-8")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn series(app: &TestApp) -> Value {
    let list = app
        .get_json("/api/v1/activities?kind=external&per_page=100")
        .await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "one activity only: {list}");
    items[0].clone()
}

async fn ics_of(app: &TestApp, id: &Value) -> String {
    let res = app
        .get(&format!("/api/v1/activities/{id}/ics"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.text().await.unwrap()
}

/// (start, summary) of every occurrence, as recurring-ical-events expands them.
fn expanded(ics: &str) -> Vec<(String, String)> {
    let report = validate(ics, "2020-03-01", "2020-04-30");
    report["files"][0]["occurrences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["start"].as_str().unwrap().to_owned(),
                o["summary"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

const MASTER: &str = "UID:series@partner\nSEQUENCE:0\nDTSTAMP:20200101T000000Z\n\
DTSTART;TZID=Europe/Madrid:20200302T100000\nDTEND;TZID=Europe/Madrid:20200302T110000\n\
RRULE:FREQ=WEEKLY;COUNT=4\nSUMMARY:Weekly call\nDESCRIPTION:Agenda\nLOCATION:Room A";

fn renamed(summary: &str, location: &str) -> String {
    format!(
        "UID:series@partner\nSEQUENCE:0\nDTSTAMP:20200101T000000Z\n\
         RECURRENCE-ID;TZID=Europe/Madrid:20200309T100000\n\
         DTSTART;TZID=Europe/Madrid:20200309T100000\nDTEND;TZID=Europe/Madrid:20200309T110000\n\
         SUMMARY:{summary}\nDESCRIPTION:Agenda\\, with a guest\nLOCATION:{location}"
    )
}

#[tokio::test]
async fn an_override_that_changes_only_its_text_keeps_it() {
    let app = spawn_seeded_app().await;
    app.create(
        "/api/v1/organisations",
        json!({"slug": "partner", "name": "Partner", "kind": "partner"}),
    )
    .await;
    let r = import(
        &app,
        calendar(&[MASTER, &renamed("Weekly call: guest speaker", "Room B")]),
    )
    .await;
    assert_eq!(r["created"], 1, "{r}");
    let a = series(&app).await;
    assert_eq!(
        a["recurrence"]["exceptions"],
        json!([{
            "occurrence": "2020-03-09T10:00:00",
            "cancelled": false,
            "timing": a["recurrence"]["exceptions"][0]["timing"],
            "translations": {"en": {"title": "Weekly call: guest speaker",
                                     "description": "Agenda, with a guest"}},
            "location": "Room B"
        }]),
        "{a}"
    );
    // RFC 5545 §3.8.4.4: the instance is published on its date with its own text.
    let ics = ics_of(&app, &a["id"]).await;
    let overrides: Vec<&str> = ics
        .split("BEGIN:VEVENT")
        .filter(|e| e.contains("RECURRENCE-ID;TZID=Europe/Madrid:20200309T100000"))
        .collect();
    assert_eq!(overrides.len(), 1, "{ics}");
    assert!(
        overrides[0].contains("SUMMARY;LANGUAGE=en:Weekly call: guest speaker"),
        "{ics}"
    );
    assert!(overrides[0].contains("LOCATION:Room B"), "{ics}");
    assert!(
        overrides[0].contains("DESCRIPTION;LANGUAGE=en:Agenda\\, with a guest"),
        "{ics}"
    );
    assert_eq!(
        expanded(&ics),
        [
            ("2020-03-02T10:00:00+01:00".into(), "Weekly call".into()),
            (
                "2020-03-09T10:00:00+01:00".into(),
                "Weekly call: guest speaker".into()
            ),
            ("2020-03-16T10:00:00+01:00".into(), "Weekly call".into()),
            ("2020-03-23T10:00:00+01:00".into(), "Weekly call".into()),
        ]
    );

    // The same file again: unchanged. Only the override changed: updated.
    let r = import(
        &app,
        calendar(&[MASTER, &renamed("Weekly call: guest speaker", "Room B")]),
    )
    .await;
    assert_eq!(r["unchanged"], 1, "{r}");
    let r = import(
        &app,
        calendar(&[MASTER, &renamed("Weekly call: two guests", "Room C")]),
    )
    .await;
    assert_eq!(r["updated"], 1, "{r}");
    let a = series(&app).await;
    let e = &a["recurrence"]["exceptions"][0];
    assert_eq!(e["translations"]["en"]["title"], "Weekly call: two guests");
    assert_eq!(e["location"], "Room C");
    let ics = ics_of(&app, &a["id"]).await;
    assert!(ics.contains("SUMMARY;LANGUAGE=en:Weekly call: two guests"));
    assert!(!ics.contains("guest speaker"), "{ics}");

    // A moved and renamed instance alone in a file changes that occurrence of the
    // series imported earlier (not a new activity).
    let moved = "UID:series@partner\nSEQUENCE:1\nDTSTAMP:20200301T000000Z\n\
                 RECURRENCE-ID;TZID=Europe/Madrid:20200316T100000\n\
                 DTSTART;TZID=Europe/Madrid:20200317T120000\nDTEND;TZID=Europe/Madrid:20200317T130000\n\
                 SUMMARY:Weekly call (on Tuesday)\nDESCRIPTION:Agenda\nLOCATION:Room A";
    let r = import(&app, calendar(&[moved])).await;
    assert_eq!(
        (r["created"].clone(), r["updated"].clone()),
        (json!(0), json!(1)),
        "{r}"
    );
    let a = series(&app).await;
    let e = &a["recurrence"]["exceptions"][1];
    assert_eq!(e["occurrence"], "2020-03-16T10:00:00", "{a}");
    assert_eq!(e["timing"]["start"], "2020-03-17T12:00:00", "{a}");
    assert_eq!(
        e["translations"]["en"]["title"], "Weekly call (on Tuesday)",
        "{a}"
    );
    assert!(e.get("location").is_none(), "same place as the series: {a}");
    let ics = ics_of(&app, &a["id"]).await;
    assert_eq!(
        expanded(&ics)[2],
        (
            "2020-03-17T12:00:00+01:00".into(),
            "Weekly call (on Tuesday)".into()
        ),
        "{ics}"
    );
    // Again: nothing new.
    let r = import(&app, calendar(&[moved])).await;
    assert_eq!(r["unchanged"], 1, "{r}");
}

#[tokio::test]
async fn the_api_sets_an_occurrences_own_text() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let mut body = activity(
        &f,
        json!({"precision": "exact", "start": "2020-03-02T10:00", "end": "2020-03-02T11:00", "time_zone": "Europe/Madrid"}),
    );
    body["recurrence"] = json!({
        "rule": "FREQ=WEEKLY;COUNT=3",
        "exceptions": [
            {"occurrence": "2020-03-09T10:00:00",
             "translations": {"en": {"title": "Panel: closing session", "description": "With the mayor"},
                              "es": {"title": "Panel: sesión de clausura"}},
             "location": "Main hall"}
        ]
    });
    let created = app.create("/api/v1/activities", body.clone()).await;
    let e = &created["recurrence"]["exceptions"][0];
    assert_eq!(e["cancelled"], false);
    // Not moved: it keeps its own time.
    assert_eq!(e["timing"]["start"], "2020-03-09T10:00:00", "{created}");
    assert_eq!(
        e["translations"]["es"]["title"],
        "Panel: sesión de clausura"
    );
    assert_eq!(e["location"], "Main hall");

    for (lang, title) in [
        ("en", "Panel: closing session"),
        ("es", "Panel: sesión de clausura"),
        // No French text for that date: the occurrence's change in the
        // nearest language it has (French falls back to English), not the
        // series' French title, which that date no longer has.
        ("fr", "Panel: closing session"),
    ] {
        let res = app
            .get(&format!("/feeds/public.ics?lang={lang}"))
            .send()
            .await
            .unwrap();
        let ics = res.text().await.unwrap();
        let got = expanded(&ics);
        assert_eq!(got[1].1, title, "{lang}: {ics}");
        assert_eq!(got[0].1, got[2].1, "{lang}");
        assert!(ics.contains("LOCATION:Main hall"), "{ics}");
        if lang == "fr" {
            // Labelled with the language it is in (RFC 5545 §3.2.10).
            assert!(
                ics.contains("SUMMARY;LANGUAGE=en:Panel: closing session"),
                "{ics}"
            );
        }
    }

    // problem+json naming the field at fault.
    let cases = [
        (
            json!([{"occurrence": "2020-03-09T10:00:00", "cancelled": true,
                    "translations": {"en": {"title": "Gone"}}}]),
            "recurrence.exceptions[0].translations",
        ),
        (
            json!([{"occurrence": "2020-03-09T10:00:00", "cancelled": true, "location": "Hall"}]),
            "recurrence.exceptions[0].location",
        ),
        (
            json!([{"occurrence": "2020-03-10T10:00:00", "location": "Hall"}]),
            "recurrence.exceptions[0].occurrence",
        ),
        (
            json!([{"occurrence": "2020-03-09T10:00:00",
                    "translations": {"en": {"title": ""}}}]),
            "recurrence.exceptions[0].translations.en.title",
        ),
    ];
    for (exceptions, field) in cases {
        let mut bad = body.clone();
        bad["recurrence"]["exceptions"] = exceptions;
        let res = app.post("/api/v1/activities", &bad).send().await.unwrap();
        let problem = expect_problem(res, 422).await;
        let text = problem.to_string();
        assert!(
            problem["field"] == field
                || text.contains(&format!(
                    "#/{}",
                    field.replace(['.', '['], "/").replace(']', "")
                )),
            "expected {field}: {problem}"
        );
    }
}
