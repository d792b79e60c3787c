//! Channel accounts after they are made: renamed, their credentials rotated
//! (the old secret no longer opens nor signs), disabled and enabled again,
//! deleted only when no approved variant waits for them; every change in
//! their history, and no secret in any answer or history entry.

use crate::activities::fixture;
use crate::helpers::*;
use crate::posts::planning_runner;
use crate::receiver::{Receiver, Reply};
use crate::webhooks::{KEY, app_with_webhooks};
use chrono::TimeDelta;
use pregon::jobs::sealed::Sealer;
use serde_json::{Value, json};

const OLD: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const NEW: &str = "whsec_cm90YXRlZC1zZWNyZXQtMjAyNi0xMi0wMS11Y2xn";

struct World {
    app: TestApp,
    cms: Receiver,
    channel: i64,
    plan: i64,
    account: i64,
}

/// A CMS on loopback that takes every post (201), and a webhook account
/// for the fixture's website channel, signing with `OLD`.
async fn world() -> World {
    let app = app_with_webhooks(true).await;
    let f = fixture(&app).await;
    let cms = Receiver::start(|_| {
        Reply::json(
            201,
            json!({"id": "n-1", "url": "https://cms.example/news/1"}),
        )
    });
    let account = add_account(
        &app,
        json!({"network": "webhook", "name": "Website", "base_url": format!("{}/in", cms.url), "secret": OLD, "channel_id": f.channel}),
    )
    .await;
    World {
        account: account["id"].as_i64().unwrap(),
        app,
        cms,
        channel: f.channel,
        plan: f.plan,
    }
}

/// A social post on the channel at `at` minutes from now, approved.
async fn approved_post(w: &World, minutes: i64) -> i64 {
    let app = &w.app;
    let at = (app.clock_now() + TimeDelta::minutes(minutes))
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let end = (app.clock_now() + TimeDelta::minutes(minutes + 10))
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let id = app
        .create(
            "/api/v1/activities",
            json!({
                "plan_id": w.plan,
                "kind": "social_post",
                "status": "planned",
                "timing": {"precision": "exact", "start": at, "end": end, "time_zone": "UTC"},
                "channel_ids": [w.channel],
                "translations": {"es": {"title": "Lanzamiento"}},
                "post_variants": [{"channel_id": w.channel, "lang": "es", "body": "El estudio ya está aquí"}],
            }),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    app.approve(&format!("/api/v1/activities/{id}")).await;
    id
}

async fn admin(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut req = app
        .client
        .request(method, app.url(path))
        .bearer_auth(&app.admin);
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.unwrap()
}

async fn add_account(app: &TestApp, body: Value) -> Value {
    let res = admin(
        app,
        reqwest::Method::POST,
        "/api/v1/channel-accounts",
        Some(body),
    )
    .await;
    let status = res.status();
    let text = res.text().await.unwrap();
    assert_eq!(status, 201, "{text}");
    assert_no_secret(&text);
    serde_json::from_str(&text).unwrap()
}

fn assert_no_secret(text: &str) {
    for secret in [
        OLD,
        NEW,
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "cm90YXRlZC1zZWNyZXQ",
    ] {
        assert!(!text.contains(secret), "no secret here: {text}");
    }
}

fn verifies(secret: &str, request: &crate::receiver::Request) -> bool {
    let mut headers = reqwest::header::HeaderMap::new();
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        headers.insert(name, request.header(name).unwrap().parse().unwrap());
    }
    standardwebhooks::Webhook::new(secret)
        .unwrap()
        .verify(&request.body, &headers)
        .is_ok()
}

