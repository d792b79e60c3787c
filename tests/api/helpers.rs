use chrono::{TimeZone, Utc};
use diesel::Connection;
use pregon::app::Actor;
use pregon::clock::ManualClock;
use pregon::config::Settings;
use pregon::db::{self, Backend, Db};
use pregon::domain::Role;
use pregon::domain::token::TokenInput;
use pregon::http::Application;
use serde_json::Value;
use std::sync::Arc;

/// A running server with its own database, and a token for each role.
pub struct TestApp {
    pub address: String,
    pub db: Db,
    pub clock: ManualClock,
    pub admin: String,
    pub editor: String,
    pub viewer: String,
    /// An approver token (an editor who may also approve).
    pub approver: String,
    pub client: reqwest::Client,
    /// The settings the server runs with.
    pub settings: Settings,
    _database: TestDatabase,
}

/// The database of one test: a temporary SQLite file, or a fresh PostgreSQL
/// database dropped when the test ends.
pub enum TestDatabase {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let TestDatabase::Postgres { admin_url, name } = self
            && let Ok(mut conn) = diesel::pg::PgConnection::establish(admin_url)
        {
            use diesel::connection::SimpleConnection;
            let _ = conn.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
        }
    }
}

/// A database URL for one test, and what to clean up after it.
pub fn test_database() -> (String, TestDatabase) {
    match std::env::var("PREGON_TEST_DATABASE_URL") {
        Ok(admin_url) if !admin_url.is_empty() => {
            use diesel::connection::SimpleConnection;
            let name = format!("pregon_t_{}", uuid::Uuid::new_v4().simple());
            let mut conn = diesel::pg::PgConnection::establish(&admin_url)
                .expect("PREGON_TEST_DATABASE_URL must point at a reachable PostgreSQL");
            conn.batch_execute(&format!("CREATE DATABASE \"{name}\""))
                .expect("create test database");
            let url = match admin_url.rfind('/') {
                Some(slash)
                    if admin_url[..slash].contains("://")
                        && slash > admin_url.find("://").unwrap() + 2 =>
                {
                    let rest = &admin_url[slash + 1..];
                    let query = rest.find('?').map(|q| &rest[q..]).unwrap_or("");
                    format!("{}/{name}{query}", &admin_url[..slash])
                }
                _ => panic!("PREGON_TEST_DATABASE_URL must end with /DATABASE"),
            };
            (url, TestDatabase::Postgres { admin_url, name })
        }
        _ => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}", dir.path().join("pregon.db").display());
            (url, TestDatabase::Sqlite(dir))
        }
    }
}

pub fn backend() -> Backend {
    match std::env::var("PREGON_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Backend::Postgres,
        _ => Backend::Sqlite,
    }
}

pub fn test_settings() -> Settings {
    let mut settings = Settings::defaults();
    settings.server.bind = "127.0.0.1:0".into();
    settings.database.pool_size = 4;
    settings
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_seeded_app() -> TestApp {
    let app = spawn_app().await;
    let now = app.clock_now();
    app.db
        .transaction(move |c| pregon::seed::load_2020_plan(c, now))
        .await
        .expect("seed");
    app
}

pub async fn spawn_app_with(customise: impl FnOnce(&mut Settings)) -> TestApp {
    let (url, guard) = test_database();
    let mut settings = test_settings();
    settings.database.url = url.clone();
    customise(&mut settings);
    let db = Db::connect(&url, settings.database.pool_size).expect("connect");
    db::run_migrations(&mut db.get().expect("connection")).expect("migrate");
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 1, 15, 9, 0, 0).unwrap());
    let mut tokens = Vec::new();
    // Each token gets a built-in account of its own with the token's role.
    for role in [Role::Admin, Role::Editor, Role::Viewer, Role::Approver] {
        let input = TokenInput {
            name: pregon::domain::Name::parse(&format!("test-{role}")).unwrap(),
            role,
            account_id: None,
        };
        let now = pregon::clock::Clock::now(&clock);
        let created = db
            .transaction(move |c| pregon::app::tokens::create(&Actor::System, now, c, &input))
            .await
            .expect("token");
        tokens.push(created.secret);
    }
    let app = Application::build(settings.clone(), db.clone(), Arc::new(clock.clone()))
        .expect("build app");
    let address = format!("http://127.0.0.1:{}", app.port());
    // The settings as the server runs with them (an unset public URL is derived).
    settings.server.public_url = app.public_url().to_owned();
    tokio::spawn(app.run_until_stopped());
    let [admin, editor, viewer, approver]: [String; 4] = tokens.try_into().unwrap();
    TestApp {
        address,
        db,
        clock,
        admin,
        editor,
        viewer,
        approver,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // Below the server's 5 s keep-alive: a connection idle while a test
            // runs a validator is dropped here before the server closes it, so a
            // request never goes out on a connection being closed.
            .pool_idle_timeout(std::time::Duration::from_secs(2))
            .build()
            .unwrap(),
        settings,
        _database: guard,
    }
}

