use crate::helpers::*;
use serde_json::{Value, json};

/// A plan with one period, campaign and channel to hang activities on.
pub struct Fixture {
    pub plan: i64,
    pub period: i64,
    pub campaign: i64,
    pub channel: i64,
    pub org: i64,
}

pub async fn fixture(app: &TestApp) -> Fixture {
    let org = app
        .create(
            "/api/v1/organisations",
            json!({"slug": "cop", "name": "Community of Practice", "kind": "community"}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let plan = app
        .create(
            "/api/v1/plans",
            json!({"slug": "p2020", "title": "Plan 2020", "organisation_id": org,
                   "periods": [{"name": "2020", "starts_on": "2020-01-01", "ends_on": "2020-12-31"}],
                   "goals": [{"description": "Launch the study", "period": 0}]}),
        )
        .await;
    let channel = app
        .create(
            "/api/v1/channels",
            json!({"slug": "web", "kind": "website", "name": "Website", "organisation_id": org}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let campaign = app
        .create(
            "/api/v1/campaigns",
            json!({"plan_id": plan["id"], "slug": "launch", "status": "planned", "channel_ids": [channel],
                   "translations": {"en": {"title": "Launch"}, "es": {"title": "Lanzamiento"}}}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    Fixture {
        plan: plan["id"].as_i64().unwrap(),
        period: plan["periods"][0]["id"].as_i64().unwrap(),
        campaign,
        channel,
        org,
    }
}

pub fn activity(f: &Fixture, timing: Value) -> Value {
    json!({
        "plan_id": f.plan,
        "period_id": f.period,
        "campaign_id": f.campaign,
        "kind": "event",
        "status": "planned",
        "visibility": "public",
        "timing": timing,
        "channel_ids": [f.channel],
        "translations": {"en": {"title": "Panel"}, "es": {"title": "Panel (es)"}, "fr": {"title": "Panel (fr)"}}
    })
}

#[tokio::test]
async fn exact_times_keep_their_zone_and_are_stored_in_utc() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let created = app
        .create(
            "/api/v1/activities",
            activity(&f, json!({"precision": "exact", "start": "2020-03-10T10:00", "end": "2020-03-10T12:30", "time_zone": "Europe/Madrid"})),
        )
        .await;
    assert_eq!(created["timing"]["start"], "2020-03-10T10:00:00");
    assert_eq!(created["timing"]["time_zone"], "Europe/Madrid");
    assert_eq!(created["timing"]["start_utc"], "2020-03-10T09:00:00Z");
    assert_eq!(created["timing"]["end_utc"], "2020-03-10T11:30:00Z");
    assert_eq!(created["uid"].as_str().unwrap().len(), 36);
    let read = app
        .get_json(&format!("/api/v1/activities/{}", created["id"]))
        .await;
    assert_eq!(read["timing"], created["timing"]);
    assert_eq!(read["uid"], created["uid"]);
}

#[tokio::test]
async fn invalid_activities_are_refused_naming_the_field_and_nothing_is_written() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let exact = |start: &str, end: &str, zone: &str| json!({"precision": "exact", "start": start, "end": end, "time_zone": zone});
    let mut cases: Vec<(Value, &str)> = vec![
        (
            activity(
                &f,
                exact("2020-03-10T10:00", "2020-03-10T09:00", "Europe/Madrid"),
            ),
            "timing.end",
        ),
        (
            activity(
                &f,
                exact("2020-03-10T10:00", "2020-03-10T11:00", "Europe/Bilbao"),
            ),
            "timing.time_zone",
        ),
        (
            activity(&f, exact("2020-02-30T10:00", "2020-03-10T11:00", "UTC")),
            "timing.start",
        ),
        (
            activity(
                &f,
                exact("2020-03-29T02:30", "2020-03-29T04:00", "Europe/Madrid"),
            ),
            "timing.start",
        ),
        (
            activity(&f, exact("2020-03-10T10:00Z", "2020-03-10T11:00", "UTC")),
            "timing.start",
        ),
        (
            activity(
                &f,
                json!({"precision": "days", "start": "2020-03-10", "end": "2020-03-01"}),
            ),
            "timing.end",
        ),
        (
            activity(&f, json!({"precision": "month", "month": "2020-13"})),
            "timing.month",
        ),
        (
            activity(&f, json!({"precision": "sometime"})),
            "timing.precision",
        ),
    ];
    let mut bad_lang = activity(&f, json!({"precision": "tbc"}));
    bad_lang["translations"] = json!({"de": {"title": "Podium"}});
    // The unknown language itself is the place at fault.
    cases.push((bad_lang, "translations.de"));
    let mut no_lang = activity(&f, json!({"precision": "tbc"}));
    no_lang["translations"] = json!({});
    cases.push((no_lang, "translations"));
    let mut bad_rule = activity(&f, exact("2020-03-10T10:00", "2020-03-10T11:00", "UTC"));
    bad_rule["recurrence"] = json!({"rule": "FREQ=FORTNIGHTLY"});
    cases.push((bad_rule, "recurrence.rule"));
    let mut tbc_rule = activity(&f, json!({"precision": "tbc"}));
    tbc_rule["recurrence"] = json!({"rule": "FREQ=MONTHLY"});
    cases.push((tbc_rule, "recurrence.rule"));
    let mut bad_exception = activity(&f, exact("2020-03-10T10:00", "2020-03-10T11:00", "UTC"));
    bad_exception["recurrence"] = json!({"rule": "FREQ=WEEKLY", "exceptions": [{"occurrence": "2020-03-11T10:00:00", "cancelled": true}]});
    cases.push((bad_exception, "recurrence.exceptions[0].occurrence"));
    let mut bad_ref = activity(&f, json!({"precision": "tbc"}));
    bad_ref["campaign_id"] = json!(9999);
    cases.push((bad_ref, "campaign_id"));
    let mut bad_channel = activity(&f, json!({"precision": "tbc"}));
    bad_channel["channel_ids"] = json!([f.channel, 4242]);
    cases.push((bad_channel, "channel_ids[1]"));
    let mut wrong_type = activity(&f, json!({"precision": "tbc"}));
    wrong_type["plan_id"] = json!("one");
    cases.push((wrong_type, "plan_id"));
    let mut unknown = activity(&f, json!({"precision": "tbc"}));
    unknown["colour"] = json!("blue");
    cases.push((unknown, "colour"));

    for (body, field) in cases {
        let res = app.post("/api/v1/activities", &body).send().await.unwrap();
        let problem = expect_problem(res, 422).await;
        let got = problem["field"].as_str().unwrap_or_default().to_owned();
        assert!(
            got == field
                || problem["detail"]
                    .as_str()
                    .unwrap_or_default()
                    .contains(field),
            "expected field {field}, got {problem}"
        );
        assert!(
            problem["errors"][0]["pointer"]
                .as_str()
                .unwrap_or("")
                .starts_with("#/")
                || got.is_empty()
        );
    }
    assert_eq!(app.get_json("/api/v1/activities").await["total"], 0);
}

#[tokio::test]
async fn the_same_tbc_activity_is_a_state_not_a_date() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let created = app
        .create(
            "/api/v1/activities",
            activity(&f, json!({"precision": "tbc"})),
        )
        .await;
    assert_eq!(created["timing"], json!({"precision": "tbc"}));
    // A date range never matches an undated activity; the unfiltered list has it last.
    let ranged = app
        .get_json("/api/v1/activities?from=2020-01-01&to=2020-12-31")
        .await;
    assert_eq!(ranged["total"], 0);
    app.create(
        "/api/v1/activities",
        activity(&f, json!({"precision": "month", "month": "2020-05"})),
    )
    .await;
    let all = app.get_json("/api/v1/activities").await;
    assert_eq!(all["items"][0]["timing"]["month"], "2020-05");
    assert_eq!(all["items"][1]["timing"]["precision"], "tbc");
}

#[tokio::test]
async fn date_ranges_see_occurrences_of_recurring_activities() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let mut monthly = activity(
        &f,
        json!({"precision": "exact", "start": "2020-01-07T10:00", "end": "2020-01-07T11:00", "time_zone": "Europe/Madrid"}),
    );
    monthly["kind"] = json!("progress_report");
    monthly["recurrence"] = json!({
        "rule": "FREQ=MONTHLY;BYDAY=1TU",
        "exceptions": [
            {"occurrence": "2020-04-07T10:00:00", "cancelled": true},
            {"occurrence": "2020-05-05T10:00:00", "timing": {"precision": "exact", "start": "2020-05-06T16:00", "end": "2020-05-06T17:00", "time_zone": "Europe/Madrid"}}
        ]
    });
    let created = app.create("/api/v1/activities", monthly).await;
    assert_eq!(
        created["recurrence"]["exceptions"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    app.create(
        "/api/v1/activities",
        activity(
            &f,
            json!({"precision": "days", "start": "2020-01-20", "end": "2020-01-21"}),
        ),
    )
    .await;

    // Its first occurrence is in January, but March has one of its own.
    let march = app
        .get_json("/api/v1/activities?from=2020-03-01&to=2020-03-31")
        .await;
    assert_eq!(march["total"], 1);
    let occ = &march["items"][0]["occurrences"];
    assert_eq!(occ.as_array().unwrap().len(), 1);
    assert_eq!(occ[0]["timing"]["start"], "2020-03-03T10:00:00");
    assert_eq!(occ[0]["timing"]["start_utc"], "2020-03-03T09:00:00Z");

    // April's occurrence is cancelled: nothing then. May's is moved to the 6th.
    let april = app
        .get_json("/api/v1/activities?from=2020-04-01&to=2020-04-30")
        .await;
    assert_eq!(april["total"], 0);
    let may = app
        .get_json("/api/v1/activities?from=2020-05-06&to=2020-05-06")
        .await;
    assert_eq!(may["total"], 1);
    assert_eq!(may["items"][0]["occurrences"][0]["moved"], true);
    assert_eq!(
        may["items"][0]["occurrences"][0]["timing"]["start_utc"],
        "2020-05-06T14:00:00Z"
    );

    let january = app
        .get_json("/api/v1/activities?from=2020-01-01&to=2020-01-31")
        .await;
    assert_eq!(january["total"], 2);
    let days: Vec<_> = january["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].clone())
        .collect();
    assert_eq!(days, [json!("progress_report"), json!("event")]);

    let res = app
        .get("/api/v1/activities?from=2020-05-01&to=2020-04-01")
        .send()
        .await
        .unwrap();
    expect_problem(res, 422).await;
    let res = app.get("/api/v1/activities?from=May").send().await.unwrap();
    expect_problem(res, 400).await;
}

#[tokio::test]
async fn filters_and_pagination() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    for day in 1..=7 {
        let mut a = activity(
            &f,
            json!({"precision": "days", "start": format!("2020-06-{day:02}")}),
        );
        if day % 2 == 0 {
            a["kind"] = json!("social_post");
            a["status"] = json!("confirmed");
            a["campaign_id"] = json!(null);
            a["channel_ids"] = json!([]);
            a["translations"] = json!({"es": {"title": format!("Post {day}")}});
        }
        app.create("/api/v1/activities", a).await;
    }
    let q = |s: &str| format!("/api/v1/activities?{s}");
    assert_eq!(app.get_json(&q("kind=social_post")).await["total"], 3);
    assert_eq!(app.get_json(&q("status=confirmed")).await["total"], 3);
    assert_eq!(
        app.get_json(&q(&format!("campaign_id={}", f.campaign)))
            .await["total"],
        4
    );
    assert_eq!(
        app.get_json(&q(&format!("channel_id={}", f.channel))).await["total"],
        4
    );
    assert_eq!(app.get_json(&q("lang=fr")).await["total"], 4);
    let es = app.get_json(&q("lang=es&kind=social_post")).await;
    assert_eq!(es["items"][0]["title"], "Post 2");
    assert_eq!(es["items"][0]["lang"], "es");
    let page2 = app.get_json(&q("per_page=3&page=2")).await;
    assert_eq!(page2["total"], 7);
    assert_eq!(page2["items"].as_array().unwrap().len(), 3);
    assert_eq!(page2["items"][0]["timing"]["start"], "2020-06-04");
    let res = app.get(&q("kind=podcast")).send().await.unwrap();
    expect_problem(res, 400).await;
    // A page size out of bounds is the query parameter's fault (400 naming
    // it), not a body pointer.
    let res = app.get(&q("per_page=0")).send().await.unwrap();
    let problem = expect_problem(res, 400).await;
    assert_eq!(problem["errors"][0]["parameter"], "per_page", "{problem}");
    assert!(problem["errors"][0]["pointer"].is_null(), "{problem}");
}

#[tokio::test]
async fn sequence_counts_only_changes_subscribers_see() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let mut body = activity(&f, json!({"precision": "tbc"}));
    let created = app.create("/api/v1/activities", body.clone()).await;
    let path = format!("/api/v1/activities/{}", created["id"]);
    assert_eq!(created["sequence"], 0);

    // An internal detail (the owner) changes the version, not the sequence.
    body["owner_organisation_id"] = json!(f.org);
    body["version"] = json!(1);
    let res = app.put(&path, &body).send().await.unwrap();
    let v2: Value = res.json().await.unwrap();
    assert_eq!(
        (v2["version"].clone(), v2["sequence"].clone()),
        (json!(2), json!(0))
    );

    // The date is fixed: subscribers must see it.
    body["timing"] = json!({"precision": "days", "start": "2020-10-01"});
    body["status"] = json!("confirmed");
    body["version"] = json!(2);
    let v3: Value = app
        .put(&path, &body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (v3["version"].clone(), v3["sequence"].clone()),
        (json!(3), json!(1))
    );
    assert_eq!(v3["uid"], created["uid"]);

    body["status"] = json!("cancelled");
    body["version"] = json!(3);
    let v4: Value = app
        .put(&path, &body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v4["sequence"], 2);
    assert!(v4["cancelled_at"].is_string());
}

#[tokio::test]
async fn concurrent_edits_never_lose_an_update() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let body = activity(&f, json!({"precision": "tbc"}));
    let created = app.create("/api/v1/activities", body.clone()).await;
    let path = format!("/api/v1/activities/{}", created["id"]);
    let edits = (0..6).map(|i| {
        let mut b = body.clone();
        b["translations"]["en"]["title"] = json!(format!("Edit {i}"));
        b["version"] = json!(1);
        app.put(&path, &b).send()
    });
    let results = futures_util::future::join_all(edits).await;
    let statuses: Vec<u16> = results
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 409),
        "{statuses:?}"
    );
    assert_eq!(app.get_json(&path).await["version"], 2);
}
