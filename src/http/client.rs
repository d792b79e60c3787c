//! Who the client is, and how many request bodies it may be sending at once.
//!
//! The client address is the peer's, unless the peer is a configured trusted
//! proxy: then `Forwarded` (RFC 7239) or `X-Forwarded-For` names it, read from
//! the right and skipping the trusted hops, so a client cannot pick its own
//! address by sending the header itself.

use actix_web::HttpRequest;
use actix_web::http::header::HeaderMap;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// An address block: `10.0.0.0/8`, `::1/128`, or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    bits: u8,
}

impl std::str::FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Cidr, String> {
        let (addr, bits) = match s.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (s, None),
        };
        let net: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("{s:?} is not an IP address or CIDR block"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            None => max,
            Some(b) => b
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|b| *b <= max)
                .ok_or_else(|| format!("{s:?} has a bad prefix length"))?,
        };
        Ok(Cidr { net, bits })
    }
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => prefix_eq(&n.octets(), &a.octets(), self.bits),
            (IpAddr::V6(n), IpAddr::V6(a)) => prefix_eq(&n.octets(), &a.octets(), self.bits),
            _ => false,
        }
    }
}

fn prefix_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
    let full = (bits / 8) as usize;
    if a[..full] != b[..full] {
        return false;
    }
    let rest = bits % 8;
    rest == 0 || {
        let mask = 0xffu8 << (8 - rest);
        a[full] & mask == b[full] & mask
    }
}

/// `::ffff:10.0.0.1` is `10.0.0.1`.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<Cidr>);

impl TrustedProxies {
    pub fn parse(items: &[String]) -> Result<TrustedProxies, String> {
        items
            .iter()
            .map(|s| s.parse())
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|c| c.contains(ip))
    }

    /// The client address of a request that came from `peer`.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let chain = forwarded_chain(headers);
        // Right to left: the first hop not a trusted proxy is the client.
        let mut client = peer;
        for hop in chain.iter().rev() {
            match hop {
                Some(ip) => {
                    client = canonical(*ip);
                    if !self.trusts(client) {
                        return client;
                    }
                }
                // An obfuscated or unreadable hop: trust stops there.
                None => return client,
            }
        }
        client
    }
}

/// The addresses a request passed, oldest first: from `Forwarded` if sent,
/// else `X-Forwarded-For`. `None` for a hop that is not an address.
fn forwarded_chain(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let forwarded: Vec<&str> = headers
        .get_all("forwarded")
        .filter_map(|v| v.to_str().ok())
        .collect();
    if !forwarded.is_empty() {
        return forwarded
            .iter()
            .flat_map(|v| v.split(','))
            .map(|element| {
                element
                    .split(';')
                    .filter_map(|pair| pair.split_once('='))
                    .find(|(k, _)| k.trim().eq_ignore_ascii_case("for"))
                    .and_then(|(_, v)| node_address(v.trim().trim_matches('"')))
            })
            .collect();
    }
    headers
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|hop| node_address(hop.trim()))
        .collect()
}

/// `192.0.2.1`, `192.0.2.1:4711`, `[2001:db8::1]`, `[2001:db8::1]:4711`, `2001:db8::1`.
fn node_address(node: &str) -> Option<IpAddr> {
    if let Ok(ip) = node.parse() {
        return Some(ip);
    }
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split_once(']').and_then(|(ip, _)| ip.parse().ok());
    }
    node.rsplit_once(':').and_then(|(ip, _)| ip.parse().ok())
}

