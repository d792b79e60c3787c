//! The real `pregon dispatch` process (which runs the job runner) publishing
//! a post to a Mastodon instance on loopback that creates the status and
//! then holds its answer: SIGKILLed mid-request, restarted, and the
//! instance holds exactly one status — the restart retries with the same
//! Idempotency-Key, which the instance answers with the status it made.

use crate::mail::*;
use crate::mastodon::{Instance, instance};
use chrono::{TimeDelta, Utc};
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const KEY: &str = crate::webhooks::KEY;

fn runner_process(mail: &Mail) -> Child {
    Command::new(env!("CARGO_BIN_EXE_pregon"))
        .args(["dispatch", "--exit-when-idle"])
        .env("PREGON_ENV", "process-test")
        .env("PREGON__DATABASE__URL", &mail.app.settings.database.url)
        .env("PREGON__DATABASE__POOL_SIZE", "4")
        .env("PREGON__SERVER__PUBLIC_URL", "https://pregon.test")
        .env("PREGON__EMAIL__TRANSPORT", "smtp")
        .env("PREGON__EMAIL__FROM_ADDRESS", FROM)
        .env("PREGON__EMAIL__SMTP__HOST", "127.0.0.1")
        .env("PREGON__EMAIL__SMTP__PORT", mail.smtp.port().to_string())
        .env("PREGON__EMAIL__SMTP__TLS", "none")
        .env("PREGON__EMAIL__POLL_INTERVAL_MS", "50")
        .env("PREGON__EMAIL__HEARTBEAT_SECS", "1")
        .env("PREGON__JOBS__HEARTBEAT_SECS", "1")
        .env("PREGON__WEBHOOKS__ALLOW_PRIVATE", "true")
        .env("PREGON__WEBHOOKS__TIMEOUT_SECS", "30")
        .env("PREGON__CREDENTIALS__KEY", KEY)
        .env("PREGON__LOG__FILTER", "warn")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start pregon dispatch")
}

async fn wait_until(what: &str, limit: Duration, condition: impl Fn() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn sigkill_mid_publish_then_restart_makes_exactly_one_status() {
    let mail = spawn_mail_app_with(|s| {
        s.webhooks.allow_private = true;
        s.credentials.key = pregon::email::Secret::new(KEY);
    })
    .await;
    let app = &mail.app;
    let f = crate::activities::fixture(app).await;
    // The first POST creates the status, then answers only after 4 s.
    let state = Arc::new(Mutex::new(Instance {
        script: vec!["slow"],
        ..Instance::default()
    }));
    let url = Arc::new(Mutex::new(String::new()));
    let server = instance(state.clone(), url.clone());
    *url.lock().unwrap() = server.url.clone();
    let channel = app
        .create(
            "/api/v1/channels",
            json!({"slug": "masto", "kind": "social", "name": "Mastodon", "organisation_id": f.org}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let res = app
        .client
        .post(app.url("/api/v1/channel-accounts"))
        .bearer_auth(&app.admin)
        .json(&json!({"network": "mastodon", "base_url": server.url, "secret": "tok-secret", "channel_id": channel}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    // Due ten minutes ago by the real clock, which the process runs on.
    let start = Utc::now() - TimeDelta::minutes(10);
    let id = app
        .create(
            "/api/v1/activities",
            json!({
                "plan_id": f.plan,
                "kind": "social_post",
                "status": "planned",
                "timing": {"precision": "exact", "start": start.format("%Y-%m-%dT%H:%M").to_string(),
                           "end": (start + TimeDelta::minutes(30)).format("%Y-%m-%dT%H:%M").to_string(),
                           "time_zone": "UTC"},
                "channel_ids": [channel],
                "translations": {"es": {"title": "Lanzamiento"}},
                "post_variants": [{"channel_id": channel, "lang": "es", "body": "¡El estudio ya está aquí! 🎉"}],
            }),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    app.approve(&format!("/api/v1/activities/{id}")).await;

    let mut first = runner_process(&mail);
    wait_until("the status is created", Duration::from_secs(120), || {
        state.lock().unwrap().statuses.len() == 1
    })
    .await;
    first.kill().unwrap(); // SIGKILL while the instance holds its answer
    first.wait().unwrap();
    let variants = app
        .get_json(&format!("/api/v1/activities/{id}/variants"))
        .await;
    assert_eq!(variants[0]["publication"]["state"], "queued", "{variants}");

    let mut second = runner_process(&mail);
    let status = tokio::task::spawn_blocking(move || second.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "the restarted runner exits when idle");
    {
        let s = state.lock().unwrap();
        assert_eq!(s.statuses.len(), 1, "exactly one status: {:?}", s.statuses);
    }
    let posts = server.to("/api/v1/statuses");
    assert_eq!(
        posts.len(),
        2,
        "the killed attempt and the one after restart"
    );
    assert_eq!(
        posts[0].header("idempotency-key"),
        posts[1].header("idempotency-key"),
        "the same Idempotency-Key after the restart"
    );
    let variants = app
        .get_json(&format!("/api/v1/activities/{id}/variants"))
        .await;
    assert_eq!(
        variants[0]["publication"]["state"], "published",
        "{variants}"
    );
    assert_eq!(
        variants[0]["publication"]["url"],
        format!("{}/@pregon/1", server.url)
    );
}
