//! Answers to invitations: the invitation goes out through the real SMTP
//! test server with the configured ORGANIZER; the participant's calendar
//! replies (iTIP METHOD:REPLY, built from the invitation received, as a
//! calendar program does); the answer shows on the participation, in the
//! activity and in the history.

use crate::helpers::*;
use crate::mail::*;
use mail_parser::{MessageParser, MimeHeaders};
use serde_json::{Value, json};

const ORGANIZER: &str = "agenda@pregon.test";

/// The text/calendar part of a received message, unfolded.
pub fn calendar_part(data: &[u8]) -> String {
    let message = MessageParser::default().parse(data).unwrap();
    let part = message
        .parts
        .iter()
        .find(|p| {
            p.content_type()
                .is_some_and(|ct| ct.ctype() == "text" && ct.subtype() == Some("calendar"))
        })
        .expect("a text/calendar part");
    part.text_contents().unwrap().replace("\r\n ", "")
}

pub fn line_of<'a>(ics: &'a str, name: &str) -> &'a str {
    let event = &ics[ics.find("BEGIN:VEVENT").unwrap()..];
    event
        .lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with([':', ';']))
        .unwrap_or_else(|| panic!("no {name} in {ics}"))
}

/// What a calendar program sends back: the invitation's UID, SEQUENCE and
/// ORGANIZER, the one attendee with their PARTSTAT.
pub fn reply_to(invitation: &str, attendee: &str, partstat: &str, sequence: Option<i64>) -> String {
    let value = |name| {
        line_of(invitation, name)
            .split_once(':')
            .unwrap()
            .1
            .to_owned()
    };
    let sequence = sequence.map_or_else(|| value("SEQUENCE"), |s| s.to_string());
    format!(
        "BEGIN:VCALENDAR\r\nPRODID:-//Google Inc//Google Calendar 70.9054//EN\r\nVERSION:2.0\r\n\
         METHOD:REPLY\r\nBEGIN:VEVENT\r\nDTSTART:20260310T090000Z\r\nDTEND:20260310T110000Z\r\n\
         DTSTAMP:20260301T080000Z\r\n{}\r\nUID:{}\r\n\
         ATTENDEE;CN=Juan Mari Aburto;PARTSTAT={partstat}:mailto:{attendee}\r\n\
         SEQUENCE:{sequence}\r\nSUMMARY:Panel\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        line_of(invitation, "ORGANIZER"),
        value("UID"),
    )
}

