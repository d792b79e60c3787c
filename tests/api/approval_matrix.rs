//! The approval table beyond the review actions: every route that sends
//! something out, or edits what would go out, × role × review state, for
//! newsletter issues and activities. (The review actions themselves are in
//! `reviews.rs`.)

use crate::helpers::*;
use crate::mail::spawn_mail_app;
use crate::reviews::{act, draft_issue, token_of_role};
use serde_json::{Value, json};

const ROLES: [&str; 4] = ["viewer", "editor", "approver", "admin"];
const STATES: [&str; 4] = ["draft", "in_review", "changes_requested", "approved"];

/// Brings `record` to review `state`: the editor authors, the approver answers.
async fn bring_to(app: &TestApp, approver: &str, record: &str, state: &str) {
    let steps: &[(bool, &str)] = match state {
        "draft" => &[],
        "in_review" => &[(false, "submit")],
        "changes_requested" => &[(false, "submit"), (true, "request_changes")],
        _ => &[(false, "submit"), (true, "approve")],
    };
    for (by_approver, step) in steps {
        let token = if *by_approver { approver } else { &app.editor };
        let res = act(app, token, record, step).await;
        assert_eq!(res.status(), 200, "{record} to {state} via {step}");
    }
    let review = app.get_json(&format!("{record}/review")).await;
    assert_eq!(review["state"], state, "{record}: {review}");
}

fn token<'a>(app: &'a TestApp, approver: &'a str, role: &str) -> &'a str {
    match role {
        "viewer" => &app.viewer,
        "editor" => &app.editor,
        "approver" => approver,
        _ => &app.admin,
    }
}

/// One cell's expectation: below the editor role 403; not approved 409
/// approval-required (and nothing changed); approved: accepted.
async fn check_cell(res: reqwest::Response, role: &str, state: &str, ok: u16, cell: &str) {
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    if role == "viewer" {
        assert_eq!(status, 403, "{cell}: {body}");
    } else if state != "approved" {
        assert_eq!(status, 409, "{cell}: {body}");
        assert_eq!(
            body["type"], "urn:pregon:problem:approval-required",
            "{cell}: {body}"
        );
    } else {
        assert_eq!(status, ok, "{cell}: {body}");
    }
}

#[tokio::test]
async fn sending_an_issue_needs_the_editor_role_and_a_current_approval_in_each_state() {
    let mail = spawn_mail_app().await;
    let app = &mail.app;
    let list = mail.list("members").await;
    mail.confirmed(list, "ana@example.org", "Ana", "es").await;
    let approver = token_of_role(app, "approver").await;
    let schedule = json!({"at": "2026-02-01T10:00:00", "time_zone": "Europe/Madrid"});
    for (route, body, ok) in [("send", json!({}), 202), ("schedule", schedule, 200)] {
        for state in STATES {
            for role in ROLES {
                let record = draft_issue(app, list).await;
                bring_to(app, &approver, &record, state).await;
                let res = app
                    .client
                    .post(app.url(&format!("{record}/{route}")))
                    .bearer_auth(token(app, &approver, role))
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                let cell = format!("issue {route} × {state} × {role}");
                check_cell(res, role, state, ok, &cell).await;
                let issue = app.get_json(&record).await;
                let moved = role != "viewer" && state == "approved";
                let expected = match (moved, route) {
                    (false, _) => "draft",
                    (true, "send") => "sending",
                    (true, _) => "scheduled",
                };
                assert_eq!(issue["state"], expected, "{cell}: {issue}");
            }
        }
    }
}

#[tokio::test]
async fn inviting_participants_needs_the_editor_role_and_a_current_approval_in_each_state() {
    let mail = spawn_mail_app().await;
    let app = &mail.app;
    let approver = token_of_role(app, "approver").await;
    let f = crate::activities::fixture(app).await;
    let person = app
        .create(
            "/api/v1/people",
            json!({"name": "Juan Mari Aburto", "email": "mayor@bilbao.example", "language": "es"}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let mut sent = 0;
    for state in STATES {
        for role in ROLES {
            let body = crate::activities::activity(
                &f,
                json!({"precision": "exact", "start": "2026-03-10T10:00", "end": "2026-03-10T12:00", "time_zone": "Europe/Madrid"}),
            );
            let id = app.create("/api/v1/activities", body).await["id"]
                .as_i64()
                .unwrap();
            app.create(
                "/api/v1/participations",
                json!({"activity_id": id, "person_id": person, "role": "speaker"}),
            )
            .await;
            let record = format!("/api/v1/activities/{id}");
            bring_to(app, &approver, &record, state).await;
            let res = app
                .client
                .post(app.url(&format!("{record}/invitations")))
                .bearer_auth(token(app, &approver, role))
                .json(&json!({}))
                .send()
                .await
                .unwrap();
            let cell = format!("activity invitations × {state} × {role}");
            let invited = role != "viewer" && state == "approved";
            check_cell(res, role, state, 202, &cell).await;
            // Nothing was queued unless the cell allowed it.
            sent += usize::from(invited);
            mail.run().await;
            let received = mail.received_by("mayor@bilbao.example").len();
            assert_eq!(received, sent, "{cell}");
        }
    }
}

/// Editing approved content sends it back to review, whoever edits; an edit
/// by a viewer is refused in every state and changes nothing.
#[tokio::test]
async fn editing_what_goes_out_in_each_state_and_role() {
    let mail = spawn_mail_app().await;
    let app = &mail.app;
    let list = mail.list("members").await;
    let approver = token_of_role(app, "approver").await;
    for state in STATES {
        for role in ROLES {
            let record = draft_issue(app, list).await;
            bring_to(app, &approver, &record, state).await;
            let current = app.get_json(&record).await;
            let mut translations = current["translations"].clone();
            for t in translations.as_object_mut().unwrap().values_mut() {
                let t = t.as_object_mut().unwrap();
                t.retain(|k, _| k == "subject" || k == "body");
            }
            translations["es"]["subject"] = json!(format!("Lanzamiento ({role})"));
            let body = json!({"name": "Launch", "list_ids": [list],
                              "translations": translations, "version": current["version"]});
            let res = app
                .client
                .put(app.url(&record))
                .bearer_auth(token(app, &approver, role))
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            let cell = format!("issue edit × {state} × {role}");
            let review = app.get_json(&format!("{record}/review")).await;
            if role == "viewer" {
                assert_eq!(status, 403, "{cell}");
                assert_eq!(review["state"], state, "{cell}: {review}");
                let after = app.get_json(&record).await;
                assert_eq!(after["version"], current["version"], "{cell}");
            } else {
                assert_eq!(status, 200, "{cell}");
                // Approved content edited goes back to review; other states stay.
                let expected = if state == "approved" {
                    "in_review"
                } else {
                    state
                };
                assert_eq!(review["state"], expected, "{cell}: {review}");
            }
        }
    }
}