/// The client address of `req`, by the server's trusted proxies.
pub fn client_ip(req: &HttpRequest) -> IpAddr {
    let peer = req
        .peer_addr()
        .map(|a| a.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    match req.app_data::<actix_web::web::Data<super::AppState>>() {
        Some(state) => state.trusted_proxies.client(peer, req.headers()),
        None => canonical(peer),
    }
}

/// Request bodies being received, per client address: a client trickling
/// bodies on many connections holds at most `per_ip` of them.
#[derive(Clone)]
pub struct BodySlots {
    per_ip: usize,
    busy: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One body being received; the slot frees when it drops.
pub struct BodySlot {
    ip: IpAddr,
    busy: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl BodySlots {
    pub fn new(per_ip: usize) -> BodySlots {
        BodySlots {
            per_ip: per_ip.max(1),
            busy: Arc::default(),
        }
    }

    pub fn take(&self, ip: IpAddr) -> Option<BodySlot> {
        let mut busy = self.busy.lock().expect("body slots lock");
        let n = busy.entry(ip).or_insert(0);
        if *n >= self.per_ip {
            return None;
        }
        *n += 1;
        Some(BodySlot {
            ip,
            busy: self.busy.clone(),
        })
    }

    pub fn in_use(&self, ip: IpAddr) -> usize {
        self.busy
            .lock()
            .expect("body slots lock")
            .get(&ip)
            .copied()
            .unwrap_or(0)
    }
}

impl Drop for BodySlot {
    fn drop(&mut self) {
        let mut busy = self.busy.lock().expect("body slots lock");
        if let Some(n) = busy.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                busy.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn cidr_blocks() {
        let block: Cidr = "10.1.0.0/16".parse().unwrap();
        assert!(block.contains(ip("10.1.200.3")));
        assert!(!block.contains(ip("10.2.0.1")));
        assert!(block.contains(ip("::ffff:10.1.0.9")));
        let one: Cidr = "::1".parse().unwrap();
        assert!(one.contains(ip("::1")));
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("proxy".parse::<Cidr>().is_err());
        let odd: Cidr = "192.168.0.0/23".parse().unwrap();
        assert!(odd.contains(ip("192.168.1.255")));
        assert!(!odd.contains(ip("192.168.2.0")));
    }

    #[test]
    fn headers_count_only_from_trusted_proxies() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8".into()]).unwrap();
        let xff = headers(&[("x-forwarded-for", "198.51.100.7, 10.0.0.5")]);
        // From the proxy: the first untrusted hop from the right.
        assert_eq!(proxies.client(ip("10.0.0.2"), &xff), ip("198.51.100.7"));
        // From anyone else the header is ignored.
        assert_eq!(proxies.client(ip("203.0.113.9"), &xff), ip("203.0.113.9"));
        // A client prepending a fake address does not get to choose.
        let spoofed = headers(&[("x-forwarded-for", "1.2.3.4, 198.51.100.7")]);
        assert_eq!(proxies.client(ip("10.0.0.2"), &spoofed), ip("198.51.100.7"));
        // Forwarded wins over X-Forwarded-For, with ports and IPv6 brackets.
        let both = headers(&[
            (
                "forwarded",
                "for=\"[2001:db8::7]:4711\";proto=https, for=10.0.0.9",
            ),
            ("x-forwarded-for", "198.51.100.7"),
        ]);
        assert_eq!(proxies.client(ip("10.0.0.2"), &both), ip("2001:db8::7"));
        let hidden = headers(&[("forwarded", "for=_hidden, for=10.0.0.3")]);
        assert_eq!(proxies.client(ip("10.0.0.2"), &hidden), ip("10.0.0.3"));
        // No proxies configured: always the peer.
        let none = TrustedProxies::default();
        assert_eq!(none.client(ip("10.0.0.2"), &xff), ip("10.0.0.2"));
    }

    #[test]
    fn slots_free_when_dropped() {
        let slots = BodySlots::new(2);
        let a = ip("192.0.2.1");
        let first = slots.take(a).unwrap();
        let _second = slots.take(a).unwrap();
        assert!(slots.take(a).is_none());
        assert!(slots.take(ip("192.0.2.2")).is_some());
        drop(first);
        assert!(slots.take(a).is_some());
    }
}
