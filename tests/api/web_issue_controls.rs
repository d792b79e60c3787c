//! The newsletter issue page's sending controls over plain HTTP, against the
//! SMTP test server on loopback and the dispatcher stepped by hand: pause,
//! resume, cancel and back to draft as the issue's state allows them, "send the failed ones
//! again" once some failed; a move the state does not allow shown on the
//! page with nothing changed. CSRF and the viewer's 403 on each are in
//! `web_newsletter.rs` (`newsletter_forms_refuse_a_missing_token_and_a_viewer`).

use crate::mail::{Mail, spawn_mail_app};
use crate::smtp_server::Script;
use crate::web::{PASSWORD, WebUser, csrf_of, person, web_sign_in};
use serde_json::Value;

async fn issue_state(mail: &Mail, issue: i64) -> String {
    mail.app.get_json(&format!("/api/v1/issues/{issue}")).await["state"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The issue page's buttons: the actions of its control forms.
async fn controls(mail: &Mail, ane: &mut WebUser, issue: i64) -> (Vec<String>, String) {
    let (status, html) = ane
        .get(
            &mail.app,
            &format!("/app/newsletter/issues/{issue}?lang=en"),
        )
        .await;
    assert_eq!(status, 200, "{html}");
    let prefix = format!("action=\"/app/newsletter/issues/{issue}/");
    let mut found: Vec<String> = html
        .match_indices(&prefix)
        .map(|(at, _)| {
            let rest = &html[at + prefix.len()..];
            rest[..rest.find('"').unwrap()].to_owned()
        })
        .filter(|a| {
            ["pause", "resume", "cancel", "unschedule", "retry-failed"].contains(&a.as_str())
        })
        .collect();
    found.sort();
    (found, csrf_of(&html))
}

async fn post(mail: &Mail, ane: &mut WebUser, issue: i64, action: &str, csrf: &str) -> u16 {
    ane.post(
        &mail.app,
        &format!("/app/newsletter/issues/{issue}/{action}"),
        &[("csrf", csrf)],
    )
    .await
    .status()
    .as_u16()
}

#[tokio::test]
async fn an_editor_pauses_resumes_and_retries_the_failed_from_the_issue_page() {
    let mail = spawn_mail_app().await;
    person(
        &mail.app,
        "ane@example.org",
        "Ane",
        "editor",
        "en",
        PASSWORD,
    )
    .await;
    let mut ane = web_sign_in(&mail.app, "ane@example.org", PASSWORD).await;
    let list = mail.list("members").await;
    mail.confirmed(list, "ana@example.org", "Ana", "es").await;
    mail.confirmed(list, "nobody@example.org", "Nobody", "en")
        .await;
    mail.smtp.on_rcpt(
        "nobody@example.org",
        // Full, not unknown: the address stays active, so it may be retried.
        Script::always("552 5.2.2 mailbox full"),
    );
    let issue = mail.issue(&[list], None).await;
    // A draft has none of the controls.
    let (buttons, csrf) = controls(&mail, &mut ane, issue).await;
    assert!(buttons.is_empty(), "{buttons:?}");
    // Sent from the page; then pause and cancel are offered.
    assert_eq!(post(&mail, &mut ane, issue, "send", &csrf).await, 303);
    assert_eq!(issue_state(&mail, issue).await, "sending");
    let (buttons, _) = controls(&mail, &mut ane, issue).await;
    assert_eq!(buttons, ["cancel", "pause"]);
    // A move the state does not allow: the page again, saying so; nothing changes.
    let res = ane
        .post(
            &mail.app,
            &format!("/app/newsletter/issues/{issue}/resume"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(res.status(), 409);
    let html = res.text().await.unwrap();
    assert!(html.contains("id=\"issue-error\""), "{html}");
    assert_eq!(issue_state(&mail, issue).await, "sending");
    // Paused: nothing goes out until it is resumed.
    assert_eq!(post(&mail, &mut ane, issue, "pause", &csrf).await, 303);
    assert_eq!(issue_state(&mail, issue).await, "paused");
    let (buttons, _) = controls(&mail, &mut ane, issue).await;
    assert_eq!(buttons, ["cancel", "resume"]);
    mail.run().await;
    assert!(
        mail.smtp.messages().is_empty(),
        "a paused issue sends nothing"
    );
    assert_eq!(post(&mail, &mut ane, issue, "resume", &csrf).await, 303);
    assert_eq!(issue_state(&mail, issue).await, "sending");
    for _ in 0..3 {
        mail.run().await;
        if issue_state(&mail, issue).await != "sending" {
            break;
        }
    }
    assert_eq!(issue_state(&mail, issue).await, "sent_with_failures");
    assert_eq!(mail.received_by("ana@example.org").len(), 1);
    // Some failed: "send the failed ones again" is offered, and does only that.
    let (buttons, csrf) = controls(&mail, &mut ane, issue).await;
    assert_eq!(buttons, ["retry-failed"]);
    mail.smtp
        .on_rcpt("nobody@example.org", Script::first(0, "250 ok"));
    let res = ane
        .post(
            &mail.app,
            &format!("/app/newsletter/issues/{issue}/retry-failed"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"],
        format!("/app/newsletter/issues/{issue}/progress").as_str()
    );
    for _ in 0..3 {
        mail.run().await;
        if issue_state(&mail, issue).await == "sent" {
            break;
        }
    }
    assert_eq!(issue_state(&mail, issue).await, "sent");
    let counts = mail.newsletter_counts();
    assert_eq!(counts.get("ana@example.org"), Some(&1), "nobody twice");
    assert_eq!(counts.get("nobody@example.org"), Some(&1));
    // The history has each move, by Ane.
    let history: Value = mail
        .app
        .get_json(&format!("/api/v1/issues/{issue}/history"))
        .await;
    let text = history.to_string();
    for state in ["\"paused\"", "\"sending\"", "deliveries_requeued"] {
        assert!(text.contains(state), "{state}: {text}");
    }
}

#[tokio::test]
async fn a_cancelled_issue_sends_what_is_still_queued_to_nobody() {
    let mail = spawn_mail_app().await;
    person(
        &mail.app,
        "ane@example.org",
        "Ane",
        "editor",
        "en",
        PASSWORD,
    )
    .await;
    let mut ane = web_sign_in(&mail.app, "ane@example.org", PASSWORD).await;
    let list = mail.list("members").await;
    mail.confirmed(list, "ana@example.org", "Ana", "es").await;
    let issue = mail.issue(&[list], None).await;
    let (_, csrf) = controls(&mail, &mut ane, issue).await;
    assert_eq!(post(&mail, &mut ane, issue, "send", &csrf).await, 303);
    assert_eq!(post(&mail, &mut ane, issue, "cancel", &csrf).await, 303);
    assert_eq!(issue_state(&mail, issue).await, "cancelled");
    mail.run().await;
    assert!(mail.smtp.messages().is_empty());
    let (buttons, _) = controls(&mail, &mut ane, issue).await;
    assert!(buttons.is_empty(), "{buttons:?}");
    let (_, html) = ane
        .get(
            &mail.app,
            &format!("/app/newsletter/issues/{issue}?saved=moved&lang=en"),
        )
        .await;
    assert!(html.contains("state was changed."), "{html}");
}

#[tokio::test]
async fn a_scheduled_issue_goes_back_to_draft_from_its_page_and_is_not_sent() {
    let mail = spawn_mail_app().await;
    person(
        &mail.app,
        "ane@example.org",
        "Ane",
        "editor",
        "en",
        PASSWORD,
    )
    .await;
    let mut ane = web_sign_in(&mail.app, "ane@example.org", PASSWORD).await;
    let list = mail.list("members").await;
    mail.confirmed(list, "ana@example.org", "Ana", "es").await;
    let issue = mail.issue(&[list], None).await;
    let (buttons, csrf) = controls(&mail, &mut ane, issue).await;
    assert!(buttons.is_empty(), "{buttons:?}");
    let at = (mail.app.clock_now() + chrono::TimeDelta::days(2))
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let res = ane
        .post(
            &mail.app,
            &format!("/app/newsletter/issues/{issue}/schedule"),
            &[("csrf", &csrf), ("at", &at), ("time_zone", "UTC")],
        )
        .await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    assert_eq!(issue_state(&mail, issue).await, "scheduled");
    // Scheduled: back to draft is offered beside cancel.
    let (buttons, csrf) = controls(&mail, &mut ane, issue).await;
    assert_eq!(buttons, ["cancel", "unschedule"]);
    assert_eq!(post(&mail, &mut ane, issue, "unschedule", &csrf).await, 303);
    let got = mail.app.get_json(&format!("/api/v1/issues/{issue}")).await;
    assert_eq!(got["state"], "draft", "{got}");
    assert!(got["scheduled_at"].is_null(), "{got}");
    let (buttons, _) = controls(&mail, &mut ane, issue).await;
    assert!(buttons.is_empty(), "{buttons:?}");
    // Its time comes: nothing goes out.
    mail.app.clock.advance(chrono::TimeDelta::days(3));
    mail.run().await;
    assert!(mail.smtp.messages().is_empty());
    // A draft cannot be unscheduled: 409 on the page, still a draft.
    assert_eq!(post(&mail, &mut ane, issue, "unschedule", &csrf).await, 409);
    assert_eq!(issue_state(&mail, issue).await, "draft");
}
