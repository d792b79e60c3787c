//! The week view and "New activity" over plain HTTP: seven days each headed
//! by its date, items on the days they cover (a series: each occurrence),
//! tentative and to-be-confirmed ones marked, the filters, previous and next
//! weeks; the new-activity form writing through the same operation as
//! `POST /api/v1/activities`, its errors beside their field with nothing
//! written, CSRF and roles. The browser side is in `browser_week.rs`.

use crate::helpers::*;
use crate::web::{WebUser, csrf_of, seeded_with_people};
use serde_json::json;

const PANEL: &str = "Using urban innovation to listen to citizens";

/// The HTML of one day's section of a week page.
fn day<'a>(html: &'a str, date: &str) -> &'a str {
    let at = html
        .find(&format!("<h2 id=\"day-{date}\""))
        .unwrap_or_else(|| panic!("no section for {date}"));
    let rest = &html[at..];
    &rest[..rest.find("</section>").expect("the day's end")]
}

async fn plan_id(app: &TestApp) -> i64 {
    app.get_json("/api/v1/plans").await["items"][0]["id"]
        .as_i64()
        .unwrap()
}

async fn activity_count(app: &TestApp) -> i64 {
    app.get_json("/api/v1/activities?per_page=1").await["total"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn the_week_shows_seven_dated_days_with_what_falls_on_each() {
    let (app, mut editor, _) = seeded_with_people().await;
    let plan = plan_id(&app).await;
    // A tentative item on the Wednesday, and a weekly series on Tuesdays.
    app.create(
        "/api/v1/activities",
        json!({"plan_id": plan, "kind": "learning_meeting", "status": "tentative",
               "timing": {"precision": "exact", "start": "2019-11-13T16:00", "end": "2019-11-13T17:00", "time_zone": "Europe/Madrid"},
               "translations": {"en": {"title": "Call with URAIA, to be firmed up"}}}),
    )
    .await;
    app.create(
        "/api/v1/activities",
        json!({"plan_id": plan, "kind": "learning_meeting", "status": "planned",
               "timing": {"precision": "exact", "start": "2019-11-05T10:00", "end": "2019-11-05T11:00", "time_zone": "Europe/Madrid"},
               "recurrence": {"rule": "FREQ=WEEKLY;BYDAY=TU;COUNT=4"},
               "translations": {"en": {"title": "Weekly coordination"}}}),
    )
    .await;
    // Any day of the week opens that week, Monday first.
    let (status, html) = editor
        .get(&app, "/app/calendar/week?week=2019-11-14&lang=en")
        .await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("Week from Monday 11 November 2019 to Sunday 17 November 2019"),
        "{html}"
    );
    let days: Vec<&str> = html.matches("<h2 id=\"day-").collect();
    assert_eq!(days.len(), 7);
    // The Congress panel (11–15 November) on each of its five days, not after.
    for d in 11..=15 {
        assert!(day(&html, &format!("2019-11-{d}")).contains(PANEL), "{d}");
    }
    for d in [16, 17] {
        let section = day(&html, &format!("2019-11-{d}"));
        assert!(!section.contains(PANEL), "{d}");
        assert!(section.contains("Nothing this day."), "{section}");
    }
    // The tentative item is marked as such, on its day only.
    let wednesday = day(&html, "2019-11-13");
    let at = wednesday.find("Call with URAIA").unwrap();
    let li = wednesday[..at].rfind("<li").unwrap();
    assert!(
        wednesday[li..at].contains("item-tentative"),
        "{}",
        &wednesday[li..]
    );
    assert!(!day(&html, "2019-11-14").contains("Call with URAIA"));
    // The series' occurrence of this week, at its own time; not on other days.
    let tuesday = day(&html, "2019-11-12");
    assert!(tuesday.contains("Weekly coordination"), "{tuesday}");
    assert!(tuesday.contains("10:00"), "{tuesday}");
    assert_eq!(html.matches("Weekly coordination").count(), 1);
    // To-be-confirmed items are listed apart, never on a day.
    let malaga = crate::web::malaga_id(&app).await;
    let link = format!("/app/activities/{malaga}\"");
    let at = html.find(&link).expect("the Málaga event listed");
    assert!(
        html[..at]
            .rfind("<li")
            .map(|li| html[li..at].contains("item-tbc"))
            == Some(true)
    );
    for d in 11..=17 {
        assert!(!day(&html, &format!("2019-11-{d}")).contains(&link));
    }
    // Previous and next weeks, keeping the plan.
    assert!(
        html.contains(&format!(
            "href=\"/app/calendar/week?plan={plan}&#38;week=2019-11-04\""
        )),
        "{html}"
    );
    assert!(html.contains(&format!(
        "href=\"/app/calendar/week?plan={plan}&#38;week=2019-11-18\""
    )));
    // The next week holds the series' next occurrence.
    let (_, next) = editor
        .get(&app, "/app/calendar/week?week=2019-11-18&lang=en")
        .await;
    assert!(day(&next, "2019-11-19").contains("Weekly coordination"));
    assert!(!next.contains(PANEL));
}

#[tokio::test]
async fn the_week_takes_the_month_filters_and_keeps_them_in_its_links() {
    let (app, mut editor, _) = seeded_with_people().await;
    let plan = plan_id(&app).await;
    let (_, html) = editor
        .get(
            &app,
            "/app/calendar/week?week=2019-11-11&kind=learning_meeting&lang=en",
        )
        .await;
    assert!(!html.contains(PANEL), "filtered out by kind");
    assert!(html.contains("<option value=\"learning_meeting\" selected>"));
    // Previous/next keep the filter; the filter form keeps the week.
    assert!(
        html.contains(&format!(
            "/app/calendar/week?plan={plan}&#38;kind=learning_meeting&#38;week=2019-11-04"
        )),
        "{html}"
    );
    assert!(html.contains("<input type=\"hidden\" name=\"week\" value=\"2019-11-11\">"));
    let (_, html) = editor
        .get(
            &app,
            "/app/calendar/week?week=2019-11-11&status=confirmed&lang=en",
        )
        .await;
    assert!(html.contains(PANEL), "the panel is confirmed");
    let (_, html) = editor
        .get(
            &app,
            "/app/calendar/week?week=2019-11-11&status=draft&lang=en",
        )
        .await;
    assert!(!html.contains(PANEL));
    // The month grid links to its week, the week back to its month.
    let (_, month) = editor
        .get(&app, "/app/calendar?month=2019-11&lang=en")
        .await;
    assert!(
        month.contains(&format!(
            "/app/calendar/week?plan={plan}&#38;week=2019-11-01"
        )),
        "{month}"
    );
    let (_, week) = editor.get(&app, "/app/calendar/week?week=2019-11-01").await;
    assert!(week.contains(&format!("/app/calendar?plan={plan}&#38;month=2019-10")));
    // In every language, dates in that language.
    let (_, es) = editor
        .get(&app, "/app/calendar/week?week=2019-11-11&lang=es")
        .await;
    assert!(
        es.contains("Semana del lunes 11 de noviembre de 2019"),
        "{es}"
    );
    let (_, fr) = editor
        .get(&app, "/app/calendar/week?week=2019-11-11&lang=fr")
        .await;
    assert!(fr.contains("Semaine du lundi 11 novembre 2019"), "{fr}");
    // Strangers go to the sign-in page; a bad week is this week's page.
    let res = app
        .client
        .get(app.url("/app/calendar/week"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let (status, _) = editor.get(&app, "/app/calendar/week?week=nonsense").await;
    assert_eq!(status, 200);
}

/// The new-activity form's CSRF token and plan, as an editor gets them.
async fn new_form(app: &TestApp, user: &mut WebUser) -> (String, String) {
    let (status, html) = user.get(app, "/app/activities/new?lang=en").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("<h1>New activity</h1>"), "{html}");
    assert!(html.contains("action=\"/app/activities/new\""));
    (csrf_of(&html), plan_id(app).await.to_string())
}

#[tokio::test]
async fn an_editor_creates_an_activity_through_the_same_operation_as_the_api() {
    let (app, mut editor, _) = seeded_with_people().await;
    let before = activity_count(&app).await;
    // The agenda, the month and the week offer it to editors.
    for page in ["/app/agenda", "/app/calendar", "/app/calendar/week"] {
        let (_, html) = editor.get(&app, page).await;
        assert!(html.contains("/app/activities/new?plan="), "{page}");
    }
    let (csrf, plan) = new_form(&app, &mut editor).await;
    let campaign = app.get_json("/api/v1/campaigns").await["items"][0]["id"]
        .as_i64()
        .unwrap()
        .to_string();
    let res = editor
        .post(
            &app,
            "/app/activities/new",
            &[
                ("csrf", &csrf),
                ("plan_id", &plan),
                ("campaign_id", &campaign),
                ("kind", "learning_meeting"),
                ("status", "confirmed"),
                ("visibility", "public"),
                ("place.name", "Bilbao City Hall"),
                ("timing.precision", "exact"),
                ("timing.start", "2020-03-10T10:00"),
                ("timing.end", "2020-03-10T12:00"),
                ("timing.time_zone", "Europe/Madrid"),
                ("translations.en.title", "Learning meeting with We-Go"),
                ("translations.es.title", "Reunión de aprendizaje con We-Go"),
                ("translations.fr.title", ""),
                ("reason", "agreed by email"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let to = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(to.ends_with("?saved=created"), "{to}");
    assert_eq!(activity_count(&app).await, before + 1);
    let id: i64 = to
        .trim_start_matches("/app/activities/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let a = app.get_json(&format!("/api/v1/activities/{id}")).await;
    assert_eq!(a["kind"], "learning_meeting");
    assert_eq!(a["status"], "confirmed");
    assert_eq!(a["visibility"], "public");
    assert_eq!(a["campaign_id"].to_string(), campaign);
    assert_eq!(a["place"]["name"], "Bilbao City Hall");
    assert_eq!(a["timing"]["precision"], "exact");
    assert_eq!(a["timing"]["start"], "2020-03-10T10:00:00");
    assert_eq!(a["timing"]["end"], "2020-03-10T12:00:00");
    assert_eq!(a["timing"]["time_zone"], "Europe/Madrid");
    assert_eq!(
        a["translations"]["es"]["title"],
        "Reunión de aprendizaje con We-Go"
    );
    assert!(a["translations"].get("fr").is_none(), "{a}");
    // Its history says who and why, as an API write would.
    let history = app
        .get_json(&format!("/api/v1/activities/{id}/history"))
        .await;
    let first = &history[0];
    assert_eq!(first["action"], "created", "{history}");
    assert_eq!(first["reason"], "agreed by email", "{history}");
    // The page says it was created; it is in the week.
    let (_, page) = editor.get(&app, &format!("{to}&lang=en")).await;
    assert!(page.contains("The activity was created."), "{page}");
    let (_, week) = editor
        .get(&app, "/app/calendar/week?week=2020-03-10&lang=en")
        .await;
    assert!(day(&week, "2020-03-10").contains("Learning meeting with We-Go"));
}

#[tokio::test]
async fn a_new_activity_with_a_bad_field_is_shown_again_and_nothing_is_written() {
    let (app, mut editor, _) = seeded_with_people().await;
    let before = activity_count(&app).await;
    let (csrf, plan) = new_form(&app, &mut editor).await;
    let post = |form: Vec<(&'static str, String)>| {
        let mut pairs = form;
        pairs.push(("csrf", csrf.clone()));
        pairs.push(("plan_id", plan.clone()));
        pairs
    };
    // A bad start date: beside the start field, what was typed kept.
    let form = post(vec![
        ("kind", "event".into()),
        ("status", "planned".into()),
        ("timing.precision", "days".into()),
        ("timing.start", "2020-13-45".into()),
        (
            "translations.en.title",
            "Annual event <b>in</b> Málaga".into(),
        ),
    ]);
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = editor.post(&app, "/app/activities/new", &pairs).await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    let at = html.find("id=\"err-start\"").expect("beside the start");
    assert!(html[at..].contains("2020-13-45"));
    assert!(html.contains("value=\"2020-13-45\""));
    assert!(
        html.contains("value=\"Annual event &#60;b&#62;in&#60;/b&#62; Málaga\""),
        "{html}"
    );
    assert!(html.contains("action=\"/app/activities/new\""));
    // No title in any language: the rule of the use-case layer, beside the titles.
    let form = post(vec![
        ("kind", "event".into()),
        ("status", "planned".into()),
        ("timing.precision", "tbc".into()),
    ]);
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = editor.post(&app, "/app/activities/new", &pairs).await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("class=\"error\""), "{html}");
    // A plan or campaign that is not there: beside that field.
    let mut pairs = pairs.clone();
    pairs.retain(|(k, _)| *k != "plan_id");
    pairs.push(("plan_id", "999999"));
    pairs.push(("translations.en.title", "T"));
    let res = editor.post(&app, "/app/activities/new", &pairs).await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("id=\"err-plan\""));
    let mut pairs = pairs.clone();
    pairs.retain(|(k, _)| *k != "plan_id");
    pairs.push(("plan_id", &plan));
    pairs.push(("campaign_id", "999999"));
    let res = editor.post(&app, "/app/activities/new", &pairs).await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("id=\"err-campaign\""));
    assert_eq!(activity_count(&app).await, before, "nothing was written");
}

#[tokio::test]
async fn creating_needs_the_csrf_token_and_the_editor_role() {
    let (app, mut editor, mut viewer) = seeded_with_people().await;
    let before = activity_count(&app).await;
    let plan = plan_id(&app).await.to_string();
    let form = [
        ("plan_id", plan.as_str()),
        ("kind", "event"),
        ("status", "planned"),
        ("timing.precision", "tbc"),
        ("translations.en.title", "Sneaked in"),
    ];
    // No token, a wrong one: 403.
    let res = editor.post(&app, "/app/activities/new", &form).await;
    assert_eq!(res.status(), 403);
    let mut wrong = form.to_vec();
    wrong.push(("csrf", "0000000000000000000000000000000000000000"));
    assert_eq!(
        editor
            .post(&app, "/app/activities/new", &wrong)
            .await
            .status(),
        403
    );
    // A viewer sees no "New activity" and is refused the form and the post.
    for page in ["/app/agenda", "/app/calendar", "/app/calendar/week"] {
        let (_, html) = viewer.get(&app, page).await;
        assert!(!html.contains("/app/activities/new"), "{page}");
    }
    let (status, _) = viewer.get(&app, "/app/activities/new").await;
    assert_eq!(status, 403);
    let csrf = csrf_of(&viewer.get(&app, "/app/agenda").await.1);
    let mut with = form.to_vec();
    with.push(("csrf", &csrf));
    assert_eq!(
        viewer
            .post(&app, "/app/activities/new", &with)
            .await
            .status(),
        403
    );
    assert_eq!(activity_count(&app).await, before, "nothing was written");
    // Signed out: to the sign-in page, nothing written.
    let res = app
        .client
        .post(app.url("/app/activities/new"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("csrf=x")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "no CSRF cookie either");
    assert_eq!(activity_count(&app).await, before);
}
