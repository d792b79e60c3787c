//! Signed links for people who have no login: one-click unsubscribe and
//! double opt-in confirmation. Nothing secret is stored per subscriber; a link
//! carries its ids (and expiry) and an HMAC-SHA256 over them with a key that
//! every process on the database shares (`db::secrets`). A link cannot be
//! forged or pointed at another subscriber without the key.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// 128 bits of MAC: ample against forgery, short enough for a URL.
const MAC_BYTES: usize = 16;

#[derive(Clone)]
pub struct LinkSigner {
    key: Vec<u8>,
}

impl std::fmt::Debug for LinkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkSigner(***)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkError {
    Invalid,
    Expired,
}

impl LinkSigner {
    pub fn new(key: Vec<u8>) -> LinkSigner {
        LinkSigner { key }
    }

    fn mac(&self, purpose: &str, fields: &[i64]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key");
        mac.update(purpose.as_bytes());
        for field in fields {
            mac.update(b"\0");
            mac.update(field.to_string().as_bytes());
        }
        mac
    }

    fn sign(&self, purpose: &str, fields: &[i64]) -> String {
        let tag = self.mac(purpose, fields).finalize().into_bytes();
        let numbers: Vec<String> = fields.iter().map(i64::to_string).collect();
        // '.' separates: base64url itself uses '-' and '_'.
        format!(
            "{}.{}",
            numbers.join("."),
            URL_SAFE_NO_PAD.encode(&tag[..MAC_BYTES])
        )
    }

    fn verify<const N: usize>(&self, purpose: &str, token: &str) -> Option<[i64; N]> {
        let mut parts = token.trim().split('.');
        let mut fields = [0i64; N];
        for field in &mut fields {
            *field = parts.next()?.parse().ok()?;
        }
        let tag = URL_SAFE_NO_PAD.decode(parts.next()?).ok()?;
        if parts.next().is_some() || tag.len() != MAC_BYTES {
            return None;
        }
        // Constant-time comparison of the truncated tag.
        self.mac(purpose, &fields)
            .verify_truncated_left(&tag)
            .ok()
            .map(|()| fields)
    }

    /// Unsubscribes `subscriber_id` from the lists of issue `issue_id`.
    pub fn unsubscribe_token(&self, subscriber_id: i64, issue_id: i64) -> String {
        self.sign("unsubscribe", &[subscriber_id, issue_id])
    }

    /// `(subscriber_id, issue_id)` of a genuine unsubscribe token.
    pub fn verify_unsubscribe(&self, token: &str) -> Result<(i64, i64), LinkError> {
        self.verify::<2>("unsubscribe", token)
            .map(|[subscriber, issue]| (subscriber, issue))
            .ok_or(LinkError::Invalid)
    }

    /// Confirms subscription `subscription_id` until `expires`.
    pub fn confirm_token(&self, subscription_id: i64, expires: DateTime<Utc>) -> String {
        self.sign("confirm", &[subscription_id, expires.timestamp()])
    }

    /// The subscription id of a genuine confirmation token not yet expired.
    pub fn verify_confirm(&self, token: &str, now: DateTime<Utc>) -> Result<i64, LinkError> {
        let [subscription, expires] = self
            .verify::<2>("confirm", token)
            .ok_or(LinkError::Invalid)?;
        if now.timestamp() >= expires {
            return Err(LinkError::Expired);
        }
        Ok(subscription)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    #[test]
    fn tokens_verify_and_resist_tampering() {
        let signer = LinkSigner::new(b"k".repeat(32));
        let token = signer.unsubscribe_token(42, 7);
        assert_eq!(signer.verify_unsubscribe(&token), Ok((42, 7)));
        let forged = token.replacen("42", "43", 1);
        assert!(token.starts_with("42.7."));
        assert_eq!(signer.verify_unsubscribe(&forged), Err(LinkError::Invalid));
        let other = LinkSigner::new(b"x".repeat(32));
        assert_eq!(other.verify_unsubscribe(&token), Err(LinkError::Invalid));
        // A confirmation token is no unsubscribe token and vice versa.
        let now = Utc::now();
        let confirm = signer.confirm_token(42, now + TimeDelta::hours(1));
        assert_eq!(signer.verify_unsubscribe(&confirm), Err(LinkError::Invalid));
        assert_eq!(signer.verify_confirm(&confirm, now), Ok(42));
        assert_eq!(
            signer.verify_confirm(&confirm, now + TimeDelta::hours(2)),
            Err(LinkError::Expired)
        );
        for junk in ["", "1", "1.2", "a.b.c", "1.2.3.4", "1.2.!!!"] {
            assert_eq!(signer.verify_unsubscribe(junk), Err(LinkError::Invalid));
        }
    }
}
