use crate::helpers::*;
use crate::openapi::{document, operations};
use serde_json::Value;

/// The role a documented operation requires (None: public).
fn required_role(doc: &Value, method: &str, path: &str) -> Option<String> {
    let security = &doc["paths"][path][method]["security"];
    let roles = security.as_array()?.first()?.get("bearer")?.as_array()?;
    assert_eq!(roles.len(), 1, "{method} {path} must name exactly one role");
    Some(roles[0].as_str().unwrap().to_owned())
}

/// What the API's rules say each route needs: signing in nothing; one's own
/// account and sessions viewer; reads viewer, writes editor; tokens, accounts,
/// feeds and deletes admin. The document must agree, and the server enforce it.
fn expected_role(method: &str, path: &str) -> Option<&'static str> {
    // Operators' metrics: on the main port, for admins only.
    if path == "/metrics" {
        return Some("admin");
    }
    if !path.starts_with("/api/v1/") || path.starts_with("/api/v1/sign-in") {
        return None;
    }
    if path.starts_with("/api/v1/me") || path.starts_with("/api/v1/sessions") {
        return Some("viewer");
    }
    if path.starts_with("/api/v1/tokens")
        || path.starts_with("/api/v1/accounts")
        || path.starts_with("/api/v1/feeds")
        || path.starts_with("/api/v1/jobs")
        || path.starts_with("/api/v1/webhooks")
        || path.starts_with("/api/v1/channel-accounts")
        || method == "delete"
    {
        return Some("admin");
    }
    match method {
        "get" | "head" => Some("viewer"),
        _ => Some("editor"),
    }
}

const RANK: [&str; 4] = ["viewer", "editor", "approver", "admin"];

#[tokio::test]
async fn every_route_checks_its_role() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let principals: [(&str, Option<&String>); 5] = [
        ("anonymous", None),
        ("viewer", Some(&app.viewer)),
        ("editor", Some(&app.editor)),
        ("approver", Some(&app.approver)),
        ("admin", Some(&app.admin)),
    ];
    let mut checked = 0;
    for (method, path) in operations(&doc) {
        let required = required_role(&doc, &method, &path);
        assert_eq!(
            required.as_deref(),
            expected_role(&method, &path),
            "{method} {path} documents the wrong role"
        );
        // Ids that exist nowhere: authorised requests end in 404/422, never in a change.
        let url = app.url(
            &path
                .replace("{id}", "999999")
                .replace("{token}", "nope")
                .replace("{job_id}", "999999")
                .replace("{channel_id}", "999999")
                .replace("{lang}", "es"),
        );
        for (who, token) in principals {
            let mut req = app
                .client
                .request(method.to_uppercase().parse().unwrap(), &url);
            if let Some(token) = token {
                req = req.bearer_auth(token);
            }
            if method == "post" || method == "put" {
                req = req.json(&serde_json::json!({}));
            }
            let status = req.send().await.unwrap().status().as_u16();
            let allowed = match (&required, who) {
                (None, _) => true,
                (Some(_), "anonymous") => false,
                (Some(role), who) => {
                    RANK.iter().position(|r| *r == who) >= RANK.iter().position(|r| r == role)
                }
            };
            if allowed {
                assert!(
                    status != 401 && status != 403,
                    "{who} was refused {method} {path}: {status}"
                );
            } else {
                let want = if who == "anonymous" { 401 } else { 403 };
                assert_eq!(status, want, "{who} on {method} {path}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 5 * 40, "only {checked} route × role checks ran");
}

#[tokio::test]
async fn revoked_unknown_and_malformed_tokens_are_refused() {
    let app = spawn_app().await;
    for header in [
        "Bearer pgn_notarealtoken".to_owned(),
        "Bearer ".to_owned(),
        "Basic dXNlcjpwYXNz".to_owned(),
        format!("Bearer {}x", app.viewer),
    ] {
        let res = app
            .client
            .get(app.url("/api/v1/plans"))
            .header("authorization", header)
            .send()
            .await
            .unwrap();
        assert!(res.headers().contains_key("www-authenticate"));
        expect_problem(res, 401).await;
    }
    let created = app
        .client
        .post(app.url("/api/v1/tokens"))
        .bearer_auth(&app.admin)
        .json(&serde_json::json!({"name": "partner-bot", "role": "viewer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("pgn_"));
    let ok = app
        .client
        .get(app.url("/api/v1/plans"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    // The list never shows secrets or hashes.
    let list = app
        .client
        .get(app.url("/api/v1/tokens"))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap();
    let text = list.text().await.unwrap();
    assert!(!text.contains(&secret) && !text.contains("hash"), "{text}");
    let revoked = app
        .client
        .delete(app.url(&format!("/api/v1/tokens/{}", created["id"])))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    let res = app
        .client
        .get(app.url("/api/v1/plans"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    expect_problem(res, 401).await;
}
