//! The web interface in a real browser: Debian's headless Chromium, driven
//! through chromedriver (see `webdriver.rs`), doing what people do. axe-core
//! checks every page against the WCAG 2.2 A and AA rules; a keyboard test
//! tabs through the main flow; untrusted titles must never run as script.

use crate::helpers::*;
use crate::mail::spawn_mail_app_with;
use crate::web::{PASSWORD, malaga_id, person};
use crate::webdriver::{Browser, assert_accessible, sign_in};
use serde_json::{Value, json};

const TAB: &str = "\u{E004}";
const ENTER: &str = "\u{E007}";

async fn sign_out(b: &Browser) {
    b.click_css("form[action='/app/sign-out'] button").await;
    b.find("#password").await;
}

#[tokio::test]
async fn an_officer_confirms_the_malaga_date_and_a_second_account_approves_it() {
    let app = spawn_seeded_app().await;
    person(
        &app,
        "ane@example.org",
        "Ane Editor",
        "editor",
        "es",
        PASSWORD,
    )
    .await;
    person(
        &app,
        "bea@example.org",
        "Bea Approver",
        "approver",
        "en",
        PASSWORD,
    )
    .await;
    let id = malaga_id(&app).await;
    let b = Browser::start().await;
    sign_in(&b, &app, "ane@example.org", "es").await;
    // In the agenda the Málaga event waits, date to be confirmed.
    b.goto(&app.url("/app/agenda")).await;
    let item = b
        .text(&format!("li:has(a[href='/app/activities/{id}'])"))
        .await;
    assert!(item.contains("Fecha por confirmar"), "{item}");
    b.click_css(&format!("a[href='/app/activities/{id}']"))
        .await;
    b.click_css(&format!("a[href='/app/activities/{id}/edit']"))
        .await;
    b.select("#precision", "days").await;
    b.type_into("#start", "2020-10-08").await;
    b.type_into("#end", "2020-10-09").await;
    b.select("#status", "confirmed").await;
    b.type_into("#reason", "fecha confirmada por URAIA").await;
    b.click_css("form[action$='/edit'] button[type=submit]")
        .await;
    b.wait_for_url("saved=1").await;
    let when = b.text("dl.facts").await;
    assert!(when.contains("jueves 8 de octubre de 2020"), "{when}");
    // The history says who, when and why.
    assert!(
        b.text("table").await.contains("fecha confirmada por URAIA")
            || b.source().await.contains("fecha confirmada por URAIA")
    );
    // It moved in the agenda and the month grid …
    b.goto(&app.url("/app/agenda")).await;
    let item = b
        .text(&format!("li:has(a[href='/app/activities/{id}'])"))
        .await;
    assert!(!item.contains("Fecha por confirmar"), "{item}");
    assert!(item.contains("8 de octubre de 2020"), "{item}");
    b.goto(&app.url("/app/calendar?month=2020-10")).await;
    let cell = b
        .text(&format!("td:has(a[href='/app/activities/{id}'])"))
        .await;
    assert!(cell.starts_with('8'), "{cell}");
    // … and in the calendar feed.
    let ics = app
        .get(&format!("/api/v1/activities/{id}/ics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(ics.contains("DTSTART;VALUE=DATE:20201008"), "{ics}");
    // The public feed, which calendar subscribers read, has the new date too.
    let feed = app
        .client
        .get(app.url("/feeds/public.ics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let event = feed
        .split("BEGIN:VEVENT")
        .find(|e| e.contains("Málaga"))
        .expect("the Málaga event in the public feed");
    assert!(event.contains("DTSTART;VALUE=DATE:20201008"), "{event}");
    // Ane sends it for review (an edit of approved content went back to
    // review by itself); she may not approve it herself.
    b.goto(&app.url(&format!("/app/activities/{id}"))).await;
    let review = app
        .get_json(&format!("/api/v1/activities/{id}/review"))
        .await;
    if review["state"] != "in_review" {
        b.click_css("button[value=submit]").await;
        b.wait_for_url("saved=review").await;
    }
    assert_eq!(b.text("#review-state").await, "en revisión");
    assert!(b.try_find("button[value=approve]").await.is_none());
    sign_out(&b).await;
    // Bea, an approver, approves it.
    sign_in(&b, &app, "bea@example.org", "en").await;
    b.goto(&app.url(&format!("/app/activities/{id}"))).await;
    assert_eq!(b.text("#review-state").await, "in review");
    b.click_css("button[value=approve]").await;
    b.wait_for_url("saved=review").await;
    assert_eq!(b.text("#review-state").await, "approved");
    let review = app
        .get_json(&format!("/api/v1/activities/{id}/review"))
        .await;
    assert_eq!(review["state"], "approved");
}

#[tokio::test]
async fn a_visitor_subscribes_confirms_from_the_email_and_unsubscribes() {
    let mail = spawn_mail_app_with(|s| {
        // The browser reaches the server on loopback, over http.
        s.server.public_url = String::new();
    })
    .await;
    let app = &mail.app;
    app.create(
        "/api/v1/lists",
        json!({"slug": "boletin", "name": "Boletín de ciudades digitales", "public_subscribe": true, "default_language": "es"}),
    )
    .await;
    let b = Browser::start().await;
    b.goto(&app.url("/newsletter?lang=es")).await;
    assert_accessible(&b, "the subscribe form").await;
    b.type_into("#email", "lucia@example.org").await;
    b.select("#language", "es").await;
    b.click_css("#consent").await;
    b.click_css("form[action='/newsletter/signup'] button[type=submit]")
        .await;
    assert_eq!(b.wait_text("h1", "Mira tu correo").await, "Mira tu correo");
    // The form is answered first and the subscription written after it; then
    // the dispatcher sends the confirmation through the SMTP server on loopback.
    crate::subscriber_view::wait_for_subscriber(app, "lucia@example.org").await;
    mail.run().await;
    let messages = mail.smtp.wait_for_messages(1).await;
    let parsed = mail_parser::MessageParser::default()
        .parse(&messages[0].data)
        .unwrap();
    let text = parsed.body_text(0).unwrap().to_string();
    let link = text
        .split_whitespace()
        .find(|w| w.contains("/newsletter/confirm/"))
        .expect("a confirmation link")
        .to_owned();
    assert!(link.starts_with(&app.url("/")), "{link}");
    b.goto(&link).await;
    assert_eq!(b.text("h1").await, "Confirma tu suscripción");
    assert_accessible(&b, "the confirm page").await;
    b.click_css("form button[type=submit]").await;
    b.wait_text("h1", "Suscripción confirmada").await;
    let subs = app.get_json("/api/v1/subscribers").await;
    let subscriber = &subs["items"][0];
    assert_eq!(subscriber["subscriptions"][0]["status"], "confirmed");
    // The unsubscribe link of a newsletter opens the preferences page, in Spanish.
    let sid = subscriber["id"].as_i64().unwrap();
    let now = app.clock_now();
    let token = app
        .db
        .transaction(move |c| {
            Ok(pregon::db::subscribers::link_signer(c, now)?.unsubscribe_token(sid, 0))
        })
        .await
        .unwrap();
    b.goto(&app.url(&format!("/newsletter/unsubscribe/{token}")))
        .await;
    assert_eq!(b.text("h1").await, "Tus suscripciones");
    assert_accessible(&b, "the preferences page").await;
    b.click_css("#unsubscribe-all").await;
    assert_eq!(
        b.wait_text("h1", "Te has dado de baja").await,
        "Te has dado de baja"
    );
    let subs = app.get_json(&format!("/api/v1/subscribers/{sid}")).await;
    assert_eq!(subs["subscriptions"][0]["status"], "unsubscribed");
}

/// Every page, in each language, with no WCAG 2.2 A/AA violation.
#[tokio::test]
async fn every_page_passes_axe_in_every_language() {
    let app = spawn_seeded_app().await;
    person(
        &app,
        "adm@example.org",
        "Ada Admin",
        "admin",
        "en",
        PASSWORD,
    )
    .await;
    app.create(
        "/api/v1/lists",
        json!({"slug": "news", "name": "News", "public_subscribe": true, "default_language": "en"}),
    )
    .await;
    let id = malaga_id(&app).await;
    let all = app.get_json("/api/v1/activities?per_page=100").await;
    let recurring = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| !a["recurrence"].is_null())
        .map(|a| a["id"].as_i64().unwrap())
        .unwrap_or(id);
    let slug = app.get_json("/api/v1/plans").await["items"][0]["slug"]
        .as_str()
        .unwrap()
        .to_owned();
    let (list, issue) = newsletter_pages_data(&app).await;
    let b = Browser::start().await;
    for page in [
        "/app/sign-in",
        "/public",
        &format!("/public/{slug}"),
        "/newsletter",
        "/newsletter/confirm/not-a-token",
    ] {
        for lang in ["es", "en", "fr"] {
            b.goto(&app.url(&format!("{page}?lang={lang}"))).await;
            assert_accessible(&b, &format!("{page} ({lang})")).await;
        }
    }
    sign_in(&b, &app, "adm@example.org", "en").await;
    let pages = [
        "/app".to_owned(),
        "/app/agenda".to_owned(),
        "/app/agenda?when=tbc".to_owned(),
        "/app/calendar".to_owned(),
        "/app/calendar?month=2020-03".to_owned(),
        format!("/app/activities/{id}"),
        format!("/app/activities/{recurring}"),
        format!("/app/activities/{id}/edit"),
        "/app/feeds".to_owned(),
        "/app/imports/calendar".to_owned(),
        "/app/accounts".to_owned(),
        "/app/newsletter".to_owned(),
        format!("/app/newsletter/lists/{list}"),
        "/app/newsletter/issues/new".to_owned(),
        format!("/app/newsletter/issues/{issue}"),
        format!("/app/newsletter/issues/{issue}/edit"),
        format!("/app/newsletter/issues/{issue}/progress"),
    ];
    for page in &pages {
        for lang in ["es", "en", "fr"] {
            let sep = if page.contains('?') { '&' } else { '?' };
            b.goto(&app.url(&format!("{page}{sep}lang={lang}"))).await;
            b.find("main").await;
            assert_accessible(&b, &format!("{page} ({lang})")).await;
        }
    }
    // The edit form with errors beside its fields.
    b.goto(&app.url(&format!("/app/activities/{id}/edit?lang=en")))
        .await;
    b.select("#precision", "days").await;
    b.type_into("#start", "not a date").await;
    b.click_css("form[action$='/edit'] button[type=submit]")
        .await;
    b.find("#err-start").await;
    assert_accessible(&b, "the edit form with an error").await;
}

/// A list with a subscriber and an issue in three languages, for the axe sweep.
async fn newsletter_pages_data(app: &TestApp) -> (i64, i64) {
    let list = app.get_json("/api/v1/lists").await["items"][0]["id"]
        .as_i64()
        .unwrap();
    app.create(
        "/api/v1/subscribers",
        json!({"email": "lucia@example.org", "name": "Lucía", "language": "es", "list_ids": [list],
               "status": "confirmed", "source": "2019 Congress"}),
    )
    .await;
    let issue = app
        .create(
            "/api/v1/issues",
            json!({"name": "Study launch", "list_ids": [list], "translations": {
                "es": {"subject": "Hola {{name}}", "body": "# Hola\n\nEl **estudio**."},
                "en": {"subject": "Hello {{name}}", "body": "# Hello\n\nThe **study**."},
                "fr": {"subject": "Bonjour {{name}}", "body": "# Bonjour\n\nL'**étude**."}}}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    (list, issue)
}

/// A keyboard alone: tab to the fields, type, press Enter, and reach every
/// control of the agenda in order, each visibly focused.
#[tokio::test]
async fn the_main_flow_works_with_the_keyboard_alone() {
    let app = spawn_seeded_app().await;
    person(
        &app,
        "ane@example.org",
        "Ane Editor",
        "editor",
        "en",
        PASSWORD,
    )
    .await;
    let b = Browser::start().await;
    b.goto(&app.url("/app/sign-in?lang=en")).await;
    let focused = "return document.activeElement ? (document.activeElement.id || document.activeElement.getAttribute('href') || document.activeElement.tagName) : null";
    // The first Tab reaches the skip link.
    b.key(TAB).await;
    assert_eq!(b.script(focused, json!([])).await, json!("#main"));
    let mut seen = Vec::new();
    for _ in 0..30 {
        b.key(TAB).await;
        let now = b.script(focused, json!([])).await;
        if now == json!("email") {
            break;
        }
        seen.push(now);
    }
    assert_eq!(
        b.script(focused, json!([])).await,
        json!("email"),
        "tabbed past {seen:?}"
    );
    b.keys("ane@example.org").await;
    b.key(TAB).await;
    assert_eq!(b.script(focused, json!([])).await, json!("password"));
    b.keys(PASSWORD).await;
    b.key(ENTER).await;
    b.find("nav[aria-label] a[href='/app/agenda']").await;
    b.goto(&app.url("/app/agenda")).await;
    b.find("main").await;
    // Every interactive element of the page is reached by Tab, in document order.
    let expected: Vec<Value> = b
        .script(
            "return Array.from(document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea'))\
               .filter(e => e.tabIndex >= 0 && e.offsetParent !== null).length",
            json!([]),
        )
        .await
        .as_u64()
        .map(|n| (0..n).map(|i| json!(i)).collect())
        .unwrap();
    let mark = "const all = Array.from(document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea'))\
                 .filter(e => e.tabIndex >= 0 && e.offsetParent !== null);\
                 const i = all.indexOf(document.activeElement);\
                 const s = getComputedStyle(document.activeElement);\
                 return [i, s.outlineStyle !== 'none' && s.outlineWidth !== '0px'];";
    b.script(
        "document.activeElement && document.activeElement.blur(); window.scrollTo(0,0);",
        json!([]),
    )
    .await;
    let mut reached = Vec::new();
    for _ in 0..expected.len() {
        b.key(TAB).await;
        let r = b.script(mark, json!([])).await;
        assert_eq!(r[1], json!(true), "element {} has no visible focus", r[0]);
        reached.push(r[0].clone());
    }
    assert_eq!(reached, expected, "Tab order skipped or repeated controls");
}

/// Titles and names from people and partners' calendars are text, never markup.
#[tokio::test]
async fn untrusted_text_is_escaped_on_every_page_and_never_runs() {
    let app = spawn_seeded_app().await;
    person(
        &app,
        "adm@example.org",
        "<script>window.__xss=1</script>",
        "admin",
        "en",
        PASSWORD,
    )
    .await;
    let plan = app.get_json("/api/v1/plans").await["items"][0].clone();
    let plan_id = plan["id"].as_i64().unwrap();
    let slug = plan["slug"].as_str().unwrap().to_owned();
    let evil = [
        "<script>window.__xss=1</script>",
        "\"><img src=x onerror=\"window.__xss=1\">",
    ];
    let mut ids = Vec::new();
    for title in evil {
        let a = app
            .create(
                "/api/v1/activities",
                json!({"plan_id": plan_id, "kind": "event", "status": "tentative", "visibility": "public",
                       "timing": {"precision": "days", "start": "2020-03-10"},
                       "place": {"name": title},
                       "translations": {"en": {"title": title, "description": title},
                                        "es": {"title": title}, "fr": {"title": title}}}),
            )
            .await;
        ids.push(a["id"].as_i64().unwrap());
    }
    app.create(
        "/api/v1/lists",
        json!({"slug": "evil", "name": evil[1], "description": evil[0], "public_subscribe": true, "default_language": "en"}),
    )
    .await;
    let b = Browser::start().await;
    let mut pages = vec![format!("/public/{slug}"), "/newsletter".to_owned()];
    for lang in ["es", "en", "fr"] {
        for p in pages.clone() {
            b.goto(&app.url(&format!("{p}?lang={lang}"))).await;
            check_no_script_ran(&b, &p).await;
        }
    }
    sign_in(&b, &app, "adm@example.org", "en").await;
    pages = vec![
        "/app".to_owned(),
        "/app/agenda".to_owned(),
        "/app/calendar?month=2020-03".to_owned(),
        "/app/accounts".to_owned(),
        // The week, the new-activity form, the account and tokens pages (issue #9).
        "/app/calendar/week?week=2020-03-10".to_owned(),
        "/app/activities/new".to_owned(),
        "/app/me".to_owned(),
        "/app/tokens".to_owned(),
    ];
    for id in &ids {
        pages.push(format!("/app/activities/{id}"));
        pages.push(format!("/app/activities/{id}/edit"));
    }
    let evil_list = app.get_json("/api/v1/lists").await["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["slug"] == "evil")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let evil_issue = app
        .create(
            "/api/v1/issues",
            json!({"name": evil[0], "list_ids": [evil_list], "translations": {
                "en": {"subject": evil[1], "body": evil[0]}, "es": {"subject": evil[0], "body": evil[1]}}}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    pages.push("/app/newsletter".to_owned());
    pages.push(format!("/app/newsletter/lists/{evil_list}"));
    for p in ["", "/edit", "/progress"] {
        pages.push(format!("/app/newsletter/issues/{evil_issue}{p}"));
    }
    for lang in ["es", "en", "fr"] {
        for p in &pages {
            let sep = if p.contains('?') { '&' } else { '?' };
            b.goto(&app.url(&format!("{p}{sep}lang={lang}"))).await;
            check_no_script_ran(&b, p).await;
        }
    }
    // The text is there, as text.
    b.goto(&app.url(&format!("/app/activities/{}", ids[1])))
        .await;
    assert_eq!(b.text("h1").await, evil[1]);
    b.goto(&app.url(&format!("/app/activities/{}", ids[0])))
        .await;
    assert_eq!(b.text("h1").await, evil[0]);
}

async fn check_no_script_ran(b: &Browser, page: &str) {
    b.find("main").await;
    let ran = b
        .script(
            "return window.__xss === undefined ? null : window.__xss",
            json!([]),
        )
        .await;
    assert_eq!(ran, Value::Null, "a title ran as script on {page}");
    let injected = b
        .script(
            "return document.querySelectorAll('img[src=x], main script').length",
            json!([]),
        )
        .await;
    assert_eq!(
        injected,
        json!(0),
        "markup from a title was injected on {page}"
    );
}

/// Refreshes docs/screenshots/ (run by scripts/screenshots.sh; ignored otherwise).
#[tokio::test]
#[ignore = "writes docs/screenshots; run through scripts/screenshots.sh"]
async fn screenshots() {
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
    std::fs::create_dir_all(&out).unwrap();
    let app = spawn_seeded_app().await;
    person(
        &app,
        "adm@example.org",
        "Ane Etxeberria",
        "admin",
        "es",
        PASSWORD,
    )
    .await;
    let id = malaga_id(&app).await;
    let slug = app.get_json("/api/v1/plans").await["items"][0]["slug"]
        .as_str()
        .unwrap()
        .to_owned();
    app.create(
        "/api/v1/lists",
        json!({"slug": "boletin", "name": "Boletín de ciudades digitales", "public_subscribe": true, "default_language": "es"}),
    )
    .await;
    let (_, issue) = newsletter_pages_data(&app).await;
    let b = Browser::start().await;
    for lang in ["es", "en", "fr"] {
        b.goto(&app.url(&format!("/public/{slug}?lang={lang}")))
            .await;
        std::fs::write(
            out.join(format!("public-agenda-{lang}.png")),
            b.screenshot().await,
        )
        .unwrap();
    }
    sign_in(&b, &app, "adm@example.org", "es").await;
    for lang in ["es", "en", "fr"] {
        for (name, page) in [
            ("overview", "/app".to_owned()),
            ("agenda", "/app/agenda".to_owned()),
            ("calendar", "/app/calendar?month=2019-11".to_owned()),
            ("activity", format!("/app/activities/{id}")),
            (
                "newsletter-issue",
                format!("/app/newsletter/issues/{issue}"),
            ),
            (
                "newsletter-progress",
                format!("/app/newsletter/issues/{issue}/progress"),
            ),
        ] {
            let sep = if page.contains('?') { '&' } else { '?' };
            b.goto(&app.url(&format!("{page}{sep}lang={lang}"))).await;
            b.find("main").await;
            std::fs::write(out.join(format!("{name}-{lang}.png")), b.screenshot().await).unwrap();
        }
    }
}
