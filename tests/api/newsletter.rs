//! Newsletters end to end against the real SMTP server on loopback: who gets
//! what, in which language, with which headers; what happens on 4xx, 5xx, a
//! dropped connection or a relay that is down; pause, resume, cancel,
//! schedule; the subscriber's own links.

use crate::helpers::*;
use crate::mail::*;
use crate::smtp_server::{Reply, Script};
use chrono::{TimeDelta, TimeZone, Utc};
use mail_parser::{MessageParser, MimeHeaders};
use serde_json::{Value, json};

pub(crate) fn parse(data: &[u8]) -> mail_parser::Message<'_> {
    MessageParser::default()
        .parse(data)
        .expect("a MIME message")
}

fn unfold(value: &str) -> String {
    value.replace("\r\n", "").trim().to_owned()
}

/// The https URL in a List-Unsubscribe header.
fn unsubscribe_url(message: &mail_parser::Message<'_>) -> String {
    let header = unfold(message.header_raw("List-Unsubscribe").unwrap());
    header
        .split(',')
        .map(|p| p.trim().trim_start_matches('<').trim_end_matches('>'))
        .find(|u| u.starts_with("https://"))
        .unwrap()
        .to_owned()
}

/// `https://pregon.test/…` → the same path on the test server.
pub(crate) fn local(mail: &Mail, url: &str) -> String {
    mail.app
        .url(url.strip_prefix("https://pregon.test").unwrap())
}

