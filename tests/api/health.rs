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
async fn public_endpoints_are_rate_limited() {
    let app = spawn_app_with(|s| s.server.public_rate_limit_per_minute = 3).await;
    for _ in 0..3 {
        let res = app.client.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(res.status(), 200);
    }
    let res = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert!(res.headers().contains_key("retry-after"));
    expect_problem(res, 429).await;
}
