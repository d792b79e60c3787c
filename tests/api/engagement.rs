//! The networks' public counts of published posts (#11), read from a
//! Mastodon instance and a Bluesky AppView on loopback by the job runner on
//! its schedule, stored with the time they were read, and shown in the
//! progress report (JSON, HTML, CSV, Markdown, PDF) per post and per
//! channel. A network that fails leaves the last figures and says when they
//! were read.

use crate::activities::fixture;
use crate::bluesky::{self, HANDLE, PASSWORD, Pds};
use crate::helpers::*;
use crate::mastodon::{Instance, instance};
use crate::receiver::{Receiver, Reply};
use crate::webhooks::app_with_webhooks;
use chrono::TimeDelta;
use pregon::jobs::{self, Runner};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A Bluesky AppView: `app.bsky.feed.getPosts` with the counts set here.
#[derive(Default)]
struct AppView {
    counts: HashMap<String, Value>,
    down: bool,
}

fn appview(state: Arc<Mutex<AppView>>) -> Receiver {
    Receiver::start(move |req| {
        let s = state.lock().unwrap();
        if req.path != "/xrpc/app.bsky.feed.getPosts" {
            return Reply::status(404);
        }
        if s.down {
            return Reply::json(
                502,
                json!({"error": "UpstreamFailure", "message": "Upstream Failure"}),
            );
        }
        let posts: Vec<Value> = url::form_urlencoded::parse(req.query.as_bytes())
            .filter(|(k, _)| k == "uris")
            .filter_map(|(_, uri)| {
                let counts = s.counts.get(uri.as_ref())?;
                let mut post =
                    json!({"uri": uri, "cid": "bafy", "author": {"did": "did:plc:pregon"}});
                for (k, v) in counts.as_object().unwrap() {
                    post[k] = v.clone();
                }
                Some(post)
            })
            .collect();
        Reply::json(200, json!({"posts": posts}))
    })
}

fn runner(app: &TestApp, appview_url: &str) -> Arc<Runner> {
    let mut settings = app.settings.clone();
    settings.engagement.bluesky_appview = appview_url.to_owned();
    let clock: pregon::clock::SharedClock = Arc::new(app.clock.clone());
    let handlers = jobs::standard_handlers(&settings, &app.db, &clock).unwrap();
    Runner::with_planners(
        app.db.clone(),
        clock,
        settings.jobs.clone(),
        handlers,
        jobs::standard_planners(&settings),
    )
    .unwrap()
}

async fn channel(app: &TestApp, org: i64, slug: &str, name: &str) -> i64 {
    app.create(
        "/api/v1/channels",
        json!({"slug": slug, "kind": "social", "name": name, "organisation_id": org}),
    )
    .await["id"]
        .as_i64()
        .unwrap()
}

async fn add_account(app: &TestApp, body: Value) {
    let res = app
        .client
        .post(app.url("/api/v1/channel-accounts"))
        .bearer_auth(&app.admin)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
}

const REPORT: &str = "/api/v1/reports/progress?plan=p2020&from=2026-01-01&to=2027-12-31";

fn engagement_jobs(app: &TestApp) -> usize {
    pregon::db::jobs::list(&mut app.db.get().unwrap(), None, None, 100, 0)
        .unwrap()
        .iter()
        .filter(|j| j.kind == pregon::social::engagement::KIND)
        .count()
}

