//! Benchmark helper for bench/report.sh: fills a SQLite database with a plan
//! of N activities in 2020 (done on time, late, cancelled with a reason in
//! the history, tentative, planned), ISSUES newsletter issues tied to
//! newsletter activities and SUBSCRIBERS readers each (ISSUES × SUBSCRIBERS
//! delivery records, some failed, bounced or followed by an unsubscription),
//! then times the progress report for 2020 in HTML and PDF.
//!
//!     cargo run --release --example report_data -- --database sqlite://x.db \
//!         --activities 10000 --issues 100 --subscribers 5000 --measure 3
//!
//! `--reuse` measures a database filled by an earlier run (for profiling:
//! `perf record -g target/release/examples/report_data --database … --reuse
//! --measure 3 --only pdf`); `--only html|pdf` times one format.

use chrono::{NaiveDate, TimeDelta, TimeZone, Utc};
use diesel::connection::SimpleConnection;
use pregon::app::history::{self, Action, Entry, FieldChange};
use pregon::app::{Actor, reports};
use pregon::db::{self, Db};
use pregon::domain::Language;
use pregon::domain::activity::ActivityInput;
use pregon::report::{self, Format};
use std::time::Instant;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn num(name: &str, default: usize) -> usize {
    arg(name).map(|n| n.parse().expect(name)).unwrap_or(default)
}

fn main() -> anyhow::Result<()> {
    let url = arg("--database").expect("--database sqlite://PATH");
    let activities = num("--activities", 1000);
    let issues = num("--issues", 100);
    let subscribers = num("--subscribers", 5000);
    let measure = num("--measure", 3);
    let db = Db::connect(&url, 2)?;
    let mut conn = db.get()?;
    db::run_migrations(&mut conn)?;
    let now = Utc.with_ymd_and_hms(2021, 1, 15, 9, 0, 0).unwrap();
    let started = Instant::now();
    if std::env::args().any(|a| a == "--reuse") {
        eprintln!("reusing the filled database");
    } else {
        db::write_transaction(&mut conn, |c| fill(c, activities, issues, subscribers, now))?;
        eprintln!("filled in {:.1} s", started.elapsed().as_secs_f64());
    }
    let only = arg("--only");
    let request = reports::Request {
        plan: "bench".into(),
        from: NaiveDate::from_ymd_opt(2020, 1, 1).unwrap(),
        to: NaiveDate::from_ymd_opt(2020, 12, 31).unwrap(),
        campaign: None,
        lang: Language::Es,
    };
    let mut line = format!(
        "activities={activities} issues={issues} deliveries={}",
        issues * subscribers
    );
    for format in [Format::Html, Format::Pdf] {
        if only.as_deref().is_some_and(|o| o != format.extension()) {
            continue;
        }
        let (mut times, mut render, mut cpu) = (Vec::new(), Vec::new(), Vec::new());
        let mut size = 0;
        for _ in 0..measure.max(1) {
            let (started, cpu_start) = (Instant::now(), cpu_ms());
            let built = reports::progress(&mut conn, &Actor::System, now, &request)?;
            let rendering = Instant::now();
            let bytes = report::render(&built, format)?;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            render.push(rendering.elapsed().as_secs_f64() * 1000.0);
            cpu.push(cpu_ms() - cpu_start);
            size = bytes.len();
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(|a, b| a.total_cmp(b));
            v[v.len() / 2]
        };
        let min = times.iter().copied().fold(f64::INFINITY, f64::min);
        line += &format!(
            " {ext}_median_ms={:.0} {ext}_min_ms={min:.0} {ext}_render_ms={:.0} {ext}_cpu_ms={:.0} {ext}_bytes={size}",
            median(&mut times),
            median(&mut render),
            median(&mut cpu),
            ext = format.extension()
        );
    }
    println!("{line}");
    Ok(())
}

/// CPU time of this process so far (user + system), in ms: on a loaded
/// machine it tells the work apart from the waiting. Linux ticks (100 Hz).
fn cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime is the
    // 12th, stime the 13th.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |n: usize| {
        fields
            .get(n)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (tick(11) + tick(12)) * 10.0
}

