//! The inbound mailbox against a real IMAP server (Dovecot on loopback,
//! TLS): a delivery status notification suppresses the address, an ARF
//! complaint unsubscribes, an iTIP REPLY sets the participation's answer
//! with its history, a message that is none of these is recorded as
//! skipped and not read again, and nothing is handled twice across
//! restarts: a new fetcher, a new `pregon inbound fetch` process, a
//! `pregon dispatch` process, even after the server's flags were lost.

use crate::helpers::*;
use crate::imap_server::Dovecot;
use crate::invitation_replies::{calendar_part, reply_to};
use crate::mail::*;
use pregon::domain::inbound::InboundOutcome;
use pregon::inbound::Fetcher;
use serde_json::{Value, json};
use std::process::{Command, Stdio};
use std::sync::Arc;

const ORGANIZER: &str = "agenda@pregon.test";

fn dsn(recipient: &str, status: &str) -> String {
    format!(
        "From: MAILER-DAEMON@relay.example\r\nTo: bounces@pregon.test\r\n\
         Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n\
         Message-ID: <dsn-{status}-{recipient}>\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n\
         --B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n\
         --B\r\nContent-Type: message/delivery-status\r\n\r\n\
         Reporting-MTA: dns; relay.example\r\n\r\n\
         Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: {status}\r\n\
         Diagnostic-Code: smtp; 550 {status} user unknown\r\n\r\n\
         --B\r\nContent-Type: text/rfc822-headers\r\n\r\n\
         To: {recipient}\r\nMessage-ID: <issue-1@pregon.test>\r\nSubject: x\r\n\
         --B--\r\n"
    )
}

fn arf(recipient: &str) -> String {
    format!(
        "From: fbl@isp.example\r\nTo: bounces@pregon.test\r\nSubject: Abuse report\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=feedback-report; boundary=\"F\"\r\n\r\n\
         --F\r\nContent-Type: text/plain\r\n\r\nA complaint about a message from your network.\r\n\
         --F\r\nContent-Type: message/feedback-report\r\n\r\n\
         Feedback-Type: abuse\r\nUser-Agent: isp-fbl/1.0\r\nVersion: 1\r\n\
         Original-Rcpt-To: {recipient}\r\n\r\n\
         --F\r\nContent-Type: text/rfc822-headers\r\n\r\n\
         To: {recipient}\r\nMessage-ID: <issue-1@pregon.test>\r\nSubject: x\r\n\
         --F--\r\n"
    )
}

const OUT_OF_OFFICE: &str = "From: someone@example.org\r\nTo: bounces@pregon.test\r\n\
     Subject: Out of office\r\nMessage-ID: <ooo@example.org>\r\n\r\nI am away until Monday.\r\n";

/// A report that says it is a delivery status notification but has no
/// status part: malformed.
const BROKEN_REPORT: &str = "From: MAILER-DAEMON@relay.example\r\nSubject: Undelivered\r\n\
     MIME-Version: 1.0\r\n\
     Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n\
     --B\r\nContent-Type: text/plain\r\n\r\nSomething went wrong.\r\n--B--\r\n";

fn fetcher(app: &TestApp) -> Fetcher {
    Fetcher::new(
        app.settings.inbound.clone(),
        app.db.clone(),
        Arc::new(app.clock.clone()),
    )
    .unwrap()
}

async fn status_of(app: &TestApp, email: &str) -> Value {
    let found = app
        .get_json(&format!("/api/v1/subscribers?email={email}"))
        .await;
    found["items"][0]["status"].clone()
}

