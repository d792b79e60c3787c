//! `bench/jobs.sh`: N webhook jobs due at once against a loopback receiver,
//! run by one job runner and then by two (on PostgreSQL), and, as the
//! baseline in the same run, the same N signed POSTs sent straight from a
//! loop at the same concurrency without the job table. Prints jobs/s and
//! the delay from the due time to the request's arrival (p50/p95).
//!
//! On PostgreSQL two runners run twice: two in this process, and one in
//! each of two child processes (this program again, `--runner`), which is
//! what an install with two `pregon dispatch` would run. Each line also
//! gives the CPU time per job of the processes that ran the jobs (the
//! receiver's included for the runners in this process; the database
//! server's not included).
//!
//! Usage: cargo run --example jobs_bench -- DATABASE_URL N

// The allocator of the `pregon` binary, so the runner allocates as it does
// in an install.
#[cfg(all(target_os = "linux", not(target_env = "musl")))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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

/// CPU seconds (user + system) this process has used so far, from
/// /proc/self/stat (clock ticks of 1/100 s, as on every Linux build).
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name (which may hold spaces) in ")".
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15; `fields` starts at field 3.
    (ticks(11) + ticks(12)) / 100.0
}

fn report(name: &str, n: usize, elapsed: f64, cpu: f64, delays: &mut [f64]) {
    delays.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "{name}: {n} in {elapsed:.2} s = {:.0}/s; delay p50 {:.3} s, p95 {:.3} s, \
         last {:.3} s; CPU {:.0} µs/job",
        n as f64 / elapsed,
        percentile(delays, 0.5),
        percentile(delays, 0.95),
        delays.last().copied().unwrap_or(0.0),
        cpu / n as f64 * 1e6
    );
}

fn delays_since(arrivals: &Arrivals, due: chrono::DateTime<Utc>) -> Vec<f64> {
    arrivals
        .lock()
        .unwrap()
        .values()
        .map(|at| (*at - due).num_microseconds().unwrap_or(0) as f64 / 1e6)
        .collect()
}

async fn enqueue(db: &Db, n: usize) -> chrono::DateTime<Utc> {
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
    Utc::now()
}

fn bench_settings(url: &str) -> Settings {
    let mut settings = Settings::defaults();
    settings.database.url = url.to_owned();
    settings.webhooks.allow_private = true;
    settings.credentials.key = pregon::email::Secret::new("42".repeat(32));
    settings
}

fn runner(settings: &Settings, db: &Db) -> Arc<Runner> {
    let clock: SharedClock = Arc::new(SystemClock);
    let handlers = jobs::standard_handlers(settings, db, &clock).unwrap();
    Runner::new(db.clone(), clock, settings.jobs.clone(), handlers).unwrap()
}

/// `runners` runners in this process.
async fn run_jobs(settings: &Settings, db: &Db, runners: usize, n: usize, arrivals: &Arrivals) {
    arrivals.lock().unwrap().clear();
    let due = enqueue(db, n).await;
    let (start, cpu) = (Instant::now(), cpu_secs());
    let mut tasks = Vec::new();
    for _ in 0..runners {
        let runner = runner(settings, db);
        tasks.push(tokio::spawn(
            async move { runner.run_once().await.unwrap() },
        ));
    }
    let mut done = 0;
    for t in tasks {
        done += t.await.unwrap().done;
    }
    let (elapsed, cpu) = (start.elapsed().as_secs_f64(), cpu_secs() - cpu);
    assert_eq!(done, n, "every job done");
    report(
        &format!("jobs, {runners} runner(s) in one process"),
        n,
        elapsed,
        cpu,
        &mut delays_since(arrivals, due),
    );
}

/// One runner in each of `runners` child processes (this program with
/// `--runner`): each gets ready, waits for a line on its input, runs one
/// step and prints how many jobs it did and its CPU seconds.
async fn run_processes(url: &str, db: &Db, runners: usize, n: usize, arrivals: &Arrivals) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    arrivals.lock().unwrap().clear();
    let me = std::env::current_exe().unwrap();
    let mut children = Vec::new();
    for _ in 0..runners {
        let mut child = tokio::process::Command::new(&me)
            .args(["--runner", url])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
        assert_eq!(out.next_line().await.unwrap().as_deref(), Some("ready"));
        children.push((child, out));
    }
    let due = enqueue(db, n).await;
    let start = Instant::now();
    for (child, _) in &mut children {
        let stdin = child.stdin.as_mut().unwrap();
        stdin.write_all(b"go\n").await.unwrap();
        stdin.flush().await.unwrap();
    }
    let (mut done, mut cpu) = (0, 0.0);
    for (mut child, mut out) in children {
        let line = out.next_line().await.unwrap().expect("the runner's result");
        let (d, c) = line.split_once(' ').unwrap();
        done += d.parse::<usize>().unwrap();
        cpu += c.parse::<f64>().unwrap();
        assert!(child.wait().await.unwrap().success());
    }
    let elapsed = start.elapsed().as_secs_f64();
    assert_eq!(done, n, "every job done");
    report(
        &format!("jobs, {runners} runner(s) in {runners} processes"),
        n,
        elapsed,
        cpu,
        &mut delays_since(arrivals, due),
    );
}

/// The child of `run_processes`.
async fn child_runner(url: &str) {
    use std::io::BufRead;
    let settings = bench_settings(url);
    let db = Db::connect(url, 16).unwrap();
    let runner = runner(&settings, &db);
    println!("ready");
    let mut line = String::new();
    tokio::task::spawn_blocking(move || std::io::stdin().lock().read_line(&mut line))
        .await
        .unwrap()
        .unwrap();
    let cpu = cpu_secs();
    let step = runner.run_once().await.unwrap();
    println!("{} {}", step.done, cpu_secs() - cpu);
}

async fn baseline(settings: &Settings, port: u16, n: usize, arrivals: &Arrivals) {
    arrivals.lock().unwrap().clear();
    let client = reqwest::Client::builder().build().unwrap();
    let url = format!("http://127.0.0.1:{port}/hook");
    let secret = pregon::jobs::webhook::new_secret();
    let due = Utc::now();
    let (start, cpu) = (Instant::now(), cpu_secs());
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
    let (elapsed, cpu) = (start.elapsed().as_secs_f64(), cpu_secs() - cpu);
    report(
        "baseline (direct POSTs, no job table)",
        n,
        elapsed,
        cpu,
        &mut delays_since(arrivals, due),
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
    if args.get(1).map(String::as_str) == Some("--runner") {
        child_runner(args.get(2).expect("DATABASE_URL")).await;
        return;
    }
    let url = args.get(1).expect("DATABASE_URL").clone();
    let n: usize = args.get(2).map(|s| s.parse().unwrap()).unwrap_or(10_000);
    let settings = bench_settings(&url);
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
        run_processes(&url, &db, 2, n, &arrivals).await;
    }
}
