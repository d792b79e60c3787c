//! Signing in: links that expire and work once, passwords with failures
//! limited per account and per address on the service's clock, sessions that
//! are listed, revoked and ended everywhere.

use crate::accounts::{create_account, put_account};
use crate::helpers::*;
use crate::mail::spawn_mail_app;
use chrono::TimeDelta;
use serde_json::{Value, json};

/// A session for account `id`, through a fresh sign-in link.
async fn sign_in(app: &TestApp, id: i64) -> Value {
    let now = app.clock_now();
    let settings = app.settings.accounts.clone();
    let secret = app
        .db
        .transaction(move |c| {
            let account = pregon::db::accounts::get(c, id)?;
            pregon::app::sessions::create_link(now, c, &account, &settings)
        })
        .await
        .unwrap();
    redeem(app, &secret).await.json().await.unwrap()
}

async fn redeem(app: &TestApp, secret: &str) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/api/v1/sign-in/link/{secret}")))
        .send()
        .await
        .unwrap()
}

fn link_secret(link: &str) -> String {
    link.rsplit('/').next().unwrap().to_owned()
}

async fn get_status(app: &TestApp, secret: &str, path: &str) -> u16 {
    app.client
        .get(app.url(path))
        .bearer_auth(secret)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_sign_in_link_is_emailed_works_once_and_expires() {
    let mail = spawn_mail_app().await;
    let app = &mail.app;
    create_account(app, "ane@example.org", "editor").await;

    // The same answer whether or not the address has an account.
    let mut answers = Vec::new();
    for email in ["nobody@example.org", "ANE@example.org"] {
        let res = app
            .client
            .post(app.url("/api/v1/sign-in/link"))
            .json(&json!({ "email": email }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 202);
        answers.push(res.text().await.unwrap());
    }
    assert_eq!(answers[0], answers[1]);
    let messages = mail.smtp.wait_for_messages(1).await;
    assert_eq!(messages.len(), 1, "only the account's address gets a link");
    assert_eq!(messages[0].rcpt_to, vec!["ane@example.org".to_owned()]);
    let parsed = mail_parser::MessageParser::default()
        .parse(&messages[0].data[..])
        .unwrap();
    assert_eq!(parsed.subject(), Some("Tu enlace para entrar en Pregón"));
    let text = parsed.body_text(0).unwrap().to_string();
    let link = text
        .split_whitespace()
        .find(|w| w.starts_with("https://pregon.test/sign-in/pgl_"))
        .unwrap_or_else(|| panic!("no link in {text}"))
        .to_owned();

    let res = redeem(app, &link_secret(&link)).await;
    assert_eq!(res.status(), 201);
    let cookie = res
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let session: Value = res.json().await.unwrap();
    let secret = session["secret"].as_str().unwrap();
    assert!(secret.starts_with("pgs_"));
    assert!(
        cookie.starts_with(&format!("pregon_session={secret};")),
        "{cookie}"
    );
    for attribute in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
        assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
    }
    let me: Value = app
        .client
        .get(app.url("/api/v1/me"))
        .bearer_auth(secret)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["account"]["email"], "ane@example.org");
    assert_eq!(me["effective_role"], "editor");
    assert_eq!(me["session_id"], session["id"]);

    // Once only.
    expect_problem(redeem(app, &link_secret(&link)).await, 404).await;

    // 15 minutes: a link created now works at 14:59 and not at 15:00.
    let created = create_account(app, "bob@example.org", "viewer").await;
    let early = link_secret(created["sign_in_link"].as_str().unwrap());
    let id = created["id"].as_i64().unwrap();
    let now = app.clock_now();
    let settings = app.settings.accounts.clone();
    let late = app
        .db
        .transaction(move |c| {
            let account = pregon::db::accounts::get(c, id)?;
            pregon::app::sessions::create_link(now, c, &account, &settings)
        })
        .await
        .unwrap();
    app.clock.advance(TimeDelta::seconds(14 * 60 + 59));
    assert_eq!(redeem(app, &early).await.status(), 201);
    app.clock.advance(TimeDelta::seconds(1));
    expect_problem(redeem(app, &late).await, 404).await;
    expect_problem(redeem(app, "pgl_forged").await, 404).await;
}

