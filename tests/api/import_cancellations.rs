//! Imported cancellations cancel what they refer to (issue 12): a METHOD:CANCEL
//! message (RFC 5546 §3.2.5) cancels the event, or with RECURRENCE-ID one
//! occurrence of it, that was imported earlier from the same partner; an
//! override with STATUS:CANCELLED (RFC 5545 §3.8.1.11) of a series imported
//! earlier cancels that occurrence; an out-of-date one (RFC 5546 §2.1.5: a lower
//! SEQUENCE) changes nothing.

use crate::helpers::*;
use serde_json::{Value, json};

fn calendar(method: &str, events: &[String]) -> Vec<u8> {
    let mut lines = vec![
        "BEGIN:VCALENDAR".to_owned(),
        "VERSION:2.0".to_owned(),
        "PRODID:-//Partner//Cancellations//EN".to_owned(),
        format!("METHOD:{method}"),
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

async fn external(app: &TestApp, uid: &str) -> Value {
    let list = app
        .get_json("/api/v1/activities?kind=external&per_page=100")
        .await;
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["external_uid"] == uid)
        .unwrap_or_else(|| panic!("{uid} not in {list}"))
        .clone()
}

fn outcomes(report: &Value) -> Vec<(String, String)> {
    report["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["outcome"].as_str().unwrap().to_owned(),
                e["reason"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

const SERIES: &str = "UID:series@partner\nSEQUENCE:0\nDTSTAMP:20200101T000000Z\n\
DTSTART;TZID=Europe/Madrid:20200302T100000\nDTEND;TZID=Europe/Madrid:20200302T110000\n\
RRULE:FREQ=WEEKLY;COUNT=5\nSUMMARY:Weekly call";
const ONE: &str = "UID:one@partner\nSEQUENCE:0\nDTSTAMP:20200101T000000Z\n\
DTSTART:20200310T090000Z\nDTEND:20200310T100000Z\nSUMMARY:Workshop";

#[tokio::test]
async fn cancellations_cancel_the_event_or_occurrence_they_name() {
    let app = spawn_seeded_app().await;
    app.create(
        "/api/v1/organisations",
        json!({"slug": "partner", "name": "Partner", "kind": "partner"}),
    )
    .await;
    let r = import(&app, calendar("PUBLISH", &[SERIES.into(), ONE.into()])).await;
    assert_eq!(r["created"], 2, "{r}");

    // One message cancels the workshop, and the series' second occurrence.
    let cancel = calendar(
        "CANCEL",
        &[
            "UID:one@partner\nSEQUENCE:1\nDTSTAMP:20200201T000000Z\nSTATUS:CANCELLED".into(),
            "UID:series@partner\nSEQUENCE:1\nDTSTAMP:20200201T000000Z\n\
             RECURRENCE-ID;TZID=Europe/Madrid:20200309T100000"
                .into(),
            "UID:unknown@partner\nSEQUENCE:0\nDTSTAMP:20200201T000000Z".into(),
        ],
    );
    let r = import(&app, cancel.clone()).await;
    assert_eq!(
        (r["updated"].clone(), r["skipped"].clone()),
        (json!(2), json!(1)),
        "{r}"
    );
    assert!(
        outcomes(&r)[2].1.contains("not imported from this partner"),
        "{r}"
    );
    assert_eq!(external(&app, "one@partner").await["status"], "cancelled");
    let series = external(&app, "series@partner").await;
    // No STATUS in the file: planned (published without STATUS, as it came).
    assert_eq!(series["status"], "planned");
    assert_eq!(
        series["recurrence"]["exceptions"],
        json!([{"occurrence": "2020-03-09T10:00:00", "cancelled": true}]),
        "{series}"
    );
    let day = app
        .get_json("/api/v1/activities?kind=external&from=2020-03-09&to=2020-03-09")
        .await;
    assert_eq!(day["total"], 0, "{day}");

    // The same message again changes nothing.
    let r = import(&app, cancel).await;
    assert_eq!(
        (r["updated"].clone(), r["unchanged"].clone()),
        (json!(0), json!(2)),
        "{r}"
    );

    // An out-of-date cancellation of the whole series (SEQUENCE 0 < 1) is not applied.
    let stale = calendar(
        "CANCEL",
        &["UID:series@partner\nSEQUENCE:0\nDTSTAMP:20200301T000000Z".into()],
    );
    let r = import(&app, stale).await;
    assert_eq!(r["unchanged"], 1, "{r}");
    assert!(outcomes(&r)[0].1.contains("RFC 5546"), "{r}");
    assert_eq!(external(&app, "series@partner").await["status"], "planned");

    // A cancelled override alone in a published file cancels that occurrence of the
    // series imported earlier, instead of becoming an activity of its own.
    let instance = calendar(
        "PUBLISH",
        &["UID:series@partner\nSEQUENCE:2\nDTSTAMP:20200301T000000Z\n\
           RECURRENCE-ID;TZID=Europe/Madrid:20200316T100000\n\
           DTSTART;TZID=Europe/Madrid:20200316T100000\nDTEND;TZID=Europe/Madrid:20200316T110000\n\
           STATUS:CANCELLED\nSUMMARY:Weekly call"
            .into()],
    );
    let r = import(&app, instance).await;
    assert_eq!(
        (r["created"].clone(), r["updated"].clone()),
        (json!(0), json!(1)),
        "{r}"
    );
    let series = external(&app, "series@partner").await;
    let cancelled: Vec<_> = series["recurrence"]["exceptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["occurrence"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(cancelled, ["2020-03-09T10:00:00", "2020-03-16T10:00:00"]);
    let march = app
        .get_json("/api/v1/activities?kind=external&from=2020-03-01&to=2020-03-31")
        .await;
    let weekly = march["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["external_uid"] == "series@partner")
        .unwrap();
    assert_eq!(weekly["occurrences"].as_array().unwrap().len(), 3);

    // Finally the whole series is cancelled.
    let r = import(
        &app,
        calendar(
            "CANCEL",
            &["UID:series@partner\nSEQUENCE:3\nDTSTAMP:20200401T000000Z".into()],
        ),
    )
    .await;
    assert_eq!(r["updated"], 1, "{r}");
    assert_eq!(
        external(&app, "series@partner").await["status"],
        "cancelled"
    );
}
