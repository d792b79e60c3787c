//! The HTTP client of jobs that call out (webhooks, Mastodon, Bluesky): a
//! timeout on every request, no redirects followed, and a guard against
//! requests to this machine or its private network (server-side request
//! forgery) applied when each connection is made: a name is resolved, and
//! addresses that are loopback, private, link-local, shared or unspecified
//! are dropped, so a name that resolved to a public address when it was
//! saved and to 127.0.0.1 now is refused now. `webhooks.allow_private =
//! true` turns the guard off (tests, an intranet CMS).

use chrono::{DateTime, TimeDelta, Utc};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone)]
pub struct Outbound {
    client: reqwest::Client,
    allow_private: bool,
}

/// The guard's refusal, found again in the error chain of a request.
#[derive(Debug)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

struct Guarded {
    allow_private: bool,
}

impl Resolve for Guarded {
    fn resolve(&self, name: Name) -> Resolving {
        let allow = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let usable: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| allow || !forbidden(a.ip()))
                .collect();
            if usable.is_empty() {
                let refused: Box<dyn std::error::Error + Send + Sync> = Box::new(Refused(format!(
                    "{host} resolves only to loopback, private or link-local addresses; \
                     refused (webhooks.allow_private is false)"
                )));
                return Err(refused);
            }
            let addrs: Addrs = Box::new(usable.into_iter());
            Ok(addrs)
        })
    }
}

/// Addresses a request from Pregón must not reach unless allowed.
pub fn forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || (o[0] == 198 && (o[1] == 18 || o[1] == 19))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden(IpAddr::V4(v4));
            }
            let s = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
        }
    }
}

impl Outbound {
    pub fn new(timeout: Duration, allow_private: bool) -> anyhow::Result<Outbound> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(Guarded { allow_private }))
            .user_agent(concat!("Pregon/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Outbound {
            client,
            allow_private,
        })
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// A URL this client may call (see `check_url`).
    pub fn check(&self, url: &str) -> Result<url::Url, String> {
        check_url(url, self.allow_private)
    }
}

/// A URL Pregón may call: http(s), and an address literal only if it is
/// public or `allow_private` (names are checked when connecting).
pub fn check_url(url: &str, allow_private: bool) -> Result<url::Url, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("only http and https URLs".into());
    }
    let ip = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        Some(url::Host::Domain(_)) => None,
        None => return Err("the URL has no host".into()),
    };
    if let Some(ip) = ip
        && !allow_private
        && forbidden(ip)
    {
        return Err(format!(
            "{ip} is a loopback, private or link-local address; refused \
             (webhooks.allow_private is false)"
        ));
    }
    Ok(parsed)
}

/// How a request that got no answer failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoAnswer {
    /// The guard refused the address: never retried.
    Refused(String),
    /// Nothing was sent (no connection): safe to send again.
    NotSent(String),
    /// The request may have arrived (a timeout waiting for the answer).
    MaybeSent(String),
}

pub fn classify(error: &reqwest::Error) -> NoAnswer {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(refused) = e.downcast_ref::<Refused>() {
            return NoAnswer::Refused(refused.0.clone());
        }
        source = e.source();
    }
    let text = without_url(error);
    if error.is_connect() || error.is_builder() {
        NoAnswer::NotSent(text)
    } else {
        NoAnswer::MaybeSent(text)
    }
}

/// The error's text without the URL (which may carry a token in a query).
fn without_url(error: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut source = std::error::Error::source(error);
    while let Some(e) = source {
        parts.push(e.to_string());
        source = e.source();
    }
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    if parts.is_empty() {
        kind.into()
    } else {
        format!("{kind}: {}", parts.join(": "))
    }
}

/// When a 429 or 503 says to come back: `Retry-After` (seconds or an HTTP
/// date), else `X-RateLimit-Reset` (Mastodon: an ISO 8601 time; others:
/// Unix seconds), else `ratelimit-reset` (Bluesky: Unix seconds).
pub fn retry_after(
    headers: &reqwest::header::HeaderMap,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(value) = text("retry-after") {
        if let Ok(secs) = value.parse::<i64>() {
            return Some(now + TimeDelta::seconds(secs.clamp(0, 86_400)));
        }
        if let Ok(at) = DateTime::parse_from_rfc2822(value) {
            return Some(at.with_timezone(&Utc));
        }
    }
    for name in ["x-ratelimit-reset", "ratelimit-reset"] {
        if let Some(value) = text(name) {
            if let Ok(at) = DateTime::parse_from_rfc3339(value) {
                return Some(at.with_timezone(&Utc));
            }
            if let Ok(secs) = value.parse::<i64>() {
                // Unix time, or (small numbers) seconds from now.
                return Some(if secs > 1_000_000_000 {
                    DateTime::from_timestamp(secs, 0)?
                } else {
                    now + TimeDelta::seconds(secs)
                });
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn private_loopback_and_link_local_addresses_are_forbidden() {
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::",
        ] {
            assert!(forbidden(bad.parse().unwrap()), "{bad}");
        }
        for good in ["93.184.216.34", "2606:4700::1111", "8.8.8.8"] {
            assert!(!forbidden(good.parse().unwrap()), "{good}");
        }
        let guarded = Outbound::new(Duration::from_secs(1), false).unwrap();
        assert!(guarded.check("http://127.0.0.1:8080/hook").is_err());
        assert!(guarded.check("http://[::1]/hook").is_err());
        assert!(guarded.check("ftp://example.org/").is_err());
        assert!(guarded.check("https://example.org/hook").is_ok());
        let open = Outbound::new(Duration::from_secs(1), true).unwrap();
        assert!(open.check("http://127.0.0.1:8080/hook").is_ok());
    }

    #[test]
    fn retry_after_reads_seconds_dates_and_mastodons_reset() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap();
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("retry-after", "120".parse().unwrap());
        assert_eq!(retry_after(&h, now), Some(now + TimeDelta::seconds(120)));
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(
            "retry-after",
            "Thu, 01 Jan 2026 12:05:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h, now), Some(now + TimeDelta::minutes(5)));
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(
            "x-ratelimit-reset",
            "2026-01-01T12:30:00.000Z".parse().unwrap(),
        );
        assert_eq!(retry_after(&h, now), Some(now + TimeDelta::minutes(30)));
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(
            "ratelimit-reset",
            (now.timestamp() + 60).to_string().parse().unwrap(),
        );
        assert_eq!(retry_after(&h, now), Some(now + TimeDelta::seconds(60)));
        assert_eq!(retry_after(&reqwest::header::HeaderMap::new(), now), None);
    }
}
