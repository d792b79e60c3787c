//! Per-client limits for the endpoints anyone may call: GCRA (governor), one
//! bucket per route group so polling `/healthz` never uses up an unsubscribe,
//! keyed by the client address (`client::client_ip`, which honours trusted
//! proxies only), and timed by the service's injectable clock.
//!
//! Calendar feeds are budgeted per client *and* per feed: a calendar service
//! polls many partners' feeds from few addresses, so each (client, feed) pair
//! has its own bucket besides a wider one per client. A revalidation answered
//! 304 costs one cell; a full answer costs `feed_full_response_cost`.

use super::AppState;
use super::problem::ApiError;
use crate::clock::SharedClock;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use governor::clock::Clock as GovernorClock;
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use sha2::Digest;
use std::future::{Ready, ready};
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Governor's view of the service clock: time since the Unix epoch.
#[derive(Clone)]
pub struct ServiceClock(pub SharedClock);

impl GovernorClock for ServiceClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        let now = self.0.now();
        Duration::from_micros(now.timestamp_micros().max(0) as u64)
    }
}

/// One GCRA bucket per key.
pub struct Buckets<K: Hash + Eq + Clone> {
    limiter: RateLimiter<K, DefaultKeyedStateStore<K>, ServiceClock, NoOpMiddleware<Duration>>,
    clock: ServiceClock,
    checks: AtomicU64,
}

impl<K: Hash + Eq + Clone> Buckets<K> {
    /// `per_minute` requests a minute, the same number in one burst.
    pub fn new(per_minute: u32, clock: SharedClock) -> Buckets<K> {
        let n = NonZeroU32::new(per_minute.max(1)).expect("non-zero");
        let clock = ServiceClock(clock);
        Buckets {
            limiter: RateLimiter::dashmap_with_clock(Quota::per_minute(n), clock.clone()),
            clock,
            checks: AtomicU64::new(0),
        }
    }

    /// Takes one cell for `key`; `Err(seconds to wait)` when there is none.
    pub fn check(&self, key: &K) -> Result<(), u64> {
        // Now and then, forget clients whose buckets are full again.
        if self.checks.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        self.limiter.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
        })
    }

    /// Takes up to `n` more cells, as many as there are (a cost charged after
    /// the fact: the next request pays if this one overdrew).
    pub fn charge(&self, key: &K, n: u32) {
        for _ in 0..n {
            if self.limiter.check_key(key).is_err() {
                break;
            }
        }
    }

    /// Keys held (for tests and metrics).
    pub fn len(&self) -> usize {
        self.limiter.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The public route groups, each with its own buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    Health,
    Subscribe,
    /// Confirm, unsubscribe and preferences links.
    Links,
}

/// Every limiter of the server.
pub struct Limits {
    health: Buckets<IpAddr>,
    subscribe: Buckets<IpAddr>,
    links: Buckets<IpAddr>,
    feed_client: Buckets<IpAddr>,
    feed_pair: Buckets<(IpAddr, u64)>,
    full_cost: u32,
}

impl Limits {
    pub fn new(settings: &crate::config::Settings, clock: SharedClock) -> Limits {
        let r = &settings.rate_limits;
        Limits {
            health: Buckets::new(r.health_per_minute, clock.clone()),
            subscribe: Buckets::new(settings.server.public_rate_limit_per_minute, clock.clone()),
            links: Buckets::new(r.links_per_minute, clock.clone()),
            feed_client: Buckets::new(settings.feeds.rate_limit_per_minute, clock.clone()),
            feed_pair: Buckets::new(r.feed_per_feed_per_minute, clock),
            full_cost: r.feed_full_response_cost.max(1),
        }
    }

    fn group(&self, group: Group) -> &Buckets<IpAddr> {
        match group {
            Group::Health => &self.health,
            Group::Subscribe => &self.subscribe,
            Group::Links => &self.links,
        }
    }
}

fn too_many(retry_after_secs: u64) -> ApiError {
    ApiError::TooManyRequests { retry_after_secs }
}

/// The group of a public route, by its template.
fn group_of(req: &HttpRequest) -> Group {
    match req.match_pattern().as_deref() {
        Some("/healthz" | "/readyz") => Group::Health,
        Some("/newsletter/subscribe") => Group::Subscribe,
        _ => Group::Links,
    }
}

