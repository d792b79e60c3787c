use crate::activities::{Fixture, activity, fixture};
use crate::helpers::*;
use chrono::TimeDelta;
use pregon::calendar::import::{ImportLimits, ImportedTime, parse_calendar};
use serde_json::{Value, json};
use std::io::Read;

/// Runs tests/tools/validate_ics.py (python icalendar, vobject, recurring-ical-events
/// and strict RFC 5545 checks) on a calendar; returns its JSON report.
pub fn validate(ics: &str, from: &str, to: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("feed.ics");
    std::fs::write(&path, ics).unwrap();
    let out = std::process::Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/tools/validate_ics.py"
        ))
        .args(["--from", from, "--to", to])
        .arg(&path)
        .output()
        .expect("python3 is needed for the calendar validation tests");
    assert!(
        out.status.success(),
        "validate_ics.py refused the feed (install its parsers with \
         `pip install icalendar vobject recurring-ical-events` if it says they are missing):\n{}\n{ics}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

async fn feed(app: &TestApp, path: &str) -> (reqwest::header::HeaderMap, String) {
    // A fresh connection each time: the validator can take longer than the
    // server's keep-alive on a busy machine, and a pooled connection the server
    // has just closed fails with IncompleteMessage.
    let res = app
        .client
        .get(app.url(path))
        .header("connection", "close")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{path}");
    assert_eq!(
        res.headers()["content-type"],
        "text/calendar; charset=utf-8"
    );
    let headers = res.headers().clone();
    (headers, res.text().await.unwrap())
}

fn vevents(ics: &str) -> Vec<String> {
    ics.split("BEGIN:VEVENT")
        .skip(1)
        .map(|s| s.split("END:VEVENT").next().unwrap().to_owned())
        .collect()
}

/// Unfolded lines of one event, as the importer sees them.
fn unfold(text: &str) -> String {
    text.replace("\r\n ", "")
}

async fn put_activity(app: &TestApp, id: &Value, body: &mut Value) -> Value {
    let current = app.get_json(&format!("/api/v1/activities/{id}")).await;
    body["version"] = current["version"].clone();
    let res = app
        .put(&format!("/api/v1/activities/{id}"), body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let json: Value = res.json().await.unwrap();
    assert_eq!(status, 200, "{json}");
    json
}

/// A plan with the pitfalls of real calendars in it.
async fn varied_plan(app: &TestApp) -> Fixture {
    let f = fixture(app).await;
    let mut madrid = activity(
        &f,
        json!({"precision": "exact", "start": "2020-03-10T10:00", "end": "2020-03-10T12:00", "time_zone": "Europe/Madrid"}),
    );
    madrid["translations"] = json!({
        "en": {"title": "Launch; part 1, with \"quotes\" \\ and a backslash", "description": "Line one\nLine two: Málaga 🎉, ñ, 中文"},
        "es": {"title": "Lanzamiento, parte 1; «comillas»"}
    });
    madrid["place"] =
        json!({"name": "Bilbao City Hall", "address": "Plaza Ernesto Erkoreka, 1, Bilbao"});
    app.create("/api/v1/activities", madrid).await;
    app.create(
        "/api/v1/activities",
        activity(&f, json!({"precision": "exact", "start": "2019-11-12T14:00", "end": "2019-11-12T15:30", "time_zone": "Africa/Johannesburg"})),
    )
    .await;
    app.create(
        "/api/v1/activities",
        activity(&f, json!({"precision": "days", "start": "2020-01-31"})),
    )
    .await;
    let mut monthly = activity(
        &f,
        json!({"precision": "exact", "start": "2020-01-07T10:00", "end": "2020-01-07T11:00", "time_zone": "Europe/Madrid"}),
    );
    monthly["kind"] = json!("progress_report");
    monthly["recurrence"] = json!({
        "rule": "FREQ=MONTHLY;BYDAY=1TU;COUNT=6",
        "exceptions": [
            {"occurrence": "2020-04-07T10:00:00", "cancelled": true},
            {"occurrence": "2020-05-05T10:00:00", "timing": {"precision": "exact", "start": "2020-05-06T16:00", "end": "2020-05-06T17:00", "time_zone": "Europe/Madrid"}}
        ]
    });
    monthly["translations"] = json!({"en": {"title": "Progress report"}});
    app.create("/api/v1/activities", monthly).await;
    f
}

#[tokio::test]
async fn the_public_feed_passes_independent_parsers_and_strict_checks() {
    let app = spawn_app().await;
    varied_plan(&app).await;
    for lang in ["en", "es", "fr"] {
        let (_, ics) = feed(&app, &format!("/feeds/public.ics?lang={lang}")).await;
        let report = validate(&ics, "2019-01-01", "2021-01-01");
        let file = &report["files"][0];
        assert_eq!(file["events"], 5, "{report}");
        assert!(ics.contains(&format!("SUMMARY;LANGUAGE={lang}")) || lang == "fr");
    }
    let (_, ics) = feed(&app, "/feeds/public.ics?lang=en").await;
    let report = validate(&ics, "2019-01-01", "2021-01-01");
    let occurrences = report["files"][0]["occurrences"].as_array().unwrap();
    let starts: Vec<&str> = occurrences
        .iter()
        .filter(|o| o["summary"] == "Progress report")
        .map(|o| o["start"].as_str().unwrap())
        .collect();
    // COUNT=6 from January, April skipped, May moved to the 6th at 16:00;
    // +01:00 before the March DST change, +02:00 after it.
    assert_eq!(
        starts,
        [
            "2020-01-07T10:00:00+01:00",
            "2020-02-04T10:00:00+01:00",
            "2020-03-03T10:00:00+01:00",
            "2020-05-06T16:00:00+02:00",
            "2020-06-02T10:00:00+02:00",
        ],
        "{report}"
    );

    // The escaped title and description come back exactly.
    let parsed = parse_calendar(ics.as_bytes(), &ImportLimits::default()).unwrap();
    let launch = parsed
        .events
        .iter()
        .find(|e| e.summary.as_deref().unwrap().starts_with("Launch"))
        .unwrap();
    assert_eq!(
        launch.summary.as_deref(),
        Some("Launch; part 1, with \"quotes\" \\ and a backslash")
    );
    assert_eq!(
        launch.description.as_deref(),
        Some("Line one\nLine two: Málaga 🎉, ñ, 中文")
    );
    assert_eq!(
        launch.location.as_deref(),
        Some("Bilbao City Hall, Plaza Ernesto Erkoreka, 1, Bilbao")
    );
    // One VTIMEZONE per zone used, and the zones are IANA names.
    assert_eq!(ics.matches("BEGIN:VTIMEZONE").count(), 2);
    assert!(ics.contains("TZID:Europe/Madrid") && ics.contains("TZID:Africa/Johannesburg"));
    assert!(unfold(&ics).contains("DTSTART;TZID=Africa/Johannesburg:20191112T140000"));
    // All-day at the end of a month: DTEND is the exclusive next day.
    assert!(ics.contains("DTSTART;VALUE=DATE:20200131\r\nDTEND;VALUE=DATE:20200201"));
    // Recurrence stays a rule with an EXDATE and an override, never copies.
    assert!(ics.contains("RRULE:FREQ=MONTHLY;COUNT=6;BYDAY=1TU"));
    assert!(ics.contains("EXDATE;TZID=Europe/Madrid:20200407T100000"));
    assert!(ics.contains("RECURRENCE-ID;TZID=Europe/Madrid:20200505T100000"));
}

#[tokio::test]
async fn validators_give_304_until_the_data_changes() {
    let app = spawn_app().await;
    let f = varied_plan(&app).await;
    let (headers, body) = feed(&app, "/feeds/public.ics").await;
    let etag = headers["etag"].to_str().unwrap().to_owned();
    let last_modified = headers["last-modified"].to_str().unwrap().to_owned();
    assert!(
        etag.starts_with('"') && !etag.starts_with("W/"),
        "strong ETag: {etag}"
    );
    assert_eq!(headers["vary"], "Accept-Encoding");
    // Nothing depends on the time of the request.
    app.clock.advance(TimeDelta::hours(5));
    let (again, body_again) = feed(&app, "/feeds/public.ics").await;
    assert_eq!(
        (again["etag"].clone(), body_again.clone()),
        (headers["etag"].clone(), body.clone())
    );

    let res = app
        .client
        .get(app.url("/feeds/public.ics"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 304);
    assert_eq!(res.headers()["etag"], etag.as_str());
    assert!(res.bytes().await.unwrap().is_empty());
    let res = app
        .client
        .get(app.url("/feeds/public.ics"))
        .header("if-modified-since", &last_modified)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 304);

    // HEAD: the same headers, no body.
    let res = app
        .client
        .head(app.url("/feeds/public.ics"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["etag"], etag.as_str());
    assert!(res.bytes().await.unwrap().is_empty());

    // gzip when asked, with its own validator, decoding to the same bytes.
    let res = app
        .client
        .get(app.url("/feeds/public.ics"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-encoding"], "gzip");
    let gz_etag = res.headers()["etag"].to_str().unwrap().to_owned();
    assert_ne!(gz_etag, etag);
    let compressed = res.bytes().await.unwrap();
    let mut decoded = String::new();
    flate2::read::GzDecoder::new(&compressed[..])
        .read_to_string(&mut decoded)
        .unwrap();
    assert_eq!(decoded, body);
    let res = app
        .client
        .get(app.url("/feeds/public.ics"))
        .header("accept-encoding", "gzip")
        .header("if-none-match", &gz_etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 304);

    // A change: 200 with a new ETag and a later Last-Modified.
    app.clock.advance(TimeDelta::minutes(1));
    let list = app
        .get_json("/api/v1/activities?kind=event&per_page=1")
        .await;
    let mut changed = activity(&f, json!({"precision": "days", "start": "2020-02-03"}));
    put_activity(&app, &list["items"][0]["id"], &mut changed).await;
    let res = app
        .client
        .get(app.url("/feeds/public.ics"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_ne!(res.headers()["etag"], etag.as_str());
    let res = app
        .client
        .get(app.url("/feeds/public.ics"))
        .header("if-modified-since", &last_modified)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // A deletion too, though no remaining row is newer.
    let (before, _) = feed(&app, "/feeds/public.ics").await;
    app.clock.advance(TimeDelta::minutes(1));
    let res = app
        .delete(&format!("/api/v1/activities/{}", list["items"][0]["id"]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let res = app
        .client
        .get(app.url("/feeds/public.ics"))
        .header("if-none-match", before["etag"].to_str().unwrap())
        .header(
            "if-modified-since",
            before["last-modified"].to_str().unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn a_date_to_be_confirmed_is_a_placeholder_then_is_updated_in_place() {
    let app = spawn_seeded_app().await;
    let (_, ics) = feed(&app, "/feeds/public.ics?lang=es").await;
    validate(&ics, "2019-01-01", "2021-01-01");
    let malaga = vevents(&ics)
        .into_iter()
        .map(|e| unfold(&e))
        .find(|e| e.contains("Tendencias en Innovación Municipal"))
        .expect("the Málaga event is published");
    assert!(malaga.contains("(fecha por confirmar)"), "{malaga}");
    assert!(malaga.contains("STATUS:TENTATIVE") && malaga.contains("TRANSP:TRANSPARENT"));
    assert!(malaga.contains("DTSTART;VALUE=DATE:") && malaga.contains("SEQUENCE:0"));
    let uid = malaga
        .lines()
        .find(|l| l.starts_with("UID:"))
        .unwrap()
        .to_owned();

    // The date is fixed: same UID, higher SEQUENCE, a real time with its zone.
    let list = app.get_json("/api/v1/activities?kind=event&lang=en").await;
    let event = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["timing"]["precision"] == "tbc")
        .unwrap()
        .clone();
    let mut body = json!({
        "plan_id": event["plan_id"], "period_id": event["period_id"], "kind": "event", "status": "confirmed",
        "visibility": "public",
        "timing": {"precision": "exact", "start": "2020-10-22T09:30", "end": "2020-10-22T14:00", "time_zone": "Europe/Madrid"},
        "place": {"name": "Málaga, Spain"}, "channel_ids": event["channel_ids"],
        "translations": event["translations"],
    });
    app.clock.advance(TimeDelta::minutes(5));
    put_activity(&app, &event["id"], &mut body).await;
    let (_, ics) = feed(&app, "/feeds/public.ics?lang=es").await;
    validate(&ics, "2019-01-01", "2021-01-01");
    let fixed = vevents(&ics)
        .into_iter()
        .map(|e| unfold(&e))
        .find(|e| e.contains(&uid))
        .unwrap();
    assert!(fixed.contains("SEQUENCE:1"), "{fixed}");
    assert!(fixed.contains("DTSTART;TZID=Europe/Madrid:20201022T093000"));
    assert!(fixed.contains("STATUS:CONFIRMED") && fixed.contains("TRANSP:OPAQUE"));
    assert!(!fixed.contains("(fecha por confirmar)"), "{fixed}");
    assert!(ics.contains("BEGIN:VTIMEZONE\r\nTZID:Europe/Madrid"));
}

#[tokio::test]
async fn a_cancelled_event_is_published_as_cancelled_then_leaves() {
    let app = spawn_app_with(|s| s.feeds.cancelled_retention_days = 30).await;
    let f = fixture(&app).await;
    let created = app
        .create(
            "/api/v1/activities",
            activity(&f, json!({"precision": "days", "start": "2020-06-01"})),
        )
        .await;
    let mut body = activity(&f, json!({"precision": "days", "start": "2020-06-01"}));
    body["status"] = json!("cancelled");
    put_activity(&app, &created["id"], &mut body).await;
    let (_, ics) = feed(&app, "/feeds/public.ics").await;
    assert!(
        ics.contains("STATUS:CANCELLED") && ics.contains("SEQUENCE:1"),
        "{ics}"
    );
    validate(&ics, "2020-01-01", "2021-01-01");

    app.clock.advance(TimeDelta::days(29));
    let (_, ics) = feed(&app, "/feeds/public.ics").await;
    assert!(ics.contains("STATUS:CANCELLED"));
    app.clock.advance(TimeDelta::days(2));
    let (_, ics) = feed(&app, "/feeds/public.ics").await;
    assert_eq!(vevents(&ics).len(), 0, "{ics}");
}

#[tokio::test]
async fn private_feeds_live_at_a_token_url_until_revoked() {
    let app = spawn_app().await;
    let f = varied_plan(&app).await;
    let mut internal = activity(&f, json!({"precision": "days", "start": "2020-07-01"}));
    internal["visibility"] = json!("internal");
    internal["kind"] = json!("learning_meeting");
    app.create("/api/v1/activities", internal).await;

    let res = app
        .client
        .post(app.url("/api/v1/feeds"))
        .bearer_auth(&app.admin)
        .json(&json!({"name": "UN-Habitat", "lang": "es", "organisation_id": f.org,
                      "filters": {"kinds": ["learning_meeting", "event"], "include_internal": true}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    let token = created["token"].as_str().unwrap().to_owned();
    assert!(token.len() >= 43, "unguessable: {token}");
    let links = &created["links"];
    let https = links["https"].as_str().unwrap();
    assert!(https.ends_with(&format!("/feeds/{token}.ics")));
    assert_eq!(links["webcal"], https.replacen("http://", "webcal://", 1));
    assert!(
        links["google"]
            .as_str()
            .unwrap()
            .starts_with("https://calendar.google.com/calendar/render?cid=webcal%3A%2F%2F")
    );
    assert!(
        links["outlook"]
            .as_str()
            .unwrap()
            .starts_with("https://outlook.live.com/calendar/0/addfromweb?url=http")
    );

    let path = format!("/feeds/{token}.ics");
    let (_, ics) = feed(&app, &path).await;
    validate(&ics, "2019-01-01", "2021-01-01");
    // Events and the internal learning meeting; not the progress report.
    assert_eq!(vevents(&ics).len(), 4, "{ics}");
    assert!(ics.contains("SUMMARY;LANGUAGE=es:Panel (es)"));
    let (_, narrowed) = feed(&app, &format!("{path}?kind=learning_meeting&lang=en")).await;
    assert_eq!(vevents(&narrowed).len(), 1);

    // The token is stored only as its hash.
    let stored: Vec<(String, String, String)> = app
        .db
        .run(|c| {
            use diesel::prelude::*;
            use pregon::db::schema::feeds::dsl::*;
            Ok(feeds.select((name, token_hash, filters)).load(c)?)
        })
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].1, pregon::domain::feed::hash_token(&token));
    assert!(!format!("{stored:?}").contains(&token));

    let unknown = app
        .client
        .get(app.url("/feeds/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.ics"))
        .send()
        .await
        .unwrap();
    let unknown_body = expect_problem(unknown, 404).await;

    let res = app
        .client
        .post(app.url(&format!("/api/v1/feeds/{}/rotate", created["id"])))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap();
    let rotated: Value = res.json().await.unwrap();
    let new_token = rotated["token"].as_str().unwrap();
    assert_ne!(new_token, token);
    let old = app.client.get(app.url(&path)).send().await.unwrap();
    assert_eq!(expect_problem(old, 404).await, unknown_body);
    feed(&app, &format!("/feeds/{new_token}.ics")).await;

    let res = app
        .client
        .delete(app.url(&format!("/api/v1/feeds/{}", created["id"])))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let revoked = app
        .client
        .get(app.url(&format!("/feeds/{new_token}.ics")))
        .send()
        .await
        .unwrap();
    // A revoked token reveals nothing: the very same answer as a token that never existed.
    assert_eq!(expect_problem(revoked, 404).await, unknown_body);
}

#[tokio::test]
async fn feed_parameters_are_checked() {
    let app = spawn_app().await;
    for query in ["lang=de", "kind=party", "lang=en&kind=party&utm_source=x"] {
        let res = app
            .client
            .get(app.url(&format!("/feeds/public.ics?{query}")))
            .send()
            .await
            .unwrap();
        expect_problem(res, 400).await;
    }
}

#[tokio::test]
async fn unknown_feed_parameters_are_ignored_but_the_api_stays_strict() {
    // What link shorteners and mail clients append to a pasted feed URL.
    let app = spawn_app().await;
    let f = varied_plan(&app).await;
    let (plain_headers, plain) = feed(&app, "/feeds/public.ics?lang=es").await;
    let (headers, ics) = feed(
        &app,
        "/feeds/public.ics?lang=es&utm_source=newsletter&utm_medium=email&fbclid=IwAR0x&colour=red",
    )
    .await;
    assert_eq!(ics, plain);
    assert_eq!(headers["etag"], plain_headers["etag"]);
    // A private feed too: the link a partner was mailed, with tracking added.
    let feed_body =
        json!({"name": "Partner", "lang": "fr", "organisation_id": f.org, "filters": {}});
    let res = app
        .client
        .post(app.url("/api/v1/feeds"))
        .bearer_auth(&app.admin)
        .json(&feed_body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    let url = created["links"]["https"].as_str().unwrap();
    let path = &url[url.find("/feeds/").unwrap()..];
    let (_, private) = feed(&app, &format!("{path}?mc_cid=abc&mc_eid=def")).await;
    assert!(private.starts_with("BEGIN:VCALENDAR"));
    // The API keeps refusing what it does not know.
    let res = app
        .get("/api/v1/activities?colour=red")
        .send()
        .await
        .unwrap();
    expect_problem(res, 400).await;
}

#[tokio::test]
async fn one_activity_as_a_calendar_file() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let created = app
        .create(
            "/api/v1/activities",
            activity(&f, json!({"precision": "exact", "start": "2020-03-10T10:00", "end": "2020-03-10T12:00", "time_zone": "Europe/Madrid"})),
        )
        .await;
    let res = app
        .get(&format!("/api/v1/activities/{}/ics?lang=fr", created["id"]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains(".ics")
    );
    let ics = res.text().await.unwrap();
    validate(&ics, "2020-01-01", "2021-01-01");
    assert!(ics.contains(&format!("UID:{}", created["uid"].as_str().unwrap())));
    assert!(ics.contains("SUMMARY;LANGUAGE=fr:Panel (fr)"));
    let parsed = parse_calendar(ics.as_bytes(), &ImportLimits::default()).unwrap();
    match parsed.events[0].time {
        ImportedTime::Timed { start, .. } => {
            assert_eq!(start.to_rfc3339(), "2020-03-10T09:00:00+00:00")
        }
        other => panic!("{other:?}"),
    }
    // An activity with no date and no dated period has nothing to export yet.
    let mut tbc = activity(&f, json!({"precision": "tbc"}));
    tbc["period_id"] = json!(null);
    let tbc = app.create("/api/v1/activities", tbc).await;
    let res = app
        .get(&format!("/api/v1/activities/{}/ics", tbc["id"]))
        .send()
        .await
        .unwrap();
    expect_problem(res, 422).await;
}

#[tokio::test]
async fn a_rule_typed_in_lower_case_is_stored_and_published_canonically() {
    // RFC 5545 §3.3.10: rule part names are case-insensitive, so the API takes
    // `freq=weekly;count=2`; clients that are strict about it reject the whole
    // feed, so what is stored and published is the canonical spelling.
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let mut weekly = activity(
        &f,
        json!({"precision": "exact", "start": "2020-03-10T10:00", "end": "2020-03-10T11:00", "time_zone": "Europe/Madrid"}),
    );
    weekly["recurrence"] = json!({"rule": "count=2;;freq=weekly;", "exceptions": []});
    let created = app.create("/api/v1/activities", weekly).await;
    assert_eq!(created["recurrence"]["rule"], "FREQ=WEEKLY;COUNT=2");
    let (_, ics) = feed(&app, "/feeds/public.ics").await;
    assert!(ics.contains("RRULE:FREQ=WEEKLY;COUNT=2\r\n"), "{ics}");
    let report = validate(&ics, "2020-01-01", "2021-01-01");
    assert_eq!(
        report["files"][0]["occurrences"].as_array().unwrap().len(),
        2,
        "{report}"
    );
}

#[tokio::test]
async fn a_rule_may_not_publish_more_occurrences_a_day_than_configured() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let hours: Vec<String> = (0..24).map(|h| h.to_string()).collect();
    let minutes: Vec<String> = (0..60).map(|m| m.to_string()).collect();
    let mut every_minute = activity(
        &f,
        json!({"precision": "exact", "start": "2020-03-10T00:00", "end": "2020-03-10T00:01", "time_zone": "Europe/Madrid"}),
    );
    every_minute["recurrence"] = json!({
        "rule": format!("FREQ=DAILY;BYHOUR={};BYMINUTE={}", hours.join(","), minutes.join(",")),
        "exceptions": []
    });
    let res = app
        .post("/api/v1/activities", &every_minute)
        .send()
        .await
        .unwrap();
    let problem = expect_problem(res, 422).await;
    assert_eq!(problem["field"], "recurrence.rule", "{problem}");
    let (_, ics) = feed(&app, "/feeds/public.ics").await;
    assert!(!ics.contains("RRULE"), "{ics}");
}

#[tokio::test]
async fn a_time_repeated_by_dst_is_refused_unless_its_offset_says_which() {
    // 02:30 on 25 October 2020 happened twice in Madrid. RFC 5545 §3.3.5 reads a
    // repeated TZID time as the first one, but clients disagree, so a bare one
    // is refused with both instants named.
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let bare = activity(
        &f,
        json!({"precision": "exact", "start": "2020-10-25T02:30", "end": "2020-10-25T03:30", "time_zone": "Europe/Madrid"}),
    );
    let res = app.post("/api/v1/activities", &bare).send().await.unwrap();
    let problem = expect_problem(res, 422).await;
    assert_eq!(problem["field"], "timing.start", "{problem}");
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("2020-10-25T00:30:00Z") && detail.contains("2020-10-25T01:30:00Z"),
        "{problem}"
    );
    // The second 02:30 cannot be written with TZID: refused with a way out.
    let second = activity(
        &f,
        json!({"precision": "exact", "start": "2020-10-25T02:30+01:00", "end": "2020-10-25T03:30", "time_zone": "Europe/Madrid"}),
    );
    let res = app
        .post("/api/v1/activities", &second)
        .send()
        .await
        .unwrap();
    expect_problem(res, 422).await;
    // With the offset of the first one it is taken, shown with its offset (so a
    // client can send back what it read) and published as that instant.
    let first = activity(
        &f,
        json!({"precision": "exact", "start": "2020-10-25T02:30+02:00", "end": "2020-10-25T03:30", "time_zone": "Europe/Madrid"}),
    );
    let created = app.create("/api/v1/activities", first).await;
    assert_eq!(created["timing"]["start"], "2020-10-25T02:30:00+02:00");
    assert_eq!(created["timing"]["start_utc"], "2020-10-25T00:30:00Z");
    let mut body = activity(
        &f,
        json!({"precision": "exact", "start": created["timing"]["start"], "end": created["timing"]["end"], "time_zone": "Europe/Madrid"}),
    );
    put_activity(&app, &created["id"], &mut body).await;
    let (_, ics) = feed(&app, "/feeds/public.ics").await;
    assert!(unfold(&ics).contains("DTSTART;TZID=Europe/Madrid:20201025T023000"));
    let report = validate(&ics, "2020-01-01", "2021-01-01");
    let occurrences = report["files"][0]["occurrences"].as_array().unwrap();
    assert_eq!(
        occurrences[0]["start"], "2020-10-25T02:30:00+02:00",
        "{report}"
    );
}

#[tokio::test]
async fn without_public_url_links_point_where_the_server_listens() {
    // server.public_url unset: links are derived from the bound address (here a
    // random port), not a default the server does not listen on.
    let app = spawn_app_with(|s| s.server.public_url = String::new()).await;
    let f = fixture(&app).await;
    let res = app
        .client
        .post(app.url("/api/v1/feeds"))
        .bearer_auth(&app.admin)
        .json(&json!({"name": "Partner", "lang": "en", "organisation_id": f.org, "filters": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    let https = created["links"]["https"].as_str().unwrap();
    assert!(
        https.starts_with(&app.url("/feeds/")),
        "{https} vs {}",
        app.address
    );
    // The link works as given.
    let res = app.client.get(https).send().await.unwrap();
    assert_eq!(res.status(), 200);
}

/// The 304 a poll with a matching `If-None-Match` gets from the cache before
/// routing (issue 12) says what a routed 304 says, is still counted in /metrics,
/// and an invalid parameter still gets its 400 (the fast path steps aside).
#[tokio::test]
async fn a_304_answered_from_the_cache_is_the_routed_one() {
    let app = spawn_app().await;
    varied_plan(&app).await;
    let (headers, _) = feed(&app, "/feeds/public.ics?lang=es").await;
    let etag = headers["etag"].to_str().unwrap().to_owned();
    let last_modified = headers["last-modified"].to_str().unwrap().to_owned();
    let poll = |name: &'static str, value: String, path: &'static str| {
        let req = app.client.get(app.url(path)).header(name, value);
        async move { req.send().await.unwrap() }
    };
    // If-Modified-Since goes the routed way; If-None-Match the early one.
    let routed = poll(
        "if-modified-since",
        last_modified,
        "/feeds/public.ics?lang=es",
    )
    .await;
    let early = poll(
        "if-none-match",
        etag.clone(),
        "/feeds/public.ics?lang=es&utm_source=x",
    )
    .await;
    for res in [&routed, &early] {
        assert_eq!(res.status(), 304);
    }
    for name in [
        "etag",
        "last-modified",
        "vary",
        "cache-control",
        "x-content-type-options",
        "content-security-policy",
    ] {
        assert_eq!(
            routed.headers().get(name),
            early.headers().get(name),
            "{name}"
        );
    }
    assert!(early.headers().contains_key("x-request-id"));
    // Another language's ETag does not match: the full feed.
    let other = poll("if-none-match", etag.clone(), "/feeds/public.ics?lang=fr").await;
    assert_eq!(other.status(), 200);
    let bad = poll("if-none-match", etag, "/feeds/public.ics?lang=de").await;
    assert_eq!(bad.status(), 400);
    let res = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap();
    let text = res.text().await.unwrap();
    assert!(
        text.contains(
            "pregon_http_requests_total{method=\"GET\",route=\"/feeds/public.ics\",status=\"304\"} 2"
        ),
        "{text}"
    );
}
