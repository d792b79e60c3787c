//! Per-client limits for the endpoints anyone may call. A fixed one-minute window
//! per IP address: cheap, and enough to stop a client hammering a public route.

use super::AppState;
use super::problem::ApiError;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use std::collections::HashMap;
use std::future::{Ready, ready};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);

pub struct RateLimiter {
    per_window: u32,
    clients: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl RateLimiter {
    pub fn new(per_minute: u32) -> RateLimiter {
        RateLimiter {
            per_window: per_minute,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one request from `ip`; `Err(seconds)` when over the limit.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Result<(), u64> {
        let mut clients = self.clients.lock().expect("rate limiter lock");
        if clients.len() > 100_000 {
            clients.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        let entry = clients.entry(ip).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        if entry.1 >= self.per_window {
            let left = WINDOW.saturating_sub(now.duration_since(entry.0));
            return Err(left.as_secs().max(1));
        }
        entry.1 += 1;
        Ok(())
    }
}

fn count(req: &HttpRequest, limiter: impl Fn(&AppState) -> &RateLimiter) -> Result<(), ApiError> {
    let Some(state) = req.app_data::<web::Data<AppState>>() else {
        return Ok(());
    };
    let ip = super::client::client_ip(req);
    limiter(state)
        .check(ip, Instant::now())
        .map_err(|retry_after_secs| ApiError::TooManyRequests { retry_after_secs })
}

/// Taken by public handlers: the request counts against its client's limit.
pub struct PublicRateLimit;

impl FromRequest for PublicRateLimit {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(count(req, |s| &s.rate_limiter).map(|_| PublicRateLimit))
    }
}

/// The same for calendar feeds, with their own (higher) limit: calendar
/// services poll for many subscribers from few addresses.
pub struct FeedRateLimit;

impl FromRequest for FeedRateLimit {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(count(req, |s| &s.feed_rate_limiter).map(|_| FeedRateLimit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_n_per_window() {
        let limiter = RateLimiter::new(3);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let other: IpAddr = "127.0.0.2".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check(ip, t0).is_ok());
        }
        assert_eq!(limiter.check(ip, t0 + Duration::from_secs(10)), Err(50));
        assert!(limiter.check(other, t0).is_ok());
        assert!(limiter.check(ip, t0 + WINDOW).is_ok());
    }
}
