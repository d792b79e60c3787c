use crate::helpers::*;

#[tokio::test]
async fn liveness_and_readiness() {
    let app = spawn_app().await;
    let res = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().contains_key("x-request-id"));
    let res = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["database"], backend().name());
}

#[tokio::test]
async fn unknown_routes_are_problems() {
    let app = spawn_app().await;
    let res = app.get("/api/v1/nothing-here").send().await.unwrap();
    expect_problem(res, 404).await;
}

#[tokio::test]
async fn health_checks_have_their_own_bucket_apart_from_subscribers_links() {
    // Polling /healthz (from anywhere but loopback) uses the health bucket,
    // never the one an unsubscribe link needs.
    let app = spawn_app_with(|s| {
        s.server.trusted_proxies = vec!["127.0.0.1".into()];
        s.rate_limits.health_per_minute = 3;
    })
    .await;
    let from = |path: &str| {
        app.client
            .get(app.url(path))
            .header("x-forwarded-for", "203.0.113.5")
    };
    for _ in 0..3 {
        assert_eq!(from("/healthz").send().await.unwrap().status(), 200);
    }
    let res = from("/healthz").send().await.unwrap();
    assert!(res.headers().contains_key("retry-after"));
    expect_problem(res, 429).await;
    let res = from("/newsletter/unsubscribe/not-a-token")
        .send()
        .await
        .unwrap();
    assert_ne!(res.status(), 429);
}
