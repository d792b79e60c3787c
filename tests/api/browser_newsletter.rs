//! The newsletter's flow in real headless Chromium: an editor composes an
//! issue in Spanish, English and French (the live preview follows her
//! typing), a second account approves it and sends it, the dispatcher sends
//! it through the SMTP test server on loopback, and the progress page, polled
//! by htmx, reaches "sent" by itself. Each subscriber gets their language.

use crate::helpers::*;
use crate::mail::spawn_mail_app_with;
use crate::web::{PASSWORD, person};
use crate::webdriver::{Browser, assert_accessible};
use serde_json::{Value, json};

const TAB: &str = "\u{E004}";

async fn sign_in(b: &Browser, app: &TestApp, email: &str, lang: &str) {
    b.goto(&app.url(&format!("/app/sign-in?lang={lang}"))).await;
    b.type_into("#email", email).await;
    b.type_into("#password", PASSWORD).await;
    b.click_css("form[action='/app/sign-in'] button[type=submit]")
        .await;
    b.find("nav[aria-label] a[href='/app/newsletter']").await;
}

async fn sign_out(b: &Browser) {
    b.click_css("form[action='/app/sign-out'] button").await;
    b.find("#password").await;
}

/// Waits, as a person watching the page would, for the text of `css` to hold
/// `wanted` without reloading: it changes only if the page updates itself.
async fn wait_for_live_text(b: &Browser, css: &str, wanted: &str) -> String {
    let mut last = String::new();
    for _ in 0..600 {
        if b.try_find(css).await.is_some() {
            last = b
                .script(
                    "const e = document.querySelector(arguments[0]); return e ? e.textContent : '';",
                    json!([css]),
                )
                .await
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if last.contains(wanted) {
                return last;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!(
        "{css} never read {wanted:?} on {}; it reads {last:?}",
        b.url().await
    );
}

/// Tab reaches every control of the page once, in document order, each with
/// a visible focus ring.
async fn tab_reaches_every_control(b: &Browser, what: &str) {
    let count = b
        .script(
            "return Array.from(document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea'))\
               .filter(e => e.tabIndex >= 0 && e.offsetParent !== null).length",
            json!([]),
        )
        .await
        .as_u64()
        .unwrap();
    let mark = "const all = Array.from(document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea'))\
                 .filter(e => e.tabIndex >= 0 && e.offsetParent !== null);\
                 const i = all.indexOf(document.activeElement);\
                 const s = getComputedStyle(document.activeElement);\
                 return [i, s.outlineStyle !== 'none' && s.outlineWidth !== '0px', document.activeElement.outerHTML.slice(0, 200)];";
    b.script(
        "document.activeElement && document.activeElement.blur(); window.scrollTo(0,0);",
        json!([]),
    )
    .await;
    let mut reached = Vec::new();
    for _ in 0..count {
        b.key(TAB).await;
        let r = b.script(mark, json!([])).await;
        assert_eq!(
            r[1],
            json!(true),
            "{what}: element {} has no visible focus: {}",
            r[0],
            r[2]
        );
        reached.push(r[0].clone());
    }
    let expected: Vec<Value> = (0..count).map(|i| json!(i)).collect();
    assert_eq!(
        reached, expected,
        "{what}: Tab order skipped or repeated controls"
    );
}

const TEXTS: [(&str, &str, &str); 3] = [
    (
        "es",
        "El estudio ya está aquí, {{name}}",
        "# Hola {{name}}\n\nYa está aquí el **Estudio de Ciudades Inteligentes**.",
    ),
    (
        "en",
        "The study is out, {{name}}",
        "# Hello {{name}}\n\nThe **Smart Cities Study** is here.",
    ),
    (
        "fr",
        "L'étude est parue, {{name}}",
        "# Bonjour {{name}}\n\nL'**Étude des villes intelligentes** est parue.",
    ),
];

#[tokio::test]
async fn an_editor_composes_in_three_languages_an_approver_approves_and_progress_reaches_sent() {
    let mail = spawn_mail_app_with(|s| {
        // The browser reaches the server on loopback, over http.
        s.server.public_url = String::new();
    })
    .await;
    let app = &mail.app;
    let list = mail.list("boletin").await;
    let people = [
        ("lucia@example.org", "Lucía", "es"),
        ("anna@example.org", "Anna", "en"),
        ("jeanne@example.org", "Jeanne", "fr"),
    ];
    for (email, name, lang) in people {
        mail.confirmed(list, email, name, lang).await;
    }
    person(
        app,
        "ane@example.org",
        "Ane Editor",
        "editor",
        "es",
        PASSWORD,
    )
    .await;
    person(
        app,
        "bea@example.org",
        "Bea Approver",
        "approver",
        "en",
        PASSWORD,
    )
    .await;
    let b = Browser::start().await;

    // Ane composes the issue; the preview follows her typing.
    sign_in(&b, app, "ane@example.org", "es").await;
    b.click_css("nav[aria-label] a[href='/app/newsletter']")
        .await;
    b.click_css("a[href='/app/newsletter/issues/new']").await;
    b.find("#composer").await;
    assert_accessible(&b, "the empty composer").await;
    tab_reaches_every_control(&b, "the composer").await;
    b.type_into("#name", "Lanzamiento del estudio").await;
    b.click_css(&format!("#list-{list}")).await;
    for (lang, subject, body) in TEXTS {
        b.type_into(&format!("#subject-{lang}"), subject).await;
        b.type_into(&format!("#body-{lang}"), body).await;
    }
    // htmx posted the form as it changed: the three languages, rendered.
    wait_for_live_text(&b, "#preview", "L'étude est parue, Ana").await;
    // The last thing typed: the French text, to its final full stop.
    wait_for_live_text(&b, "#preview-html-fr", "est parue.").await;
    let html_fr = b.text("#preview-html-fr").await;
    assert!(html_fr.contains("Bonjour Ana"), "{html_fr}");
    let text_es = b.text("#preview-text-es").await;
    assert!(text_es.contains("Hola Ana"), "{text_es}");
    assert!(
        b.script(
            "return document.querySelector('#preview-html-en strong').textContent",
            json!([])
        )
        .await
            == json!("Smart Cities Study")
    );
    assert_accessible(&b, "the composer with its preview").await;
    // Nothing is written until she saves.
    assert_eq!(app.get_json("/api/v1/issues").await["total"], 0);
    b.click_css("button[name=do][value=save]").await;
    b.wait_for_url("saved=1").await;
    let issues = app.get_json("/api/v1/issues").await;
    let id = issues["items"][0]["id"].as_i64().unwrap();
    assert_eq!(
        issues["items"][0]["translations"]["fr"]["subject"],
        TEXTS[2].1
    );
    assert_accessible(&b, "the issue page (es)").await;
    // Not approved: no sending yet; she sends it for review.
    b.find("#needs-approval").await;
    b.click_css("button[value=submit]").await;
    b.wait_for_url("saved=review").await;
    assert_eq!(b.text("#review-state").await, "en revisión");
    assert!(b.try_find("button[value=approve]").await.is_none());
    sign_out(&b).await;

    // Bea approves it and sends it now.
    sign_in(&b, app, "bea@example.org", "en").await;
    b.goto(&app.url(&format!("/app/newsletter/issues/{id}")))
        .await;
    assert_eq!(b.text("#review-state").await, "in review");
    assert_accessible(&b, "the issue page in review (en)").await;
    tab_reaches_every_control(&b, "the issue page").await;
    b.click_css("button[value=approve]").await;
    b.wait_for_url("saved=review").await;
    assert_eq!(b.text("#review-state").await, "approved");
    assert!(b.try_find("#needs-approval").await.is_none());
    b.click_css("#send-now").await;
    b.wait_for_url(&format!("/app/newsletter/issues/{id}/progress"))
        .await;
    assert_eq!(b.text("#count-total").await, "3");
    assert_eq!(
        b.script(
            "return document.querySelector('#issue-state').dataset.state",
            json!([])
        )
        .await,
        json!("sending")
    );
    assert_accessible(&b, "the progress page while sending").await;

    // The dispatcher sends it through the SMTP server on loopback; the page,
    // left alone, follows by itself (htmx polls its counts every 2 s).
    mail.run().await;
    let messages = mail.smtp.wait_for_messages(3).await;
    assert_eq!(messages.len(), 3);
    if mail.progress(id).await["state"] != "sent" {
        mail.run().await;
    }
    assert_eq!(mail.progress(id).await["state"], "sent");
    wait_for_live_text(&b, "#issue-state", "sent").await;
    assert_eq!(b.text("#count-sent").await, "3");
    assert!(
        b.url().await.ends_with("/progress"),
        "the page was reloaded"
    );
    // The per-recipient report.
    let report = b.text("#recipients").await;
    for (email, _, _) in people {
        assert!(report.contains(email), "{report}");
    }
    assert_accessible(&b, "the progress page, sent").await;

    // Each subscriber received their own language.
    let wanted = [
        (
            "lucia@example.org",
            "El estudio ya está aquí, Lucía",
            "Hola Lucía",
        ),
        ("anna@example.org", "The study is out, Anna", "Hello Anna"),
        (
            "jeanne@example.org",
            "L'étude est parue, Jeanne",
            "Bonjour Jeanne",
        ),
    ];
    for (email, subject, greeting) in wanted {
        let got = mail.received_by(email);
        assert_eq!(got.len(), 1, "{email}");
        let parsed = mail_parser::MessageParser::default()
            .parse(&got[0].data[..])
            .unwrap();
        assert_eq!(parsed.subject(), Some(subject), "{email}");
        let text = parsed.body_text(0).unwrap().to_string();
        assert!(text.contains(greeting), "{email}: {text}");
        assert!(parsed.header("List-Unsubscribe").is_some(), "{email}");
    }
}
