//! HTTP semantics at the edge: `If-Match: *`, where a problem points, and the
//! answers given before any handler runs (414, 431, actix's own 413).

use crate::helpers::*;
use serde_json::json;

#[tokio::test]
async fn if_match_star_replaces_whatever_version_is_current() {
    let app = spawn_app().await;
    let created = app
        .create(
            "/api/v1/organisations",
            json!({"slug": "wba", "name": "WBA", "kind": "partner"}),
        )
        .await;
    let path = format!("/api/v1/organisations/{}", created["id"]);
    for (n, name) in ["WBA (first)", "WBA (second)"].iter().enumerate() {
        let res = app
            .put(
                &path,
                &json!({"slug": "wba", "name": name, "kind": "partner"}),
            )
            .header("If-Match", "*")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
        assert_eq!(
            res.headers()["etag"].to_str().unwrap(),
            format!("\"{}\"", n + 2)
        );
    }
    // `*` does not create: the record must exist.
    let res = app
        .put(
            "/api/v1/organisations/999999",
            &json!({"slug": "x", "name": "X", "kind": "partner"}),
        )
        .header("If-Match", "*")
        .send()
        .await
        .unwrap();
    expect_problem(res, 404).await;
}

#[tokio::test]
async fn a_stale_if_match_points_at_the_header_not_the_body() {
    let app = spawn_app().await;
    let created = app
        .create(
            "/api/v1/organisations",
            json!({"slug": "wba", "name": "WBA", "kind": "partner"}),
        )
        .await;
    let path = format!("/api/v1/organisations/{}", created["id"]);
    let body = json!({"slug": "wba", "name": "WBA 2", "kind": "partner"});
    let res = app
        .put(&path, &body)
        .header("If-Match", "\"7\"")
        .send()
        .await
        .unwrap();
    let problem = expect_problem(res, 412).await;
    assert_eq!(problem["field"], "If-Match", "{problem}");
    assert_eq!(problem["errors"][0]["header"], "If-Match", "{problem}");
    assert!(problem["errors"][0].get("pointer").is_none(), "{problem}");
}

#[tokio::test]
async fn missing_fields_and_fields_of_a_translation_are_pointed_at() {
    let app = spawn_app().await;
    let res = app
        .post(
            "/api/v1/organisations",
            &json!({"name": "No slug", "kind": "partner"}),
        )
        .send()
        .await
        .unwrap();
    let problem = expect_problem(res, 422).await;
    assert_eq!(problem["field"], "slug", "{problem}");
    assert_eq!(problem["errors"][0]["pointer"], "#/slug", "{problem}");

    let res = app
        .post(
            "/api/v1/campaigns",
            &json!({"translations": {"en": {"title": ""}}}),
        )
        .send()
        .await
        .unwrap();
    let problem = expect_problem(res, 422).await;
    assert_eq!(
        problem["errors"][0]["pointer"], "#/translations/en/title",
        "the language is part of the place at fault: {problem}"
    );
}

#[tokio::test]
async fn query_and_path_parameters_are_named() {
    let app = spawn_app().await;
    let res = app.get("/api/v1/plans?per_page=lots").send().await.unwrap();
    let problem = expect_problem(res, 400).await;
    assert_eq!(problem["field"], "per_page", "{problem}");
    assert_eq!(problem["errors"][0]["parameter"], "per_page", "{problem}");
    let res = app.get("/api/v1/plans/twelve").send().await.unwrap();
    let problem = expect_problem(res, 400).await;
    assert_eq!(problem["errors"][0]["parameter"], "id", "{problem}");
}

#[tokio::test]
async fn oversized_request_lines_and_headers_are_answered_as_problems() {
    let app = spawn_app().await;
    let long = format!("/api/v1/plans?x={}", "a".repeat(9000));
    let res = app.get(&long).send().await.unwrap();
    expect_problem(res, 414).await;

    let res = app
        .get("/api/v1/plans")
        .header("x-padding", "b".repeat(17 * 1024))
        .send()
        .await
        .unwrap();
    expect_problem(res, 431).await;

    let mut req = app.get("/api/v1/plans");
    for i in 0..70 {
        req = req.header(format!("x-h{i}"), "1");
    }
    expect_problem(req.send().await.unwrap(), 431).await;
}

#[tokio::test]
async fn errors_of_the_frameworks_own_extractors_are_problems_too() {
    // The preferences form is read by actix's own body extractor (limit 256 KiB).
    let app = spawn_app().await;
    let res = app
        .client
        .post(app.url("/newsletter/preferences/some-token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![b'a'; 300 * 1024])
        .send()
        .await
        .unwrap();
    expect_problem(res, 413).await;
}

#[tokio::test]
async fn metrics_are_in_the_prometheus_format_for_admins_only() {
    let app = spawn_app().await;
    for _ in 0..3 {
        app.get("/api/v1/plans/999999").send().await.unwrap();
    }
    app.client
        .get(app.url("/feeds/public.ics"))
        .send()
        .await
        .unwrap();
    app.client
        .get(app.url("/feeds/public.ics"))
        .send()
        .await
        .unwrap();
    let res = app.client.get(app.url("/metrics")).send().await.unwrap();
    expect_problem(res, 401).await;
    let res = app.get("/metrics").send().await.unwrap();
    expect_problem(res, 403).await;
    let res = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = res.text().await.unwrap();
    // By route template, never by raw path (ids are not label values).
    assert!(
        text.contains(
            "pregon_http_requests_total{method=\"GET\",route=\"/api/v1/plans/{id}\",status=\"404\"} 3"
        ),
        "{text}"
    );
    // (A raw path would show the id; a float such as a sum may well hold
    // the digits 999999, so look for the path.)
    assert!(!text.contains("/plans/999999"), "{text}");
    assert!(
        text.contains(
            "pregon_http_request_duration_seconds_count{method=\"GET\",route=\"/api/v1/plans/{id}\"} 3"
        ),
        "{text}"
    );
    for name in [
        "pregon_feed_cache_hits_total ",
        "pregon_feed_rebuilds_total ",
        "pregon_deliveries{state=\"queued\"} 0",
        "pregon_queue_depth 0",
        "pregon_queue_oldest_due_age_seconds 0",
    ] {
        assert!(text.contains(name), "{name} missing:\n{text}");
    }
    // Every sample line belongs to a declared metric family.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let family = line.split(['{', ' ']).next().unwrap();
        let base = family
            .trim_end_matches("_bucket")
            .trim_end_matches("_sum")
            .trim_end_matches("_count");
        assert!(
            text.contains(&format!("# TYPE {family} "))
                || text.contains(&format!("# TYPE {base} ")),
            "{line} has no TYPE"
        );
    }
}
