//! "My account" and the tokens page over plain HTTP: the language and the
//! weekly digest saved through the use-case layer, sessions ended one by one
//! or everywhere; tokens listed (each account its own, an administrator all),
//! created with the secret shown once and working against the API, revoked;
//! CSRF on every form and nobody reaching someone else's token.

use crate::helpers::*;
use crate::web::{PASSWORD, WebUser, csrf_of, person, web_sign_in};
use serde_json::Value;

/// A GET of the API as the administrator.
async fn admin_json(app: &TestApp, path: &str) -> Value {
    let res = app
        .client
        .get(app.url(path))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{path}");
    res.json().await.unwrap()
}

async fn preferences(app: &TestApp, id: i64) -> Value {
    admin_json(app, &format!("/api/v1/accounts/{id}/preferences")).await
}

#[tokio::test]
async fn my_account_saves_the_language_and_the_digest_switch() {
    let app = spawn_app().await;
    let id = person(&app, "ane@example.org", "Ane", "viewer", "es", PASSWORD).await;
    let mut ane = web_sign_in(&app, "ane@example.org", PASSWORD).await;
    let (status, html) = ane.get(&app, "/app/me").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("<h1>Mi cuenta</h1>"), "{html}");
    assert!(html.contains("ane@example.org"));
    assert!(
        html.contains("name=\"weekly_digest\" value=\"on\" checked"),
        "{html}"
    );
    // Every page links to it from the person's name.
    let (_, agenda) = ane.get(&app, "/app/agenda").await;
    assert!(agenda.contains("href=\"/app/me\""));
    let csrf = csrf_of(&html);
    // The digest off: the box not ticked.
    let res = ane.post(&app, "/app/me/digest", &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(preferences(&app, id).await["weekly_digest"], false);
    let (_, html) = ane.get(&app, "/app/me?saved=digest").await;
    assert!(html.contains("Se ha guardado tu elección"), "{html}");
    assert!(!html.contains("value=\"on\" checked"), "{html}");
    // And on again, as the API says.
    let res = ane
        .post(
            &app,
            "/app/me/digest",
            &[("csrf", &csrf), ("weekly_digest", "on")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(preferences(&app, id).await["weekly_digest"], true);
    // The language: French from now on, in the account (and the pages).
    let res = ane
        .post(
            &app,
            "/app/me/language",
            &[("csrf", &csrf), ("language", "fr")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let account = admin_json(&app, &format!("/api/v1/accounts/{id}")).await;
    assert_eq!(account["language"], "fr");
    let (_, html) = ane.get(&app, "/app/me").await;
    assert!(html.contains("<h1>Mon compte</h1>"), "{html}");
    // Recorded in the history of the account, by the person.
    let history = app
        .db
        .run(move |c| pregon::app::history::of_record(c, "account", id))
        .await
        .unwrap();
    let text = serde_json::to_string(&history).unwrap();
    assert!(
        text.contains("preferences.weekly_digest") && text.contains("\"language\""),
        "{text}"
    );
    // A language that is not one: refused, nothing changed.
    let res = ane
        .post(
            &app,
            "/app/me/language",
            &[("csrf", &csrf), ("language", "de")],
        )
        .await;
    assert_eq!(res.status(), 422);
    let account = admin_json(&app, &format!("/api/v1/accounts/{id}")).await;
    assert_eq!(account["language"], "fr");
}

#[tokio::test]
async fn sessions_end_one_by_one_or_everywhere() {
    let app = spawn_app().await;
    person(&app, "ane@example.org", "Ane", "editor", "en", PASSWORD).await;
    let mut laptop = web_sign_in(&app, "ane@example.org", PASSWORD).await;
    let mut phone = web_sign_in(&app, "ane@example.org", PASSWORD).await;
    let mut tablet = web_sign_in(&app, "ane@example.org", PASSWORD).await;
    let (_, html) = laptop.get(&app, "/app/me").await;
    // Three browsers, and the emailed link `person` set the password with.
    assert_eq!(html.matches("/end\"").count(), 4, "{html}");
    assert_eq!(html.matches("this browser").count(), 1);
    let csrf = csrf_of(&html);
    // End the phone's session from the laptop: the phone is signed out.
    let (_, phone_page) = phone.get(&app, "/app/me").await;
    let at = phone_page.find("this browser").unwrap();
    let form = phone_page[at..].find("/app/me/sessions/").unwrap() + at;
    let rest = &phone_page[form + "/app/me/sessions/".len()..];
    let phone_session = &rest[..rest.find('/').unwrap()];
    let res = laptop
        .post(
            &app,
            &format!("/app/me/sessions/{phone_session}/end"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(res.status(), 303);
    let (status, _) = phone.get(&app, "/app/me").await;
    assert_eq!(status, 303, "the phone is signed out");
    let (status, _) = laptop.get(&app, "/app/me").await;
    assert_eq!(status, 200, "the laptop is not");
    // Someone else's session is not found, and stays.
    person(&app, "vic@example.org", "Vic", "viewer", "en", PASSWORD).await;
    let mut vic = web_sign_in(&app, "vic@example.org", PASSWORD).await;
    let (_, tablet_page) = tablet.get(&app, "/app/me").await;
    let at = tablet_page.find("this browser").unwrap();
    let form = tablet_page[at..].find("/app/me/sessions/").unwrap() + at;
    let rest = &tablet_page[form + "/app/me/sessions/".len()..];
    let tablet_session = rest[..rest.find('/').unwrap()].to_owned();
    let vic_csrf = csrf_of(&vic.get(&app, "/app/me").await.1);
    let res = vic
        .post(
            &app,
            &format!("/app/me/sessions/{tablet_session}/end"),
            &[("csrf", &vic_csrf)],
        )
        .await;
    assert_eq!(res.status(), 404);
    assert_eq!(tablet.get(&app, "/app/me").await.0, 200);
    // Without the token: refused, nothing ends.
    let res = laptop.post(&app, "/app/me/sign-out-everywhere", &[]).await;
    assert_eq!(res.status(), 403);
    assert_eq!(tablet.get(&app, "/app/me").await.0, 200);
    // Everywhere: the laptop and the tablet both, Vic not.
    let laptop_cookies = laptop.cookies.clone();
    let res = laptop
        .post(&app, "/app/me/sign-out-everywhere", &[("csrf", &csrf)])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/app/sign-in");
    assert_eq!(tablet.get(&app, "/app/me").await.0, 303);
    assert_eq!(
        WebUser {
            cookies: laptop_cookies
        }
        .get(&app, "/app/me")
        .await
        .0,
        303
    );
    assert_eq!(vic.get(&app, "/app/me").await.0, 200);
}

/// The secret shown on a tokens page answer.
fn secret_of(html: &str) -> String {
    let at = html
        .find("id=\"secret\" readonly value=\"")
        .expect("the secret");
    let rest = &html[at + "id=\"secret\" readonly value=\"".len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

async fn tokens_api(app: &TestApp) -> Vec<Value> {
    admin_json(app, "/api/v1/tokens")
        .await
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn each_account_makes_and_revokes_its_own_tokens_the_secret_shown_once() {
    let app = spawn_app().await;
    let ane_id = person(&app, "ane@example.org", "Ane", "editor", "en", PASSWORD).await;
    let mut ane = web_sign_in(&app, "ane@example.org", PASSWORD).await;
    person(&app, "vic@example.org", "Vic", "viewer", "en", PASSWORD).await;
    let mut vic = web_sign_in(&app, "vic@example.org", PASSWORD).await;
    let (status, html) = ane.get(&app, "/app/tokens").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("No tokens yet."), "{html}");
    // An editor may give a token their role or less, never more.
    assert!(html.contains("<option value=\"editor\""));
    assert!(!html.contains("<option value=\"approver\""));
    assert!(
        !html.contains("name=\"account\""),
        "only an admin chooses the account"
    );
    let csrf = csrf_of(&html);
    let res = ane
        .post(
            &app,
            "/app/tokens",
            &[("csrf", &csrf), ("name", "ane-script"), ("role", "admin")],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("id=\"err-role\""));
    let res = ane
        .post(
            &app,
            "/app/tokens",
            &[("csrf", &csrf), ("name", " "), ("role", "viewer")],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("id=\"err-name\""));
    assert!(
        tokens_api(&app)
            .await
            .iter()
            .all(|t| t["name"] != "ane-script")
    );
    // Made: the secret on this answer, not cached, working against the API.
    let res = ane
        .post(
            &app,
            "/app/tokens",
            &[("csrf", &csrf), ("name", "ane-script"), ("role", "viewer")],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let html = res.text().await.unwrap();
    let secret = secret_of(&html);
    assert!(secret.starts_with("pgn_"), "{secret}");
    let me = app
        .client
        .get(app.url("/api/v1/me"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["account"]["id"], ane_id);
    assert_eq!(me["effective_role"], "viewer");
    // Never again: the list shows the name, not the secret.
    let (_, html) = ane.get(&app, "/app/tokens").await;
    assert!(html.contains("ane-script"));
    assert!(!html.contains(&secret));
    // A second token of the same name: beside the name.
    let res = ane
        .post(
            &app,
            "/app/tokens",
            &[("csrf", &csrf), ("name", "ane-script"), ("role", "viewer")],
        )
        .await;
    assert_eq!(res.status(), 409);
    assert!(res.text().await.unwrap().contains("id=\"err-name\""));
    // Vic sees none of Ane's tokens and cannot revoke them.
    let token_id = tokens_api(&app)
        .await
        .iter()
        .find(|t| t["name"] == "ane-script")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let (_, vic_html) = vic.get(&app, "/app/tokens").await;
    assert!(!vic_html.contains("ane-script"));
    let vic_csrf = csrf_of(&vic_html);
    let res = vic
        .post(
            &app,
            &format!("/app/tokens/{token_id}/revoke"),
            &[("csrf", &vic_csrf)],
        )
        .await;
    assert_eq!(res.status(), 404);
    // Without the token: refused, nothing revoked.
    let res = ane
        .post(&app, &format!("/app/tokens/{token_id}/revoke"), &[])
        .await;
    assert_eq!(res.status(), 403);
    let res = ane
        .post(&app, "/app/tokens", &[("name", "x"), ("role", "viewer")])
        .await;
    assert_eq!(res.status(), 403);
    let t = app
        .client
        .get(app.url("/api/v1/me"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(t.status(), 200);
    // Revoked by its owner: it stops working.
    let res = ane
        .post(
            &app,
            &format!("/app/tokens/{token_id}/revoke"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(res.status(), 303);
    let t = app
        .client
        .get(app.url("/api/v1/me"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(t.status(), 401);
    let (_, html) = ane.get(&app, "/app/tokens?saved=revoked&lang=en").await;
    assert!(html.contains("The token was revoked"), "{html}");
    assert!(html.contains("revoked"));
}

#[tokio::test]
async fn an_administrator_sees_every_token_and_makes_one_for_anyone() {
    let app = spawn_app().await;
    person(&app, "adm@example.org", "Adm", "admin", "en", PASSWORD).await;
    let ane_id = person(&app, "ane@example.org", "Ane", "editor", "en", PASSWORD).await;
    let mut adm = web_sign_in(&app, "adm@example.org", PASSWORD).await;
    let (_, html) = adm.get(&app, "/app/tokens").await;
    // The test app's own tokens are there, by name.
    for t in tokens_api(&app).await {
        assert!(html.contains(t["name"].as_str().unwrap()), "{t}");
    }
    assert!(html.contains("name=\"account\""));
    let csrf = csrf_of(&html);
    // More than the account's role: refused by the use-case layer, beside the role.
    let res = adm
        .post(
            &app,
            "/app/tokens",
            &[
                ("csrf", &csrf),
                ("name", "ane-admin"),
                ("role", "admin"),
                ("account", &ane_id.to_string()),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("id=\"err-role\""));
    let res = adm
        .post(
            &app,
            "/app/tokens",
            &[
                ("csrf", &csrf),
                ("name", "ane-bot"),
                ("role", "editor"),
                ("account", &ane_id.to_string()),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    let secret = secret_of(&res.text().await.unwrap());
    let me: Value = app
        .client
        .get(app.url("/api/v1/me"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["account"]["id"], ane_id);
    assert_eq!(me["effective_role"], "editor");
}
