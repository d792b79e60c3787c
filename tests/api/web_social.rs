//! The social publishing pages over plain HTTP (issue 10), against a
//! Mastodon instance (limit 120), a CMS and a webhook receiver on loopback:
//! post variants on the activity page (written through the page, too long
//! shown beside the text with nothing written, published with their URL),
//! the channel accounts page, the outbound webhooks page (the secret shown
//! once, the delivery log and its replay) and the jobs page (held jobs
//! first, run again, cancel). Viewers and editors refused where they must
//! be, CSRF on every form, nothing secret on any page.

use crate::activities::fixture;
use crate::helpers::*;
use crate::mastodon::start_instance;
use crate::posts::planning_runner;
use crate::receiver::{Receiver, Reply};
use crate::web::{PASSWORD, WebUser, csrf_of, person, web_sign_in};
use crate::webhooks::app_with_webhooks;
use chrono::TimeDelta;
use serde_json::{Value, json};

const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const WHSEC_NEW: &str = "whsec_cm90YXRlZC1zZWNyZXQtMjAyNi0xMi0wMS11Y2xn";

struct People {
    ada: WebUser,
    ane: WebUser,
    vic: WebUser,
}

async fn people(app: &TestApp) -> People {
    person(app, "ada@example.org", "Ada Admin", "admin", "en", PASSWORD).await;
    person(
        app,
        "ane@example.org",
        "Ane Editor",
        "editor",
        "en",
        PASSWORD,
    )
    .await;
    person(
        app,
        "vic@example.org",
        "Vic Viewer",
        "viewer",
        "en",
        PASSWORD,
    )
    .await;
    People {
        ada: web_sign_in(app, "ada@example.org", PASSWORD).await,
        ane: web_sign_in(app, "ane@example.org", PASSWORD).await,
        vic: web_sign_in(app, "vic@example.org", PASSWORD).await,
    }
}

