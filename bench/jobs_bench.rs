//! `bench/jobs.sh`: N webhook jobs due at once against a loopback receiver,
//! run by one job runner and then by two (on PostgreSQL), and, as the
//! baseline in the same run, the same N signed POSTs sent straight from a
//! loop at the same concurrency without the job table. Prints jobs/s and
//! the delay from the due time to the request's arrival (p50/p95).
//!
//! Usage: cargo run --example jobs_bench -- DATABASE_URL N

use chrono::Utc;
use pregon::app::webhooks::{self, Rules};
use pregon::clock::{SharedClock, SystemClock};
use pregon::config::Settings;
use pregon::db::{self, Db};
use pregon::domain::webhook::{EventType, WebhookInput};
use pregon::jobs::{self, Runner};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

type Arrivals = Arc<Mutex<HashMap<String, chrono::DateTime<Utc>>>>;

fn receiver() -> (u16, Arrivals) {
    let arrivals: Arrivals = Arc::new(Mutex::new(HashMap::new()));
    let seen = arrivals.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = actix_web::HttpServer::new(move || {
        let seen = seen.clone();
        actix_web::App::new().default_service(actix_web::web::to(
            move |req: actix_web::HttpRequest| {
                let seen = seen.clone();
                async move {
                    let id = req
                        .headers()
                        .get("webhook-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned();
                    seen.lock().unwrap().entry(id).or_insert_with(Utc::now);
                    actix_web::HttpResponse::NoContent().finish()
                }
            },
        ))
    })
    .workers(2)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    (port, arrivals)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn report(name: &str, n: usize, elapsed: f64, delays: &mut [f64]) {
    delays.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "{name}: {n} in {elapsed:.2} s = {:.0}/s; delay p50 {:.3} s, p95 {:.3} s",
        n as f64 / elapsed,
        percentile(delays, 0.5),
        percentile(delays, 0.95)
    );
}

async fn run_jobs(settings: &Settings, db: &Db, runners: usize, n: usize, arrivals: &Arrivals) {
    arrivals.lock().unwrap().clear();
    let now = Utc::now();
    db.transaction(move |c| {
        for _ in 0..n {
            webhooks::emit(
                c,
                now,
                EventType::PostPublished,
                serde_json::json!({"n": 1}),
            )?;
        }
        Ok(())
    })
    .await
    .unwrap();
    let due = Utc::now();
    let clock: SharedClock = Arc::new(SystemClock);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..runners {
        let handlers = jobs::standard_handlers(settings, db, &clock).unwrap();
        let runner =
            Runner::new(db.clone(), clock.clone(), settings.jobs.clone(), handlers).unwrap();
        tasks.push(tokio::spawn(
            async move { runner.run_once().await.unwrap() },
        ));
    }
    let mut done = 0;
    for t in tasks {
        done += t.await.unwrap().done;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let mut delays: Vec<f64> = arrivals
        .lock()
        .unwrap()
        .values()
        .map(|at| (*at - due).num_microseconds().unwrap_or(0) as f64 / 1e6)
        .collect();
    assert_eq!(done, n, "every job done");
    report(
        &format!("jobs, {runners} runner(s)"),
        n,
        elapsed,
        &mut delays,
    );
}

async fn baseline(settings: &Settings, port: u16, n: usize, arrivals: &Arrivals) {
    arrivals.lock().unwrap().clear();
    let client = reqwest::Client::builder().build().unwrap();
    let url = format!("http://127.0.0.1:{port}/hook");
    let secret = pregon::jobs::webhook::new_secret();
    let due = Utc::now();
    let start = Instant::now();
    let ids: Vec<String> = (0..n).map(|i| format!("msg_base{i}")).collect();
    use futures_util::StreamExt;
    futures_util::stream::iter(ids)
        .map(|id| {
            let (client, url, secret) = (client.clone(), url.clone(), secret.clone());
            async move {
                let body = r#"{"type":"post.published","data":{"n":1}}"#;
                let ts = Utc::now().timestamp();
                let sig = pregon::jobs::webhook::sign(&[secret], &id, ts, body);
                client
                    .post(url)
                    .header("webhook-id", id)
                    .header("webhook-timestamp", ts.to_string())
                    .header("webhook-signature", sig)
                    .body(body)
                    .send()
                    .await
                    .unwrap();
            }
        })
        .buffer_unordered(settings.jobs.concurrency as usize)
        .collect::<Vec<_>>()
        .await;
    let elapsed = start.elapsed().as_secs_f64();
    let mut delays: Vec<f64> = arrivals
        .lock()
        .unwrap()
        .values()
        .map(|at| (*at - due).num_microseconds().unwrap_or(0) as f64 / 1e6)
        .collect();
    report(
        "baseline (direct POSTs, no job table)",
        n,
        elapsed,
        &mut delays,
    );
}

#[tokio::main]
async fn main() {
    // Warnings and errors of the runner (a failed claim, a retried write) show.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().collect();
    let url = args.get(1).expect("DATABASE_URL").clone();
    let n: usize = args.get(2).map(|s| s.parse().unwrap()).unwrap_or(10_000);
    let mut settings = Settings::defaults();
    settings.database.url = url.clone();
    settings.webhooks.allow_private = true;
    settings.credentials.key = pregon::email::Secret::new("42".repeat(32));
    let db = Db::connect(&url, 16).unwrap();
    db::run_migrations(&mut db.get().unwrap()).unwrap();
    let (port, arrivals) = receiver();
    let rules = Rules::from_settings(&settings).unwrap();
    let now = Utc::now();
    let input = WebhookInput {
        url: format!("http://127.0.0.1:{port}/hook"),
        event_types: vec![EventType::PostPublished],
        description: None,
        enabled: None,
    };
    db.transaction(move |c| {
        let cx = pregon::app::Context::new(pregon::app::Actor::System, now);
        webhooks::create(c, &cx, &rules, &input)
    })
    .await
    .unwrap();
    println!(
        "concurrency {} per runner, database {}",
        settings.jobs.concurrency,
        db.backend().name()
    );
    baseline(&settings, port, n, &arrivals).await;
    run_jobs(&settings, &db, 1, n, &arrivals).await;
    if db.backend() == pregon::db::Backend::Postgres {
        run_jobs(&settings, &db, 2, n, &arrivals).await;
    }
}