async fn post_reply(app: &TestApp, content_type: &str, body: String) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/invitations/replies"))
        .bearer_auth(&app.editor)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_participants_reply_sets_their_answer_with_history() {
    let mail = spawn_mail_app_with(|s| s.email.invitation_organizer = ORGANIZER.into()).await;
    let app = &mail.app;
    let f = crate::activities::fixture(app).await;
    let body = crate::activities::activity(
        &f,
        json!({"precision": "exact", "start": "2026-03-10T10:00", "end": "2026-03-10T12:00", "time_zone": "Europe/Madrid"}),
    );
    let activity = app.create("/api/v1/activities", body).await;
    let id = activity["id"].as_i64().unwrap();
    let mayor = app
        .create(
            "/api/v1/people",
            json!({"name": "Juan Mari Aburto", "email": "Mayor@Bilbao.example", "language": "es"}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let other = app
        .create(
            "/api/v1/people",
            json!({"name": "Not Invited", "email": "other@example.org"}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let participation = app
        .create(
            "/api/v1/participations",
            json!({"activity_id": id, "person_id": mayor, "role": "speaker"}),
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
    assert_eq!(res.status(), 202);
    mail.run().await;
    let received = mail.received_by("mayor@bilbao.example");
    assert_eq!(received.len(), 1);
    let invitation = calendar_part(&received[0].data);
    // The ORGANIZER is the configured address, not the newsletter's sender.
    assert!(
        line_of(&invitation, "ORGANIZER").ends_with(&format!(":mailto:{ORGANIZER}")),
        "{invitation}"
    );

    // Accepted, as the calendar sends it: the whole email to the ORGANIZER.
    let ics = reply_to(&invitation, "mayor@bilbao.example", "ACCEPTED", None);
    let email = format!(
        "From: Juan Mari Aburto <mayor@bilbao.example>\r\nTo: {ORGANIZER}\r\n\
         Subject: Accepted: Panel\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"x\"\r\n\r\n--x\r\n\
         Content-Type: text/plain; charset=UTF-8\r\n\r\nJuan Mari Aburto has accepted.\r\n--x\r\n\
         Content-Type: text/calendar; charset=UTF-8; method=REPLY\r\n\r\n{ics}--x--\r\n"
    );
    let res = post_reply(app, "message/rfc822", email).await;
    let status = res.status();
    let outcome: Value = res.json().await.unwrap();
    assert_eq!(status, 200, "{outcome}");
    assert_eq!(outcome["answer"], "accepted");
    assert_eq!(outcome["recorded"], true);
    assert_eq!(outcome["participation_ids"], json!([participation]));

    let view = app
        .get_json(&format!("/api/v1/participations/{participation}"))
        .await;
    assert_eq!(view["answer"], "accepted", "{view}");
    assert!(view["answered_at"].is_string(), "{view}");
    let shown = app.get_json(&format!("/api/v1/activities/{id}")).await;
    assert_eq!(shown["participants"][0]["answer"], "accepted", "{shown}");

    // Changed mind: declined (the bare text/calendar object works too).
    let res = post_reply(
        app,
        "text/calendar",
        reply_to(&invitation, "mayor@bilbao.example", "DECLINED", None),
    )
    .await;
    assert_eq!(res.status(), 200);
    // A late reply to an older SEQUENCE after one to a newer: ignored.
    let res = post_reply(
        app,
        "text/calendar",
        reply_to(&invitation, "mayor@bilbao.example", "DECLINED", Some(2)),
    )
    .await;
    assert_eq!(res.status(), 200);
    let res = post_reply(
        app,
        "text/calendar",
        reply_to(&invitation, "mayor@bilbao.example", "TENTATIVE", Some(1)),
    )
    .await;
    let late: Value = res.json().await.unwrap();
    assert_eq!(late["recorded"], false, "{late}");
    let view = app
        .get_json(&format!("/api/v1/participations/{participation}"))
        .await;
    assert_eq!(view["answer"], "declined", "{view}");

    let history = app
        .get_json(&format!("/api/v1/participations/{participation}/history"))
        .await;
    let answers: Vec<(Value, Value)> = history
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["changes"].as_array().unwrap().clone())
        .filter(|c| c["field"] == "answer")
        .map(|c| (c["before"].clone(), c["after"].clone()))
        .collect();
    assert_eq!(
        answers,
        [
            (Value::Null, json!("accepted")),
            (json!("accepted"), json!("declined")),
        ],
        "{history}"
    );
    let reasons: Vec<&Value> = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "updated")
        .map(|e| &e["reason"])
        .collect();
    assert!(
        reasons
            .iter()
            .all(|r| *r == "the participant's calendar replied"),
        "{history}"
    );

    // Someone who takes no part, a REQUEST instead of a REPLY, no answer: refused.
    let res = post_reply(
        app,
        "text/calendar",
        reply_to(&invitation, "other@example.org", "ACCEPTED", None),
    )
    .await;
    expect_problem(res, 422).await;
    let _ = other;
    let request = reply_to(&invitation, "mayor@bilbao.example", "ACCEPTED", None)
        .replace("METHOD:REPLY", "METHOD:REQUEST");
    expect_problem(post_reply(app, "text/calendar", request).await, 422).await;
    let pending = reply_to(&invitation, "mayor@bilbao.example", "NEEDS-ACTION", None);
    expect_problem(post_reply(app, "text/calendar", pending).await, 422).await;
    let res = post_reply(app, "text/plain", "hello".into()).await;
    expect_problem(res, 415).await;

    // Viewers cannot record answers.
    let res = app
        .client
        .post(app.url("/api/v1/invitations/replies"))
        .bearer_auth(&app.viewer)
        .header("content-type", "text/calendar")
        .body(reply_to(
            &invitation,
            "mayor@bilbao.example",
            "ACCEPTED",
            None,
        ))
        .send()
        .await
        .unwrap();
    expect_problem(res, 403).await;
}
