//! In a real headless Chromium: an editor writes a post variant on the
//! activity page against a Mastodon instance on loopback (limit 120): too
//! long first (the reason beside the text, nothing written, what was typed
//! kept), then fixed and saved, listed with its length against the limit.
//! axe finds no WCAG 2.2 A/AA violation on the activity page with its
//! variants, the variant form (also with its error), and the channel
//! accounts, webhooks (also with a secret just made) and jobs pages, in ES,
//! EN and FR.

use crate::activities::fixture;
use crate::helpers::*;
use crate::mastodon::start_instance;
use crate::web::{PASSWORD, person};
use crate::webdriver::{Browser, assert_accessible, sign_in};
use crate::webhooks::app_with_webhooks;
use chrono::TimeDelta;
use serde_json::json;

#[tokio::test]
async fn an_editor_writes_a_post_variant_and_the_social_pages_pass_axe() {
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
    let res = app
        .client
        .post(app.url("/api/v1/channel-accounts"))
        .bearer_auth(&app.admin)
        .json(&json!({"network": "mastodon", "name": "UCLG", "base_url": mastodon.url, "secret": "tok-secret", "channel_id": m}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let at = (app.clock_now() + TimeDelta::days(2))
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let end = (app.clock_now() + TimeDelta::days(2) + TimeDelta::hours(1))
        .format("%Y-%m-%dT%H:%M")
        .to_string();
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
                "post_variants": [{"channel_id": m, "lang": "es", "body": "¡Ya está aquí el estudio!"}],
            }),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    person(
        &app,
        "ane@example.org",
        "Ane Editor",
        "editor",
        "en",
        PASSWORD,
    )
    .await;
    person(
        &app,
        "ada@example.org",
        "Ada Admin",
        "admin",
        "en",
        PASSWORD,
    )
    .await;
    let variants = |app: &TestApp| {
        let req = app
            .client
            .get(app.url(&format!("/api/v1/activities/{id}/variants")))
            .bearer_auth(&app.admin);
        async move {
            req.send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };
    let b = Browser::start().await;
    sign_in(&b, &app, "ane@example.org", "en").await;
    b.goto(&app.url(&format!("/app/activities/{id}"))).await;
    assert_eq!(b.text("#posts-title").await, "Post variants");
    assert!(b.text(&format!("#variant-{m}-es")).await.contains("/ 120"));
    assert_accessible(&b, "the activity page with its variants").await;
    // Too long: the reason beside the text, nothing written.
    b.select("#variant-channel", &m.to_string()).await;
    b.select("#variant-lang", "en").await;
    let long = "The Smart Cities Study is out, with twenty-four cities on how they govern \
                the digital city, and what they learnt on the way. Read it.";
    b.type_into("#variant-body", long).await;
    b.click_css(&format!(
        "form[action='/app/activities/{id}/variants'] button[type=submit]"
    ))
    .await;
    let error = b.text("#err-body").await;
    assert!(error.contains("allows 120"), "{error}");
    assert_eq!(variants(&app).await.as_array().unwrap().len(), 1);
    let kept = b
        .script(
            "return document.getElementById('variant-body').value",
            json!([]),
        )
        .await;
    assert_eq!(kept, json!(long));
    assert_accessible(&b, "the variant form with an error").await;
    // Shortened, saved: back on the activity page, listed.
    let element = b.find("#variant-body").await;
    b.clear(&element).await;
    b.type_into("#variant-body", "The Smart Cities Study is out.")
        .await;
    b.click_css("#variant-save").await;
    b.wait_for_url(&format!("/app/activities/{id}?saved=variant"))
        .await;
    let row = b.text(&format!("#variant-{m}-en")).await;
    assert!(row.contains("The Smart Cities Study is out."), "{row}");
    assert!(row.contains("30 / 120"), "{row}");
    assert_eq!(variants(&app).await.as_array().unwrap().len(), 2);
    // Every page of social publishing, in each language.
    b.click_css("form[action='/app/sign-out'] button[type=submit]")
        .await;
    b.find("#email").await;
    sign_in(&b, &app, "ada@example.org", "en").await;
    for page in [
        format!("/app/activities/{id}"),
        format!("/app/activities/{id}/variants/{m}/en"),
        "/app/channel-accounts".to_owned(),
        "/app/webhooks".to_owned(),
        "/app/jobs".to_owned(),
    ] {
        for lang in ["es", "en", "fr"] {
            b.goto(&app.url(&format!("{page}?lang={lang}"))).await;
            b.find("main").await;
            assert_accessible(&b, &format!("{page} ({lang})")).await;
        }
    }
    // The webhooks page with a secret just made, and a subscription's page.
    b.goto(&app.url("/app/webhooks?lang=en")).await;
    b.type_into("#hook-url", &format!("{}/hook", mastodon.url))
        .await;
    b.click_css("#ev-activity\\.created").await;
    b.click_css("form[action='/app/webhooks'] button[type=submit]")
        .await;
    b.find("#secret").await;
    assert_accessible(&b, "the webhooks page with a new secret").await;
    b.click_css("main table a[href^='/app/webhooks/']").await;
    b.find("#edit-hook").await;
    assert_accessible(&b, "a subscription's page").await;
}

#[tokio::test]
async fn untrusted_text_on_the_social_pages_never_runs() {
    let app = app_with_webhooks(true).await;
    let f = fixture(&app).await;
    let evil = [
        "<script>window.__xss=1</script>",
        "\"><img src=x onerror=\"window.__xss=1\">",
    ];
    person(&app, "ada@example.org", evil[0], "admin", "en", PASSWORD).await;
    let ch = app
        .create(
            "/api/v1/channels",
            json!({"slug": "evil", "kind": "social", "name": evil[1], "organisation_id": f.org}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let res = app
        .client
        .post(app.url("/api/v1/channel-accounts"))
        .bearer_auth(&app.admin)
        .json(&json!({"network": "webhook", "name": evil[0], "base_url": "https://cms.example.org/hook",
                      "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "channel_id": ch}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let account: serde_json::Value = res.json().await.unwrap();
    let post = app
        .create(
            "/api/v1/activities",
            json!({
                "plan_id": f.plan, "kind": "social_post", "status": "planned",
                "timing": {"precision": "days", "start": "2030-03-10", "end": "2030-03-10"},
                "channel_ids": [ch],
                "translations": {"en": {"title": evil[1]}},
                "post_variants": [{"channel_id": ch, "lang": "en", "body": evil[0], "content_warning": evil[1]}],
            }),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let hook = app
        .client
        .post(app.url("/api/v1/webhooks"))
        .bearer_auth(&app.admin)
        .json(&json!({"url": "http://127.0.0.1:9/hook", "description": evil[1], "event_types": ["activity.created"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(hook.status(), 201);
    let hook: serde_json::Value = hook.json().await.unwrap();
    let b = Browser::start().await;
    sign_in(&b, &app, "ada@example.org", "en").await;
    let pages = [
        format!("/app/activities/{post}"),
        format!("/app/activities/{post}/variants/{ch}/en"),
        "/app/channel-accounts".to_owned(),
        format!("/app/channel-accounts/{}/history", account["id"]),
        "/app/webhooks".to_owned(),
        format!("/app/webhooks/{}", hook["id"]),
        "/app/jobs".to_owned(),
    ];
    for lang in ["es", "en", "fr"] {
        for p in &pages {
            b.goto(&app.url(&format!("{p}?lang={lang}"))).await;
            b.find("main").await;
            let ran = b
                .script(
                    "return window.__xss === undefined ? null : window.__xss",
                    json!([]),
                )
                .await;
            assert_eq!(ran, serde_json::Value::Null, "a text ran as script on {p}");
            let injected = b
                .script(
                    "return document.querySelectorAll('img[src=x], main script').length",
                    json!([]),
                )
                .await;
            assert_eq!(injected, json!(0), "markup was injected on {p}");
        }
    }
    // The text is there, as text.
    b.goto(&app.url(&format!("/app/activities/{post}?lang=en")))
        .await;
    assert_eq!(b.text(".post-body").await, evil[0]);
}

/// Tab from the top of the page reaches every control once, in document
/// order, each with a visible focus.
async fn tab_walk(b: &Browser, what: &str) {
    let count = "return Array.from(document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea'))\
                   .filter(e => e.tabIndex >= 0 && e.offsetParent !== null).length";
    let n = b.script(count, json!([])).await.as_u64().unwrap();
    assert!(n > 10, "only {n} controls on {what}");
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
    let mut reached: Vec<serde_json::Value> = Vec::new();
    for _ in 0..n * 2 {
        b.key("\u{E004}").await;
        let r = b.script(mark, json!([])).await;
        assert_eq!(
            r[1],
            json!(true),
            "element {} on {what} has no visible focus: {}",
            r[0],
            b.script("return document.activeElement.outerHTML", json!([]))
                .await
        );
        if reached.last() != Some(&r[0]) {
            reached.push(r[0].clone());
        }
        if r[0] == json!(n - 1) {
            break;
        }
    }
    let expected: Vec<serde_json::Value> = (0..n).map(|i| json!(i)).collect();
    assert_eq!(
        reached, expected,
        "Tab order skipped or repeated controls on {what}"
    );
}

#[tokio::test]
async fn the_variant_forms_are_reached_with_the_keyboard_in_document_order() {
    let app = app_with_webhooks(true).await;
    let f = fixture(&app).await;
    let ch = app
        .create(
            "/api/v1/channels",
            json!({"slug": "site", "kind": "social", "name": "Website", "organisation_id": f.org}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let post = app
        .create(
            "/api/v1/activities",
            json!({
                "plan_id": f.plan, "kind": "social_post", "status": "planned",
                "timing": {"precision": "days", "start": "2030-03-10", "end": "2030-03-10"},
                "channel_ids": [ch],
                "translations": {"en": {"title": "Launch"}},
                "post_variants": [{"channel_id": ch, "lang": "en", "body": "Out now"}],
            }),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    person(
        &app,
        "ada@example.org",
        "Ada Admin",
        "admin",
        "en",
        PASSWORD,
    )
    .await;
    let b = Browser::start().await;
    sign_in(&b, &app, "ada@example.org", "en").await;
    b.goto(&app.url(&format!("/app/activities/{post}"))).await;
    b.find("#posts").await;
    tab_walk(&b, "the activity page with its variants").await;
    b.goto(&app.url(&format!("/app/activities/{post}/variants/{ch}/en")))
        .await;
    b.find("#variant-body").await;
    tab_walk(&b, "the variant form").await;
}

/// The variant form's thread in Chromium: typing in a part changes its
/// count (htmx asks the server, which counts as the network does); "Add a
/// part" posts the form back and shows a second part, nothing saved; the
/// form with a thread and an image passes axe in ES, EN and FR.
#[tokio::test]
async fn a_part_is_counted_as_one_types_and_added_by_a_post_back() {
    let w = crate::posts::world().await;
    let app = &w.app;
    let (id, m) = (w.activity, w.m);
    let res = app
        .put(
            &format!("/api/v1/activities/{id}/variants/{m}/en"),
            &json!({"body": "Uno", "thread": [{"body": "Dos"}],
                    "media": [{"mime_type": "image/png", "data": "iVBORw0KGgoAAQID", "alt": "A chart"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    person(
        app,
        "ane@example.org",
        "Ane Editor",
        "editor",
        "en",
        PASSWORD,
    )
    .await;
    let b = Browser::start().await;
    sign_in(&b, app, "ane@example.org", "en").await;
    b.goto(&app.url(&format!("/app/activities/{id}/variants/{m}/en?lang=en")))
        .await;
    assert_eq!(b.text("#count-2").await, "Length / limit: 3 / 120");
    b.clear(&b.find("#variant-part-2").await).await;
    b.type_into("#variant-part-2", "Dos y tres").await;
    b.wait_text("#count-2", "Length / limit: 10 / 120").await;
    assert_eq!(
        b.url().await,
        app.url(&format!("/app/activities/{id}/variants/{m}/en?lang=en"))
    );
    b.click_css("#variant-add-part").await;
    b.find("#variant-part-3").await;
    assert_eq!(
        b.script(
            "return document.getElementById('variant-part-2').value",
            json!([])
        )
        .await,
        json!("Dos y tres")
    );
    let thread = app
        .get_json(&format!("/api/v1/activities/{id}/variants"))
        .await;
    let en = thread
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["lang"] == "en")
        .unwrap()
        .clone();
    assert_eq!(
        en["thread"].as_array().unwrap().len(),
        1,
        "saved by a post-back"
    );
    for lang in ["es", "en", "fr"] {
        b.goto(&app.url(&format!("/app/activities/{id}/variants/{m}/en?lang={lang}")))
            .await;
        b.find("#variant-part-2").await;
        assert_accessible(
            &b,
            &format!("the variant form with a thread and an image ({lang})"),
        )
        .await;
    }
}
