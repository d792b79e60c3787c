//! `GET /metrics` in the Prometheus text format (version 0.0.4), for an admin
//! token on the main port: requests by route template and status, request
//! latency histograms by route template, feed cache hits and rebuilds,
//! deliveries per state, the queue's depth and its oldest due item.
//!
//! Request counts are kept per running server; the feed counters are
//! process-wide; delivery figures are read from the database at each scrape.

use super::auth::Admin;
use super::problem::ApiResult;
use super::routes::State;
use actix_web::{HttpResponse, get, web};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

pub static FEED_CACHE_HITS: AtomicU64 = AtomicU64::new(0);
pub static FEED_REBUILDS: AtomicU64 = AtomicU64::new(0);

#[derive(Default)]
struct Latency {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Counts by method, then route template, then status; and latency by method
/// and route. Nested so that an observation looks its keys up by `&str` and
/// allocates only the first time a (method, route) is seen: a 304 poll, the
/// commonest request, costs one lock and no allocation here (issue 12).
#[derive(Default)]
struct Observed {
    requests: BTreeMap<String, BTreeMap<String, BTreeMap<u16, u64>>>,
    latency: BTreeMap<String, BTreeMap<String, Latency>>,
}

#[derive(Default)]
pub struct Metrics {
    observed: Mutex<Observed>,
}

/// The entry for `key`, made on first use (the key is copied only then).
fn entry<'m, V: Default>(map: &'m mut BTreeMap<String, V>, key: &str) -> &'m mut V {
    if !map.contains_key(key) {
        map.insert(key.to_owned(), V::default());
    }
    map.get_mut(key).expect("inserted above")
}

impl Metrics {
    /// `route` is the matched template (`/api/v1/plans/{id}`), never the raw
    /// path: ids and tokens must not become label values.
    pub fn observe(&self, method: &str, route: Option<&str>, status: u16, took: Duration) {
        let route = route.unwrap_or("unmatched");
        let secs = took.as_secs_f64();
        let mut observed = self.observed.lock().expect("metrics");
        let Observed { requests, latency } = &mut *observed;
        *entry(entry(requests, method), route)
            .entry(status)
            .or_default() += 1;
        let l = entry(entry(latency, method), route);
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                l.buckets[i] += 1;
            }
        }
        l.count += 1;
        l.sum += secs;
    }

    fn render(&self, out: &mut String) {
        let observed = self.observed.lock().expect("metrics");
        out.push_str("# HELP pregon_http_requests_total HTTP requests answered, by route template and status.\n");
        out.push_str("# TYPE pregon_http_requests_total counter\n");
        for (method, routes) in &observed.requests {
            for (route, statuses) in routes {
                for (status, n) in statuses {
                    let _ = writeln!(
                        out,
                        "pregon_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                        label(route)
                    );
                }
            }
        }
        out.push_str(
            "# HELP pregon_http_request_duration_seconds Time to answer, by route template.\n",
        );
        out.push_str("# TYPE pregon_http_request_duration_seconds histogram\n");
        let latencies = observed
            .latency
            .iter()
            .flat_map(|(method, routes)| routes.iter().map(move |(route, l)| (method, route, l)));
        for (method, route, l) in latencies {
            let labels = format!("method=\"{method}\",route=\"{}\"", label(route));
            for (bound, n) in BUCKETS.iter().zip(l.buckets) {
                let _ = writeln!(
                    out,
                    "pregon_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "pregon_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                l.count
            );
            let _ = writeln!(
                out,
                "pregon_http_request_duration_seconds_sum{{{labels}}} {}",
                l.sum
            );
            let _ = writeln!(
                out,
                "pregon_http_request_duration_seconds_count{{{labels}}} {}",
                l.count
            );
        }
    }
}

/// A label value as the text format wants it.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(metrics);
}

/// Operational metrics in the Prometheus text format (for an admin token).
#[utoipa::path(tag = "operations", security(("bearer" = ["admin"])),
    responses((status = 200, description = "Prometheus text format 0.0.4", content_type = "text/plain", body = String)))]
#[get("/metrics")]
async fn metrics(_: Admin, state: State, registry: web::Data<Metrics>) -> ApiResult<HttpResponse> {
    let now = state.clock.now();
    let (by_state, oldest_due) = state
        .db
        .run(move |c| crate::db::metrics::deliveries(c, now))
        .await?;
    let mut out = String::new();
    registry.render(&mut out);
    out.push_str("# HELP pregon_feed_cache_hits_total Feed requests answered from the cache.\n");
    out.push_str("# TYPE pregon_feed_cache_hits_total counter\n");
    let _ = writeln!(
        out,
        "pregon_feed_cache_hits_total {}",
        FEED_CACHE_HITS.load(Ordering::Relaxed)
    );
    out.push_str("# HELP pregon_feed_rebuilds_total Feeds built because the cached one was missing or stale.\n");
    out.push_str("# TYPE pregon_feed_rebuilds_total counter\n");
    let _ = writeln!(
        out,
        "pregon_feed_rebuilds_total {}",
        FEED_REBUILDS.load(Ordering::Relaxed)
    );
    out.push_str("# HELP pregon_deliveries Deliveries (one message to one recipient) by state.\n");
    out.push_str("# TYPE pregon_deliveries gauge\n");
    let mut depth = 0;
    for s in crate::domain::newsletter::DeliveryState::ALL {
        let n = by_state.get(s.as_str()).copied().unwrap_or(0);
        if matches!(
            s,
            crate::domain::newsletter::DeliveryState::Queued
                | crate::domain::newsletter::DeliveryState::Retry
        ) {
            depth += n;
        }
        let _ = writeln!(out, "pregon_deliveries{{state=\"{s}\"}} {n}");
    }
    out.push_str("# HELP pregon_queue_depth Deliveries waiting to be sent (queued or to retry).\n");
    out.push_str("# TYPE pregon_queue_depth gauge\n");
    let _ = writeln!(out, "pregon_queue_depth {depth}");
    out.push_str("# HELP pregon_queue_oldest_due_age_seconds How long the oldest waiting delivery has been due (0 when none is).\n");
    out.push_str("# TYPE pregon_queue_oldest_due_age_seconds gauge\n");
    let age = oldest_due
        .map(|t| (now - t).num_milliseconds().max(0) as f64 / 1000.0)
        .unwrap_or(0.0);
    let _ = writeln!(out, "pregon_queue_oldest_due_age_seconds {age}");
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(out))
}
