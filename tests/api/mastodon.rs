//! Publishing to a Mastodon instance on loopback that behaves like one: it
//! reads /api/v2/instance limits, creates statuses, answers a repeated
//! Idempotency-Key with the status it created, and lists recent statuses.

use crate::helpers::*;
use crate::receiver::{Receiver, Reply};
use crate::webhooks::{app_with_webhooks, runner};
use chrono::TimeDelta;
use pregon::domain::job::JobState;
use pregon::jobs::sealed::Sealer;
use pregon::social::mastodon::{self, Post};
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
pub struct Instance {
    pub statuses: Vec<serde_json::Value>,
    pub by_key: HashMap<String, usize>,
    /// Answers for the next POSTs, in order (then: create normally).
    pub script: Vec<&'static str>,
    /// Public counts by status id, merged into `GET /api/v1/statuses/:id`.
    pub counts: HashMap<String, serde_json::Value>,
    /// `GET /api/v1/statuses/:id` answers 503.
    pub reads_down: bool,
    /// Images uploaded (`POST /api/v2/media`): (description, content type, bytes).
    pub media: Vec<(String, String, Vec<u8>)>,
}

/// The named field of a multipart/form-data body: (its content type, its bytes).
pub fn form_field(req: &crate::receiver::Request, name: &str) -> Option<(String, Vec<u8>)> {
    let boundary = req
        .header("content-type")?
        .split("boundary=")
        .nth(1)?
        .to_owned();
    let delimiter = format!("--{boundary}");
    let body = &req.body;
    let find = |hay: &[u8], needle: &[u8], from: usize| {
        hay[from..]
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|p| p + from)
    };
    let mut at = find(body, delimiter.as_bytes(), 0)?;
    loop {
        let start = at + delimiter.len() + 2;
        let head_end = find(body, b"\r\n\r\n", start)?;
        let head = String::from_utf8_lossy(&body[start..head_end]).to_string();
        let next = find(body, delimiter.as_bytes(), head_end)?;
        if head.contains(&format!("name=\"{name}\"")) {
            let content_type = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Type: "))
                .unwrap_or("text/plain")
                .to_owned();
            return Some((content_type, body[head_end + 4..next - 2].to_vec()));
        }
        at = next;
    }
}

/// A Mastodon instance on loopback with a default state (limit 120), and
/// that state to script or read.
pub fn start_instance() -> (Receiver, Arc<Mutex<Instance>>) {
    let state = Arc::new(Mutex::new(Instance::default()));
    let url = Arc::new(Mutex::new(String::new()));
    let mastodon = instance(state.clone(), url.clone());
    *url.lock().unwrap() = mastodon.url.clone();
    (mastodon, state)
}

pub fn instance(state: Arc<Mutex<Instance>>, port_url: Arc<Mutex<String>>) -> Receiver {
    Receiver::start(move |req| {
        let mut s = state.lock().unwrap();
        let base = port_url.lock().unwrap().clone();
        match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/api/v2/instance") => Reply::json(
                200,
                json!({"configuration": {"statuses": {"max_characters": 120, "characters_reserved_per_url": 23},
                                         "media_attachments": {"image_size_limit": 4096}}}),
            ),
            ("POST", "/api/v2/media") => {
                if req.header("authorization") != Some("Bearer tok-secret") {
                    return Reply::json(401, json!({"error": "The access token is invalid"}));
                }
                let (Some((_, description)), Some((content_type, file))) =
                    (form_field(req, "description"), form_field(req, "file"))
                else {
                    return Reply::json(
                        422,
                        json!({"error": "Validation failed: File can't be blank"}),
                    );
                };
                s.media
                    .push((String::from_utf8(description).unwrap(), content_type, file));
                Reply::json(
                    200,
                    json!({"id": format!("m{}", s.media.len()), "type": "image"}),
                )
            }
            ("GET", "/api/v1/accounts/verify_credentials") => Reply::json(200, json!({"id": "7"})),
            ("GET", "/api/v1/accounts/7/statuses") => Reply::json(200, json!(s.statuses)),
            ("GET", path) if path.starts_with("/api/v1/statuses/") => {
                if req.header("authorization") != Some("Bearer tok-secret") {
                    return Reply::json(401, json!({"error": "The access token is invalid"}));
                }
                if s.reads_down {
                    return Reply::status(503);
                }
                let id = &path["/api/v1/statuses/".len()..];
                let Some(status) = s.statuses.iter().find(|st| st["id"] == id) else {
                    return Reply::json(404, json!({"error": "Record not found"}));
                };
                let mut status = status.clone();
                for (k, v) in s
                    .counts
                    .get(id)
                    .and_then(|c| c.as_object())
                    .into_iter()
                    .flatten()
                {
                    status[k] = v.clone();
                }
                Reply::json(200, status)
            }
            ("POST", "/api/v1/statuses") => {
                if req.header("authorization") != Some("Bearer tok-secret") {
                    return Reply::json(401, json!({"error": "The access token is invalid"}));
                }
                let step = if s.script.is_empty() {
                    "create"
                } else {
                    s.script.remove(0)
                };
                match step {
                    "503" => return Reply::status(503),
                    "429" => {
                        return Reply::json(429, json!({"error": "Too many requests"}))
                            .header("x-ratelimit-reset", "2026-12-31T10:00:00.000Z");
                    }
                    "422" => {
                        return Reply::json(
                            422,
                            json!({"error": "Validation failed: Text character limit of 120 exceeded"}),
                        );
                    }
                    _ => {}
                }
                let key = req.header("idempotency-key").unwrap_or("").to_owned();
                if let Some(i) = s.by_key.get(&key) {
                    return Reply::json(200, s.statuses[*i].clone());
                }
                let body = req.json();
                let id = (s.statuses.len() + 1).to_string();
                let status = json!({
                    "id": id,
                    "url": format!("{base}/@pregon/{id}"),
                    "content": format!("<p>{}</p>", body["status"].as_str().unwrap()),
                    "language": body["language"],
                    "created_at": chrono::Utc::now().to_rfc3339(),
                    "replies_count": 0,
                    "reblogs_count": 0,
                    "favourites_count": 0,
                });
                s.statuses.push(status.clone());
                let index = s.statuses.len() - 1;
                s.by_key.insert(key, index);
                let reply = Reply::json(200, status);
                // The post is created, but the answer comes too late.
                if step == "slow" {
                    reply.after(Duration::from_secs(4))
                } else {
                    reply
                }
            }
            _ => Reply::status(404),
        }
    })
}

