//! Outbound webhooks against a real receiver on loopback: signed per
//! Standard Webhooks (verified by the `standardwebhooks` crate), the same
//! webhook-id on every retry, Retry-After honoured, 410 disabling, secret
//! rotation, the SSRF guard at connection time, the delivery log, replay,
//! and the admin-only API.

use crate::activities::{activity, fixture};
use crate::helpers::*;
use crate::receiver::{Receiver, Reply};
use chrono::{TimeDelta, Utc};
use pregon::domain::job::JobState;
use pregon::jobs::{self, Runner};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

pub const KEY: &str = "4242424242424242424242424242424242424242424242424242424242424242";

pub async fn app_with_webhooks(allow_private: bool) -> TestApp {
    let app = spawn_app_with(|s| {
        s.webhooks.allow_private = allow_private;
        s.webhooks.timeout_secs = 2;
        s.credentials.key = pregon::email::Secret::new(KEY);
    })
    .await;
    // Signatures are checked against the real time by the verifier; whole
    // microseconds, as PostgreSQL stores them.
    app.clock
        .set(chrono::SubsecRound::trunc_subsecs(Utc::now(), 6));
    app
}

pub fn runner(app: &TestApp) -> Arc<Runner> {
    let clock: pregon::clock::SharedClock = Arc::new(app.clock.clone());
    let handlers = jobs::standard_handlers(&app.settings, &app.db, &clock).unwrap();
    Runner::new(app.db.clone(), clock, app.settings.jobs.clone(), handlers).unwrap()
}

async fn subscribe(app: &TestApp, url: &str, types: Value) -> Value {
    let res = app
        .client
        .post(app.url("/api/v1/webhooks"))
        .bearer_auth(&app.admin)
        .json(&json!({"url": url, "event_types": types, "description": "CMS"}))
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    body
}

fn verify(secret: &str, request: &crate::receiver::Request) -> Result<(), String> {
    let mut headers = reqwest::header::HeaderMap::new();
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        headers.insert(name, request.header(name).unwrap().parse().unwrap());
    }
    standardwebhooks::Webhook::new(secret)
        .map_err(|e| e.to_string())?
        .verify(&request.body, &headers)
        .map_err(|e| e.to_string())
}

fn delivery_state(app: &TestApp, id: i64) -> JobState {
    let row = pregon::db::jobs::get(&mut app.db.get().unwrap(), id).unwrap();
    row.state().unwrap()
}

fn webhook_jobs(app: &TestApp) -> Vec<pregon::db::jobs::Row> {
    pregon::db::jobs::list(&mut app.db.get().unwrap(), Some("webhook"), None, 100, 0).unwrap()
}

#[tokio::test]
async fn an_activity_change_is_delivered_signed_and_verifiable() {
    let app = app_with_webhooks(true).await;
    let receiver = Receiver::start(|_| Reply::status(204));
    let hook = subscribe(
        &app,
        &format!("{}/hook", receiver.url),
        json!(["activity.created", "activity.approved"]),
    )
    .await;
    let secret = hook["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    // The secret is shown once: not in reads, nor in the history.
    let shown = app
        .client
        .get(app.url(&format!("/api/v1/webhooks/{}", hook["id"])))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!shown.contains(&secret[6..]), "{shown}");
    let history = app
        .client
        .get(app.url(&format!(
            "/api/v1/history?entity=webhook&entity_id={}",
            hook["id"]
        )))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!history.contains(&secret[6..]));
    // Nor in the database in the clear.
    let stored: Vec<String> = {
        use diesel::prelude::*;
        use pregon::db::outbound_schema::webhook_secrets::dsl::*;
        webhook_secrets
            .select(sealed)
            .load(&mut *app.db.get().unwrap())
            .unwrap()
    };
    assert!(
        stored
            .iter()
            .all(|s| s.starts_with("v1:") && !s.contains(&secret[6..]))
    );

    let f = fixture(&app).await;
    let created = app
        .create(
            "/api/v1/activities",
            activity(
                &f,
                json!({"precision": "days", "start": "2020-03-10", "end": "2020-03-10"}),
            ),
        )
        .await;
    // The job was written with the activity; nothing has gone yet.
    assert_eq!(webhook_jobs(&app).len(), 1);
    assert!(receiver.requests().is_empty());

    let step = runner(&app).run_once().await.unwrap();
    assert_eq!(step.done, 1, "{step:?}");
    let got = receiver.to("/hook");
    assert_eq!(got.len(), 1);
    let request = &got[0];
    verify(&secret, request).expect("signature verifies with the standardwebhooks crate");
    assert_eq!(request.header("content-type"), Some("application/json"));
    let body = request.json();
    assert_eq!(body["type"], "activity.created");
    assert_eq!(body["data"]["id"], created["id"]);
    let job = &webhook_jobs(&app)[0];
    let payload: Value = serde_json::from_str(&job.payload).unwrap();
    assert_eq!(
        request.header("webhook-id").unwrap(),
        payload["event_id"].as_str().unwrap()
    );
    assert!(request.header("webhook-id").unwrap().starts_with("msg_"));
    // A tampered body does not verify: the check can fail.
    let mut tampered = request.clone();
    tampered.body = request
        .body_text()
        .replace("activity.created", "activity.changed")
        .into_bytes();
    assert!(verify(&secret, &tampered).is_err());
    // Not subscribed to activity.changed: editing sends nothing new.
    let mut input = activity(
        &f,
        json!({"precision": "days", "start": "2020-03-11", "end": "2020-03-11"}),
    );
    input["version"] = created["version"].clone();
    let res = app
        .put(&format!("/api/v1/activities/{}", created["id"]), &input)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(webhook_jobs(&app).len(), 1);
    // Approval is an event it asked for.
    app.approve(&format!("/api/v1/activities/{}", created["id"]))
        .await;
    runner(&app).run_once().await.unwrap();
    let got = receiver.to("/hook");
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].json()["type"], "activity.approved");
    verify(&secret, &got[1]).unwrap();
}

