use crate::helpers::*;
use serde_json::json;

#[tokio::test]
async fn create_read_replace_delete() {
    let app = spawn_app().await;
    let created = app
        .create(
            "/api/v1/organisations",
            json!({"slug": "uraia", "name": "URAIA platform", "kind": "partner"}),
        )
        .await;
    let id = created["id"].as_i64().unwrap();
    assert_eq!(created["version"], 1);

    let res = app
        .get(&format!("/api/v1/organisations/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["etag"], "\"1\"");

    let res = app
        .put(
            &format!("/api/v1/organisations/{id}"),
            &json!({"slug": "uraia", "name": "Plataforma URAIA", "kind": "partner", "version": 1}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let updated: serde_json::Value = res.json().await.unwrap();
    assert_eq!(updated["name"], "Plataforma URAIA");
    assert_eq!(updated["version"], 2);

    let res = app
        .delete(&format!("/api/v1/organisations/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let res = app
        .get(&format!("/api/v1/organisations/{id}"))
        .send()
        .await
        .unwrap();
    expect_problem(res, 404).await;
}

#[tokio::test]
async fn a_stale_edit_never_overwrites_a_newer_one() {
    let app = spawn_app().await;
    let created = app
        .create(
            "/api/v1/organisations",
            json!({"slug": "wba", "name": "WBA", "kind": "partner"}),
        )
        .await;
    let path = format!("/api/v1/organisations/{}", created["id"]);
    let first = app
        .put(
            &path,
            &json!({"slug": "wba", "name": "WBA (first)", "kind": "partner"}),
        )
        .header("If-Match", "\"1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    // A second client still holding version 1.
    let stale = app
        .put(
            &path,
            &json!({"slug": "wba", "name": "WBA (second)", "kind": "partner"}),
        )
        .header("If-Match", "\"1\"")
        .send()
        .await
        .unwrap();
    let problem = expect_problem(stale, 412).await;
    assert_eq!(problem["current_version"], 2);
    let stale_body = app
        .put(
            &path,
            &json!({"slug": "wba", "name": "WBA (third)", "kind": "partner", "version": 1}),
        )
        .send()
        .await
        .unwrap();
    expect_problem(stale_body, 409).await;
    let no_version = app
        .put(
            &path,
            &json!({"slug": "wba", "name": "WBA (fourth)", "kind": "partner"}),
        )
        .send()
        .await
        .unwrap();
    expect_problem(no_version, 428).await;
    assert_eq!(app.get_json(&path).await["name"], "WBA (first)");
}

#[tokio::test]
async fn bad_input_is_refused_with_the_field_and_nothing_written() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({"slug": "Bad Slug", "name": "X", "kind": "partner"}),
            422,
            "slug",
        ),
        (
            json!({"slug": "ok", "name": "X", "kind": "sponsor"}),
            422,
            "kind",
        ),
        (
            json!({"slug": "ok", "name": 42, "kind": "partner"}),
            422,
            "name",
        ),
        (
            json!({"slug": "ok", "name": "X", "kind": "partner", "colour": "red"}),
            422,
            "colour",
        ),
        (
            json!({"slug": "ok", "name": "X", "kind": "partner", "website": "ftp://x"}),
            422,
            "website",
        ),
        (
            json!({"slug": "ok", "name": "   ", "kind": "partner"}),
            422,
            "name",
        ),
    ];
    for (body, status, field) in cases {
        let res = app
            .post("/api/v1/organisations", &body)
            .send()
            .await
            .unwrap();
        let problem = expect_problem(res, status).await;
        assert!(
            problem["field"].as_str().unwrap_or("").contains(field)
                || problem["detail"].as_str().unwrap_or("").contains(field),
            "{body} → {problem}"
        );
    }
    let malformed = app
        .client
        .post(app.url("/api/v1/organisations"))
        .bearer_auth(&app.editor)
        .header("content-type", "application/json")
        .body("{\"slug\": ")
        .send()
        .await
        .unwrap();
    expect_problem(malformed, 400).await;
    let not_json = app
        .client
        .post(app.url("/api/v1/organisations"))
        .bearer_auth(&app.editor)
        .header("content-type", "text/plain")
        .body("slug=x")
        .send()
        .await
        .unwrap();
    expect_problem(not_json, 415).await;
    let list = app.get_json("/api/v1/organisations").await;
    assert_eq!(list["total"], 0);
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let app = spawn_app_with(|s| s.server.body_limit_bytes = 1024).await;
    let body =
        json!({"slug": "big", "name": "X", "kind": "partner", "description": "x".repeat(2000)});
    let res = app
        .post("/api/v1/organisations", &body)
        .send()
        .await
        .unwrap();
    expect_problem(res, 413).await;
    assert_eq!(app.get_json("/api/v1/organisations").await["total"], 0);
}
