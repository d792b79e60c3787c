//! In a real headless Chromium: an editor creates an activity from the web
//! ("New activity"), finds it on its day of the week view, walks the weeks
//! with the previous/next links; the keyboard alone reaches every control of
//! the week in order; axe finds no WCAG 2.2 A/AA violation on the week, the
//! new-activity form (also with an error beside a field), "My account" and
//! the tokens page (also with a new secret shown), in ES, EN and FR.

use crate::helpers::*;
use crate::web::{PASSWORD, person};
use crate::webdriver::{Browser, assert_accessible, sign_in};
use serde_json::{Value, json};

const TAB: &str = "\u{E004}";

#[tokio::test]
async fn an_editor_creates_an_activity_and_finds_it_in_the_week() {
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
    let before = app.get_json("/api/v1/activities?per_page=1").await["total"]
        .as_i64()
        .unwrap();
    let b = Browser::start().await;
    sign_in(&b, &app, "ane@example.org", "es").await;
    // From the week of the Congress panel, "New activity".
    b.goto(&app.url("/app/calendar/week?week=2019-11-11")).await;
    assert!(
        b.text("h1")
            .await
            .contains("Semana del lunes 11 de noviembre de 2019")
    );
    b.click_css("a[href^='/app/activities/new']").await;
    b.find("form[action='/app/activities/new']").await;
    // A bad date first: the error beside it, nothing written.
    b.select("#kind", "learning_meeting").await;
    b.select("#precision", "exact").await;
    b.type_into("#start", "2019-11-14 a las diez").await;
    b.type_into("#title-es", "Reunión con We-Go").await;
    b.click_css("form[action='/app/activities/new'] button[type=submit]")
        .await;
    let error = b.text("#err-start").await;
    assert!(!error.is_empty());
    assert_eq!(
        app.get_json("/api/v1/activities?per_page=1").await["total"],
        before
    );
    // What was typed is still there; fixed, it is saved.
    let kept = b
        .script(
            "return document.getElementById('title-es').value",
            json!([]),
        )
        .await;
    assert_eq!(kept, json!("Reunión con We-Go"));
    b.type_into("#start", "2019-11-14T10:00").await;
    b.type_into("#end", "2019-11-14T11:30").await;
    b.type_into("#zone", "Europe/Madrid").await;
    b.select("#status", "tentative").await;
    b.type_into("#title-en", "Meeting with We-Go").await;
    b.click_css("form[action='/app/activities/new'] button[type=submit]")
        .await;
    b.wait_for_url("saved=created").await;
    assert_eq!(b.text("h1").await, "Reunión con We-Go");
    assert_eq!(
        app.get_json("/api/v1/activities?per_page=1").await["total"],
        before + 1
    );
    // On its Thursday in the week view, marked tentative; not on the Friday.
    b.goto(&app.url("/app/calendar/week?week=2019-11-11")).await;
    let thursday = b.text("section[aria-labelledby='day-2019-11-14']").await;
    assert!(thursday.contains("Reunión con We-Go"), "{thursday}");
    assert!(thursday.contains("10:00"), "{thursday}");
    let tentative = b
        .script(
            "return Array.from(document.querySelectorAll(\"section[aria-labelledby='day-2019-11-14'] li\"))\
               .filter(li => li.textContent.includes('We-Go')).map(li => li.className)",
            json!([]),
        )
        .await;
    assert_eq!(tentative, json!(["item-tentative"]));
    let friday = b.text("section[aria-labelledby='day-2019-11-15']").await;
    assert!(!friday.contains("We-Go"), "{friday}");
    // Next week and back, by the links.
    b.click_css("a[rel='next']").await;
    b.wait_for_url("week=2019-11-18").await;
    assert!(!b.source().await.contains("Reunión con We-Go"));
    b.click_css("a[rel='prev']").await;
    b.wait_for_url("week=2019-11-11").await;
    assert!(b.source().await.contains("Reunión con We-Go"));
    // The date picker opens the week of any day.
    b.goto(&app.url("/app/calendar/week?week=2019-11-04")).await;
    b.script(
        "document.getElementById('week-pick').value = '2019-11-14';",
        json!([]),
    )
    .await;
    b.click_css("form:has(#week-pick) button[type=submit]")
        .await;
    b.wait_for_url("week=2019-11-14").await;
    assert!(b.source().await.contains("Reunión con We-Go"));
}

