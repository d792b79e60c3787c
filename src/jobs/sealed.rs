//! Secrets Pregón must be able to read back (webhook signing secrets,
//! social network credentials) are stored sealed: XChaCha20-Poly1305 under
//! the key `credentials.key` from the configuration (64 hex digits), never
//! in the database itself. A sealed value is `v1:` and the base64 of a
//! random nonce and the ciphertext; the record's id is bound in as
//! associated data, so a sealed value copied onto another record does not
//! open.

use crate::error::{Error, Result};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

#[derive(Clone)]
pub struct Sealer {
    cipher: Option<XChaCha20Poly1305>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(***)")
    }
}

impl Sealer {
    /// From `credentials.key`; an empty key gives a sealer that refuses to
    /// seal or open (and says what to configure).
    pub fn from_hex(key: &str) -> anyhow::Result<Sealer> {
        let key = key.trim();
        if key.is_empty() {
            return Ok(Sealer { cipher: None });
        }
        let bytes = hex::decode(key)
            .ok()
            .filter(|b| b.len() == 32)
            .ok_or_else(|| anyhow::anyhow!("credentials.key must be 64 hex digits (32 bytes)"))?;
        Ok(Sealer {
            cipher: Some(XChaCha20Poly1305::new_from_slice(&bytes).expect("32-byte key")),
        })
    }

    fn cipher(&self) -> Result<&XChaCha20Poly1305> {
        self.cipher.as_ref().ok_or(Error::Blocked {
            kind: "credentials-key-missing",
            message: "set credentials.key (64 hex digits, e.g. from `openssl rand -hex 32`) \
                      to store secrets for webhooks and social accounts"
                .into(),
        })
    }

    /// Seals `plain` for the record named by `context` (e.g. "webhook_secret").
    pub fn seal(&self, plain: &str, context: &str) -> Result<String> {
        let cipher = self.cipher()?;
        let nonce_bytes: [u8; 24] = rand::random();
        let nonce = XNonce::from_slice(&nonce_bytes);
        let sealed = cipher
            .encrypt(
                nonce,
                Payload {
                    msg: plain.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| Error::Internal(anyhow::anyhow!("sealing failed")))?;
        let mut out = nonce_bytes.to_vec();
        out.extend(sealed);
        Ok(format!("v1:{}", STANDARD.encode(out)))
    }

    pub fn open(&self, sealed: &str, context: &str) -> Result<String> {
        let cipher = self.cipher()?;
        let bad = || {
            Error::Internal(anyhow::anyhow!(
                "a sealed secret does not open with credentials.key"
            ))
        };
        let raw = sealed
            .strip_prefix("v1:")
            .and_then(|b| STANDARD.decode(b).ok())
            .filter(|r| r.len() > 24)
            .ok_or_else(bad)?;
        let (nonce, body) = raw.split_at(24);
        let plain = cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| bad())?;
        String::from_utf8(plain).map_err(|_| bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_record() {
        let key = "11".repeat(32);
        let sealer = Sealer::from_hex(&key).unwrap();
        let sealed = sealer.seal("whsec_abc", "webhook_secret:1").unwrap();
        assert!(!sealed.contains("whsec_abc"));
        assert_ne!(
            sealed,
            sealer.seal("whsec_abc", "webhook_secret:1").unwrap()
        );
        assert_eq!(
            sealer.open(&sealed, "webhook_secret:1").unwrap(),
            "whsec_abc"
        );
        assert!(sealer.open(&sealed, "webhook_secret:2").is_err());
        let other = Sealer::from_hex(&"22".repeat(32)).unwrap();
        assert!(other.open(&sealed, "webhook_secret:1").is_err());
        assert!(Sealer::from_hex("").unwrap().seal("x", "y").is_err());
        assert!(Sealer::from_hex("abcd").is_err());
    }
}
