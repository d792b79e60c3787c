//! Export → import → export is byte-identical (issue 12), for every feed variant
//! of the seed plan plus a stress plan: each feed of one install is imported into
//! a FRESH install, whose own feed must then be the same bytes.
//!
//! What makes that possible (docs/calendar.md, "Round trip"):
//! - an imported event keeps its UID and starts at its SEQUENCE (RFC 5546 §2.1.5);
//! - its text is stored in the language its LANGUAGE parameter names;
//! - its CATEGORIES are kept and republished as they came;
//! - no STATUS is imported as planned (which is published without STATUS);
//! - a month or TBC placeholder is read back as that month, or as to be
//!   confirmed in the plan period that starts on its day, without its note;
//! - `visibility=public` imports into the public feed.
//!
//! What is not the file's but the install's, for a principled reason, and so is
//! set the same on both sides here rather than compared:
//! - CREATED, DTSTAMP and LAST-MODIFIED of an imported event are when the
//!   importing install made or changed its copy (the injectable clock): adopting
//!   the partner's stamps would make a later local edit look older than the
//!   import. Both installs run at the same instant of their clocks.
//! - The calendar's header (NAME, X-WR-CALNAME, DESCRIPTION, URL, refresh) is
//!   the publishing install's (`feeds.*`, `server.public_url`) or its private
//!   feed's name: both installs have the same settings, and the fresh one a
//!   private feed of the same name.
//! - The plan's periods are not in a calendar: the fresh install has a plan with
//!   the same periods, so a TBC placeholder can find its period again.

use crate::helpers::*;
use serde_json::{Value, json};

const PUBLIC_URL: &str = "https://pregon.example.org";

async fn install() -> TestApp {
    spawn_app_with(|s| s.server.public_url = PUBLIC_URL.into()).await
}

async fn text(app: &TestApp, path: &str) -> String {
    let res = app
        .client
        .get(app.url(path))
        .header("connection", "close")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{path}");
    res.text().await.unwrap()
}

