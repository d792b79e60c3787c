//! Reminders and the weekly digest, through the real SMTP test server, with
//! the job runner driven one step at a time on the manual clock: each
//! language, once each (a repeated step and a new runner send nothing
//! more), armed again when the item's time changes.

use crate::helpers::*;
use crate::mail::*;
use chrono::{TimeZone, Utc};
use mail_parser::MessageParser;
use pregon::jobs::{self, Runner};
use serde_json::{Value, json};
use std::sync::Arc;

/// A runner as `serve` builds it: the standard handlers and planners.
fn runner(app: &TestApp) -> Arc<Runner> {
    let clock: pregon::clock::SharedClock = Arc::new(app.clock.clone());
    let handlers = jobs::standard_handlers(&app.settings, &app.db, &clock).unwrap();
    let planners = jobs::standard_planners(&app.settings);
    Runner::with_planners(
        app.db.clone(),
        clock,
        app.settings.jobs.clone(),
        handlers,
        planners,
    )
    .unwrap()
}

fn subject_and_text(data: &[u8]) -> (String, String) {
    let message = MessageParser::default().parse(data).unwrap();
    (
        message.subject().unwrap_or_default().to_owned(),
        message.body_text(0).unwrap_or_default().into_owned(),
    )
}

async fn person(app: &TestApp, name: &str, email: &str, lang: &str) -> i64 {
    app.create(
        "/api/v1/people",
        json!({"name": name, "email": email, "language": lang}),
    )
    .await["id"]
        .as_i64()
        .unwrap()
}

async fn account(app: &TestApp, email: &str, name: &str, role: &str, lang: &str) -> i64 {
    let res = app
        .client
        .post(app.url("/api/v1/accounts"))
        .bearer_auth(&app.admin)
        .json(&json!({"email": email, "name": name, "role": role, "language": lang}))
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    body["id"].as_i64().unwrap()
}

fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
}

fn no_digest(s: &mut pregon::config::Settings) {
    s.reminders.digest = false;
}

#[tokio::test]
async fn owners_and_participants_are_reminded_in_their_language_once_and_again_after_a_move() {
    let mail = spawn_mail_app_with(no_digest).await;
    let app = &mail.app;
    let f = crate::activities::fixture(app).await;
    let ana = person(app, "Ana", "ana@bilbao.example", "es").await;
    let ben = person(app, "Ben", "ben@uclg.example", "en").await;
    let chloe = person(app, "Chloé", "chloe@paris.example", "fr").await;
    let silent = app
        .create("/api/v1/people", json!({"name": "No Address"}))
        .await["id"]
        .as_i64()
        .unwrap();
    // 2026-01-25 10:00 in Madrid is 09:00 UTC; the clock is at 2026-01-15 09:00.
    let mut body = crate::activities::activity(
        &f,
        json!({"precision": "exact", "start": "2026-01-25T10:00", "end": "2026-01-25T12:00", "time_zone": "Europe/Madrid"}),
    );
    body["owner_person_id"] = json!(ana);
    let activity = app.create("/api/v1/activities", body.clone()).await;
    let id = activity["id"].as_i64().unwrap();
    for p in [ben, chloe, silent] {
        app.create(
            "/api/v1/participations",
            json!({"activity_id": id, "person_id": p, "role": "speaker"}),
        )
        .await;
    }

    // Ten days before: nothing yet.
    let first = runner(app);
    first.run_once().await.unwrap();
    assert!(mail.smtp.messages().is_empty());

    // Seven days before (and an hour): one reminder each, in their language.
    app.clock.set(at(2026, 1, 18, 10, 0));
    let step = first.run_once().await.unwrap();
    assert_eq!(step.planned, 3, "{step:?}");
    assert_eq!(step.done, 3, "{step:?}");
    let expect = [
        (
            "ana@bilbao.example",
            "Recordatorio: Panel (es), 2026-01-25 10:00 (Europe/Madrid)",
            "Hola, Ana:",
        ),
        (
            "ben@uclg.example",
            "Reminder: Panel, 2026-01-25 10:00 (Europe/Madrid)",
            "Hello Ben,",
        ),
        (
            "chloe@paris.example",
            "Rappel : Panel (fr), 2026-01-25 10:00 (Europe/Madrid)",
            "Bonjour Chloé,",
        ),
    ];
    for (to, subject, greeting) in expect {
        let got = mail.received_by(to);
        assert_eq!(got.len(), 1, "{to}");
        let (s, text) = subject_and_text(&got[0].data);
        assert_eq!(s, subject);
        assert!(text.starts_with(greeting), "{text}");
    }
    assert_eq!(mail.smtp.messages().len(), 3);

    // The same step again, later, and a new runner (a restart): no second copy.
    app.clock.set(at(2026, 1, 18, 12, 0));
    first.run_once().await.unwrap();
    let restarted = runner(app);
    app.clock.set(at(2026, 1, 19, 12, 0));
    let step = restarted.run_once().await.unwrap();
    assert_eq!(step.planned, 0, "{step:?}");
    assert_eq!(mail.smtp.messages().len(), 3);

    // Moved to 2026-01-21: the reminder is armed again, for the new time.
    let current = app.get_json(&format!("/api/v1/activities/{id}")).await;
    let mut moved = body.clone();
    moved["timing"] = json!({"precision": "exact", "start": "2026-01-21T16:00", "end": "2026-01-21T17:00", "time_zone": "Europe/Madrid"});
    moved["version"] = current["version"].clone();
    let res = app
        .put(&format!("/api/v1/activities/{id}"), &moved)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    app.clock.set(at(2026, 1, 19, 13, 0));
    let step = restarted.run_once().await.unwrap();
    assert_eq!(step.done, 3, "{step:?}");
    let got = mail.received_by("ben@uclg.example");
    assert_eq!(got.len(), 2);
    assert_eq!(
        subject_and_text(&got[1].data).0,
        "Reminder: Panel, 2026-01-21 16:00 (Europe/Madrid)"
    );
    app.clock.set(at(2026, 1, 20, 13, 0));
    runner(app).run_once().await.unwrap();
    assert_eq!(mail.smtp.messages().len(), 6);
}

