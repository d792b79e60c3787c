//! The holes issue 14 found, each closed as a class: references on delete,
//! database text in answers, bodies that are not exactly one JSON object.

use crate::helpers::*;
use serde_json::{Value, json};

#[tokio::test]
async fn deleting_a_referenced_record_is_a_409_naming_what_refers_to_it() {
    let app = spawn_app().await;
    let org = app
        .create(
            "/api/v1/organisations",
            json!({"slug": "uclg", "name": "UCLG", "kind": "partner"}),
        )
        .await;
    let org_id = org["id"].as_i64().unwrap();
    let channel = app
        .create(
            "/api/v1/channels",
            json!({"slug": "web", "kind": "website", "name": "Web", "organisation_id": org_id}),
        )
        .await;
    let res = app
        .delete(&format!("/api/v1/organisations/{org_id}"))
        .send()
        .await
        .unwrap();
    let problem = expect_problem(res, 409).await;
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("channels"), "{problem}");
    assert_eq!(
        problem["referenced_by"][0]["table"], "channels",
        "{problem}"
    );
    assert_eq!(problem["referenced_by"][0]["count"], 1, "{problem}");
    // Nothing was deleted.
    app.get_json(&format!("/api/v1/organisations/{org_id}"))
        .await;
    // Once the reference is gone, the delete goes through.
    let res = app
        .delete(&format!("/api/v1/channels/{}", channel["id"]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let res = app
        .delete(&format!("/api/v1/organisations/{org_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
}

#[tokio::test]
async fn a_plan_in_use_by_the_seeded_campaigns_is_not_deleted() {
    let app = spawn_seeded_app().await;
    let plans = app.get_json("/api/v1/plans").await;
    let id = plans["items"][0]["id"].as_i64().unwrap();
    let res = app
        .delete(&format!("/api/v1/plans/{id}"))
        .send()
        .await
        .unwrap();
    let problem = expect_problem(res, 409).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("campaigns"),
        "{problem}"
    );
}

#[tokio::test]
async fn a_duplicate_is_a_409_naming_the_field_without_database_text() {
    let app = spawn_app().await;
    let body = json!({"slug": "uraia", "name": "URAIA", "kind": "partner"});
    app.create("/api/v1/organisations", body.clone()).await;
    let res = app
        .post("/api/v1/organisations", &body)
        .send()
        .await
        .unwrap();
    let problem = expect_problem(res, 409).await;
    let text = problem.to_string().to_lowercase();
    for leak in [
        "constraint",
        "unique",
        "organisations.slug",
        "duplicate key",
        "uraia",
    ] {
        assert!(!text.contains(leak), "{leak:?} in {problem}");
    }
    assert_eq!(problem["field"], "slug", "{problem}");
    assert_eq!(problem["errors"][0]["pointer"], "#/slug", "{problem}");
}

async fn count(app: &TestApp, path: &str) -> usize {
    let page: Value = app.get_json(path).await;
    page["items"].as_array().unwrap().len()
}

#[tokio::test]
async fn a_body_that_is_not_exactly_one_object_is_refused_and_nothing_written() {
    let app = spawn_app().await;
    let bodies: [&[u8]; 6] = [
        br#"{"slug":"a1","name":"A","kind":"partner"} garbage"#,
        br#"{"slug":"a2","name":"A","kind":"partner"}{"slug":"a3","name":"B","kind":"partner"}"#,
        b"{\"slug\":\"a4\",\"name\":\"A\",\"kind\":\"partner\"}\x00\xff\xfe",
        br#"["a5","A","partner"]"#,
        br#""a6""#,
        br#"{"slug":"a7","name":"A","kind":"partner"} 1"#,
    ];
    for body in bodies {
        let res = app
            .client
            .post(app.url("/api/v1/organisations"))
            .bearer_auth(&app.editor)
            .header("content-type", "application/json")
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        expect_problem(res, 400).await;
    }
    assert_eq!(count(&app, "/api/v1/organisations").await, 0);
    // Whitespace after the object is fine.
    let res = app
        .client
        .post(app.url("/api/v1/organisations"))
        .bearer_auth(&app.editor)
        .header("content-type", "application/json")
        .body("{\"slug\":\"ok\",\"name\":\"A\",\"kind\":\"partner\"}\n \t")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
}

#[tokio::test]
async fn the_public_subscribe_endpoint_takes_exactly_one_object_too() {
    let app = spawn_app().await;
    app.create(
        "/api/v1/lists",
        json!({"slug": "members", "name": "Members", "public_subscribe": true, "default_language": "es"}),
    )
    .await;
    let one = r#"{"email":"a@example.org","lists":["members"],"consent":true}"#;
    let bodies = [
        format!("{one} garbage"),
        format!("{one}{one}"),
        r#"["a@example.org",null,["members"],null,true]"#.to_owned(),
    ];
    for body in bodies {
        let res = app
            .client
            .post(app.url("/newsletter/subscribe"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        expect_problem(res, 400).await;
    }
    assert_eq!(count(&app, "/api/v1/subscribers").await, 0);
}

#[tokio::test]
async fn html_pages_carry_a_content_security_policy_and_refuse_framing() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/newsletter/confirm/not-a-token"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let h = res.headers();
    assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("script-src"), "{csp}");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["x-content-type-options"], "nosniff");
    // API answers are not sniffed or framed either.
    let res = app.get("/api/v1/plans").send().await.unwrap();
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert!(
        res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
}

#[tokio::test]
async fn if_match_is_compared_strongly_and_names_the_header() {
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
        .header("If-Match", "W/\"1\"")
        .send()
        .await
        .unwrap();
    let problem = expect_problem(res, 412).await;
    assert_eq!(problem["field"], "If-Match", "{problem}");
    let res = app
        .put(&path, &body)
        .header("If-Match", "1")
        .send()
        .await
        .unwrap();
    let problem = expect_problem(res, 400).await;
    assert_eq!(problem["field"], "If-Match", "{problem}");
    // A header is named as a header, never as a pointer into the body.
    assert_eq!(problem["errors"][0]["header"], "If-Match", "{problem}");
    assert!(problem["errors"][0].get("pointer").is_none(), "{problem}");
    // Nothing was changed by either.
    assert_eq!(app.get_json(&path).await["version"], 1);
}

#[tokio::test]
async fn a_known_path_with_another_method_is_405_with_allow_and_head_works_on_gets() {
    let app = spawn_app().await;
    let created = app
        .create(
            "/api/v1/organisations",
            json!({"slug": "wba", "name": "WBA", "kind": "partner"}),
        )
        .await;
    let res = app
        .client
        .patch(app.url(&format!("/api/v1/organisations/{}", created["id"])))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap();
    let allow = res.headers()["allow"].to_str().unwrap().to_owned();
    expect_problem(res, 405).await;
    for m in ["GET", "HEAD", "PUT", "DELETE"] {
        assert!(allow.contains(m), "{allow}");
    }
    let res = app.client.post(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 405);
    // Unknown paths stay 404.
    let res = app.get("/api/v1/nothing-here").send().await.unwrap();
    expect_problem(res, 404).await;
    // HEAD answers like GET, without a body.
    for path in ["/healthz", "/api/v1/organisations", "/api/v1/openapi.json"] {
        let res = app
            .client
            .head(app.url(path))
            .bearer_auth(&app.viewer)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "HEAD {path}");
        assert!(res.bytes().await.unwrap().is_empty(), "HEAD {path}");
    }
}
