//! The holes issue 14 found, each closed as a class: references on delete,
//! database text in answers, bodies that are not exactly one JSON object.

use crate::helpers::*;
use serde_json::json;

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
