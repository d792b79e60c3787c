//! Date-range queries find activities by the days they touch, every occurrence of
//! a series included (issue 9: a range query costs what it finds, so rows are
//! found through stored spans, which these tests pin down).

use crate::activities::{activity, fixture};
use crate::helpers::*;
use serde_json::{Value, json};

fn titles(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["title"].as_str().unwrap().to_string())
        .collect()
}

fn named(mut body: Value, title: &str) -> Value {
    body["translations"] = json!({"en": {"title": title}});
    body
}

fn exact(start: &str, end: &str) -> Value {
    json!({"precision": "exact", "start": start, "end": end, "time_zone": "Europe/Madrid"})
}

#[tokio::test]
async fn series_long_spans_and_undated_items_in_a_range() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let create = |body: Value| app.create("/api/v1/activities", body);

    // Starts a year before March 2020 and recurs into it (weekly, 60 times).
    let mut weekly = named(
        activity(&f, exact("2019-06-03T09:00", "2019-06-03T10:00")),
        "weekly since 2019",
    );
    weekly["recurrence"] = json!({"rule": "FREQ=WEEKLY;COUNT=60"});
    create(weekly).await;
    // Never ends (RFC 5545 §3.3.10: no COUNT and no UNTIL), started in 2010.
    let mut endless = named(
        activity(&f, exact("2010-03-15T18:00", "2010-03-15T19:00")),
        "yearly since 2010",
    );
    endless["recurrence"] = json!({"rule": "FREQ=YEARLY"});
    create(endless).await;
    // Ended before the range.
    let mut ended = named(
        activity(&f, exact("2019-01-10T09:00", "2019-01-10T10:00")),
        "ended in 2019",
    );
    ended["recurrence"] = json!({"rule": "FREQ=MONTHLY;COUNT=3"});
    create(ended).await;
    // Its last occurrence is moved from February into March.
    let mut moved = named(
        activity(&f, exact("2020-01-10T09:00", "2020-01-10T10:00")),
        "moved into March",
    );
    moved["recurrence"] = json!({"rule": "FREQ=MONTHLY;COUNT=2", "exceptions": [
        {"occurrence": "2020-02-10T09:00:00", "timing": exact("2020-03-20T09:00", "2020-03-20T10:00")}
    ]});
    create(moved).await;
    // Whole days over eight months (a long span), and over seven weeks (a short one).
    create(named(
        activity(
            &f,
            json!({"precision": "days", "start": "2019-11-01", "end": "2020-06-30"}),
        ),
        "exhibition",
    ))
    .await;
    create(named(
        activity(
            &f,
            json!({"precision": "days", "start": "2020-01-15", "end": "2020-03-02"}),
        ),
        "seven weeks",
    ))
    .await;
    create(named(
        activity(&f, json!({"precision": "month", "month": "2020-03"})),
        "some day in March",
    ))
    .await;
    create(named(
        activity(&f, exact("2020-03-10T12:00", "2020-03-10T13:00")),
        "one-off",
    ))
    .await;
    create(named(
        activity(&f, json!({"precision": "tbc"})),
        "date to be confirmed",
    ))
    .await;

    let march = app
        .get_json("/api/v1/activities?from=2020-03-01&to=2020-03-31")
        .await;
    // In list order: by the first day each touches in the range (a series by its
    // first occurrence there), then by start.
    assert_eq!(
        titles(&march),
        [
            "exhibition",
            "seven weeks",
            "some day in March",
            "weekly since 2019",
            "one-off",
            "yearly since 2010",
            "moved into March"
        ],
        "{march}"
    );
    assert_eq!(march["total"], 7);
    let weekly = &march["items"][3];
    let starts: Vec<_> = weekly["occurrences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["timing"]["start"].as_str().unwrap().to_string())
        .collect();
    // Weekly from Monday 3 June 2019: the 40th to 44th occurrences are in March.
    assert_eq!(
        starts,
        [
            "2020-03-02T09:00:00",
            "2020-03-09T09:00:00",
            "2020-03-16T09:00:00",
            "2020-03-23T09:00:00",
            "2020-03-30T09:00:00"
        ]
    );
    assert_eq!(
        march["items"][5]["occurrences"][0]["timing"]["start"],
        "2020-03-15T18:00:00"
    );
    assert_eq!(march["items"][6]["occurrences"][0]["moved"], true);

    // Pages of a range keep its order and its total.
    let second = app
        .get_json("/api/v1/activities?from=2020-03-01&to=2020-03-31&per_page=3&page=2")
        .await;
    assert_eq!(second["total"], 7);
    assert_eq!(
        titles(&second),
        ["weekly since 2019", "one-off", "yearly since 2010"]
    );

    // The endless series is found however far on; the weekly one has ended by then.
    let later = app
        .get_json("/api/v1/activities?from=2035-03-01&to=2035-03-31")
        .await;
    assert_eq!(titles(&later), ["yearly since 2010"]);
    let july = app
        .get_json("/api/v1/activities?from=2020-07-01&to=2021-12-31")
        .await;
    assert_eq!(titles(&july), ["weekly since 2019", "yearly since 2010"]);

    // The undated item is in no range, and last in the unranged list.
    let all = app.get_json("/api/v1/activities?per_page=100").await;
    assert_eq!(all["total"], 9);
    assert_eq!(all["items"][8]["title"], "date to be confirmed", "{all}");
    let year = app
        .get_json("/api/v1/activities?from=2010-01-01&to=2040-12-31&per_page=100")
        .await;
    assert_eq!(year["total"], 8);
}

