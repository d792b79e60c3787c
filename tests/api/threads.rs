//! Threads (reply chains) end to end over the API, against the loopback
//! Mastodon instance (limit 120) and Bluesky PDS of `posts.rs`: every part
//! checked against the limits and named when it does not fit, the approval
//! bound to every part, the parts published in order each replying to the
//! one before, and a failure at part 2 resumed there on the retry without
//! posting part 1 again.

use crate::helpers::*;
use crate::posts::{planning_runner, put_post, review, world};
use chrono::TimeDelta;
use serde_json::{Value, json};

fn variant_url(id: i64, channel: i64) -> String {
    format!("/api/v1/activities/{id}/variants/{channel}/es")
}

#[tokio::test]
async fn every_part_of_a_thread_is_checked_and_the_approval_covers_every_part() {
    let w = world().await;
    let app = &w.app;
    let id = w.activity;
    // Part 3 too long for the instance's 120: named, nothing written.
    let res = app
        .put(
            &variant_url(id, w.m),
            &json!({"body": "Uno 1/3", "thread": [{"body": "Dos 2/3"}, {"body": "x".repeat(121)}]}),
        )
        .send()
        .await
        .unwrap();
    let problem = expect_problem(res, 422).await;
    assert_eq!(problem["field"], "thread[1].body", "{problem}");
    assert!(
        problem.to_string().contains("this instance allows 120"),
        "{problem}"
    );
    let res = app
        .put(
            &variant_url(id, w.m),
            &json!({"body": "Uno 1/3", "thread": [{"body": " "}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_problem(res, 422).await["field"],
        "thread[0].body",
        "an empty part"
    );
    let variants = app
        .get_json(&format!("/api/v1/activities/{id}/variants"))
        .await;
    assert_eq!(variants[0]["thread"], json!([]), "nothing written");

    // A Bluesky part over 300 graphemes, written with the activity, is
    // named at approval.
    let mut activity = app.get_json(&format!("/api/v1/activities/{id}")).await;
    activity["post_variants"][0]["body"] = json!("Uno 1/2");
    activity["post_variants"][0]["thread"] = json!([{"body": "Dos 2/2"}]);
    activity["post_variants"][1]["thread"] = json!([{"body": "Dos"}, {"body": "é".repeat(301)}]);
    put_post(&w, &activity).await;
    let variants = app
        .get_json(&format!("/api/v1/activities/{id}/variants"))
        .await;
    assert_eq!(variants[0]["thread"][0]["body"], "Dos 2/2", "{variants}");
    assert_eq!(variants[0]["thread"][0]["length"], 7);
    assert!(
        variants[1]["problem"]
            .as_str()
            .is_some_and(|p| p.contains("Bluesky allows 300")),
        "{variants}"
    );
    assert_eq!(review(app, id, &app.editor, "submit").await.status(), 200);
    let problem = expect_problem(review(app, id, &app.admin, "approve").await, 422).await;
    assert_eq!(
        problem["field"], "post_variants[1].thread[1].body",
        "{problem}"
    );

    // Fixed, approved; then an edit of part 2 alone supersedes the approval.
    let res = app
        .put(
            &variant_url(id, w.b),
            &json!({"body": "¡Hola!", "thread": [{"body": "Dos"}, {"body": "Tres"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(review(app, id, &app.admin, "approve").await.status(), 200);
    let before = app
        .get_json(&format!("/api/v1/activities/{id}/review"))
        .await;
    assert_eq!(before["state"], "approved");
    // Leaving `thread` out keeps the parts as they are: nothing changes.
    let res = app
        .put(&variant_url(id, w.b), &json!({"body": "¡Hola!"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let same: Value = res.json().await.unwrap();
    assert_eq!(same[1]["thread"][1]["body"], "Tres", "{same}");
    assert_eq!(same[1]["approved"], true);
    let res = app
        .put(
            &variant_url(id, w.b),
            &json!({"body": "¡Hola!", "thread": [{"body": "Dos"}, {"body": "Tres!"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let after = app
        .get_json(&format!("/api/v1/activities/{id}/review"))
        .await;
    assert_eq!(after["state"], "in_review", "{after}");
    assert_ne!(
        before["content_hash"][format!("variant:{}:es", w.b)],
        after["content_hash"][format!("variant:{}:es", w.b)],
        "the hash covers part 3"
    );
    assert_eq!(
        before["content_hash"][format!("variant:{}:es", w.m)],
        after["content_hash"][format!("variant:{}:es", w.m)]
    );
}

#[tokio::test]
async fn a_thread_goes_out_in_order_and_a_retry_after_part_2_failed_resumes_at_part_2() {
    let w = world().await;
    let app = &w.app;
    let id = w.activity;
    let masto = ["Uno 1/3", "Dos 2/3 https://pregon.example/es", "Tres 3/3"];
    let bsky = ["Uno 🧵", "Dos @ana.bsky.social", "Tres #Pregón"];
    for (channel, parts) in [(w.m, masto), (w.b, bsky)] {
        let res = app
            .put(
                &variant_url(id, channel),
                &json!({"body": parts[0], "thread": [{"body": parts[1]}, {"body": parts[2]}]}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    }
    assert_eq!(review(app, id, &app.editor, "submit").await.status(), 200);
    assert_eq!(review(app, id, &app.admin, "approve").await.status(), 200);
    // Part 1 goes out; part 2 meets a 503 on both networks.
    w.masto_state.lock().unwrap().script = vec!["create", "503"];
    w.pds_state.lock().unwrap().script = vec!["write", "503"];

    let runner = planning_runner(app);
    app.clock.advance(TimeDelta::hours(1));
    runner.run_once().await.unwrap();
    runner.run_once().await.unwrap();
    assert_eq!(w.mastodon.to("/api/v1/statuses").len(), 2);
    assert_eq!(w.masto_state.lock().unwrap().statuses.len(), 1);
    assert_eq!(w.pds_state.lock().unwrap().records.len(), 1);
    let variants = app
        .get_json(&format!("/api/v1/activities/{id}/variants"))
        .await;
    for v in variants.as_array().unwrap() {
        assert_eq!(v["publication"]["state"], "queued", "{v}");
    }

    // The retry resumes at part 2.
    app.clock.advance(TimeDelta::hours(2));
    runner.run_once().await.unwrap();
    runner.run_once().await.unwrap();

    // Mastodon: part 1 once, part 2 twice with the same key, part 3 once;
    // each replying to the one before.
    let sent: Vec<Value> = w
        .mastodon
        .to("/api/v1/statuses")
        .iter()
        .map(|r| {
            let mut body = r.json();
            body["key"] = json!(r.header("idempotency-key").unwrap());
            body
        })
        .collect();
    assert_eq!(sent.len(), 4, "{sent:?}");
    let texts: Vec<&str> = sent.iter().map(|b| b["status"].as_str().unwrap()).collect();
    assert_eq!(texts, [masto[0], masto[1], masto[1], masto[2]]);
    assert!(sent[0].get("in_reply_to_id").is_none());
    assert_eq!(sent[1]["in_reply_to_id"], "1");
    assert_eq!(sent[2]["in_reply_to_id"], "1");
    assert_eq!(sent[3]["in_reply_to_id"], "2");
    assert_eq!(sent[1]["key"], sent[2]["key"], "the same key on the retry");
    assert_ne!(sent[0]["key"], sent[1]["key"]);
    assert_ne!(sent[1]["key"], sent[3]["key"]);
    assert!(sent.iter().all(|b| b["language"] == "es"));
    let statuses = w.masto_state.lock().unwrap().statuses.clone();
    assert_eq!(statuses.len(), 3, "three statuses, part 1 not twice");

    // Bluesky: create 1, create 2 (503), put 2 (same record), create 3.
    let writes: Vec<(String, Value)> = w
        .pds
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/xrpc/com.atproto.repo."))
        .map(|r| (r.path.clone(), r.json()))
        .collect();
    let methods: Vec<&str> = writes
        .iter()
        .map(|(p, _)| p.trim_start_matches("/xrpc/com.atproto.repo."))
        .collect();
    assert_eq!(
        methods,
        ["createRecord", "createRecord", "putRecord", "createRecord"]
    );
    assert_eq!(writes[1].1, writes[2].1, "part 2 put as it was stored");
    let records = w.pds_state.lock().unwrap().records.clone();
    assert_eq!(records.len(), 3);
    let did = writes[0].1["repo"].as_str().unwrap().to_owned();
    let reference = |body: &Value| {
        let rkey = body["rkey"].as_str().unwrap();
        json!({"uri": format!("at://{did}/app.bsky.feed.post/{rkey}"), "cid": format!("bafyrei{rkey}")})
    };
    let (one, two, three) = (&writes[0].1, &writes[2].1, &writes[3].1);
    assert_eq!(one["record"]["text"], bsky[0]);
    assert!(one["record"].get("reply").is_none());
    assert_eq!(two["record"]["text"], bsky[1]);
    assert_eq!(
        two["record"]["reply"],
        json!({"root": reference(one), "parent": reference(one)})
    );
    assert_eq!(
        two["record"]["facets"][0]["features"][0]["did"],
        "did:plc:ana"
    );
    assert_eq!(three["record"]["text"], bsky[2]);
    assert_eq!(
        three["record"]["reply"],
        json!({"root": reference(one), "parent": reference(two)})
    );
    let keys: Vec<&str> = [one, two, three]
        .iter()
        .map(|b| b["rkey"].as_str().unwrap())
        .collect();
    assert!(keys[0] < keys[1] && keys[1] < keys[2], "{keys:?}");
    let created: Vec<&str> = [one, two, three]
        .iter()
        .map(|b| b["record"]["createdAt"].as_str().unwrap())
        .collect();
    assert!(created[0] < created[1] && created[1] < created[2]);

    // The publication is part 1's; every part's id and URL is recorded.
    let variants = app
        .get_json(&format!("/api/v1/activities/{id}/variants"))
        .await;
    let m = &variants[0]["publication"];
    assert_eq!(m["state"], "published", "{variants}");
    assert_eq!(m["url"], format!("{}/@pregon/1", w.mastodon.url));
    let parts: Vec<(i64, String)> = m["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["part"].as_i64().unwrap(),
                p["url"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        parts,
        (1..=3)
            .map(|n| (n, format!("{}/@pregon/{n}", w.mastodon.url)))
            .collect::<Vec<_>>()
    );
    let b = &variants[1]["publication"];
    assert_eq!(b["state"], "published");
    assert_eq!(b["remote_id"], reference(one)["uri"]);
    assert_eq!(
        b["parts"][2]["url"],
        format!(
            "https://bsky.app/profile/{}/post/{}",
            crate::bluesky::HANDLE,
            keys[2]
        )
    );
    assert_eq!(b["parts"].as_array().unwrap().len(), 3);

    // Nothing more on later steps.
    app.clock.advance(TimeDelta::hours(2));
    runner.run_once().await.unwrap();
    assert_eq!(w.mastodon.to("/api/v1/statuses").len(), 4);
    assert_eq!(w.pds_state.lock().unwrap().records.len(), 3);
}

#[tokio::test]
async fn an_unseen_outcome_at_part_2_is_retried_with_its_own_key_and_part_2_exists_once() {
    let w = world().await;
    let app = &w.app;
    let id = w.activity;
    for channel in [w.m, w.b] {
        let res = app
            .put(
                &variant_url(id, channel),
                &json!({"body": "Uno", "content_warning": if channel == w.m { json!("Aviso") } else { Value::Null },
                        "thread": [{"body": "Dos"}, {"body": "Tres"}]}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    }
    assert_eq!(review(app, id, &app.editor, "submit").await.status(), 200);
    assert_eq!(review(app, id, &app.admin, "approve").await.status(), 200);
    // Part 2 is created (written) but its answer comes too late.
    w.masto_state.lock().unwrap().script = vec!["create", "slow"];
    w.pds_state.lock().unwrap().script = vec!["write", "slow"];
    let runner = planning_runner(app);
    app.clock.advance(TimeDelta::hours(1));
    runner.run_once().await.unwrap();
    runner.run_once().await.unwrap();
    let jobs = pregon::db::jobs::list(&mut app.db.get().unwrap(), None, None, 100, 0).unwrap();
    let social: Vec<_> = jobs
        .iter()
        .filter(|j| j.kind.starts_with("social."))
        .collect();
    assert_eq!(social.len(), 2);
    assert!(
        social.iter().all(|j| j.unknown_outcomes == 1),
        "{:?}",
        social.iter().map(|j| &j.last_result).collect::<Vec<_>>()
    );
    app.clock.advance(TimeDelta::minutes(10));
    runner.run_once().await.unwrap();
    runner.run_once().await.unwrap();

    let sent = w.mastodon.to("/api/v1/statuses");
    let texts: Vec<String> = sent
        .iter()
        .map(|r| r.json()["status"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(texts, ["Uno", "Dos", "Dos", "Tres"]);
    assert_eq!(
        sent[1].header("idempotency-key"),
        sent[2].header("idempotency-key")
    );
    assert!(
        sent.iter().all(|r| r.json()["spoiler_text"] == "Aviso"),
        "the warning on every part"
    );
    assert_eq!(
        w.masto_state.lock().unwrap().statuses.len(),
        3,
        "the repeated key answered with part 2 as created"
    );
    assert_eq!(sent[3].json()["in_reply_to_id"], "2");
    let methods: Vec<String> = w
        .pds
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/xrpc/com.atproto.repo."))
        .map(|r| {
            r.path
                .trim_start_matches("/xrpc/com.atproto.repo.")
                .to_owned()
        })
        .collect();
    assert_eq!(
        methods,
        ["createRecord", "createRecord", "putRecord", "createRecord"]
    );
    assert_eq!(w.pds_state.lock().unwrap().records.len(), 3);
    let variants = app
        .get_json(&format!("/api/v1/activities/{id}/variants"))
        .await;
    for v in variants.as_array().unwrap() {
        assert_eq!(v["publication"]["state"], "published", "{v}");
        assert_eq!(v["publication"]["parts"].as_array().unwrap().len(), 3);
    }
}

#[tokio::test]
async fn a_cms_gets_the_parts_after_the_first_as_data_thread() {
    let app = crate::webhooks::app_with_webhooks(true).await;
    let f = crate::activities::fixture(&app).await;
    let cms = crate::receiver::Receiver::start(|_| crate::receiver::Reply::status(204));
    let res = app
        .client
        .post(app.url("/api/v1/channel-accounts"))
        .bearer_auth(&app.admin)
        .json(
            &json!({"network": "webhook", "base_url": format!("{}/in", cms.url),
                      "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "channel_id": f.channel}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let at = (app.clock_now() - TimeDelta::minutes(10))
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let end = app.clock_now().format("%Y-%m-%dT%H:%M").to_string();
    let id = app
        .create(
            "/api/v1/activities",
            json!({
                "plan_id": f.plan,
                "kind": "social_post",
                "status": "planned",
                "timing": {"precision": "exact", "start": at, "end": end, "time_zone": "UTC"},
                "channel_ids": [f.channel],
                "translations": {"es": {"title": "Lanzamiento"}},
                "post_variants": [{"channel_id": f.channel, "lang": "es", "body": "Uno",
                                   "thread": [{"body": "Dos"}, {"body": "Tres"}]}],
            }),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    app.approve(&format!("/api/v1/activities/{id}")).await;
    let runner = planning_runner(&app);
    runner.run_once().await.unwrap();
    runner.run_once().await.unwrap();
    let sent = cms.to("/in");
    assert_eq!(sent.len(), 1);
    let data = &sent[0].json()["data"];
    assert_eq!(data["text"], "Uno");
    assert_eq!(data["thread"], json!(["Dos", "Tres"]));
}
