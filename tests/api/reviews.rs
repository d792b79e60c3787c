//! Review and approval: the route × role × state table, four-eyes, an edit after
//! approval blocking the send until re-approved, refusals that say why.

use crate::helpers::*;
use crate::mail::spawn_mail_app;
use serde_json::{Value, json};

/// A new API token of `role` (of its own account), for tests that need a
/// fourth role or a second person.
pub(crate) async fn token_of_role(app: &TestApp, role: &str) -> String {
    let res = app
        .client
        .post(app.url("/api/v1/tokens"))
        .bearer_auth(&app.admin)
        .json(&serde_json::json!({"name": format!("extra-{role}-{}", uuid::Uuid::new_v4().simple()), "role": role}))
        .send()
        .await
        .unwrap();
    let status = res.status();
    let json: Value = res.json().await.unwrap();
    assert_eq!(status, 201, "token {role}: {json}");
    json["secret"].as_str().unwrap().to_owned()
}

pub(crate) async fn act(
    app: &TestApp,
    token: &str,
    record: &str,
    action: &str,
) -> reqwest::Response {
    app.client
        .post(app.url(&format!("{record}/review")))
        .bearer_auth(token)
        .json(&json!({"action": action, "comment": "see the subject line"}))
        .send()
        .await
        .unwrap()
}