/// An activity with the mayor taking part, the invitation sent; the
/// participation's id and the invitation's calendar object.
async fn invited(mail: &Mail) -> (i64, String) {
    let app = &mail.app;
    let f = crate::activities::fixture(app).await;
    let body = crate::activities::activity(
        &f,
        json!({"precision": "exact", "start": "2026-03-10T10:00", "end": "2026-03-10T12:00", "time_zone": "Europe/Madrid"}),
    );
    let id = app.create("/api/v1/activities", body).await["id"]
        .as_i64()
        .unwrap();
    let mayor = app
        .create(
            "/api/v1/people",
            json!({"name": "Juan Mari Aburto", "email": "mayor@bilbao.example", "language": "es"}),
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
    (participation, calendar_part(&received[0].data))
}

fn reply_email(ics: &str) -> String {
    format!(
        "From: Juan Mari Aburto <mayor@bilbao.example>\r\nTo: {ORGANIZER}\r\n\
         Subject: Accepted: Panel\r\nMIME-Version: 1.0\r\nMessage-ID: <reply-1@bilbao.example>\r\n\
         Content-Type: multipart/mixed; boundary=\"x\"\r\n\r\n--x\r\n\
         Content-Type: text/plain; charset=UTF-8\r\n\r\nJuan Mari Aburto has accepted.\r\n--x\r\n\
         Content-Type: text/calendar; charset=UTF-8; method=REPLY\r\n\r\n{ics}--x--\r\n"
    )
}

#[tokio::test]
async fn bounces_complaints_and_replies_are_read_from_the_mailbox_once() {
    let imap = Dovecot::start().await;
    let mail = spawn_mail_app_with(|s| {
        s.email.invitation_organizer = ORGANIZER.into();
        imap.configure(&mut s.inbound);
        s.inbound.handled_mailbox = "Handled".into();
    })
    .await;
    let app = &mail.app;
    let list = mail.list("members").await;
    mail.confirmed(list, "gone@example.org", "Gone", "en").await;
    mail.confirmed(list, "angry@example.org", "Angry", "en")
        .await;
    mail.confirmed(list, "ana@example.org", "Ana", "es").await;
    let (participation, invitation) = invited(&mail).await;

    imap.append("INBOX", &dsn("gone@example.org", "5.1.1"))
        .await;
    imap.append("INBOX", &arf("angry@example.org")).await;
    let ics = reply_to(&invitation, "mayor@bilbao.example", "ACCEPTED", None);
    imap.append("INBOX", &reply_email(&ics)).await;
    imap.append("INBOX", OUT_OF_OFFICE).await;
    imap.append("INBOX", BROKEN_REPORT).await;

    let report = fetcher(app).fetch_once().await.expect("fetch");
    assert_eq!(report.count(InboundOutcome::Bounce), 1, "{report}");
    assert_eq!(report.count(InboundOutcome::Complaint), 1, "{report}");
    assert_eq!(report.count(InboundOutcome::Reply), 1, "{report}");
    assert_eq!(report.count(InboundOutcome::Skipped), 2, "{report}");
    assert!(!report.uid_validity_changed);

    // A hard bounce suppresses, a complaint unsubscribes, the others are untouched.
    assert_eq!(status_of(app, "gone@example.org").await, "bounced");
    assert_eq!(status_of(app, "angry@example.org").await, "complained");
    assert_eq!(status_of(app, "ana@example.org").await, "active");
    // The reply set the answer, with a history entry that says where it came from.
    let view = app
        .get_json(&format!("/api/v1/participations/{participation}"))
        .await;
    assert_eq!(view["answer"], "accepted", "{view}");
    let history = app
        .get_json(&format!("/api/v1/participations/{participation}/history"))
        .await;
    let answered: Vec<&Value> = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["changes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["field"] == "answer" && c["after"] == "accepted")
        })
        .collect();
    assert_eq!(answered.len(), 1, "{history}");
    let reason = answered[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("bounces@127.0.0.1") && reason.contains("UID 3"),
        "{reason}"
    );

    // Each message is recorded with what became of it, the junk with why.
    let recorded = app
        .db
        .run(|c| pregon::db::inbound::recent(c, 10))
        .await
        .unwrap();
    let outcomes: Vec<(i64, InboundOutcome)> =
        recorded.iter().rev().map(|m| (m.uid, m.outcome)).collect();
    assert_eq!(
        outcomes,
        [
            (1, InboundOutcome::Bounce),
            (2, InboundOutcome::Complaint),
            (3, InboundOutcome::Reply),
            (4, InboundOutcome::Skipped),
            (5, InboundOutcome::Skipped),
        ]
    );
    assert!(
        recorded[1].detail.starts_with("neither"),
        "{:?}",
        recorded[1]
    );
    assert!(
        recorded[0].detail.contains("message/delivery-status"),
        "{:?}",
        recorded[0]
    );
    assert_eq!(recorded[1].message_id.as_deref(), Some("<ooo@example.org>"));

    // On the server: moved out of the inbox, flagged \Seen.
    assert!(imap.messages("INBOX").await.is_empty());
    let handled = imap.messages("Handled").await;
    assert_eq!(handled.len(), 5, "{handled:?}");
    assert!(
        handled.iter().all(|(_, f)| f.iter().any(|f| f == "Seen")),
        "{handled:?}"
    );

    // A new fetcher (a restart) finds nothing new; a new message is the only one read.
    let again = fetcher(app).fetch_once().await.unwrap();
    assert_eq!(again.total(), 0, "{again}");
    imap.append("INBOX", &dsn("ana@example.org", "5.1.1")).await;
    let next = fetcher(app).fetch_once().await.unwrap();
    assert_eq!(next.total(), 1, "{next}");
    assert_eq!(next.count(InboundOutcome::Bounce), 1, "{next}");
    assert_eq!(status_of(app, "ana@example.org").await, "bounced");
    // The password is nowhere in what the fetcher reports.
    assert!(!format!("{next} {next:?}").contains(crate::imap_server::PASSWORD));
}

