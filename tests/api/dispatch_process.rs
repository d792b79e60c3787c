//! The real `pregon dispatch` process, configured by environment variables
//! like an operator would, against the test database and the loopback SMTP
//! server: killed mid-send, stopped with SIGTERM, and run twice at once.

use crate::helpers::*;
use crate::mail::*;
use diesel::prelude::*;
use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CONCURRENCY: usize = 4;

fn dispatcher(mail: &Mail, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_pregon"))
        .arg("dispatch")
        .args(extra)
        .env("PREGON_ENV", "process-test")
        .env("PREGON__DATABASE__URL", &mail.app.settings.database.url)
        .env("PREGON__DATABASE__POOL_SIZE", "4")
        .env("PREGON__SERVER__PUBLIC_URL", "https://pregon.test")
        .env("PREGON__EMAIL__TRANSPORT", "smtp")
        .env("PREGON__EMAIL__FROM_ADDRESS", FROM)
        .env("PREGON__EMAIL__SMTP__HOST", "127.0.0.1")
        .env("PREGON__EMAIL__SMTP__PORT", mail.smtp.port().to_string())
        .env("PREGON__EMAIL__SMTP__TLS", "none")
        .env("PREGON__EMAIL__SMTP__TIMEOUT_SECS", "5")
        .env("PREGON__EMAIL__SMTP__POOL_SIZE", CONCURRENCY.to_string())
        .env("PREGON__EMAIL__CONCURRENCY", CONCURRENCY.to_string())
        .env("PREGON__EMAIL__BATCH_SIZE", "25")
        .env("PREGON__EMAIL__POLL_INTERVAL_MS", "50")
        .env("PREGON__EMAIL__HEARTBEAT_SECS", "1")
        .env("PREGON__LOG__FILTER", "warn")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start pregon dispatch")
}