#[tokio::test]
async fn an_edited_series_is_found_where_it_now_recurs() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let mut body = activity(&f, exact("2020-01-07T10:00", "2020-01-07T11:00"));
    body["recurrence"] = json!({"rule": "FREQ=MONTHLY;COUNT=12"});
    let created = app.create("/api/v1/activities", body.clone()).await;
    let path = format!("/api/v1/activities/{}", created["id"]);
    let june = "/api/v1/activities?from=2020-06-01&to=2020-06-30";
    assert_eq!(app.get_json(june).await["total"], 1);

    // Shortened to three months: June has nothing any more.
    body["recurrence"] = json!({"rule": "FREQ=MONTHLY;COUNT=3"});
    body["version"] = json!(1);
    let res = app.put(&path, &body).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(app.get_json(june).await["total"], 0);

    // Made endless: found in 2030.
    body["recurrence"] = json!({"rule": "FREQ=MONTHLY"});
    body["version"] = json!(2);
    let res = app.put(&path, &body).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let later = app
        .get_json("/api/v1/activities?from=2030-06-01&to=2030-06-30")
        .await;
    assert_eq!(later["total"], 1);
    assert_eq!(
        later["items"][0]["occurrences"][0]["timing"]["start"],
        "2030-06-07T10:00:00"
    );

    // No longer recurring, moved to a day: found on that day only.
    body.as_object_mut().unwrap().remove("recurrence");
    body["timing"] = json!({"precision": "days", "start": "2020-09-01"});
    body["version"] = json!(3);
    let res = app.put(&path, &body).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(app.get_json(june).await["total"], 0);
    let september = app
        .get_json("/api/v1/activities?from=2020-09-01&to=2020-09-01")
        .await;
    assert_eq!(september["total"], 1);
    assert!(september["items"][0]["occurrences"].is_null());
}