fn pregon(app: &TestApp, imap: &Dovecot, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_pregon"))
        .args(args)
        .env("PREGON_ENV", "inbound-test")
        .env("PREGON__DATABASE__URL", &app.settings.database.url)
        .env("PREGON__SERVER__PUBLIC_URL", "https://pregon.test")
        .env("PREGON__EMAIL__FROM_ADDRESS", FROM)
        .env(
            "PREGON__EMAIL__OUTBOX_DIR",
            std::env::temp_dir().join("pregon-inbound-test-outbox"),
        )
        .env("PREGON__INBOUND__HOST", "127.0.0.1")
        .env("PREGON__INBOUND__PORT", imap.port.to_string())
        .env("PREGON__INBOUND__USER", crate::imap_server::USER)
        .env("PREGON__INBOUND__PASSWORD", crate::imap_server::PASSWORD)
        .env("PREGON__INBOUND__CA_FILE", imap.ca_file())
        .env("PREGON__LOG__FILTER", "info")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("run pregon")
}

/// Soft bounces count (three in a row suppress), so a message handled twice
/// would show: two soft bounces read, the flags then lost on the server,
/// a new fetcher, `pregon inbound fetch` and `pregon dispatch` run; the
/// address still has two, until a third message arrives.
#[tokio::test]
async fn nothing_is_handled_twice_across_restarts_and_processes() {
    let imap = Dovecot::start().await;
    let mail = spawn_mail_app_with(|s| imap.configure(&mut s.inbound)).await;
    let app = &mail.app;
    let list = mail.list("members").await;
    mail.confirmed(list, "full@example.org", "Full", "en").await;
    imap.append("INBOX", &dsn("full@example.org", "4.2.2"))
        .await;
    imap.append("INBOX", &dsn("full@example.org", "4.2.2"))
        .await;
    let first = fetcher(app).fetch_once().await.unwrap();
    assert_eq!(first.count(InboundOutcome::Bounce), 2, "{first}");
    assert_eq!(status_of(app, "full@example.org").await, "active");
    // Without a handled mailbox the messages stay, flagged \Seen.
    let kept = imap.messages("INBOX").await;
    assert_eq!(kept.len(), 2);
    assert!(kept.iter().all(|(_, f)| f.iter().any(|f| f == "Seen")));

    // Someone marks everything unread: the database, not the flags, says what was read.
    imap.mark_all_unread("INBOX").await;
    let again = fetcher(app).fetch_once().await.unwrap();
    assert_eq!(again.total(), 0, "{again}");
    let out = pregon(app, &imap, &["inbound", "fetch"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("0 new message(s)"), "{stdout}");
    assert!(
        !format!("{stdout}{stderr}").contains(crate::imap_server::PASSWORD),
        "{stdout}{stderr}"
    );
    assert_eq!(status_of(app, "full@example.org").await, "active");

    // A third soft bounce, read by `pregon dispatch` on its pass, suppresses.
    imap.append("INBOX", &dsn("full@example.org", "4.2.2"))
        .await;
    let out = pregon(app, &imap, &["dispatch", "--exit-when-idle"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(status_of(app, "full@example.org").await, "bounced");
    let out = pregon(app, &imap, &["inbound", "list"]);
    let listed = String::from_utf8_lossy(&out.stdout);
    assert_eq!(listed.lines().count(), 3, "{listed}");
    assert!(listed.lines().all(|l| l.contains(" bounce: ")), "{listed}");
}

/// A wrong password is an error that names the user, never the password.
#[tokio::test]
async fn a_refused_login_names_the_user_not_the_password() {
    let imap = Dovecot::start().await;
    let app = spawn_app_with(|s| {
        imap.configure(&mut s.inbound);
        s.inbound.password = pregon::email::Secret::new("wrong-password-123");
    })
    .await;
    let err = fetcher(&app).fetch_once().await.unwrap_err();
    let text = format!("{err:#} {err:?}");
    assert!(text.contains("LOGIN as bounces"), "{text}");
    assert!(!text.contains("wrong-password-123"), "{text}");
}
