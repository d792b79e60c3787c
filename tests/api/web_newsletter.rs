//! The newsletter's team pages over plain HTTP: the composer (errors beside
//! their field, nothing written; the preview button and htmx's preview
//! endpoint write nothing), the CSV import (every bad line listed, nothing
//! imported), search, CSRF on every form, and a viewer who sees no controls
//! and gets 403 when posting anyway. The whole flow in a browser is in
//! `browser_newsletter.rs`.

use crate::helpers::*;
use crate::web::{PASSWORD, csrf_of, person, web_sign_in};
use serde_json::json;

async fn issue_count(app: &TestApp) -> i64 {
    app.get_json("/api/v1/issues").await["total"]
        .as_i64()
        .unwrap()
}

async fn list(app: &TestApp, slug: &str) -> i64 {
    app.create(
        "/api/v1/lists",
        json!({"slug": slug, "name": format!("Boletín {slug}"), "public_subscribe": true, "default_language": "es"}),
    )
    .await["id"]
        .as_i64()
        .unwrap()
}

fn composer_form<'a>(csrf: &'a str, list: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("version", ""),
        ("name", "Lanzamiento del estudio"),
        ("list_ids", list),
        ("translations.es.subject", "Ya está aquí, {{name}}"),
        (
            "translations.es.body",
            "# Hola {{name}}\n\nEl **estudio** está aquí.",
        ),
        ("translations.en.subject", "It is here, {{name}}"),
        (
            "translations.en.body",
            "# Hello {{name}}\n\nThe **study** is here.",
        ),
        ("translations.fr.subject", "Il est là, {{name}}"),
        (
            "translations.fr.body",
            "# Bonjour {{name}}\n\nL'**étude** est là.",
        ),
    ]
}