impl TestApp {
    pub fn clock_now(&self) -> chrono::DateTime<Utc> {
        pregon::clock::Clock::now(&self.clock)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(self.url(path)).bearer_auth(&self.viewer)
    }

    pub fn post(&self, path: &str, body: &Value) -> reqwest::RequestBuilder {
        self.client
            .post(self.url(path))
            .bearer_auth(&self.editor)
            .json(body)
    }

    pub fn put(&self, path: &str, body: &Value) -> reqwest::RequestBuilder {
        self.client
            .put(self.url(path))
            .bearer_auth(&self.editor)
            .json(body)
    }

    pub fn delete(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.delete(self.url(path)).bearer_auth(&self.admin)
    }

    /// POSTs as editor and returns the created record, failing the test otherwise.
    pub async fn create(&self, path: &str, body: Value) -> Value {
        let res = self.post(path, &body).send().await.unwrap();
        let status = res.status();
        let json: Value = res.json().await.unwrap();
        assert_eq!(status, 201, "POST {path} {body}: {json}");
        json
    }

    /// Sends a record (`/api/v1/activities/7`, `/api/v1/issues/3`) for review as
    /// the editor and approves it as the admin (someone else, as four-eyes wants).
    pub async fn approve(&self, record: &str) -> Value {
        let review = format!("{record}/review");
        let res = self
            .post(&review, &serde_json::json!({"action": "submit"}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            200,
            "submit {record}: {}",
            res.text().await.unwrap()
        );
        let res = self
            .client
            .post(self.url(&review))
            .bearer_auth(&self.admin)
            .json(&serde_json::json!({"action": "approve"}))
            .send()
            .await
            .unwrap();
        let status = res.status();
        let json: Value = res.json().await.unwrap();
        assert_eq!(status, 200, "approve {record}: {json}");
        json
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let res = self.get(path).send().await.unwrap();
        let status = res.status();
        let json: Value = res.json().await.unwrap();
        assert_eq!(status, 200, "GET {path}: {json}");
        json
    }
}

/// Asserts a response is an RFC 9457 problem with this status, and returns it.
pub async fn expect_problem(res: reqwest::Response, status: u16) -> Value {
    assert_eq!(res.status(), status, "unexpected status");
    let content_type = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], status);
    assert!(
        body["type"]
            .as_str()
            .unwrap()
            .starts_with("urn:pregon:problem:")
    );
    assert!(body["title"].is_string());
    body
}

/// The start and end (`%Y-%m-%dT%H:%M`, UTC) of a half-hour slot beginning
/// an hour after the test clock's now: when the social posts are due.
pub fn an_hour_from_now(app: &TestApp) -> (String, String) {
    let at = app.clock_now() + chrono::TimeDelta::hours(1);
    let end = app.clock_now() + chrono::TimeDelta::minutes(90);
    (
        at.format("%Y-%m-%dT%H:%M").to_string(),
        end.format("%Y-%m-%dT%H:%M").to_string(),
    )
}
