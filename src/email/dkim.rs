//! Optional DKIM signing (RFC 6376) for relays that do not sign themselves:
//! a transport that signs every message with lettre's signer, then hands it
//! to the real transport.
//!
//! The signed headers are those a receiver's verdict depends on, the
//! List-Unsubscribe pair included (Gmail and Yahoo want it signed for
//! one-click unsubscribe); canonicalization relaxed/relaxed, which survives
//! relays that refold headers.

use std::sync::Arc;

use lettre::Message;
use lettre::address::Envelope;
use lettre::message::dkim::{
    DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningAlgorithm,
    DkimSigningKey,
};
use lettre::message::header::HeaderName;
use serde::Deserialize;

use super::transport::{MailTransport, SendFuture};

/// Headers signed when present (lettre signs each name once). Not
/// Content-Type: for a multipart message lettre keeps it with the body, out
/// of the headers it signs, and listing it would sign a header it never
/// hashed (receivers would find the signature broken).
const SIGNED: &[&str] = &[
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "Reply-To",
    "MIME-Version",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DkimAlgorithm {
    /// RSA-SHA256; the key in PKCS#1 PEM (`openssl genrsa -traditional 2048`).
    #[default]
    Rsa,
    /// Ed25519-SHA256 (RFC 8463); the key as base64 of its 32 bytes.
    Ed25519,
}

#[derive(Debug, thiserror::Error)]
pub enum DkimError {
    #[error("email.dkim: {0}")]
    Config(String),
    #[error("email.dkim: the private key cannot be read: {0}")]
    Key(String),
}

/// A DKIM key ready to sign.
pub struct DkimSigner {
    config: DkimConfig,
    domain: String,
    selector: String,
}

impl std::fmt::Debug for DkimSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DkimSigner")
            .field("domain", &self.domain)
            .field("selector", &self.selector)
            .finish_non_exhaustive()
    }
}

impl DkimSigner {
    /// `private_key`: PEM text (RSA) or base64 (Ed25519).
    pub fn new(
        domain: &str,
        selector: &str,
        algorithm: DkimAlgorithm,
        private_key: &str,
    ) -> Result<DkimSigner, DkimError> {
        let domain = domain.trim().to_ascii_lowercase();
        let selector = selector.trim().to_owned();
        let label_ok = |s: &str| {
            !s.is_empty()
                && s.split('.').all(|label| {
                    !label.is_empty()
                        && label
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                })
        };
        if !label_ok(&domain) {
            return Err(DkimError::Config(format!(
                "domain {domain:?} is not a domain"
            )));
        }
        if !label_ok(&selector) {
            return Err(DkimError::Config(format!(
                "selector {selector:?} is not a DNS label"
            )));
        }
        let algorithm = match algorithm {
            DkimAlgorithm::Rsa => DkimSigningAlgorithm::Rsa,
            DkimAlgorithm::Ed25519 => DkimSigningAlgorithm::Ed25519,
        };
        let key = DkimSigningKey::new(private_key.trim(), algorithm)
            .map_err(|e| DkimError::Key(e.to_string()))?;
        let config = DkimConfig::new(
            selector.clone(),
            domain.clone(),
            key,
            SIGNED
                .iter()
                .map(|h| HeaderName::new_from_ascii_str(h))
                .collect(),
            DkimCanonicalization {
                header: DkimCanonicalizationType::Relaxed,
                body: DkimCanonicalizationType::Relaxed,
            },
        );
        Ok(DkimSigner {
            config,
            domain,
            selector,
        })
    }

    pub fn sign(&self, message: &mut Message) {
        message.sign(&self.config);
    }
}

/// Signs each message, then sends it through `inner`.
pub struct SigningTransport {
    inner: Arc<dyn MailTransport>,
    signer: DkimSigner,
}

impl SigningTransport {
    pub fn new(inner: Arc<dyn MailTransport>, signer: DkimSigner) -> SigningTransport {
        SigningTransport { inner, signer }
    }
}

impl MailTransport for SigningTransport {
    fn send<'a>(&'a self, message: &'a Message, envelope: &'a Envelope) -> SendFuture<'a> {
        Box::pin(async move {
            let mut signed = message.clone();
            self.signer.sign(&mut signed);
            self.inner.send(&signed, envelope).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_settings_are_refused_with_the_reason() {
        let err =
            DkimSigner::new("pregon.example", "s1", DkimAlgorithm::Rsa, "not a key").unwrap_err();
        assert!(matches!(err, DkimError::Key(_)), "{err}");
        let err = DkimSigner::new("", "s1", DkimAlgorithm::Rsa, "x").unwrap_err();
        assert!(err.to_string().contains("domain"), "{err}");
        let err = DkimSigner::new("pregon.example", "a b", DkimAlgorithm::Rsa, "x").unwrap_err();
        assert!(err.to_string().contains("selector"), "{err}");
    }

    #[test]
    fn ed25519_keys_sign() {
        // 32 zero bytes, base64: enough to check the key is accepted and a
        // signature header appears.
        let signer = DkimSigner::new(
            "pregon.example",
            "ed",
            DkimAlgorithm::Ed25519,
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        )
        .unwrap();
        let mut message = Message::builder()
            .from("a@pregon.example".parse().unwrap())
            .to("b@example.org".parse().unwrap())
            .subject("hi")
            .body("hello\r\n".to_owned())
            .unwrap();
        signer.sign(&mut message);
        let text = String::from_utf8(message.formatted()).unwrap();
        assert!(
            text.contains("a=ed25519-sha256; d=pregon.example; s=ed;"),
            "{text}"
        );
    }
}