#[tokio::test]
async fn a_series_stored_before_its_occurrences_were_is_found_then_stored_at_start() {
    use diesel::prelude::*;
    use pregon::db::schema::{activity_occurrences, activity_spans};
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let mut body = named(
        activity(&f, exact("2020-01-07T10:00", "2020-01-07T11:00")),
        "monthly",
    );
    body["recurrence"] = json!({"rule": "FREQ=MONTHLY;COUNT=12"});
    let id = app.create("/api/v1/activities", body).await["id"]
        .as_i64()
        .unwrap();
    create_plain(&app, &f, "2020-06-20T09:00", "one-off in June").await;
    let stored = |app: &TestApp| -> (i64, bool) {
        let mut conn = app.db.get().unwrap();
        let rows: i64 = activity_occurrences::table
            .filter(activity_occurrences::activity_id.eq(id))
            .count()
            .get_result(&mut conn)
            .unwrap();
        let flag: bool = activity_spans::table
            .find(id)
            .select(activity_spans::occurrences_stored)
            .first(&mut conn)
            .unwrap();
        (rows, flag)
    };
    assert_eq!(stored(&app), (12, true));

    // As a series written before occurrences were stored: a span, no occurrences.
    {
        let mut conn = app.db.get().unwrap();
        diesel::delete(
            activity_occurrences::table.filter(activity_occurrences::activity_id.eq(id)),
        )
        .execute(&mut conn)
        .unwrap();
        diesel::update(activity_spans::table.find(id))
            .set(activity_spans::occurrences_stored.eq(false))
            .execute(&mut conn)
            .unwrap();
    }
    let june = "/api/v1/activities?from=2020-06-01&to=2020-06-30&per_page=1";
    let check = |page: Value| {
        assert_eq!(page["total"], 2, "{page}");
        assert_eq!(titles(&page), ["monthly"]);
        assert_eq!(
            page["items"][0]["occurrences"][0]["timing"]["start"],
            "2020-06-07T10:00:00"
        );
    };
    check(app.get_json(june).await);

    // What start-up runs after the migrations stores them.
    pregon::db::run_migrations(&mut app.db.get().unwrap()).unwrap();
    assert_eq!(stored(&app), (12, true));
    check(app.get_json(june).await);
    let second = app
        .get_json("/api/v1/activities?from=2020-06-01&to=2020-06-30&per_page=1&page=2")
        .await;
    assert_eq!(titles(&second), ["one-off in June"]);
}

async fn create_plain(app: &TestApp, f: &crate::activities::Fixture, start: &str, title: &str) {
    let end = format!("{}T23:00", &start[..10]);
    app.create(
        "/api/v1/activities",
        named(activity(f, exact(start, &end)), title),
    )
    .await;
}

/// Every page of a range, put together, is the range's whole list in order,
/// with the same total, whatever mix of series, long spans and plain items it has.
#[tokio::test]
async fn the_pages_of_a_range_put_together_are_its_whole_list() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    for i in 0..9 {
        let day = format!("2020-03-{:02}T{:02}:00", 1 + i * 3, 8 + i);
        create_plain(&app, &f, &day, &format!("plain {i}")).await;
    }
    for (i, rule) in [
        "FREQ=WEEKLY;COUNT=20",
        "FREQ=DAILY;INTERVAL=5;COUNT=30",
        "FREQ=YEARLY",
    ]
    .iter()
    .enumerate()
    {
        let mut body = named(
            activity(
                &f,
                exact(
                    &format!("2020-01-0{}T07:30", i + 2),
                    &format!("2020-01-0{}T08:00", i + 2),
                ),
            ),
            &format!("series {i}"),
        );
        body["recurrence"] = json!({ "rule": rule });
        app.create("/api/v1/activities", body).await;
    }
    let whole = app
        .get_json("/api/v1/activities?from=2020-03-01&to=2020-04-30&per_page=500")
        .await;
    let all = titles(&whole);
    assert_eq!(whole["total"], all.len() as i64);
    assert_eq!(all.len(), 11, "{all:?}"); // the yearly one recurs in January only
    let mut pieced = Vec::new();
    for page in 1..=4 {
        let p = app
            .get_json(&format!(
                "/api/v1/activities?from=2020-03-01&to=2020-04-30&per_page=3&page={page}"
            ))
            .await;
        assert_eq!(p["total"], 11);
        pieced.extend(titles(&p));
    }
    assert_eq!(pieced, all);
}

