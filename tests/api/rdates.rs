//! RDATE occurrences are modelled (issue 12). RFC 5545 §3.8.5.2: RDATE adds
//! occurrences to a series, as DATE, DATE-TIME (with TZID) or PERIOD values;
//! they are imported, stored, shown in the API's recurrence, counted when a
//! date range is asked for, and published, and an independent expander
//! (recurring-ical-events) finds them in the feed.

use crate::activities::{activity, fixture};
use crate::feeds::validate;
use crate::helpers::*;
use serde_json::{Value, json};

fn calendar(events: &[&str]) -> Vec<u8> {
    let mut lines = vec![
        "BEGIN:VCALENDAR".to_owned(),
        "VERSION:2.0".to_owned(),
        "PRODID:-//Partner//Rdates//EN".to_owned(),
    ];
    for e in events {
        lines.push("BEGIN:VEVENT".into());
        lines.extend(e.lines().map(str::to_owned));
        lines.push("END:VEVENT".into());
    }
    lines.push("END:VCALENDAR".into());
    (lines.join("\r\n") + "\r\n").into_bytes()
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

fn starts(ics: &str, from: &str, to: &str) -> Vec<(String, String)> {
    let report = validate(ics, from, to);
    report["files"][0]["occurrences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["start"].as_str().unwrap().to_owned(),
                o["end"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn imported_rdates_are_stored_expanded_and_published() {
    let app = spawn_seeded_app().await;
    app.create(
        "/api/v1/organisations",
        json!({"slug": "partner", "name": "Partner", "kind": "partner"}),
    )
    .await;
    let timed = "UID:timed@partner\nDTSTAMP:20200101T000000Z\n\
        DTSTART;TZID=Europe/Madrid:20200302T100000\nDTEND;TZID=Europe/Madrid:20200302T110000\n\
        RRULE:FREQ=WEEKLY;COUNT=2\n\
        RDATE;TZID=Europe/Madrid:20200305T150000,20200320T090000\n\
        RDATE;VALUE=PERIOD:20200306T090000Z/20200306T120000Z\n\
        RDATE;VALUE=DATE:20200307\nSUMMARY:Weekly call";
    let days = "UID:days@partner\nDTSTAMP:20200101T000000Z\n\
        DTSTART;VALUE=DATE:20200401\nDTEND;VALUE=DATE:20200402\n\
        RRULE:FREQ=MONTHLY;COUNT=2\nRDATE;VALUE=DATE:20200415\nSUMMARY:Deadline";
    let res = app
        .client
        .post(app.url("/api/v1/imports?organisation=partner"))
        .bearer_auth(&app.editor)
        .header("content-type", "text/calendar; charset=utf-8")
        .body(calendar(&[timed, days]))
        .send()
        .await
        .unwrap();
    let r: Value = res.json().await.unwrap();
    assert_eq!(r["created"], 2, "{r}");
    // A DATE among a timed series' RDATEs is not of its kind: warned, left out.
    assert!(
        r["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["message"].as_str().unwrap().contains("RDATE 2020-03-07")),
        "{r}"
    );
    let list = app
        .get_json("/api/v1/activities?kind=external&per_page=100")
        .await;
    let find = |uid: &str| {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["external_uid"] == uid)
            .unwrap()
            .clone()
    };
    let a = find("timed@partner");
    assert_eq!(
        a["recurrence"]["rdates"],
        json!([
            "2020-03-05T15:00:00",
            "2020-03-06T10:00:00",
            "2020-03-20T09:00:00"
        ]),
        "{a}"
    );
    // The PERIOD lasts three hours, the series one: that occurrence is changed.
    let e = &a["recurrence"]["exceptions"][0];
    assert_eq!(e["occurrence"], "2020-03-06T10:00:00", "{a}");
    assert_eq!(e["timing"]["end"], "2020-03-06T13:00:00", "{a}");
    assert_eq!(
        find("days@partner")["recurrence"]["rdates"],
        json!(["2020-04-15"])
    );

    // Counted in date-range answers (the stored span reaches the last RDATE).
    let late = app
        .get_json("/api/v1/activities?kind=external&from=2020-03-20&to=2020-03-20")
        .await;
    assert_eq!(late["total"], 1, "{late}");
    assert_eq!(
        late["items"][0]["occurrences"][0]["occurrence"], "2020-03-20T09:00:00",
        "{late}"
    );
    let mid = app
        .get_json("/api/v1/activities?kind=external&from=2020-04-15&to=2020-04-15")
        .await;
    assert_eq!(mid["total"], 1, "{mid}");

    // Published as RDATE, and found by an independent expander.
    let ics = ics_of(&app, &a["id"]).await;
    assert!(
        ics.contains("RDATE;TZID=Europe/Madrid:20200305T150000\r\n"),
        "{ics}"
    );
    assert!(
        ics.contains("RECURRENCE-ID;TZID=Europe/Madrid:20200306T100000"),
        "{ics}"
    );
    assert_eq!(
        starts(&ics, "2020-03-01", "2020-03-31"),
        [
            (
                "2020-03-02T10:00:00+01:00".into(),
                "2020-03-02T11:00:00+01:00".into()
            ),
            (
                "2020-03-05T15:00:00+01:00".into(),
                "2020-03-05T16:00:00+01:00".into()
            ),
            (
                "2020-03-06T10:00:00+01:00".into(),
                "2020-03-06T13:00:00+01:00".into()
            ),
            (
                "2020-03-09T10:00:00+01:00".into(),
                "2020-03-09T11:00:00+01:00".into()
            ),
            (
                "2020-03-20T09:00:00+01:00".into(),
                "2020-03-20T10:00:00+01:00".into()
            ),
        ]
    );
    let days_ics = ics_of(&app, &find("days@partner")["id"]).await;
    assert!(
        days_ics.contains("RDATE;VALUE=DATE:20200415\r\n"),
        "{days_ics}"
    );
    assert_eq!(starts(&days_ics, "2020-04-01", "2020-05-31").len(), 3);
}

#[tokio::test]
async fn the_api_takes_rdates_of_the_series_kind() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let mut body = activity(
        &f,
        json!({"precision": "exact", "start": "2020-01-13T10:00", "end": "2020-01-13T11:00", "time_zone": "Europe/Madrid"}),
    );
    body["recurrence"] = json!({"rule": "FREQ=WEEKLY;COUNT=2", "rdates": ["2020-06-10T18:30:00"]});
    let created = app.create("/api/v1/activities", body.clone()).await;
    assert_eq!(
        created["recurrence"]["rdates"],
        json!(["2020-06-10T18:30:00"])
    );
    let june = app
        .get_json("/api/v1/activities?from=2020-06-01&to=2020-06-30")
        .await;
    assert_eq!(june["total"], 1, "{june}");
    let res = app.get("/feeds/public.ics").send().await.unwrap();
    let ics = res.text().await.unwrap();
    assert!(
        ics.contains("RDATE;TZID=Europe/Madrid:20200610T183000\r\n"),
        "{ics}"
    );
    assert_eq!(starts(&ics, "2020-01-01", "2020-12-31").len(), 3);

    for (rdates, field) in [
        (json!(["2020-06-10"]), "recurrence.rdates[0]"),
        // 02:30 does not exist in Madrid on 29 March 2020.
        (json!(["2020-03-29T02:30:00"]), "recurrence.rdates[0]"),
    ] {
        let mut bad = body.clone();
        bad["recurrence"]["rdates"] = rdates;
        let res = app.post("/api/v1/activities", &bad).send().await.unwrap();
        let problem = expect_problem(res, 422).await;
        assert!(
            problem["field"] == field || problem.to_string().contains("#/recurrence/rdates/0"),
            "expected {field}: {problem}"
        );
    }
}

/// RFC 5545 §3.8.5.2: "The recurrence set is the complete set of recurrence
/// instances for a calendar component. The recurrence set is generated by
/// considering the initial "DTSTART" property along with the "RRULE", "RDATE",
/// and "EXDATE" properties contained within the recurring component." A set of
/// dates needs no rule: DTSTART and its RDATEs are the series. Such an event is
/// imported as that series (not only its DTSTART), counted by range queries and
/// published again as RDATEs without an RRULE.
#[tokio::test]
async fn rdates_without_a_rule_are_a_series_of_those_dates() {
    let app = spawn_seeded_app().await;
    app.create(
        "/api/v1/organisations",
        json!({"slug": "partner", "name": "Partner", "kind": "partner"}),
    )
    .await;
    let timed = "UID:dates@partner\nDTSTAMP:20200101T000000Z\n\
        DTSTART;TZID=Europe/Madrid:20200302T100000\nDTEND;TZID=Europe/Madrid:20200302T113000\n\
        RDATE;TZID=Europe/Madrid:20200317T160000,20200331T100000\n\
        EXDATE;TZID=Europe/Madrid:20200317T160000\n\
        RDATE;TZID=Europe/Madrid:20200414T100000\nSUMMARY:Steering group";
    let days = "UID:days@partner\nDTSTAMP:20200101T000000Z\n\
        DTSTART;VALUE=DATE:20200501\nRDATE;VALUE=DATE:20200601,20200701\nSUMMARY:Deadline";
    let res = app
        .client
        .post(app.url("/api/v1/imports?organisation=partner"))
        .bearer_auth(&app.editor)
        .header("content-type", "text/calendar; charset=utf-8")
        .body(calendar(&[timed, days]))
        .send()
        .await
        .unwrap();
    let r: Value = res.json().await.unwrap();
    assert_eq!(r["created"], 2, "{r}");
    assert!(
        !r["warnings"].to_string().contains("RDATE"),
        "no RDATE is left out: {r}"
    );
    let list = app
        .get_json("/api/v1/activities?kind=external&per_page=100")
        .await;
    let find = |uid: &str| {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["external_uid"] == uid)
            .unwrap()
            .clone()
    };
    let a = find("dates@partner");
    assert_eq!(a["recurrence"]["rule"], "", "{a}");
    assert_eq!(
        a["recurrence"]["rdates"],
        json!([
            "2020-03-17T16:00:00",
            "2020-03-31T10:00:00",
            "2020-04-14T10:00:00"
        ]),
        "{a}"
    );
    assert_eq!(
        a["recurrence"]["exceptions"],
        json!([{"occurrence": "2020-03-17T16:00:00", "cancelled": true}]),
        "{a}"
    );

    // Range queries count each date (and not the cancelled one), DST changed in between.
    for (day, count) in [
        ("2020-03-02", 1),
        ("2020-03-17", 0),
        ("2020-03-31", 1),
        ("2020-04-14", 1),
        ("2020-04-07", 0),
    ] {
        let found = app
            .get_json(&format!(
                "/api/v1/activities?kind=external&from={day}&to={day}"
            ))
            .await;
        assert_eq!(found["total"], count, "{day}: {found}");
    }
    let june = app
        .get_json("/api/v1/activities?kind=external&from=2020-06-01&to=2020-07-31")
        .await;
    assert_eq!(june["total"], 1, "{june}");
    assert_eq!(
        june["items"][0]["occurrences"].as_array().unwrap().len(),
        2,
        "{june}"
    );

    // Published again as RDATEs without an RRULE, and an independent expander
    // (recurring-ical-events) finds the same occurrences.
    let ics = ics_of(&app, &a["id"]).await;
    let event = |ics: &str| ics.split("BEGIN:VEVENT").nth(1).unwrap().to_owned();
    assert!(!event(&ics).contains("RRULE"), "{ics}");
    assert!(
        ics.contains("RDATE;TZID=Europe/Madrid:20200331T100000\r\n"),
        "{ics}"
    );
    assert!(
        ics.contains("EXDATE;TZID=Europe/Madrid:20200317T160000\r\n"),
        "{ics}"
    );
    assert_eq!(
        starts(&ics, "2020-01-01", "2020-12-31"),
        [
            (
                "2020-03-02T10:00:00+01:00".into(),
                "2020-03-02T11:30:00+01:00".into()
            ),
            (
                "2020-03-31T10:00:00+02:00".into(),
                "2020-03-31T11:30:00+02:00".into()
            ),
            (
                "2020-04-14T10:00:00+02:00".into(),
                "2020-04-14T11:30:00+02:00".into()
            ),
        ]
    );
    let days_ics = ics_of(&app, &find("days@partner")["id"]).await;
    assert!(!event(&days_ics).contains("RRULE"), "{days_ics}");
    assert_eq!(starts(&days_ics, "2020-01-01", "2020-12-31").len(), 3);

    // The API takes such a series too: an empty rule with dates.
    let f = crate::activities::fixture(&app).await;
    let mut body = activity(
        &f,
        json!({"precision": "days", "start": "2020-02-03", "end": "2020-02-03"}),
    );
    body["recurrence"] = json!({"rule": "", "rdates": ["2020-02-17"]});
    let created = app.create("/api/v1/activities", body.clone()).await;
    assert_eq!(created["recurrence"]["rdates"], json!(["2020-02-17"]));
    // ... but not an empty rule without dates.
    body["recurrence"] = json!({"rule": "", "rdates": []});
    let res = app.post("/api/v1/activities", &body).send().await.unwrap();
    let problem = expect_problem(res, 422).await;
    assert!(problem.to_string().contains("recurrence.rule"), "{problem}");
}
