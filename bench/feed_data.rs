//! Benchmark helper for bench/feeds.sh: fills a database with a plan of N
//! public activities, and measures uncached feed generation.
//!
//!     cargo run --release --example feed_data -- --database sqlite://x.db --events 500
//!     cargo run --release --example feed_data -- --database sqlite://y.db --events 10000 --measure 5

use chrono::{NaiveDate, TimeDelta, Utc};
use pregon::calendar::publish::{Publisher, Target};
use pregon::config::Settings;
use pregon::db::{self, Db};
use pregon::domain::activity::ActivityInput;
use std::time::Instant;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() -> anyhow::Result<()> {
    let url = arg("--database").expect("--database URL");
    let events: usize = arg("--events").expect("--events N").parse()?;
    let measure: usize = arg("--measure")
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(0);
    let db = Db::connect(&url, 2)?;
    let mut conn = db.get()?;
    db::run_migrations(&mut conn)?;
    let now = Utc::now();
    db::write_transaction(&mut conn, |c| fill(c, events, now))?;
    drop(conn);
    if measure == 0 {
        return Ok(());
    }
    let settings = Settings::defaults();
    let runtime = tokio::runtime::Runtime::new()?;
    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..measure {
        // A new publisher has an empty cache: every run is a full build.
        let publisher = Publisher::new(settings.feeds.clone(), "http://127.0.0.1");
        let started = Instant::now();
        let rendered = runtime.block_on(publisher.render(&db, now, Target::Public, None, None))?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        size = rendered.body.len();
    }
    times.sort_by(|a, b| a.total_cmp(b));
    println!(
        "events={events} bytes={size} median_ms={:.1} min_ms={:.1}",
        times[times.len() / 2],
        times[0]
    );
    Ok(())
}

/// A plan whose activities look like a real one's: exact times in several zones,
/// whole days, months, undated ones, and monthly series with exceptions.
fn fill(c: &mut db::DbConnection, events: usize, now: chrono::DateTime<Utc>) -> pregon::Result<()> {
    let json =
        |v: serde_json::Value| serde_json::from_value::<ActivityInput>(v).expect("valid input");
    let org = match db::organisations::find_by_slug(c, "bench")? {
        Some(o) => o.id,
        None => {
            db::organisations::create(
                c,
                &serde_json::from_value(
                    serde_json::json!({"slug": "bench", "name": "Bench", "kind": "community"}),
                )
                .unwrap(),
                now,
            )?
            .id
        }
    };
    let plan = db::plans::create(
        c,
        &serde_json::from_value(serde_json::json!({
            "slug": format!("bench-{}", now.timestamp_micros()), "title": "Bench plan", "organisation_id": org,
            "periods": [{"name": "2020", "starts_on": "2020-01-01", "ends_on": "2020-12-31"}]
        }))
        .unwrap(),
        now,
    )?;
    let period = plan.periods[0].id;
    let zones = [
        "Europe/Madrid",
        "Africa/Johannesburg",
        "America/New_York",
        "Asia/Tokyo",
    ];
    let day0 = NaiveDate::from_ymd_opt(2020, 1, 1).unwrap();
    for i in 0..events {
        let day = day0 + TimeDelta::days((i % 366) as i64);
        let timing = match i % 10 {
            0..=5 => {
                serde_json::json!({"precision": "exact", "start": format!("{day}T10:00"), "end": format!("{day}T11:30"), "time_zone": zones[i % zones.len()]})
            }
            6 | 7 => serde_json::json!({"precision": "days", "start": day.to_string()}),
            8 => {
                serde_json::json!({"precision": "month", "month": day.format("%Y-%m").to_string()})
            }
            _ => serde_json::json!({"precision": "tbc"}),
        };
        let mut input = serde_json::json!({
            "plan_id": plan.id, "period_id": period, "kind": "event", "status": "confirmed", "visibility": "public",
            "timing": timing,
            "place": {"name": "Bilbao, Spain"},
            "translations": {
                "en": {"title": format!("Activity {i}: smart governance, open data; panel"), "description": "A description long enough to fold: the Smart Cities Study, 3rd edition, on open government and data-driven management."},
                "es": {"title": format!("Actividad {i}: gobernanza inteligente")},
                "fr": {"title": format!("Activité {i} : gouvernance intelligente")}
            }
        });
        if i % 20 == 0 {
            input["recurrence"] = serde_json::json!({"rule": "FREQ=MONTHLY;COUNT=12"});
        }
        let valid = json(input).validate()?;
        db::activities::create(c, &valid, now)?;
    }
    Ok(())
}
