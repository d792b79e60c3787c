//! Every operation of the OpenAPI document, reached with a valid request: the
//! bodies are the document's own examples (their ids pointed at fixtures made
//! the same way, their slugs and addresses made unique), and every answer's
//! status must be documented for its operation. The walk fails when an
//! operation of the document is never requested, when one of its documented
//! successes (2xx) is never reached, or when an operation with a JSON body has
//! no complete example — so a route added later needs a step here.

use crate::contract::{Answer, conformance};
use crate::helpers::*;
use crate::mail::*;
use crate::openapi::{document, operations};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

const ORGANIZER: &str = "agenda@pregon.test";

struct Walk<'a> {
    mail: &'a Mail,
    doc: Value,
    /// Fixture ids by kind of record ("plan", "organisation", …).
    ids: BTreeMap<&'static str, i64>,
    /// Slug of the fixture list (the public form subscribes by slug).
    list_slug: String,
    /// Statuses answered, per (method, path template).
    seen: BTreeMap<(String, String), BTreeSet<u16>>,
    failures: Vec<String>,
    n: u32,
}

/// A request beyond its method and path.
#[derive(Default)]
struct Req<'t> {
    token: Option<&'t str>,
    anonymous: bool,
    headers: Vec<(&'static str, String)>,
    body: Option<(String, Vec<u8>)>,
}

fn json_body(v: &Value) -> Option<(String, Vec<u8>)> {
    Some(("application/json".into(), serde_json::to_vec(v).unwrap()))
}

fn id_of(v: &Value) -> i64 {
    v["id"]
        .as_i64()
        .or_else(|| v["feed"]["id"].as_i64())
        // The failed request is already a failure of the walk.
        .unwrap_or(0)
}

