use crate::helpers::*;
use serde_json::Value;

/// Every route the service has, as (method, path). A route added to the server
/// but not to the document fails `every_route_is_served_and_documented`.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/api/v1/plans"),
    ("post", "/api/v1/plans"),
    ("get", "/api/v1/plans/{id}"),
    ("put", "/api/v1/plans/{id}"),
    ("delete", "/api/v1/plans/{id}"),
    ("get", "/api/v1/campaigns"),
    ("post", "/api/v1/campaigns"),
    ("get", "/api/v1/campaigns/{id}"),
    ("put", "/api/v1/campaigns/{id}"),
    ("delete", "/api/v1/campaigns/{id}"),
    ("get", "/api/v1/channels"),
    ("post", "/api/v1/channels"),
    ("get", "/api/v1/channels/{id}"),
    ("put", "/api/v1/channels/{id}"),
    ("delete", "/api/v1/channels/{id}"),
    ("get", "/api/v1/activities"),
    ("post", "/api/v1/activities"),
    ("get", "/api/v1/activities/{id}"),
    ("put", "/api/v1/activities/{id}"),
    ("delete", "/api/v1/activities/{id}"),
    ("get", "/api/v1/organisations"),
    ("post", "/api/v1/organisations"),
    ("get", "/api/v1/organisations/{id}"),
    ("put", "/api/v1/organisations/{id}"),
    ("delete", "/api/v1/organisations/{id}"),
    ("get", "/api/v1/people"),
    ("post", "/api/v1/people"),
    ("get", "/api/v1/people/{id}"),
    ("put", "/api/v1/people/{id}"),
    ("delete", "/api/v1/people/{id}"),
    ("get", "/api/v1/participations"),
    ("post", "/api/v1/participations"),
    ("get", "/api/v1/participations/{id}"),
    ("put", "/api/v1/participations/{id}"),
    ("delete", "/api/v1/participations/{id}"),
    ("get", "/feeds/public.ics"),
    ("head", "/feeds/public.ics"),
    ("get", "/feeds/{token}.ics"),
    ("head", "/feeds/{token}.ics"),
    ("get", "/api/v1/feeds"),
    ("post", "/api/v1/feeds"),
    ("get", "/api/v1/feeds/{id}"),
    ("put", "/api/v1/feeds/{id}"),
    ("delete", "/api/v1/feeds/{id}"),
    ("post", "/api/v1/feeds/{id}/rotate"),
    ("get", "/api/v1/activities/{id}/ics"),
    ("post", "/api/v1/imports"),
    ("get", "/api/v1/tokens"),
    ("post", "/api/v1/tokens"),
    ("delete", "/api/v1/tokens/{id}"),
    ("get", "/api/v1/accounts"),
    ("post", "/api/v1/accounts"),
    ("get", "/api/v1/accounts/{id}"),
    ("put", "/api/v1/accounts/{id}"),
    ("get", "/api/v1/me"),
    ("put", "/api/v1/me/password"),
    ("post", "/api/v1/sign-in"),
    ("post", "/api/v1/sign-in/link"),
    ("post", "/api/v1/sign-in/link/{token}"),
    ("get", "/sign-in/{token}"),
    ("post", "/sign-in/{token}"),
    ("get", "/api/v1/sessions"),
    ("delete", "/api/v1/sessions/{id}"),
    ("post", "/api/v1/sessions/sign-out-everywhere"),
    ("get", "/api/v1/lists"),
    ("post", "/api/v1/lists"),
    ("get", "/api/v1/lists/{id}"),
    ("put", "/api/v1/lists/{id}"),
    ("delete", "/api/v1/lists/{id}"),
    ("post", "/api/v1/lists/{id}/import"),
    ("get", "/api/v1/lists/{id}/export.csv"),
    ("get", "/api/v1/subscribers"),
    ("post", "/api/v1/subscribers"),
    ("get", "/api/v1/subscribers/{id}"),
    ("put", "/api/v1/subscribers/{id}"),
    ("delete", "/api/v1/subscribers/{id}"),
    ("post", "/api/v1/subscribers/{id}/unsubscribe"),
    ("post", "/api/v1/bounces"),
    ("post", "/api/v1/bounces/message"),
    ("get", "/api/v1/reports/progress"),
    ("get", "/api/v1/email/limits"),
    ("put", "/api/v1/email/limits"),
    ("get", "/api/v1/issues"),
    ("post", "/api/v1/issues"),
    ("get", "/api/v1/issues/{id}"),
    ("put", "/api/v1/issues/{id}"),
    ("delete", "/api/v1/issues/{id}"),
    ("get", "/api/v1/issues/{id}/preview"),
    ("post", "/api/v1/issues/{id}/test"),
    ("post", "/api/v1/issues/{id}/schedule"),
    ("post", "/api/v1/issues/{id}/unschedule"),
    ("post", "/api/v1/issues/{id}/send"),
    ("post", "/api/v1/issues/{id}/pause"),
    ("post", "/api/v1/issues/{id}/resume"),
    ("post", "/api/v1/issues/{id}/cancel"),
    ("post", "/api/v1/issues/{id}/retry-failed"),
    ("get", "/api/v1/issues/{id}/progress"),
    ("get", "/api/v1/issues/{id}/deliveries"),
    ("get", "/api/v1/issues/{id}/deliveries.csv"),
    ("post", "/api/v1/activities/{id}/invitations"),
    ("get", "/api/v1/activities/{id}/invitations"),
    ("post", "/api/v1/invitations/replies"),
    ("post", "/newsletter/subscribe"),
    ("get", "/newsletter/confirm/{token}"),
    ("post", "/newsletter/confirm/{token}"),
    ("get", "/newsletter/unsubscribe/{token}"),
    ("post", "/newsletter/unsubscribe/{token}"),
    ("post", "/newsletter/preferences/{token}"),
    ("get", "/api/v1/plans/{id}/history"),
    ("get", "/api/v1/campaigns/{id}/history"),
    ("get", "/api/v1/channels/{id}/history"),
    ("get", "/api/v1/activities/{id}/history"),
    ("get", "/api/v1/organisations/{id}/history"),
    ("get", "/api/v1/people/{id}/history"),
    ("get", "/api/v1/participations/{id}/history"),
    ("get", "/api/v1/issues/{id}/history"),
    ("get", "/api/v1/lists/{id}/history"),
    ("get", "/api/v1/activities/{id}/review"),
    ("post", "/api/v1/activities/{id}/review"),
    ("get", "/api/v1/issues/{id}/review"),
    ("post", "/api/v1/issues/{id}/review"),
    ("get", "/api/v1/changes"),
    ("get", "/metrics"),
    ("get", "/api/v1/jobs"),
    ("get", "/api/v1/jobs/{id}"),
    ("post", "/api/v1/jobs/{id}/retry"),
    ("post", "/api/v1/jobs/{id}/cancel"),
    ("get", "/api/v1/webhooks"),
    ("post", "/api/v1/webhooks"),
    ("get", "/api/v1/webhooks/{id}"),
    ("put", "/api/v1/webhooks/{id}"),
    ("delete", "/api/v1/webhooks/{id}"),
    ("post", "/api/v1/webhooks/{id}/rotate-secret"),
    ("get", "/api/v1/webhooks/{id}/deliveries"),
    ("post", "/api/v1/webhooks/{id}/deliveries/{job_id}/replay"),
    ("get", "/api/v1/accounts/{id}/preferences"),
    ("put", "/api/v1/accounts/{id}/preferences"),
    ("get", "/api/v1/me/preferences"),
    ("put", "/api/v1/me/preferences"),
    ("get", "/api/v1/activities/{id}/variants"),
    (
        "put",
        "/api/v1/activities/{id}/variants/{channel_id}/{lang}",
    ),
    (
        "delete",
        "/api/v1/activities/{id}/variants/{channel_id}/{lang}",
    ),
    (
        "post",
        "/api/v1/activities/{id}/variants/{channel_id}/{lang}/done",
    ),
    (
        "post",
        "/api/v1/activities/{id}/variants/{channel_id}/{lang}/media",
    ),
    ("get", "/api/v1/channel-accounts"),
    ("post", "/api/v1/channel-accounts"),
    ("get", "/api/v1/channel-accounts/{id}"),
    ("patch", "/api/v1/channel-accounts/{id}"),
    ("delete", "/api/v1/channel-accounts/{id}"),
    ("get", "/api/v1/channel-accounts/{id}/history"),
];

