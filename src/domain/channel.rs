use super::activity::ChannelKind;
use super::text::{Name, Slug, Text, WebUrl};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A way the plan reaches people: a website, a newsletter, one social network
/// account, a forum.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"slug": "mastodon-uclg", "kind": "social", "name": "UCLG on Mastodon", "network": "mastodon", "handle": "@uclg@mastodon.social", "url": "https://mastodon.social/@uclg", "organisation_id": 1})))]
pub struct ChannelInput {
    pub slug: Slug,
    pub kind: ChannelKind,
    pub name: Name,
    /// For social accounts: the network (e.g. "x", "linkedin", "mastodon").
    pub network: Option<Text<50>>,
    /// For social accounts: the account's handle.
    pub handle: Option<Text<100>>,
    pub url: Option<WebUrl>,
    pub organisation_id: Option<i64>,
    /// The version being replaced; required on update unless `If-Match` is sent.
    pub version: Option<i32>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Channel {
    pub id: i64,
    pub slug: String,
    pub kind: ChannelKind,
    pub name: String,
    pub network: Option<String>,
    pub handle: Option<String>,
    pub url: Option<String>,
    pub organisation_id: Option<i64>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
