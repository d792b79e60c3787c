//! Social post variants end to end over the API, against a Mastodon
//! instance (limit 120) and a Bluesky PDS on loopback: channel accounts,
//! variants checked against the real limits before approval, the publish
//! jobs created at the activity's time for the approved content only, once,
//! the URL of each variant, and `post.published` on the outbound webhooks.

use crate::activities::fixture;
use crate::bluesky::{self, HANDLE, PASSWORD, Pds};
use crate::helpers::*;
use crate::mastodon::{Instance, start_instance};
use crate::receiver::{Receiver, Reply};
use crate::webhooks::app_with_webhooks;
use chrono::TimeDelta;
use pregon::jobs::{self, Runner};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

pub(crate) struct World {
    pub app: TestApp,
    pub mastodon: Receiver,
    pub masto_state: Arc<Mutex<Instance>>,
    pub pds: Receiver,
    pub pds_state: Arc<Mutex<Pds>>,
    pub activity: i64,
    pub m: i64,
    pub b: i64,
}

pub(crate) fn planning_runner(app: &TestApp) -> Arc<Runner> {
    let clock: pregon::clock::SharedClock = Arc::new(app.clock.clone());
    let handlers = jobs::standard_handlers(&app.settings, &app.db, &clock).unwrap();
    Runner::with_planners(
        app.db.clone(),
        clock,
        app.settings.jobs.clone(),
        handlers,
        vec![Arc::new(pregon::social::Planner)],
    )
    .unwrap()
}

async fn channel(app: &TestApp, org: i64, slug: &str) -> i64 {
    app.create(
        "/api/v1/channels",
        json!({"slug": slug, "kind": "social", "name": slug, "organisation_id": org}),
    )
    .await["id"]
        .as_i64()
        .unwrap()
}

async fn add_account(app: &TestApp, body: Value) -> Value {
    let res = app
        .client
        .post(app.url("/api/v1/channel-accounts"))
        .bearer_auth(&app.admin)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    assert_eq!(status, 201, "{text}");
    for secret in ["tok-secret", PASSWORD] {
        assert!(
            !text.contains(secret),
            "the secret is never answered: {text}"
        );
    }
    serde_json::from_str(&text).unwrap()
}

/// Writes back `activity` (as read from the API, its variants edited) as the
/// world's social post, due in an hour; the answer must be 200.
pub(crate) async fn put_post(w: &World, activity: &Value) {
    let app = &w.app;
    let id = w.activity;
    let (at, end) = an_hour_from_now(app);
    let input = json!({
        "plan_id": activity["plan_id"], "kind": "social_post", "status": "planned",
        "timing": {"precision": "exact", "start": at, "end": end, "time_zone": "UTC"},
        "channel_ids": [w.m, w.b],
        "translations": {"es": {"title": "Lanzamiento"}, "en": {"title": "Launch"}},
        "post_variants": activity["post_variants"], "version": activity["version"],
    });
    let res = app
        .put(&format!("/api/v1/activities/{id}"), &input)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
}

pub(crate) async fn review(app: &TestApp, id: i64, token: &str, action: &str) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/api/v1/activities/{id}/review")))
        .bearer_auth(token)
        .json(&json!({"action": action}))
        .send()
        .await
        .unwrap()
}