impl<'a> Walk<'a> {
    fn app(&self) -> &'a TestApp {
        &self.mail.app
    }

    /// The example of the operation's JSON request body: the one on its media
    /// type, or the first of its schema's (after `$ref`). A failure when none.
    fn example(&mut self, method: &str, template: &str) -> Value {
        let op = &self.doc["paths"][template][method];
        let media = &op["requestBody"]["content"]["application/json"];
        let mut found = media.get("example").cloned();
        let mut schema = &media["schema"];
        for _ in 0..3 {
            if found.is_some() {
                break;
            }
            found = schema
                .get("example")
                .or_else(|| schema["examples"].get(0))
                .cloned();
            match schema["$ref"].as_str() {
                Some(r) => match self.doc.pointer(r.trim_start_matches('#')) {
                    Some(s) => schema = s,
                    None => break,
                },
                None => break,
            }
        }
        match found {
            Some(v) => v,
            None => {
                self.failures
                    .push(format!("{method} {template}: its JSON body has no example"));
                json!({})
            }
        }
    }

    /// The example of a body that is not JSON (a calendar, a CSV file, an
    /// email, a form), with its media type, as the document gives it.
    fn raw_example(&mut self, method: &str, template: &str) -> Option<(String, Vec<u8>)> {
        let content = self.doc["paths"][template][method]["requestBody"]["content"].clone();
        let found = content.as_object().and_then(|c| {
            c.iter()
                .find_map(|(media, m)| Some((media.clone(), m["example"].as_str()?.to_owned())))
        });
        match found {
            Some((media, text)) => Some((media, text.into_bytes())),
            None => {
                self.failures
                    .push(format!("{method} {template}: its body has no example"));
                None
            }
        }
    }

    /// An example pointed at the fixtures: `*_id` fields at the fixture of
    /// their kind, `*_ids` at a list of it, slugs and addresses made unique.
    fn fit(&mut self, value: Value) -> Value {
        self.n += 1;
        let n = self.n;
        fn walk(w: &Walk<'_>, n: u32, key: &str, v: Value) -> Value {
            let kind = |k: &str| -> Option<&'static str> {
                Some(match k {
                    "plan_id" => "plan",
                    "campaign_id" => "campaign",
                    "activity_id" => "activity",
                    "person_id" | "owner_person_id" => "person",
                    "organisation_id" | "owner_organisation_id" | "represents_organisation_id" => {
                        "organisation"
                    }
                    "channel_id" => "channel",
                    "list_id" => "list",
                    "account_id" => "account",
                    "channel_ids" => "channel",
                    "list_ids" => "list",
                    "campaign_ids" => "campaign",
                    _ => return None,
                })
            };
            match v {
                Value::Object(map) => Value::Object(
                    map.into_iter()
                        .map(|(k, v)| {
                            let v = walk(w, n, &k, v);
                            (k, v)
                        })
                        .collect(),
                ),
                Value::Number(_) if key.ends_with("_id") => match kind(key) {
                    Some(kind) => w.ids.get(kind).map_or(Value::Null, |id| json!(id)),
                    None => Value::Null,
                },
                Value::Array(items) if key.ends_with("_ids") => match kind(key) {
                    Some(kind) => w.ids.get(kind).map_or(json!([]), |id| json!([id])),
                    None => Value::Array(items),
                },
                Value::Array(_) if key == "lists" => json!([w.list_slug]),
                Value::Array(items) => {
                    Value::Array(items.into_iter().map(|v| walk(w, n, "", v)).collect())
                }
                Value::String(s) if key == "slug" => json!(format!("{s}-{n}")),
                Value::String(s) if key == "email" => json!(format!("n{n}.{s}")),
                other => other,
            }
        }
        walk(self, n, "", value)
    }

    /// Sends one request of the operation `method template` (to `path`, the
    /// template filled in) and checks its answer against the document.
    async fn call(&mut self, method: &str, template: &str, path: &str, req: Req<'_>) -> Answer {
        let app = self.app();
        let mut builder = app
            .client
            .request(method.to_uppercase().parse().unwrap(), app.url(path));
        if !req.anonymous {
            builder = builder.bearer_auth(req.token.unwrap_or(&app.admin));
        }
        for (name, value) in &req.headers {
            builder = builder.header(*name, value);
        }
        if let Some((content_type, body)) = req.body {
            builder = builder
                .header("content-type", content_type.as_str())
                .body(body);
        }
        let res = builder.send().await.unwrap();
        let status = res.status().as_u16();
        let content_type = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let text = res.text().await.unwrap_or_default();
        let answer = Answer {
            status,
            content_type,
            body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        };
        self.seen
            .entry((method.to_owned(), template.to_owned()))
            .or_default()
            .insert(status);
        let op = self.doc["paths"][template][method].clone();
        if op.is_null() {
            self.failures
                .push(format!("{method} {template} is not in the document"));
        } else {
            let what = format!("{method} {path}");
            let problems = conformance(&self.doc, &op, &what, &answer);
            self.failures.extend(problems);
        }
        answer
    }

    /// `call`, which must succeed (2xx).
    async fn ok(&mut self, method: &str, template: &str, path: &str, req: Req<'_>) -> Value {
        let answer = self.call(method, template, path, req).await;
        if !(200..300).contains(&answer.status) {
            self.failures.push(format!(
                "{method} {path}: expected a success, got {} {}",
                answer.status, answer.body
            ));
        }
        answer.body
    }

    async fn get(&mut self, template: &str, path: &str) -> Value {
        self.ok("get", template, path, Req::default()).await
    }

    /// POSTs the operation's example, fitted to the fixtures.
    async fn post_example(&mut self, template: &str, path: &str, token: Option<&str>) -> Value {
        let example = self.example("post", template);
        let body = self.fit(example);
        let req = Req {
            token,
            body: json_body(&body),
            ..Req::default()
        };
        self.ok("post", template, path, req).await
    }

    /// PUTs the operation's example over the current version (`If-Match: *`).
    async fn put_example(&mut self, template: &str, path: &str, token: Option<&str>) -> Value {
        let example = self.example("put", template);
        let body = self.fit(example);
        let req = Req {
            token,
            headers: vec![("if-match", "*".to_owned())],
            body: json_body(&body),
            ..Req::default()
        };
        self.ok("put", template, path, req).await
    }

    /// A record made from the collection's POST example.
    async fn create(&mut self, collection: &str) -> Value {
        self.post_example(collection, collection, None).await
    }

    /// The usual operations of a record kind: create (kept as the fixture
    /// `kind`), list, read, replace and history.
    async fn record(&mut self, kind: &'static str, collection: &str) -> i64 {
        let created = self.create(collection).await;
        let id = id_of(&created);
        self.ids.insert(kind, id);
        let item = format!("{collection}/{{id}}");
        let at = format!("{collection}/{id}");
        self.get(collection, collection).await;
        self.get(&item, &at).await;
        if self.doc["paths"][&item]["put"].is_object() {
            self.put_example(&item, &at, None).await;
        }
        let history = format!("{item}/history");
        if self.doc["paths"][&history]["get"].is_object() {
            self.get(&history, &format!("{at}/history")).await;
        }
        id
    }

    /// Deletes a record made for it from the collection's example.
    async fn delete_fresh(&mut self, collection: &str) {
        let id = id_of(&self.create(collection).await);
        let item = format!("{collection}/{{id}}");
        self.ok(
            "delete",
            &item,
            &format!("{collection}/{id}"),
            Req::default(),
        )
        .await;
    }

    /// Submits (as an editor) and approves (as an approver: neither its author
    /// nor its last editor) a record's review.
    async fn approve(&mut self, template: &str, path: &str) {
        let editor = self.app().editor.clone();
        let approver = self.app().approver.clone();
        self.post_example(template, path, Some(&editor)).await;
        let req = Req {
            token: Some(&approver),
            body: json_body(&json!({"action": "approve"})),
            ..Req::default()
        };
        self.ok("post", template, path, req).await;
    }
}