async fn api(app: &TestApp, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
    let mut req = app
        .client
        .request(method, app.url(path))
        .bearer_auth(&app.admin);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    assert!(status.is_success(), "{path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

async fn admin_get(app: &TestApp, path: &str) -> Value {
    api(app, reqwest::Method::GET, path, None).await
}

async fn variants(app: &TestApp, id: i64) -> Vec<Value> {
    admin_get(app, &format!("/api/v1/activities/{id}/variants"))
        .await
        .as_array()
        .unwrap()
        .clone()
}

/// The job's state, read over the API.
async fn job_state(app: &TestApp, job: i64) -> Value {
    admin_get(app, &format!("/api/v1/jobs/{job}")).await["state"].clone()
}

/// `user` runs `action` (retry or cancel) on the jobs page; the answer's status.
async fn job_action(app: &TestApp, user: &mut WebUser, job: i64, action: &str, csrf: &str) -> u16 {
    user.post(app, &format!("/app/jobs/{job}/{action}"), &[("csrf", csrf)])
        .await
        .status()
        .as_u16()
}

/// The value of the `value` attribute of the input with this id.
fn input_value(html: &str, id: &str) -> String {
    let at = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id}"));
    let rest = &html[at..];
    let v = rest.find("value=\"").unwrap() + "value=\"".len();
    rest[v..v + rest[v..].find('"').unwrap()].to_owned()
}

#[tokio::test]
async fn post_variants_are_written_on_the_activity_page_and_too_long_is_shown_beside_the_text() {
    let app = app_with_webhooks(true).await;
    let f = fixture(&app).await;
    let (mastodon, _) = start_instance();
    let m = app
        .create(
            "/api/v1/channels",
            json!({"slug": "mastodon", "kind": "social", "name": "UCLG on Mastodon", "organisation_id": f.org}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    api(
        &app,
        reqwest::Method::POST,
        "/api/v1/channel-accounts",
        Some(json!({"network": "mastodon", "base_url": mastodon.url, "secret": "tok-secret", "channel_id": m})),
    )
    .await;
    let (at, end) = an_hour_from_now(&app);
    let id = app
        .create(
            "/api/v1/activities",
            json!({
                "plan_id": f.plan,
                "kind": "social_post",
                "status": "planned",
                "timing": {"precision": "exact", "start": at, "end": end, "time_zone": "UTC"},
                "channel_ids": [m],
                "translations": {"es": {"title": "Lanzamiento"}, "en": {"title": "Launch"}},
                "post_variants": [{"channel_id": m, "lang": "es", "body": "Hola"}],
            }),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let mut p = people(&app).await;
    let page = format!("/app/activities/{id}?lang=en");
    // Everyone reads the variants: text, length against the instance's limit.
    let (status, html) = p.vic.get(&app, &page).await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("<h2 id=\"posts-title\">Post variants</h2>"),
        "{html}"
    );
    assert!(html.contains("UCLG on Mastodon"), "{html}");
    assert!(html.contains("<p class=\"post-body\">Hola</p>"), "{html}");
    assert!(html.contains("4 / 120"), "{html}");
    assert!(html.contains("Not published yet"), "{html}");
    // A viewer has no form and is refused when posting anyway.
    let action = format!("action=\"/app/activities/{id}/variants");
    assert!(!html.contains(&action), "a viewer sees a variant form");
    let csrf = csrf_of(&html);
    let res = p
        .vic
        .post(
            &app,
            &format!("/app/activities/{id}/variants"),
            &[
                ("csrf", &csrf),
                ("channel_id", &m.to_string()),
                ("lang", "en"),
                ("body", "Hi"),
            ],
        )
        .await;
    assert_eq!(res.status(), 403);
    // The editor has the form, but no delete (administrators delete).
    let (_, html) = p.ane.get(&app, &page).await;
    assert!(html.contains(&format!("{action}\"")), "{html}");
    assert!(!html.contains(&format!("{action}/delete\"")), "{html}");
    let csrf = csrf_of(&html);
    // Without the token: refused before anything is read.
    let res = p
        .ane
        .post(
            &app,
            &format!("/app/activities/{id}/variants"),
            &[
                ("channel_id", &m.to_string()),
                ("lang", "en"),
                ("body", "Hi"),
            ],
        )
        .await;
    assert_eq!(res.status(), 403);
    // Too long for this instance's 120: the form again, the reason beside
    // the text, what was typed kept, nothing written.
    let long = format!("{} https://pregon.example/en", "Málaga ".repeat(20));
    let res = p
        .ane
        .post(
            &app,
            &format!("/app/activities/{id}/variants"),
            &[
                ("csrf", &csrf),
                ("channel_id", &m.to_string()),
                ("lang", "en"),
                ("body", &long),
                ("content_warning", ""),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    let err = html
        .find("id=\"err-body\"")
        .expect("the error beside the text");
    assert!(html[err..].contains("this instance allows 120"), "{html}");
    assert!(html.contains("aria-describedby=\"count-1 err-body\" aria-invalid=\"true\""));
    assert!(html.contains(&long), "what was typed is kept");
    assert_eq!(variants(&app, id).await.len(), 1, "nothing written");
    // A channel that is not the activity's: beside the channel.
    let res = p
        .ane
        .post(
            &app,
            &format!("/app/activities/{id}/variants"),
            &[
                ("csrf", &csrf),
                ("channel_id", "999999"),
                ("lang", "en"),
                ("body", "Hi"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("id=\"err-channel_id\""));
    assert_eq!(variants(&app, id).await.len(), 1, "nothing written");
    // A fitting one, with a content warning and untrusted text: saved, in
    // the activity's history, escaped on the page.
    let res = p
        .ane
        .post(
            &app,
            &format!("/app/activities/{id}/variants"),
            &[
                ("csrf", &csrf),
                ("channel_id", &m.to_string()),
                ("lang", "en"),
                ("body", "<script>alert(1)</script> is out"),
                ("content_warning", "Spoilers"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let stored = variants(&app, id).await;
    assert_eq!(stored.len(), 2);
    let en = stored.iter().find(|v| v["lang"] == "en").unwrap();
    assert_eq!(en["body"], "<script>alert(1)</script> is out");
    assert_eq!(en["content_warning"], "Spoilers");
    let (_, html) = p.ane.get(&app, &format!("{page}&saved=variant")).await;
    assert!(html.contains("The variant was saved."), "{html}");
    assert!(html.contains("&#60;script&#62;alert(1)"), "{html}");
    assert!(!html.contains("<script>alert(1)"));
    assert!(html.contains("Spoilers"));
    // Its own form, prefilled.
    let (status, html) = p
        .ane
        .get(
            &app,
            &format!("/app/activities/{id}/variants/{m}/en?lang=en"),
        )
        .await;
    assert_eq!(status, 200, "{html}");
    assert_eq!(input_value(&html, "variant-cw"), "Spoilers");
    let (status, _) = p
        .vic
        .get(&app, &format!("/app/activities/{id}/variants/{m}/en"))
        .await;
    assert_eq!(status, 403);
    // The editor cannot delete; the administrator can.
    let delete = format!("/app/activities/{id}/variants/delete");
    let form = [
        ("csrf", csrf.as_str()),
        ("channel_id", &m.to_string()),
        ("lang", "en"),
    ];
    let res = p.ane.post(&app, &delete, &form).await;
    assert_eq!(res.status(), 403);
    assert_eq!(variants(&app, id).await.len(), 2);
    let (_, html) = p.ada.get(&app, &page).await;
    assert!(html.contains(&format!("{action}/delete\"")), "{html}");
    let ada_csrf = csrf_of(&html);
    let form = [
        ("csrf", ada_csrf.as_str()),
        ("channel_id", &m.to_string()),
        ("lang", "en"),
    ];
    let res = p.ada.post(&app, &delete, &form).await;
    assert_eq!(res.status(), 303);
    assert_eq!(variants(&app, id).await.len(), 1);
    // Approved and published at its time: the state and the public URL.
    app.approve(&format!("/api/v1/activities/{id}")).await;
    let (_, html) = p.vic.get(&app, &page).await;
    assert!(html.contains(">approved</span>"), "{html}");
    let runner = planning_runner(&app);
    app.clock.advance(TimeDelta::hours(1));
    runner.run_once().await.unwrap();
    runner.run_once().await.unwrap();
    let (_, html) = p.vic.get(&app, &page).await;
    let url = format!("{}/@pregon/1", mastodon.url);
    assert!(html.contains(">published</span>"), "{html}");
    assert!(html.contains(&format!("href=\"{url}\"")), "{html}");
}

#[tokio::test]
async fn channel_accounts_are_managed_on_their_page_and_no_secret_is_ever_shown() {
    let app = app_with_webhooks(true).await;
    let f = fixture(&app).await;
    let cms = Receiver::start(|_| Reply::json(201, json!({"id": "n-1"})));
    let mut p = people(&app).await;
    // Administrators only.
    let (status, _) = p.ane.get(&app, "/app/channel-accounts").await;
    assert_eq!(status, 403);
    let (_, agenda) = p.ane.get(&app, "/app/agenda").await;
    assert!(!agenda.contains("href=\"/app/channel-accounts\""));
    let (status, html) = p.ada.get(&app, "/app/channel-accounts?lang=en").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("<h1>Channel accounts</h1>"), "{html}");
    assert!(
        html.contains("href=\"/app/channel-accounts\""),
        "in the navigation"
    );
    let csrf = csrf_of(&html);
    let base_url = format!("{}/in", cms.url);
    // A secret that is not a whsec_: beside it, not typed back, nothing made.
    let res = p
        .ada
        .post(
            &app,
            "/app/channel-accounts",
            &[
                ("csrf", &csrf),
                ("network", "webhook"),
                ("name", "Website"),
                ("base_url", &base_url),
                ("secret", "hunter2-not-whsec"),
                ("channel_id", &f.channel.to_string()),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("id=\"err-secret\""), "{html}");
    assert!(!html.contains("hunter2"), "the secret is never typed back");
    assert!(html.contains("value=\"Website\""), "the name is kept");
    let accounts = admin_get(&app, "/api/v1/channel-accounts").await;
    assert_eq!(accounts.as_array().unwrap().len(), 0, "nothing written");
    // A viewer and an editor cannot add one.
    for who in [&mut p.vic, &mut p.ane] {
        let csrf = csrf_of(&who.get(&app, "/app/me").await.1);
        let res = who
            .post(
                &app,
                "/app/channel-accounts",
                &[
                    ("csrf", &csrf),
                    ("network", "webhook"),
                    ("base_url", &base_url),
                    ("secret", WHSEC),
                ],
            )
            .await;
        assert_eq!(res.status(), 403);
    }
    // Made, with an untrusted name: listed escaped, the secret nowhere.
    let res = p
        .ada
        .post(
            &app,
            "/app/channel-accounts",
            &[
                ("csrf", &csrf),
                ("network", "webhook"),
                ("name", "<img src=x onerror=alert(1)>"),
                ("base_url", &base_url),
                ("secret", WHSEC),
                ("channel_id", &f.channel.to_string()),
            ],
        )
        .await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let accounts = admin_get(&app, "/api/v1/channel-accounts").await;
    let account = accounts[0]["id"].as_i64().unwrap();
    assert_eq!(accounts[0]["channel_id"], f.channel);
    let (_, html) = p
        .ada
        .get(&app, "/app/channel-accounts?saved=created&lang=en")
        .await;
    assert!(html.contains("The account was added."));
    assert!(
        html.contains("&#60;img src=x onerror=alert(1)&#62;"),
        "{html}"
    );
    assert!(!html.contains("<img src=x"));
    assert!(!html.contains("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), "{html}");
    let csrf = csrf_of(&html);
    let to = |action: &str| format!("/app/channel-accounts/{account}/{action}");
    // Renamed; too long a name beside its field, nothing changed.
    let res = p
        .ada
        .post(&app, &to("rename"), &[("csrf", &csrf), ("name", "Website")])
        .await;
    assert_eq!(res.status(), 303);
    let long = "n".repeat(101);
    let res = p
        .ada
        .post(&app, &to("rename"), &[("csrf", &csrf), ("name", &long)])
        .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(
        html.contains(&format!("id=\"err-name-{account}\"")),
        "{html}"
    );
    let got = admin_get(&app, &format!("/api/v1/channel-accounts/{account}")).await;
    assert_eq!(got["name"], "Website");
    // The credential rotated; a bad one beside its field.
    let res = p
        .ada
        .post(&app, &to("rotate"), &[("csrf", &csrf), ("secret", "short")])
        .await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains(&format!("id=\"err-secret-{account}\""))
    );
    let res = p
        .ada
        .post(
            &app,
            &to("rotate"),
            &[("csrf", &csrf), ("secret", WHSEC_NEW)],
        )
        .await;
    assert_eq!(res.status(), 303);
    let got = admin_get(&app, &format!("/api/v1/channel-accounts/{account}")).await;
    assert_eq!(got["credentials_version"], 2, "{got}");
    // Disabled, enabled.
    let res = p.ada.post(&app, &to("disable"), &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), 303);
    let got = admin_get(&app, &format!("/api/v1/channel-accounts/{account}")).await;
    assert_eq!(got["disabled"], true);
    let (_, html) = p.ada.get(&app, "/app/channel-accounts?lang=en").await;
    assert!(html.contains(&format!(
        "action=\"/app/channel-accounts/{account}/enable\""
    )));
    let res = p.ada.post(&app, &to("enable"), &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), 303);
    let got = admin_get(&app, &format!("/api/v1/channel-accounts/{account}")).await;
    assert_eq!(got["disabled"], false);
    // Its history: each change, the rotation without the secret.
    let (status, html) = p
        .ada
        .get(
            &app,
            &format!("/app/channel-accounts/{account}/history?lang=en"),
        )
        .await;
    assert_eq!(status, 200);
    assert!(html.contains("rotated (version 2)"), "{html}");
    assert!(html.contains("disabled: false → true"), "{html}");
    for secret in ["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "cm90YXRlZC1zZWNyZXQ"] {
        assert!(!html.contains(secret));
    }
    let (status, _) = p
        .ane
        .get(&app, &format!("/app/channel-accounts/{account}/history"))
        .await;
    assert_eq!(status, 403);
    // In use by an approved post not yet out: 409 beside the account, kept.
    let at = (app.clock_now() + TimeDelta::hours(3))
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let end = (app.clock_now() + TimeDelta::hours(4))
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let post = app
        .create(
            "/api/v1/activities",
            json!({
                "plan_id": f.plan, "kind": "social_post", "status": "planned",
                "timing": {"precision": "exact", "start": at, "end": end, "time_zone": "UTC"},
                "channel_ids": [f.channel],
                "translations": {"es": {"title": "Lanzamiento"}},
                "post_variants": [{"channel_id": f.channel, "lang": "es", "body": "Ya está aquí"}],
            }),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    app.approve(&format!("/api/v1/activities/{post}")).await;
    let res = p.ada.post(&app, &to("delete"), &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), 409);
    let html = res.text().await.unwrap();
    let err = html
        .find(&format!("id=\"err-delete-{account}\""))
        .expect("beside the account");
    assert!(html[err..].contains(&format!("activity {post}")), "{html}");
    admin_get(&app, &format!("/api/v1/channel-accounts/{account}")).await;
    // Once the post is gone, deleted.
    api(
        &app,
        reqwest::Method::DELETE,
        &format!("/api/v1/activities/{post}/variants/{}/es", f.channel),
        None,
    )
    .await;
    let res = p.ada.post(&app, &to("delete"), &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), 303);
    let accounts = admin_get(&app, "/api/v1/channel-accounts").await;
    assert!(
        accounts
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["id"] != account),
        "{accounts}"
    );
    // Every form refuses a missing token.
    for action in ["rename", "rotate", "disable", "enable", "delete"] {
        let res = p.ada.post(&app, &to(action), &[("name", "x")]).await;
        assert_eq!(res.status(), 403, "{action}");
    }
}

#[tokio::test]
async fn webhooks_show_their_secret_once_log_deliveries_and_replay_them() {
    let app = app_with_webhooks(true).await;
    let f = fixture(&app).await;
    let hooks = Receiver::start(|_| Reply::status(204));
    let mut p = people(&app).await;
    let (status, _) = p.ane.get(&app, "/app/webhooks").await;
    assert_eq!(status, 403);
    let (status, html) = p.ada.get(&app, "/app/webhooks?lang=en").await;
    assert_eq!(status, 200, "{html}");
    let csrf = csrf_of(&html);
    let url = format!("{}/hook", hooks.url);
    // No event type: beside the event types, nothing made.
    let res = p
        .ada
        .post(
            &app,
            "/app/webhooks",
            &[("csrf", &csrf), ("url", &url), ("enabled", "on")],
        )
        .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("id=\"err-event_types\""), "{html}");
    assert!(
        html.contains(&format!("value=\"{url}\"")),
        "the URL is kept"
    );
    assert_eq!(
        admin_get(&app, "/api/v1/webhooks")
            .await
            .as_array()
            .unwrap()
            .len(),
        0
    );
    // A URL that is not one: beside the URL.
    let res = p
        .ada
        .post(
            &app,
            "/app/webhooks",
            &[
                ("csrf", &csrf),
                ("url", "not a url"),
                ("event_types", "activity.created"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("id=\"err-url\""));
    // An editor cannot make one.
    let ane_csrf = csrf_of(&p.ane.get(&app, "/app/me").await.1);
    let res = p
        .ane
        .post(
            &app,
            "/app/webhooks",
            &[
                ("csrf", &ane_csrf),
                ("url", &url),
                ("event_types", "activity.created"),
            ],
        )
        .await;
    assert_eq!(res.status(), 403);
    // Made: its secret shown on this answer only.
    let res = p
        .ada
        .post(
            &app,
            "/app/webhooks",
            &[
                ("csrf", &csrf),
                ("url", &url),
                ("description", "<b>Intranet</b>"),
                ("event_types", "activity.created"),
                ("enabled", "on"),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let html = res.text().await.unwrap();
    let secret = input_value(&html, "secret");
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert!(html.contains("&#60;b&#62;Intranet"), "{html}");
    let listed = admin_get(&app, "/api/v1/webhooks").await;
    let hook = listed[0]["id"].as_i64().unwrap();
    assert_eq!(listed[0]["event_types"], json!(["activity.created"]));
    let (_, html) = p.ada.get(&app, "/app/webhooks").await;
    assert!(!html.contains(&secret), "shown once");
    let (_, html) = p
        .ada
        .get(&app, &format!("/app/webhooks/{hook}?lang=en"))
        .await;
    assert!(!html.contains(&secret), "shown once");
    assert!(html.contains("Nothing delivered yet."), "{html}");
    // An activity is created: delivered, in the log, replayed.
    app.create(
        "/api/v1/activities",
        json!({"plan_id": f.plan, "kind": "milestone", "status": "planned",
               "timing": {"precision": "days", "start": "2030-01-10", "end": "2030-01-10"},
               "translations": {"en": {"title": "Milestone"}}}),
    )
    .await;
    let runner = crate::webhooks::runner(&app);
    runner.run_once().await.unwrap();
    assert_eq!(hooks.requests().len(), 1);
    let (_, html) = p
        .ada
        .get(&app, &format!("/app/webhooks/{hook}?lang=en"))
        .await;
    assert!(html.contains("<code>activity.created</code>"), "{html}");
    assert!(html.contains(">done</span>"), "{html}");
    let prefix = format!("action=\"/app/webhooks/{hook}/deliveries/");
    let at = html.find(&prefix).expect("a replay button") + prefix.len();
    let job: i64 = html[at..at + html[at..].find('/').unwrap()]
        .parse()
        .unwrap();
    let res = p
        .ada
        .post(
            &app,
            &format!("/app/webhooks/{hook}/deliveries/{job}/replay"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(res.status(), 303);
    runner.run_once().await.unwrap();
    let got = hooks.requests();
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[0].header("webhook-id"),
        got[1].header("webhook-id"),
        "the same event"
    );
    // A viewer cannot replay.
    let vic_csrf = csrf_of(&p.vic.get(&app, "/app/me").await.1);
    let res = p
        .vic
        .post(
            &app,
            &format!("/app/webhooks/{hook}/deliveries/{job}/replay"),
            &[("csrf", &vic_csrf)],
        )
        .await;
    assert_eq!(res.status(), 403);
    // Edited without an event type: beside it, nothing changed.
    let res = p
        .ada
        .post(
            &app,
            &format!("/app/webhooks/{hook}"),
            &[("csrf", &csrf), ("url", &url), ("enabled", "on")],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("id=\"err-event_types\""));
    let got = admin_get(&app, &format!("/api/v1/webhooks/{hook}")).await;
    assert_eq!(got["event_types"], json!(["activity.created"]));
    // Rotated: the new secret shown once, different.
    let res = p
        .ada
        .post(
            &app,
            &format!("/app/webhooks/{hook}/rotate"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(res.status(), 200);
    let rotated = input_value(&res.text().await.unwrap(), "secret");
    assert!(rotated.starts_with("whsec_") && rotated != secret);
    let got = admin_get(&app, &format!("/api/v1/webhooks/{hook}")).await;
    assert_eq!(got["secrets"].as_array().unwrap().len(), 2, "{got}");
    // Disabled, then deleted.
    let res = p
        .ada
        .post(
            &app,
            &format!("/app/webhooks/{hook}/disable"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        admin_get(&app, &format!("/api/v1/webhooks/{hook}")).await["enabled"],
        false
    );
    for action in ["rotate", "disable", "enable", "delete"] {
        let path = format!("/app/webhooks/{hook}/{action}");
        assert_eq!(
            p.ada.post(&app, &path, &[]).await.status(),
            403,
            "{action} without a token"
        );
        assert_eq!(
            p.ane
                .post(&app, &path, &[("csrf", &ane_csrf)])
                .await
                .status(),
            403,
            "{action} by an editor"
        );
    }
    let res = p
        .ada
        .post(
            &app,
            &format!("/app/webhooks/{hook}/delete"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        admin_get(&app, "/api/v1/webhooks")
            .await
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

#[tokio::test]
async fn the_jobs_page_puts_held_jobs_first_and_runs_them_again_or_cancels_them() {
    let app = app_with_webhooks(true).await;
    let hooks = Receiver::start(|_| Reply::status(204));
    let f = fixture(&app).await;
    let mut p = people(&app).await;
    api(
        &app,
        reqwest::Method::POST,
        "/api/v1/webhooks",
        Some(json!({"url": format!("{}/hook", hooks.url), "event_types": ["activity.created"]})),
    )
    .await;
    app.create(
        "/api/v1/activities",
        json!({"plan_id": f.plan, "kind": "milestone", "status": "planned",
               "timing": {"precision": "days", "start": "2030-01-10", "end": "2030-01-10"},
               "translations": {"en": {"title": "Milestone"}}}),
    )
    .await;
    let jobs = admin_get(&app, "/api/v1/jobs?kind=webhook").await;
    let job = jobs[0]["id"].as_i64().unwrap();
    // The outcome unknown: held for a person.
    let now = app.clock_now();
    app.db
        .run(move |c| {
            pregon::db::jobs::transition(
                c,
                job,
                &[pregon::domain::job::JobState::Queued],
                pregon::domain::job::JobState::Unknown,
                now,
                "timed out after sending",
                now,
            )
        })
        .await
        .unwrap();
    for who in [&mut p.ane, &mut p.vic] {
        let (status, _) = who.get(&app, "/app/jobs").await;
        assert_eq!(status, 403);
    }
    let (status, html) = p.ada.get(&app, "/app/jobs?lang=en").await;
    assert_eq!(status, 200, "{html}");
    let held = html.find("id=\"held\"").expect("the held jobs");
    let all = html.find("id=\"jobs\"").expect("all jobs");
    assert!(held < all, "held first");
    let held_part = &html[held..all];
    assert!(held_part.contains(&format!("id=\"job-{job}\"")), "{html}");
    assert!(held_part.contains("outcome unknown"));
    assert!(held_part.contains(&format!("/app/jobs/{job}/retry")));
    assert!(held_part.contains(&format!("/app/jobs/{job}/cancel")));
    let csrf = csrf_of(&html);
    // Filters: by state, and a state that is not one.
    let (_, html) = p.ada.get(&app, "/app/jobs?state=done&lang=en").await;
    assert!(!html[html.find("id=\"all-title\"").unwrap()..].contains(&format!("id=\"job-{job}\"")));
    let (status, html) = p.ada.get(&app, "/app/jobs?state=bogus&lang=en").await;
    assert_eq!(status, 422);
    assert!(html.contains("id=\"err-state\""));
    // The detail: its attempts.
    let (status, _) = p.ada.get(&app, &format!("/app/jobs?job={job}")).await;
    assert_eq!(status, 200);
    // CSRF and roles on the actions.
    let ane_csrf = csrf_of(&p.ane.get(&app, "/app/me").await.1);
    for action in ["retry", "cancel"] {
        let path = format!("/app/jobs/{job}/{action}");
        assert_eq!(p.ada.post(&app, &path, &[]).await.status(), 403);
        assert_eq!(
            p.ane
                .post(&app, &path, &[("csrf", &ane_csrf)])
                .await
                .status(),
            403
        );
    }
    assert_eq!(job_state(&app, job).await, "unknown");
    // Cancelled; cancelling again is refused (409), nothing changed.
    assert_eq!(
        job_action(&app, &mut p.ada, job, "cancel", &csrf).await,
        303
    );
    assert_eq!(job_state(&app, job).await, "cancelled");
    assert_eq!(
        job_action(&app, &mut p.ada, job, "cancel", &csrf).await,
        409
    );
    assert_eq!(job_state(&app, job).await, "cancelled");
    let (_, html) = p.ada.get(&app, "/app/jobs?lang=en").await;
    assert!(html.contains("No job waits for a person."), "{html}");
    // Run again: delivered.
    assert_eq!(job_action(&app, &mut p.ada, job, "retry", &csrf).await, 303);
    crate::webhooks::runner(&app).run_once().await.unwrap();
    assert_eq!(hooks.requests().len(), 1);
    assert_eq!(job_state(&app, job).await, "done");
}
