//! Invitations to an activity's participants, received by the loopback SMTP
//! server and parsed: REQUEST with the feeds' UID, an update with a higher
//! SEQUENCE when the time or place changes, CANCEL when it is cancelled.

use crate::helpers::*;
use crate::mail::*;
use mail_parser::{MessageParser, MimeHeaders};
use serde_json::{Value, json};

/// The text/calendar part of a received message, with its method parameter.
fn calendar_part(data: &[u8]) -> (String, String) {
    let message = MessageParser::default().parse(data).unwrap();
    let part = message
        .parts
        .iter()
        .find(|p| {
            p.content_type()
                .is_some_and(|ct| ct.ctype() == "text" && ct.subtype() == Some("calendar"))
        })
        .expect("a text/calendar part");
    let method = part
        .content_type()
        .unwrap()
        .attribute("method")
        .unwrap()
        .to_owned();
    (method, part.text_contents().unwrap().replace("\r\n ", ""))
}

/// The VEVENT of a calendar (its VTIMEZONE has DTSTARTs of its own).
fn vevent(ics: &str) -> &str {
    let start = ics.find("BEGIN:VEVENT").expect("a VEVENT");
    let end = ics.find("END:VEVENT").expect("its end");
    &ics[start..end]
}

fn property<'a>(ics: &'a str, name: &str) -> Vec<&'a str> {
    ics.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with([':', ';']))
        .collect()
}