async fn wait_until(what: &str, limit: Duration, condition: impl Fn() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn wait_exit(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("pregon dispatch did not finish within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// (state, claimed_by set, unknown_outcomes) per recipient email.
fn delivery_rows(mail: &Mail, issue: i64) -> BTreeMap<String, (String, bool, i32)> {
    use pregon::db::schema::deliveries::dsl::*;
    let mut conn = mail.app.db.get().unwrap();
    deliveries
        .filter(issue_id.eq(issue))
        .select((email, state, claimed_by.is_not_null(), unknown_outcomes))
        .load::<(String, String, bool, i32)>(&mut *conn)
        .unwrap()
        .into_iter()
        .map(|(e, s, c, u)| (e, (s, c, u)))
        .collect()
}

fn received_counts(mail: &Mail) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for m in mail.smtp.messages() {
        *counts.entry(m.rcpt_to[0].clone()).or_insert(0) += 1;
    }
    counts
}

async fn issue_for(mail: &Mail, recipients: usize) -> i64 {
    let list = mail.list("members").await;
    bulk_subscribers(&mail.app, list, recipients);
    let issue = mail.issue(&[list], None).await;
    mail.send(issue).await;
    issue
}

#[tokio::test]
async fn sigkill_mid_send_loses_nobody_and_reports_the_in_flight_few() {
    let mail = spawn_mail_app().await;
    let issue = issue_for(&mail, 300).await;
    mail.smtp.set_latency(Duration::from_millis(2));

    let mut first = dispatcher(&mail, &[]);
    wait_until("first messages", Duration::from_secs(60), || {
        mail.smtp.messages().len() >= 60
    })
    .await;
    first.kill().unwrap(); // SIGKILL: no chance to clean up
    first.wait().unwrap();

    let at_kill = delivery_rows(&mail, issue);
    let in_flight = at_kill.values().filter(|(s, _, _)| s == "sending").count();
    // Per worker: the message on the wire and those marked ahead.
    let window = (1 + pregon::dispatch::DEFAULT_MARK_AHEAD as usize) * CONCURRENCY;
    assert!(
        in_flight <= window,
        "{in_flight} deliveries in flight, more than the window of {window}"
    );
    let received_at_kill = mail.smtp.messages().len();
    eprintln!("at kill: {received_at_kill} received, {in_flight} in flight");
    assert!(
        received_at_kill < 300,
        "the kill came too late to test anything"
    );

    let mut second = dispatcher(&mail, &["--exit-when-idle"]);
    let status = wait_exit(&mut second, Duration::from_secs(120)).await;
    assert!(status.success(), "{status}");

    let received = received_counts(&mail);
    let rows = delivery_rows(&mail, issue);
    assert_eq!(received.len(), 300, "every recipient got the issue");
    assert!(
        rows.values().all(|(s, claimed, _)| s == "sent" && !claimed),
        "{rows:?}"
    );
    let reported: Vec<&String> = rows
        .iter()
        .filter(|(_, (_, _, unknown))| *unknown > 0)
        .map(|(email, _)| email)
        .collect();
    assert!(reported.len() <= window, "{reported:?}");
    eprintln!(
        "outcome unknown: {reported:?}; copies: {:?}",
        received.values().filter(|n| **n > 1).count()
    );
    for (email, copies) in &received {
        if *copies > 1 {
            assert_eq!(*copies, 2, "{email}");
            assert!(
                reported.contains(&email),
                "{email} got a duplicate that is not reported as outcome unknown"
            );
        }
    }
    let progress = mail.progress(issue).await;
    assert_eq!(progress["state"], "sent", "{progress}");
    assert_eq!(
        progress["possible_duplicates"].as_u64().unwrap() as usize,
        reported.len()
    );
}

#[cfg(unix)]
#[tokio::test]
async fn sigterm_finishes_the_messages_in_flight_and_gives_back_the_rest() {
    let mail = spawn_mail_app().await;
    let issue = issue_for(&mail, 200).await;
    mail.smtp.set_latency(Duration::from_millis(2));

    let mut first = dispatcher(&mail, &[]);
    wait_until("first messages", Duration::from_secs(60), || {
        mail.smtp.messages().len() >= 40
    })
    .await;
    let pid = first.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = wait_exit(&mut first, Duration::from_secs(30)).await;
    assert!(status.success(), "graceful stop: {status}");

    let rows = delivery_rows(&mail, issue);
    assert!(
        rows.values()
            .all(|(s, claimed, unknown)| s != "sending" && !claimed && *unknown == 0),
        "nothing left in flight or claimed: {rows:?}"
    );
    let sent_before = rows.values().filter(|(s, _, _)| s == "sent").count();
    assert_eq!(sent_before, mail.smtp.messages().len());
    assert!(sent_before < 200);
    let registered: i64 = {
        use pregon::db::schema::dispatchers::dsl::*;
        dispatchers
            .count()
            .get_result(&mut *mail.app.db.get().unwrap())
            .unwrap()
    };
    assert_eq!(registered, 0);

    let mut second = dispatcher(&mail, &["--exit-when-idle"]);
    assert!(
        wait_exit(&mut second, Duration::from_secs(120))
            .await
            .success()
    );
    let received = received_counts(&mail);
    assert_eq!(received.len(), 200);
    assert!(
        received.values().all(|n| *n == 1),
        "a graceful stop never duplicates"
    );
}

#[tokio::test]
async fn two_dispatchers_on_postgresql_send_each_recipient_once() {
    if backend() != pregon::db::Backend::Postgres {
        eprintln!("skipped: needs PREGON_TEST_DATABASE_URL (several dispatchers need PostgreSQL)");
        return;
    }
    let mail = spawn_mail_app().await;
    let issue = issue_for(&mail, 10_000).await;
    let mut a = dispatcher(&mail, &["--exit-when-idle"]);
    let mut b = dispatcher(&mail, &["--exit-when-idle"]);
    assert!(wait_exit(&mut a, Duration::from_secs(300)).await.success());
    assert!(wait_exit(&mut b, Duration::from_secs(300)).await.success());

    let received = received_counts(&mail);
    assert_eq!(received.len(), 10_000);
    assert!(
        received.values().all(|n| *n == 1),
        "duplicates: {:?}",
        received
            .iter()
            .filter(|(_, n)| **n > 1)
            .take(5)
            .collect::<Vec<_>>()
    );
    assert!(mail.smtp.unacknowledged().is_empty());
    // Both took part: messages came over the connections of two processes.
    let commands = mail.smtp.commands();
    let hosts = commands.iter().filter(|c| c.verb() == "EHLO").count();
    assert!(hosts >= 2);
    let progress = mail.progress(issue).await;
    assert_eq!(progress["sent"], 10_000, "{progress}");
    assert_eq!(progress["state"], "sent");
}
