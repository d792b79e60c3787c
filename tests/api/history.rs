//! The change history: an entry per change with its diff and reason, readable
//! per record and as one cursor-paginated feed, tamper-evident, and the signal
//! every cache of published data (in this process or another) follows.

use crate::activities::{activity, fixture};
use crate::helpers::*;
use pregon::db::{Backend, Db};
use serde_json::{Value, json};
use std::sync::Arc;

async fn put(app: &TestApp, path: &str, mut body: Value, reason: Option<&str>) -> Value {
    let current = app.get_json(path).await;
    body["version"] = current["version"].clone();
    let mut req = app.put(path, &body);
    if let Some(reason) = reason {
        req = req.header("Change-Reason", reason);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let json: Value = res.json().await.unwrap();
    assert_eq!(status, 200, "PUT {path}: {json}");
    json
}

fn change<'a>(entry: &'a Value, field: &str) -> &'a Value {
    entry["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["field"] == field)
        .unwrap_or_else(|| panic!("no change of {field} in {entry}"))
}

#[tokio::test]
async fn every_change_is_an_entry_with_its_diff_who_and_why() {
    let app = spawn_app().await;
    let org = app
        .create(
            "/api/v1/organisations",
            json!({"slug": "uraia", "name": "URAIA", "kind": "partner"}),
        )
        .await;
    let id = org["id"].as_i64().unwrap();
    let path = format!("/api/v1/organisations/{id}");
    put(
        &app,
        &path,
        json!({"slug": "uraia", "name": "URAIA platform", "kind": "partner"}),
        Some("name confirmed by URAIA"),
    )
    .await;
    // An update that changes nothing is not an entry.
    put(
        &app,
        &path,
        json!({"slug": "uraia", "name": "URAIA platform", "kind": "partner"}),
        None,
    )
    .await;
    let res = app.delete(&path).send().await.unwrap();
    assert_eq!(res.status(), 204);

    // The history outlives the record.
    let history = app.get_json(&format!("{path}/history")).await;
    let entries = history.as_array().unwrap();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["created", "updated", "deleted"], "{history}");
    assert_eq!(change(&entries[0], "name")["after"], "URAIA");
    assert!(change(&entries[0], "name")["before"].is_null());
    let renamed = change(&entries[1], "name");
    assert_eq!(renamed["before"], "URAIA");
    assert_eq!(renamed["after"], "URAIA platform");
    assert_eq!(
        entries[1]["changes"].as_array().unwrap().len(),
        1,
        "{}",
        entries[1]
    );
    assert_eq!(entries[1]["reason"], "name confirmed by URAIA");
    assert_eq!(entries[1]["actor"]["kind"], "account");
    assert!(entries[1]["actor"]["token_id"].is_i64());
    assert_eq!(change(&entries[2], "name")["before"], "URAIA platform");
    assert!(change(&entries[2], "name")["after"].is_null());
}

#[tokio::test]
async fn personal_data_is_never_copied_into_the_history() {
    let app = spawn_app().await;
    let person = app
        .create(
            "/api/v1/people",
            json!({"name": "Juan Mari Aburto", "email": "mayor@bilbao.example", "title": "Mayor"}),
        )
        .await;
    let path = format!("/api/v1/people/{}", person["id"]);
    put(
        &app,
        &path,
        json!({"name": "Juan Mari Aburto", "email": "alcalde@bilbao.example", "title": "Mayor", "language": "es"}),
        None,
    )
    .await;
    let history = app.get_json(&format!("{path}/history")).await;
    let text = history.to_string();
    for personal in ["Juan Mari", "bilbao.example", "Mayor"] {
        assert!(!text.contains(personal), "{personal} is in {text}");
    }
    let email = change(&history[1], "email");
    assert_eq!(email["personal"], true);
    assert!(email["before"].is_null() && email["after"].is_null());
    // Fields that are not personal keep their values.
    assert_eq!(change(&history[1], "language")["after"], "es");
}

#[tokio::test]
async fn the_change_feed_is_cursor_paginated_and_filterable() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    for title in ["One", "Two", "Three"] {
        let mut body = activity(&f, json!({"precision": "tbc"}));
        body["translations"] = json!({"en": {"title": title}});
        app.create("/api/v1/activities", body).await;
    }
    let mut since = 0;
    let mut seen = Vec::new();
    loop {
        let page = app
            .get_json(&format!(
                "/api/v1/changes?entity=activity&limit=2&since={since}"
            ))
            .await;
        for item in page["items"].as_array().unwrap() {
            assert_eq!(item["entity"], "activity");
            seen.push(item["id"].as_i64().unwrap());
        }
        match page["next"].as_i64() {
            Some(next) => since = next,
            None => break,
        }
    }
    assert_eq!(seen.len(), 3);
    assert!(seen.windows(2).all(|w| w[0] < w[1]));
    // Everything together holds the plan, campaign, channel and organisation too.
    let all = app.get_json("/api/v1/changes?limit=500").await;
    let entities: std::collections::BTreeSet<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["entity"].as_str().unwrap())
        .collect();
    for entity in ["organisation", "plan", "channel", "campaign", "activity"] {
        assert!(entities.contains(entity), "{entities:?}");
    }
    let res = app.get("/api/v1/changes?limit=0").send().await.unwrap();
    let problem = expect_problem(res, 422).await;
    assert_eq!(problem["field"], "limit");
}

