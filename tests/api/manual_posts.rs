//! The manual channel end to end: at the variant's time the owner gets an
//! email over real SMTP with the exact text and a one-time link; the link's
//! page (CSRF-checked form) marks the variant published with the URL, once;
//! the history says who and how; `post.published` goes to the webhooks; the
//! report lists the URL. The token is stored only as its hash. An expired
//! link writes nothing; the API marks it done too. An account with
//! recipients (account ids and addresses, checked, set on its page one per
//! line) emails each in their language with a link of their own, and a
//! retry writes only to those not sent theirs yet (the ledger).

use crate::activities::fixture;
use crate::helpers::*;
use crate::mail::*;
use crate::posts::planning_runner;
use crate::receiver::{Receiver, Reply};
use crate::smtp_server::Script;
use crate::web::{WebUser, csrf_of};
use chrono::TimeDelta;
use mail_parser::MessageParser;
use serde_json::{Value, json};

async fn mail_app() -> Mail {
    spawn_mail_app_with(|s| {
        s.webhooks.allow_private = true;
        s.webhooks.timeout_secs = 2;
        s.credentials.key = pregon::email::Secret::new(crate::webhooks::KEY);
    })
    .await
}

async fn social_channel(app: &TestApp, org: i64, slug: &str) -> i64 {
    app.create(
        "/api/v1/channels",
        json!({"slug": slug, "kind": "social", "name": format!("LinkedIn {slug}"), "organisation_id": org}),
    )
    .await["id"]
        .as_i64()
        .unwrap()
}

async fn manual_account(app: &TestApp, body: Value) -> Value {
    let res = app
        .client
        .post(app.url("/api/v1/channel-accounts"))
        .bearer_auth(&app.admin)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    body
}