pub async fn document(app: &TestApp) -> Value {
    let res = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// (method, path) of every operation in the document.
pub fn operations(doc: &Value) -> Vec<(String, String)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "patch", "delete", "head"] {
            if item.get(method).is_some() {
                ops.push((method.to_owned(), path.clone()));
            }
        }
    }
    ops.sort();
    ops
}

#[tokio::test]
async fn the_document_is_openapi_3_1_and_lists_every_route() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let documented = operations(&doc);
    for (method, path) in ROUTES {
        assert!(
            documented.contains(&(method.to_string(), path.to_string())),
            "{method} {path} is missing from the OpenAPI document"
        );
    }
    for (method, path) in &documented {
        assert!(
            ROUTES.contains(&(method.as_str(), path.as_str())),
            "{method} {path} is documented but not listed in ROUTES: add it (and its role) to the tests"
        );
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    assert!(doc["components"]["schemas"]["Problem"].is_object());
}

#[tokio::test]
async fn every_documented_route_is_served() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    for (method, path) in operations(&doc) {
        let url = app.url(&path.replace("{id}", "999999"));
        let req = app
            .client
            .request(method.to_uppercase().parse().unwrap(), url)
            .bearer_auth(&app.admin);
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        if method == "head" {
            // No body to read: a served HEAD answers as its GET does.
            let get = app.client.get(res.url().clone()).send().await.unwrap();
            assert_eq!(
                status,
                get.status().as_u16(),
                "HEAD {path} is not served like GET"
            );
            continue;
        }
        if status == 404 {
            let body: Value = res.json().await.unwrap();
            assert_ne!(
                body["type"], "urn:pregon:problem:no-route",
                "{method} {path} is documented but not served"
            );
        }
    }
}

#[tokio::test]
async fn a_manual_accounts_recipients_and_the_uploads_part_are_documented() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let input = &doc["components"]["schemas"]["ChannelAccountInput"]["properties"];
    assert_eq!(input["recipients"]["maxItems"], 20, "{input}");
    assert!(input["default_language"].is_object(), "{input}");
    let update = &doc["components"]["schemas"]["ChannelAccountUpdate"]["properties"];
    assert!(update["recipients"].is_object(), "{update}");
    let view = &doc["components"]["schemas"]["ChannelAccount"]["properties"];
    assert!(view["recipients"].is_object(), "{view}");
    // `part` is read as text so that a word is a 422 naming it, but it is
    // documented as the number it must be.
    let params = &doc["paths"]["/api/v1/activities/{id}/variants/{channel_id}/{lang}/media"]["post"]
        ["parameters"];
    let part = params
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "part")
        .unwrap_or_else(|| panic!("{params}"));
    assert!(part["schema"].to_string().contains("integer"), "{part}");
}
