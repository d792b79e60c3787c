//! Public rate limits: GCRA buckets per route group and client, the client
//! named by a trusted proxy only, refilled by the service clock (the tests
//! move it; nothing sleeps), health checks from loopback never limited, and
//! feeds budgeted per (client, feed) with 304s costing one cell.

use crate::helpers::*;
use chrono::TimeDelta;
use serde_json::{Value, json};

async fn get_as(app: &TestApp, path: &str, client: &str) -> u16 {
    app.client
        .get(app.url(path))
        .header("x-forwarded-for", client)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn health_checks_from_loopback_are_never_limited() {
    let app = spawn_app_with(|s| s.rate_limits.health_per_minute = 2).await;
    for _ in 0..20 {
        let res = app.client.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(res.status(), 200);
    }
}

#[tokio::test]
async fn each_group_has_its_own_bucket_per_client_refilled_by_the_clock() {
    let app = spawn_app_with(|s| {
        s.server.trusted_proxies = vec!["127.0.0.1".into()];
        s.rate_limits.health_per_minute = 3;
        s.rate_limits.links_per_minute = 2;
    })
    .await;
    let ana = "198.51.100.7";
    for _ in 0..3 {
        assert_eq!(get_as(&app, "/healthz", ana).await, 200);
    }
    let res = app
        .client
        .get(app.url("/healthz"))
        .header("x-forwarded-for", ana)
        .send()
        .await
        .unwrap();
    assert!(res.headers().contains_key("retry-after"));
    expect_problem(res, 429).await;
    // Polling health did not use up Ana's links (404: the token is bad).
    for _ in 0..2 {
        assert_eq!(get_as(&app, "/newsletter/confirm/x", ana).await, 404);
    }
    assert_eq!(get_as(&app, "/newsletter/confirm/x", ana).await, 429);
    // Another client behind the same proxy has buckets of its own.
    assert_eq!(get_as(&app, "/healthz", "198.51.100.8").await, 200);
    // 3 a minute: one more every 20 s of the service clock, and no burst
    // across a window boundary.
    app.clock.advance(TimeDelta::seconds(20));
    assert_eq!(get_as(&app, "/healthz", ana).await, 200);
    assert_eq!(get_as(&app, "/healthz", ana).await, 429);
    app.clock.advance(TimeDelta::seconds(60));
    for _ in 0..3 {
        assert_eq!(get_as(&app, "/healthz", ana).await, 200);
    }
    assert_eq!(get_as(&app, "/healthz", ana).await, 429);
}

#[tokio::test]
async fn forwarded_headers_from_an_untrusted_peer_are_ignored() {
    let app = spawn_app_with(|s| s.rate_limits.links_per_minute = 2).await;
    assert_eq!(
        get_as(&app, "/newsletter/confirm/x", "198.51.100.1").await,
        404
    );
    assert_eq!(
        get_as(&app, "/newsletter/confirm/x", "198.51.100.2").await,
        404
    );
    // The peer (loopback) is the client, whatever the header claims.
    assert_eq!(
        get_as(&app, "/newsletter/confirm/x", "198.51.100.3").await,
        429
    );
}

async fn feed(app: &TestApp, name: &str) -> String {
    let res = app
        .client
        .post(app.url("/api/v1/feeds"))
        .bearer_auth(&app.admin)
        .json(&json!({"name": name}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    created["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn feeds_are_budgeted_per_feed_and_a_304_costs_little() {
    let app = spawn_app_with(|s| {
        s.feeds.rate_limit_per_minute = 1000;
        s.rate_limits.feed_per_feed_per_minute = 10;
        s.rate_limits.feed_full_response_cost = 4;
    })
    .await;
    let (a, b) = (feed(&app, "A").await, feed(&app, "B").await);
    let res = app
        .client
        .get(app.url(&format!("/feeds/{a}.ics")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    // The full answer took 4 of 10 cells: six revalidations fit, not nine.
    for i in 0..6 {
        let res = app
            .client
            .get(app.url(&format!("/feeds/{a}.ics")))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 304, "revalidation {i}");
    }
    let res = app
        .client
        .get(app.url(&format!("/feeds/{a}.ics")))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    expect_problem(res, 429).await;
    // The same client polling another feed is not held back by the first.
    let res = app
        .client
        .get(app.url(&format!("/feeds/{b}.ics")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}