#[tokio::test]
async fn the_week_is_reached_with_the_keyboard_in_document_order() {
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
    sign_in(&b, &app, "ane@example.org", "en").await;
    b.goto(&app.url("/app/calendar/week?week=2019-11-11")).await;
    b.find("main").await;
    let count = "return Array.from(document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea'))\
                   .filter(e => e.tabIndex >= 0 && e.offsetParent !== null).length";
    let n = b.script(count, json!([])).await.as_u64().unwrap();
    assert!(n > 15, "only {n} controls");
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
    // The date field's day, month and year are each a stop of Tab: the same
    // element again, counted once.
    let mut reached: Vec<Value> = Vec::new();
    for _ in 0..n * 3 {
        b.key(TAB).await;
        let r = b.script(mark, json!([])).await;
        assert_eq!(r[1], json!(true), "element {} has no visible focus: {}", r[0], b.script("return document.activeElement.outerHTML + ' ' + getComputedStyle(document.activeElement).outlineStyle + ' ' + getComputedStyle(document.activeElement).outlineWidth", json!([])).await);
        if reached.last() != Some(&r[0]) {
            reached.push(r[0].clone());
        }
        if r[0] == json!(n - 1) {
            break;
        }
    }
    let expected: Vec<Value> = (0..n).map(|i| json!(i)).collect();
    assert_eq!(reached, expected, "Tab order skipped or repeated controls");
    // Each day is a heading a screen reader can jump to, with its full date.
    let headings = b
        .script(
            "return Array.from(document.querySelectorAll('ol.week h2')).map(h => h.textContent.trim())",
            json!([]),
        )
        .await;
    assert_eq!(headings.as_array().unwrap().len(), 7, "{headings}");
    assert!(
        headings[0]
            .as_str()
            .unwrap()
            .starts_with("Monday 11 November 2019"),
        "{headings}"
    );
}

#[tokio::test]
async fn the_new_pages_pass_axe_in_every_language() {
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
    let plan = app.get_json("/api/v1/plans").await["items"][0]["id"]
        .as_i64()
        .unwrap();
    // A series and a tentative item in the week swept.
    app.create(
        "/api/v1/activities",
        json!({"plan_id": plan, "kind": "learning_meeting", "status": "tentative",
               "timing": {"precision": "exact", "start": "2019-11-05T10:00", "end": "2019-11-05T11:00", "time_zone": "Europe/Madrid"},
               "recurrence": {"rule": "FREQ=WEEKLY;BYDAY=TU;COUNT=4"},
               "translations": {"en": {"title": "Weekly coordination"}}}),
    )
    .await;
    let b = Browser::start().await;
    sign_in(&b, &app, "adm@example.org", "en").await;
    for page in [
        "/app/calendar/week",
        "/app/calendar/week?week=2019-11-11",
        "/app/activities/new",
        "/app/me",
        "/app/tokens",
    ] {
        for lang in ["es", "en", "fr"] {
            let sep = if page.contains('?') { '&' } else { '?' };
            b.goto(&app.url(&format!("{page}{sep}lang={lang}"))).await;
            b.find("main").await;
            assert_accessible(&b, &format!("{page} ({lang})")).await;
        }
    }
    // The new-activity form with an error beside a field.
    b.goto(&app.url("/app/activities/new?lang=fr")).await;
    b.select("#precision", "days").await;
    b.type_into("#start", "pas une date").await;
    b.click_css("form[action='/app/activities/new'] button[type=submit]")
        .await;
    b.find("#err-start").await;
    assert_accessible(&b, "the new-activity form with an error").await;
    // The tokens page with a secret just made, and with an error.
    b.goto(&app.url("/app/tokens?lang=es")).await;
    b.type_into("#token-name", "informes").await;
    b.select("#token-role", "viewer").await;
    b.click_css("form[action='/app/tokens'] button[type=submit]")
        .await;
    b.find("#secret").await;
    assert_accessible(&b, "the tokens page with a new secret").await;
    b.click_css("form[action='/app/tokens'] button[type=submit]")
        .await;
    b.find("#err-name").await;
    assert_accessible(&b, "the tokens page with an error").await;
}

#[tokio::test]
async fn the_issue_pages_sending_controls_pass_axe_in_every_language() {
    let mail = crate::mail::spawn_mail_app().await;
    person(
        &mail.app,
        "ane@example.org",
        "Ane Editor",
        "editor",
        "en",
        PASSWORD,
    )
    .await;
    let list = mail.list("members").await;
    mail.confirmed(list, "ana@example.org", "Ana", "es").await;
    let issue = mail.issue(&[list], None).await;
    mail.send(issue).await;
    let b = Browser::start().await;
    sign_in(&b, &mail.app, "ane@example.org", "en").await;
    for (state, button) in [("sending", "#issue-pause"), ("paused", "#issue-resume")] {
        for lang in ["es", "en", "fr"] {
            b.goto(
                &mail
                    .app
                    .url(&format!("/app/newsletter/issues/{issue}?lang={lang}")),
            )
            .await;
            b.find(button).await;
            assert_accessible(&b, &format!("the issue page while {state} ({lang})")).await;
        }
        if state == "sending" {
            b.click_css("#issue-pause").await;
            b.wait_for_url("saved=moved").await;
        }
    }
}