#[tokio::test]
async fn sessions_are_listed_revoked_and_ended_everywhere() {
    let app = spawn_app().await;
    let ane = create_account(&app, "ane@example.org", "editor").await["id"]
        .as_i64()
        .unwrap();
    let first = sign_in(&app, ane).await;
    let second = sign_in(&app, ane).await;
    let s1 = first["secret"].as_str().unwrap();
    let s2 = second["secret"].as_str().unwrap();

    let list: Value = app
        .client
        .get(app.url("/api/v1/sessions"))
        .bearer_auth(s1)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert!(list.iter().all(|s| s.get("secret").is_none()));
    let current: Vec<&Value> = list.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["id"], first["id"]);

    // A session secret is a bearer credential for writes; the cookie alone
    // only reads.
    let org = json!({"slug": "bizkaia", "name": "Bizkaia", "kind": "partner"});
    let res = app
        .client
        .post(app.url("/api/v1/organisations"))
        .bearer_auth(s1)
        .json(&org)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let cookie = format!("pregon_session={s1}");
    let res = app
        .client
        .get(app.url("/api/v1/plans"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = app
        .client
        .post(app.url("/api/v1/organisations"))
        .header("cookie", &cookie)
        .json(&json!({"slug": "gipuzkoa", "name": "Gipuzkoa", "kind": "partner"}))
        .send()
        .await
        .unwrap();
    expect_problem(res, 401).await;

    // Someone else's session is not yours to end.
    let bob = create_account(&app, "bob@example.org", "viewer").await["id"]
        .as_i64()
        .unwrap();
    let bobs = sign_in(&app, bob).await;
    let res = app
        .client
        .delete(app.url(&format!("/api/v1/sessions/{}", bobs["id"])))
        .bearer_auth(s1)
        .send()
        .await
        .unwrap();
    expect_problem(res, 404).await;

    let res = app
        .client
        .delete(app.url(&format!("/api/v1/sessions/{}", second["id"])))
        .bearer_auth(s1)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(get_status(&app, s2, "/api/v1/plans").await, 401);
    assert_eq!(get_status(&app, s1, "/api/v1/plans").await, 200);

    let third = sign_in(&app, ane).await;
    let res = app
        .client
        .post(app.url("/api/v1/sessions/sign-out-everywhere"))
        .bearer_auth(s1)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let ended: Value = res.json().await.unwrap();
    assert_eq!(ended["ended"], 2);
    assert_eq!(get_status(&app, s1, "/api/v1/plans").await, 401);
    assert_eq!(
        get_status(&app, third["secret"].as_str().unwrap(), "/api/v1/plans").await,
        401
    );
    // Bob's session is untouched.
    let bob_secret = bobs["secret"].as_str().unwrap();
    assert_eq!(get_status(&app, bob_secret, "/api/v1/plans").await, 200);

    // Disabling Bob stops his session at once.
    let res = put_account(&app, bob, json!({"status": "disabled"})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(get_status(&app, bob_secret, "/api/v1/plans").await, 401);

    // Sessions expire after accounts.session_hours.
    let fourth = sign_in(&app, ane).await;
    let s4 = fourth["secret"].as_str().unwrap();
    app.clock.advance(
        TimeDelta::hours(i64::from(app.settings.accounts.session_hours)) - TimeDelta::seconds(1),
    );
    assert_eq!(get_status(&app, s4, "/api/v1/plans").await, 200);
    app.clock.advance(TimeDelta::seconds(1));
    assert_eq!(get_status(&app, s4, "/api/v1/plans").await, 401);
}

async fn password_sign_in(
    app: &TestApp,
    client: &reqwest::Client,
    email: &str,
    password: &str,
) -> reqwest::Response {
    client
        .post(app.url("/api/v1/sign-in"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

async fn set_password(app: &TestApp, account: i64, password: &str) {
    let session = sign_in(app, account).await;
    let res = app
        .client
        .put(app.url("/api/v1/me/password"))
        .bearer_auth(session["secret"].as_str().unwrap())
        .json(&json!({ "password": password }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let account: Value = res.json().await.unwrap();
    assert_eq!(account["has_password"], true);
    // The session that made the change stays.
    assert_eq!(
        get_status(app, session["secret"].as_str().unwrap(), "/api/v1/plans").await,
        200
    );
}

#[tokio::test]
async fn passwords_sign_in_and_failures_are_limited_per_account() {
    let app = spawn_app().await;
    let ane = create_account(&app, "ane@example.org", "editor").await["id"]
        .as_i64()
        .unwrap();
    let session = sign_in(&app, ane).await;
    let secret = session["secret"].as_str().unwrap();
    let res = app
        .client
        .put(app.url("/api/v1/me/password"))
        .bearer_auth(secret)
        .json(&json!({"password": "short"}))
        .send()
        .await
        .unwrap();
    assert_eq!(expect_problem(res, 422).await["field"], "password");
    set_password(&app, ane, "correct horse battery").await;
    // Setting it signed out Ane's other sessions.
    assert_eq!(get_status(&app, secret, "/api/v1/plans").await, 401);
    let session = sign_in(&app, ane).await;
    let secret = session["secret"].as_str().unwrap();
    // Changing it needs the current one.
    let res = app
        .client
        .put(app.url("/api/v1/me/password"))
        .bearer_auth(secret)
        .json(&json!({"password": "another long password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(expect_problem(res, 422).await["field"], "current_password");

    let client = &app.client;
    let res = password_sign_in(&app, client, "Ane@example.org", "correct horse battery").await;
    assert_eq!(res.status(), 201);
    let signed_in: Value = res.json().await.unwrap();
    assert_eq!(signed_in["method"], "password");
    let wrong = expect_problem(
        password_sign_in(&app, client, "ane@example.org", "wrong").await,
        401,
    )
    .await;
    let unknown = expect_problem(
        password_sign_in(&app, client, "nobody@example.org", "wrong").await,
        401,
    )
    .await;
    assert_eq!(wrong["detail"], unknown["detail"], "no account enumeration");

    // Four more failures make five for Ane: even the right password is then refused.
    for _ in 0..4 {
        expect_problem(
            password_sign_in(&app, client, "ane@example.org", "wrong").await,
            401,
        )
        .await;
    }
    app.clock.advance(TimeDelta::minutes(5));
    let res = password_sign_in(&app, client, "ane@example.org", "correct horse battery").await;
    let retry_after: i64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    expect_problem(res, 429).await;
    // The oldest counted failure leaves the 15-minute window 10 minutes from now.
    assert_eq!(retry_after, 10 * 60);
    app.clock.advance(TimeDelta::seconds(retry_after));
    let res = password_sign_in(&app, client, "ane@example.org", "correct horse battery").await;
    assert_eq!(res.status(), 201);
}

#[tokio::test]
async fn failures_are_limited_per_client_address() {
    let app = spawn_app_with(|s| s.accounts.max_failures_per_ip = 6).await;
    let bob = create_account(&app, "bob@example.org", "viewer").await["id"]
        .as_i64()
        .unwrap();
    set_password(&app, bob, "bob's long password").await;

    // Six failures from 127.0.0.1, each against another address.
    for n in 0..6 {
        let email = format!("guess{n}@example.org");
        expect_problem(
            password_sign_in(&app, &app.client, &email, "guess").await,
            401,
        )
        .await;
    }
    let res = password_sign_in(&app, &app.client, "bob@example.org", "bob's long password").await;
    assert!(res.headers().contains_key("retry-after"));
    expect_problem(res, 429).await;

    // Bob's own count is untouched: from another address he gets in.
    let other = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    let res = password_sign_in(&app, &other, "bob@example.org", "bob's long password").await;
    assert_eq!(res.status(), 201);

    // The window passes on the service's clock: the first address is free again.
    app.clock.advance(TimeDelta::minutes(i64::from(
        app.settings.accounts.failure_window_minutes,
    )));
    let res = password_sign_in(&app, &app.client, "bob@example.org", "bob's long password").await;
    assert_eq!(res.status(), 201);
}

#[tokio::test]
async fn the_link_page_signs_in_a_browser_with_a_button() {
    let app = spawn_app().await;
    let created = create_account(&app, "ane@example.org", "editor").await;
    let link = created["sign_in_link"].as_str().unwrap();
    let path = format!("/sign-in/{}", link_secret(link));
    assert_eq!(link, format!("{}{path}", app.settings.server.public_url));

    // Opening the page (as a link scanner would) uses nothing up.
    for _ in 0..2 {
        let res = app.client.get(app.url(&path)).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert!(res.text().await.unwrap().contains("<form method=\"post\">"));
    }
    // A form posted from another site is refused, and the link still works.
    let res = app
        .client
        .post(app.url(&path))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(res.headers().get("set-cookie").is_none());

    let res = app
        .client
        .post(app.url(&path))
        .header("origin", &app.settings.server.public_url)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-frame-options"], "DENY");
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && !cookie.contains("Secure"),
        "{cookie}"
    );
    let value = cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("pregon_session=")
        .to_owned();
    assert!(
        !res.text().await.unwrap().contains(&value),
        "the secret stays in the cookie"
    );
    let me = app
        .client
        .get(app.url("/api/v1/me"))
        .header("cookie", format!("pregon_session={value}"))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    // Once only.
    let res = app
        .client
        .post(app.url(&path))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert!(res.text().await.unwrap().contains("not valid"));
}

#[tokio::test]
async fn asking_again_and_again_emails_at_most_three_links() {
    let app = spawn_app().await;
    let id = create_account(&app, "ane@example.org", "editor").await["id"]
        .as_i64()
        .unwrap();
    // Signing in touches no data a feed or cache serves: anyone asking for
    // links must not make the feed caches rebuild.
    let generation = app.db.generation();
    for _ in 0..5 {
        let res = app
            .client
            .post(app.url("/api/v1/sign-in/link"))
            .json(&json!({"email": "ane@example.org"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 202);
    }
    let since = app.clock_now() - TimeDelta::days(1);
    let count = |app: &TestApp| {
        let mut conn = app.db.get().unwrap();
        pregon::db::sessions::links_since(&mut conn, id, since).unwrap()
    };
    // The one from the account's creation, and two asked for.
    assert_eq!(count(&app), 3);
    let link = pregon::app::sessions::link_url("", &{
        let now = app.clock_now();
        let settings = app.settings.accounts.clone();
        app.db
            .run(move |c| {
                let account = pregon::db::accounts::get(c, id)?;
                pregon::app::sessions::create_link(now, c, &account, &settings)
            })
            .await
            .unwrap()
    });
    assert_eq!(redeem(&app, &link_secret(&link)).await.status(), 201);
    assert_eq!(app.db.generation(), generation);
    app.clock.advance(TimeDelta::minutes(15));
    app.client
        .post(app.url("/api/v1/sign-in/link"))
        .json(&json!({"email": "ane@example.org"}))
        .send()
        .await
        .unwrap();
    // Fifteen minutes on, asking works again (one more than the 3 + the one made above).
    assert_eq!(count(&app), 5);
}

#[tokio::test]
async fn a_link_redeemed_many_times_at_once_opens_one_session() {
    let app = spawn_app().await;
    let created = create_account(&app, "ane@example.org", "editor").await;
    let secret = link_secret(created["sign_in_link"].as_str().unwrap());
    let attempts = (0..8).map(|_| redeem(&app, &secret));
    let statuses: Vec<u16> = futures_util::future::join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 404),
        "{statuses:?}"
    );
}
