//! Publishing to a Bluesky PDS on loopback that behaves like one: sessions
//! (createSession, refreshSession rotating both tokens, 400 ExpiredToken for
//! a stale access token), handle resolution, createRecord refusing a key
//! that exists (with a server error, as a PDS does) and putRecord writing
//! to a key.

use crate::helpers::*;
use crate::receiver::{Receiver, Reply};
use crate::webhooks::{app_with_webhooks, runner};
use chrono::TimeDelta;
use pregon::domain::job::JobState;
use pregon::jobs::sealed::Sealer;
use pregon::social::bluesky::{self, Post};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const HANDLE: &str = "pregon.bsky.social";
pub const PASSWORD: &str = "app-pass-secret-1234";
const DID: &str = "did:plc:pregon";

#[derive(Default)]
pub struct Pds {
    /// Sessions created, refreshes done.
    pub created: usize,
    pub refreshed: usize,
    /// The access and refresh tokens that work now ("" : none).
    pub access: String,
    pub refresh: String,
    pub records: BTreeMap<String, Value>,
    /// Answers for the next record writes, in order (then: write normally).
    pub script: Vec<&'static str>,
    /// Blobs uploaded: (content type, bytes).
    pub blobs: Vec<(String, Vec<u8>)>,
}

impl Pds {
    fn issue(&mut self) -> Value {
        let n = self.created + self.refreshed;
        self.access = format!("acc-jwt-{n}");
        self.refresh = format!("ref-jwt-{n}");
        json!({"did": DID, "handle": HANDLE, "accessJwt": self.access, "refreshJwt": self.refresh})
    }

    /// The access token stops working (it expired).
    pub fn expire(&mut self) {
        self.access = String::new();
    }
}

fn bearer(req: &crate::receiver::Request) -> String {
    req.header("authorization")
        .unwrap_or("")
        .trim_start_matches("Bearer ")
        .to_owned()
}