/// A changed entry cannot be written through the database's front door on either
/// backend, and one written behind its back is found by `verify`.
#[tokio::test]
async fn the_history_is_append_only_and_tampering_is_detected() {
    use diesel::connection::SimpleConnection;
    let app = spawn_seeded_app().await;
    let mut conn = app.db.get().unwrap();
    let found = pregon::app::history::verify(&mut conn).unwrap();
    assert!(
        found.entries > 20,
        "the seed writes its plan through the history"
    );
    assert_eq!(found.first_broken, None);

    let update = "UPDATE history SET reason = 'nothing happened' WHERE id = 5";
    let delete = "DELETE FROM history WHERE id = 6";
    for statement in [update, delete] {
        let refused = conn.batch_execute(statement);
        assert!(refused.is_err(), "{statement} was allowed");
        assert!(
            refused.unwrap_err().to_string().contains("append-only"),
            "refused for the wrong reason"
        );
    }
    match backend() {
        // PostgreSQL refuses even the table's owner. On SQLite someone with the
        // file can drop the triggers; the hash chain still tells.
        Backend::Postgres => {}
        Backend::Sqlite => {
            conn.batch_execute("DROP TRIGGER history_no_update")
                .unwrap();
            conn.batch_execute(update).unwrap();
            let found = pregon::app::history::verify(&mut conn).unwrap();
            assert_eq!(found.first_broken, Some(5));
        }
    }
}