#[tokio::test]
async fn published_posts_counts_are_read_on_schedule_and_a_failed_read_keeps_the_last_figures() {
    let app = app_with_webhooks(true).await;
    let f = fixture(&app).await;
    let masto_state = Arc::new(Mutex::new(Instance::default()));
    let masto_url = Arc::new(Mutex::new(String::new()));
    let mastodon = instance(masto_state.clone(), masto_url.clone());
    *masto_url.lock().unwrap() = mastodon.url.clone();
    let pds_state = Arc::new(Mutex::new(Pds::default()));
    let pds = bluesky::pds(pds_state.clone());
    let view_state = Arc::new(Mutex::new(AppView::default()));
    let view = appview(view_state.clone());
    let m = channel(&app, f.org, "mastodon", "Mastodon UCLG").await;
    let b = channel(&app, f.org, "bluesky", "Bluesky UCLG").await;
    add_account(
        &app,
        json!({"network": "mastodon", "base_url": mastodon.url, "secret": "tok-secret", "channel_id": m}),
    )
    .await;
    add_account(
        &app,
        json!({"network": "bluesky", "base_url": pds.url, "handle": HANDLE, "secret": PASSWORD, "channel_id": b}),
    )
    .await;
    let at = app.clock_now() + TimeDelta::hours(1);
    let id = app
        .create(
            "/api/v1/activities",
            json!({
                "plan_id": f.plan,
                "kind": "social_post",
                "status": "planned",
                "timing": {"precision": "exact", "start": at.format("%Y-%m-%dT%H:%M").to_string(),
                           "end": (at + TimeDelta::minutes(30)).format("%Y-%m-%dT%H:%M").to_string(), "time_zone": "UTC"},
                "channel_ids": [m, b],
                "translations": {"es": {"title": "Lanzamiento del estudio"}, "en": {"title": "Study launch"}},
                "post_variants": [
                    {"channel_id": m, "lang": "es", "body": "¡Ya está aquí el estudio!"},
                    {"channel_id": b, "lang": "es", "body": "¡Ya está aquí el estudio! 🇪🇸"},
                ],
            }),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    app.approve(&format!("/api/v1/activities/{id}")).await;

    // Before anything is published there is nothing to read, and no job.
    let runner = runner(&app, &view.url);
    runner.run_once().await.unwrap();
    assert_eq!(engagement_jobs(&app), 0);
    let report = app.get_json(REPORT).await;
    assert_eq!(report["social"], json!([]), "{}", report["social"]);

    // Published at its time, and read in the same slot: the instance says
    // 0; the AppView has not seen the Bluesky post yet.
    app.clock.advance(TimeDelta::hours(1));
    runner.run_once().await.unwrap();
    runner.run_once().await.unwrap();
    runner.run_once().await.unwrap();
    // One job for the slot, however many steps run in it.
    assert_eq!(engagement_jobs(&app), 1);
    let report = app.get_json(REPORT).await;
    let early: Vec<&Value> = report["social"].as_array().unwrap().iter().collect();
    assert_eq!(early.len(), 2, "{early:?}");
    let early_b = early.iter().find(|p| p["network"] == "bluesky").unwrap();
    assert_eq!(early_b["read_at"], Value::Null);
    assert!(
        early_b["error"]
            .as_str()
            .unwrap()
            .contains("does not know the post"),
        "{early_b}"
    );
    let early_m = early.iter().find(|p| p["network"] == "mastodon").unwrap();
    assert_eq!(early_m["likes"], 0);
    let bt = report["social_totals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["channel_id"] == b)
        .unwrap()
        .clone();
    assert_eq!(
        (&bt["posts"], &bt["unread"], &bt["as_of"]),
        (&json!(1), &json!(1), &Value::Null)
    );

    // People reply, boost and like; the next slot reads it.
    let status_id = masto_state.lock().unwrap().statuses[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let rkey = pds_state
        .lock()
        .unwrap()
        .records
        .keys()
        .next()
        .unwrap()
        .clone();
    let uri = format!("at://did:plc:pregon/app.bsky.feed.post/{rkey}");
    masto_state.lock().unwrap().counts.insert(
        status_id.clone(),
        json!({"replies_count": 2, "reblogs_count": 3, "favourites_count": 5}),
    );
    view_state.lock().unwrap().counts.insert(
        uri.clone(),
        json!({"replyCount": 1, "repostCount": 4, "likeCount": 7, "quoteCount": 2}),
    );
    app.clock.advance(TimeDelta::minutes(i64::from(
        app.settings.engagement.refresh_minutes,
    )));
    runner.run_once().await.unwrap();
    runner.run_once().await.unwrap();
    let first_read = app.clock_now();
    assert_eq!(engagement_jobs(&app), 2);
    assert_eq!(
        mastodon.to(&format!("/api/v1/statuses/{status_id}")).len(),
        2,
        "read once a slot"
    );
    let asked = view.to("/xrpc/app.bsky.feed.getPosts");
    assert_eq!(asked.len(), 2);
    assert!(asked[1].header("authorization").is_none(), "public counts");
    assert!(
        asked[1].query.contains("uris=at%3A%2F%2F"),
        "{}",
        asked[1].query
    );

    let report = app.get_json(REPORT).await;
    let social = report["social"].as_array().unwrap();
    assert_eq!(social.len(), 2, "{social:?}");
    let post = |network: &str, report: &Value| -> Value {
        report["social"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["network"] == network)
            .unwrap()
            .clone()
    };
    let mp = post("mastodon", &report);
    assert_eq!(mp["activity_id"], id);
    assert_eq!(mp["channel"], "Mastodon UCLG");
    assert_eq!(mp["url"], format!("{}/@pregon/{status_id}", mastodon.url));
    assert_eq!(
        (&mp["replies"], &mp["reposts"], &mp["likes"], &mp["quotes"]),
        (&json!(2), &json!(3), &json!(5), &Value::Null)
    );
    let read_at: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(mp["read_at"].clone()).unwrap();
    assert_eq!(read_at, first_read);
    assert_eq!(mp["error"], Value::Null);
    let bp = post("bluesky", &report);
    assert_eq!(
        (&bp["replies"], &bp["reposts"], &bp["likes"], &bp["quotes"]),
        (&json!(1), &json!(4), &json!(7), &json!(2))
    );
    let totals = report["social_totals"].as_array().unwrap();
    assert_eq!(totals.len(), 2);
    let bt = totals.iter().find(|t| t["channel_id"] == b).unwrap();
    assert_eq!(
        (&bt["posts"], &bt["likes"], &bt["quotes"]),
        (&json!(1), &json!(7), &json!(2))
    );
    assert_eq!(bt["activity_ids"], json!([id]));

    // Both networks fail at the next slot: the figures and their time stay,
    // and the failure is said with its own time.
    masto_state.lock().unwrap().reads_down = true;
    view_state.lock().unwrap().down = true;
    app.clock.advance(TimeDelta::minutes(i64::from(
        app.settings.engagement.refresh_minutes,
    )));
    runner.run_once().await.unwrap();
    let failed_read = app.clock_now();
    assert_eq!(engagement_jobs(&app), 3);
    let report = app.get_json(REPORT).await;
    for network in ["mastodon", "bluesky"] {
        let p = post(network, &report);
        let read_at: chrono::DateTime<chrono::Utc> =
            serde_json::from_value(p["read_at"].clone()).unwrap();
        assert_eq!(read_at, first_read, "{p}");
        let tried_at: chrono::DateTime<chrono::Utc> =
            serde_json::from_value(p["tried_at"].clone()).unwrap();
        assert_eq!(tried_at, failed_read, "{p}");
        assert!(p["error"].as_str().unwrap().contains("answered 5"), "{p}");
    }
    assert_eq!(post("mastodon", &report)["likes"], 5);
    assert_eq!(post("bluesky", &report)["likes"], 7);
    let mt = report["social_totals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["channel_id"] == m)
        .unwrap()
        .clone();
    assert_eq!((&mt["likes"], &mt["stale"]), (&json!(5), &json!(1)));

    // Every format shows the figures and when they were read.
    let as_of = first_read.format("%Y-%m-%d %H:%M").to_string();
    let html = app
        .get(&format!("{REPORT}&format=html&lang=es"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Publicaciones en redes sociales"), "{html}");
    assert!(html.contains("Totales por canal"));
    assert!(html.contains(&format!("{as_of} UTC")));
    assert!(html.contains("la última lectura falló"));
    assert!(html.contains(&format!("href=\"{}/@pregon/{status_id}\"", mastodon.url)));
    assert!(html.contains("<td class=\"n\">7</td>"), "{html}");
    let md = app
        .get(REPORT)
        .header("accept", "text/markdown")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(md.contains("## Social media posts"), "{md}");
    assert!(
        md.contains(&format!(
            "| 2 | 3 | 5 |  | {as_of} UTC (the last read failed"
        )),
        "{md}"
    );
    let csv_text = app
        .get(REPORT)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let headers: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let bluesky_row = rows
        .iter()
        .find(|r| &r[0] == "social_post" && &r[col("network")] == "bluesky")
        .unwrap();
    assert_eq!(&bluesky_row[col("likes")], "7");
    assert_eq!(&bluesky_row[col("quotes")], "2");
    assert_eq!(&bluesky_row[col("activity_id")], id.to_string());
    assert_eq!(
        &bluesky_row[col("read_at")],
        first_read.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    assert!(bluesky_row[col("read_error")].contains("Bluesky answered 502"));
    let channel_row = rows
        .iter()
        .find(|r| &r[0] == "social_channel" && r[col("channel_id")] == m.to_string())
        .unwrap();
    assert_eq!(&channel_row[col("likes")], "5");
    let pdf = app
        .get(&format!("{REPORT}&format=pdf&lang=fr"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let text = crate::reports::pdftotext(&pdf);
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("Publications sur les réseaux sociaux"),
        "{text}"
    );
    assert!(flat.contains("Totaux par canal"), "{text}");
    assert!(flat.contains(&as_of), "{text}");
    // And the team's report page (issue 11): per post and per channel.
    crate::web::person(
        &app,
        "vic@example.org",
        "Vic",
        "viewer",
        "en",
        crate::web::PASSWORD,
    )
    .await;
    let mut vic = crate::web::web_sign_in(&app, "vic@example.org", crate::web::PASSWORD).await;
    let (status, page) = vic
        .get(&app, "/app/reports?period=2026-01-01..2027-12-31&lang=en")
        .await;
    assert_eq!(status, 200, "{page}");
    let at = page
        .find("<h2 id=\"engagement-title\">Engagement of published posts</h2>")
        .expect("the engagement section");
    let section = &page[at..];
    assert!(
        section.contains(&format!("href=\"{}/@pregon/{status_id}\"", mastodon.url)),
        "{section}"
    );
    assert!(
        section.contains(&format!("href=\"/app/activities/{id}\"")),
        "{section}"
    );
    assert!(section.contains("<td>7</td>"), "{section}");
    assert!(section.contains("last read failed"), "{section}");
    assert!(section.contains("id=\"engagement-totals\""), "{section}");

    // Back up at the next slot: new figures, no error.
    masto_state.lock().unwrap().reads_down = false;
    view_state.lock().unwrap().down = false;
    view_state.lock().unwrap().counts.insert(
        uri,
        json!({"replyCount": 1, "repostCount": 4, "likeCount": 9, "quoteCount": 2}),
    );
    app.clock.advance(TimeDelta::minutes(i64::from(
        app.settings.engagement.refresh_minutes,
    )));
    runner.run_once().await.unwrap();
    let report = app.get_json(REPORT).await;
    let bp = post("bluesky", &report);
    assert_eq!(bp["likes"], 9);
    assert_eq!(bp["error"], Value::Null);
    let read_at: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(bp["read_at"].clone()).unwrap();
    assert_eq!(read_at, app.clock_now());
}

#[tokio::test]
async fn a_deleted_post_is_said_so_and_the_others_are_still_read() {
    let app = app_with_webhooks(true).await;
    let f = fixture(&app).await;
    let masto_state = Arc::new(Mutex::new(Instance::default()));
    let masto_url = Arc::new(Mutex::new(String::new()));
    let mastodon = instance(masto_state.clone(), masto_url.clone());
    *masto_url.lock().unwrap() = mastodon.url.clone();
    let view = appview(Arc::new(Mutex::new(AppView::default())));
    let m = channel(&app, f.org, "mastodon", "Mastodon").await;
    add_account(
        &app,
        json!({"network": "mastodon", "base_url": mastodon.url, "secret": "tok-secret", "channel_id": m}),
    )
    .await;
    let mut ids = Vec::new();
    for n in 0..2 {
        let at = app.clock_now() + TimeDelta::minutes(10 + n);
        let id = app
            .create(
                "/api/v1/activities",
                json!({
                    "plan_id": f.plan,
                    "kind": "social_post",
                    "status": "planned",
                    "timing": {"precision": "exact", "start": at.format("%Y-%m-%dT%H:%M").to_string(),
                               "end": (at + TimeDelta::minutes(5)).format("%Y-%m-%dT%H:%M").to_string(), "time_zone": "UTC"},
                    "channel_ids": [m],
                    "translations": {"en": {"title": format!("Post {n}")}},
                    "post_variants": [{"channel_id": m, "lang": "en", "body": format!("Post number {n}")}],
                }),
            )
            .await["id"]
            .as_i64()
            .unwrap();
        app.approve(&format!("/api/v1/activities/{id}")).await;
        ids.push(id);
    }
    let runner = runner(&app, &view.url);
    app.clock.advance(TimeDelta::minutes(20));
    runner.run_once().await.unwrap();
    runner.run_once().await.unwrap();
    {
        let mut s = masto_state.lock().unwrap();
        assert_eq!(s.statuses.len(), 2);
        let kept = s.statuses[1]["id"].as_str().unwrap().to_owned();
        s.counts.insert(
            kept,
            json!({"replies_count": 0, "reblogs_count": 1, "favourites_count": 4}),
        );
        // The first post was deleted on the instance.
        s.statuses.remove(0);
    }
    app.clock.advance(TimeDelta::minutes(i64::from(
        app.settings.engagement.refresh_minutes,
    )));
    runner.run_once().await.unwrap();
    let report = app.get_json(REPORT).await;
    let social = report["social"].as_array().unwrap();
    assert_eq!(social.len(), 2, "{social:?}");
    let gone = social.iter().find(|p| p["error"] != Value::Null).unwrap();
    assert!(gone["error"].as_str().unwrap().contains("404"), "{gone}");
    assert_eq!(gone["likes"], 0, "the figures read before it went");
    assert!(gone["read_at"].is_string());
    let kept = social.iter().find(|p| p["error"] == Value::Null).unwrap();
    assert_eq!(kept["likes"], 4);
    let total = &report["social_totals"][0];
    assert_eq!(
        (&total["posts"], &total["stale"], &total["likes"]),
        (&json!(2), &json!(1), &json!(4))
    );
    assert_eq!(total["activity_ids"], json!(ids));
}