#[tokio::test]
async fn retries_keep_the_webhook_id_honour_retry_after_and_410_disables() {
    let app = app_with_webhooks(true).await;
    let calls = Arc::new(Mutex::new(0));
    let counter = calls.clone();
    let receiver = Receiver::start(move |_| {
        let mut n = counter.lock().unwrap();
        *n += 1;
        match *n {
            1 => Reply::status(503).header("retry-after", "120"),
            2 => Reply::status(500),
            3 => Reply::status(200),
            _ => Reply::status(410),
        }
    });
    let hook = subscribe(
        &app,
        &format!("{}/in", receiver.url),
        json!(["activity.created"]),
    )
    .await;
    let f = fixture(&app).await;
    app.create(
        "/api/v1/activities",
        activity(
            &f,
            json!({"precision": "days", "start": "2020-03-10", "end": "2020-03-10"}),
        ),
    )
    .await;
    let runner = runner(&app);
    runner.run_once().await.unwrap();
    let job = webhook_jobs(&app)[0].clone();
    assert_eq!(job.state().unwrap(), JobState::Queued);
    assert_eq!(
        job.next_attempt_at,
        (app.clock_now() + TimeDelta::seconds(120)).naive_utc(),
        "Retry-After honoured"
    );
    // Not before its time.
    app.clock.advance(TimeDelta::seconds(100));
    runner.run_once().await.unwrap();
    assert_eq!(receiver.requests().len(), 1);
    app.clock.advance(TimeDelta::seconds(21));
    runner.run_once().await.unwrap();
    assert_eq!(receiver.requests().len(), 2);
    // After the 500 (second attempt): the schedule's second step, 5 min + ≤10 %.
    let job = webhook_jobs(&app)[0].clone();
    let wait = job.next_attempt_at - app.clock_now().naive_utc();
    assert!(
        wait >= TimeDelta::seconds(300) && wait <= TimeDelta::seconds(330),
        "{wait}"
    );
    app.clock.advance(TimeDelta::seconds(331));
    runner.run_once().await.unwrap();
    let got = receiver.requests();
    assert_eq!(got.len(), 3);
    assert_eq!(delivery_state(&app, job.id), JobState::Done);
    let ids: Vec<&str> = got
        .iter()
        .map(|r| r.header("webhook-id").unwrap())
        .collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    assert!(got.iter().all(|r| r.body == got[0].body));
    // Each attempt is in the endpoint's delivery log.
    let log: Value = app
        .client
        .get(app.url(&format!("/api/v1/webhooks/{}/deliveries", hook["id"])))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let statuses: Vec<i64> = log[0]["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status"].as_i64().unwrap())
        .collect();
    assert_eq!(statuses, vec![503, 500, 200]);

    // 410 Gone: failed at once, and the endpoint is disabled.
    let res = app
        .client
        .post(app.url(&format!(
            "/api/v1/webhooks/{}/deliveries/{}/replay",
            hook["id"], job.id
        )))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    runner.run_once().await.unwrap();
    let got = receiver.requests();
    assert_eq!(got.len(), 4);
    assert_eq!(
        got[3].header("webhook-id"),
        got[0].header("webhook-id"),
        "a replay is the same event"
    );
    let shown: Value = app
        .client
        .get(app.url(&format!("/api/v1/webhooks/{}", hook["id"])))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shown["enabled"], false);
    assert!(shown["disabled_reason"].as_str().unwrap().contains("410"));
    // Disabled: a new activity enqueues nothing for it.
    app.create(
        "/api/v1/activities",
        activity(
            &f,
            json!({"precision": "days", "start": "2020-04-10", "end": "2020-04-10"}),
        ),
    )
    .await;
    assert_eq!(webhook_jobs(&app).len(), 2);
}