/// The Málaga event is TBC, placed on its period; a second server on the same
/// database serves the feed. A period move and a partner's rename, made through
/// the first server, reach the second one's feed within its poll interval, with
/// the event's SEQUENCE raised.
#[tokio::test]
async fn a_second_process_sees_period_moves_and_renames_with_sequence_raised() {
    let app = spawn_app_with(|s| {
        s.feeds.change_poll_seconds = 1;
        // The test polls one feed often on a clock that does not move.
        s.feeds.rate_limit_per_minute = 1_000_000;
        s.rate_limits.feed_per_feed_per_minute = 1_000_000;
    })
    .await;
    let f = fixture(&app).await;
    let partner = app
        .create(
            "/api/v1/organisations",
            json!({"slug": "uraia", "name": "URAIA", "kind": "partner"}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let mut body = activity(&f, json!({"precision": "tbc"}));
    body["status"] = json!("tentative");
    body["partners"] = json!([{"organisation_id": partner, "role": "host"}]);
    body["translations"] = json!({"en": {"title": "URAIA annual event, Málaga"}});
    app.create("/api/v1/activities", body).await;

    let second = Application::build(
        app.settings.clone(),
        Db::connect(&app.settings.database.url, 2).unwrap(),
        Arc::new(app.clock.clone()),
    )
    .unwrap();
    let second_url = format!("http://127.0.0.1:{}/feeds/public.ics", second.port());
    tokio::spawn(second.run_until_stopped());
    let fetch = || async {
        let res = app.client.get(&second_url).send().await.unwrap();
        assert_eq!(res.status(), 200);
        res.text().await.unwrap()
    };
    let before = fetch().await;
    assert!(before.contains("SEQUENCE:0"), "{before}");
    assert!(before.contains("DTSTART;VALUE=DATE:20200101"), "{before}");

    // Waits (bounded) for the second server's poller to see the change.
    let until = |needle: &'static str| async move {
        for _ in 0..100 {
            let feed = fetch().await;
            if feed.contains(needle) {
                return feed;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the second server never showed {needle}")
    };

    app.clock.advance(chrono::TimeDelta::hours(1));
    let plan_path = format!("/api/v1/plans/{}", f.plan);
    let plan = app.get_json(&plan_path).await;
    put(
        &app,
        &plan_path,
        json!({"slug": "p2020", "title": "Plan 2020", "organisation_id": f.org,
               "periods": [{"id": plan["periods"][0]["id"], "name": "2020", "starts_on": "2020-02-01", "ends_on": "2020-12-31"}],
               "goals": [{"description": "Launch the study", "period": 0}]}),
        Some("the year starts in February"),
    )
    .await;
    let moved = until("DTSTART;VALUE=DATE:20200201").await;
    assert!(moved.contains("SEQUENCE:1"), "{moved}");

    app.clock.advance(chrono::TimeDelta::hours(1));
    put(
        &app,
        &format!("/api/v1/organisations/{partner}"),
        json!({"slug": "uraia", "name": "URAIA (UN-Habitat)", "kind": "partner"}),
        None,
    )
    .await;
    let renamed = until("URAIA (UN-Habitat)").await;
    assert!(renamed.contains("SEQUENCE:2"), "{renamed}");
}

/// Writes that change nothing published (a delivery, a subscriber, a list) leave
/// the feed cache alone: the next request is served without rebuilding.
#[tokio::test]
async fn only_published_changes_invalidate_the_feed_cache() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    app.create(
        "/api/v1/activities",
        activity(&f, json!({"precision": "tbc"})),
    )
    .await;
    app.client
        .get(app.url("/feeds/public.ics"))
        .send()
        .await
        .unwrap();
    let generation = app.db.generation();
    app.create(
        "/api/v1/lists",
        json!({"slug": "members", "name": "Members", "default_language": "es"}),
    )
    .await;
    assert_eq!(
        app.db.generation(),
        generation,
        "a new list is not published"
    );
    put(
        &app,
        &format!("/api/v1/channels/{}", f.channel),
        json!({"slug": "web", "kind": "website", "name": "Web site", "organisation_id": f.org}),
        None,
    )
    .await;
    assert!(app.db.generation() > generation, "channels are published");
}

use pregon::http::Application;

/// Consent changes that do not come through the records' own routes — the
/// public form, the double opt-in link, a bounce, a CSV import — and the
/// sending limits are in the history too, naming subscribers by id only.
#[tokio::test]
async fn consent_changes_from_every_door_are_in_the_history() {
    let mail = crate::mail::spawn_mail_app().await;
    let app = &mail.app;
    let list = mail.list("members").await;
    let res = app
        .client
        .post(app.url("/newsletter/subscribe"))
        .json(
            &json!({"email": "ana@example.org", "name": "Ana Etxeberria", "language": "es",
                      "lists": ["members"], "consent": true}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    // The form is answered first; the subscription is written on its own task.
    crate::subscriber_view::wait_for_subscriber(app, "ana@example.org").await;
    mail.run().await;
    let received = mail.received_by("ana@example.org");
    let text = crate::newsletter::parse(&received[0].data)
        .body_text(0)
        .unwrap()
        .to_string();
    let link = text
        .split_whitespace()
        .find(|w| w.starts_with("https://pregon.test/newsletter/confirm/"))
        .unwrap()
        .to_owned();
    let done = app
        .client
        .post(crate::newsletter::local(&mail, &link))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    let bounce = app
        .post(
            "/api/v1/bounces",
            &json!({"email": "ana@example.org", "kind": "hard", "reason": "5.1.1 no such user"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(bounce.status(), 200);
    let import = app
        .client
        .post(app.url(&format!("/api/v1/lists/{list}/import")))
        .bearer_auth(&app.editor)
        .header("content-type", "text/csv")
        .body("email,name\nbea@example.org,Bea Urrutia\n")
        .send()
        .await
        .unwrap();
    assert_eq!(import.status(), 200);
    let limits = app
        .put("/api/v1/email/limits", &json!({"rate_per_second": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(limits.status(), 200);

    let changes = app.get_json("/api/v1/changes?entity=subscriber").await;
    let items = changes["items"].as_array().unwrap();
    let ana = app
        .get_json("/api/v1/subscribers?email=ana@example.org")
        .await["items"][0]["id"]
        .clone();
    let of_ana: Vec<&Value> = items.iter().filter(|e| e["entity_id"] == ana).collect();
    let actions: Vec<&str> = of_ana
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["created", "state_changed", "state_changed"],
        "{changes}"
    );
    // The form and the link are the subscriber's word; the bounce, an account's.
    assert_eq!(of_ana[0]["actor"]["kind"], "system", "{changes}");
    assert!(
        of_ana[1]["reason"].as_str().unwrap().contains("subscriber"),
        "{changes}"
    );
    let confirmed = of_ana[1]["changes"].to_string();
    assert!(confirmed.contains("confirmed"), "{confirmed}");
    assert_eq!(of_ana[2]["actor"]["kind"], "account", "{changes}");
    assert_eq!(change(of_ana[2], "status")["after"], "bounced");
    // The import created Bea, by the editor's account.
    let others: Vec<&Value> = items.iter().filter(|e| e["entity_id"] != ana).collect();
    assert_eq!(others.len(), 1, "{changes}");
    assert_eq!(others[0]["action"], "created");
    assert_eq!(others[0]["actor"]["kind"], "account");
    let text = changes.to_string();
    for personal in ["ana@", "bea@", "Etxeberria", "Urrutia"] {
        assert!(!text.contains(personal), "{personal} is in {text}");
    }

    let limits = app.get_json("/api/v1/changes?entity=email_limits").await;
    assert_eq!(limits["items"].as_array().unwrap().len(), 1, "{limits}");
    assert_eq!(
        change(&limits["items"][0], "rate_per_second")["after"],
        5,
        "{limits}"
    );
}