#[tokio::test]
async fn a_reminder_planned_for_a_time_that_changed_is_not_sent() {
    let mail = spawn_mail_app_with(no_digest).await;
    let app = &mail.app;
    let f = crate::activities::fixture(app).await;
    let ben = person(app, "Ben", "ben@uclg.example", "en").await;
    let mut body = crate::activities::activity(
        &f,
        json!({"precision": "days", "start": "2026-01-16", "end": "2026-01-16"}),
    );
    body["kind"] = json!("social_post");
    body["owner_person_id"] = json!(ben);
    let activity = app.create("/api/v1/activities", body.clone()).await;
    let id = activity["id"].as_i64().unwrap();
    // The post is tomorrow (00:00 UTC): its reminder is planned now; the SMTP
    // server is down, so the job waits for a retry.
    mail.smtp.go_down().await;
    let r = runner(app);
    let step = r.run_once().await.unwrap();
    assert_eq!((step.planned, step.done), (1, 0), "{step:?}");
    mail.smtp.come_back().await;
    // Meanwhile the post moves by a week: the old reminder is skipped.
    let mut moved = body.clone();
    moved["timing"] = json!({"precision": "days", "start": "2026-01-23", "end": "2026-01-23"});
    moved["version"] = activity["version"].clone();
    let res = app
        .put(&format!("/api/v1/activities/{id}"), &moved)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    app.clock.set(at(2026, 1, 15, 12, 0));
    let step = r.run_once().await.unwrap();
    assert_eq!(step.done, 1, "{step:?}");
    assert!(mail.smtp.messages().is_empty());
    let listed: Value = app
        .client
        .get(app.url("/api/v1/jobs?kind=reminder.email"))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let text = listed.to_string();
    assert!(
        text.contains("skipped: the activity's time changed"),
        "{text}"
    );
    // The day before the new date, it comes.
    app.clock.set(at(2026, 1, 22, 8, 0));
    r.run_once().await.unwrap();
    let got = mail.received_by("ben@uclg.example");
    assert_eq!(got.len(), 1);
    assert_eq!(
        subject_and_text(&got[0].data).0,
        "Reminder: Panel, 2026-01-23"
    );
}

