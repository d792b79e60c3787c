//! CSRF protection for every form. A signed-in person's token is derived from
//! their session secret (which only their browser holds, in an HttpOnly
//! cookie); before signing in, a random value in a cookie of its own is echoed
//! by the form (double submit). A POST whose token does not match, or whose
//! `Origin` is another site's, is refused before anything else is looked at.

use crate::http::AppState;
use actix_web::HttpRequest;
use actix_web::http::header;
use sha2::{Digest, Sha256};

/// The cookie of the token used before signing in.
pub const CSRF_COOKIE: &str = "pregon_csrf";
/// The form field every form carries.
pub const FIELD: &str = "csrf";

pub fn cookie(headers: &header::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn derive(secret: &str) -> String {
    hex::encode(&Sha256::digest(format!("pregon-csrf\0{secret}").as_bytes())[..20])
}

/// The token forms on this page must carry, and the cookie to set when a
/// visitor without a session has none yet.
pub fn token(req: &HttpRequest) -> (String, Option<String>) {
    if let Some(session) = cookie(req.headers(), crate::http::auth::SESSION_COOKIE) {
        return (derive(&session), None);
    }
    if let Some(existing) = cookie(req.headers(), CSRF_COOKIE)
        && existing.len() == 40
        && existing.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return (derive(&existing), None);
    }
    let fresh = hex::encode(rand::random::<[u8; 20]>());
    (derive(&fresh), Some(fresh))
}

/// The `Set-Cookie` value for a fresh pre-sign-in token.
pub fn cookie_header(value: &str, secure: bool) -> String {
    format!(
        "{CSRF_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    )
}

/// Whether a POST may go on: its origin is this service's (when the browser
/// says), and its token matches the session's or the pre-sign-in cookie's.
pub fn verify(state: &AppState, req: &HttpRequest, form_token: Option<&str>) -> bool {
    if let Some(origin) = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
    {
        let own = url::Url::parse(&state.settings.server.public_url)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default();
        if origin != own && origin != "null" {
            return false;
        }
    }
    let Some(given) = form_token else {
        return false;
    };
    let candidates = [
        cookie(req.headers(), crate::http::auth::SESSION_COOKIE),
        cookie(req.headers(), CSRF_COOKIE),
    ];
    candidates
        .iter()
        .flatten()
        .any(|secret| constant_time_eq(derive(secret).as_bytes(), given.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_differ_per_secret_and_compare_exactly() {
        assert_ne!(derive("a"), derive("b"));
        assert_eq!(derive("a").len(), 40);
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