#[tokio::test]
async fn a_rotated_secret_signs_the_next_post_and_the_old_one_no_longer_opens() {
    let w = world().await;
    let app = &w.app;
    let path = format!("/api/v1/channel-accounts/{}", w.account);
    let before = pregon::db::channel_accounts::get(&mut app.db.get().unwrap(), w.account).unwrap();
    let res = admin(
        app,
        reqwest::Method::PATCH,
        &path,
        Some(json!({"name": "UCLG website", "secret": NEW})),
    )
    .await;
    let text = res.text().await.unwrap();
    assert_no_secret(&text);
    let account: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(account["name"], "UCLG website", "{account}");
    assert_eq!(account["credentials_version"], 2);
    assert_eq!(account["has_credentials"], true);

    let after = pregon::db::channel_accounts::get(&mut app.db.get().unwrap(), w.account).unwrap();
    let sealer = Sealer::from_hex(KEY).unwrap();
    assert_eq!(
        sealer
            .open(
                after.sealed_credentials.as_deref().unwrap(),
                &after.credentials_context()
            )
            .unwrap(),
        NEW
    );
    assert!(
        sealer
            .open(
                before.sealed_credentials.as_deref().unwrap(),
                &after.credentials_context()
            )
            .is_err(),
        "the old sealed secret does not open as the account's credentials any more"
    );

    // Due ten minutes ago (the signature is checked against the real time).
    approved_post(&w, -10).await;
    planning_runner(app).run_once().await.unwrap();
    let sent = w.cms.to("/in");
    assert_eq!(sent.len(), 1);
    assert!(verifies(NEW, &sent[0]), "signed with the new secret");
    assert!(!verifies(OLD, &sent[0]), "not with the old one");

    let history = admin(app, reqwest::Method::GET, &format!("{path}/history"), None)
        .await
        .text()
        .await
        .unwrap();
    assert_no_secret(&history);
    let entries: Value = serde_json::from_str(&history).unwrap();
    let changes = entries.as_array().unwrap().last().unwrap()["changes"].to_string();
    assert!(changes.contains("UCLG website"), "{history}");
    assert!(changes.contains("rotated (version 2)"), "{history}");
    let list = admin(app, reqwest::Method::GET, "/api/v1/channel-accounts", None)
        .await
        .text()
        .await
        .unwrap();
    assert_no_secret(&list);
}

