use super::Role;
use super::text::Name;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

/// Secrets start with this prefix so they are recognisable in a leak scan.
pub const PREFIX: &str = "pgn_";

/// A fresh token secret (shown once) and the hash that is stored.
pub fn generate() -> (String, String) {
    use base64::Engine;
    let bytes: [u8; 32] = rand::random();
    let secret = format!(
        "{PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    let hash = hash(&secret);
    (secret, hash)
}

/// Tokens are 256 random bits, so a plain SHA-256 is enough: there is nothing to
/// brute-force that a slow hash would protect.
pub fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"name": "calendar-sync", "role": "viewer"})))]
pub struct TokenInput {
    pub name: Name,
    /// At most the account's role: the token can never do more than its account.
    pub role: Role,
    /// The account the token acts as. Without it the token gets a built-in
    /// account of its own, named after it, with the token's role.
    #[serde(default)]
    pub account_id: Option<i64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Token {
    pub id: i64,
    pub account_id: i64,
    pub name: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Returned once, at creation: the only time the secret is visible.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub token: Token,
    pub secret: String,
}
