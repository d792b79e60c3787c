//! Outbound webhook subscriptions: where to send which events.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a subscription can ask to be told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum EventType {
    #[serde(rename = "activity.created")]
    ActivityCreated,
    #[serde(rename = "activity.changed")]
    ActivityChanged,
    #[serde(rename = "activity.approved")]
    ActivityApproved,
    #[serde(rename = "activity.cancelled")]
    ActivityCancelled,
    /// An activity became confirmed (e.g. Málaga's date set).
    #[serde(rename = "event.confirmed")]
    EventConfirmed,
    #[serde(rename = "newsletter.sent")]
    NewsletterSent,
    #[serde(rename = "post.published")]
    PostPublished,
    #[serde(rename = "post.failed")]
    PostFailed,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::ActivityCreated => "activity.created",
            EventType::ActivityChanged => "activity.changed",
            EventType::ActivityApproved => "activity.approved",
            EventType::ActivityCancelled => "activity.cancelled",
            EventType::EventConfirmed => "event.confirmed",
            EventType::NewsletterSent => "newsletter.sent",
            EventType::PostPublished => "post.published",
            EventType::PostFailed => "post.failed",
        }
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"url": "https://hooks.example.org/pregon", "event_types": ["activity.created", "activity.changed"], "description": "The partners' intranet", "enabled": true})))]
pub struct WebhookInput {
    /// Where events are POSTed (http or https).
    #[schema(max_length = 2000)]
    pub url: String,
    pub event_types: Vec<EventType>,
    #[schema(max_length = 500)]
    pub description: Option<String>,
    /// Default true; setting it true again re-enables an endpoint disabled
    /// by a 410.
    pub enabled: Option<bool>,
}

/// A signing secret, without its value.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SecretInfo {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    /// Set on the older secrets of a rotation: they sign until then.
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Webhook {
    pub id: i64,
    pub url: String,
    pub description: Option<String>,
    pub event_types: Vec<EventType>,
    pub enabled: bool,
    /// Why it was disabled (e.g. the receiver answered 410 Gone).
    pub disabled_reason: Option<String>,
    pub secrets: Vec<SecretInfo>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A subscription just created, or its secret just rotated: the secret is
/// in this response only.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookWithSecret {
    #[serde(flatten)]
    pub webhook: Webhook,
    /// `whsec_` and the base64 of 24 random bytes (Standard Webhooks).
    pub secret: String,
}