struct Setup {
    app: TestApp,
    server: Receiver,
    state: Arc<Mutex<Instance>>,
    account: i64,
}

async fn setup(script: Vec<&'static str>) -> Setup {
    let app = app_with_webhooks(true).await;
    let state = Arc::new(Mutex::new(Instance {
        script,
        ..Instance::default()
    }));
    let url = Arc::new(Mutex::new(String::new()));
    let server = instance(state.clone(), url.clone());
    *url.lock().unwrap() = server.url.clone();
    let now = app.clock_now();
    let base = server.url.clone();
    let account = app
        .db
        .transaction(move |c| {
            let cx = pregon::app::Context::new(pregon::app::Actor::System, now);
            let sealer = Sealer::from_hex(crate::webhooks::KEY).unwrap();
            pregon::social::accounts::create(
                c,
                &cx,
                &sealer,
                pregon::social::accounts::NewAccount {
                    network: pregon::domain::network::Network::Mastodon,
                    name: None,
                    base_url: &base,
                    handle: Some("@pregon"),
                    secret: "tok-secret",
                },
            )
        })
        .await
        .unwrap();
    Setup {
        app,
        server,
        state,
        account,
    }
}

async fn schedule(s: &Setup, text: &str) -> i64 {
    let outbound = pregon::jobs::outbound::Outbound::new(Duration::from_secs(2), true).unwrap();
    let limits = mastodon::limits(&s.app.db, &outbound, s.account, s.app.clock_now())
        .await
        .unwrap();
    assert_eq!(limits.max_characters, 120);
    let post = Post {
        account_id: s.account,
        variant: "activity:1:variant:mastodon:es".into(),
        revision: 3,
        status: text.into(),
        language: "es".into(),
        spoiler_text: None,
        thread: Vec::new(),
        media: Vec::new(),
    };
    let now = s.app.clock_now();
    s.app
        .db
        .transaction(move |c| mastodon::enqueue(c, &post, limits, now, now))
        .await
        .unwrap()
        .id
}

fn job(app: &TestApp, id: i64) -> pregon::db::jobs::Row {
    pregon::db::jobs::get(&mut app.db.get().unwrap(), id).unwrap()
}

#[tokio::test]
async fn a_post_goes_out_once_with_its_language_and_idempotency_key() {
    let s = setup(vec![]).await;
    let id = schedule(&s, "¡Hola, Málaga! 🇪🇸 👨‍👩‍👧 https://pregon.example/es").await;
    runner(&s.app).run_once().await.unwrap();
    let posts = s.server.to("/api/v1/statuses");
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].json()["language"], "es");
    assert_eq!(
        posts[0].header("idempotency-key").unwrap(),
        mastodon::idempotency_key("activity:1:variant:mastodon:es", 3)
    );
    let row = job(&s.app, id);
    assert_eq!(row.state().unwrap(), JobState::Done);
    assert_eq!(
        row.remote_url.unwrap(),
        format!("{}/@pregon/1", s.server.url)
    );
    // The token is in no attempt log.
    let attempts = pregon::db::jobs::attempts(&mut s.app.db.get().unwrap(), id).unwrap();
    assert!(!format!("{attempts:?}").contains("tok-secret"));
    assert!(!row.payload.contains("tok-secret"));
}