#[tokio::test]
async fn approvers_are_reminded_of_work_waiting_two_days() {
    let mail = spawn_mail_app_with(no_digest).await;
    let app = &mail.app;
    let f = crate::activities::fixture(app).await;
    account(app, "lea@uclg.example", "Léa", "approver", "fr").await;
    account(app, "viewer@uclg.example", "Vera", "viewer", "en").await;
    let activity = app
        .create(
            "/api/v1/activities",
            crate::activities::activity(
                &f,
                json!({"precision": "days", "start": "2026-03-01", "end": "2026-03-01"}),
            ),
        )
        .await;
    let id = activity["id"].as_i64().unwrap();
    let res = app
        .post(
            &format!("/api/v1/activities/{id}/review"),
            &json!({"action": "submit"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let r = runner(app);
    app.clock.set(at(2026, 1, 16, 9, 0));
    r.run_once().await.unwrap();
    assert!(mail.smtp.messages().is_empty());
    app.clock.set(at(2026, 1, 17, 9, 1));
    r.run_once().await.unwrap();
    let got = mail.received_by("lea@uclg.example");
    assert_eq!(got.len(), 1);
    let (subject, text) = subject_and_text(&got[0].data);
    assert_eq!(subject, "En attente de votre approbation : Panel (fr)");
    assert!(text.contains("depuis le 2026-01-15"), "{text}");
    app.clock.set(at(2026, 1, 18, 9, 1));
    runner(app).run_once().await.unwrap();
    assert_eq!(
        mail.smtp.messages().len(),
        1,
        "viewers are not asked, nobody twice"
    );
}

/// Creates an activity and returns its id and the body it was created with.
async fn item(
    app: &TestApp,
    f: &crate::activities::Fixture,
    title: &str,
    status: &str,
    timing: Value,
    owner: Option<i64>,
) -> (i64, Value) {
    let mut body = crate::activities::activity(f, timing);
    body["status"] = json!(status);
    body["translations"] =
        json!({"en": {"title": title}, "es": {"title": format!("{title} (es)")}});
    if let Some(owner) = owner {
        body["owner_person_id"] = json!(owner);
    }
    let created = app.create("/api/v1/activities", body.clone()).await;
    (created["id"].as_i64().unwrap(), body)
}

/// PUTs a changed activity (its current version taken first).
async fn change(app: &TestApp, id: i64, body: &Value, changes: Value) {
    let current = app.get_json(&format!("/api/v1/activities/{id}")).await;
    let mut changed = body.clone();
    for (k, v) in changes.as_object().unwrap() {
        changed[k] = v.clone();
    }
    changed["version"] = current["version"].clone();
    let res = app
        .put(&format!("/api/v1/activities/{id}"), &changed)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
}

async fn jobs_text(app: &TestApp, kind: &str) -> String {
    let listed: Value = app
        .client
        .get(app.url(&format!("/api/v1/jobs?kind={kind}")))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    listed.to_string()
}

#[tokio::test]
async fn the_weekly_digest_goes_once_per_week_to_each_account_that_wants_it() {
    let mail = spawn_mail_app().await;
    let app = &mail.app;
    let f = crate::activities::fixture(app).await;
    let es = account(app, "ines@uclg.example", "Inés", "editor", "es").await;
    let en = account(app, "tom@uclg.example", "Tom", "approver", "en").await;
    let fr = account(app, "zoe@uclg.example", "Zoé", "viewer", "fr").await;
    // Zoé turns it off; the change is in the history.
    let res = app
        .client
        .put(app.url(&format!("/api/v1/accounts/{fr}/preferences")))
        .bearer_auth(&app.admin)
        .json(&json!({"weekly_digest": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let prefs: Value = res.json().await.unwrap();
    assert_eq!(prefs, json!({"weekly_digest": false}));
    let res = app
        .client
        .put(app.url(&format!("/api/v1/accounts/{fr}/preferences")))
        .bearer_auth(&app.admin)
        .json(&json!({"weekly_digets": false}))
        .send()
        .await
        .unwrap();
    expect_problem(res, 422).await;
    let history = app
        .db
        .run(move |c| pregon::app::history::of_record(c, "account", fr))
        .await
        .unwrap();
    let last = history.last().unwrap();
    assert_eq!(last.changes[0].field, "preferences.weekly_digest");
    assert_eq!(last.changes[0].after, json!(false));
    let own = app.get_json("/api/v1/me/preferences").await;
    assert_eq!(own, json!({"weekly_digest": true}));

    // Inés is a person of the plan too (her address in another case); Tom
    // and the others are not.
    let ines = person(app, "Inés", "Ines@UCLG.example", "es").await;
    let day = |d: &str| json!({"precision": "days", "start": d, "end": d});
    // Tentative since 1 December (and edited since): listed. Confirmed since
    // 1 December but tentative only since 10 January: not yet (14 days).
    app.clock.set(at(2025, 12, 1, 9, 0));
    let (malaga, malaga_body) = item(
        app,
        &f,
        "URAIA event in Malaga",
        "tentative",
        json!({"precision": "tbc"}),
        Some(ines),
    )
    .await;
    let (side, side_body) = item(
        app,
        &f,
        "Side event",
        "confirmed",
        day("2026-03-10"),
        Some(ines),
    )
    .await;
    app.clock.set(at(2026, 1, 10, 9, 0));
    change(app, side, &side_body, json!({"status": "tentative"})).await;
    app.clock.set(at(2026, 1, 14, 9, 0));
    change(
        app,
        malaga,
        &malaga_body,
        json!({"place": {"name": "Málaga"}}),
    )
    .await;
    app.clock.set(at(2026, 1, 15, 9, 0));
    // Due next week (the week of 2026-01-26), with Inés taking part; and one
    // late item of hers, one of nobody's.
    let (panel, _) = item(app, &f, "Panel", "planned", day("2026-01-28"), None).await;
    app.create(
        "/api/v1/participations",
        json!({"activity_id": panel, "person_id": ines, "role": "speaker"}),
    )
    .await;
    let mut late = crate::activities::activity(
        &f,
        json!({"precision": "days", "start": "2026-01-05", "end": "2026-01-06"}),
    );
    late["translations"] =
        json!({"en": {"title": "Study launch"}, "es": {"title": "Lanzamiento del estudio"}});
    late["owner_person_id"] = json!(ines);
    app.create("/api/v1/activities", late).await;
    item(
        app,
        &f,
        "Other team's launch",
        "planned",
        day("2026-01-07"),
        None,
    )
    .await;

    // Thursday the 15th: this week's digests go now; Tom has nothing of his
    // own and nothing awaits his approval: he gets none.
    let r = runner(app);
    r.run_once().await.unwrap();
    let ines_mail = mail.received_by("ines@uclg.example");
    assert_eq!(ines_mail.len(), 1);
    let (subject, text) = subject_and_text(&ines_mail[0].data);
    assert_eq!(subject, "Plan de comunicación: tu semana del 2026-01-12");
    assert!(text.contains("Con retraso"), "{text}");
    assert!(
        text.contains("2026-01-06: Lanzamiento del estudio"),
        "{text}"
    );
    assert!(!text.contains("Other team"), "not hers: {text}");
    assert!(
        text.contains("2025-12-01: URAIA event in Malaga (es)"),
        "tentative since it became so, not since its last edit: {text}"
    );
    assert!(!text.contains("Side event"), "tentative for 5 days: {text}");
    assert!(mail.received_by("tom@uclg.example").is_empty());
    assert!(mail.received_by("zoe@uclg.example").is_empty());
    assert!(
        jobs_text(app, "digest.email")
            .await
            .contains("skipped: nothing to report this week"),
        "Tom's digest"
    );

    // Later the same week, and after a restart: nothing more.
    app.clock.set(at(2026, 1, 18, 20, 0));
    runner(app).run_once().await.unwrap();
    assert_eq!(mail.smtp.messages().len(), 1);

    // Sunday, something goes to review: Tom's next digest lists it.
    app.clock.set(at(2026, 1, 18, 21, 0));
    let (review, _) = item(app, &f, "Annual report", "planned", day("2026-02-20"), None).await;
    let res = app
        .post(
            &format!("/api/v1/activities/{review}/review"),
            &json!({"action": "submit"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // Monday before 07:00 UTC: not yet; from 07:00: the new week's.
    app.clock.set(at(2026, 1, 19, 6, 59));
    r.run_once().await.unwrap();
    assert_eq!(mail.smtp.messages().len(), 1);
    app.clock.set(at(2026, 1, 19, 7, 0));
    r.run_once().await.unwrap();
    let ines_mail = mail.received_by("ines@uclg.example");
    assert_eq!(ines_mail.len(), 2);
    let (subject, text) = subject_and_text(&ines_mail[1].data);
    assert_eq!(subject, "Plan de comunicación: tu semana del 2026-01-19");
    assert!(text.contains("2026-01-28: Panel (es)"), "{text}");
    assert!(
        !text.contains("Annual report"),
        "Inés is no approver: {text}"
    );
    let tom = mail.received_by("tom@uclg.example");
    assert_eq!(tom.len(), 1);
    let (subject, text) = subject_and_text(&tom[0].data);
    assert_eq!(subject, "Communication plan: your week of 2026-01-19");
    assert!(text.contains("Awaiting your approval (1)"), "{text}");
    assert!(text.contains("Annual report"), "{text}");
    assert!(text.contains("Due next week (0)"), "{text}");
    let _ = (es, en);
}

async fn schedule(app: &TestApp, token: &str, issue: i64, local: &str) -> Value {
    let res = app
        .client
        .post(app.url(&format!("/api/v1/issues/{issue}/schedule")))
        .bearer_auth(token)
        .json(&json!({"at": local, "time_zone": "Europe/Madrid"}))
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn a_scheduled_issue_is_reminded_of_at_its_own_time_once_and_again_after_a_move() {
    let mail = spawn_mail_app_with(no_digest).await;
    let app = &mail.app;
    let f = crate::activities::fixture(app).await;
    let ana = person(app, "Ana", "ana@bilbao.example", "es").await;
    let mut body = crate::activities::activity(
        &f,
        json!({"precision": "days", "start": "2026-01-20", "end": "2026-01-20"}),
    );
    body["kind"] = json!("newsletter_issue");
    body["owner_person_id"] = json!(ana);
    let activity = app.create("/api/v1/activities", body).await["id"]
        .as_i64()
        .unwrap();
    let list = mail.list("members").await;
    let issue = mail.issue(&[list], Some(activity)).await;
    // 10:00 in Madrid on the 20th is 09:00 UTC.
    let scheduled = schedule(app, &app.admin, issue, "2026-01-20T10:00:00").await;
    assert_eq!(scheduled["scheduled_at"], "2026-01-20T09:00:00Z");

    // A day before the activity's day (00:00 UTC of the 20th): its own
    // reminder is not sent, the issue's time is the one reminded of.
    let r = runner(app);
    app.clock.set(at(2026, 1, 19, 8, 0));
    let step = r.run_once().await.unwrap();
    assert_eq!(step.planned, 0, "{step:?}");
    assert!(mail.smtp.messages().is_empty());
    app.clock.set(at(2026, 1, 19, 9, 30));
    let step = r.run_once().await.unwrap();
    assert_eq!((step.planned, step.done), (1, 1), "{step:?}");
    let got = mail.received_by("ana@bilbao.example");
    assert_eq!(got.len(), 1);
    let (subject, text) = subject_and_text(&got[0].data);
    assert_eq!(
        subject,
        "Recordatorio: Smart Cities Study launch, 2026-01-20 10:00 (Europe/Madrid)"
    );
    assert!(text.starts_with("Hola, Ana:"), "{text}");

    // Again, and after a restart: no second copy.
    app.clock.set(at(2026, 1, 19, 12, 0));
    r.run_once().await.unwrap();
    runner(app).run_once().await.unwrap();
    assert_eq!(mail.smtp.messages().len(), 1);

    // Moved by a day: a fresh reminder for the new time.
    schedule(app, &app.admin, issue, "2026-01-21T10:00:00").await;
    app.clock.set(at(2026, 1, 20, 9, 30));
    runner(app).run_once().await.unwrap();
    let got = mail.received_by("ana@bilbao.example");
    assert_eq!(got.len(), 2);
    assert_eq!(
        subject_and_text(&got[1].data).0,
        "Recordatorio: Smart Cities Study launch, 2026-01-21 10:00 (Europe/Madrid)"
    );
}

#[tokio::test]
async fn an_issue_reminder_is_skipped_when_the_schedule_moved_or_the_issue_was_cancelled() {
    let mail = spawn_mail_app_with(no_digest).await;
    let app = &mail.app;
    // Léa schedules two issues tied to no activity: she is reminded, in French.
    let lea = account(app, "lea@uclg.example", "Léa", "editor", "fr").await;
    let res = crate::accounts::create_token(app, "lea-cli", "editor", lea).await;
    assert_eq!(res.status(), 201);
    let token: Value = res.json().await.unwrap();
    let token = token["secret"].as_str().unwrap().to_owned();
    let list = mail.list("members").await;
    let moved = mail.issue(&[list], None).await;
    let cancelled = mail.issue(&[list], None).await;
    schedule(app, &token, moved, "2026-01-16T10:00:00").await;
    schedule(app, &token, cancelled, "2026-01-16T09:30:00").await;
    // Both are within a day (the clock is at 2026-01-15 09:00 UTC): their
    // reminders are planned now; the SMTP server is down, so they wait.
    mail.smtp.go_down().await;
    let r = runner(app);
    let step = r.run_once().await.unwrap();
    assert_eq!((step.planned, step.done), (2, 0), "{step:?}");
    mail.smtp.come_back().await;
    // Meanwhile one moves by a day and the other is cancelled.
    schedule(app, &token, moved, "2026-01-17T10:00:00").await;
    mail.action(cancelled, "cancel").await;
    app.clock.set(at(2026, 1, 15, 12, 0));
    let step = r.run_once().await.unwrap();
    assert_eq!(step.done, 2, "{step:?}");
    assert!(mail.smtp.messages().is_empty());
    let text = jobs_text(app, "reminder.email").await;
    assert!(
        text.contains("skipped: the issue's schedule changed"),
        "{text}"
    );
    assert!(text.contains("skipped: the issue is cancelled"), "{text}");
    // A day before the new time, it comes (once).
    app.clock.set(at(2026, 1, 16, 9, 30));
    r.run_once().await.unwrap();
    runner(app).run_once().await.unwrap();
    let got = mail.received_by("lea@uclg.example");
    assert_eq!(got.len(), 1);
    assert_eq!(
        subject_and_text(&got[0].data).0,
        "Rappel : Smart Cities Study launch, 2026-01-17 10:00 (Europe/Madrid)"
    );
    assert_eq!(mail.smtp.messages().len(), 1);
}

fn pdftotext(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args(["-enc", "UTF-8", "-layout"])
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) must be installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn the_report_activity_sends_the_report_once_per_occurrence_after_approval() {
    use mail_parser::MimeHeaders;
    let mail = spawn_mail_app_with(no_digest).await;
    let app = &mail.app;
    let f = crate::activities::fixture(app).await;
    let secretariat = person(app, "Secrétariat mondial", "secretariat@uclg.example", "fr").await;
    // Monthly on the 20th, from 2026-01-20, 09:00 in Barcelona.
    let mut body = crate::activities::activity(
        &f,
        json!({"precision": "exact", "start": "2026-01-20T09:00", "end": "2026-01-20T10:00", "time_zone": "Europe/Madrid"}),
    );
    body["kind"] = json!("progress_report");
    body["visibility"] = json!("internal");
    body["recurrence"] = json!({"rule": "FREQ=MONTHLY"});
    body["translations"] = json!({"en": {"title": "Progress report to the UCLG World Secretariat"},
        "fr": {"title": "Rapport d'avancement au Secrétariat mondial de CGLU"}});
    let activity = app.create("/api/v1/activities", body).await;
    let id = activity["id"].as_i64().unwrap();
    app.create(
        "/api/v1/participations",
        json!({"activity_id": id, "person_id": secretariat, "role": "attendee"}),
    )
    .await;
    // A done event in the period, for the report to count.
    let mut done = crate::activities::activity(
        &f,
        json!({"precision": "days", "start": "2026-01-08", "end": "2026-01-08"}),
    );
    done["status"] = json!("done");
    done["translations"] =
        json!({"en": {"title": "Launch webinar"}, "fr": {"title": "Webinaire de lancement"}});
    app.create("/api/v1/activities", done).await;

    // Due (08:00 UTC) but not approved: nothing goes.
    let r = runner(app);
    app.clock.set(at(2026, 1, 20, 8, 30));
    r.run_once().await.unwrap();
    assert!(mail.smtp.messages().is_empty());

    app.approve(&format!("/api/v1/activities/{id}")).await;
    app.clock.set(at(2026, 1, 20, 9, 30));
    let step = r.run_once().await.unwrap();
    assert_eq!(step.done, 1, "{step:?}");
    let got = mail.received_by("secretariat@uclg.example");
    assert_eq!(got.len(), 1);
    let message = MessageParser::default().parse(&got[0].data[..]).unwrap();
    assert_eq!(
        message.subject(),
        Some("Rapport d'avancement au Secrétariat mondial de CGLU : du 2020-01-01 au 2026-01-19")
    );
    let html = message.body_html(0).unwrap();
    assert!(html.contains("Webinaire de lancement"), "{html}");
    let attachments: Vec<_> = message.attachments().collect();
    assert_eq!(attachments.len(), 2);
    let pdf = attachments
        .iter()
        .find(|a| a.attachment_name().is_some_and(|n| n.ends_with(".pdf")))
        .expect("a PDF attachment");
    assert_eq!(pdf.content_type().unwrap().subtype(), Some("pdf"));
    let text = pdftotext(pdf.contents());
    assert!(text.contains("Webinaire de lancement"), "{text}");
    let csv = attachments
        .iter()
        .find(|a| a.attachment_name().is_some_and(|n| n.ends_with(".csv")))
        .expect("a CSV attachment");
    let csv = String::from_utf8_lossy(csv.contents()).into_owned();
    assert!(csv.contains("Webinaire de lancement"), "{csv}");

    // Recorded in the activity's history.
    let history = app
        .db
        .run(move |c| pregon::app::history::of_record(c, "activity", id))
        .await
        .unwrap();
    assert!(
        history
            .iter()
            .any(|h| h.changes.iter().any(|c| c.field == "report_sent")),
        "{history:?}"
    );

    // Again, and after a restart: once per occurrence.
    app.clock.set(at(2026, 1, 21, 9, 30));
    runner(app).run_once().await.unwrap();
    assert_eq!(mail.smtp.messages().len(), 1);

    // The next occurrence reports from the previous one.
    app.clock.set(at(2026, 2, 20, 9, 30));
    runner(app).run_once().await.unwrap();
    let got = mail.received_by("secretariat@uclg.example");
    assert_eq!(got.len(), 2);
    let message = MessageParser::default().parse(&got[1].data[..]).unwrap();
    assert_eq!(
        message.subject(),
        Some("Rapport d'avancement au Secrétariat mondial de CGLU : du 2026-01-20 au 2026-02-19")
    );
}

#[tokio::test]
async fn the_report_page_draws_its_chart_with_a_table_of_the_same_figures() {
    let (app, _editor, mut viewer) = crate::web::seeded_with_people().await;
    let (status, html) = viewer.get(&app, "/app/reports?period=2020").await;
    assert_eq!(status, 200, "{html}");
    // Vic reads French; the chart is hidden from screen readers, the table is not.
    assert!(html.contains("<h1>Rapport d&#39;avancement</h1>"), "{html}");
    assert!(
        html.contains("<svg") && html.contains("aria-hidden=\"true\""),
        "{html}"
    );
    assert!(
        html.contains("<caption>Éléments prévus par période, selon leur résultat</caption>"),
        "{html}"
    );
    let report: Value = app
        .get_json(
            "/api/v1/reports/progress?plan=uclg-digital-cities-2020&from=2020-01-01&to=2020-12-31&lang=fr",
        )
        .await;
    let planned = report["totals"]["planned"]["count"].as_u64().unwrap();
    assert!(planned > 0);
    let total_row = html
        .split("<tfoot>")
        .nth(1)
        .expect("a totals row")
        .split("</tfoot>")
        .next()
        .unwrap()
        .to_owned();
    assert!(
        total_row.contains(&format!("<td>{planned}</td>")),
        "{total_row}"
    );
    let (status, html) = viewer.get(&app, "/app/reports?period=twenty").await;
    assert_eq!(status, 422);
    assert!(html.contains("role=\"alert\""), "{html}");
}