#[tokio::test]
async fn during_a_rotation_both_secrets_sign() {
    let app = app_with_webhooks(true).await;
    let receiver = Receiver::start(|_| Reply::status(200));
    let hook = subscribe(
        &app,
        &format!("{}/r", receiver.url),
        json!(["activity.created"]),
    )
    .await;
    let old = hook["secret"].as_str().unwrap().to_owned();
    let rotated: Value = app
        .client
        .post(app.url(&format!("/api/v1/webhooks/{}/rotate-secret", hook["id"])))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let new = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(old, new);
    assert_eq!(rotated["secrets"].as_array().unwrap().len(), 2);
    let f = fixture(&app).await;
    app.create(
        "/api/v1/activities",
        activity(
            &f,
            json!({"precision": "days", "start": "2020-03-10", "end": "2020-03-10"}),
        ),
    )
    .await;
    runner(&app).run_once().await.unwrap();
    let got = receiver.requests();
    assert_eq!(
        got[0]
            .header("webhook-signature")
            .unwrap()
            .split(' ')
            .count(),
        2
    );
    verify(&old, &got[0]).unwrap();
    verify(&new, &got[0]).unwrap();
    // After the overlap only the new one signs.
    app.clock.advance(TimeDelta::hours(25));
    let later = Utc::now();
    app.clock.set(later);
    {
        // Expire the old secret by moving the clock past it in the database's eyes.
        use diesel::prelude::*;
        use pregon::db::outbound_schema::webhook_secrets::dsl::*;
        diesel::update(webhook_secrets.filter(expires_at.is_not_null()))
            .set(expires_at.eq(Some((later - TimeDelta::seconds(1)).naive_utc())))
            .execute(&mut *app.db.get().unwrap())
            .unwrap();
    }
    app.create(
        "/api/v1/activities",
        activity(
            &f,
            json!({"precision": "days", "start": "2020-05-10", "end": "2020-05-10"}),
        ),
    )
    .await;
    runner(&app).run_once().await.unwrap();
    let got = receiver.requests();
    assert_eq!(got.len(), 2);
    verify(&new, &got[1]).unwrap();
    assert!(verify(&old, &got[1]).is_err());
}

