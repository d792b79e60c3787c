//! Times on the pages are in the event's zone with the viewer's beside it:
//! the browser's zone once `pregon.js` has told it, before that (or without
//! JavaScript) the configured `calendar.viewer_time_zone`, never UTC by default.

use crate::helpers::*;
use crate::web::{PASSWORD, person, web_sign_in};
use serde_json::json;

async fn exact_activity(app: &TestApp) -> i64 {
    let now = app.clock_now();
    app.db
        .transaction(move |c| pregon::seed::load_2020_plan(c, now))
        .await
        .expect("seed");
    let plan = app.get_json("/api/v1/plans").await["items"][0]["id"]
        .as_i64()
        .unwrap();
    app.create(
        "/api/v1/activities",
        json!({"plan_id": plan, "kind": "event", "status": "confirmed", "visibility": "public",
               "timing": {"precision": "exact", "start": "2020-03-10T10:00", "end": "2020-03-10T12:00",
                          "time_zone": "America/Mexico_City"},
               "translations": {"en": {"title": "Webinar from Mexico City"}}}),
    )
    .await["id"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn the_viewers_zone_is_the_browsers_else_the_configured_one() {
    let app = spawn_app().await;
    let id = exact_activity(&app).await;
    person(&app, "ane@example.org", "Ane", "editor", "en", PASSWORD).await;
    let mut ane = web_sign_in(&app, "ane@example.org", PASSWORD).await;
    let page = format!("/app/activities/{id}?lang=en");
    // No zone from the browser yet: the configured default, Madrid.
    let (_, html) = ane.get(&app, &page).await;
    assert!(html.contains("(America/Mexico_City)"), "{html}");
    assert!(
        html.contains("Tuesday 10 March 2020 17:00–19:00 your time (Europe/Madrid)"),
        "{html}"
    );
    assert!(!html.contains("(UTC)"), "{html}");
    // The browser's zone, once pregon.js has stored it.
    ane.cookies
        .push(("pregon_tz".into(), "Asia%2FTokyo".into()));
    let (_, html) = ane.get(&app, &page).await;
    assert!(html.contains("your time (Asia/Tokyo)"), "{html}");
}

#[tokio::test]
async fn the_default_viewer_zone_is_a_setting() {
    let app =
        spawn_app_with(|s| s.calendar.viewer_time_zone = chrono_tz::Europe::London.into()).await;
    let id = exact_activity(&app).await;
    person(&app, "ane@example.org", "Ane", "editor", "en", PASSWORD).await;
    let mut ane = web_sign_in(&app, "ane@example.org", PASSWORD).await;
    let (_, html) = ane
        .get(&app, &format!("/app/activities/{id}?lang=en"))
        .await;
    assert!(
        html.contains("16:00–18:00 your time (Europe/London)"),
        "{html}"
    );
}