fn count(req: &HttpRequest) -> Result<(), ApiError> {
    let Some(state) = req.app_data::<web::Data<AppState>>() else {
        return Ok(());
    };
    let ip = super::client::client_ip(req);
    let group = group_of(req);
    // Local probes (a container's HEALTHCHECK, a supervisor) are never refused.
    if group == Group::Health && ip.is_loopback() {
        return Ok(());
    }
    state.limits.group(group).check(&ip).map_err(too_many)
}

/// Taken by public handlers: the request counts against its client's bucket
/// for the route's group.
pub struct PublicRateLimit;

impl FromRequest for PublicRateLimit {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(count(req).map(|_| PublicRateLimit))
    }
}

/// Which feed a request asks for: a digest of its token (the token itself is
/// not kept), or 0 for the public feed.
fn feed_key(req: &HttpRequest) -> u64 {
    feed_key_of(req.match_info().get("token"))
}

/// The feed budget's key: the public feed, or one private feed by its token.
pub fn feed_key_of(token: Option<&str>) -> u64 {
    match token {
        Some(token) => {
            let digest = sha2::Sha256::digest(token.as_bytes());
            u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"))
        }
        None => 0,
    }
}

/// Marks a feed request whose full answer still has to be paid for.
#[derive(Clone, Copy)]
struct FeedCharge {
    ip: IpAddr,
    feed: u64,
}

/// The same for calendar feeds: one cell from the client's bucket and from
/// the (client, feed) bucket; a full answer pays the rest afterwards
/// ([`charge_full_feed_answers`]).
pub struct FeedRateLimit;

impl FromRequest for FeedRateLimit {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(state) = req.app_data::<web::Data<AppState>>() else {
            return ready(Ok(FeedRateLimit));
        };
        let ip = super::client::client_ip(req);
        let feed = feed_key(req);
        let limits = &state.limits;
        let result = limits
            .feed_pair
            .check(&(ip, feed))
            .and_then(|_| limits.feed_client.check(&ip))
            .map_err(too_many);
        if result.is_ok() {
            req.extensions_mut().insert(FeedCharge { ip, feed });
        }
        ready(result.map(|_| FeedRateLimit))
    }
}

/// One feed poll against the feed budgets (by feed and IP, and by IP), as
/// [`FeedRateLimit`] charges it; for the 304 fast path, which runs before
/// routing. `false`: over a budget (the caller lets the routed handler answer 429).
pub fn charge_feed_poll(limits: &Limits, ip: IpAddr, feed: u64) -> bool {
    limits
        .feed_pair
        .check(&(ip, feed))
        .and_then(|_| limits.feed_client.check(&ip))
        .is_ok()
}

/// After a feed answer: a full calendar (200) costs more than a 304.
pub fn charge_full_feed_answers(req: &HttpRequest, status: actix_web::http::StatusCode) {
    if status != actix_web::http::StatusCode::OK {
        return;
    }
    let Some(charge) = req.extensions().get::<FeedCharge>().copied() else {
        return;
    };
    if let Some(state) = req.app_data::<web::Data<AppState>>() {
        let extra = state.limits.full_cost - 1;
        state
            .limits
            .feed_pair
            .charge(&(charge.ip, charge.feed), extra);
        state.limits.feed_client.charge(&charge.ip, extra);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use chrono::{TimeDelta, TimeZone, Utc};
    use std::sync::Arc;

    #[test]
    fn gcra_allows_the_burst_then_one_cell_per_interval_on_the_service_clock() {
        let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap());
        let buckets: Buckets<IpAddr> = Buckets::new(60, Arc::new(clock.clone()));
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..60 {
            assert!(buckets.check(&ip).is_ok());
        }
        assert_eq!(buckets.check(&ip), Err(1));
        // No window boundary to cross: one more cell per second, no more.
        clock.advance(TimeDelta::seconds(1));
        assert!(buckets.check(&ip).is_ok());
        assert!(buckets.check(&ip).is_err());
        clock.advance(TimeDelta::seconds(30));
        for _ in 0..30 {
            assert!(buckets.check(&ip).is_ok());
        }
        assert!(buckets.check(&ip).is_err());
        // Another client has its own bucket.
        assert!(buckets.check(&"192.0.2.2".parse().unwrap()).is_ok());
    }
}
