//! Sessions of people who signed in, and the one-time links that sign them in.

use super::macros::text_enum;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Session secrets start with this prefix (API tokens with `pgn_`), so the
/// authentication step knows which table to look in and a leak scan finds them.
pub const SESSION_PREFIX: &str = "pgs_";
/// Sign-in link secrets.
pub const LINK_PREFIX: &str = "pgl_";

/// A fresh secret with `prefix` (256 random bits) and its stored hash.
pub fn generate(prefix: &str) -> (String, String) {
    use base64::Engine;
    let bytes: [u8; 32] = rand::random();
    let secret = format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    let hash = super::token::hash(&secret);
    (secret, hash)
}

text_enum!(
    /// How a session was opened.
    SignInMethod {
        Password => "password",
        Link => "link",
    }
);

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Session {
    pub id: i64,
    pub account_id: i64,
    pub method: SignInMethod,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// Whether this is the session the request came with.
    #[serde(default)]
    pub current: bool,
}

/// A new session: its secret is in this response only (and in the cookie).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreatedSession {
    #[serde(flatten)]
    pub session: Session,
    pub secret: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"email": "ane@example.org", "password": "correct horse battery staple"})))]
pub struct PasswordSignIn {
    #[schema(max_length = 254)]
    pub email: String,
    #[schema(max_length = 256)]
    pub password: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"email": "ane@example.org"})))]
pub struct LinkRequest {
    #[schema(max_length = 254)]
    pub email: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"password": "correct horse battery staple"})))]
pub struct PasswordChange {
    /// Required when a password is already set.
    #[serde(default)]
    #[schema(max_length = 256)]
    pub current_password: Option<String>,
    #[schema(max_length = 256)]
    pub password: String,
}