#[tokio::test]
async fn retry_on_503_and_on_429_until_the_rate_limit_resets_but_never_on_422() {
    let s = setup(vec!["503", "429"]).await;
    let id = schedule(&s, "Uno").await;
    let runner = runner(&s.app);
    runner.run_once().await.unwrap();
    assert_eq!(job(&s.app, id).state().unwrap(), JobState::Queued);
    s.app.clock.advance(TimeDelta::minutes(2));
    runner.run_once().await.unwrap();
    // Mastodon's 429 has no Retry-After: X-RateLimit-Reset says when.
    let row = job(&s.app, id);
    assert_eq!(
        row.next_attempt_at.and_utc().to_rfc3339(),
        "2026-12-31T10:00:00+00:00"
    );
    s.app.clock.set("2026-12-31T10:00:01Z".parse().unwrap());
    runner.run_once().await.unwrap();
    assert_eq!(job(&s.app, id).state().unwrap(), JobState::Done);
    let keys: Vec<String> = s
        .server
        .to("/api/v1/statuses")
        .iter()
        .map(|r| r.header("idempotency-key").unwrap().to_owned())
        .collect();
    assert_eq!(keys.len(), 3);
    assert!(keys.iter().all(|k| *k == keys[0]), "{keys:?}");

    let s = setup(vec!["422"]).await;
    let id = schedule(&s, "Dos").await;
    runner_for(&s).run_once().await.unwrap();
    s.app.clock.advance(TimeDelta::hours(1));
    runner_for(&s).run_once().await.unwrap();
    let row = job(&s.app, id);
    assert_eq!(row.state().unwrap(), JobState::Failed);
    assert!(
        row.last_result.unwrap().contains("character limit"),
        "the network's message is shown"
    );
    assert_eq!(s.server.to("/api/v1/statuses").len(), 1);
}

fn runner_for(s: &Setup) -> Arc<pregon::jobs::Runner> {
    runner(&s.app)
}

#[tokio::test]
async fn a_timeout_after_the_post_was_created_is_reconciled_without_a_second_post() {
    // Within the key's hour: posting again with the same key returns the status.
    let s = setup(vec!["slow"]).await;
    let id = schedule(&s, "Tres").await;
    let runner = runner(&s.app);
    runner.run_once().await.unwrap();
    let row = job(&s.app, id);
    assert_eq!(row.state().unwrap(), JobState::Queued);
    assert_eq!(row.unknown_outcomes, 1);
    runner.run_once().await.unwrap();
    assert_eq!(job(&s.app, id).state().unwrap(), JobState::Done);
    assert_eq!(
        s.state.lock().unwrap().statuses.len(),
        1,
        "one status on the instance"
    );

    // After the hour: the recent statuses are read, nothing is posted again.
    let s = setup(vec!["slow"]).await;
    let id = schedule(&s, "Cuatro").await;
    let runner = runner_for(&s);
    runner.run_once().await.unwrap();
    s.app.clock.advance(TimeDelta::hours(2));
    runner.run_once().await.unwrap();
    let row = job(&s.app, id);
    assert_eq!(row.state().unwrap(), JobState::Done);
    assert_eq!(row.remote_id.as_deref(), Some("1"));
    assert_eq!(s.server.to("/api/v1/statuses").len(), 1, "no second POST");
    assert_eq!(s.state.lock().unwrap().statuses.len(), 1);
}

#[tokio::test]
async fn the_length_is_checked_against_the_instances_own_limit() {
    let s = setup(vec![]).await;
    let outbound = pregon::jobs::outbound::Outbound::new(Duration::from_secs(2), true).unwrap();
    let limits = mastodon::limits(&s.app.db, &outbound, s.account, s.app.clock_now())
        .await
        .unwrap();
    // 120 allowed: 96 graphemes of text (accents, ZWJ family, flag, CJK) + a URL as 23.
    let text = format!(
        "{} https://example.org/{}",
        "á👨‍👩‍👧🇫🇷日".repeat(23) + "abcd",
        "x".repeat(200)
    );
    assert_eq!(pregon::social::text::mastodon_length(&text, "", 23), 120);
    assert!(mastodon::check_length(limits, &text, "").is_ok());
    let err = mastodon::check_length(limits, &text, "!").unwrap_err();
    assert!(err.to_string().contains("121 characters"), "{err}");
    // The limits were read once and cached.
    mastodon::limits(&s.app.db, &outbound, s.account, s.app.clock_now())
        .await
        .unwrap();
    assert_eq!(s.server.to("/api/v2/instance").len(), 1);
}