fn fill(
    c: &mut db::DbConnection,
    n: usize,
    issues: usize,
    subscribers: usize,
    now: chrono::DateTime<Utc>,
) -> pregon::Result<()> {
    let org = db::organisations::create(
        c,
        &serde_json::from_value(
            serde_json::json!({"slug": "bench", "name": "Bench", "kind": "community"}),
        )
        .unwrap(),
        now,
    )?
    .id;
    let plan = db::plans::create(
        c,
        &serde_json::from_value(serde_json::json!({
            "slug": "bench", "title": "Plan de difusión (benchmark)", "organisation_id": org,
            "periods": [{"name": "2020", "starts_on": "2020-01-01", "ends_on": "2020-12-31"}],
            "goals": [{"description": "Promover el estudio", "period": 0}]
        }))
        .unwrap(),
        now,
    )?;
    let period = plan.periods[0].id;
    let day0 = NaiveDate::from_ymd_opt(2020, 1, 1).unwrap();
    let newsletter_every = (n / issues.max(1)).max(1);
    let mut newsletter_activities = Vec::new();
    for i in 0..n {
        let day = day0 + TimeDelta::days((i % 366) as i64);
        let newsletter = i % newsletter_every == 0 && newsletter_activities.len() < issues;
        let (status, timing, actual) = match i % 10 {
            _ if newsletter => (
                "done",
                serde_json::json!({"precision": "days", "start": day.to_string()}),
                Some(day),
            ),
            0..=3 => (
                "done",
                serde_json::json!({"precision": "days", "start": day.to_string()}),
                Some(day),
            ),
            4 | 5 => (
                "done",
                serde_json::json!({"precision": "days", "start": day.to_string()}),
                Some(day + TimeDelta::days(4)),
            ),
            6 => (
                "cancelled",
                serde_json::json!({"precision": "days", "start": day.to_string()}),
                None,
            ),
            7 => ("tentative", serde_json::json!({"precision": "tbc"}), None),
            8 => (
                "planned",
                serde_json::json!({"precision": "month", "month": day.format("%Y-%m").to_string()}),
                None,
            ),
            _ => (
                "confirmed",
                serde_json::json!({"precision": "exact", "start": format!("{day}T10:00"), "end": format!("{day}T11:30"), "time_zone": "Europe/Madrid"}),
                None,
            ),
        };
        let kind = if newsletter {
            "newsletter_issue"
        } else if i % 3 == 0 {
            "event"
        } else {
            "social_post"
        };
        let mut input = serde_json::json!({
            "plan_id": plan.id, "period_id": period, "kind": kind, "status": status,
            "timing": timing, "place": {"name": "Bilbao"},
            "translations": {
                "en": {"title": format!("Activity {i}: smart governance and open data")},
                "es": {"title": format!("Actividad {i}: gobernanza inteligente y datos abiertos")}
            }
        });
        if let Some(a) = actual {
            input["actual"] = serde_json::json!({"start": a.to_string()});
        }
        let valid = serde_json::from_value::<ActivityInput>(input)
            .expect("valid input")
            .validate()?;
        let created = db::activities::create(c, &valid, now)?;
        let reason = (status == "cancelled").then_some("the partner withdrew");
        history::record(
            c,
            &Actor::Seed,
            now,
            Entry {
                entity: "activity",
                entity_id: created.id,
                action: if reason.is_some() {
                    Action::Updated
                } else {
                    Action::Created
                },
                changes: vec![FieldChange {
                    field: "status".into(),
                    before: if reason.is_some() {
                        "planned".into()
                    } else {
                        serde_json::Value::Null
                    },
                    after: status.into(),
                    personal: false,
                }],
                reason,
            },
        )?;
        if newsletter {
            newsletter_activities.push((created.id, day));
        }
    }
    // Readers, one list, and the issues with their delivery records.
    let ts = "'2020-01-01 00:00:00'";
    c.batch_execute(&format!(
        "INSERT INTO mailing_lists (slug, name, public_subscribe, default_language, version, created_at, updated_at) \
           VALUES ('bench', 'Bench', false, 'es', 1, {ts}, {ts}); \
         INSERT INTO subscribers (email, name, language, status, soft_bounces, version, created_at, updated_at) \
         SELECT 'r' || i || '@bulk.test', 'Reader ' || i, 'es', 'active', 0, 1, {ts}, {ts} \
         FROM (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {subscribers}) SELECT i FROM n) AS numbers; \
         INSERT INTO subscriptions (list_id, subscriber_id, status, source, requested_at, confirmed_at, created_at, updated_at) \
         SELECT (SELECT id FROM mailing_lists WHERE slug = 'bench'), id, 'confirmed', 'bench', {ts}, {ts}, {ts}, {ts} FROM subscribers;"
    ))?;
    for (n, (activity, day)) in newsletter_activities.iter().enumerate() {
        let started = format!("'{day} 10:00:00'");
        c.batch_execute(&format!(
            "INSERT INTO newsletter_issues (uid, name, activity_id, state, started_at, finished_at, version, created_at, updated_at) \
               VALUES ('bench-{n}', 'Issue {n}', {activity}, 'sent_with_failures', {started}, {started}, 1, {ts}, {ts}); \
             INSERT INTO newsletter_issue_lists (issue_id, list_id) \
               VALUES ((SELECT id FROM newsletter_issues WHERE uid = 'bench-{n}'), (SELECT id FROM mailing_lists WHERE slug = 'bench')); \
             INSERT INTO newsletter_issue_translations (issue_id, lang, subject, body_markdown) \
               VALUES ((SELECT id FROM newsletter_issues WHERE uid = 'bench-{n}'), 'es', 'Boletín {n}', 'Hola'); \
             INSERT INTO deliveries (kind, issue_id, subscriber_id, subscription_id, email, language, message_id, state, attempts, \
                                     next_attempt_at, sent_at, bounced_at, created_at, updated_at) \
             SELECT 'newsletter', (SELECT id FROM newsletter_issues WHERE uid = 'bench-{n}'), s.subscriber_id, s.id, \
                    'r' || s.subscriber_id || '@bulk.test', 'es', '<bench-{n}-' || s.id || '@pregon>', \
                    CASE WHEN s.id % 50 = 0 THEN 'failed' ELSE 'sent' END, 1, {started}, {started}, \
                    CASE WHEN s.id % 97 = 0 THEN {started} END, {started}, {started} \
             FROM subscriptions s;"
        ))?;
    }
    // Some readers leave: one in 200, after some issue.
    c.batch_execute(
        "UPDATE subscriptions SET status = 'unsubscribed', \
           unsubscribed_at = datetime('2020-01-01', '+' || (id % 360) || ' days') WHERE id % 200 = 0;",
    )?;
    Ok(())
}
