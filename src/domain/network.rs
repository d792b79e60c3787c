//! The networks a channel account publishes to.

use super::macros::text_enum;

text_enum!(
    /// Where a channel account's posts go: a Mastodon instance, a Bluesky
    /// PDS, a CMS through a signed webhook, or a person (manual: the owner
    /// is told the exact text at due time and says where it was posted).
    Network {
        Mastodon => "mastodon",
        Bluesky => "bluesky",
        Webhook => "webhook",
        Manual => "manual",
    }
);

text_enum!(
    /// What became of a post variant: its job is `queued` (or running),
    /// then it is `published` (with its URL), `failed` (with the reason) or
    /// its outcome is `unknown` (with how to check). A manual channel's
    /// variant is `awaiting_owner` once its email was accepted, until the
    /// owner says where it was posted (then `published`).
    PublicationState {
        Queued => "queued",
        Published => "published",
        Failed => "failed",
        Unknown => "unknown",
        AwaitingOwner => "awaiting_owner",
    }
);

/// Someone a manual account's post is emailed to: a Pregón account (by its
/// id: its address and language as they are when the email goes out) or an
/// email address.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Recipient {
    /// A Pregón account's id.
    Account(i64),
    /// An email address (checked when written, so that the one at fault is
    /// named: `recipients[i]`).
    #[schema(value_type = super::EmailAddress)]
    Email(String),
}

impl Recipient {
    /// How the delivery ledger names it: `account:{id}` or the address
    /// (lowercased).
    pub fn key(&self) -> String {
        match self {
            Recipient::Account(id) => format!("account:{id}"),
            Recipient::Email(address) => address.trim().to_lowercase(),
        }
    }
}

/// The most recipients a manual account writes to.
pub const MAX_RECIPIENTS: usize = 20;

/// A channel account's settings (the `config` column, JSON). Only manual
/// accounts have any: the people its posts are emailed to, and the
/// language of an address that has no account.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AccountConfig {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recipients: Vec<Recipient>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_language: Option<super::Language>,
}

impl AccountConfig {
    /// The settings stored as JSON (`None`, an unreadable value: none).
    pub fn parse(stored: Option<&str>) -> AccountConfig {
        stored
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        self.recipients.is_empty() && self.default_language.is_none()
    }
}

#[cfg(test)]
mod config_tests {
    use super::*;

    #[test]
    fn recipients_are_account_ids_or_addresses() {
        let c: AccountConfig = serde_json::from_str(
            r#"{"recipients": [12, "Ana@Bilbao.example"], "default_language": "fr"}"#,
        )
        .unwrap();
        assert_eq!(
            c.recipients,
            vec![
                Recipient::Account(12),
                Recipient::Email("Ana@Bilbao.example".into())
            ]
        );
        assert_eq!(c.recipients[0].key(), "account:12");
        assert_eq!(c.recipients[1].key(), "ana@bilbao.example");
        assert_eq!(c.default_language, Some(super::super::Language::Fr));
        assert_eq!(AccountConfig::parse(None), AccountConfig::default());
        assert!(AccountConfig::parse(Some("{}")).is_empty());
    }
}