/// The link in a received message that starts with `prefix`.
fn link_in(data: &[u8], prefix: &str) -> Option<String> {
    let message = mail_parser::MessageParser::default().parse(data)?;
    let text = message.body_text(0)?.to_string();
    text.split_whitespace()
        .find(|w| w.starts_with(prefix))
        .map(|w| w.trim_end_matches(['>', ')', '.']).to_owned())
}

fn last_segment(url: &str) -> String {
    url.rsplit('/').next().unwrap().to_owned()
}

#[tokio::test]
async fn every_documented_success_is_reached_with_the_documents_examples() {
    let mail = spawn_mail_app_with(|s| {
        s.email.invitation_organizer = ORGANIZER.into();
        // The webhook's endpoint is on loopback (nothing is delivered: no job runner runs).
        s.webhooks.allow_private = true;
        s.credentials.key = pregon::email::Secret::new(
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        );
    })
    .await;
    let doc = document(&mail.app).await;
    let mut w = Walk {
        mail: &mail,
        doc,
        ids: BTreeMap::new(),
        list_slug: String::new(),
        seen: BTreeMap::new(),
        failures: Vec::new(),
        n: 0,
    };
    let anonymous = || Req {
        anonymous: true,
        ..Req::default()
    };

    // Health and operations.
    w.ok("get", "/healthz", "/healthz", anonymous()).await;
    w.ok("get", "/readyz", "/readyz", anonymous()).await;
    w.get("/metrics", "/metrics").await;

    // The plan's records, each made from its example; the webhook first, so
    // the activity made next queues a delivery job.
    w.record("organisation", "/api/v1/organisations").await;
    let plan = w.record("plan", "/api/v1/plans").await;
    w.record("channel", "/api/v1/channels").await;
    w.record("campaign", "/api/v1/campaigns").await;
    let receiver = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hook_url = format!("http://{}/hook", receiver.local_addr().unwrap());
    let webhook = {
        let example = w.example("post", "/api/v1/webhooks");
        let mut body = w.fit(example);
        body["url"] = json!(hook_url);
        let req = Req {
            body: json_body(&body),
            ..Req::default()
        };
        id_of(
            &w.ok("post", "/api/v1/webhooks", "/api/v1/webhooks", req)
                .await,
        )
    };
    w.get("/api/v1/webhooks", "/api/v1/webhooks").await;
    let hook = format!("/api/v1/webhooks/{webhook}");
    w.get("/api/v1/webhooks/{id}", &hook).await;
    {
        let example = w.example("put", "/api/v1/webhooks/{id}");
        let mut body = w.fit(example);
        body["url"] = json!(hook_url);
        let req = Req {
            body: json_body(&body),
            ..Req::default()
        };
        w.ok("put", "/api/v1/webhooks/{id}", &hook, req).await;
    }
    w.ok(
        "post",
        "/api/v1/webhooks/{id}/rotate-secret",
        &format!("{hook}/rotate-secret"),
        Req::default(),
    )
    .await;
    let activity = w.record("activity", "/api/v1/activities").await;
    let at = format!("/api/v1/activities/{activity}");
    w.get("/api/v1/activities/{id}/ics", &format!("{at}/ics"))
        .await;
    w.record("person", "/api/v1/people").await;
    w.record("participation", "/api/v1/participations").await;

    // A social post's variants, and the accounts posts go out through.
    let post = {
        let example = w.example("post", "/api/v1/activities");
        let mut body = w.fit(example);
        body["kind"] = json!("social_post");
        let req = Req {
            body: json_body(&body),
            ..Req::default()
        };
        id_of(
            &w.ok("post", "/api/v1/activities", "/api/v1/activities", req)
                .await,
        )
    };
    let variant = format!("/api/v1/activities/{post}/variants/{}/en", w.ids["channel"]);
    w.put_example(
        "/api/v1/activities/{id}/variants/{channel_id}/{lang}",
        &variant,
        None,
    )
    .await;
    // An image uploaded as it is: real PNG bytes (a 1×1 header), alt in the query.
    let png = crate::media_upload::png(1, 1, 64);
    let req = Req {
        body: Some(("image/png".into(), png)),
        ..Req::default()
    };
    w.ok(
        "post",
        "/api/v1/activities/{id}/variants/{channel_id}/{lang}/media",
        &format!("{variant}/media?alt=A%20map&part=1"),
        req,
    )
    .await;
    w.get(
        "/api/v1/activities/{id}/variants",
        &format!("/api/v1/activities/{post}/variants"),
    )
    .await;
    w.ok(
        "delete",
        "/api/v1/activities/{id}/variants/{channel_id}/{lang}",
        &variant,
        Req::default(),
    )
    .await;
    let account = id_of(&w.create("/api/v1/channel-accounts").await);
    w.get("/api/v1/channel-accounts", "/api/v1/channel-accounts")
        .await;
    let item = "/api/v1/channel-accounts/{id}";
    let at_account = format!("/api/v1/channel-accounts/{account}");
    w.get(item, &at_account).await;
    let change = w.example("patch", item);
    let req = Req {
        body: json_body(&change),
        ..Req::default()
    };
    w.ok("patch", item, &at_account, req).await;
    w.get(
        "/api/v1/channel-accounts/{id}/history",
        &format!("{at_account}/history"),
    )
    .await;
    w.ok("delete", item, &at_account, Req::default()).await;

    // Review, invitations and a participant's answer.
    w.get("/api/v1/activities/{id}/review", &format!("{at}/review"))
        .await;
    w.approve("/api/v1/activities/{id}/review", &format!("{at}/review"))
        .await;
    w.ok(
        "post",
        "/api/v1/activities/{id}/invitations",
        &format!("{at}/invitations"),
        Req::default(),
    )
    .await;
    w.get(
        "/api/v1/activities/{id}/invitations",
        &format!("{at}/invitations"),
    )
    .await;
    mail.run().await;
    let person = w
        .app()
        .get_json(&format!("/api/v1/people/{}", w.ids["person"]))
        .await;
    let attendee = person["email"].as_str().unwrap().to_owned();
    match mail.received_by(&attendee).first() {
        Some(message) => {
            let invitation = crate::invitation_replies::calendar_part(&message.data);
            let reply =
                crate::invitation_replies::reply_to(&invitation, &attendee, "ACCEPTED", None);
            let req = Req {
                body: Some(("text/calendar".into(), reply.into_bytes())),
                ..Req::default()
            };
            w.ok(
                "post",
                "/api/v1/invitations/replies",
                "/api/v1/invitations/replies",
                req,
            )
            .await;
        }
        None => w
            .failures
            .push(format!("the invitation did not reach {attendee}")),
    }

    // Feeds: private ones by token, the public one, as GET and HEAD.
    let feed = w.create("/api/v1/feeds").await;
    let feed_id = id_of(&feed);
    let token = feed["token"].as_str().unwrap_or_default().to_owned();
    w.get("/api/v1/feeds", "/api/v1/feeds").await;
    let f = format!("/api/v1/feeds/{feed_id}");
    w.get("/api/v1/feeds/{id}", &f).await;
    w.put_example("/api/v1/feeds/{id}", &f, None).await;
    for method in ["get", "head"] {
        w.ok(
            method,
            "/feeds/public.ics",
            "/feeds/public.ics",
            anonymous(),
        )
        .await;
        w.ok(
            method,
            "/feeds/{token}.ics",
            &format!("/feeds/{token}.ics"),
            anonymous(),
        )
        .await;
    }
    w.ok(
        "post",
        "/api/v1/feeds/{id}/rotate",
        &format!("{f}/rotate"),
        Req::default(),
    )
    .await;

    // A partner's calendar, imported.
    let organisation = w
        .app()
        .get_json(&format!("/api/v1/organisations/{}", w.ids["organisation"]))
        .await;
    let req = Req {
        body: w.raw_example("post", "/api/v1/imports"),
        ..Req::default()
    };
    w.ok(
        "post",
        "/api/v1/imports",
        &format!(
            "/api/v1/imports?organisation={}",
            organisation["slug"].as_str().unwrap()
        ),
        req,
    )
    .await;

    // Lists and subscribers.
    let list = w.record("list", "/api/v1/lists").await;
    let l = format!("/api/v1/lists/{list}");
    w.list_slug = w.app().get_json(&l).await["slug"]
        .as_str()
        .unwrap()
        .to_owned();
    let req = Req {
        body: w.raw_example("post", "/api/v1/lists/{id}/import"),
        ..Req::default()
    };
    w.ok(
        "post",
        "/api/v1/lists/{id}/import",
        &format!("{l}/import?confirmed=true&source=walk"),
        req,
    )
    .await;
    w.get("/api/v1/lists/{id}/export.csv", &format!("{l}/export.csv"))
        .await;
    let subscriber = w.record("subscriber", "/api/v1/subscribers").await;
    let other = id_of(&w.create("/api/v1/subscribers").await);
    w.post_example(
        "/api/v1/subscribers/{id}/unsubscribe",
        &format!("/api/v1/subscribers/{other}/unsubscribe"),
        None,
    )
    .await;
    w.post_example("/api/v1/bounces", "/api/v1/bounces", None)
        .await;
    let req = Req {
        body: w.raw_example("post", "/api/v1/bounces/message"),
        ..Req::default()
    };
    w.ok(
        "post",
        "/api/v1/bounces/message",
        "/api/v1/bounces/message",
        req,
    )
    .await;
    w.get("/api/v1/email/limits", "/api/v1/email/limits").await;
    w.put_example("/api/v1/email/limits", "/api/v1/email/limits", None)
        .await;

    // A newsletter issue: previewed, tested, scheduled, sent, its links used.
    let issue = w.record("issue", "/api/v1/issues").await;
    let i = format!("/api/v1/issues/{issue}");
    w.get("/api/v1/issues/{id}/preview", &format!("{i}/preview"))
        .await;
    w.post_example("/api/v1/issues/{id}/test", &format!("{i}/test"), None)
        .await;
    w.get("/api/v1/issues/{id}/review", &format!("{i}/review"))
        .await;
    w.approve("/api/v1/issues/{id}/review", &format!("{i}/review"))
        .await;
    w.post_example(
        "/api/v1/issues/{id}/schedule",
        &format!("{i}/schedule"),
        None,
    )
    .await;
    w.ok(
        "post",
        "/api/v1/issues/{id}/unschedule",
        &format!("{i}/unschedule"),
        Req::default(),
    )
    .await;
    w.ok(
        "post",
        "/api/v1/issues/{id}/send",
        &format!("{i}/send"),
        Req::default(),
    )
    .await;
    mail.run().await;
    w.get("/api/v1/issues/{id}/progress", &format!("{i}/progress"))
        .await;
    w.get("/api/v1/issues/{id}/deliveries", &format!("{i}/deliveries"))
        .await;
    w.get(
        "/api/v1/issues/{id}/deliveries.csv",
        &format!("{i}/deliveries.csv"),
    )
    .await;
    w.ok(
        "post",
        "/api/v1/issues/{id}/retry-failed",
        &format!("{i}/retry-failed"),
        Req::default(),
    )
    .await;
    let subscribed = w
        .app()
        .get_json(&format!("/api/v1/subscribers/{subscriber}"))
        .await;
    let address = subscribed["email"].as_str().unwrap().to_owned();
    let newsletter = mail
        .received_by(&address)
        .into_iter()
        .find(|m| String::from_utf8_lossy(&m.data).contains("List-Unsubscribe"));
    match newsletter {
        Some(m) => {
            let parsed = crate::newsletter::parse(&m.data);
            let header = parsed
                .header_raw("List-Unsubscribe")
                .unwrap_or_default()
                .replace(['\r', '\n'], "");
            let url = header
                .split(',')
                .map(|p| p.trim().trim_start_matches('<').trim_end_matches('>'))
                .find(|u| u.starts_with("https://"))
                .unwrap_or_default()
                .to_owned();
            let token = last_segment(&url);
            w.ok(
                "get",
                "/newsletter/unsubscribe/{token}",
                &format!("/newsletter/unsubscribe/{token}"),
                anonymous(),
            )
            .await;
            let req = Req {
                anonymous: true,
                // The documented form with the fixture list's id.
                body: w
                    .raw_example("post", "/newsletter/preferences/{token}")
                    .map(|(media, _)| (media, format!("list={list}&language=fr").into_bytes())),
                ..Req::default()
            };
            w.ok(
                "post",
                "/newsletter/preferences/{token}",
                &format!("/newsletter/preferences/{token}"),
                req,
            )
            .await;
            let req = Req {
                anonymous: true,
                body: w.raw_example("post", "/newsletter/unsubscribe/{token}"),
                ..Req::default()
            };
            w.ok(
                "post",
                "/newsletter/unsubscribe/{token}",
                &format!("/newsletter/unsubscribe/{token}"),
                req,
            )
            .await;
        }
        None => w
            .failures
            .push(format!("the newsletter did not reach {address}")),
    }
    // Another issue, paused, resumed and cancelled while it sends.
    let second = id_of(&w.create("/api/v1/issues").await);
    let s = format!("/api/v1/issues/{second}");
    w.approve("/api/v1/issues/{id}/review", &format!("{s}/review"))
        .await;
    w.ok(
        "post",
        "/api/v1/issues/{id}/send",
        &format!("{s}/send"),
        Req::default(),
    )
    .await;
    for action in ["pause", "resume", "cancel"] {
        w.ok(
            "post",
            &format!("/api/v1/issues/{{id}}/{action}"),
            &format!("{s}/{action}"),
            Req::default(),
        )
        .await;
    }

    // The public form and its confirmation link.
    let example = w.example("post", "/newsletter/subscribe");
    let form = w.fit(example);
    let before = mail.smtp.messages().len();
    w.ok(
        "post",
        "/newsletter/subscribe",
        "/newsletter/subscribe",
        Req {
            anonymous: true,
            body: json_body(&form),
            ..Req::default()
        },
    )
    .await;
    // The form answers before it writes (the same answer for every address).
    crate::subscriber_view::wait_for_subscriber(w.app(), form["email"].as_str().unwrap()).await;
    mail.run().await;
    let confirm = mail.smtp.messages()[before..]
        .iter()
        .find_map(|m| link_in(&m.data, "https://pregon.test/newsletter/confirm/"));
    match confirm {
        Some(link) => {
            let path = format!("/newsletter/confirm/{}", last_segment(&link));
            w.ok("get", "/newsletter/confirm/{token}", &path, anonymous())
                .await;
            w.ok("post", "/newsletter/confirm/{token}", &path, anonymous())
                .await;
        }
        None => w
            .failures
            .push("no confirmation link was emailed for the public form".into()),
    }

    // Accounts, sign-in links, passwords and sessions.
    let created = w.create("/api/v1/accounts").await;
    let account = id_of(&created);
    w.ids.insert("account", account);
    let email = created["email"].as_str().unwrap_or_default().to_owned();
    let first_link = created["sign_in_link"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    w.get("/api/v1/accounts", "/api/v1/accounts").await;
    let a = format!("/api/v1/accounts/{account}");
    w.get("/api/v1/accounts/{id}", &a).await;
    w.put_example("/api/v1/accounts/{id}", &a, None).await;
    w.get(
        "/api/v1/accounts/{id}/preferences",
        &format!("{a}/preferences"),
    )
    .await;
    w.put_example(
        "/api/v1/accounts/{id}/preferences",
        &format!("{a}/preferences"),
        None,
    )
    .await;
    let page = format!("/sign-in/{}", last_segment(&first_link));
    w.ok("get", "/sign-in/{token}", &page, anonymous()).await;
    w.ok("post", "/sign-in/{token}", &page, anonymous()).await;
    let before = mail.smtp.messages().len();
    w.ok(
        "post",
        "/api/v1/sign-in/link",
        "/api/v1/sign-in/link",
        Req {
            anonymous: true,
            body: json_body(&json!({"email": email})),
            ..Req::default()
        },
    )
    .await;
    let messages = mail.smtp.wait_for_messages(before + 1).await;
    let emailed = messages[before..]
        .iter()
        .find_map(|m| link_in(&m.data, "https://pregon.test/sign-in/"))
        .expect("a sign-in link is emailed");
    let session = w
        .ok(
            "post",
            "/api/v1/sign-in/link/{token}",
            &format!("/api/v1/sign-in/link/{}", last_segment(&emailed)),
            anonymous(),
        )
        .await;
    let secret = session["secret"].as_str().unwrap_or_default().to_owned();
    let mine = || Req {
        token: Some(&secret),
        ..Req::default()
    };
    w.ok("get", "/api/v1/me", "/api/v1/me", mine()).await;
    w.ok(
        "get",
        "/api/v1/me/preferences",
        "/api/v1/me/preferences",
        mine(),
    )
    .await;
    w.put_example(
        "/api/v1/me/preferences",
        "/api/v1/me/preferences",
        Some(&secret),
    )
    .await;
    let change = w.example("put", "/api/v1/me/password");
    let password = change["password"].as_str().unwrap_or_default().to_owned();
    w.ok(
        "put",
        "/api/v1/me/password",
        "/api/v1/me/password",
        Req {
            token: Some(&secret),
            body: json_body(&change),
            ..Req::default()
        },
    )
    .await;
    let second_session = w
        .ok(
            "post",
            "/api/v1/sign-in",
            "/api/v1/sign-in",
            Req {
                anonymous: true,
                body: json_body(&json!({"email": email, "password": password})),
                ..Req::default()
            },
        )
        .await;
    w.ok("get", "/api/v1/sessions", "/api/v1/sessions", mine())
        .await;
    if let Some(id) = second_session["id"].as_i64() {
        w.ok(
            "delete",
            "/api/v1/sessions/{id}",
            &format!("/api/v1/sessions/{id}"),
            mine(),
        )
        .await;
    }
    w.ok(
        "post",
        "/api/v1/sessions/sign-out-everywhere",
        "/api/v1/sessions/sign-out-everywhere",
        mine(),
    )
    .await;

    // Tokens.
    w.get("/api/v1/tokens", "/api/v1/tokens").await;
    let token_id = id_of(&w.create("/api/v1/tokens").await);
    w.ok(
        "delete",
        "/api/v1/tokens/{id}",
        &format!("/api/v1/tokens/{token_id}"),
        Req::default(),
    )
    .await;

    // Jobs: the webhook delivery the activity queued.
    let jobs = w.get("/api/v1/jobs", "/api/v1/jobs").await;
    let job = jobs
        .as_array()
        .and_then(|j| j.first())
        .and_then(|j| j["id"].as_i64());
    match job {
        Some(job) => {
            let j = format!("/api/v1/jobs/{job}");
            w.get("/api/v1/jobs/{id}", &j).await;
            w.ok(
                "post",
                "/api/v1/jobs/{id}/cancel",
                &format!("{j}/cancel"),
                Req::default(),
            )
            .await;
            w.ok(
                "post",
                "/api/v1/jobs/{id}/retry",
                &format!("{j}/retry"),
                Req::default(),
            )
            .await;
            w.ok(
                "post",
                "/api/v1/webhooks/{id}/deliveries/{job_id}/replay",
                &format!("{hook}/deliveries/{job}/replay"),
                Req::default(),
            )
            .await;
        }
        None => w
            .failures
            .push(format!("no job was queued for the webhook: {jobs}")),
    }
    w.get(
        "/api/v1/webhooks/{id}/deliveries",
        &format!("{hook}/deliveries"),
    )
    .await;

    // Reports and the change feed.
    let plan_slug = w.app().get_json(&format!("/api/v1/plans/{plan}")).await["slug"]
        .as_str()
        .unwrap()
        .to_owned();
    w.get(
        "/api/v1/reports/progress",
        &format!("/api/v1/reports/progress?plan={plan_slug}"),
    )
    .await;
    w.get("/api/v1/changes", "/api/v1/changes").await;

    // Deletions, each of a record made for it (a participation of a new
    // person: one person takes one role once).
    w.create("/api/v1/people").await;
    let person = id_of(&w.create("/api/v1/people").await);
    w.ids.insert("person", person);
    for collection in [
        "/api/v1/participations",
        "/api/v1/people",
        "/api/v1/activities",
        "/api/v1/campaigns",
        "/api/v1/channels",
        "/api/v1/plans",
        "/api/v1/organisations",
        "/api/v1/issues",
        "/api/v1/subscribers",
        "/api/v1/lists",
        "/api/v1/feeds",
    ] {
        w.delete_fresh(collection).await;
    }
    w.ok("delete", "/api/v1/webhooks/{id}", &hook, Req::default())
        .await;

    // A manual channel's variant: at its time its owner is emailed (only the
    // manual handler runs: nothing else queued goes out), then an editor
    // marks it posted through the API.
    {
        let app = w.app();
        let channel = w.ids["channel"];
        let res = app
            .client
            .post(app.url("/api/v1/channel-accounts"))
            .bearer_auth(&app.admin)
            .json(&json!({"network": "manual", "base_url": "mailto:owner@pregon.test", "channel_id": channel}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
        let start = (app.clock_now() - chrono::TimeDelta::minutes(10)).format("%Y-%m-%dT%H:%M");
        let end = (app.clock_now() + chrono::TimeDelta::minutes(20)).format("%Y-%m-%dT%H:%M");
        let post = app
            .create(
                "/api/v1/activities",
                json!({
                    "plan_id": w.ids["plan"], "kind": "social_post", "status": "planned",
                    "timing": {"precision": "exact", "start": start.to_string(), "end": end.to_string(), "time_zone": "UTC"},
                    "channel_ids": [channel],
                    "translations": {"en": {"title": "Posted by hand"}},
                    "post_variants": [{"channel_id": channel, "lang": "en", "body": "Posted by hand"}],
                }),
            )
            .await["id"]
            .as_i64()
            .unwrap();
        app.approve(&format!("/api/v1/activities/{post}")).await;
        let clock: pregon::clock::SharedClock = std::sync::Arc::new(app.clock.clone());
        let manual = pregon::social::manual::ManualHandler::new(
            &app.settings,
            app.db.clone(),
            clock.clone(),
        )
        .unwrap();
        let runner = pregon::jobs::Runner::with_planners(
            app.db.clone(),
            clock,
            app.settings.jobs.clone(),
            vec![std::sync::Arc::new(manual)],
            vec![std::sync::Arc::new(pregon::social::Planner)],
        )
        .unwrap();
        runner.run_once().await.unwrap();
        let template = "/api/v1/activities/{id}/variants/{channel_id}/{lang}/done";
        let example = w.example("post", template);
        let req = Req {
            token: Some(&app.editor),
            body: json_body(&example),
            ..Req::default()
        };
        w.ok(
            "post",
            template,
            &format!("/api/v1/activities/{post}/variants/{channel}/en/done"),
            req,
        )
        .await;
    }

    // What the walk did not reach.
    let doc = w.doc.clone();
    for (method, path) in operations(&doc) {
        let seen = w
            .seen
            .get(&(method.clone(), path.clone()))
            .cloned()
            .unwrap_or_default();
        if seen.is_empty() {
            w.failures
                .push(format!("{method} {path}: no step of the walk requests it"));
            continue;
        }
        let op = &doc["paths"][&path][&method];
        for status in op["responses"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(s, _)| s)
        {
            if let Ok(code) = status.parse::<u16>()
                && (200..300).contains(&code)
                && !seen.contains(&code)
            {
                w.failures.push(format!(
                    "{method} {path}: the documented success {code} was never reached (seen {seen:?})"
                ));
            }
        }
    }
    assert!(w.failures.is_empty(), "{}", w.failures.join("\n"));
}