pub(crate) async fn draft_issue(app: &TestApp, list: i64) -> String {
    let id = app
        .create(
            "/api/v1/issues",
            json!({"name": "Launch", "list_ids": [list],
                   "translations": {"es": {"subject": "Lanzamiento", "body": "Hola {{name}}"},
                                    "en": {"subject": "Launch", "body": "Hello {{name}}"},
                                    "fr": {"subject": "Lancement", "body": "Bonjour {{name}}"}}}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    format!("/api/v1/issues/{id}")
}

/// Every (state, action, role) cell: who may move a review on from where.
#[tokio::test]
async fn each_role_may_take_the_review_actions_of_its_table_in_each_state() {
    let mail = spawn_mail_app().await;
    let app = &mail.app;
    let list = mail.list("members").await;
    let approver = token_of_role(app, "approver").await;
    let roles = [
        ("viewer", app.viewer.clone()),
        ("editor", app.editor.clone()),
        ("approver", approver.clone()),
        ("admin", app.admin.clone()),
    ];
    // (state the record is brought to, action, state after; "" where the state
    // does not allow the action)
    let table = [
        ("draft", "submit", "in_review"),
        ("draft", "approve", ""),
        ("draft", "request_changes", ""),
        ("in_review", "submit", ""),
        ("in_review", "approve", "approved"),
        ("in_review", "request_changes", "changes_requested"),
        ("changes_requested", "submit", "in_review"),
        ("changes_requested", "approve", ""),
        ("approved", "submit", ""),
        ("approved", "approve", ""),
        ("approved", "request_changes", ""),
    ];
    let rank = |r: &str| {
        ["viewer", "editor", "approver", "admin"]
            .iter()
            .position(|x| *x == r)
    };
    for (state, action, after) in table {
        let least = if action == "submit" {
            "editor"
        } else {
            "approver"
        };
        for (role, token) in &roles {
            let record = draft_issue(app, list).await;
            // Bring it to `state` with the editor (author) and the approver.
            let path: &[(&str, &str)] = match state {
                "draft" => &[],
                "in_review" => &[("editor", "submit")],
                "changes_requested" => &[("editor", "submit"), ("approver", "request_changes")],
                _ => &[("editor", "submit"), ("approver", "approve")],
            };
            for (who, step) in path {
                let t = if *who == "editor" {
                    &app.editor
                } else {
                    &approver
                };
                assert_eq!(
                    act(app, t, &record, step).await.status(),
                    200,
                    "{state} via {step}"
                );
            }
            let res = act(app, token, &record, action).await;
            let status = res.status().as_u16();
            let body: Value = res.json().await.unwrap();
            let cell = format!("{state} × {action} × {role}: {body}");
            if rank(role) < rank(least) {
                assert_eq!(status, 403, "{cell}");
            } else if after.is_empty() {
                assert_eq!(status, 409, "{cell}");
                assert_eq!(
                    body["type"], "urn:pregon:problem:invalid-transition",
                    "{cell}"
                );
                assert_eq!(body["current_state"], state, "{cell}");
                assert!(body["allowed"].is_array(), "{cell}");
            } else {
                assert_eq!(status, 200, "{cell}");
                assert_eq!(body["state"], after, "{cell}");
            }
        }
    }
}

#[tokio::test]
async fn four_eyes_refuses_self_approval_and_says_why() {
    let mail = spawn_mail_app().await;
    let app = &mail.app;
    let list = mail.list("members").await;
    // The admin writes and submits it, then tries to approve it.
    let id = app
        .client
        .post(app.url("/api/v1/issues"))
        .bearer_auth(&app.admin)
        .json(&json!({"name": "Mine", "list_ids": [list],
                      "translations": {"en": {"subject": "S", "body": "B"}}}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let record = format!("/api/v1/issues/{id}");
    assert_eq!(act(app, &app.admin, &record, "submit").await.status(), 200);
    let res = act(app, &app.admin, &record, "approve").await;
    let problem = expect_problem(res, 403).await;
    assert_eq!(problem["type"], "urn:pregon:problem:four-eyes");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("someone other")
    );
    // The editor edited it last: the editor may not approve either (and is no
    // approver anyway); someone else may.
    let approver = token_of_role(app, "approver").await;
    assert_eq!(act(app, &approver, &record, "approve").await.status(), 200);
}

#[tokio::test]
async fn an_edit_after_approval_blocks_the_send_until_approved_again() {
    let mail = spawn_mail_app().await;
    let app = &mail.app;
    let list = mail.list("members").await;
    mail.confirmed(list, "ana@example.org", "Ana", "es").await;
    let record = draft_issue(app, list).await;

    // Not approved yet: no send, no schedule.
    let res = app
        .post(&format!("{record}/send"), &json!({}))
        .send()
        .await
        .unwrap();
    let problem = expect_problem(res, 409).await;
    assert_eq!(problem["type"], "urn:pregon:problem:approval-required");
    let approved = app.approve(&record).await;
    assert_eq!(approved["state"], "approved");
    let hashes = approved["approved_hash"].as_object().unwrap().clone();
    assert_eq!(hashes.len(), 3, "one hash per language: {approved}");

    // A change of the internal name leaves what goes out, and the approval, as it was.
    let current = app.get_json(&record).await;
    let mut body = json!({"name": "Launch (internal)", "list_ids": [list],
                          "translations": current["translations"], "version": current["version"]});
    strip_read_only(&mut body);
    let res = app.put(&record, &body).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let review = app.get_json(&format!("{record}/review")).await;
    assert_eq!(review["state"], "approved", "{review}");

    // Scheduled, then its French subject edited: back to review and to draft.
    let res = app
        .post(
            &format!("{record}/schedule"),
            &json!({"at": "2026-02-01T10:00:00", "time_zone": "Europe/Madrid"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let current = app.get_json(&record).await;
    let mut translations = current["translations"].clone();
    translations["fr"]["subject"] = json!("Lancement de l'étude");
    let mut body = json!({"name": "Launch (internal)", "list_ids": [list],
                          "translations": translations, "version": current["version"]});
    strip_read_only(&mut body);
    let res = app.put(&record, &body).send().await.unwrap();
    let edited: Value = res.json().await.unwrap();
    assert_eq!(edited["state"], "draft", "{edited}");
    let review = app.get_json(&format!("{record}/review")).await;
    assert_eq!(review["state"], "in_review");
    assert!(review["approved_hash"].is_null());
    assert_ne!(review["content_hash"]["fr"], hashes["fr"]);
    assert_eq!(review["content_hash"]["es"], hashes["es"]);
    let res = app
        .post(&format!("{record}/send"), &json!({}))
        .send()
        .await
        .unwrap();
    expect_problem(res, 409).await;

    // The history shows the approval, its hashes and its supersession.
    let history = app.get_json(&format!("{record}/history")).await;
    let states: Vec<String> = history
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["changes"].as_array().unwrap().clone())
        .filter(|c| c["field"] == "review.state")
        .map(|c| c["after"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(states, ["in_review", "approved", "in_review"], "{history}");

    // Approved again (by the admin: the editor edited it), it goes.
    let approver = token_of_role(app, "approver").await;
    assert_eq!(act(app, &approver, &record, "approve").await.status(), 200);
    mail.send(record.rsplit('/').next().unwrap().parse().unwrap())
        .await;
    mail.run().await;
    assert_eq!(mail.received_by("ana@example.org").len(), 1);
}

/// The issue's read-only fields are not part of its input.
fn strip_read_only(body: &mut Value) {
    if let Some(translations) = body["translations"].as_object_mut() {
        for t in translations.values_mut() {
            if let Some(t) = t.as_object_mut() {
                t.retain(|k, _| k == "subject" || k == "body");
            }
        }
    }
}