/// One runner keeps what it read of an endpoint (and its opened secrets)
/// between deliveries, but reads it again for every claimed group: a
/// rotation, a new URL or a disabling committed before the claim is what
/// the next delivery uses.
#[tokio::test]
async fn one_runner_sees_each_change_of_an_endpoint_made_before_its_next_claim() {
    let app = app_with_webhooks(true).await;
    let first = Receiver::start(|_| Reply::status(204));
    let second = Receiver::start(|_| Reply::status(204));
    let hook = subscribe(
        &app,
        &format!("{}/a", first.url),
        json!(["activity.created"]),
    )
    .await;
    let id = hook["id"].as_i64().unwrap();
    let old = hook["secret"].as_str().unwrap().to_owned();
    let f = fixture(&app).await;
    let mut day = 0;
    let mut change = || {
        day += 1;
        activity(
            &f,
            json!({"precision": "days", "start": format!("2020-03-{day:02}"), "end": format!("2020-03-{day:02}")}),
        )
    };
    let runner = runner(&app);

    app.create("/api/v1/activities", change()).await;
    assert_eq!(runner.run_once().await.unwrap().done, 1);
    let got = first.requests();
    assert_eq!(got.len(), 1);
    verify(&old, &got[0]).unwrap();

    // A rotation: the same runner signs with both secrets now.
    let rotated: Value = app
        .client
        .post(app.url(&format!("/api/v1/webhooks/{id}/rotate-secret")))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let new = rotated["secret"].as_str().unwrap().to_owned();
    app.create("/api/v1/activities", change()).await;
    assert_eq!(runner.run_once().await.unwrap().done, 1);
    let got = first.requests();
    assert_eq!(got.len(), 2);
    verify(&new, &got[1]).unwrap();
    verify(&old, &got[1]).unwrap();

    // A new URL: the next delivery goes there.
    let res = app
        .client
        .put(app.url(&format!("/api/v1/webhooks/{id}")))
        .bearer_auth(&app.admin)
        .json(&json!({"url": format!("{}/b", second.url), "event_types": ["activity.created"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    app.create("/api/v1/activities", change()).await;
    assert_eq!(runner.run_once().await.unwrap().done, 1);
    assert_eq!(first.requests().len(), 2);
    let got = second.requests();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].path, "/b");
    verify(&new, &got[0]).unwrap();

    // Disabled while a delivery waits: it is not sent.
    app.create("/api/v1/activities", change()).await;
    let res = app
        .client
        .put(app.url(&format!("/api/v1/webhooks/{id}")))
        .bearer_auth(&app.admin)
        .json(&json!({"url": format!("{}/b", second.url), "event_types": ["activity.created"], "enabled": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let step = runner.run_once().await.unwrap();
    assert_eq!((step.attempted, step.done), (1, 0));
    assert_eq!(second.requests().len(), 1);
    let waiting = webhook_jobs(&app)[0].clone();
    assert_eq!(waiting.state().unwrap(), JobState::Failed);
    assert!(
        waiting.last_result.as_deref().unwrap().contains("disabled"),
        "{:?}",
        waiting.last_result
    );
}

#[tokio::test]
async fn private_targets_are_refused_when_saved_and_when_connecting() {
    let app = app_with_webhooks(false).await;
    let receiver = Receiver::start(|_| Reply::status(200));
    // An address literal on loopback: refused when saved.
    let res = app
        .client
        .post(app.url("/api/v1/webhooks"))
        .bearer_auth(&app.admin)
        .json(&json!({"url": format!("{}/x", receiver.url), "event_types": ["activity.created"]}))
        .send()
        .await
        .unwrap();
    let problem = expect_problem(res, 422).await;
    assert!(problem.to_string().contains("url"), "{problem}");
    // A name is checked when connecting: localhost resolves to loopback.
    subscribe(
        &app,
        &format!("http://localhost:{}/x", receiver.port),
        json!(["activity.created"]),
    )
    .await;
    let f = fixture(&app).await;
    app.create(
        "/api/v1/activities",
        activity(
            &f,
            json!({"precision": "days", "start": "2020-03-10", "end": "2020-03-10"}),
        ),
    )
    .await;
    runner(&app).run_once().await.unwrap();
    assert!(
        receiver.requests().is_empty(),
        "the guard let a request through"
    );
    let job = webhook_jobs(&app)[0].clone();
    assert_eq!(job.state().unwrap(), JobState::Failed);
    assert!(job.last_result.unwrap().contains("loopback"));
}

#[tokio::test]
async fn webhooks_are_for_administrators() {
    let app = app_with_webhooks(true).await;
    let body = json!({"url": "https://example.org/h", "event_types": ["post.published"]});
    for token in [&app.editor, &app.viewer, &app.approver] {
        for res in [
            app.client
                .get(app.url("/api/v1/webhooks"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap(),
            app.client
                .post(app.url("/api/v1/webhooks"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap(),
        ] {
            expect_problem(res, 403).await;
        }
    }
    let res = app
        .client
        .post(app.url("/api/v1/webhooks"))
        .json(&body)
        .send()
        .await
        .unwrap();
    expect_problem(res, 401).await;
    // Unknown event types and empty lists are refused, with the field named.
    for bad in [
        json!({"url": "https://example.org/h", "event_types": ["post.deleted"]}),
        json!({"url": "https://example.org/h", "event_types": []}),
        json!({"url": "ftp://example.org/h", "event_types": ["post.failed"]}),
    ] {
        let res = app
            .client
            .post(app.url("/api/v1/webhooks"))
            .bearer_auth(&app.admin)
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert!(
            res.status() == 422 || res.status() == 400,
            "{bad}: {}",
            res.status()
        );
    }
    let created = subscribe(
        &app,
        "https://example.org/h",
        json!(["post.published", "post.failed"]),
    )
    .await;
    let res = app
        .client
        .delete(app.url(&format!("/api/v1/webhooks/{}", created["id"])))
        .bearer_auth(&app.editor)
        .send()
        .await
        .unwrap();
    expect_problem(res, 403).await;
    let res = app
        .delete(&format!("/api/v1/webhooks/{}", created["id"]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
}