async fn newsletter_activity(app: &TestApp) -> i64 {
    let f = crate::activities::fixture(app).await;
    let mut activity = crate::activities::activity(
        &f,
        json!({"precision": "days", "start": "2026-01-20", "end": "2026-01-20"}),
    );
    activity["kind"] = json!("newsletter_issue");
    app.create("/api/v1/activities", activity).await["id"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn each_confirmed_subscriber_gets_one_message_in_their_language() {
    let mail = spawn_mail_app().await;
    let app = &mail.app;
    let list = mail.list("members").await;
    mail.confirmed(list, "ana@example.org", "Ana", "es").await;
    mail.confirmed(list, "bob@example.org", "Bob", "en").await;
    // No French text: French readers get English, the first fallback.
    mail.confirmed(list, "eloise@example.org", "Éloïse", "fr")
        .await;
    // Pending (double opt-in not done), unsubscribed and bounced get nothing.
    let res = app
        .client
        .post(app.url("/newsletter/subscribe"))
        .json(&json!({"email": "pending@example.org", "lists": ["members"], "consent": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    crate::subscriber_view::wait_for_subscriber(app, "pending@example.org").await;
    let gone = mail.confirmed(list, "gone@example.org", "Gone", "en").await;
    mail.action_on_subscriber(gone).await;
    mail.confirmed(list, "bounced@example.org", "B", "en").await;
    let res = app
        .post(
            "/api/v1/bounces",
            &json!({"email": "Bounced@Example.org", "kind": "hard", "reason": "550 5.1.1 no such user"}),
        )
        .send()
        .await
        .unwrap();
    let bounce: Value = res.json().await.unwrap();
    assert_eq!(bounce["suppressed"], true, "{bounce}");

    let activity = newsletter_activity(app).await;
    let issue = mail.issue(&[list], Some(activity)).await;
    let started = mail.send(issue).await;
    assert_eq!(started["queued"], 3, "{started}");
    let step = mail.run().await;
    assert_eq!(step.finished_issues, [issue]);

    let counts = mail.newsletter_counts();
    assert_eq!(
        counts.into_iter().collect::<Vec<_>>(),
        [
            ("ana@example.org".to_owned(), 1),
            ("bob@example.org".to_owned(), 1),
            ("eloise@example.org".to_owned(), 1)
        ]
    );
    // The pending subscriber got their confirmation email, nothing else.
    let pending = mail.received_by("pending@example.org");
    assert_eq!(pending.len(), 1);
    assert!(parse(&pending[0].data).header("List-Unsubscribe").is_none());

    let deliveries = app
        .get_json(&format!("/api/v1/issues/{issue}/deliveries"))
        .await;
    for (email, subject, body_fragment, html_lang) in [
        (
            "ana@example.org",
            "Lanzamiento del estudio, Ana",
            "Hola Ana",
            "es",
        ),
        (
            "bob@example.org",
            "The study is out, Bob",
            "Hello Bob",
            "en",
        ),
        (
            "eloise@example.org",
            "The study is out, Éloïse",
            "Hello Éloïse",
            "en",
        ),
    ] {
        let received = mail.received_by(email);
        let message = parse(&received[0].data);
        assert_eq!(message.subject(), Some(subject));
        assert_eq!(received[0].mail_from, FROM);
        let root = message.content_type().unwrap();
        assert_eq!(
            (root.ctype(), root.subtype()),
            ("multipart", Some("alternative"))
        );
        let text = message.body_text(0).unwrap();
        assert!(text.contains(body_fragment), "{text}");
        assert!(text.contains("Plaza Ernesto Erkoreka 1"), "{text}");
        let html = message.body_html(0).unwrap();
        assert!(
            html.contains(&format!("<html lang=\"{html_lang}\">")),
            "{html}"
        );
        // Headers: one-click unsubscribe (RFC 8058) with https and mailto,
        // the delivery's own Message-ID, the clock's Date.
        let list_unsubscribe = unfold(message.header_raw("List-Unsubscribe").unwrap());
        assert!(
            list_unsubscribe.starts_with("<https://pregon.test/newsletter/unsubscribe/"),
            "{list_unsubscribe}"
        );
        assert!(
            list_unsubscribe.contains(&format!("<mailto:{FROM}?subject=unsubscribe%20")),
            "{list_unsubscribe}"
        );
        assert_eq!(
            message.header_raw("List-Unsubscribe-Post").unwrap().trim(),
            "List-Unsubscribe=One-Click"
        );
        let delivery = deliveries["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["email"] == email)
            .unwrap();
        assert_eq!(
            format!("<{}>", message.message_id().unwrap()),
            delivery["message_id"].as_str().unwrap()
        );
        assert_eq!(delivery["state"], "sent");
        assert_eq!(
            message.date().unwrap().to_timestamp(),
            app.clock_now().timestamp()
        );
    }

    let issue_view = app.get_json(&format!("/api/v1/issues/{issue}")).await;
    assert_eq!(issue_view["state"], "sent");
    let activity_view = app
        .get_json(&format!("/api/v1/activities/{activity}"))
        .await;
    assert_eq!(activity_view["status"], "done");
    let progress = mail.progress(issue).await;
    assert_eq!(
        (progress["total"].as_i64(), progress["sent"].as_i64()),
        (Some(3), Some(3))
    );
    // Running again sends nobody anything more.
    mail.run().await;
    assert_eq!(mail.newsletter_counts().values().sum::<usize>(), 3);
}

impl Mail {
    async fn action_on_subscriber(&self, subscriber: i64) {
        let res = self
            .app
            .post(
                &format!("/api/v1/subscribers/{subscriber}/unsubscribe"),
                &json!({}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
}

#[tokio::test]
async fn a_newsletter_that_reaches_nobody_fails_and_so_does_its_activity() {
    let mail = spawn_mail_app().await;
    let app = &mail.app;
    let activity = newsletter_activity(app).await;
    let list = mail.list("members").await;
    mail.confirmed(list, "nobody@example.org", "Nobody", "en")
        .await;
    mail.smtp.on_rcpt(
        "nobody@example.org",
        Script::always("550 5.1.1 no such user"),
    );
    let issue = mail.issue(&[list], Some(activity)).await;
    mail.send(issue).await;
    mail.run().await;
    let issue_view = app.get_json(&format!("/api/v1/issues/{issue}")).await;
    assert_eq!(issue_view["state"], "failed", "{issue_view}");
    let activity = app
        .get_json(&format!("/api/v1/activities/{activity}"))
        .await;
    assert_eq!(activity["status"], "failed");
    assert!(activity["cancelled_at"].is_string());
    // Subscribers of the calendar see it called off.
    let ics = app
        .client
        .get(app.url("/feeds/public.ics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let uid = activity["uid"].as_str().unwrap();
    let event = ics.split("BEGIN:VEVENT").find(|e| e.contains(uid)).unwrap();
    assert!(event.contains("STATUS:CANCELLED"), "{event}");
}

#[tokio::test]
async fn double_opt_in_confirms_behind_a_button_and_links_expire() {
    let mail = spawn_mail_app().await;
    let app = &mail.app;
    mail.list("members").await;
    let subscribe = |email: &'static str| {
        app.client
            .post(app.url("/newsletter/subscribe"))
            .json(&json!({"email": email, "name": "Ana", "language": "fr", "lists": ["members"], "consent": true}))
            .send()
    };
    let first = subscribe("ana@example.org").await.unwrap();
    assert_eq!(first.status(), 202);
    let first_body = first.text().await.unwrap();
    crate::subscriber_view::wait_for_subscriber(app, "ana@example.org").await;
    mail.run().await;
    let received = mail.received_by("ana@example.org");
    assert_eq!(received.len(), 1);
    let message = parse(&received[0].data);
    assert_eq!(
        message.subject(),
        Some("Confirmez votre abonnement : List members")
    );
    let text = message.body_text(0).unwrap().to_string();
    let link = text
        .split_whitespace()
        .find(|w| w.starts_with("https://pregon.test/newsletter/confirm/"))
        .unwrap()
        .to_owned();

    // No enumeration: a second request for the same (pending) address, and
    // one for an unknown address, answer exactly the same. Within ten minutes
    // no second confirmation goes to the same address.
    let again = subscribe("ana@example.org").await.unwrap();
    assert_eq!(again.status(), 202);
    assert_eq!(again.text().await.unwrap(), first_body);
    crate::subscriber_view::public_form_done(app, "members").await;
    mail.run().await;
    assert_eq!(mail.received_by("ana@example.org").len(), 1);

    // Opening the link does not confirm (link scanners open links); the
    // button does.
    let page = app.client.get(local(&mail, &link)).send().await.unwrap();
    assert_eq!(page.status(), 200, "{link} {text}");
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("<form method=\"post\">")
    );
    let pending = app
        .get_json("/api/v1/subscribers?email=ana@example.org")
        .await;
    assert_eq!(pending["items"][0]["subscriptions"][0]["status"], "pending");
    let done = app.client.post(local(&mail, &link)).send().await.unwrap();
    assert_eq!(done.status(), 200);
    let confirmed = app
        .get_json("/api/v1/subscribers?email=ana@example.org")
        .await;
    let subscription = &confirmed["items"][0]["subscriptions"][0];
    assert_eq!(subscription["status"], "confirmed");
    assert_eq!(subscription["source"], "public-form");
    assert!(subscription["requested_at"].is_string());
    assert!(subscription["confirmed_at"].is_string());
    assert_eq!(confirmed["items"][0]["language"], "fr");

    // Subscribing a confirmed address again says the same and sends nothing.
    let third = subscribe("ana@example.org").await.unwrap();
    assert_eq!(third.text().await.unwrap(), first_body);

    // A link is void after its lifetime (48 h by default) and when forged.
    subscribe("late@example.org").await.unwrap();
    crate::subscriber_view::wait_for_subscriber(app, "late@example.org").await;
    mail.run().await;
    let late = parse(&mail.received_by("late@example.org")[0].data)
        .body_text(0)
        .unwrap()
        .to_string();
    let late_link = late
        .split_whitespace()
        .find(|w| w.starts_with("https://pregon.test/newsletter/confirm/"))
        .unwrap()
        .to_owned();
    mail.app.clock.advance(TimeDelta::hours(49));
    let expired = app
        .client
        .post(local(&mail, &late_link))
        .send()
        .await
        .unwrap();
    assert_eq!(expired.status(), 404);
    let forged = late_link.replacen("/confirm/", "/confirm/9", 1);
    let res = app.client.post(local(&mail, &forged)).send().await.unwrap();
    assert_eq!(res.status(), 404);

    // Consent is required, and only public lists can be joined.
    let res = app
        .client
        .post(app.url("/newsletter/subscribe"))
        .json(&json!({"email": "x@example.org", "lists": ["members"], "consent": false}))
        .send()
        .await
        .unwrap();
    expect_problem(res, 422).await;
}

#[tokio::test]
async fn public_subscribe_is_rate_limited_per_client() {
    let mail = spawn_mail_app_with(|s| s.server.public_rate_limit_per_minute = 2).await;
    let app = &mail.app;
    mail.list("members").await;
    for i in 0..2 {
        let res = app
            .client
            .post(app.url("/newsletter/subscribe"))
            .json(&json!({"email": format!("p{i}@example.org"), "lists": ["members"], "consent": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 202);
    }
    let res = app
        .client
        .post(app.url("/newsletter/subscribe"))
        .json(&json!({"email": "p9@example.org", "lists": ["members"], "consent": true}))
        .send()
        .await
        .unwrap();
    assert!(res.headers().contains_key("retry-after"));
    expect_problem(res, 429).await;
}

#[tokio::test]
async fn one_click_unsubscribe_works_without_login_and_at_once() {
    let mail = spawn_mail_app().await;
    let app = &mail.app;
    let list = mail.list("members").await;
    let ana = mail.confirmed(list, "ana@example.org", "Ana", "es").await;
    mail.confirmed(list, "bob@example.org", "Bob", "en").await;
    let issue = mail.issue(&[list], None).await;
    mail.send(issue).await;
    mail.run().await;
    let message_data = mail.received_by("ana@example.org")[0].data.clone();
    let message = parse(&message_data);
    let url = unsubscribe_url(&message);

    // The browser link shows preferences and changes nothing by itself.
    let page = app.client.get(local(&mail, &url)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("members"), "{html}");
    let view = app.get_json(&format!("/api/v1/subscribers/{ana}")).await;
    assert_eq!(view["subscriptions"][0]["status"], "confirmed");

    // A forged token is refused.
    let forged = format!("{}x", url);
    let res = app
        .client
        .post(local(&mail, &forged))
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);

    // RFC 8058: a POST with List-Unsubscribe=One-Click, no cookie, no login.
    let res = app
        .client
        .post(local(&mail, &url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let view = app.get_json(&format!("/api/v1/subscribers/{ana}")).await;
    assert_eq!(view["subscriptions"][0]["status"], "unsubscribed");

    // The next issue goes to Bob only.
    let next = mail.issue(&[list], None).await;
    let started = mail.send(next).await;
    assert_eq!(started["queued"], 1);
    mail.run().await;
    assert_eq!(mail.received_by("ana@example.org").len(), 1);
    assert_eq!(mail.received_by("bob@example.org").len(), 2);
}

#[tokio::test]
async fn temporary_failures_are_retried_permanent_ones_never() {
    let mail = spawn_mail_app().await;
    let app = &mail.app;
    let list = mail.list("members").await;
    mail.confirmed(list, "ana@example.org", "Ana", "es").await;
    mail.confirmed(list, "slow@example.org", "Slow", "en").await;
    mail.confirmed(list, "nobody@example.org", "Nobody", "en")
        .await;
    mail.smtp.on_rcpt(
        "slow@example.org",
        Script::first(2, "451 4.7.1 greylisted, try later"),
    );
    // A permanent refusal that does not suppress the address (a 5.1.1 would:
    // see no_such_user_suppresses_the_address_a_policy_refusal_does_not).
    mail.smtp.on_rcpt(
        "nobody@example.org",
        Script::always("552 5.2.2 mailbox full"),
    );
    let issue = mail.issue(&[list], None).await;
    mail.send(issue).await;

    mail.run().await;
    let progress = mail.progress(issue).await;
    assert_eq!(
        (
            progress["sent"].as_i64(),
            progress["retry"].as_i64(),
            progress["failed"].as_i64()
        ),
        (Some(1), Some(1), Some(1)),
        "{progress}"
    );
    // Not finished while a delivery waits for its retry.
    assert_eq!(progress["state"], "sending");
    // The retry is not due yet: another step sends nothing.
    mail.run().await;
    assert_eq!(mail.smtp.command_count("RCPT"), 3);

    // Backoff with jitter: the first retry within 30-60 s, the second 60-120 s.
    mail.app.clock.advance(TimeDelta::seconds(60));
    mail.run().await;
    assert_eq!(mail.received_by("slow@example.org").len(), 0);
    mail.app.clock.advance(TimeDelta::seconds(120));
    mail.run().await;
    assert_eq!(mail.received_by("slow@example.org").len(), 1);
    let rcpts_to_nobody = mail
        .smtp
        .commands()
        .iter()
        .filter(|c| c.line.contains("nobody@example.org"))
        .count();
    assert_eq!(rcpts_to_nobody, 1, "a 5xx is never retried");

    let issue_view = app.get_json(&format!("/api/v1/issues/{issue}")).await;
    assert_eq!(issue_view["state"], "sent_with_failures");
    let failed = app
        .get_json(&format!("/api/v1/issues/{issue}/deliveries?state=failed"))
        .await;
    assert_eq!(failed["total"], 1);
    assert_eq!(failed["items"][0]["email"], "nobody@example.org");
    assert_eq!(failed["items"][0]["smtp_code"], 552);
    let slow = app
        .get_json(&format!("/api/v1/issues/{issue}/deliveries?state=sent"))
        .await;
    let slow = slow["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["email"] == "slow@example.org")
        .unwrap()
        .clone();
    assert_eq!(slow["attempts"], 3);

    // The CSV report has one row per recipient with the relay's answer.
    let csv = app
        .get(&format!("/api/v1/issues/{issue}/deliveries.csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    let csv = csv.text().await.unwrap();
    assert_eq!(csv.lines().count(), 4, "{csv}");
    assert!(
        csv.lines().any(|l| l.contains("nobody@example.org")
            && l.contains(",failed,")
            && l.contains("552 5.2.2 mailbox full")),
        "{csv}"
    );

    // "Retry failed" queues only the failed one; it is delivered once the
    // relay accepts it, and nobody else gets a second copy.
    mail.smtp
        .on_rcpt("nobody@example.org", Script::first(0, "250 ok"));
    let requeued = mail.action(issue, "retry-failed").await;
    assert_eq!(requeued["requeued"], 1);
    mail.run().await;
    assert_eq!(
        mail.newsletter_counts().into_iter().collect::<Vec<_>>(),
        [
            ("ana@example.org".to_owned(), 1),
            ("nobody@example.org".to_owned(), 1),
            ("slow@example.org".to_owned(), 1)
        ]
    );
    let issue_view = app.get_json(&format!("/api/v1/issues/{issue}")).await;
    assert_eq!(issue_view["state"], "sent");
}

#[tokio::test]
async fn a_relay_that_is_down_or_drops_connections_loses_nobody() {
    let mail = spawn_mail_app_with(|s| {
        s.email.concurrency = 3;
        s.email.batch_size = 5;
    })
    .await;
    let list = mail.list("members").await;
    crate::mail::bulk_subscribers(&mail.app, list, 20);
    let issue = mail.issue(&[list], None).await;
    mail.send(issue).await;

    // Down: nothing is lost, the deliveries wait in the queue.
    mail.smtp.go_down().await;
    mail.run().await;
    let progress = mail.progress(issue).await;
    assert_eq!(progress["queued"], 20, "{progress}");
    assert_eq!(progress["failed"], 0);
    assert_eq!(progress["unknown"], 0);

    // Back, but dropping the connection mid-batch: once before a message
    // (certainly not sent: requeued) and once after a message's content was
    // sent, before the reply (outcome unknown: resent, and reported).
    mail.smtp.come_back().await;
    mail.smtp
        .on_rcpt("r4@bulk.test", Script::first(1, Reply::Disconnect));
    mail.smtp
        .on_data("r9@bulk.test", Script::first(1, Reply::Disconnect));
    mail.smtp.drop_after_accepted(7);
    for _ in 0..6 {
        mail.app.clock.advance(TimeDelta::seconds(61));
        mail.run().await;
    }
    let counts = mail.newsletter_counts();
    assert_eq!(counts.len(), 20, "{counts:?}");
    assert!(counts.values().all(|n| *n == 1), "{counts:?}");
    // The relay saw r9's message once without acknowledging it.
    assert_eq!(mail.smtp.unacknowledged().len(), 1);
    let progress = mail.progress(issue).await;
    assert_eq!(progress["sent"], 20, "{progress}");
    assert_eq!(progress["possible_duplicates"], 1, "{progress}");
    let csv = mail
        .app
        .get(&format!("/api/v1/issues/{issue}/deliveries.csv"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r9 = csv.lines().find(|l| l.contains(",r9@bulk.test,")).unwrap();
    assert!(r9.contains(",sent,") && r9.contains(",1,true,"), "{r9}");
    let issue_view = mail.app.get_json(&format!("/api/v1/issues/{issue}")).await;
    assert_eq!(issue_view["state"], "sent");
}

#[tokio::test]
async fn outcome_unknown_is_held_when_the_policy_says_so() {
    let mail = spawn_mail_app_with(|s| {
        s.email.outcome_unknown = pregon::config::OutcomeUnknownPolicy::Hold;
    })
    .await;
    let list = mail.list("members").await;
    mail.confirmed(list, "ana@example.org", "Ana", "es").await;
    mail.confirmed(list, "bob@example.org", "Bob", "en").await;
    mail.smtp
        .on_data("bob@example.org", Script::first(1, Reply::Disconnect));
    let issue = mail.issue(&[list], None).await;
    mail.send(issue).await;
    for _ in 0..3 {
        mail.app.clock.advance(TimeDelta::seconds(61));
        mail.run().await;
    }
    let progress = mail.progress(issue).await;
    assert_eq!(progress["unknown"], 1, "{progress}");
    assert_eq!(progress["state"], "sent_with_failures");
    assert!(mail.received_by("bob@example.org").is_empty());
    // A person decides: retry including the unknown ones.
    let res = mail
        .app
        .post(
            &format!("/api/v1/issues/{issue}/retry-failed?include_unknown=true"),
            &json!({}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    mail.run().await;
    assert_eq!(mail.received_by("bob@example.org").len(), 1);
}

#[tokio::test]
async fn pause_resume_and_cancel_send_nobody_twice() {
    let mail = spawn_mail_app_with(|s| {
        s.email.concurrency = 2;
        s.email.batch_size = 4;
    })
    .await;
    let list = mail.list("members").await;
    crate::mail::bulk_subscribers(&mail.app, list, 40);
    mail.smtp.set_latency(std::time::Duration::from_millis(5));
    let issue = mail.issue(&[list], None).await;
    mail.send(issue).await;

    let running = tokio::spawn({
        let dispatcher = mail.dispatcher.clone();
        async move { dispatcher.run_once().await.unwrap() }
    });
    wait_for(|| mail.smtp.messages().len() >= 6).await;
    let paused = mail.action(issue, "pause").await;
    assert_eq!(paused["state"], "paused");
    running.await.unwrap();
    let at_pause = mail.smtp.messages().len();
    // At most the chunk in flight when the pause was committed went out.
    mail.run().await;
    mail.run().await;
    assert_eq!(mail.smtp.messages().len(), at_pause);
    let progress = mail.progress(issue).await;
    assert_eq!(progress["sent"].as_i64().unwrap() as usize, at_pause);
    assert!(at_pause < 40);

    mail.action(issue, "resume").await;
    mail.run().await;
    let counts = mail.newsletter_counts();
    assert_eq!(counts.len(), 40);
    assert!(counts.values().all(|n| *n == 1), "{counts:?}");
    let issue_view = mail.app.get_json(&format!("/api/v1/issues/{issue}")).await;
    assert_eq!(issue_view["state"], "sent");

    // Cancel: what is still queued never goes.
    let second = mail.issue(&[list], None).await;
    mail.send(second).await;
    let cancelled = mail.action(second, "cancel").await;
    assert_eq!(cancelled["state"], "cancelled");
    mail.run().await;
    assert_eq!(mail.smtp.messages().len(), 40);
    let progress = mail.progress(second).await;
    assert_eq!(progress["cancelled"], 40);
}

async fn wait_for(condition: impl Fn() -> bool) {
    for _ in 0..500 {
        if condition() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("condition not reached within 5 s");
}

#[tokio::test]
async fn scheduled_issue_starts_at_its_local_time_and_the_activity_follows() {
    let mail = spawn_mail_app().await;
    let app = &mail.app;
    let list = mail.list("members").await;
    mail.confirmed(list, "ana@example.org", "Ana", "es").await;
    let activity = newsletter_activity(app).await;
    let issue = mail.issue(&[list], Some(activity)).await;

    // 02:30 on 29 March 2026 does not exist in Madrid (clocks jump to 03:00).
    let res = app
        .post(
            &format!("/api/v1/issues/{issue}/schedule"),
            &json!({"at": "2026-03-29T02:30:00", "time_zone": "Europe/Madrid"}),
        )
        .send()
        .await
        .unwrap();
    let problem = expect_problem(res, 422).await;
    assert_eq!(problem["field"], "at");

    let res = app
        .post(
            &format!("/api/v1/issues/{issue}/schedule"),
            &json!({"at": "2026-01-20T10:00:00", "time_zone": "Europe/Madrid"}),
        )
        .send()
        .await
        .unwrap();
    let scheduled: Value = res.json().await.unwrap();
    assert_eq!(scheduled["state"], "scheduled", "{scheduled}");
    assert_eq!(scheduled["scheduled_at"], "2026-01-20T09:00:00Z");
    assert_eq!(scheduled["schedule"]["at"], "2026-01-20T10:00:00");
    let activity_view = app
        .get_json(&format!("/api/v1/activities/{activity}"))
        .await;
    assert_eq!(activity_view["status"], "confirmed");
    // A range filtered by status finds it as it now is (the status its stored
    // occurrence carries follows the issue too).
    let on_the_day =
        |status: &str| format!("/api/v1/activities?from=2026-01-20&to=2026-01-20&status={status}");
    assert_eq!(app.get_json(&on_the_day("confirmed")).await["total"], 1);
    assert_eq!(app.get_json(&on_the_day("planned")).await["total"], 0);

    mail.app
        .clock
        .set(Utc.with_ymd_and_hms(2026, 1, 20, 8, 59, 59).unwrap());
    let step = mail.run().await;
    assert!(step.started_issues.is_empty());
    assert!(mail.smtp.messages().is_empty());
    mail.app
        .clock
        .set(Utc.with_ymd_and_hms(2026, 1, 20, 9, 0, 0).unwrap());
    let step = mail.run().await;
    assert_eq!(step.started_issues, [issue]);
    assert_eq!(mail.received_by("ana@example.org").len(), 1);
    let activity_view = app
        .get_json(&format!("/api/v1/activities/{activity}"))
        .await;
    assert_eq!(activity_view["status"], "done");
    assert_eq!(activity_view["actual"]["start"], "2026-01-20");
    assert_eq!(app.get_json(&on_the_day("done")).await["total"], 1);
    assert_eq!(app.get_json(&on_the_day("confirmed")).await["total"], 0);
    // A sent issue cannot be edited or sent again.
    let res = app
        .post(&format!("/api/v1/issues/{issue}/send"), &json!({}))
        .send()
        .await
        .unwrap();
    expect_problem(res, 409).await;
}

#[tokio::test]
async fn preview_and_test_send() {
    let mail = spawn_mail_app().await;
    let app = &mail.app;
    let list = mail.list("members").await;
    let issue = mail.issue(&[list], None).await;
    let preview = app
        .get_json(&format!(
            "/api/v1/issues/{issue}/preview?lang=fr&name=Zo%C3%A9"
        ))
        .await;
    assert_eq!(preview["language"], "en");
    assert_eq!(preview["subject"], "The study is out, Zoé");
    assert!(
        preview["html"]
            .as_str()
            .unwrap()
            .contains("<h1>Hello Zoé</h1>")
    );
    assert!(
        preview["text"]
            .as_str()
            .unwrap()
            .contains("Plaza Ernesto Erkoreka 1")
    );

    let res = app
        .post(
            &format!("/api/v1/issues/{issue}/test"),
            &json!({"addresses": ["editor@example.org"], "language": "es"}),
        )
        .send()
        .await
        .unwrap();
    let results: Value = res.json().await.unwrap();
    assert_eq!(results[0]["accepted"], true, "{results}");
    let received = mail.received_by("editor@example.org");
    assert_eq!(received.len(), 1);
    assert!(
        parse(&received[0].data)
            .subject()
            .unwrap()
            .starts_with("[TEST] Lanzamiento")
    );
    // A test send is not a send: the issue is still a draft.
    let view = app.get_json(&format!("/api/v1/issues/{issue}")).await;
    assert_eq!(view["state"], "draft");

    // Unknown placeholders are caught when writing, not when sending.
    let res = app
        .post(
            "/api/v1/issues",
            &json!({"name": "x", "list_ids": [list], "translations": {"en": {"subject": "Hi {{nmae}}", "body": "b"}}}),
        )
        .send()
        .await
        .unwrap();
    let problem = expect_problem(res, 422).await;
    assert_eq!(problem["field"], "translations.en.subject");
    // Viewers cannot send.
    let res = app
        .client
        .post(app.url(&format!("/api/v1/issues/{issue}/send")))
        .bearer_auth(&app.viewer)
        .send()
        .await
        .unwrap();
    expect_problem(res, 403).await;
}

#[tokio::test]
async fn csv_import_is_all_or_nothing_and_respects_opt_outs() {
    let mail = spawn_mail_app().await;
    let app = &mail.app;
    let list = mail.list("members").await;
    let import = |body: &'static str, query: &'static str| {
        app.client
            .post(app.url(&format!("/api/v1/lists/{list}/import{query}")))
            .bearer_auth(&app.editor)
            .header("content-type", "text/csv")
            .body(body)
            .send()
    };
    let bad = import(
        "email,name,language\nana@example.org,Ana,es\nnot-an-address,X,en\nbob@example.org,Bob,de\n",
        "?confirmed=true&source=paper%20forms",
    )
    .await
    .unwrap();
    assert_eq!(bad.status(), 422);
    let problem: Value = bad.json().await.unwrap();
    let lines: Vec<i64> = problem["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["line"].as_i64().unwrap())
        .collect();
    assert_eq!(lines, [3, 4], "{problem}");
    let none = app.get_json("/api/v1/subscribers").await;
    assert_eq!(none["total"], 0, "nothing half-imported");

    // Confirmed imports must say where consent came from.
    let res = import("email\nana@example.org\n", "?confirmed=true")
        .await
        .unwrap();
    expect_problem(res, 422).await;

    let ok = import(
        "email,name,language\nana@example.org,Ana,es\nbob@example.org,Bob,\n",
        "?confirmed=true&source=paper%20forms",
    )
    .await
    .unwrap();
    let report: Value = ok.json().await.unwrap();
    assert_eq!(report["subscribed"], 2, "{report}");
    let bob = app
        .get_json("/api/v1/subscribers?email=bob@example.org")
        .await;
    assert_eq!(bob["items"][0]["language"], "es", "the list's default");

    // Bob unsubscribes; importing him again does not re-subscribe him.
    let bob_id = bob["items"][0]["id"].as_i64().unwrap();
    mail.action_on_subscriber(bob_id).await;
    let again = import(
        "email\nbob@example.org\ncarla@example.org\n",
        "?confirmed=true&source=paper%20forms",
    )
    .await
    .unwrap();
    let report: Value = again.json().await.unwrap();
    assert_eq!(report["skipped_unsubscribed"], 1, "{report}");
    assert_eq!(report["subscribed"], 1, "{report}");

    let export = app
        .client
        .get(app.url(&format!("/api/v1/lists/{list}/export.csv")))
        .bearer_auth(&app.editor)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let lines: Vec<&str> = export.lines().collect();
    assert_eq!(lines.len(), 4, "{export}");
    assert!(lines[0].starts_with("email,name,language,list,status"));
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("bob@example.org,Bob,es,members,unsubscribed")),
        "{export}"
    );
    // An export imports back (extra columns ignored) without changing anyone.
    let back = app
        .client
        .post(app.url(&format!("/api/v1/lists/{list}/import")))
        .bearer_auth(&app.editor)
        .header("content-type", "text/csv")
        .body(export)
        .send()
        .await
        .unwrap();
    let report: Value = back.json().await.unwrap();
    assert_eq!(
        (
            report["already_subscribed"].as_i64(),
            report["skipped_unsubscribed"].as_i64()
        ),
        (Some(2), Some(1)),
        "{report}"
    );
}

/// A delivery status notification as Postfix returns it, for `recipient`,
/// quoting the headers of the message with `message_id`.
fn dsn(recipient: &str, status: &str, message_id: &str) -> String {
    format!(
        "From: MAILER-DAEMON@relay.example\r\nTo: newsletter@pregon.test\r\n\
         Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n\
         --B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n\
         --B\r\nContent-Type: message/delivery-status\r\n\r\n\
         Reporting-MTA: dns; relay.example\r\n\r\n\
         Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: {status}\r\n\
         Diagnostic-Code: smtp; 550 {status} user unknown\r\n\r\n\
         --B\r\nContent-Type: text/rfc822-headers\r\n\r\n\
         To: {recipient}\r\nMessage-ID: {message_id}\r\nSubject: x\r\n\
         --B--\r\n"
    )
}

/// The relay's own bounce message, posted as it came, suppresses the
/// address and marks the delivery it is about.
#[tokio::test]
async fn bounce_messages_are_read_as_the_relay_sent_them() {
    let mail = spawn_mail_app().await;
    let app = &mail.app;
    let list = mail.list("members").await;
    mail.confirmed(list, "ana@example.org", "Ana", "es").await;
    mail.confirmed(list, "gone@example.org", "Gone", "en").await;
    let issue = mail.issue(&[list], None).await;
    mail.send(issue).await;
    mail.run().await;
    let sent = mail.received_by("gone@example.org");
    let message_id = format!("<{}>", parse(&sent[0].data).message_id().unwrap());

    let post = |body: String, content_type: &'static str| {
        app.client
            .post(app.url("/api/v1/bounces/message"))
            .bearer_auth(&app.editor)
            .header("Content-Type", content_type)
            .body(body)
            .send()
    };
    // Not a bounce: refused, nothing recorded.
    let res = post(
        "From: a@example.org\r\nSubject: hello\r\n\r\nJust a reply.\r\n".into(),
        "message/rfc822",
    )
    .await
    .unwrap();
    let problem = expect_problem(res, 422).await;
    assert_eq!(problem["field"], "body", "{problem}");
    let res = post(dsn("gone@example.org", "5.1.1", &message_id), "text/plain")
        .await
        .unwrap();
    expect_problem(res, 415).await;
    let subscribers = app
        .get_json("/api/v1/subscribers?email=gone@example.org")
        .await;
    assert_eq!(subscribers["items"][0]["status"], "active", "{subscribers}");

    let res = post(
        dsn("gone@example.org", "5.1.1", &message_id),
        "message/rfc822",
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    let report: Value = res.json().await.unwrap();
    assert_eq!(
        report["recorded"][0]["email"], "gone@example.org",
        "{report}"
    );
    assert_eq!(report["recorded"][0]["kind"], "hard");
    assert_eq!(report["recorded"][0]["suppressed"], true);
    let subscribers = app
        .get_json("/api/v1/subscribers?email=gone@example.org")
        .await;
    assert_eq!(
        subscribers["items"][0]["status"], "bounced",
        "{subscribers}"
    );
    let deliveries = app
        .get_json(&format!("/api/v1/issues/{issue}/deliveries"))
        .await;
    let marked: Vec<&Value> = deliveries["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| !d["bounced_at"].is_null())
        .collect();
    assert_eq!(marked.len(), 1, "{deliveries}");
    assert_eq!(marked[0]["email"], "gone@example.org");
}

#[tokio::test]
async fn complaints_and_soft_bounces_stop_sends() {
    let mail = spawn_mail_app().await;
    let app = &mail.app;
    let list = mail.list("members").await;
    mail.confirmed(list, "angry@example.org", "A", "en").await;
    mail.confirmed(list, "full@example.org", "F", "en").await;
    let bounce = |email: &str, kind: &str| {
        app.post("/api/v1/bounces", &json!({"email": email, "kind": kind}))
            .send()
    };
    let res: Value = bounce("angry@example.org", "complaint")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(res["suppressed"], true);
    for expected in [false, false, true] {
        let res: Value = bounce("full@example.org", "soft")
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(res["suppressed"], expected, "{res}");
    }
    let res: Value = bounce("stranger@example.org", "hard")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(res["known_subscriber"], false);
    let issue = mail.issue(&[list], None).await;
    let res = app
        .post(&format!("/api/v1/issues/{issue}/send"), &json!({}))
        .send()
        .await
        .unwrap();
    // Nobody left to send to.
    expect_problem(res, 409).await;
}

/// A send that lasts longer than a heartbeat sees a new concurrency (and
/// limits) without a restart: the running pass ends and the next one starts
/// with the new figure.
#[tokio::test]
async fn a_long_send_sees_a_new_concurrency() {
    let mail = spawn_mail_app_with(|s| {
        s.email.concurrency = 1;
        s.email.heartbeat_secs = 5;
    })
    .await;
    let list = mail.list("members").await;
    crate::mail::bulk_subscribers(&mail.app, list, 40);
    let issue = mail.issue(&[list], None).await;
    mail.send(issue).await;
    mail.smtp.set_latency(std::time::Duration::from_millis(20));

    let dispatcher = mail.dispatcher.clone();
    let first = tokio::spawn(async move { dispatcher.run_once().await.unwrap() });
    while mail.smtp.messages().len() < 3 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let res = mail
        .app
        .put(
            "/api/v1/email/limits",
            &json!({"rate_per_second": null, "rate_per_hour": null, "concurrency": 4}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        mail.smtp.connection_count(),
        1,
        "one worker, one connection"
    );
    mail.app.clock.advance(TimeDelta::seconds(6));
    let first = first.await.unwrap();
    assert!(first.sent < 40, "the first pass stopped early: {first:?}");

    let second = mail.run().await;
    assert_eq!(first.sent + second.sent, 40);
    assert!(
        mail.smtp.connection_count() > 1,
        "the second pass sent with more connections"
    );
    let counts = mail.newsletter_counts();
    assert_eq!(counts.len(), 40);
    assert!(counts.values().all(|n| *n == 1), "{counts:?}");
}

#[tokio::test]
async fn limits_change_at_run_time() {
    let mail = spawn_mail_app().await;
    let app = &mail.app;
    let res = app
        .client
        .put(app.url("/api/v1/email/limits"))
        .bearer_auth(&app.editor)
        .json(&json!({"rate_per_second": 5, "rate_per_hour": 1000, "concurrency": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    mail.run().await;
    assert_eq!(
        mail.dispatcher.limiter().limits(),
        pregon::email::RateLimits::new(Some(5), Some(1000))
    );
    let view = app.get_json("/api/v1/email/limits").await;
    assert_eq!(view["effective"]["concurrency"], 3);
    let res = app
        .client
        .put(app.url("/api/v1/email/limits"))
        .bearer_auth(&app.viewer)
        .json(&json!({"rate_per_second": 1, "rate_per_hour": null, "concurrency": null}))
        .send()
        .await
        .unwrap();
    expect_problem(res, 403).await;
}

#[tokio::test]
async fn the_preferences_page_changes_lists_and_language_without_login() {
    let mail = spawn_mail_app().await;
    let app = &mail.app;
    let members = mail.list("members").await;
    let press = mail.list("press").await;
    let ana = mail
        .confirmed(members, "ana@example.org", "Ana", "es")
        .await;
    let res = app
        .post(
            "/api/v1/subscribers",
            &json!({"email": "ana@example.org", "language": "es", "list_ids": [press],
                    "status": "confirmed", "source": "press accreditation"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let issue = mail.issue(&[members], None).await;
    mail.send(issue).await;
    mail.run().await;
    let data = mail.received_by("ana@example.org")[0].data.clone();
    let url = unsubscribe_url(&parse(&data));
    let token = url.rsplit('/').next().unwrap();

    // Keep "members" only, read in French from now on.
    let res = app
        .client
        .post(app.url(&format!("/newsletter/preferences/{token}")))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("list={members}&language=fr"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Préférences enregistrées")
    );
    let view = app.get_json(&format!("/api/v1/subscribers/{ana}")).await;
    assert_eq!(view["language"], "fr");
    let statuses: Vec<(i64, &str)> = view["subscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["list_id"].as_i64().unwrap(),
                s["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(statuses, [(members, "confirmed"), (press, "unsubscribed")]);
}

fn pregon_cli(database: &str, args: &[&str], stdin: Option<&str>) -> (bool, String) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_pregon"))
        .args(args)
        .args(["--database", database])
        .env("RUST_LOG", "warn")
        .env_remove("PREGON__DATABASE__URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run pregon");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test]
async fn subscribers_and_bounces_from_the_command_line() {
    let mail = spawn_mail_app().await;
    let app = &mail.app;
    let list = mail.list("members").await;
    let db = app.settings.database.url.clone();
    let import = [
        "subscribers",
        "import",
        "--list",
        "members",
        "--confirmed",
        "--source",
        "paper forms",
        "-",
    ];

    let (ok, out) = pregon_cli(
        &db,
        &import,
        Some("email,language\nana@example.org,es\nbad,en\n"),
    );
    assert!(!ok);
    assert!(
        out.contains("-:3:") && out.contains("nothing was imported"),
        "{out}"
    );
    let (ok, out) = pregon_cli(
        &db,
        &import,
        Some("email,language\nana@example.org,es\nbob@example.org,en\n"),
    );
    assert!(ok, "{out}");
    assert!(out.contains("2 subscribed"), "{out}");

    let (ok, out) = pregon_cli(&db, &["bounce", "bob@example.org", "--kind", "hard"], None);
    assert!(ok && out.contains("receives nothing more"), "{out}");
    // A bounce message piped in, as an MTA alias would: a 4.x.x the relay
    // gave up on is a soft bounce; anything else is refused.
    let (ok, out) = pregon_cli(
        &db,
        &["bounce", "--message", "-"],
        Some(&dsn("ana@example.org", "4.2.2", "<x@pregon.test>")),
    );
    assert!(
        ok && out.contains("ana@example.org: soft recorded"),
        "{out}"
    );
    let (ok, out) = pregon_cli(
        &db,
        &["bounce", "--message", "-"],
        Some("Subject: out of office\r\n\r\nBack Monday.\r\n"),
    );
    assert!(!ok && out.contains("nothing recorded"), "{out}");
    let (ok, out) = pregon_cli(&db, &["bounce", "--kind", "hard"], None);
    assert!(!ok, "{out}");
    let (ok, out) = pregon_cli(
        &db,
        &["subscribers", "unsubscribe", "ana@example.org"],
        None,
    );
    assert!(ok && out.contains("unsubscribed from 1 list"), "{out}");

    let (ok, csv) = pregon_cli(&db, &["subscribers", "export", "--list", "members"], None);
    assert!(ok, "{csv}");
    assert!(
        csv.contains("ana@example.org,,es,members,unsubscribed,active,import:cli: paper forms"),
        "{csv}"
    );
    assert!(
        csv.contains("bob@example.org,,en,members,confirmed,bounced"),
        "{csv}"
    );
    let view = app.get_json(&format!("/api/v1/lists/{list}")).await;
    assert_eq!(view["confirmed_subscribers"], 0);

    // Erasure leaves nothing of the address, in the records or in the history,
    // and the history still verifies.
    let (ok, out) = pregon_cli(&db, &["subscribers", "erase", "ana@example.org"], None);
    assert!(ok && out.contains("erased"), "{out}");
    let (ok, csv) = pregon_cli(&db, &["subscribers", "export", "--list", "members"], None);
    assert!(ok && !csv.contains("ana@example.org"), "{csv}");
    let changes = app
        .get_json("/api/v1/changes?entity=subscriber&limit=500")
        .await;
    assert!(
        !changes.to_string().contains("ana@example.org"),
        "{changes}"
    );
    assert!(
        changes["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "deleted"),
        "{changes}"
    );
    let (ok, out) = pregon_cli(&db, &["history", "verify"], None);
    assert!(ok && out.contains("the chain holds"), "{out}");
    let (ok, out) = pregon_cli(&db, &["subscribers", "erase", "ana@example.org"], None);
    assert!(!ok && out.contains("no subscriber"), "{out}");
}

/// Per recipient: (state, attempts) as the deliveries endpoint shows them.
async fn delivery_states(mail: &Mail, issue: i64) -> Vec<(String, String, i64)> {
    let page = mail
        .app
        .get_json(&format!("/api/v1/issues/{issue}/deliveries?per_page=100"))
        .await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["email"].as_str().unwrap().to_owned(),
                d["state"].as_str().unwrap().to_owned(),
                d["attempts"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_421_at_any_stage_requeues_without_an_attempt_and_backs_off_the_relay() {
    type Inject = fn(&crate::smtp_server::TestSmtpServer);
    let stages: [(&str, Inject); 5] = [
        ("greeting", |s| {
            s.on_greeting(Script::first(3, "421 4.3.2 too busy, come back later"))
        }),
        ("MAIL", |s| {
            s.on_mail(Script::first(3, "421 4.7.0 too many connections"))
        }),
        ("RCPT", |s| {
            s.on_rcpt(
                crate::smtp_server::ANY,
                Script::first(3, "421 4.7.28 rate limited"),
            )
        }),
        ("DATA", |s| {
            s.on_data_command(
                crate::smtp_server::ANY,
                Script::first(3, "421 4.3.0 closing"),
            )
        }),
        ("after the content", |s| {
            s.on_data(
                crate::smtp_server::ANY,
                Script::first(3, "421 4.4.2 timeout, closing"),
            )
        }),
    ];
    for (stage, inject) in stages {
        let mail = spawn_mail_app_with(|s| {
            s.email.concurrency = 1;
            s.email.max_attempts = 2;
        })
        .await;
        let list = mail.list("members").await;
        for who in ["ana", "bob", "eva"] {
            mail.confirmed(list, &format!("{who}@example.org"), who, "es")
                .await;
        }
        inject(&mail.smtp);
        let issue = mail.issue(&[list], None).await;
        mail.send(issue).await;

        // The first 421 pauses the dispatcher: nobody fails, nobody used an
        // attempt, everybody is still queued.
        mail.run().await;
        let connections = mail.smtp.connection_count();
        assert!(mail.smtp.messages().is_empty(), "{stage}");
        let states = delivery_states(&mail, issue).await;
        assert!(
            states.iter().all(|(_, s, a)| s == "queued" && *a == 0),
            "{stage}: {states:?}"
        );
        // Backed off: until the pause is over the relay is left alone.
        mail.run().await;
        assert_eq!(mail.smtp.connection_count(), connections, "{stage}");

        // The relay keeps answering 421 a while; then it takes everything.
        for _ in 0..8 {
            mail.app.clock.advance(TimeDelta::seconds(61));
            mail.run().await;
        }
        let counts = mail.newsletter_counts();
        assert_eq!(
            counts.into_iter().collect::<Vec<_>>(),
            [
                ("ana@example.org".to_owned(), 1),
                ("bob@example.org".to_owned(), 1),
                ("eva@example.org".to_owned(), 1)
            ],
            "{stage}"
        );
        let states = delivery_states(&mail, issue).await;
        assert!(
            states.iter().all(|(_, s, a)| s == "sent" && *a == 1),
            "{stage}: {states:?}"
        );
        let view = mail.app.get_json(&format!("/api/v1/issues/{issue}")).await;
        assert_eq!(view["state"], "sent", "{stage}");
    }
}

/// One delivery of `issue` as the API shows it.
async fn delivery_of(mail: &Mail, issue: i64, email: &str) -> Value {
    let page = mail
        .app
        .get_json(&format!("/api/v1/issues/{issue}/deliveries?per_page=100"))
        .await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["email"] == email)
        .unwrap_or_else(|| panic!("no delivery to {email}: {page}"))
        .clone()
}

#[tokio::test]
async fn temporary_failures_are_retried_for_a_time_not_a_handful_of_attempts() {
    let mail = spawn_mail_app_with(|s| {
        s.email.retry_max_secs = 3600;
    })
    .await;
    assert_eq!(mail.app.settings.email.retry_for.to_string(), "3 days");
    let list = mail.list("members").await;
    mail.confirmed(list, "ana@example.org", "Ana", "es").await;
    mail.confirmed(list, "grey@example.org", "Grey", "en").await;
    mail.smtp.on_rcpt(
        "grey@example.org",
        Script::always("451 4.7.1 greylisted, try later"),
    );
    let issue = mail.issue(&[list], None).await;
    mail.send(issue).await;
    let start = mail.app.clock_now();
    mail.run().await;

    // Two days of an hour between tries (the backoff grows to an hour):
    // still retrying, far more attempts than the old six.
    for _ in 0..48 {
        mail.app.clock.advance(TimeDelta::hours(1));
        mail.run().await;
    }
    let grey = delivery_of(&mail, issue, "grey@example.org").await;
    assert_eq!(grey["state"], "retry", "{grey}");
    let attempts = grey["attempts"].as_i64().unwrap();
    assert!(attempts > 20, "{grey}");
    assert_eq!(
        grey["first_attempt_at"].as_str().unwrap(),
        start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "{grey}"
    );
    assert_eq!(mail.progress(issue).await["state"], "sending");

    // Past three days it gives up, saying after how many tries and how long.
    for _ in 0..30 {
        mail.app.clock.advance(TimeDelta::hours(1));
        mail.run().await;
    }
    let grey = delivery_of(&mail, issue, "grey@example.org").await;
    assert_eq!(grey["state"], "failed", "{grey}");
    let reply = grey["smtp_reply"].as_str().unwrap();
    let attempts = grey["attempts"].as_i64().unwrap();
    assert!(
        reply.contains(&format!("gave up after {attempts} attempts over 3 days")),
        "{reply}"
    );
    let rcpts = mail
        .smtp
        .commands()
        .iter()
        .filter(|c| c.line.contains("grey@example.org"))
        .count() as i64;
    assert_eq!(rcpts, attempts);
    assert!(mail.received_by("grey@example.org").is_empty());
    assert_eq!(mail.received_by("ana@example.org").len(), 1);
    let view = mail.app.get_json(&format!("/api/v1/issues/{issue}")).await;
    assert_eq!(view["state"], "sent_with_failures");
    // The report shows both the attempts and when they started.
    let csv = mail
        .app
        .get(&format!("/api/v1/issues/{issue}/deliveries.csv"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        csv.lines().next().unwrap().contains("first_attempt_at"),
        "{csv}"
    );
}

#[tokio::test]
async fn a_recipient_that_drops_the_connection_every_time_is_not_sent_forever() {
    let mail = spawn_mail_app_with(|s| {
        s.email.concurrency = 1;
        s.email.retry_for = "2h".parse().unwrap();
    })
    .await;
    assert_eq!(mail.app.settings.email.max_unknown, 3);
    let list = mail.list("members").await;
    mail.confirmed(list, "ana@example.org", "Ana", "es").await;
    mail.confirmed(list, "bob@example.org", "Bob", "en").await;
    mail.confirmed(list, "eva@example.org", "Eva", "fr").await;
    // Bob's relay stores the message, then drops the connection before
    // answering; Eva's drops it at RCPT.
    mail.smtp
        .on_data("bob@example.org", Script::always(Reply::Disconnect));
    mail.smtp
        .on_rcpt("eva@example.org", Script::always(Reply::Disconnect));
    let issue = mail.issue(&[list], None).await;
    mail.send(issue).await;
    mail.run().await;
    let bob = delivery_of(&mail, issue, "bob@example.org").await;
    assert_eq!(
        (bob["attempts"].as_i64(), bob["unknown_outcomes"].as_i64()),
        (Some(1), Some(1)),
        "{bob}"
    );
    assert_eq!(bob["state"], "queued", "{bob}");
    let eva = delivery_of(&mail, issue, "eva@example.org").await;
    assert_eq!(
        (eva["state"].as_str(), eva["attempts"].as_i64()),
        (Some("retry"), Some(1)),
        "{eva}"
    );

    // The next try waits: another pass right away sends nobody anything.
    mail.run().await;
    mail.run().await;
    assert_eq!(mail.smtp.unacknowledged().len(), 1);

    for _ in 0..20 {
        mail.app.clock.advance(TimeDelta::minutes(10));
        mail.run().await;
    }
    // Bob got the message max_unknown (3) times, then it is held for a person.
    assert_eq!(mail.smtp.unacknowledged().len(), 3);
    assert!(mail.received_by("bob@example.org").is_empty());
    let bob = delivery_of(&mail, issue, "bob@example.org").await;
    assert_eq!(bob["state"], "unknown", "{bob}");
    assert_eq!(
        (bob["attempts"].as_i64(), bob["unknown_outcomes"].as_i64()),
        (Some(3), Some(3)),
        "{bob}"
    );
    // Eva: every dropped RCPT counted; she failed when the budget ran out.
    let eva = delivery_of(&mail, issue, "eva@example.org").await;
    assert_eq!(eva["state"], "failed", "{eva}");
    let rcpts = mail
        .smtp
        .commands()
        .iter()
        .filter(|c| c.verb() == "RCPT" && c.line.contains("eva@example.org"))
        .count() as i64;
    assert_eq!(eva["attempts"].as_i64(), Some(rcpts), "{eva}");
    assert!(rcpts > 2, "{eva}");
    assert_eq!(mail.received_by("ana@example.org").len(), 1);
    // And the issue ends.
    let progress = mail.progress(issue).await;
    assert_eq!(progress["state"], "sent_with_failures", "{progress}");
    assert_eq!(
        (
            progress["sent"].as_i64(),
            progress["unknown"].as_i64(),
            progress["failed"].as_i64()
        ),
        (Some(1), Some(1), Some(1)),
        "{progress}"
    );
}

#[tokio::test]
async fn no_such_user_suppresses_the_address_a_policy_refusal_does_not() {
    let mail = spawn_mail_app().await;
    let app = &mail.app;
    let list = mail.list("members").await;
    mail.confirmed(list, "ana@example.org", "Ana", "es").await;
    mail.confirmed(list, "gone@example.org", "Gone", "en").await;
    mail.confirmed(list, "filtered@example.org", "F", "en")
        .await;
    mail.confirmed(list, "moved@example.org", "M", "en").await;
    mail.confirmed(list, "dsnpolicy@example.org", "D", "en")
        .await;
    mail.smtp.on_rcpt(
        "gone@example.org",
        Script::always("550 5.1.1 <gone@example.org>: Recipient address rejected: User unknown"),
    );
    mail.smtp.on_rcpt(
        "filtered@example.org",
        Script::first(1, "554 5.7.1 Message rejected as spam"),
    );
    let issue = mail.issue(&[list], None).await;
    mail.send(issue).await;
    mail.run().await;
    let status = |email: &'static str| async move {
        app.get_json(&format!("/api/v1/subscribers?email={email}"))
            .await["items"][0]["status"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    // Both failed, once each; only the unknown user is suppressed.
    for email in ["gone@example.org", "filtered@example.org"] {
        let d = delivery_of(&mail, issue, email).await;
        assert_eq!(
            (d["state"].as_str(), d["attempts"].as_i64()),
            (Some("failed"), Some(1)),
            "{d}"
        );
    }
    assert_eq!(status("gone@example.org").await, "bounced");
    assert_eq!(status("filtered@example.org").await, "active");

    // In a DSN the same rule: 5.1.1 suppresses, 5.7.1 is recorded only.
    let message_id = |email: &str| {
        let m = mail.received_by(email);
        format!("<{}>", parse(&m[0].data).message_id().unwrap())
    };
    for (email, status_code, kind, suppressed) in [
        ("moved@example.org", "5.1.1", "hard", true),
        ("dsnpolicy@example.org", "5.7.1", "policy", false),
    ] {
        let res = app
            .client
            .post(app.url("/api/v1/bounces/message"))
            .bearer_auth(&app.editor)
            .header("Content-Type", "message/rfc822")
            .body(dsn(email, status_code, &message_id(email)))
            .send()
            .await
            .unwrap();
        let report: Value = res.json().await.unwrap();
        assert_eq!(report["recorded"][0]["kind"], kind, "{report}");
        assert_eq!(report["recorded"][0]["suppressed"], suppressed, "{report}");
    }
    assert_eq!(status("moved@example.org").await, "bounced");
    assert_eq!(status("dsnpolicy@example.org").await, "active");

    // The next issue goes to everyone not suppressed, the filtered one too.
    let next = mail.issue(&[list], None).await;
    assert_eq!(mail.send(next).await["queued"], 3);
    mail.run().await;
    assert_eq!(mail.received_by("filtered@example.org").len(), 1);
    assert_eq!(mail.received_by("dsnpolicy@example.org").len(), 2);
    let rcpts_to_gone = mail
        .smtp
        .commands()
        .iter()
        .filter(|c| c.line.contains("gone@example.org"))
        .count();
    assert_eq!(rcpts_to_gone, 1);
}

/// Runs tests/tools/verify_dkim.py (dkimpy) on a message, answering its key
/// lookup with the fixture's TXT record; installs dkimpy on first use.
fn verify_dkim(message: &[u8]) -> (bool, Value) {
    let tool = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tools/verify_dkim.py");
    let record = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/dkim/test-rsa.txt"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("message.eml");
    std::fs::write(&path, message).unwrap();
    let run = || {
        std::process::Command::new("python3")
            .args([tool, path.to_str().unwrap(), record])
            .output()
            .expect("python3 is needed for the DKIM test")
    };
    let mut out = run();
    if out.status.code() == Some(3) {
        let requirements = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tools/requirements.txt");
        let installed = std::process::Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", "-r", requirements])
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            installed,
            "the DKIM test needs the Python package dkimpy: pip install dkimpy"
        );
        out = run();
    }
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "verify_dkim.py failed (it needs the Python package dkimpy): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        out.status.success(),
        serde_json::from_slice(&out.stdout).unwrap(),
    )
}

#[tokio::test]
async fn outgoing_mail_is_dkim_signed_when_configured_and_verifies_independently() {
    let mail = spawn_mail_app_with(|s| {
        s.email.dkim.selector = "pregon2026".into();
        s.email.dkim.private_key_file = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/dkim/test-rsa.pem"
        )
        .into();
    })
    .await;
    let list = mail.list("members").await;
    mail.confirmed(list, "zoe@example.org", "Zoé Müller-Ñúñez", "fr")
        .await;
    let issue = mail.issue(&[list], None).await;
    mail.send(issue).await;
    mail.run().await;
    let received = mail.received_by("zoe@example.org");
    assert_eq!(received.len(), 1);
    let (valid, report) = verify_dkim(&received[0].data);
    assert!(
        valid,
        "{report}\n{}",
        String::from_utf8_lossy(&received[0].data)
    );
    assert_eq!(report["domain"], "pregon.test");
    assert_eq!(report["selector"], "pregon2026");
    let headers = report["headers"].as_array().unwrap();
    for h in [
        "from",
        "subject",
        "list-unsubscribe",
        "list-unsubscribe-post",
        "message-id",
    ] {
        assert!(headers.iter().any(|x| x == h), "{h} not signed: {report}");
    }
    // The verifier is not a rubber stamp: one changed byte in the body fails.
    let mut tampered = received[0].data.clone();
    let at = tampered.len() - 10;
    tampered[at] = if tampered[at] == b'x' { b'y' } else { b'x' };
    assert!(!verify_dkim(&tampered).0);
}

#[tokio::test]
async fn the_public_forms_name_is_not_copied_into_the_confirmation_email() {
    let mail = spawn_mail_app().await;
    let app = &mail.app;
    mail.list("members").await;
    let res = app
        .client
        .post(app.url("/newsletter/subscribe"))
        .json(
            &json!({"email": "victim@example.org", "name": "Cheap pills at spam.example",
                      "lists": ["members"], "consent": true}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    crate::subscriber_view::wait_for_subscriber(app, "victim@example.org").await;
    mail.run().await;
    let received = mail.received_by("victim@example.org");
    assert_eq!(received.len(), 1);
    let raw = String::from_utf8_lossy(&received[0].data).to_lowercase();
    let parsed = parse(&received[0].data);
    let text = parsed.body_text(0).unwrap().to_lowercase();
    let html = parsed.body_html(0).unwrap().to_lowercase();
    for (what, content) in [
        ("raw", &raw),
        ("text", &text.to_string()),
        ("html", &html.to_string()),
    ] {
        assert!(!content.contains("spam.example"), "{what}: {content}");
        assert!(!content.contains("pills"), "{what}: {content}");
    }
    let to = parsed.to().unwrap().first().unwrap();
    assert_eq!(to.name(), None);
}

/// Runs `pregon ARGS` with its stdout and stderr on a pseudo-terminal (Python's
/// `pty`, as a person's terminal would be); returns what the terminal showed.
fn refs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

fn pregon_on_a_terminal(database: &str, args: &[&str]) -> String {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import pty, sys; sys.exit(pty.spawn(sys.argv[1:]) >> 8)",
        ])
        .arg(env!("CARGO_BIN_EXE_pregon"))
        .args(args)
        .args(["--database", database])
        .env("RUST_LOG", "warn")
        .env_remove("PREGON__DATABASE__URL")
        .output()
        .expect("python3 runs pregon on a pseudo-terminal");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn a_long_import_shows_progress_on_a_terminal_only() {
    let mail = spawn_mail_app().await;
    mail.list("members").await;
    let db = mail.app.settings.database.url.clone();
    let dir = tempfile::tempdir().unwrap();
    // A file of 1,200 new addresses starting at `from`.
    let file = |name: &str, from: usize| {
        let mut csv = String::from("email,language\n");
        for i in from..from + 1200 {
            csv.push_str(&format!("reader{i}@example.org,es\n"));
        }
        let path = dir.path().join(name);
        std::fs::write(&path, csv).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let (piped, terminal, quiet) = (file("a.csv", 0), file("b.csv", 2000), file("c.csv", 4000));
    let import = |file: &str, extra: &[&'static str]| -> Vec<String> {
        let mut args: Vec<String> = [
            "subscribers",
            "import",
            "--list",
            "members",
            "--confirmed",
            "--source",
            "paper forms",
        ]
        .iter()
        .chain(extra)
        .map(|s| s.to_string())
        .collect();
        args.push(file.to_owned());
        args
    };

    // Piped (a script, cron): the summary only, no bar.
    let (ok, out) = pregon_cli(&db, &refs(&import(&piped, &[])), None);
    assert!(ok, "{out}");
    assert!(out.contains("1200 subscribed"), "{out}");
    assert!(!out.contains("importing subscribers"), "{out}");

    // On a terminal: the bar with its label, then the summary.
    let shown = pregon_on_a_terminal(&db, &refs(&import(&terminal, &[])));
    assert!(shown.contains("importing subscribers"), "{shown:?}");
    assert!(shown.contains("1200 subscribed"), "{shown:?}");

    // On a terminal with --quiet: the summary only.
    let shown = pregon_on_a_terminal(&db, &refs(&import(&quiet, &["--quiet"])));
    assert!(shown.contains("1200 subscribed"), "{shown:?}");
    assert!(!shown.contains("importing subscribers"), "{shown:?}");
}

/// Every subscriber change since history entry `since`: (entity id, action).
async fn subscriber_changes_since(app: &TestApp, mut since: i64) -> Vec<(i64, String)> {
    let mut out = Vec::new();
    loop {
        let page = app
            .get_json(&format!(
                "/api/v1/changes?entity=subscriber&limit=500&since={since}"
            ))
            .await;
        for item in page["items"].as_array().unwrap() {
            out.push((
                item["entity_id"].as_i64().unwrap(),
                item["action"].as_str().unwrap().to_owned(),
            ));
        }
        match page["next"].as_i64() {
            Some(next) => since = next,
            None => return out,
        }
    }
}

#[tokio::test]
async fn a_long_import_is_written_in_parts_with_every_change_in_an_intact_history() {
    let mail = spawn_mail_app().await;
    let app = &mail.app;
    let members = mail.list("members").await;
    let other = mail.list("other").await;
    let db = app.settings.database.url.clone();
    let import = |list: i64, body: String, query: &'static str| {
        app.client
            .post(app.url(&format!("/api/v1/lists/{list}/import{query}")))
            .bearer_auth(&app.editor)
            .header("content-type", "text/csv")
            .body(body)
            .send()
    };
    // Before: carla is on another list, erin already on this one, frank left
    // it, dave's address bounced.
    let before = import(
        other,
        "email\ncarla@example.org\ndave@example.org\n".into(),
        "?confirmed=true&source=fair",
    )
    .await
    .unwrap();
    assert_eq!(before.status(), 200);
    import(
        members,
        "email\nerin@example.org\nfrank@example.org\n".into(),
        "?confirmed=true&source=fair",
    )
    .await
    .unwrap();
    let frank = app
        .get_json("/api/v1/subscribers?email=frank@example.org")
        .await["items"][0]["id"]
        .as_i64()
        .unwrap();
    mail.action_on_subscriber(frank).await;
    let (ok, out) = pregon_cli(&db, &["bounce", "dave@example.org", "--kind", "hard"], None);
    assert!(ok, "{out}");
    let head = app.get_json("/api/v1/changes?limit=500").await;
    let mut since = 0;
    for item in head["items"].as_array().unwrap() {
        since = since.max(item["id"].as_i64().unwrap());
    }
    assert!(head["next"].is_null(), "fewer than 500 changes so far");

    // 1,200 new addresses (three parts of the import) and the four above.
    let mut csv = String::from("email,name,language\n");
    for i in 0..1200 {
        csv.push_str(&format!("r{i}@example.org,Recipient {i},fr\n"));
    }
    for known in ["carla", "dave", "erin", "frank"] {
        csv.push_str(&format!("{known}@example.org,,\n"));
    }
    let res = import(members, csv, "").await.unwrap();
    let report: Value = res.json().await.unwrap();
    assert_eq!(
        [
            "rows",
            "created",
            "subscribed",
            "already_subscribed",
            "skipped_unsubscribed",
            "skipped_suppressed"
        ]
        .map(|k| report[k].as_i64().unwrap()),
        [1204, 1200, 1201, 1, 1, 1],
        "{report}"
    );
    // Each new subscription waits for its confirmation email, one each.
    let pending = app
        .get_json(&format!(
            "/api/v1/subscribers?list_id={members}&status=pending&per_page=1"
        ))
        .await;
    assert_eq!(pending["total"], 1201, "{pending}");
    let confirmations: Vec<(Option<i64>, i64)> = app
        .db
        .run(|c| {
            use diesel::prelude::*;
            use pregon::db::schema::deliveries::dsl::*;
            Ok(deliveries
                .filter(kind.eq("confirmation"))
                .select((subscriber_id, subscription_id.assume_not_null()))
                .load(c)?)
        })
        .await
        .unwrap();
    let distinct: std::collections::BTreeSet<i64> = confirmations.iter().map(|(_, s)| *s).collect();
    assert_eq!((confirmations.len(), distinct.len()), (1201, 1201));
    let fr = app
        .get_json("/api/v1/subscribers?email=r1199@example.org")
        .await;
    assert_eq!(fr["items"][0]["name"], "Recipient 1199");
    assert_eq!(fr["items"][0]["language"], "fr");

    // One entry per subscriber changed: 1,200 created, carla's new
    // subscription; nothing for erin, frank or dave. The chain holds.
    let changes = subscriber_changes_since(app, since).await;
    let created = changes.iter().filter(|c| c.1 == "created").count();
    let carla = app
        .get_json("/api/v1/subscribers?email=carla@example.org")
        .await["items"][0]["id"]
        .as_i64()
        .unwrap();
    let others: Vec<&(i64, String)> = changes.iter().filter(|c| c.1 != "created").collect();
    assert_eq!(created, 1200);
    assert_eq!(others, [&(carla, "state_changed".to_owned())]);
    let ids: std::collections::BTreeSet<i64> = changes.iter().map(|c| c.0).collect();
    assert_eq!(ids.len(), 1201);
    let (ok, out) = pregon_cli(&db, &["history", "verify"], None);
    assert!(ok && out.contains("the chain holds"), "{out}");
}

/// Two processes signing their first links at the same moment (two
/// dispatchers started together on a new database) both create the link
/// key: the second waits for the first, keeps the first's key, and its
/// transaction stays usable. On PostgreSQL a caught unique violation used to
/// leave it aborted, so the second dispatcher's first message waited 30 s.
#[tokio::test]
async fn two_processes_creating_the_link_key_at_once_share_one_key() {
    use pregon::db::{self, subscribers::link_signer};
    use std::sync::mpsc;
    let app = spawn_app().await;
    let now = app.clock_now();
    let url = app.settings.database.url.clone();
    {
        use diesel::prelude::*;
        use pregon::db::schema::service_secrets;
        let keys: i64 = service_secrets::table
            .filter(service_secrets::name.eq("link-signing-key"))
            .count()
            .get_result(&mut *app.db.get().unwrap())
            .unwrap();
        assert_eq!(keys, 0, "a new database has no link key yet");
    }
    let (inserted_tx, inserted) = mpsc::channel();
    let (commit_tx, commit) = mpsc::channel::<()>();
    let first = {
        let url = url.clone();
        std::thread::spawn(move || {
            let mut conn = db::establish(&url).unwrap();
            db::write_transaction(&mut conn, |c| {
                let signer = link_signer(c, now)?;
                inserted_tx.send(()).unwrap();
                commit.recv().unwrap();
                Ok(signer.unsubscribe_token(7, 1))
            })
        })
    };
    inserted.recv().unwrap();
    let second = {
        let url = url.clone();
        std::thread::spawn(move || {
            let mut conn = db::establish(&url).unwrap();
            db::write_transaction(&mut conn, |c| {
                Ok(link_signer(c, now)?.unsubscribe_token(7, 1))
            })
        })
    };
    if backend() == db::Backend::Postgres {
        // The second has read no key and its INSERT waits on the first's row.
        use diesel::prelude::*;
        #[derive(QueryableByName)]
        struct Waiting {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = db::establish(&url).unwrap();
        let db::DbConnection::Postgres(pg) = &mut conn else {
            unreachable!()
        };
        loop {
            let waiting: Waiting = diesel::sql_query(
                "SELECT count(*) AS n FROM pg_stat_activity \
                 WHERE datname = current_database() AND wait_event_type = 'Lock' \
                   AND query LIKE 'INSERT INTO \"service_secrets\"%'",
            )
            .get_result(pg)
            .unwrap();
            if waiting.n == 1 || second.is_finished() {
                break;
            }
            std::thread::yield_now();
        }
    }
    commit_tx.send(()).unwrap();
    let first = first.join().unwrap().expect("the first process's key");
    let second = second.join().unwrap().expect("the second process's key");
    assert_eq!(first, second, "both sign with the same key");
}
