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