#[tokio::test]
async fn participants_get_request_update_and_cancel_with_the_feeds_uid() {
    let mail = spawn_mail_app().await;
    let app = &mail.app;
    let f = crate::activities::fixture(app).await;
    let mut body = crate::activities::activity(
        &f,
        json!({"precision": "exact", "start": "2026-03-10T10:00", "end": "2026-03-10T12:00", "time_zone": "Europe/Madrid"}),
    );
    body["place"] = json!({"name": "Palacio Euskalduna", "address": "Bilbao"});
    let activity = app.create("/api/v1/activities", body.clone()).await;
    let id = activity["id"].as_i64().unwrap();
    let uid = activity["uid"].as_str().unwrap().to_owned();
    let mayor = app
        .create(
            "/api/v1/people",
            json!({"name": "Juan Mari Aburto", "title": "Mayor of Bilbao", "email": "mayor@bilbao.example", "language": "es"}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let no_email = app
        .create("/api/v1/people", json!({"name": "No Address"}))
        .await["id"]
        .as_i64()
        .unwrap();
    for person in [mayor, no_email] {
        app.create(
            "/api/v1/participations",
            json!({"activity_id": id, "person_id": person, "role": "speaker"}),
        )
        .await;
    }

    app.approve(&format!("/api/v1/activities/{id}")).await;
    let res = app
        .post(&format!("/api/v1/activities/{id}/invitations"), &json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let invited: Value = res.json().await.unwrap();
    assert_eq!(invited["queued"], 1, "{invited}");
    mail.run().await;
    let received = mail.received_by("mayor@bilbao.example");
    assert_eq!(received.len(), 1);
    let message = MessageParser::default()
        .parse(&received[0].data[..])
        .unwrap();
    assert_eq!(message.subject(), Some("Invitación: Panel (es)"));
    let (method, ics) = calendar_part(&received[0].data);
    assert_eq!(method, "REQUEST");
    assert_eq!(property(&ics, "METHOD"), ["METHOD:REQUEST"]);
    assert_eq!(
        property(vevent(&ics), "UID"),
        [format!("UID:{uid}").as_str()]
    );
    assert_eq!(property(vevent(&ics), "SEQUENCE"), ["SEQUENCE:0"]);
    assert_eq!(
        property(vevent(&ics), "DTSTART"),
        ["DTSTART;TZID=Europe/Madrid:20260310T100000"]
    );
    assert!(ics.contains("BEGIN:VTIMEZONE"), "{ics}");
    assert!(
        property(vevent(&ics), "ATTENDEE")[0].ends_with(":mailto:mayor@bilbao.example"),
        "{ics}"
    );
    assert!(
        property(vevent(&ics), "ORGANIZER")[0].ends_with(&format!(":mailto:{FROM}")),
        "{ics}"
    );
    // The same UID as the calendar feeds publish.
    let feed = app
        .get(&format!("/api/v1/activities/{id}/ics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(feed.contains(&format!("UID:{uid}")), "{feed}");

    // Asking again sends nothing new: the mayor has this SEQUENCE already.
    let again: Value = app
        .post(&format!("/api/v1/activities/{id}/invitations"), &json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again["queued"], 0);

    // The time changes: an update with a higher SEQUENCE goes out by itself.
    body["timing"] = json!({"precision": "exact", "start": "2026-03-10T16:00", "end": "2026-03-10T18:00", "time_zone": "Europe/Madrid"});
    body["version"] = activity["version"].clone();
    let res = app
        .put(&format!("/api/v1/activities/{id}"), &body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let moved: Value = res.json().await.unwrap();
    mail.run().await;
    let received = mail.received_by("mayor@bilbao.example");
    assert_eq!(received.len(), 2);
    let (method, ics) = calendar_part(&received[1].data);
    assert_eq!(method, "REQUEST");
    assert_eq!(
        property(vevent(&ics), "UID"),
        [format!("UID:{uid}").as_str()]
    );
    assert_eq!(property(vevent(&ics), "SEQUENCE"), ["SEQUENCE:1"]);
    assert_eq!(
        property(vevent(&ics), "DTSTART"),
        ["DTSTART;TZID=Europe/Madrid:20260310T160000"]
    );
    let subject = MessageParser::default()
        .parse(&received[1].data[..])
        .unwrap()
        .subject()
        .unwrap()
        .to_owned();
    assert!(subject.starts_with("Invitación actualizada"), "{subject}");

    // Cancelled: METHOD:CANCEL, same UID, higher SEQUENCE.
    body["status"] = json!("cancelled");
    body["version"] = moved["version"].clone();
    let res = app
        .put(&format!("/api/v1/activities/{id}"), &body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    mail.run().await;
    let received = mail.received_by("mayor@bilbao.example");
    assert_eq!(received.len(), 3);
    let (method, ics) = calendar_part(&received[2].data);
    assert_eq!(method, "CANCEL");
    assert_eq!(property(&ics, "METHOD"), ["METHOD:CANCEL"]);
    assert_eq!(
        property(vevent(&ics), "UID"),
        [format!("UID:{uid}").as_str()]
    );
    assert_eq!(property(vevent(&ics), "SEQUENCE"), ["SEQUENCE:2"]);
    assert_eq!(property(vevent(&ics), "STATUS"), ["STATUS:CANCELLED"]);

    let list = app
        .get_json(&format!("/api/v1/activities/{id}/invitations"))
        .await;
    let states: Vec<(&str, &str, i64)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["state"].as_str().unwrap(),
                d["method"].as_str().unwrap(),
                d["sequence"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("sent", "cancel", 2),
            ("sent", "request", 1),
            ("sent", "request", 0)
        ]
    );
}

#[tokio::test]
async fn undated_activities_cannot_be_invited_to() {
    let mail = spawn_mail_app().await;
    let app = &mail.app;
    let f = crate::activities::fixture(app).await;
    let id = app
        .create(
            "/api/v1/activities",
            crate::activities::activity(&f, json!({"precision": "tbc"})),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    app.approve(&format!("/api/v1/activities/{id}")).await;
    let res = app
        .post(&format!("/api/v1/activities/{id}/invitations"), &json!({}))
        .send()
        .await
        .unwrap();
    expect_problem(res, 422).await;
}

#[tokio::test]
async fn removed_participants_get_a_cancel_and_invited_activities_are_cancelled_before_deletion() {
    let mail = spawn_mail_app().await;
    let app = &mail.app;
    let f = crate::activities::fixture(app).await;
    let body = crate::activities::activity(
        &f,
        json!({"precision": "days", "start": "2026-05-04", "end": "2026-05-05"}),
    );
    let activity = app.create("/api/v1/activities", body.clone()).await;
    let id = activity["id"].as_i64().unwrap();
    let mut participations = Vec::new();
    for email in ["speaker@uraia.example", "late@uraia.example"] {
        let person = app
            .create("/api/v1/people", json!({"name": email, "email": email}))
            .await["id"]
            .as_i64()
            .unwrap();
        participations.push(
            app.create(
                "/api/v1/participations",
                json!({"activity_id": id, "person_id": person, "role": "speaker"}),
            )
            .await["id"]
                .as_i64()
                .unwrap(),
        );
    }
    app.approve(&format!("/api/v1/activities/{id}")).await;
    app.post(&format!("/api/v1/activities/{id}/invitations"), &json!({}))
        .send()
        .await
        .unwrap();
    mail.run().await;
    assert_eq!(mail.received_by("speaker@uraia.example").len(), 1);

    // Deleting would leave the invited without word: refused until cancelled.
    let res = app
        .delete(&format!("/api/v1/activities/{id}"))
        .send()
        .await
        .unwrap();
    expect_problem(res, 409).await;

    // Removing a participant sends them the cancellation of the same event.
    let res = app
        .delete(&format!("/api/v1/participations/{}", participations[0]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    mail.run().await;
    let received = mail.received_by("speaker@uraia.example");
    assert_eq!(received.len(), 2);
    let (method, ics) = calendar_part(&received[1].data);
    assert_eq!(method, "CANCEL");
    assert_eq!(
        property(vevent(&ics), "UID"),
        [format!("UID:{}", activity["uid"].as_str().unwrap()).as_str()]
    );

    // Cancelled, then deleted.
    let mut cancelled = body.clone();
    cancelled["status"] = json!("cancelled");
    cancelled["version"] = json!(1);
    let res = app
        .put(&format!("/api/v1/activities/{id}"), &cancelled)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    mail.run().await;
    let (method, _) = calendar_part(&mail.received_by("late@uraia.example")[1].data);
    assert_eq!(method, "CANCEL");
    let res = app
        .delete(&format!("/api/v1/activities/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
}

/// A partner's event imported from its calendar goes through the same
/// operation as a hand edit: when the partner moves it, those invited get the
/// update, and the history says it came from the import.
#[tokio::test]
async fn an_imported_event_that_moves_sends_updates_to_those_invited() {
    let mail = spawn_mail_app().await;
    let app = &mail.app;
    crate::activities::fixture(app).await;
    app.create(
        "/api/v1/organisations",
        json!({"slug": "uraia", "name": "URAIA", "kind": "partner"}),
    )
    .await;
    let calendar = |sequence: u32, day: u32| {
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//URAIA//Agenda//EN\r\nBEGIN:VEVENT\r\n\
             UID:annual-2020@uraia.example\r\nDTSTAMP:2020050{}T090000Z\r\nSEQUENCE:{sequence}\r\n\
             DTSTART;TZID=Europe/Madrid:202010{day:02}T100000\r\nDTEND;TZID=Europe/Madrid:202010{day:02}T120000\r\n\
             SUMMARY:URAIA annual event\\, Málaga\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
            sequence + 1
        )
    };
    let import = |body: String| async move {
        let res = app
            .client
            .post(app.url("/api/v1/imports?organisation=uraia"))
            .bearer_auth(&app.editor)
            .header("content-type", "text/calendar; charset=utf-8")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let report: Value = res.json().await.unwrap();
        assert_eq!(status, 200, "{report}");
        report
    };
    let first = import(calendar(0, 7)).await;
    assert_eq!(first["created"], 1, "{first}");
    let id = app.get_json("/api/v1/activities?kind=external").await["items"][0]["id"]
        .as_i64()
        .unwrap();
    let person = app
        .create(
            "/api/v1/people",
            json!({"name": "Speaker", "email": "speaker@bilbao.example", "language": "en"}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    app.create(
        "/api/v1/participations",
        json!({"activity_id": id, "person_id": person, "role": "speaker"}),
    )
    .await;
    app.approve(&format!("/api/v1/activities/{id}")).await;
    let res = app
        .post(&format!("/api/v1/activities/{id}/invitations"), &json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    mail.run().await;
    assert_eq!(mail.received_by("speaker@bilbao.example").len(), 1);

    // URAIA moves it a day later (SEQUENCE 1) and its calendar is imported again.
    let report = import(calendar(1, 8)).await;
    assert_eq!(report["updated"], 1, "{report}");
    mail.run().await;
    let received = mail.received_by("speaker@bilbao.example");
    assert_eq!(received.len(), 2, "the move reached the invited");
    let (method, ics) = calendar_part(&received[1].data);
    assert_eq!(method, "REQUEST");
    assert_eq!(
        property(vevent(&ics), "DTSTART"),
        ["DTSTART;TZID=Europe/Madrid:20201008T100000"]
    );
    assert_eq!(property(vevent(&ics), "SEQUENCE"), ["SEQUENCE:1"]);

    let history = app
        .get_json(&format!("/api/v1/activities/{id}/history"))
        .await;
    let moved = history
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "updated")
        .expect("the import's update is in the history");
    assert_eq!(moved["reason"], "import from uraia");
    assert!(
        moved["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["field"].as_str().unwrap().starts_with("timing")),
        "{moved}"
    );
}