/// A range reads its one-day activities and its longer short ones apart
/// (only the latter may have started before the range): pages cut both reads
/// at once, and still put together make the whole list with one total.
#[tokio::test]
async fn pages_of_one_day_and_several_day_items_put_together_are_the_whole_list() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    // More of each than a page's first read takes (64 rows), on the same days.
    for i in 0..70 {
        let day = 1 + i % 28;
        create_plain(
            &app,
            &f,
            &format!("2020-03-{day:02}T{:02}:00", 8 + i % 9),
            &format!("one day {i:02}"),
        )
        .await;
        let body = named(
            activity(
                &f,
                exact(
                    &format!("2020-03-{day:02}T{:02}:30", 8 + i % 7),
                    &format!("2020-03-{:02}T10:00", day + 2),
                ),
            ),
            &format!("three days {i:02}"),
        );
        app.create("/api/v1/activities", body).await;
    }
    // Began in February (found by the lookback), and a series of two-day
    // occurrences, one of them in March.
    app.create(
        "/api/v1/activities",
        named(
            activity(&f, exact("2020-02-20T09:00", "2020-03-03T18:00")),
            "since February",
        ),
    )
    .await;
    let mut series = named(
        activity(&f, exact("2020-01-30T09:00", "2020-01-31T18:00")),
        "two days monthly",
    );
    series["recurrence"] = json!({"rule": "FREQ=MONTHLY;COUNT=4"});
    app.create("/api/v1/activities", series).await;

    let range = "/api/v1/activities?from=2020-03-01&to=2020-03-31";
    let whole = app.get_json(&format!("{range}&per_page=500")).await;
    let all = titles(&whole);
    assert_eq!(all.len(), 142, "{all:?}");
    assert_eq!(whole["total"], 142);
    assert_eq!(all[0], "since February", "{all:?}");
    let mut pieced = Vec::new();
    for page in 1..=8 {
        let p = app
            .get_json(&format!("{range}&per_page=20&page={page}"))
            .await;
        assert_eq!(p["total"], 142, "page {page}");
        pieced.extend(titles(&p));
    }
    assert_eq!(pieced, all);
}

/// An activity that becomes longer than a day is still found from the days
/// it began before (and the other way round).
#[tokio::test]
async fn an_item_made_longer_than_a_day_is_found_in_the_days_it_now_reaches() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let mut body = activity(&f, exact("2020-02-28T09:00", "2020-02-28T18:00"));
    let created = app.create("/api/v1/activities", body.clone()).await;
    let path = format!("/api/v1/activities/{}", created["id"]);
    let march = "/api/v1/activities?from=2020-03-01&to=2020-03-31";
    assert_eq!(app.get_json(march).await["total"], 0);

    body["timing"] = exact("2020-02-28T09:00", "2020-03-02T18:00");
    body["version"] = json!(1);
    let res = app.put(&path, &body).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(app.get_json(march).await["total"], 1);
    let page = app.get_json(&format!("{march}&per_page=1")).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);

    body["timing"] = exact("2020-02-28T09:00", "2020-02-28T18:00");
    body["version"] = json!(2);
    let res = app.put(&path, &body).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(app.get_json(march).await["total"], 0);
}

/// A page stops reading at its last activity: on a day crowded with timed
/// items, a whole-day one (no start) still comes first, as in the whole list,
/// on both backends (PostgreSQL puts a missing start last unless told).
#[tokio::test]
async fn a_whole_day_leads_the_first_page_of_a_crowded_day() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    for i in 0..70 {
        let start = format!("2020-03-01T{:02}:{:02}", 8 + i / 60, i % 60);
        create_plain(&app, &f, &start, &format!("timed {i:02}")).await;
    }
    let whole_day = json!({"precision": "days", "start": "2020-03-01", "end": "2020-03-01"});
    app.create(
        "/api/v1/activities",
        named(activity(&f, whole_day), "all day"),
    )
    .await;
    let range = "/api/v1/activities?from=2020-03-01&to=2020-03-31";
    let all = titles(&app.get_json(&format!("{range}&per_page=500")).await);
    assert_eq!(all.len(), 71);
    assert_eq!(&all[..2], ["all day", "timed 00"], "{all:?}");
    let first = app.get_json(&format!("{range}&per_page=3")).await;
    assert_eq!(first["total"], 71);
    assert_eq!(titles(&first), all[..3], "{first}");
}

/// How many activities a range of March 2020 has with these filters.
async fn in_march(app: &TestApp, filters: &str) -> i64 {
    app.get_json(&format!(
        "/api/v1/activities?from=2020-03-01&to=2020-03-31&{filters}"
    ))
    .await["total"]
        .as_i64()
        .unwrap()
}