/// A social post due in an hour with an ES variant on Mastodon (too long
/// for its 120) and an ES variant on Bluesky.
pub(crate) async fn world() -> World {
    let app = app_with_webhooks(true).await;
    let f = fixture(&app).await;
    let (mastodon, masto_state) = start_instance();
    let pds_state = Arc::new(Mutex::new(Pds::default()));
    let pds = bluesky::pds(pds_state.clone());
    let m = channel(&app, f.org, "mastodon").await;
    let b = channel(&app, f.org, "bluesky").await;
    add_account(
        &app,
        json!({"network": "mastodon", "base_url": mastodon.url, "secret": "tok-secret", "channel_id": m}),
    )
    .await;
    let account = add_account(
        &app,
        json!({"network": "bluesky", "base_url": pds.url, "handle": HANDLE, "secret": PASSWORD, "channel_id": b}),
    )
    .await;
    assert_eq!(account["has_credentials"], true);
    assert_eq!(account["channel_id"], b);
    let (at, end) = an_hour_from_now(&app);
    let activity = app
        .create(
            "/api/v1/activities",
            json!({
                "plan_id": f.plan,
                "kind": "social_post",
                "status": "planned",
                "timing": {"precision": "exact", "start": at, "end": end, "time_zone": "UTC"},
                "channel_ids": [m, b],
                "translations": {"es": {"title": "Lanzamiento"}, "en": {"title": "Launch"}},
                "post_variants": [
                    {"channel_id": m, "lang": "es", "body": format!("{} https://pregon.example/es", "Málaga ".repeat(15))},
                    {"channel_id": b, "lang": "es", "body": "¡Hola @ana.bsky.social! 🇪🇸 #Pregón https://pregon.example/es"},
                ],
            }),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    World {
        app,
        mastodon,
        masto_state,
        pds,
        pds_state,
        activity,
        m,
        b,
    }
}

#[tokio::test]
async fn approved_variants_are_checked_against_real_limits_and_published_once_at_their_time() {
    let w = world().await;
    let app = &w.app;
    let id = w.activity;
    let hooks = Receiver::start(|_| Reply::status(204));
    let res = app
        .client
        .post(app.url("/api/v1/webhooks"))
        .bearer_auth(&app.admin)
        .json(&json!({"url": format!("{}/hook", hooks.url), "event_types": ["post.published", "post.failed"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);

    // The instance's own limit (120) is read and applied: 105 + 23 for the URL.
    let variants = app
        .get_json(&format!("/api/v1/activities/{id}/variants"))
        .await;
    assert_eq!(variants[0]["network"], "mastodon");
    assert_eq!(variants[1]["network"], "bluesky");
    assert_eq!(variants[1]["max_length"], 300);
    let res = review(app, id, &app.editor, "submit").await;
    assert_eq!(res.status(), 200);
    let problem = expect_problem(review(app, id, &app.admin, "approve").await, 422).await;
    assert_eq!(problem["field"], "post_variants[0].body", "{problem}");
    assert!(
        problem.to_string().contains("this instance allows 120"),
        "{problem}"
    );
    assert_eq!(w.mastodon.to("/api/v2/instance").len(), 1);

    // Through the variant's own route: too long is refused, nothing written.
    let too_long = app
        .put(
            &format!("/api/v1/activities/{id}/variants/{}/es", w.m),
            &json!({"body": "x".repeat(121)}),
        )
        .send()
        .await
        .unwrap();
    let problem = expect_problem(too_long, 422).await;
    assert_eq!(problem["field"], "body", "{problem}");
    let fits = app
        .put(
            &format!("/api/v1/activities/{id}/variants/{}/es", w.m),
            &json!({"body": "¡Hola, Málaga! 🇪🇸 👨‍👩‍👧 https://pregon.example/es"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(fits.status(), 200);
    let variants: Value = fits.json().await.unwrap();
    // 19 graphemes + the URL as 23.
    assert_eq!(variants[0]["length"], 42, "{variants}");
    assert_eq!(variants[0]["approved"], false);
    let history = app
        .get_json(&format!("/api/v1/activities/{id}/history"))
        .await;
    assert!(
        history.to_string().contains("post_variants"),
        "the edit is in the activity's history"
    );
    assert_eq!(review(app, id, &app.admin, "approve").await.status(), 200);
    let variants = app
        .get_json(&format!("/api/v1/activities/{id}/variants"))
        .await;
    assert_eq!(variants[0]["approved"], true);
    assert_eq!(variants[1]["approved"], true);

    // Before its time nothing is planned; at its time one job per variant.
    let runner = planning_runner(app);
    runner.run_once().await.unwrap();
    assert!(w.mastodon.to("/api/v1/statuses").is_empty());
    app.clock.advance(TimeDelta::hours(1));
    runner.run_once().await.unwrap();
    runner.run_once().await.unwrap();
    let statuses = w.mastodon.to("/api/v1/statuses");
    assert_eq!(statuses.len(), 1);
    assert_eq!(statuses[0].json()["language"], "es");
    assert_eq!(
        statuses[0].json()["status"],
        "¡Hola, Málaga! 🇪🇸 👨‍👩‍👧 https://pregon.example/es"
    );
    assert_eq!(statuses[0].header("idempotency-key").unwrap().len(), 32);
    assert_eq!(w.pds_state.lock().unwrap().records.len(), 1);
    let record = w
        .pds_state
        .lock()
        .unwrap()
        .records
        .values()
        .next()
        .unwrap()
        .clone();
    assert_eq!(record["langs"], json!(["es"]));
    let variants = app
        .get_json(&format!("/api/v1/activities/{id}/variants"))
        .await;
    assert_eq!(
        variants[0]["publication"]["state"], "published",
        "{variants}"
    );
    assert_eq!(
        variants[0]["publication"]["url"],
        format!("{}/@pregon/1", w.mastodon.url)
    );
    assert_eq!(variants[1]["publication"]["state"], "published");
    assert!(
        variants[1]["publication"]["url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("https://bsky.app/profile/{HANDLE}/post/"))
    );

    // post.published told, once per variant, with where it landed.
    runner.run_once().await.unwrap();
    let events: Vec<Value> = hooks.to("/hook").iter().map(|r| r.json()).collect();
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(events.iter().all(|e| e["type"] == "post.published"));
    let urls: Vec<&str> = events
        .iter()
        .map(|e| e["data"]["url"].as_str().unwrap())
        .collect();
    assert!(
        urls.contains(&format!("{}/@pregon/1", w.mastodon.url).as_str()),
        "{urls:?}"
    );

    // An edit after publishing, approved again, posts nothing more.
    let res = app
        .put(
            &format!("/api/v1/activities/{id}/variants/{}/es", w.b),
            &json!({"body": "Otra cosa"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // The edit superseded the approval (back in review); approved again.
    let again = app
        .get_json(&format!("/api/v1/activities/{id}/review"))
        .await;
    assert_eq!(again["state"], "in_review", "{again}");
    assert_eq!(review(app, id, &app.admin, "approve").await.status(), 200);
    app.clock.advance(TimeDelta::minutes(5));
    runner.run_once().await.unwrap();
    runner.run_once().await.unwrap();
    assert_eq!(w.mastodon.to("/api/v1/statuses").len(), 1);
    assert_eq!(w.pds_state.lock().unwrap().records.len(), 1);
    assert_eq!(w.pds.to("/xrpc/com.atproto.server.createSession").len(), 1);
}

#[tokio::test]
async fn an_unapproved_post_is_not_published_and_two_runners_publish_an_approved_one_once() {
    let w = world().await;
    let app = &w.app;
    let id = w.activity;
    let fits = app
        .put(
            &format!("/api/v1/activities/{id}/variants/{}/es", w.m),
            &json!({"body": "Corto"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(fits.status(), 200);
    app.clock.advance(TimeDelta::hours(1));
    let (one, two) = (planning_runner(app), planning_runner(app));
    one.run_once().await.unwrap();
    assert!(
        w.mastodon.to("/api/v1/statuses").is_empty(),
        "a draft is not published"
    );
    let jobs_now = pregon::db::jobs::list(&mut app.db.get().unwrap(), None, None, 100, 0).unwrap();
    assert!(jobs_now.iter().all(|j| !j.kind.starts_with("social.")));

    assert_eq!(review(app, id, &app.editor, "submit").await.status(), 200);
    assert_eq!(review(app, id, &app.admin, "approve").await.status(), 200);
    let (a, b) = tokio::join!(one.run_once(), two.run_once());
    a.unwrap();
    b.unwrap();
    one.run_once().await.unwrap();
    two.run_once().await.unwrap();
    assert_eq!(
        w.mastodon.to("/api/v1/statuses").len(),
        1,
        "published once by two runners"
    );
    assert_eq!(w.masto_state.lock().unwrap().statuses.len(), 1);
    assert_eq!(w.pds_state.lock().unwrap().records.len(), 1);
    let records = w
        .pds
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/xrpc/com.atproto.repo."))
        .count();
    assert_eq!(records, 1);
    let _ = w.b;
}

#[tokio::test]
async fn a_variant_edited_while_its_job_waits_to_retry_is_not_published_without_a_new_approval() {
    let w = world().await;
    let app = &w.app;
    let id = w.activity;
    let path = format!("/api/v1/activities/{id}/variants/{}/es", w.m);
    let res = app
        .put(&path, &json!({"body": "Corto"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(review(app, id, &app.editor, "submit").await.status(), 200);
    assert_eq!(review(app, id, &app.admin, "approve").await.status(), 200);
    w.masto_state.lock().unwrap().script = vec!["503"];
    app.clock.advance(TimeDelta::hours(1));
    let runner = planning_runner(app);
    runner.run_once().await.unwrap();
    assert_eq!(w.mastodon.to("/api/v1/statuses").len(), 1, "the 503");
    let res = app
        .put(&path, &json!({"body": "Cambiado"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    app.clock.advance(TimeDelta::minutes(10));
    runner.run_once().await.unwrap();
    assert_eq!(
        w.mastodon.to("/api/v1/statuses").len(),
        1,
        "no retry of a text whose approval was superseded"
    );
    let variants = app
        .get_json(&format!("/api/v1/activities/{id}/variants"))
        .await;
    assert_eq!(variants[0]["publication"]["state"], "failed", "{variants}");
    assert!(
        variants[0]["publication"]["reason"]
            .as_str()
            .unwrap()
            .contains("not published: the activity's current approval does not cover this text"),
        "{variants}"
    );
    assert!(w.masto_state.lock().unwrap().statuses.is_empty());
}

#[tokio::test]
async fn a_cms_gets_the_post_signed_with_the_same_event_id_on_every_retry() {
    let app = app_with_webhooks(true).await;
    let f = fixture(&app).await;
    let answers = Arc::new(Mutex::new(vec![
        Reply::status(503),
        Reply::json(
            201,
            json!({"id": "n-1", "url": "https://cms.example/news/1"}),
        ),
    ]));
    let script = answers.clone();
    let cms = Receiver::start(move |_| script.lock().unwrap().remove(0));
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let refused = app
        .client
        .post(app.url("/api/v1/channel-accounts"))
        .bearer_auth(&app.admin)
        .json(&json!({"network": "webhook", "base_url": format!("{}/in", cms.url), "secret": "not-a-secret", "channel_id": f.channel}))
        .send()
        .await
        .unwrap();
    assert_eq!(expect_problem(refused, 422).await["field"], "secret");
    add_account(
        &app,
        json!({"network": "webhook", "base_url": format!("{}/in", cms.url), "secret": secret, "channel_id": f.channel}),
    )
    .await;
    // Due ten minutes ago (the signature is checked against the real time).
    let at = (app.clock_now() - TimeDelta::minutes(10))
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let end = app.clock_now().format("%Y-%m-%dT%H:%M").to_string();
    let id = app
        .create(
            "/api/v1/activities",
            json!({
                "plan_id": f.plan,
                "kind": "social_post",
                "status": "planned",
                "timing": {"precision": "exact", "start": at, "end": end, "time_zone": "UTC"},
                "channel_ids": [f.channel],
                "translations": {"es": {"title": "Lanzamiento"}, "en": {"title": "Launch"}},
                "post_variants": [{"channel_id": f.channel, "lang": "es", "body": "Lanzamiento del estudio <b>& más</b>"}],
            }),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    app.approve(&format!("/api/v1/activities/{id}")).await;
    let runner = planning_runner(&app);
    runner.run_once().await.unwrap();
    app.clock.advance(TimeDelta::minutes(1));
    runner.run_once().await.unwrap();
    let sent = cms.to("/in");
    assert_eq!(sent.len(), 2, "the 503 and its retry");
    assert_eq!(sent[0].header("webhook-id"), sent[1].header("webhook-id"));
    assert_eq!(sent[0].body, sent[1].body, "the same body on every retry");
    for request in &sent {
        let mut headers = reqwest::header::HeaderMap::new();
        for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
            headers.insert(name, request.header(name).unwrap().parse().unwrap());
        }
        standardwebhooks::Webhook::new(secret)
            .unwrap()
            .verify(&request.body, &headers)
            .expect("signed per Standard Webhooks");
    }
    let event = sent[1].json();
    assert_eq!(event["type"], "post.publish");
    assert_eq!(
        event["data"]["text"],
        "Lanzamiento del estudio <b>& más</b>"
    );
    assert_eq!(event["data"]["lang"], "es");
    assert_eq!(event["data"]["title"], "Lanzamiento");
    let variants = app
        .get_json(&format!("/api/v1/activities/{id}/variants"))
        .await;
    assert_eq!(variants[0]["network"], "webhook");
    assert_eq!(
        variants[0]["publication"]["state"], "published",
        "{variants}"
    );
    assert_eq!(
        variants[0]["publication"]["url"],
        "https://cms.example/news/1"
    );
    let accounts = app
        .client
        .get(app.url("/api/v1/channel-accounts"))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !accounts.contains("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
        "{accounts}"
    );
}

#[tokio::test]
async fn a_content_warning_counts_on_mastodon_goes_out_as_spoiler_text_and_is_refused_on_bluesky() {
    let w = world().await;
    let app = &w.app;
    let id = w.activity;
    let masto = format!("/api/v1/activities/{id}/variants/{}/es", w.m);
    // 100 graphemes of text fit the instance's 120; with a 23-grapheme
    // warning (Mastodon counts both) they do not.
    let body = "á".repeat(100);
    let too_long = app
        .put(
            &masto,
            &json!({"body": body, "content_warning": "Spoiler: los resultados"}),
        )
        .send()
        .await
        .unwrap();
    let problem = expect_problem(too_long, 422).await;
    assert_eq!(problem["field"], "body", "{problem}");
    assert!(problem.to_string().contains("123 characters"), "{problem}");
    let fits = app
        .put(
            &masto,
            &json!({"body": body, "content_warning": "Resultados 🇪🇸"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(fits.status(), 200);
    let variants: Value = fits.json().await.unwrap();
    assert_eq!(variants[0]["length"], 112, "100 + 12 graphemes: {variants}");
    assert_eq!(variants[0]["content_warning"], "Resultados 🇪🇸");

    // Bluesky has no content warnings: refused on its own route…
    let bsky = format!("/api/v1/activities/{id}/variants/{}/es", w.b);
    let refused = app
        .put(
            &bsky,
            &json!({"body": "Hola", "content_warning": "Spoiler"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_problem(refused, 422).await["field"],
        "content_warning"
    );
    // …and at approval when written with the activity.
    let mut activity = app.get_json(&format!("/api/v1/activities/{id}")).await;
    activity["post_variants"][1]["content_warning"] = json!("Spoiler");
    put_post(&w, &activity).await;
    assert_eq!(review(app, id, &app.editor, "submit").await.status(), 200);
    let problem = expect_problem(review(app, id, &app.admin, "approve").await, 422).await;
    assert_eq!(
        problem["field"], "post_variants[1].content_warning",
        "{problem}"
    );
    let bsky_ok = app
        .put(&bsky, &json!({"body": "Hola"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bsky_ok.status(), 200);
    assert_eq!(review(app, id, &app.admin, "approve").await.status(), 200);

    let runner = planning_runner(app);
    app.clock.advance(TimeDelta::hours(1));
    runner.run_once().await.unwrap();
    let statuses = w.mastodon.to("/api/v1/statuses");
    assert_eq!(statuses.len(), 1);
    assert_eq!(statuses[0].json()["spoiler_text"], "Resultados 🇪🇸");
    assert_eq!(statuses[0].json()["status"], body);
}

#[tokio::test]
async fn an_edit_of_one_variant_sends_only_that_variant_back_to_review() {
    let w = world().await;
    let app = &w.app;
    let id = w.activity;
    let masto = format!("/api/v1/activities/{id}/variants/{}/es", w.m);
    let bsky = format!("/api/v1/activities/{id}/variants/{}/es", w.b);
    let res = app
        .put(&masto, &json!({"body": "Corto"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(review(app, id, &app.editor, "submit").await.status(), 200);
    assert_eq!(review(app, id, &app.admin, "approve").await.status(), 200);

    // The Bluesky variant edited: back in review, the Mastodon one still approved.
    let res = app
        .put(&bsky, &json!({"body": "Otro texto"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let variants: Value = res.json().await.unwrap();
    assert_eq!(variants[0]["approved"], true, "{variants}");
    assert_eq!(variants[1]["approved"], false, "{variants}");
    let state = app
        .get_json(&format!("/api/v1/activities/{id}/review"))
        .await;
    assert_eq!(state["state"], "in_review", "{state}");
    assert!(state["approved_hash"].is_null());
    let standing = state["standing_hash"].as_object().unwrap();
    assert!(
        standing.contains_key(&format!("variant:{}:es", w.m)),
        "{state}"
    );
    assert!(
        !standing.contains_key(&format!("variant:{}:es", w.b)),
        "{state}"
    );
    let history = app
        .get_json(&format!("/api/v1/activities/{id}/history"))
        .await;
    assert!(
        history.to_string().contains("the others stay approved"),
        "{history}"
    );

    // At its time only the approved variant goes out.
    let runner = planning_runner(app);
    app.clock.advance(TimeDelta::hours(1));
    runner.run_once().await.unwrap();
    runner.run_once().await.unwrap();
    assert_eq!(w.mastodon.to("/api/v1/statuses").len(), 1);
    assert!(w.pds_state.lock().unwrap().records.is_empty());

    // Only a manual channel's variants are marked posted by hand.
    let res = app
        .client
        .post(app.url(&format!("{masto}/done")))
        .bearer_auth(&app.editor)
        .json(&json!({"url": "https://mastodon.example/@x/1"}))
        .send()
        .await
        .unwrap();
    expect_problem(res, 409).await;

    // Approved again: the edited one goes out too, the other not again.
    assert_eq!(review(app, id, &app.admin, "approve").await.status(), 200);
    let state = app
        .get_json(&format!("/api/v1/activities/{id}/review"))
        .await;
    assert!(state["standing_hash"].is_null(), "{state}");
    runner.run_once().await.unwrap();
    runner.run_once().await.unwrap();
    assert_eq!(w.mastodon.to("/api/v1/statuses").len(), 1);
    let records = w.pds_state.lock().unwrap().records.clone();
    assert_eq!(records.len(), 1);
    assert_eq!(records.values().next().unwrap()["text"], "Otro texto");

    // An edit of the activity itself (its title) sends everything back.
    let mut activity = app.get_json(&format!("/api/v1/activities/{id}")).await;
    activity["translations"]["es"]["title"] = json!("Lanzamiento (nuevo)");
    let timing = &activity["timing"];
    let timing = json!({"precision": timing["precision"], "start": timing["start"],
                        "end": timing["end"], "time_zone": timing["time_zone"]});
    let input = json!({
        "plan_id": activity["plan_id"], "kind": "social_post", "status": "planned",
        "timing": timing, "channel_ids": [w.m, w.b],
        "translations": activity["translations"],
        "post_variants": activity["post_variants"], "version": activity["version"],
    });
    let res = app
        .put(&format!("/api/v1/activities/{id}"), &input)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let state = app
        .get_json(&format!("/api/v1/activities/{id}/review"))
        .await;
    assert!(state["standing_hash"].is_null(), "{state}");
    let variants = app
        .get_json(&format!("/api/v1/activities/{id}/variants"))
        .await;
    assert_eq!(variants[0]["approved"], false);
    assert_eq!(variants[1]["approved"], false);
}