/// A social post on `channel`, due in an hour, approved.
async fn post(app: &TestApp, plan: i64, channel: i64, owner: Option<i64>, variants: Value) -> i64 {
    let (at, end) = an_hour_from_now(app);
    let id = app
        .create(
            "/api/v1/activities",
            json!({
                "plan_id": plan,
                "kind": "social_post",
                "status": "planned",
                "owner_person_id": owner,
                "timing": {"precision": "exact", "start": at, "end": end, "time_zone": "UTC"},
                "channel_ids": [channel],
                "translations": {"es": {"title": "Lanzamiento <del>del estudio</del>"}, "en": {"title": "Study launch"}},
                "post_variants": variants,
            }),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    app.approve(&format!("/api/v1/activities/{id}")).await;
    id
}

fn parsed(data: &[u8]) -> (String, String) {
    let message = MessageParser::default().parse(data).unwrap();
    (
        message.subject().unwrap_or_default().to_owned(),
        message
            .body_text(0)
            .unwrap_or_default()
            .replace("\r\n", "\n"),
    )
}

/// The one-time link's path in an email's text.
fn link_path(text: &str) -> String {
    let at = text.find("/p/done/").expect("a link");
    text[at..]
        .split_whitespace()
        .next()
        .unwrap()
        .trim_end()
        .to_owned()
}

async fn variant_state(app: &TestApp, id: i64) -> Value {
    let variants = app
        .get_json(&format!("/api/v1/activities/{id}/variants"))
        .await;
    variants[0]["publication"].clone()
}

const BODY: &str = "¡Ya está aquí el estudio <b>& más</b>! https://pregon.example/es 🇪🇸";

#[tokio::test]
async fn the_owner_is_emailed_the_exact_text_and_marks_it_posted_once_through_the_link() {
    let mail = mail_app().await;
    let app = &mail.app;
    let f = fixture(app).await;
    let ch = social_channel(app, f.org, "linkedin").await;
    let ana = app
        .create(
            "/api/v1/people",
            json!({"name": "Ana", "email": "ana@bilbao.example", "language": "es"}),
        )
        .await["id"]
        .as_i64()
        .unwrap();

    // A manual account: no credentials; a secret or a bad address is refused.
    for (bad, field) in [
        (
            json!({"network": "manual", "secret": "x", "channel_id": ch}),
            "secret",
        ),
        (
            json!({"network": "manual", "base_url": "mailto:not an address", "channel_id": ch}),
            "base_url",
        ),
    ] {
        let res = app
            .client
            .post(app.url("/api/v1/channel-accounts"))
            .bearer_auth(&app.admin)
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(expect_problem(res, 422).await["field"], field);
    }
    let account = manual_account(
        app,
        json!({"network": "manual", "name": "LinkedIn (by hand)", "channel_id": ch}),
    )
    .await;
    assert_eq!(account["network"], "manual");
    assert_eq!(account["has_credentials"], false);
    assert_eq!(account["base_url"], "mailto:");

    let hooks = Receiver::start(|_| Reply::status(204));
    let res = app
        .client
        .post(app.url("/api/v1/webhooks"))
        .bearer_auth(&app.admin)
        .json(&json!({"url": format!("{}/hook", hooks.url), "event_types": ["post.published"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);

    let id = post(
        app,
        f.plan,
        ch,
        Some(ana),
        json!([{"channel_id": ch, "lang": "es", "body": BODY, "content_warning": "Spoiler: resultados"}]),
    )
    .await;

    // Before its time: nothing. At its time: one email to the owner, in
    // her language, with the exact text, the warning and the link.
    let runner = planning_runner(app);
    runner.run_once().await.unwrap();
    assert!(mail.smtp.messages().is_empty());
    app.clock.advance(TimeDelta::hours(1));
    runner.run_once().await.unwrap();
    runner.run_once().await.unwrap();
    let messages = mail.smtp.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].rcpt_to, vec!["ana@bilbao.example".to_owned()]);
    let (subject, text) = parsed(&messages[0].data);
    assert_eq!(
        subject,
        "Para publicar a mano: Lanzamiento <del>del estudio</del> en LinkedIn linkedin"
    );
    assert!(text.contains(&format!("\n\n{BODY}\n\n")), "{text}");
    assert!(text.contains("Spoiler: resultados"), "{text}");
    assert!(text.contains("en Español"), "{text}");
    assert!(text.contains("https://pregon.test/p/done/pgn_"), "{text}");
    let path = link_path(&text);
    let token = path.trim_start_matches("/p/done/").to_owned();
    assert_eq!(variant_state(app, id).await["state"], "awaiting_owner");

    // A done job sends nothing more.
    app.clock.advance(TimeDelta::minutes(10));
    runner.run_once().await.unwrap();
    assert_eq!(mail.smtp.messages().len(), 1);

    // Only the token's hash is stored; nowhere in clear.
    {
        let mut conn = app.db.get().unwrap();
        let hash = pregon::domain::token::hash(&token);
        assert!(
            pregon::db::posts::done_link(&mut conn, &hash)
                .unwrap()
                .is_some()
        );
        assert!(
            pregon::db::posts::done_link(&mut conn, &token)
                .unwrap()
                .is_none()
        );
        for job in pregon::db::jobs::list(&mut conn, None, None, 100, 0).unwrap() {
            let row = format!("{job:?}");
            assert!(!row.contains(&token), "the token is in a job: {row}");
        }
    }

    // A wrong token: 404, the CSRF-less or bad form: nothing written.
    let mut visitor = WebUser {
        cookies: Vec::new(),
    };
    let (status, _) = visitor.get(app, "/p/done/pgn_not-a-real-token").await;
    assert_eq!(status, 404);
    let (status, page) = visitor.get(app, &path).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("¿Dónde se ha publicado?"), "{page}");
    assert!(
        page.contains("&#60;b&#62;&#38; más&#60;/b&#62;") && !page.contains("<b>"),
        "the text is escaped: {page}"
    );
    assert!(
        page.contains("&#60;del&#62;") && !page.contains("<del>"),
        "the title is escaped"
    );
    let csrf = csrf_of(&page);
    let res = visitor
        .post(
            app,
            &path,
            &[("csrf", "wrong"), ("url", "https://x.example/1")],
        )
        .await;
    assert_eq!(res.status(), 403);
    let res = visitor
        .post(
            app,
            &path,
            &[("csrf", &csrf), ("url", "javascript:alert(1)")],
        )
        .await;
    assert_eq!(res.status(), 422);
    let page = res.text().await.unwrap();
    assert!(page.contains("aria-invalid=\"true\""), "{page}");
    assert!(page.contains("Indica una dirección"), "{page}");
    assert_eq!(variant_state(app, id).await["state"], "awaiting_owner");

    // The link marks it published with the URL.
    let url = "https://www.linkedin.com/posts/uclg_lanzamiento-123";
    let res = visitor
        .post(app, &path, &[("csrf", &csrf), ("url", url)])
        .await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("Gracias"));
    let publication = variant_state(app, id).await;
    assert_eq!(publication["state"], "published", "{publication}");
    assert_eq!(publication["url"], url);

    // Once: a second use is refused and changes nothing.
    let (status, page) = visitor.get(app, &path).await;
    assert_eq!(status, 410, "{page}");
    let res = visitor
        .post(
            app,
            &path,
            &[("csrf", &csrf), ("url", "https://other.example/")],
        )
        .await;
    assert_eq!(res.status(), 410);
    assert_eq!(variant_state(app, id).await["url"], url);
    let again = app
        .client
        .post(app.url(&format!("/api/v1/activities/{id}/variants/{ch}/es/done")))
        .bearer_auth(&app.editor)
        .json(&json!({"url": "https://other.example/"}))
        .send()
        .await
        .unwrap();
    expect_problem(again, 409).await;

    // The history says it was marked by the owner through the link.
    let history = app
        .get_json(&format!("/api/v1/activities/{id}/history"))
        .await;
    let entry = history
        .as_array()
        .unwrap()
        .iter()
        .find(|e| {
            e.to_string()
                .contains(&format!("post_publications.{ch}.es"))
        })
        .unwrap_or_else(|| panic!("{history}"));
    let change = &entry["changes"][0];
    assert_eq!(change["before"]["state"], "awaiting_owner");
    assert_eq!(change["after"]["state"], "published");
    assert_eq!(change["after"]["url"], url);
    assert_eq!(change["after"]["marked_by"], "owner_link");
    assert!(
        entry["reason"].as_str().unwrap().contains("one-time link"),
        "{entry}"
    );
    assert!(!history.to_string().contains(&token));

    // post.published, as for the other networks, with the URL.
    runner.run_once().await.unwrap();
    let events: Vec<Value> = hooks.to("/hook").iter().map(|r| r.json()).collect();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["type"], "post.published");
    assert_eq!(events[0]["data"]["url"], url);
    assert_eq!(events[0]["data"]["network"], "manual");
    assert_eq!(events[0]["data"]["activity_id"], id);

    // The report's published posts include it.
    let report = app
        .get_json("/api/v1/reports/progress?plan=p2020&from=2026-01-01&to=2027-12-31")
        .await;
    let social = report["social"].as_array().unwrap();
    assert_eq!(social.len(), 1, "{social:?}");
    assert_eq!(social[0]["url"], url);
    assert_eq!(social[0]["network"], "manual");
}