#[tokio::test]
async fn the_composer_saves_three_languages_and_shows_errors_beside_their_fields() {
    let app = spawn_app().await;
    person(&app, "ane@example.org", "Ane", "editor", "en", PASSWORD).await;
    let mut ane = web_sign_in(&app, "ane@example.org", PASSWORD).await;
    let l = list(&app, "boletin").await.to_string();
    let (status, page) = ane.get(&app, "/app/newsletter/issues/new").await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("hx-post=\"/app/newsletter/preview\""),
        "{page}"
    );
    assert!(page.contains("keyup delay:600ms"), "{page}");
    let csrf = csrf_of(&page);

    // No list: the error is beside the lists, nothing written.
    let mut form = composer_form(&csrf, &l);
    form.retain(|(k, _)| *k != "list_ids");
    form.push(("do", "save"));
    let res = ane.post(&app, "/app/newsletter/issues/new", &form).await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("id=\"err-lists\""), "{html}");
    // What was typed is kept.
    assert!(html.contains("Il est là"), "{html}");
    assert_eq!(issue_count(&app).await, 0);

    // An unknown placeholder: beside that language's text.
    let mut form = composer_form(&csrf, &l);
    form[5] = ("translations.es.body", "Hola {{nombre}}");
    form.push(("do", "save"));
    let res = ane.post(&app, "/app/newsletter/issues/new", &form).await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("id=\"err-body-es\""), "{html}");
    assert_eq!(issue_count(&app).await, 0);

    // "Preview" without JavaScript: the same preview, nothing written.
    let mut form = composer_form(&csrf, &l);
    form.push(("do", "preview"));
    let res = ane.post(&app, "/app/newsletter/issues/new", &form).await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("Ya está aquí, Ana"), "{html}");
    assert!(html.contains("<strong>estudio</strong>"), "{html}");
    assert!(html.contains("Il est là, Ana"), "{html}");
    assert_eq!(issue_count(&app).await, 0);

    // htmx's preview endpoint: a fragment, nothing written.
    let res = ane.post(&app, "/app/newsletter/preview", &form).await;
    assert_eq!(res.status(), 200);
    let fragment = res.text().await.unwrap();
    assert!(!fragment.contains("<html"), "{fragment}");
    assert!(fragment.contains("It is here, Ana"), "{fragment}");
    assert!(fragment.contains("id=\"preview-text-fr\""), "{fragment}");
    assert_eq!(issue_count(&app).await, 0);

    // Saved: through the use-case layer, with its history.
    let mut form = composer_form(&csrf, &l);
    form.push(("do", "save"));
    let res = ane.post(&app, "/app/newsletter/issues/new", &form).await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let issues = app.get_json("/api/v1/issues").await;
    let issue = &issues["items"][0];
    let id = issue["id"].as_i64().unwrap();
    assert_eq!(
        issue["translations"]["fr"]["subject"],
        "Il est là, {{name}}"
    );
    assert_eq!(issue["list_ids"], json!([l.parse::<i64>().unwrap()]));
    let history = app.get_json(&format!("/api/v1/issues/{id}/history")).await;
    assert_eq!(history[0]["action"], "created", "{history}");

    // Editing it keeps its version; a stale version is a conflict, nothing written.
    let (_, page) = ane
        .get(&app, &format!("/app/newsletter/issues/{id}/edit"))
        .await;
    assert!(page.contains("It is here, {{name}}"), "{page}");
    let mut form = composer_form(&csrf, &l);
    form[1] = ("version", "1");
    form[2] = ("name", "Launch");
    form.push(("do", "save"));
    let res = ane
        .post(&app, &format!("/app/newsletter/issues/{id}/edit"), &form)
        .await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let res = ane
        .post(&app, &format!("/app/newsletter/issues/{id}/edit"), &form)
        .await;
    assert_eq!(res.status(), 409);
    let got = app.get_json(&format!("/api/v1/issues/{id}")).await;
    assert_eq!(got["name"], "Launch");
    assert_eq!(got["version"], 2);

    // Not approved yet: sending is refused on the page, nothing queued.
    let (_, page) = ane.get(&app, &format!("/app/newsletter/issues/{id}")).await;
    assert!(page.contains("id=\"needs-approval\""), "{page}");
    let res = ane
        .post(
            &app,
            &format!("/app/newsletter/issues/{id}/send"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(res.status(), 409);
    let got = app.get_json(&format!("/api/v1/issues/{id}")).await;
    assert_eq!(got["state"], "draft");

    // A schedule with a zone that does not exist: beside the zone field.
    let res = ane
        .post(
            &app,
            &format!("/app/newsletter/issues/{id}/schedule"),
            &[
                ("csrf", &csrf),
                ("at", "2020-03-10T10:00"),
                ("time_zone", "Europe/Bilbao"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("id=\"err-time_zone\""), "{html}");
    assert!(html.contains("value=\"Europe/Bilbao\""), "{html}");
}

#[tokio::test]
async fn newsletter_forms_refuse_a_missing_token_and_a_viewer() {
    let app = spawn_app().await;
    person(&app, "ane@example.org", "Ane", "editor", "en", PASSWORD).await;
    person(&app, "vic@example.org", "Vic", "viewer", "en", PASSWORD).await;
    let mut ane = web_sign_in(&app, "ane@example.org", PASSWORD).await;
    let mut vic = web_sign_in(&app, "vic@example.org", PASSWORD).await;
    let l = list(&app, "boletin").await;
    let issue = app
        .create(
            "/api/v1/issues",
            json!({"name": "Issue", "list_ids": [l],
                   "translations": {"en": {"subject": "S", "body": "B"}}}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let posts = [
        "/app/newsletter/issues/new".to_owned(),
        "/app/newsletter/preview".to_owned(),
        format!("/app/newsletter/issues/{issue}/edit"),
        format!("/app/newsletter/issues/{issue}/review"),
        format!("/app/newsletter/issues/{issue}/test"),
        format!("/app/newsletter/issues/{issue}/schedule"),
        format!("/app/newsletter/issues/{issue}/send"),
        format!("/app/newsletter/issues/{issue}/pause"),
        format!("/app/newsletter/issues/{issue}/resume"),
        format!("/app/newsletter/issues/{issue}/cancel"),
        format!("/app/newsletter/issues/{issue}/unschedule"),
        format!("/app/newsletter/issues/{issue}/retry-failed"),
        format!("/app/newsletter/lists/{l}/import"),
    ];
    let l_text = l.to_string();
    // Without the token, or with a wrong one: 403 for everyone, nothing written.
    for path in &posts {
        let mut form = composer_form("", &l_text);
        form.retain(|(k, _)| *k != "csrf");
        form.push(("do", "save"));
        form.push(("action", "submit"));
        form.push(("csv", "email\nx@example.org\n"));
        let res = ane.post(&app, path, &form).await;
        assert_eq!(res.status(), 403, "{path} without a token");
        form.push(("csrf", "0000000000000000000000000000000000000000"));
        let res = ane.post(&app, path, &form).await;
        assert_eq!(res.status(), 403, "{path} with a wrong token");
    }
    // A viewer sees no controls …
    for page in [
        "/app/newsletter".to_owned(),
        format!("/app/newsletter/issues/{issue}"),
        format!("/app/newsletter/lists/{l}"),
        format!("/app/newsletter/issues/{issue}/progress"),
    ] {
        let (status, html) = vic.get(&app, &page).await;
        assert_eq!(status, 200, "{page}");
        for control in [
            "/issues/new",
            "/edit\"",
            "/review\"",
            "/test\"",
            "/schedule\"",
            "/send\"",
            "/pause\"",
            "/resume\"",
            "/cancel\"",
            "/unschedule\"",
            "/retry-failed\"",
            "/import\"",
        ] {
            assert!(!html.contains(control), "a viewer sees {control} on {page}");
        }
    }
    let (status, _) = vic.get(&app, "/app/newsletter/issues/new").await;
    assert_eq!(status, 403);
    let (status, _) = vic
        .get(&app, &format!("/app/newsletter/issues/{issue}/edit"))
        .await;
    assert_eq!(status, 403);
    // … and gets 403 when posting anyway, with a valid token.
    let csrf = csrf_of(&vic.get(&app, "/app/newsletter").await.1);
    for path in &posts {
        let mut form = composer_form(&csrf, &l_text);
        form.push(("do", "save"));
        form.push(("action", "approve"));
        form.push(("address", "vic@example.org"));
        form.push(("at", "2030-03-10T10:00"));
        form.push(("time_zone", "Europe/Madrid"));
        form.push(("csv", "email\nx@example.org\n"));
        let res = vic.post(&app, path, &form).await;
        assert_eq!(res.status(), 403, "a viewer posting to {path}");
    }
    assert_eq!(issue_count(&app).await, 1);
    let got = app.get_json(&format!("/api/v1/issues/{issue}")).await;
    assert_eq!(got["version"], 1);
    assert_eq!(got["state"], "draft");
    let review = app
        .get_json(&format!("/api/v1/issues/{issue}/review"))
        .await;
    assert_eq!(review["state"], "draft");
    let subs = app.get_json("/api/v1/subscribers").await;
    assert_eq!(subs["total"], 0);
}

#[tokio::test]
async fn a_csv_import_lists_every_bad_line_and_imports_nothing_until_fixed() {
    let app = spawn_app().await;
    person(&app, "ane@example.org", "Ane", "editor", "en", PASSWORD).await;
    let mut ane = web_sign_in(&app, "ane@example.org", PASSWORD).await;
    let l = list(&app, "boletin").await;
    let page = format!("/app/newsletter/lists/{l}");
    let (status, html) = ane.get(&app, &page).await;
    assert_eq!(status, 200);
    assert!(
        html.contains(&format!("/api/v1/lists/{l}/export.csv")),
        "{html}"
    );
    let csrf = csrf_of(&html);
    let import = format!("{page}/import");
    let bad = "email,name,language\nana@example.org,Ana,es\nnot-an-address,Bad,es\nluc@example.org,Luc,xx\n";
    let res = ane
        .post(&app, &import, &[("csrf", &csrf), ("csv", bad)])
        .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("id=\"line-errors\""), "{html}");
    assert!(html.contains("Line 3"), "{html}");
    assert!(html.contains("Line 4"), "{html}");
    assert!(!html.contains("Line 2:"), "{html}");
    // The pasted text stays in the form to be fixed.
    assert!(html.contains("not-an-address"), "{html}");
    assert_eq!(app.get_json("/api/v1/subscribers").await["total"], 0);
    // Confirmed without saying how consent was obtained: beside that field.
    let good = "email,name,language\nana@example.org,Ana,es\nluc@example.org,Luc Martin,fr\n";
    let res = ane
        .post(
            &app,
            &import,
            &[("csrf", &csrf), ("csv", good), ("confirmed", "1")],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("id=\"err-source\""));
    assert_eq!(app.get_json("/api/v1/subscribers").await["total"], 0);
    let res = ane
        .post(
            &app,
            &import,
            &[
                ("csrf", &csrf),
                ("csv", good),
                ("confirmed", "1"),
                ("source", "2019 Congress sign-up sheet"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let subs = app.get_json("/api/v1/subscribers").await;
    assert_eq!(subs["total"], 2);
    assert_eq!(subs["items"][0]["subscriptions"][0]["status"], "confirmed");
    // Search by part of the address or of the name.
    let (_, html) = ane.get(&app, &format!("{page}?q=martin")).await;
    assert!(html.contains("luc@example.org"), "{html}");
    assert!(!html.contains("ana@example.org"), "{html}");
    let (_, html) = ane.get(&app, &format!("{page}?q=ana%40")).await;
    assert!(html.contains("ana@example.org"), "{html}");
    assert!(!html.contains("luc@example.org"), "{html}");
    // A LIKE wildcard is searched for literally.
    let (_, html) = ane.get(&app, &format!("{page}?q=%25")).await;
    assert!(!html.contains("@example.org</td>"), "{html}");
    // The export the page links to.
    let csv = app
        .get(&format!("/api/v1/lists/{l}/export.csv"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(csv.contains("luc@example.org"), "{csv}");
}