#[tokio::test]
async fn a_bad_change_is_refused_naming_its_field_and_nothing_is_written() {
    let w = world().await;
    let app = &w.app;
    let path = format!("/api/v1/channel-accounts/{}", w.account);
    let res = admin(
        app,
        reqwest::Method::PATCH,
        &path,
        Some(json!({"name": "Renamed", "secret": "not-a-webhook-secret"})),
    )
    .await;
    assert_eq!(expect_problem(res, 422).await["field"], "secret");
    let res = admin(
        app,
        reqwest::Method::PATCH,
        &path,
        Some(json!({"base_url": "not a url"})),
    )
    .await;
    assert_eq!(expect_problem(res, 422).await["field"], "base_url");
    let res = admin(
        app,
        reqwest::Method::POST,
        "/api/v1/channel-accounts",
        Some(json!({"network": "myspace", "base_url": "https://example.org", "secret": "x"})),
    )
    .await;
    let problem = expect_problem(res, 422).await;
    assert!(problem.to_string().contains("network"), "{problem}");
    let account: Value = admin(app, reqwest::Method::GET, &path, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(account["name"], "Website", "nothing written");
    assert_eq!(account["credentials_version"], 1);
    let res = admin(
        app,
        reqwest::Method::PATCH,
        "/api/v1/channel-accounts/999999",
        Some(json!({"name": "x"})),
    )
    .await;
    expect_problem(res, 404).await;
}

#[tokio::test]
async fn a_disabled_account_publishes_nothing_until_it_is_enabled_again() {
    let w = world().await;
    let app = &w.app;
    let path = format!("/api/v1/channel-accounts/{}", w.account);
    let post = approved_post(&w, -10).await;
    let res = admin(
        app,
        reqwest::Method::PATCH,
        &path,
        Some(json!({"disabled": true})),
    )
    .await;
    assert_eq!(res.status(), 200);
    let runner = planning_runner(app);
    runner.run_once().await.unwrap();
    assert!(
        w.cms.to("/in").is_empty(),
        "nothing goes out through a disabled account"
    );
    let variants = app
        .get_json(&format!("/api/v1/activities/{post}/variants"))
        .await;
    assert!(variants[0]["publication"].is_null(), "{variants}");

    let res = admin(
        app,
        reqwest::Method::PATCH,
        &path,
        Some(json!({"disabled": false})),
    )
    .await;
    assert_eq!(res.json::<Value>().await.unwrap()["disabled"], false);
    runner.run_once().await.unwrap();
    assert_eq!(w.cms.to("/in").len(), 1);
    let variants = app
        .get_json(&format!("/api/v1/activities/{post}/variants"))
        .await;
    assert_eq!(
        variants[0]["publication"]["state"], "published",
        "{variants}"
    );
    let history: Value = admin(app, reqwest::Method::GET, &format!("{path}/history"), None)
        .await
        .json()
        .await
        .unwrap();
    let text = history.to_string();
    assert!(text.contains("\"disabled\""), "{history}");
}

#[tokio::test]
async fn a_job_made_before_the_account_was_disabled_is_not_published() {
    let w = world().await;
    let app = &w.app;
    let path = format!("/api/v1/channel-accounts/{}", w.account);
    let post = approved_post(&w, 30).await;
    // The job is made at the activity's time, for a runner that runs later.
    app.clock.advance(TimeDelta::minutes(31));
    let db = app.db.clone();
    let now = app.clock_now();
    db.transaction(move |c| pregon::app::posts::schedule_due(c, now))
        .await
        .unwrap();
    let res = admin(
        app,
        reqwest::Method::PATCH,
        &path,
        Some(json!({"disabled": true})),
    )
    .await;
    assert_eq!(res.status(), 200);
    planning_runner(app).run_once().await.unwrap();
    assert!(w.cms.to("/in").is_empty());
    let variants = app
        .get_json(&format!("/api/v1/activities/{post}/variants"))
        .await;
    assert_eq!(variants[0]["publication"]["state"], "failed", "{variants}");
    assert!(
        variants[0]["publication"]["reason"]
            .as_str()
            .unwrap()
            .contains("disabled"),
        "{variants}"
    );
}

#[tokio::test]
async fn an_account_is_deleted_only_when_no_approved_variant_waits_for_it() {
    let w = world().await;
    let app = &w.app;
    let path = format!("/api/v1/channel-accounts/{}", w.account);
    let post = approved_post(&w, 60).await;
    let res = admin(app, reqwest::Method::DELETE, &path, None).await;
    let problem = expect_problem(res, 409).await;
    assert!(
        problem
            .to_string()
            .contains(&format!("activity {post} (es)")),
        "{problem}"
    );
    let still: Value = admin(app, reqwest::Method::GET, &path, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(still["has_credentials"], true, "nothing written");

    let res = admin(
        app,
        reqwest::Method::DELETE,
        &format!("/api/v1/activities/{post}/variants/{}/es", w.channel),
        None,
    )
    .await;
    assert_eq!(res.status(), 204);
    let res = admin(app, reqwest::Method::DELETE, &path, None).await;
    assert_eq!(res.status(), 204, "{}", res.text().await.unwrap());
    let res = admin(app, reqwest::Method::GET, &path, None).await;
    expect_problem(res, 404).await;
    let list: Value = admin(app, reqwest::Method::GET, "/api/v1/channel-accounts", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 0, "{list}");
    let row = pregon::db::channel_accounts::get(&mut app.db.get().unwrap(), w.account).unwrap();
    assert!(row.sealed_credentials.is_none() && row.sealed_session.is_none());
    assert_eq!(row.channel_id, None, "its channel is free");
    let history: Value = admin(app, reqwest::Method::GET, &format!("{path}/history"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        history.as_array().unwrap().last().unwrap()["action"],
        "deleted"
    );
    // The channel takes a new account.
    add_account(
        app,
        json!({"network": "webhook", "base_url": format!("{}/in", w.cms.url), "secret": NEW, "channel_id": w.channel}),
    )
    .await;
}
