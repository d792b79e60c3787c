//! Accounts: tokens act as their account with at most its role, disabling
//! stops an account at once, the last administrator stays, and tokens from
//! before accounts keep working.

use crate::helpers::*;
use serde_json::{Value, json};

/// Creates a person's account as admin; returns it with its sign-in link.
pub async fn create_account(app: &TestApp, email: &str, role: &str) -> Value {
    let res = app
        .client
        .post(app.url("/api/v1/accounts"))
        .bearer_auth(&app.admin)
        .json(&json!({"email": email, "name": format!("Person {email}"), "role": role, "language": "es"}))
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    body
}

/// Creates a token for `account_id` with `role`, as admin; returns the response.
pub async fn create_token(
    app: &TestApp,
    name: &str,
    role: &str,
    account_id: i64,
) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/tokens"))
        .bearer_auth(&app.admin)
        .json(&json!({"name": name, "role": role, "account_id": account_id}))
        .send()
        .await
        .unwrap()
}

pub async fn put_account(app: &TestApp, id: i64, changes: Value) -> reqwest::Response {
    let current: Value = app
        .client
        .get(app.url(&format!("/api/v1/accounts/{id}")))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut body = json!({
        "name": current["name"], "language": current["language"],
        "role": current["role"], "status": current["status"], "version": current["version"],
    });
    for (k, v) in changes.as_object().unwrap() {
        body[k] = v.clone();
    }
    app.client
        .put(app.url(&format!("/api/v1/accounts/{id}")))
        .bearer_auth(&app.admin)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn status_with(app: &TestApp, token: &str, method: reqwest::Method, path: &str) -> u16 {
    let mut req = app
        .client
        .request(method.clone(), app.url(path))
        .bearer_auth(token);
    if method == reqwest::Method::POST {
        req = req.json(&json!({"slug": "bizkaia", "name": "Bizkaia", "kind": "partner"}));
    }
    req.send().await.unwrap().status().as_u16()
}

async fn me(app: &TestApp, token: &str) -> Value {
    app.client
        .get(app.url("/api/v1/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_token_never_acts_above_its_account() {
    let app = spawn_app().await;
    let account = create_account(&app, "Ane@Example.org", "editor").await;
    assert_eq!(
        account["email"], "ane@example.org",
        "emails are stored lowercased"
    );
    assert!(account.get("password_hash").is_none());
    let id = account["id"].as_i64().unwrap();

    // Above the account's role: refused, naming the field.
    let res = create_token(&app, "ane-admin", "admin", id).await;
    let problem = expect_problem(res, 422).await;
    assert_eq!(problem["field"], "role");

    let created: Value = create_token(&app, "ane-laptop", "editor", id)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(created["account_id"], id);
    let token = created["secret"].as_str().unwrap().to_owned();
    assert_eq!(
        status_with(&app, &token, reqwest::Method::POST, "/api/v1/organisations").await,
        201
    );
    assert_eq!(me(&app, &token).await["effective_role"], "editor");
    // Deleting needs admin: the account is an editor.
    assert_eq!(
        status_with(
            &app,
            &token,
            reqwest::Method::DELETE,
            "/api/v1/organisations/1"
        )
        .await,
        403
    );

    // Demoting the account demotes its tokens at once, though the token was
    // created as an editor.
    let res = put_account(&app, id, json!({"role": "viewer"})).await;
    assert_eq!(res.status(), 200);
    let me_now = me(&app, &token).await;
    assert_eq!(me_now["effective_role"], "viewer");
    assert_eq!(me_now["account"]["role"], "viewer");
    assert_eq!(
        status_with(&app, &token, reqwest::Method::POST, "/api/v1/organisations").await,
        403
    );
    assert_eq!(
        status_with(&app, &token, reqwest::Method::GET, "/api/v1/organisations").await,
        200
    );

    // Promoting it back does not lift a token above its own role.
    put_account(&app, id, json!({"role": "admin"})).await;
    assert_eq!(me(&app, &token).await["effective_role"], "editor");

    // A duplicate email, whatever its case, is a conflict.
    let res = app
        .client
        .post(app.url("/api/v1/accounts"))
        .bearer_auth(&app.admin)
        .json(&json!({"email": "ANE@example.org", "name": "Other", "role": "viewer"}))
        .send()
        .await
        .unwrap();
    expect_problem(res, 409).await;
}

#[tokio::test]
async fn a_disabled_accounts_token_stops_at_once() {
    let app = spawn_app().await;
    let account = create_account(&app, "partner@example.org", "viewer").await;
    let id = account["id"].as_i64().unwrap();
    let token: Value = create_token(&app, "partner", "viewer", id)
        .await
        .json()
        .await
        .unwrap();
    let token = token["secret"].as_str().unwrap().to_owned();
    assert_eq!(
        status_with(&app, &token, reqwest::Method::GET, "/api/v1/plans").await,
        200
    );

    let res = put_account(&app, id, json!({"status": "disabled"})).await;
    assert_eq!(res.status(), 200);
    let res = app
        .client
        .get(app.url("/api/v1/plans"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    expect_problem(res, 401).await;

    // Enabled again, the token works again.
    put_account(&app, id, json!({"status": "active"})).await;
    assert_eq!(
        status_with(&app, &token, reqwest::Method::GET, "/api/v1/plans").await,
        200
    );
    // A disabled account cannot get new tokens.
    put_account(&app, id, json!({"status": "disabled"})).await;
    let problem = expect_problem(create_token(&app, "partner-2", "viewer", id).await, 422).await;
    assert_eq!(problem["field"], "account_id");
}

#[tokio::test]
async fn the_last_administrator_stays() {
    let app = spawn_app().await;
    let me_admin = me(&app, &app.admin).await;
    let admin_account = me_admin["account"]["id"].as_i64().unwrap();
    let admin_token = me_admin["token_id"].as_i64().unwrap();

    // The only admin token cannot revoke itself, nor its account be demoted
    // or disabled: each says why.
    let res = app
        .client
        .delete(app.url(&format!("/api/v1/tokens/{admin_token}")))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap();
    let problem = expect_problem(res, 409).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("this token is the last way in"),
        "{problem}"
    );
    for change in [json!({"role": "editor"}), json!({"status": "disabled"})] {
        let problem = expect_problem(put_account(&app, admin_account, change).await, 409).await;
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("last active administrator")
        );
    }
    assert_eq!(
        status_with(&app, &app.admin, reqwest::Method::GET, "/api/v1/tokens").await,
        200
    );

    // With a second administrator (a person, who can always sign in) both are allowed.
    create_account(&app, "secretariat@example.org", "admin").await;
    let res = put_account(&app, admin_account, json!({"role": "editor"})).await;
    assert_eq!(res.status(), 200);
    // The token is now an editor's: it can no longer revoke tokens.
    let res = app
        .client
        .delete(app.url(&format!("/api/v1/tokens/{admin_token}")))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap();
    expect_problem(res, 403).await;
}

#[tokio::test]
async fn an_admin_token_may_revoke_itself_when_another_admin_remains() {
    let app = spawn_app().await;
    let admin_token = me(&app, &app.admin).await["token_id"].as_i64().unwrap();
    let second = app
        .client
        .post(app.url("/api/v1/tokens"))
        .bearer_auth(&app.admin)
        .json(&json!({"name": "second-admin", "role": "admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 201);
    let second: Value = second.json().await.unwrap();
    let res = app
        .client
        .delete(app.url(&format!("/api/v1/tokens/{admin_token}")))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = app
        .client
        .get(app.url("/api/v1/plans"))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap();
    expect_problem(res, 401).await;
    // And now the second is the last one.
    let res = app
        .client
        .delete(app.url(&format!("/api/v1/tokens/{}", second["id"])))
        .bearer_auth(second["secret"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    expect_problem(res, 409).await;
}

/// Tokens created before accounts existed: migrate from the previous schema
/// with a live and a revoked token in it; the live one authenticates as a
/// built-in account named after it, with its role.
#[tokio::test]
async fn tokens_from_before_accounts_keep_working() {
    use pregon::db::{self, Db};
    let (url, _guard) = test_database();
    let db = Db::connect(&url, 1).unwrap();
    let mut conn = db.get().unwrap();
    // Up to the migration before accounts (versions are the names' digits).
    while let Some(version) = db::step_migration(&mut conn, true).unwrap() {
        if version == "20261127000001" {
            break;
        }
    }
    let secret = "pgn_before-accounts-secret-0123456789abcdefghijklmnop";
    let hash = pregon::domain::token::hash(secret);
    for (name, role, hash, revoked) in [
        ("comms-team", "editor", hash.as_str(), "NULL"),
        ("old-bot", "admin", "0000", "'2026-01-02 00:00:00'"),
    ] {
        diesel::connection::SimpleConnection::batch_execute(
            &mut *conn,
            &format!(
                "INSERT INTO api_tokens (name, role, token_hash, created_at, revoked_at) \
                 VALUES ('{name}', '{role}', '{hash}', '2026-01-01 10:00:00', {revoked})"
            ),
        )
        .unwrap();
    }
    db::run_migrations(&mut conn).unwrap();

    let now = chrono::Utc::now();
    let found = db::tokens::authenticate(&mut conn, secret, now)
        .unwrap()
        .expect("the old token still authenticates");
    assert_eq!(found.token.name, "comms-team");
    assert_eq!(found.token.role, pregon::domain::Role::Editor);
    assert_eq!(found.account_name, "comms-team");
    assert_eq!(found.account_role, pregon::domain::Role::Editor);
    let accounts = db::accounts::list(&mut conn).unwrap();
    let kinds: Vec<(String, String, String)> = accounts
        .iter()
        .map(|a| (a.kind.to_string(), a.name.clone(), a.status.to_string()))
        .collect();
    for expected in [
        ("token", "comms-team", "active"),
        ("token", "old-bot", "disabled"),
        ("seed", "seed", "active"),
        ("system", "system", "active"),
    ] {
        let expected = (expected.0.into(), expected.1.into(), expected.2.into());
        assert!(
            kinds.contains(&expected),
            "{expected:?} missing from {kinds:?}"
        );
    }
    let account = accounts.iter().find(|a| a.name == "comms-team").unwrap();
    assert_eq!(found.token.account_id, account.id);
}