async fn put_activity(app: &TestApp, id: &Value, mut body: Value) -> Value {
    let current = app.get_json(&format!("/api/v1/activities/{id}")).await;
    body["version"] = current["version"].clone();
    let res = app
        .put(&format!("/api/v1/activities/{id}"), &body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let json: Value = res.json().await.unwrap();
    assert_eq!(status, 200, "{json}");
    json
}

async fn private_feed(app: &TestApp, body: Value) -> String {
    let res = app
        .client
        .post(app.url("/api/v1/feeds"))
        .bearer_auth(&app.admin)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let json: Value = res.json().await.unwrap();
    assert_eq!(status, 201, "{json}");
    format!("/feeds/{}.ics", json["token"].as_str().unwrap())
}

/// The seed plan, and beside it the awkward cases of real calendars.
async fn stress(app: &TestApp) -> Value {
    let plans = app.get_json("/api/v1/plans").await;
    let plan = plans["items"][0].clone();
    let plan_id = plan["id"].clone();
    let dated_period = plan["periods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["starts_on"].is_string())
        .expect("a dated period in the seed plan")["id"]
        .clone();
    let t = |en: &str, es: &str, fr: &str| json!({"en": {"title": en}, "es": {"title": es}, "fr": {"title": fr}});
    let base = |timing: Value, translations: Value| {
        json!({
            "plan_id": plan_id, "kind": "event", "status": "confirmed",
            "visibility": "public", "timing": timing, "translations": translations
        })
    };
    let madrid = |s: &str, e: &str| json!({"precision": "exact", "start": s, "end": e, "time_zone": "Europe/Madrid"});

    // A weekly series across the March DST change, then edited (SEQUENCE 1): a
    // cancelled occurrence (EXDATE), a moved one, a renamed one with its own
    // place, an extra date (RDATE).
    let mut weekly = base(
        madrid("2020-03-16T10:00", "2020-03-16T11:00"),
        t("Weekly call", "Llamada semanal", "Appel hebdomadaire"),
    );
    weekly["place"] = json!({"name": "Sala Bilbao", "address": "Plaza Ernesto Erkoreka 1, Bilbao"});
    weekly["recurrence"] = json!({"rule": "FREQ=WEEKLY;COUNT=6"});
    let created = app.create("/api/v1/activities", weekly.clone()).await;
    weekly["recurrence"] = json!({
        "rule": "FREQ=WEEKLY;COUNT=6",
        "rdates": ["2020-05-04T18:30:00"],
        "exceptions": [
            {"occurrence": "2020-03-23T10:00:00", "cancelled": true},
            {"occurrence": "2020-03-30T10:00:00", "timing": madrid("2020-03-31T16:00", "2020-03-31T17:00")},
            {"occurrence": "2020-04-06T10:00:00",
             "translations": {"en": {"title": "Weekly call; special, with guests",
                                     "description": "Guests: A\\B; C, D.\nSecond line."},
                              "es": {"title": "Llamada semanal, especial"}},
             "location": "Sala 2"}
        ]
    });
    let edited = put_activity(app, &created["id"], weekly).await;
    assert_eq!(edited["sequence"], 1, "{edited}");

    // Whole days, over a month end, with a place and its link.
    let mut days = base(
        json!({"precision": "days", "start": "2020-06-29", "end": "2020-07-03"}),
        t("Summer school", "Escuela de verano", "École d'été"),
    );
    days["place"] = json!({"name": "Palacio Euskalduna", "address": "Abandoibarra 4, Bilbao", "url": "https://example.org/venue?a=1&b=2"});
    app.create("/api/v1/activities", days).await;

    // Known to the month only; to be confirmed in a dated period.
    let mut month = base(
        json!({"precision": "month", "month": "2020-09"}),
        t("Annual report", "Informe anual", "Rapport annuel"),
    );
    month["status"] = json!("tentative");
    app.create("/api/v1/activities", month).await;
    let mut tbc = base(
        json!({"precision": "tbc"}),
        t("Launch event", "Evento de lanzamiento", "Lancement"),
    );
    tbc["period_id"] = dated_period;
    tbc["status"] = json!("planned");
    app.create("/api/v1/activities", tbc).await;

    // Cancelled (kept as STATUS:CANCELLED for the retention period).
    let mut cancelled = base(
        json!({"precision": "exact", "start": "2020-05-12T09:00", "end": "2020-05-12T10:30",
               "time_zone": "America/Mexico_City"}),
        t(
            "Cancelled webinar",
            "Webinario cancelado",
            "Webinaire annulé",
        ),
    );
    cancelled["status"] = json!("cancelled");
    app.create("/api/v1/activities", cancelled).await;

    // Awkward text: commas, semicolons, backslashes, newlines, and lines long
    // enough to fold at 75 octets in the middle of multi-byte characters.
    let long = "Ñandú, 日本語のテキスト; «guillemets» — émojis 🎉🎉🎉 and a line long enough to be folded \
                several times over, with é and ü and 中文 at every possible octet boundary 🎉é中🎉é中🎉é中";
    let mut awkward = base(
        json!({"precision": "exact", "start": "2020-10-25T02:30+02:00", "end": "2020-10-25T04:00",
               "time_zone": "Europe/Madrid"}),
        json!({
            "en": {"title": "Commas, semicolons; back\\slashes \\n and \"quotes\"",
                   "description": format!("First line; with, punctuation\\\nSecond line\n\n{long}")},
            "es": {"title": "Comas, puntos y comas; barras\\invertidas"},
        }),
    );
    awkward["place"] = json!({"name": "Room 1; floor 2, left", "address": "C\\ Mayor, 1"});
    app.create("/api/v1/activities", awkward).await;

    // In UTC (written with Z), and a series of dates without a rule (RDATE
    // alone, RFC 5545 §3.8.5.2) with one of its dates cancelled.
    app.create(
        "/api/v1/activities",
        base(
            json!({"precision": "exact", "start": "2020-11-03T15:00", "end": "2020-11-03T16:00", "time_zone": "UTC"}),
            t("UTC call", "Llamada UTC", "Appel UTC"),
        ),
    )
    .await;
    let mut dates = base(
        json!({"precision": "days", "start": "2020-10-05", "end": "2020-10-05"}),
        t("Deadlines", "Plazos", "Échéances"),
    );
    dates["recurrence"] = json!({"rule": "", "rdates": ["2020-10-19", "2020-11-02"],
        "exceptions": [{"occurrence": "2020-10-19", "cancelled": true}]});
    app.create("/api/v1/activities", dates).await;
    plan
}

/// The first line where two calendars differ, for a readable failure.
fn first_difference(a: &str, b: &str) -> String {
    let (la, lb): (Vec<&str>, Vec<&str>) = (a.split("\r\n").collect(), b.split("\r\n").collect());
    for (i, (x, y)) in la.iter().zip(&lb).enumerate() {
        if x != y {
            return format!("line {}:\n  exported: {x:?}\n  again:    {y:?}", i + 1);
        }
    }
    format!("lengths differ: {} vs {} lines", la.len(), lb.len())
}

struct Variant {
    name: &'static str,
    /// Where the source install publishes it.
    path: String,
    lang: &'static str,
    /// Private: the fresh install publishes it as a private feed of this body.
    private: Option<Value>,
}

#[tokio::test]
async fn every_feed_exported_imported_and_exported_again_is_the_same_bytes() {
    let source = install().await;
    let now = source.clock_now();
    source
        .db
        .transaction(move |c| pregon::seed::load_2020_plan(c, now))
        .await
        .expect("seed");
    let plan = stress(&source).await;
    let partner = source
        .create(
            "/api/v1/organisations",
            json!({"slug": "subscriber", "name": "Subscriber", "kind": "partner"}),
        )
        .await;
    let internal = json!({"name": "UN-Habitat (interno)", "organisation_id": partner["id"], "lang": "es",
                          "filters": {"include_internal": true}});
    let events_only = json!({"name": "Événements", "organisation_id": partner["id"], "lang": "fr",
                             "filters": {"kinds": ["event"]}});
    let variants = vec![
        Variant {
            name: "public",
            path: "/feeds/public.ics".into(),
            lang: "en",
            private: None,
        },
        Variant {
            name: "public, es",
            path: "/feeds/public.ics?lang=es".into(),
            lang: "es",
            private: None,
        },
        Variant {
            name: "public, fr",
            path: "/feeds/public.ics?lang=fr".into(),
            lang: "fr",
            private: None,
        },
        Variant {
            name: "public, events only",
            path: "/feeds/public.ics?kind=event".into(),
            lang: "en",
            private: None,
        },
        Variant {
            name: "private, internal included, es",
            path: private_feed(&source, internal.clone()).await,
            lang: "es",
            private: Some(internal),
        },
        Variant {
            name: "private, events, fr",
            path: private_feed(&source, events_only.clone()).await,
            lang: "fr",
            private: Some(events_only),
        },
    ];
    let periods: Vec<Value> = plan["periods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| json!({"name": p["name"], "starts_on": p["starts_on"], "ends_on": p["ends_on"]}))
        .collect();

    for variant in variants {
        let exported = text(&source, &variant.path).await;
        // Every class of the stress plan is in the public feeds.
        if variant.private.is_none() && variant.path == "/feeds/public.ics" {
            for needle in [
                "RRULE:FREQ=WEEKLY;COUNT=6",
                "EXDATE;TZID=Europe/Madrid:20200323T100000",
                "RECURRENCE-ID;TZID=Europe/Madrid:20200330T100000",
                "RDATE;TZID=Europe/Madrid:20200504T183000",
                "RDATE;VALUE=DATE:20201102",
                "EXDATE;VALUE=DATE:20201019",
                "DTSTART:20201103T150000Z",
                "SEQUENCE:1",
                "STATUS:CANCELLED",
                "(September 2020\\, day to be confirmed)",
                "(date to be confirmed)",
                "TRANSP:TRANSPARENT",
                "BEGIN:VTIMEZONE",
                "Commas\\, semicolons\\; back\\\\slashes",
            ] {
                assert!(
                    exported.replace("\r\n ", "").contains(needle),
                    "{}: {needle} missing:\n{exported}",
                    variant.name
                );
            }
            assert!(
                exported
                    .split("\r\n")
                    .all(|l| l.len() <= 75 && std::str::from_utf8(l.as_bytes()).is_ok()),
                "lines are folded at 75 octets"
            );
        }

        // A fresh install at the same instant, with the same settings and a
        // plan of the same periods.
        let fresh = install().await;
        assert_eq!(fresh.clock_now(), source.clock_now());
        let org = fresh
            .create(
                "/api/v1/organisations",
                json!({"slug": "mirror", "name": "Mirror", "kind": "community"}),
            )
            .await;
        fresh
            .create(
                "/api/v1/plans",
                json!({"slug": "mirror-2020", "title": "Mirror", "organisation_id": org["id"], "periods": periods}),
            )
            .await;
        let visibility = if variant.private.is_some() {
            "internal"
        } else {
            "public"
        };
        let res = fresh
            .client
            .post(fresh.url(&format!(
                "/api/v1/imports?organisation=mirror&lang={}&visibility={visibility}",
                variant.lang
            )))
            .bearer_auth(&fresh.editor)
            .header("content-type", "text/calendar; charset=utf-8")
            .body(exported.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{}", variant.name);
        let report: Value = res.json().await.unwrap();
        assert_eq!(report["skipped"], 0, "{}: {report}", variant.name);
        assert_eq!(report["warnings"], json!([]), "{}: {report}", variant.name);
        let masters = exported
            .split("BEGIN:VEVENT")
            .skip(1)
            .filter(|e| !e.contains("RECURRENCE-ID"))
            .count();
        assert_eq!(report["created"], masters, "{}: {report}", variant.name);
        assert!(masters >= 8, "{}: only {masters} events", variant.name);
        eprintln!(
            "{}: {masters} events, {} bytes",
            variant.name,
            exported.len()
        );

        let again_path = match &variant.private {
            // Imported events are the partner's (kind external): no `?kind=` here.
            None => format!("/feeds/public.ics?lang={}", variant.lang),
            Some(body) => {
                let mut body = body.clone();
                body["organisation_id"] = org["id"].clone();
                body["filters"] = json!({"include_internal": true});
                private_feed(&fresh, body).await
            }
        };
        let again = text(&fresh, &again_path).await;
        assert!(
            again == exported,
            "{}: not byte-identical, {}",
            variant.name,
            first_difference(&exported, &again)
        );
    }
}
