//! Shared setup for the newsletter tests: a running API, the in-process SMTP
//! server on loopback, and a dispatcher driven one step at a time on the
//! test's manual clock.

use crate::helpers::*;
use crate::smtp_server::{ReceivedMessage, TestSmtpServer};
use pregon::config::{Settings, TransportKind};
use pregon::dispatch::{Dispatcher, Step};
use pregon::email::{MailTransport, TlsMode};
use serde_json::{Value, json};
use std::sync::Arc;

pub struct Mail {
    pub app: TestApp,
    pub smtp: TestSmtpServer,
    pub dispatcher: Arc<Dispatcher>,
}

pub const FROM: &str = "boletin@pregon.test";

/// Points the email settings at a test SMTP server.
pub fn mail_settings(settings: &mut Settings, smtp_port: u16) {
    settings.server.public_url = "https://pregon.test".into();
    settings.email.transport = TransportKind::Smtp;
    settings.email.from_address = FROM.into();
    settings.email.from_name = "UCLG Digital Cities".into();
    settings.email.postal_address = "Plaza Ernesto Erkoreka 1\n48007 Bilbao".into();
    settings.email.smtp.host = "127.0.0.1".into();
    settings.email.smtp.port = smtp_port;
    settings.email.smtp.tls = TlsMode::None;
    settings.email.smtp.timeout_secs = 5;
    settings.email.smtp.hello_name = "pregon.test".into();
    settings.email.retry_base_secs = 60;
    settings.email.retry_max_secs = 600;
}

pub async fn spawn_mail_app() -> Mail {
    spawn_mail_app_with(|_| {}).await
}

pub async fn spawn_mail_app_with(customise: impl FnOnce(&mut Settings)) -> Mail {
    let smtp = TestSmtpServer::start().await;
    let port = smtp.port();
    let app = spawn_app_with(|s| {
        mail_settings(s, port);
        customise(s);
    })
    .await;
    // As the service builds it (DKIM signing included when configured).
    let transport: Arc<dyn MailTransport> =
        pregon::dispatch::transport_from_settings(&app.settings.email).unwrap();
    let dispatcher = Dispatcher::new(
        app.db.clone(),
        Arc::new(app.clock.clone()),
        transport,
        app.settings.email.clone(),
        &app.settings.server.public_url,
    );
    Mail {
        app,
        smtp,
        dispatcher,
    }
}

impl Mail {
    /// One dispatcher step: everything due now is sent and recorded.
    pub async fn run(&self) -> Step {
        self.dispatcher.run_once().await.expect("dispatcher step")
    }

    pub async fn list(&self, slug: &str) -> i64 {
        self.app
            .create(
                "/api/v1/lists",
                json!({"slug": slug, "name": format!("List {slug}"), "public_subscribe": true, "default_language": "es"}),
            )
            .await["id"]
            .as_i64()
            .unwrap()
    }

    /// A subscriber whose consent was obtained elsewhere (confirmed).
    pub async fn confirmed(&self, list: i64, email: &str, name: &str, language: &str) -> i64 {
        self.app
            .create(
                "/api/v1/subscribers",
                json!({"email": email, "name": name, "language": language, "list_ids": [list],
                       "status": "confirmed", "source": "signed up at the 2019 Congress"}),
            )
            .await["id"]
            .as_i64()
            .unwrap()
    }

    /// A newsletter issue in two languages, approved.
    pub async fn issue(&self, lists: &[i64], activity: Option<i64>) -> i64 {
        let id = self
            .app
            .create(
                "/api/v1/issues",
                json!({
                    "name": "Smart Cities Study launch",
                    "activity_id": activity,
                    "list_ids": lists,
                    "translations": {
                        "es": {"subject": "Lanzamiento del estudio, {{name}}", "body": "# Hola {{name}}\n\nYa está aquí el **Estudio de Ciudades Inteligentes**.\n\n[Darse de baja]({{unsubscribe_url}})"},
                        "en": {"subject": "The study is out, {{name}}", "body": "# Hello {{name}}\n\nThe **Smart Cities Study** is here."}
                    }
                }),
            )
            .await["id"]
            .as_i64()
            .unwrap();
        self.app.approve(&format!("/api/v1/issues/{id}")).await;
        id
    }

    pub async fn send(&self, issue: i64) -> Value {
        let res = self
            .app
            .post(&format!("/api/v1/issues/{issue}/send"), &json!({}))
            .send()
            .await
            .unwrap();
        let status = res.status();
        let body: Value = res.json().await.unwrap();
        assert_eq!(status, 202, "{body}");
        body
    }

    pub async fn action(&self, issue: i64, action: &str) -> Value {
        let res = self
            .app
            .post(&format!("/api/v1/issues/{issue}/{action}"), &json!({}))
            .send()
            .await
            .unwrap();
        let status = res.status();
        let body: Value = res.json().await.unwrap();
        assert_eq!(status, 200, "{action}: {body}");
        body
    }

    pub async fn progress(&self, issue: i64) -> Value {
        self.app
            .get_json(&format!("/api/v1/issues/{issue}/progress"))
            .await
    }

    /// Accepted messages whose envelope goes to `email`.
    pub fn received_by(&self, email: &str) -> Vec<ReceivedMessage> {
        self.smtp
            .messages()
            .into_iter()
            .filter(|m| m.rcpt_to.iter().any(|r| r == email))
            .collect()
    }

    /// Accepted newsletter messages (not confirmations) per recipient.
    pub fn newsletter_counts(&self) -> std::collections::BTreeMap<String, usize> {
        let mut counts = std::collections::BTreeMap::new();
        for m in self.smtp.messages() {
            let parsed = mail_parser::MessageParser::default()
                .parse(&m.data[..])
                .unwrap();
            if parsed.header("List-Unsubscribe").is_some() {
                *counts.entry(m.rcpt_to[0].clone()).or_insert(0) += 1;
            }
        }
        counts
    }
}

/// Inserts `n` confirmed subscribers on `list` in two statements (both
/// backends understand the recursive CTE): r1@bulk.test … rN@bulk.test.
pub fn bulk_subscribers(app: &TestApp, list: i64, n: usize) {
    use diesel::connection::SimpleConnection;
    let mut conn = app.db.get().unwrap();
    let ts = "'2026-01-01 00:00:00'";
    conn.batch_execute(&format!(
        "INSERT INTO subscribers (email, name, language, status, soft_bounces, version, created_at, updated_at) \
         SELECT 'r' || i || '@bulk.test', 'Recipient ' || i, \
                CASE i % 3 WHEN 0 THEN 'es' WHEN 1 THEN 'en' ELSE 'fr' END, 'active', 0, 1, {ts}, {ts} \
         FROM (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n}) SELECT i FROM n) AS numbers; \
         INSERT INTO subscriptions (list_id, subscriber_id, status, source, requested_at, confirmed_at, created_at, updated_at) \
         SELECT {list}, id, 'confirmed', 'bulk test', {ts}, {ts}, {ts}, {ts} FROM subscribers WHERE email LIKE '%@bulk.test';"
    ))
    .unwrap();
}