/// A range query reads the stored occurrences alone, each carrying its
/// activity's plan, campaign, kind, status and visibility: every edit of the
/// activity reaches them, and each filter (channels and languages too) finds
/// in a range what the activity now is.
#[tokio::test]
async fn a_range_is_filtered_by_what_its_activities_are_now() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let other_plan = app
        .create(
            "/api/v1/plans",
            json!({"slug": "p2021", "title": "Plan 2021", "organisation_id": f.org}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let mut series = named(
        activity(&f, exact("2020-03-03T10:00", "2020-03-03T11:00")),
        "weekly",
    );
    series["recurrence"] = json!({"rule": "FREQ=WEEKLY;COUNT=6"});
    let created = app.create("/api/v1/activities", series.clone()).await;
    create_plain(&app, &f, "2020-03-12T09:00", "plain").await;

    let plan = f.plan;
    let campaign = f.campaign;
    let channel = f.channel;
    for (filters, total) in [
        (format!("plan_id={plan}"), 2),
        (format!("plan_id={other_plan}"), 0),
        ("kind=event".to_owned(), 2),
        ("kind=milestone".to_owned(), 0),
        ("status=planned".to_owned(), 2),
        ("visibility=public".to_owned(), 2),
        (format!("campaign_id={campaign}"), 2),
        (format!("channel_id={channel}"), 2),
        ("lang=fr".to_owned(), 0),
        (format!("source_organisation_id={}", f.org), 0),
    ] {
        assert_eq!(in_march(&app, &filters).await, total, "{filters}");
    }

    // The series moves to the other plan and changes everything a range filters by.
    series["plan_id"] = json!(other_plan);
    series["period_id"] = json!(null);
    series["campaign_id"] = json!(null);
    series["kind"] = json!("milestone");
    series["status"] = json!("confirmed");
    series["visibility"] = json!("internal");
    series["channel_ids"] = json!([]);
    series["translations"] = json!({"en": {"title": "weekly"}, "fr": {"title": "hebdo"}});
    series["version"] = json!(1);
    let path = format!("/api/v1/activities/{}", created["id"]);
    let res = app.put(&path, &series).send().await.unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    for (filters, total) in [
        (format!("plan_id={plan}"), 1),
        (format!("plan_id={other_plan}"), 1),
        ("kind=event".to_owned(), 1),
        ("kind=milestone".to_owned(), 1),
        ("status=planned".to_owned(), 1),
        ("status=confirmed".to_owned(), 1),
        ("visibility=public".to_owned(), 1),
        ("visibility=internal".to_owned(), 1),
        (format!("campaign_id={campaign}"), 1),
        (format!("channel_id={channel}"), 1),
        ("lang=fr".to_owned(), 1),
        (
            format!("plan_id={other_plan}&kind=milestone&status=confirmed"),
            1,
        ),
        (format!("plan_id={other_plan}&status=planned"), 0),
    ] {
        assert_eq!(in_march(&app, &filters).await, total, "{filters}");
    }
    let page = app
        .get_json(&format!(
            "/api/v1/activities?from=2020-03-01&to=2020-03-31&plan_id={other_plan}&lang=fr"
        ))
        .await;
    assert_eq!(titles(&page), ["hebdo"]);
    assert_eq!(page["items"][0]["occurrences"].as_array().unwrap().len(), 5);
}

/// The migration that put the filter columns on the occurrences fills them
/// from the activities already stored.
#[tokio::test]
async fn the_occurrences_stored_before_their_filters_get_them_from_their_activities() {
    use diesel::prelude::*;
    use pregon::db::schema::{activities, activity_occurrences};
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let mut series = named(
        activity(&f, exact("2020-03-03T10:00", "2020-03-03T11:00")),
        "weekly",
    );
    series["recurrence"] = json!({"rule": "FREQ=WEEKLY;COUNT=6"});
    series["status"] = json!("tentative");
    app.create("/api/v1/activities", series).await;
    let mut month = named(
        activity(&f, json!({"precision": "month", "month": "2020-03"})),
        "some day in March",
    );
    month["kind"] = json!("milestone");
    month["visibility"] = json!("internal");
    month["campaign_id"] = json!(null);
    app.create("/api/v1/activities", month).await;

    // Back to before that migration, and forward again.
    let mut conn = app.db.get().unwrap();
    loop {
        let reverted = pregon::db::step_migration(&mut conn, false)
            .unwrap()
            .expect("the migration adding the filter columns");
        if reverted.replace('-', "").starts_with("20261209000300") {
            break;
        }
    }
    pregon::db::run_migrations(&mut conn).unwrap();

    #[allow(clippy::type_complexity)]
    let stamps: Vec<(
        (
            i64,
            Option<i64>,
            String,
            String,
            String,
            Option<i64>,
            String,
        ),
        (
            i64,
            Option<i64>,
            String,
            String,
            String,
            Option<i64>,
            String,
        ),
    )> = activity_occurrences::table
        .inner_join(activities::table)
        .select((
            (
                activity_occurrences::plan_id,
                activity_occurrences::campaign_id,
                activity_occurrences::kind,
                activity_occurrences::status,
                activity_occurrences::visibility,
                activity_occurrences::source_organisation_id,
                activity_occurrences::time_precision,
            ),
            (
                activities::plan_id,
                activities::campaign_id,
                activities::kind,
                activities::status,
                activities::visibility,
                activities::source_organisation_id,
                activities::time_precision,
            ),
        ))
        .load(&mut conn)
        .unwrap();
    drop(conn);
    assert_eq!(stamps.len(), 7);
    for (stored, activity) in &stamps {
        assert_eq!(stored, activity);
    }
    assert_eq!(in_march(&app, "status=tentative").await, 1);
    assert_eq!(
        in_march(&app, "kind=milestone&visibility=internal").await,
        1
    );
    assert_eq!(in_march(&app, &format!("plan_id={}", f.plan)).await, 2);
}

/// The migration that added `one_day` and `earlier_until` to the occurrences
/// fills them for the rows already stored as the application writes them.
#[tokio::test]
async fn the_occurrences_stored_before_their_range_columns_get_them_as_if_written_now() {
    use diesel::prelude::*;
    use pregon::db::schema::activity_occurrences;
    let app = spawn_app().await;
    let f = fixture(&app).await;
    create_plain(&app, &f, "2020-03-03T10:00", "one day").await;
    app.create(
        "/api/v1/activities",
        named(
            activity(&f, exact("2020-03-03T10:00", "2020-03-05T18:00")),
            "three days",
        ),
    )
    .await;
    // Two-day occurrences, one moved before the first and one made long.
    let mut series = named(
        activity(&f, exact("2020-03-10T09:00", "2020-03-11T18:00")),
        "weekly two days",
    );
    series["recurrence"] = json!({"rule": "FREQ=WEEKLY;COUNT=5", "exceptions": [
        {"occurrence": "2020-03-17T09:00:00", "timing": exact("2020-03-01T09:00", "2020-03-02T18:00")},
        {"occurrence": "2020-03-24T09:00:00", "timing": exact("2020-03-24T09:00", "2020-06-30T18:00")}
    ]});
    app.create("/api/v1/activities", series).await;
    let mut daily = named(
        activity(&f, exact("2020-03-01T09:00", "2020-03-01T10:00")),
        "daily",
    );
    daily["recurrence"] = json!({"rule": "FREQ=DAILY;COUNT=4"});
    app.create("/api/v1/activities", daily).await;

    type Columns = (i64, i32, bool, Option<chrono::NaiveDate>);
    let read = |conn: &mut pregon::db::DbConnection| -> Vec<Columns> {
        activity_occurrences::table
            .order((activity_occurrences::activity_id, activity_occurrences::n))
            .select((
                activity_occurrences::activity_id,
                activity_occurrences::n,
                activity_occurrences::one_day,
                activity_occurrences::earlier_until,
            ))
            .load(conn)
            .unwrap()
    };
    let mut conn = app.db.get().unwrap();
    let written = read(&mut conn);
    assert_eq!(written.len(), 1 + 1 + 5 + 4);
    assert!(written.iter().any(|r| r.3.is_some()), "{written:?}");
    loop {
        let reverted = pregon::db::step_migration(&mut conn, false)
            .unwrap()
            .expect("the migration adding the range columns");
        if reverted.replace('-', "").starts_with("20261211000100") {
            break;
        }
    }
    pregon::db::run_migrations(&mut conn).unwrap();
    assert_eq!(read(&mut conn), written);
}