#[tokio::test]
async fn an_expired_link_writes_nothing_a_4xx_is_retried_and_the_api_marks_it_done() {
    let mail = mail_app().await;
    let app = &mail.app;
    let f = fixture(app).await;
    let ch = social_channel(app, f.org, "by-hand").await;
    // The account's own address (no account there: English); the activity
    // has no owner.
    manual_account(
        app,
        json!({"network": "manual", "base_url": "mailto:team@uclg.example", "channel_id": ch}),
    )
    .await;
    // The address is personal data: the account's history says it was set,
    // never what it is.
    let accounts = app
        .client
        .get(app.url("/api/v1/channel-accounts"))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let account = accounts[0]["id"].as_i64().unwrap();
    let history = app
        .client
        .get(app.url(&format!("/api/v1/channel-accounts/{account}/history")))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(history.contains("base_url"), "{history}");
    assert!(!history.contains("team@uclg.example"), "{history}");
    mail.smtp
        .on_rcpt("team@uclg.example", Script::first(1, "451 4.7.1 try later"));
    let id = post(
        app,
        f.plan,
        ch,
        None,
        json!([{"channel_id": ch, "lang": "en", "body": "The study is out https://pregon.example/en"}]),
    )
    .await;
    let runner = planning_runner(app);
    app.clock.advance(TimeDelta::hours(1));
    runner.run_once().await.unwrap();
    runner.run_once().await.unwrap();
    assert!(mail.smtp.messages().is_empty(), "451: not accepted");
    assert_eq!(variant_state(app, id).await["state"], "queued");
    app.clock.advance(TimeDelta::minutes(10));
    runner.run_once().await.unwrap();
    let messages = mail.smtp.messages();
    assert_eq!(messages.len(), 1, "retried after the 4xx");
    assert_eq!(messages[0].rcpt_to, vec!["team@uclg.example".to_owned()]);
    let (subject, text) = parsed(&messages[0].data);
    assert_eq!(subject, "To post by hand: Study launch on LinkedIn by-hand");
    assert!(text.contains("\n\nThe study is out https://pregon.example/en\n\n"));
    assert!(!text.contains("content warning"), "{text}");
    let path = link_path(&text);
    assert_eq!(variant_state(app, id).await["state"], "awaiting_owner");

    // Seven days after its time the link has expired: 410, nothing written.
    let mut visitor = WebUser {
        cookies: Vec::new(),
    };
    let (status, form_page) = visitor.get(app, &path).await;
    assert_eq!(status, 200);
    let csrf = csrf_of(&form_page);
    app.clock.advance(TimeDelta::days(7));
    let (status, page) = visitor.get(app, &path).await;
    assert_eq!(status, 410);
    assert!(page.contains("expired"), "{page}");
    let res = visitor
        .post(
            app,
            &path,
            &[("csrf", &csrf), ("url", "https://x.example/1")],
        )
        .await;
    assert_eq!(res.status(), 410);
    assert_eq!(variant_state(app, id).await["state"], "awaiting_owner");

    // An editor marks it done through the API instead: the URL is checked.
    let done = format!("/api/v1/activities/{id}/variants/{ch}/en/done");
    let bad = app
        .client
        .post(app.url(&done))
        .bearer_auth(&app.editor)
        .json(&json!({"url": "ftp://files.example/post"}))
        .send()
        .await
        .unwrap();
    assert_eq!(expect_problem(bad, 422).await["field"], "url");
    let res = app
        .client
        .post(app.url(&done))
        .bearer_auth(&app.editor)
        .json(&json!({"url": "https://www.linkedin.com/posts/uclg-9"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let variants: Value = res.json().await.unwrap();
    assert_eq!(variants[0]["publication"]["state"], "published");
    assert_eq!(
        variants[0]["publication"]["url"],
        "https://www.linkedin.com/posts/uclg-9"
    );
    let history = app
        .get_json(&format!("/api/v1/activities/{id}/history"))
        .await;
    assert!(
        history.to_string().contains("\"marked_by\":\"api\""),
        "{history}"
    );
    // The expired link stays refused.
    let (status, _) = visitor.get(app, &path).await;
    assert_eq!(status, 410);
}

#[tokio::test]
async fn a_5xx_fails_the_post_no_one_to_write_to_fails_it_and_the_link_page_is_rate_limited() {
    let mail = spawn_mail_app_with(|s| {
        s.webhooks.allow_private = true;
        s.webhooks.timeout_secs = 2;
        s.credentials.key = pregon::email::Secret::new(crate::webhooks::KEY);
        s.server.trusted_proxies = vec!["127.0.0.1".into()];
        s.rate_limits.links_per_minute = 3;
    })
    .await;
    let app = &mail.app;
    let f = fixture(app).await;
    let refused = social_channel(app, f.org, "refused").await;
    let nobody = social_channel(app, f.org, "nobody").await;
    manual_account(
        app,
        json!({"network": "manual", "base_url": "mailto:gone@uclg.example", "channel_id": refused}),
    )
    .await;
    // No address of its own, and the activity has no owner.
    manual_account(app, json!({"network": "manual", "channel_id": nobody})).await;
    let hooks = Receiver::start(|_| Reply::status(204));
    let res = app
        .client
        .post(app.url("/api/v1/webhooks"))
        .bearer_auth(&app.admin)
        .json(&json!({"url": format!("{}/hook", hooks.url), "event_types": ["post.failed"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    mail.smtp.on_rcpt(
        "gone@uclg.example",
        Script::always("550 5.1.1 no such user"),
    );
    let one = post(
        app,
        f.plan,
        refused,
        None,
        json!([{"channel_id": refused, "lang": "fr", "body": "L'étude est là"}]),
    )
    .await;
    let two = post(
        app,
        f.plan,
        nobody,
        None,
        json!([{"channel_id": nobody, "lang": "fr", "body": "L'étude est là"}]),
    )
    .await;
    let runner = planning_runner(app);
    app.clock.advance(TimeDelta::hours(1));
    runner.run_once().await.unwrap();
    runner.run_once().await.unwrap();
    assert!(mail.smtp.messages().is_empty());
    let first = variant_state(app, one).await;
    assert_eq!(first["state"], "failed", "5xx: no retry: {first}");
    assert!(first["reason"].as_str().unwrap().contains("550"), "{first}");
    let second = variant_state(app, two).await;
    assert_eq!(second["state"], "failed", "{second}");
    assert!(
        second["reason"]
            .as_str()
            .unwrap()
            .contains("no owner with an email address"),
        "{second}"
    );
    app.clock.advance(TimeDelta::minutes(30));
    runner.run_once().await.unwrap();
    assert_eq!(
        mail.smtp.command_count("RCPT"),
        1,
        "the 550 was not retried"
    );
    let events: Vec<Value> = hooks.to("/hook").iter().map(|r| r.json()).collect();
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(events.iter().all(|e| e["type"] == "post.failed"));

    // A failed one can still be marked posted by an editor (the owner may
    // have posted anyway).
    let res = app
        .client
        .post(app.url(&format!(
            "/api/v1/activities/{two}/variants/{nobody}/fr/done"
        )))
        .bearer_auth(&app.editor)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let publication = variant_state(app, two).await;
    assert_eq!(publication["state"], "published");
    assert!(publication["url"].is_null());

    // The link page is rate-limited with the newsletter's links.
    let get = |client: &'static str| {
        app.client
            .get(app.url("/p/done/pgn_unknown"))
            .header("x-forwarded-for", client)
            .send()
    };
    for _ in 0..3 {
        assert_eq!(get("198.51.100.9").await.unwrap().status(), 404);
    }
    assert_eq!(get("198.51.100.9").await.unwrap().status(), 429);
    assert_eq!(get("198.51.100.10").await.unwrap().status(), 404);
}

/// The link's page, its error and its answers, with no WCAG 2.2 A/AA
/// violation, in each language.
#[tokio::test]
async fn the_link_pages_pass_axe_in_every_language() {
    use crate::webdriver::Browser;
    let mail = mail_app().await;
    let app = &mail.app;
    let f = fixture(app).await;
    let ch = social_channel(app, f.org, "axe").await;
    manual_account(
        app,
        json!({"network": "manual", "base_url": "mailto:team@uclg.example", "channel_id": ch}),
    )
    .await;
    let id = post(
        app,
        f.plan,
        ch,
        None,
        json!([{"channel_id": ch, "lang": "en", "body": BODY}]),
    )
    .await;
    let runner = planning_runner(app);
    app.clock.advance(TimeDelta::hours(1));
    runner.run_once().await.unwrap();
    let (_, text) = parsed(&mail.smtp.wait_for_messages(1).await[0].data);
    let path = link_path(&text);
    let b = Browser::start().await;
    let accessible = |what: String| {
        let b = &b;
        async move {
            let violations = b.axe_violations().await;
            assert!(
                violations.is_empty(),
                "axe found WCAG 2.2 A/AA violations on {what}:\n{}",
                serde_json::to_string_pretty(&violations).unwrap()
            );
        }
    };
    for lang in ["es", "en", "fr"] {
        b.goto(&app.url(&format!("{path}?lang={lang}"))).await;
        b.find("#url").await;
        accessible(format!("the link's page ({lang})")).await;
    }
    b.goto(&app.url(&path)).await;
    b.type_into("#url", "ftp://files.example/post").await;
    b.click_css("form[action^='/p/done/'] button[type=submit]")
        .await;
    b.find("#err-url").await;
    accessible("the link's page with an error".into()).await;
    let field = b.find("#url").await;
    b.clear(&field).await;
    b.type_into("#url", "https://www.linkedin.com/posts/uclg-1")
        .await;
    b.click_css("form[action^='/p/done/'] button[type=submit]")
        .await;
    b.find("main h1").await;
    accessible("the page after marking".into()).await;
    b.goto(&app.url(&path)).await;
    b.find("main h1").await;
    accessible("a used link's page".into()).await;
    b.goto(&app.url("/p/done/pgn_unknown")).await;
    b.find("main h1").await;
    accessible("an unknown link's page".into()).await;
    assert_eq!(variant_state(app, id).await["state"], "published");
}

#[tokio::test]
async fn a_team_member_says_where_it_was_posted_from_the_activity_page() {
    use crate::web::{PASSWORD, person, web_sign_in};
    let mail = mail_app().await;
    let app = &mail.app;
    let f = fixture(app).await;
    let ch = social_channel(app, f.org, "by-hand").await;
    manual_account(
        app,
        json!({"network": "manual", "base_url": "mailto:team@uclg.example", "channel_id": ch}),
    )
    .await;
    let id = post(
        app,
        f.plan,
        ch,
        None,
        json!([{"channel_id": ch, "lang": "en", "body": "The study is out <b>now</b>"}]),
    )
    .await;
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
    let mut ane = web_sign_in(app, "ane@example.org", PASSWORD).await;
    let mut vic = web_sign_in(app, "vic@example.org", PASSWORD).await;
    let done = format!("/app/activities/{id}/variants/{ch}/en/done");

    // Not yet due: no link on the page, and the form is not there.
    let (_, page) = ane.get(app, &format!("/app/activities/{id}")).await;
    assert!(!page.contains(&done), "{page}");
    let (status, _) = ane.get(app, &done).await;
    assert_eq!(status, 404);

    let runner = planning_runner(app);
    app.clock.advance(TimeDelta::hours(1));
    runner.run_once().await.unwrap();
    runner.run_once().await.unwrap();
    assert_eq!(mail.smtp.messages().len(), 1);
    assert_eq!(variant_state(app, id).await["state"], "awaiting_owner");

    // The activity page links to the form; the form shows the exact text, escaped.
    let (_, page) = ane.get(app, &format!("/app/activities/{id}")).await;
    assert!(page.contains(&done), "{page}");
    assert!(page.contains("awaiting the owner"), "{page}");
    let (status, form) = ane.get(app, &done).await;
    assert_eq!(status, 200);
    assert!(
        form.contains("The study is out &#60;b&#62;now&#60;/b&#62;") && !form.contains("<b>now"),
        "{form}"
    );
    let csrf = csrf_of(&form);

    // A viewer may not; a forged form is refused; nothing written either way.
    let (status, _) = vic.get(app, &done).await;
    assert_eq!(status, 403);
    let (_, vic_page) = vic.get(app, &format!("/app/activities/{id}")).await;
    let res = vic
        .post(
            app,
            &done,
            &[
                ("csrf", &csrf_of(&vic_page)),
                ("url", "https://x.example/1"),
            ],
        )
        .await;
    assert_eq!(res.status(), 403);
    let res = ane
        .post(
            app,
            &done,
            &[("csrf", "forged"), ("url", "https://x.example/1")],
        )
        .await;
    assert_eq!(res.status(), 403);
    assert_eq!(variant_state(app, id).await["state"], "awaiting_owner");

    // Not http(s): the form again with the message beside the address.
    let res = ane
        .post(
            app,
            &done,
            &[("csrf", &csrf), ("url", "ftp://files.example/post")],
        )
        .await;
    assert_eq!(res.status(), 422);
    let again = res.text().await.unwrap();
    assert!(again.contains("id=\"err-url\""), "{again}");
    assert!(
        again.contains("value=\"ftp://files.example/post\""),
        "{again}"
    );
    assert_eq!(variant_state(app, id).await["state"], "awaiting_owner");

    let res = ane
        .post(
            app,
            &done,
            &[
                ("csrf", &csrf),
                ("url", "https://www.linkedin.com/posts/uclg-7"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let publication = variant_state(app, id).await;
    assert_eq!(publication["state"], "published");
    assert_eq!(publication["url"], "https://www.linkedin.com/posts/uclg-7");
    let (_, page) = ane
        .get(app, &format!("/app/activities/{id}?saved=variant_posted"))
        .await;
    assert!(page.contains("The variant is marked as posted."), "{page}");
    assert!(!page.contains(&done), "{page}");
    // Once posted, the form is gone.
    let (status, _) = ane.get(app, &done).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_post_still_awaiting_its_owner_halfway_through_the_link_gets_one_reminder() {
    let mail = mail_app().await;
    let app = &mail.app;
    let f = fixture(app).await;
    let ch = social_channel(app, f.org, "reminded").await;
    let ane = app
        .create(
            "/api/v1/people",
            json!({"name": "Anne", "email": "anne@lyon.example", "language": "fr"}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    manual_account(
        app,
        json!({"network": "manual", "name": "Forum", "channel_id": ch}),
    )
    .await;
    let id = post(
        app,
        f.plan,
        ch,
        Some(ane),
        json!([{"channel_id": ch, "lang": "en", "body": "The study is out"}]),
    )
    .await;
    let runner = planning_runner(app);
    app.clock.advance(TimeDelta::hours(1));
    runner.run_once().await.unwrap();
    runner.run_once().await.unwrap();
    assert_eq!(mail.smtp.messages().len(), 1);
    assert_eq!(variant_state(app, id).await["state"], "awaiting_owner");

    // Just before halfway through the 7 days: nothing more.
    app.clock.advance(TimeDelta::days(3) + TimeDelta::hours(11));
    runner.run_once().await.unwrap();
    assert_eq!(mail.smtp.messages().len(), 1);
    // Halfway: one reminder, in her language, with a link that works.
    app.clock.advance(TimeDelta::hours(2));
    runner.run_once().await.unwrap();
    runner.run_once().await.unwrap();
    let messages = mail.smtp.messages();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[1].rcpt_to, vec!["anne@lyon.example".to_owned()]);
    let (subject, text) = parsed(&messages[1].data);
    assert!(
        subject.starts_with("Rappel : À publier à la main"),
        "{subject}"
    );
    assert!(text.contains("attend toujours"), "{text}");
    assert!(text.contains("\n\nThe study is out\n\n"), "{text}");
    let path = link_path(&text);

    // Again, later, or after a restart (a new runner): never a second.
    app.clock.advance(TimeDelta::hours(1));
    runner.run_once().await.unwrap();
    let restarted = planning_runner(app);
    restarted.run_once().await.unwrap();
    restarted.run_once().await.unwrap();
    assert_eq!(mail.smtp.messages().len(), 2);

    // The reminder's link marks the post published.
    let mut visitor = WebUser {
        cookies: Vec::new(),
    };
    let (status, page) = visitor.get(app, &path).await;
    assert_eq!(status, 200, "{page}");
    let csrf = csrf_of(&page);
    let url = "https://forum.example/t/1";
    let res = visitor
        .post(app, &path, &[("csrf", &csrf), ("url", url)])
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(variant_state(app, id).await["state"], "published");
}

#[tokio::test]
async fn a_post_marked_done_before_halfway_gets_no_reminder() {
    let mail = mail_app().await;
    let app = &mail.app;
    let f = fixture(app).await;
    let ch = social_channel(app, f.org, "done-early").await;
    manual_account(
        app,
        json!({"network": "manual", "base_url": "mailto:team@uclg.example", "channel_id": ch}),
    )
    .await;
    let id = post(
        app,
        f.plan,
        ch,
        None,
        json!([{"channel_id": ch, "lang": "en", "body": "The study is out"}]),
    )
    .await;
    let runner = planning_runner(app);
    app.clock.advance(TimeDelta::hours(1));
    runner.run_once().await.unwrap();
    runner.run_once().await.unwrap();
    assert_eq!(mail.smtp.messages().len(), 1);
    let res = app
        .client
        .post(app.url(&format!("/api/v1/activities/{id}/variants/{ch}/en/done")))
        .bearer_auth(&app.editor)
        .json(&json!({"url": "https://forum.example/t/2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    app.clock.advance(TimeDelta::days(4));
    runner.run_once().await.unwrap();
    runner.run_once().await.unwrap();
    assert_eq!(mail.smtp.messages().len(), 1, "published: no reminder");
}

async fn account_in(app: &TestApp, email: &str, name: &str, lang: &str) -> i64 {
    let res = app
        .client
        .post(app.url("/api/v1/accounts"))
        .bearer_auth(&app.admin)
        .json(&json!({"email": email, "name": name, "role": "viewer", "language": lang}))
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    body["id"].as_i64().unwrap_or_else(|| panic!("{body}"))
}

async fn create_account_problem(app: &TestApp, body: Value) -> Value {
    let res = app
        .client
        .post(app.url("/api/v1/channel-accounts"))
        .bearer_auth(&app.admin)
        .json(&body)
        .send()
        .await
        .unwrap();
    expect_problem(res, 422).await
}

/// The messages the relay accepted for `address`.
fn to_address(mail: &Mail, address: &str) -> Vec<(String, String)> {
    mail.smtp
        .messages()
        .iter()
        .filter(|m| m.rcpt_to == vec![address.to_owned()])
        .map(|m| parsed(&m.data))
        .collect()
}

#[tokio::test]
async fn each_recipient_gets_one_email_in_their_language_and_a_retry_writes_only_to_the_others() {
    let mail = mail_app().await;
    let app = &mail.app;
    let f = fixture(app).await;
    let ch = social_channel(app, f.org, "team").await;
    // Anne has an account, in French; the team's address has none: the
    // account's default language, Spanish.
    let anne = account_in(app, "anne@lyon.example", "Anne", "fr").await;
    let team = "equipo@bilbao.example";

    // Bad recipients: 422 naming the one at fault, nothing written.
    let many: Vec<String> = (0..21).map(|i| format!("p{i}@x.example")).collect();
    for (bad, field) in [
        (json!([anne, "not an address"]), "recipients[1]"),
        (json!([team, 987_654]), "recipients[1]"),
        (json!([team, "Equipo@Bilbao.example"]), "recipients[1]"),
        (json!(many), "recipients"),
    ] {
        let problem = create_account_problem(
            app,
            json!({"network": "manual", "channel_id": ch, "recipients": bad}),
        )
        .await;
        assert_eq!(problem["field"], field, "{bad}: {problem}");
    }
    let problem = create_account_problem(
        app,
        json!({"network": "mastodon", "base_url": "https://masto.example", "secret": "tok", "recipients": [team]}),
    )
    .await;
    assert_eq!(problem["field"], "recipients", "{problem}");
    let listed = app
        .client
        .get(app.url("/api/v1/channel-accounts"))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(listed, json!([]), "nothing written");

    let account = manual_account(
        app,
        json!({"network": "manual", "name": "Team", "channel_id": ch,
               "recipients": [anne, team], "default_language": "es"}),
    )
    .await;
    assert_eq!(account["recipients"], json!([anne, team]));
    assert_eq!(account["default_language"], "es");
    // The addresses are personal data: the history says they were set only.
    let history = app
        .client
        .get(app.url(&format!(
            "/api/v1/channel-accounts/{}/history",
            account["id"]
        )))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(history.contains("recipients"), "{history}");
    assert!(!history.contains(team), "{history}");

    // The team's relay says "later" once: Anne's email went, the job is
    // retried, and the retry writes to the team only.
    mail.smtp
        .on_rcpt(team, Script::first(1, "451 4.7.1 try later"));
    let id = post(
        app,
        f.plan,
        ch,
        None,
        json!([{"channel_id": ch, "lang": "en", "body": "The study is out https://pregon.example/en"}]),
    )
    .await;
    let runner = planning_runner(app);
    app.clock.advance(TimeDelta::hours(1));
    runner.run_once().await.unwrap();
    runner.run_once().await.unwrap();
    let anne_got = to_address(&mail, "anne@lyon.example");
    assert_eq!(anne_got.len(), 1, "{anne_got:?}");
    assert!(
        anne_got[0].0.starts_with("À publier à la main"),
        "{anne_got:?}"
    );
    assert!(to_address(&mail, team).is_empty());
    assert_eq!(variant_state(app, id).await["state"], "queued");
    app.clock.advance(TimeDelta::minutes(10));
    runner.run_once().await.unwrap();
    assert_eq!(mail.smtp.messages().len(), 2, "only the team written to");
    assert_eq!(to_address(&mail, "anne@lyon.example").len(), 1);
    let team_got = to_address(&mail, team);
    assert_eq!(team_got.len(), 1);
    assert!(
        team_got[0].0.starts_with("Para publicar a mano"),
        "{team_got:?}"
    );
    assert!(
        team_got[0]
            .1
            .contains("\n\nThe study is out https://pregon.example/en\n\n"),
        "the exact text: {team_got:?}"
    );
    let publication = variant_state(app, id).await;
    assert_eq!(publication["state"], "awaiting_owner", "{publication}");
    // Each their own link; the ledger has both.
    let (anne_link, team_link) = (link_path(&anne_got[0].1), link_path(&team_got[0].1));
    assert_ne!(anne_link, team_link);
    {
        let job = publication["job_id"].as_i64().unwrap();
        let mut conn = app.db.get().unwrap();
        let mut sent = pregon::db::posts::delivered(&mut conn, job).unwrap();
        sent.sort();
        assert_eq!(
            sent,
            vec![format!("account:{anne}"), team.to_owned()],
            "the ledger"
        );
    }
    // A done job sends nothing more.
    app.clock.advance(TimeDelta::minutes(30));
    runner.run_once().await.unwrap();
    assert_eq!(mail.smtp.messages().len(), 2);

    // Halfway: the reminder to the same two, each in their language.
    app.clock.advance(TimeDelta::days(3) + TimeDelta::hours(12));
    runner.run_once().await.unwrap();
    runner.run_once().await.unwrap();
    assert_eq!(mail.smtp.messages().len(), 4);
    let anne_got = to_address(&mail, "anne@lyon.example");
    assert!(anne_got[1].0.starts_with("Rappel : "), "{anne_got:?}");
    let team_got = to_address(&mail, team);
    assert!(team_got[1].0.starts_with("Recordatorio: "), "{team_got:?}");

    // Any one link marks it posted; the others are used up with it.
    let mut visitor = WebUser {
        cookies: Vec::new(),
    };
    let (status, page) = visitor.get(app, &team_link).await;
    assert_eq!(status, 200, "{page}");
    let csrf = csrf_of(&page);
    let res = visitor
        .post(
            app,
            &team_link,
            &[("csrf", &csrf), ("url", "https://forum.example/t/9")],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(variant_state(app, id).await["state"], "published");
    let (status, _) = visitor.get(app, &anne_link).await;
    assert_eq!(status, 410);
    app.clock.advance(TimeDelta::days(1));
    runner.run_once().await.unwrap();
    assert_eq!(mail.smtp.messages().len(), 4, "nothing more");
}

#[tokio::test]
async fn a_manual_accounts_recipients_are_written_one_per_line_on_its_page() {
    use crate::web::{PASSWORD, person, web_sign_in};
    let mail = mail_app().await;
    let app = &mail.app;
    let f = fixture(app).await;
    let ch = social_channel(app, f.org, "by-hand").await;
    let anne = account_in(app, "anne@lyon.example", "Anne", "fr").await;
    person(app, "ada@example.org", "Ada Admin", "admin", "en", PASSWORD).await;
    let mut ada = web_sign_in(app, "ada@example.org", PASSWORD).await;
    let (status, html) = ada.get(app, "/app/channel-accounts?lang=en").await;
    assert_eq!(status, 200);
    assert!(html.contains("id=\"acc-recipients\""), "{html}");
    assert!(html.contains("<option value=\"manual\""), "{html}");
    let csrf = csrf_of(&html);
    let accounts = || async {
        app.client
            .get(app.url("/api/v1/channel-accounts"))
            .bearer_auth(&app.admin)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };

    // A bad line: the page again, its line named beside the field, what was
    // typed kept (escaped), nothing written.
    let typed = format!("{anne}\n\nnot <an> address\nequipo@bilbao.example");
    let res = ada
        .post(
            app,
            "/app/channel-accounts",
            &[
                ("csrf", &csrf),
                ("network", "manual"),
                ("name", "Team"),
                ("channel_id", &ch.to_string()),
                ("recipients", &typed),
                ("default_language", "es"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    let at = html
        .find("id=\"err-recipients\"")
        .expect("beside the field");
    assert!(
        html[at..].starts_with("id=\"err-recipients\">Line 3: "),
        "{html}"
    );
    assert!(
        html.contains("aria-describedby=\"err-recipients\">"),
        "{html}"
    );
    assert!(html.contains("not &#60;an&#62; address"), "{html}");
    assert!(!html.contains("not <an>"), "{html}");
    assert_eq!(accounts().await, json!([]), "nothing written");

    let typed = format!("{anne}\n\nequipo@bilbao.example\n");
    let res = ada
        .post(
            app,
            "/app/channel-accounts",
            &[
                ("csrf", &csrf),
                ("network", "manual"),
                ("name", "Team"),
                ("channel_id", &ch.to_string()),
                ("recipients", &typed),
                ("default_language", "es"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let listed = accounts().await;
    assert_eq!(
        listed[0]["recipients"],
        json!([anne, "equipo@bilbao.example"])
    );
    assert_eq!(listed[0]["default_language"], "es");
    let id = listed[0]["id"].as_i64().unwrap();

    // Its own form: listed one per line; a bad line beside it, kept; then saved.
    let (_, html) = ada.get(app, "/app/channel-accounts?lang=en").await;
    assert!(
        html.contains(&format!(
            "name=\"recipients\" rows=\"4\">{anne}\nequipo@bilbao.example</textarea>"
        )),
        "{html}"
    );
    let form = format!("/app/channel-accounts/{id}/recipients");
    let res = ada
        .post(
            app,
            &form,
            &[
                ("csrf", &csrf),
                ("recipients", "equipo@bilbao.example\nequipo@bilbao.example"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(
        html.contains(&format!("id=\"err-recipients-{id}\">Line 2: listed twice")),
        "{html}"
    );
    assert_eq!(
        accounts().await[0]["recipients"],
        json!([anne, "equipo@bilbao.example"]),
        "nothing written"
    );
    let res = ada
        .post(
            app,
            &form,
            &[
                ("csrf", &csrf),
                ("recipients", "team@uclg.example"),
                ("default_language", "fr"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let listed = accounts().await;
    assert_eq!(listed[0]["recipients"], json!(["team@uclg.example"]));
    assert_eq!(listed[0]["default_language"], "fr");
    // A forged form, or an editor's, changes nothing.
    let res = ada
        .post(app, &form, &[("csrf", "forged"), ("recipients", "")])
        .await;
    assert_eq!(res.status(), 403);
    person(
        app,
        "ane@example.org",
        "Ane Editor",
        "editor",
        "en",
        PASSWORD,
    )
    .await;
    let mut ane = web_sign_in(app, "ane@example.org", PASSWORD).await;
    let (_, me) = ane.get(app, "/app/me").await;
    let res = ane
        .post(app, &form, &[("csrf", &csrf_of(&me)), ("recipients", "")])
        .await;
    assert_eq!(res.status(), 403);
    assert_eq!(
        accounts().await[0]["recipients"],
        json!(["team@uclg.example"])
    );
    // Emptied: back to the account's own address or the owner.
    let res = ada
        .post(app, &form, &[("csrf", &csrf), ("recipients", "")])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(accounts().await[0]["recipients"], json!([]));
}
