//! People's accounts, and the built-in accounts that tokens from before
//! accounts, the seed and Pregón's own work act as.

use super::macros::text_enum;
use super::text::{EmailAddress, Name};
use super::{Language, Role};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

text_enum!(
    /// Who an account stands for. Only a `person` has an email and can sign in;
    /// the others are built in: `token` (one per API token created without an
    /// account, named after it), `seed` (loading the default plan) and `system`
    /// (Pregón's own scheduled work).
    AccountKind {
        Person => "person",
        Token => "token",
        Seed => "seed",
        System => "system",
    }
);

text_enum!(
    /// A disabled account's sessions and tokens stop working at once; it is
    /// kept (never deleted) because the history refers to it.
    AccountStatus {
        Active => "active",
        Disabled => "disabled",
    }
);

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Account {
    pub id: i64,
    pub kind: AccountKind,
    /// Lowercased; absent for built-in accounts.
    pub email: Option<String>,
    pub name: String,
    pub language: Language,
    pub role: Role,
    pub status: AccountStatus,
    /// Whether a password is set (the hash itself never leaves the database).
    pub has_password: bool,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Account {
    pub fn is_active(&self) -> bool {
        self.status == AccountStatus::Active
    }
}

/// A new person's account.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"email": "ane@example.org", "name": "Ane Etxeberria", "role": "editor", "language": "es"})))]
pub struct AccountInput {
    pub email: EmailAddress,
    pub name: Name,
    pub role: Role,
    #[serde(default = "default_language")]
    pub language: Language,
}

fn default_language() -> Language {
    Language::En
}

/// What an administrator may change on an account (`PUT`). `version` may
/// come here or in `If-Match`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"name": "Ane Etxeberria", "language": "es", "role": "approver", "status": "active"})))]
pub struct AccountUpdate {
    pub name: Name,
    pub language: Language,
    pub role: Role,
    pub status: AccountStatus,
    #[serde(default)]
    pub version: Option<i32>,
}

/// Emails are compared whatever their case: stored lowercased.
pub fn normalise_email(email: &EmailAddress) -> String {
    email.as_str().to_lowercase()
}

/// A created person's account with the one-time sign-in link that lets them in
/// (shown in this response only).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreatedAccount {
    #[serde(flatten)]
    pub account: Account,
    pub sign_in_link: String,
}

/// An account's own settings (`GET`/`PUT /api/v1/me/preferences`, and
/// `/api/v1/accounts/{id}/preferences` for administrators).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"weekly_digest": false})))]
pub struct AccountPreferences {
    /// Whether the weekly digest is emailed to this account (on unless
    /// turned off).
    pub weekly_digest: bool,
}