pub fn pds(state: Arc<Mutex<Pds>>) -> Receiver {
    Receiver::start(move |req| {
        let mut s = state.lock().unwrap();
        match (req.method.as_str(), req.path.as_str()) {
            ("POST", "/xrpc/com.atproto.server.createSession") => {
                let body = req.json();
                if body["identifier"] != HANDLE || body["password"] != PASSWORD {
                    return Reply::json(
                        401,
                        json!({"error": "AuthenticationRequired", "message": "Invalid identifier or password"}),
                    );
                }
                s.created += 1;
                Reply::json(200, s.issue())
            }
            ("POST", "/xrpc/com.atproto.server.refreshSession") => {
                if s.refresh.is_empty() || bearer(req) != s.refresh {
                    return Reply::json(
                        400,
                        json!({"error": "ExpiredToken", "message": "Token has expired"}),
                    );
                }
                s.refreshed += 1;
                Reply::json(200, s.issue())
            }
            ("POST", "/xrpc/com.atproto.repo.uploadBlob") => {
                if s.access.is_empty() || bearer(req) != s.access {
                    return Reply::json(
                        400,
                        json!({"error": "ExpiredToken", "message": "Token has expired"}),
                    );
                }
                let content_type = req.header("content-type").unwrap_or("").to_owned();
                s.blobs.push((content_type.clone(), req.body.clone()));
                Reply::json(
                    200,
                    json!({"blob": {"$type": "blob", "ref": {"$link": format!("bafkreiblob{}", s.blobs.len())},
                                    "mimeType": content_type, "size": req.body.len()}}),
                )
            }
            ("GET", "/xrpc/com.atproto.identity.resolveHandle") => {
                if req.query == "handle=ana.bsky.social" {
                    Reply::json(200, json!({"did": "did:plc:ana"}))
                } else {
                    Reply::json(
                        400,
                        json!({"error": "InvalidRequest", "message": "Unable to resolve handle"}),
                    )
                }
            }
            (
                "POST",
                path @ ("/xrpc/com.atproto.repo.createRecord" | "/xrpc/com.atproto.repo.putRecord"),
            ) => {
                if s.access.is_empty() || bearer(req) != s.access {
                    return Reply::json(
                        400,
                        json!({"error": "ExpiredToken", "message": "Token has expired"}),
                    );
                }
                let step = if s.script.is_empty() {
                    "write"
                } else {
                    s.script.remove(0)
                };
                match step {
                    "503" => return Reply::status(503),
                    "429" => {
                        return Reply::json(
                            429,
                            json!({"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}),
                        )
                        .header("retry-after", "120");
                    }
                    "400" => {
                        return Reply::json(
                            400,
                            json!({"error": "InvalidRequest", "message": "Record/text must not be longer than 300 graphemes"}),
                        );
                    }
                    _ => {}
                }
                let body = req.json();
                let rkey = body["rkey"].as_str().unwrap().to_owned();
                if path.ends_with("createRecord") && s.records.contains_key(&rkey) {
                    return Reply::json(
                        500,
                        json!({"error": "InternalServerError", "message": "Internal Server Error"}),
                    );
                }
                s.records.insert(rkey.clone(), body["record"].clone());
                let reply = Reply::json(
                    200,
                    json!({"uri": format!("at://{DID}/app.bsky.feed.post/{rkey}"), "cid": format!("bafyrei{rkey}")}),
                );
                // Written, but the answer comes too late.
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

pub struct Setup {
    pub app: TestApp,
    pub server: Receiver,
    pub state: Arc<Mutex<Pds>>,
    pub account: i64,
}

pub async fn setup(script: Vec<&'static str>) -> Setup {
    let app = app_with_webhooks(true).await;
    let state = Arc::new(Mutex::new(Pds {
        script,
        ..Pds::default()
    }));
    let server = pds(state.clone());
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
                    network: pregon::domain::network::Network::Bluesky,
                    name: None,
                    base_url: &base,
                    handle: Some(HANDLE),
                    secret: PASSWORD,
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

async fn schedule(s: &Setup, name: &str, text: &str) -> (i64, Post) {
    let now = s.app.clock_now();
    let post = Post::new(
        s.account,
        format!("activity:1:channel:2:{name}"),
        text.into(),
        vec!["es".into()],
        now,
    );
    let queued = post.clone();
    let key = format!("test:{name}");
    let id = s
        .app
        .db
        .transaction(move |c| bluesky::enqueue(c, &key, &queued, now, now))
        .await
        .unwrap()
        .id;
    (id, post)
}

fn job(app: &TestApp, id: i64) -> pregon::db::jobs::Row {
    pregon::db::jobs::get(&mut app.db.get().unwrap(), id).unwrap()
}

fn writes(server: &Receiver) -> Vec<crate::receiver::Request> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/xrpc/com.atproto.repo."))
        .collect()
}

#[tokio::test]
async fn a_post_is_the_exact_record_with_byte_offset_facets_and_one_session() {
    let s = setup(vec![]).await;
    let text = "Café ☕ en Málaga: https://pregon.example/es #Pregón con @ana.bsky.social y @nadie.example 👨‍👩‍👧!";
    let (id, post) = schedule(&s, "es", text).await;
    let runner = runner(&s.app);
    runner.run_once().await.unwrap();
    let row = job(&s.app, id);
    assert_eq!(
        row.state().unwrap(),
        JobState::Done,
        "{:?}",
        row.last_result
    );
    assert_eq!(
        row.remote_url.as_deref(),
        Some(format!("https://bsky.app/profile/{HANDLE}/post/{}", post.rkey).as_str())
    );
    assert_eq!(
        row.remote_id.as_deref(),
        Some(format!("at://{DID}/app.bsky.feed.post/{}", post.rkey).as_str())
    );
    let sent = writes(&s.server);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].path, "/xrpc/com.atproto.repo.createRecord");
    assert_eq!(sent[0].header("authorization"), Some("Bearer acc-jwt-1"));
    let body = sent[0].json();
    assert_eq!(body["repo"], DID);
    assert_eq!(body["collection"], "app.bsky.feed.post");
    assert_eq!(body["rkey"], post.rkey.as_str());
    assert_eq!(post.rkey.len(), 13);
    let record = &body["record"];
    assert_eq!(record["$type"], "app.bsky.feed.post");
    assert_eq!(record["text"], text);
    assert_eq!(record["createdAt"], post.created_at.as_str());
    assert_eq!(record["langs"], json!(["es"]));
    // Facets in UTF-8 bytes, found here independently with str::find.
    let at = |needle: &str| {
        let start = text.find(needle).unwrap();
        json!({"byteStart": start, "byteEnd": start + needle.len()})
    };
    assert_eq!(
        record["facets"],
        json!([
            {"index": at("https://pregon.example/es"),
             "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://pregon.example/es"}]},
            {"index": at("#Pregón"),
             "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "Pregón"}]},
            {"index": at("@ana.bsky.social"),
             "features": [{"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:ana"}]},
        ]),
        "an unresolvable handle (@nadie.example) stays text"
    );
    // 18 characters before the link, but 22 bytes (é, ☕, á).
    assert_eq!(record["facets"][0]["index"]["byteStart"], 22);
    // The stored record is what was sent.
    let stored = pregon::db::posts::bluesky_record(&mut s.app.db.get().unwrap(), id)
        .unwrap()
        .unwrap();
    assert_eq!(stored.0, post.rkey);
    assert_eq!(serde_json::from_str::<Value>(&stored.1).unwrap(), *record);

    // A second post reuses the session; an expired access token (400
    // ExpiredToken) is refreshed, and the post sent again, once.
    let (second, _) = schedule(&s, "en", "Hello").await;
    runner.run_once().await.unwrap();
    assert_eq!(job(&s.app, second).state().unwrap(), JobState::Done);
    s.state.lock().unwrap().expire();
    let (third, _) = schedule(&s, "fr", "Bonjour").await;
    runner.run_once().await.unwrap();
    assert_eq!(job(&s.app, third).state().unwrap(), JobState::Done);
    {
        let pds = s.state.lock().unwrap();
        assert_eq!(pds.created, 1, "createSession once for three posts");
        assert_eq!(pds.refreshed, 1);
        assert_eq!(pds.records.len(), 3);
    }
    let sent = writes(&s.server);
    assert_eq!(sent.len(), 4, "the expired attempt and its retry");
    assert_eq!(sent[2].header("authorization"), Some("Bearer acc-jwt-1"));
    assert_eq!(sent[3].header("authorization"), Some("Bearer acc-jwt-2"));
    let refresh = s.server.to("/xrpc/com.atproto.server.refreshSession");
    assert_eq!(refresh[0].header("authorization"), Some("Bearer ref-jwt-1"));

    // No secret in the jobs, their attempts, the API or the history.
    let mut seen = String::new();
    for id in [id, second, third] {
        let row = job(&s.app, id);
        seen.push_str(&format!("{row:?}"));
        let attempts = pregon::db::jobs::attempts(&mut s.app.db.get().unwrap(), id).unwrap();
        seen.push_str(&format!("{attempts:?}"));
        let api = s
            .app
            .client
            .get(s.app.url(&format!("/api/v1/jobs/{id}")))
            .bearer_auth(&s.app.admin)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        seen.push_str(&api);
    }
    let accounts = s
        .app
        .client
        .get(s.app.url("/api/v1/channel-accounts"))
        .bearer_auth(&s.app.admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(accounts.contains(HANDLE), "{accounts}");
    seen.push_str(&accounts);
    let history =
        pregon::app::history::of_record(&mut s.app.db.get().unwrap(), "channel_account", s.account)
            .unwrap();
    seen.push_str(&format!("{history:?}"));
    let row = pregon::db::channel_accounts::get(&mut s.app.db.get().unwrap(), s.account).unwrap();
    for secret in [PASSWORD, "acc-jwt", "ref-jwt"] {
        assert!(!seen.contains(secret), "{secret} leaked");
        assert!(!format!("{:?}{:?}", row.sealed_credentials, row.sealed_session).contains(secret));
    }
    assert!(
        row.sealed_session.is_some(),
        "the session is stored, sealed"
    );
}

#[tokio::test]
async fn a_retry_after_an_unknown_outcome_puts_the_same_record_to_the_same_key() {
    let s = setup(vec!["slow"]).await;
    let (id, post) = schedule(&s, "es", "Una vez 🇪🇸").await;
    let runner = runner(&s.app);
    runner.run_once().await.unwrap();
    let row = job(&s.app, id);
    assert_eq!(row.state().unwrap(), JobState::Queued);
    assert_eq!(row.unknown_outcomes, 1, "{:?}", row.last_result);
    runner.run_once().await.unwrap();
    let row = job(&s.app, id);
    assert_eq!(
        row.state().unwrap(),
        JobState::Done,
        "{:?}",
        row.last_result
    );
    let sent = writes(&s.server);
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].path, "/xrpc/com.atproto.repo.createRecord");
    assert_eq!(sent[1].path, "/xrpc/com.atproto.repo.putRecord");
    assert_eq!(
        sent[0].json(),
        sent[1].json(),
        "the same record, createdAt included, to the same key"
    );
    let pds = s.state.lock().unwrap();
    assert_eq!(pds.records.len(), 1, "one record on the PDS");
    assert!(pds.records.contains_key(&post.rkey));
}

#[tokio::test]
async fn retry_on_503_and_on_429_after_retry_after_but_never_on_400() {
    let s = setup(vec!["503", "429"]).await;
    let (id, _) = schedule(&s, "es", "Uno").await;
    let runner = runner(&s.app);
    runner.run_once().await.unwrap();
    assert_eq!(job(&s.app, id).state().unwrap(), JobState::Queued);
    s.app.clock.advance(TimeDelta::minutes(2));
    let before = s.app.clock_now();
    runner.run_once().await.unwrap();
    let row = job(&s.app, id);
    assert_eq!(row.state().unwrap(), JobState::Queued);
    assert_eq!(
        row.next_attempt_at.and_utc(),
        before + TimeDelta::seconds(120),
        "Retry-After honoured"
    );
    s.app.clock.advance(TimeDelta::seconds(119));
    runner.run_once().await.unwrap();
    assert_eq!(writes(&s.server).len(), 2, "not before Retry-After");
    s.app.clock.advance(TimeDelta::seconds(1));
    runner.run_once().await.unwrap();
    assert_eq!(job(&s.app, id).state().unwrap(), JobState::Done);
    let sent = writes(&s.server);
    assert_eq!(sent.len(), 3);
    assert!(
        sent.iter()
            .all(|r| r.json()["rkey"] == sent[0].json()["rkey"])
    );
    assert_eq!(sent[2].path, "/xrpc/com.atproto.repo.putRecord");
    assert_eq!(s.state.lock().unwrap().records.len(), 1);

    let s = setup(vec!["400"]).await;
    let (id, _) = schedule(&s, "es", "Dos").await;
    let runner = crate::webhooks::runner(&s.app);
    runner.run_once().await.unwrap();
    s.app.clock.advance(TimeDelta::hours(1));
    runner.run_once().await.unwrap();
    let row = job(&s.app, id);
    assert_eq!(row.state().unwrap(), JobState::Failed);
    assert!(
        row.last_result
            .unwrap()
            .contains("must not be longer than 300 graphemes"),
        "the network's message is shown"
    );
    assert_eq!(writes(&s.server).len(), 1);
}
