use super::activity::{ActivityKind, ActivityStatus};
use super::language::Language;
use super::text::Name;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

/// A private calendar feed for a partner, reached at `/feeds/{token}.ics`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"name": "Events for Bilbao", "organisation_id": 1, "lang": "es", "filters": {"kinds": ["event"], "statuses": ["confirmed"], "include_internal": false}})))]
pub struct FeedInput {
    pub name: Name,
    /// The partner the feed is for.
    pub organisation_id: Option<i64>,
    /// The feed's language (titles fall back as in the API); `?lang=` overrides it.
    pub lang: Option<Language>,
    #[serde(default)]
    pub filters: FeedFilters,
    /// The version being replaced; required on update unless `If-Match` is sent.
    pub version: Option<i32>,
}

/// Which activities a feed carries. Empty lists mean "any".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedFilters {
    #[serde(default)]
    pub kinds: Vec<ActivityKind>,
    #[serde(default)]
    pub campaign_ids: Vec<i64>,
    #[serde(default)]
    pub channel_ids: Vec<i64>,
    #[serde(default)]
    pub statuses: Vec<ActivityStatus>,
    /// Also carry internal activities (a private feed for a close partner).
    #[serde(default)]
    pub include_internal: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Feed {
    pub id: i64,
    pub name: String,
    pub organisation_id: Option<i64>,
    pub lang: Option<Language>,
    pub filters: FeedFilters,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Where a calendar client subscribes to a feed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FeedLinks {
    pub https: String,
    pub webcal: String,
    /// Opens Google Calendar's "add by URL" with the feed filled in.
    pub google: String,
    /// Outlook.com's "subscribe from web".
    pub outlook: String,
    /// Outlook on Microsoft 365's "subscribe from web".
    pub office365: String,
}

impl FeedLinks {
    pub fn new(https: String, name: &str) -> FeedLinks {
        let webcal = match https.split_once("://") {
            Some((_, rest)) => format!("webcal://{rest}"),
            None => https.clone(),
        };
        let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        FeedLinks {
            google: format!(
                "https://calendar.google.com/calendar/render?cid={}",
                enc(&webcal)
            ),
            outlook: format!(
                "https://outlook.live.com/calendar/0/addfromweb?url={}&name={}",
                enc(&https),
                enc(name)
            ),
            office365: format!(
                "https://outlook.office.com/calendar/0/addfromweb?url={}&name={}",
                enc(&https),
                enc(name)
            ),
            https,
            webcal,
        }
    }
}

/// Returned when a feed is created or its token rotated: the only time the
/// token (and so the links) can be shown, as only its hash is stored.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FeedWithLinks {
    #[serde(flatten)]
    pub feed: Feed,
    pub token: String,
    pub links: FeedLinks,
}

/// A fresh feed token and its stored hash.
pub fn generate_token() -> (String, String) {
    use base64::Engine;
    let bytes: [u8; 32] = rand::random();
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_token(&token);
    (token, hash)
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}
