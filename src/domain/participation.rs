use super::activity::ParticipantRole;
use super::text::Text;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

super::macros::text_enum!(
    /// A participant's answer to an invitation, from their calendar's iTIP
    /// REPLY (RFC 5546: PARTSTAT).
    ParticipationAnswer {
        Accepted => "accepted",
        Tentative => "tentative",
        Declined => "declined",
    }
);

/// A person taking part in an activity, e.g. the Mayor of Bilbao representing
/// the city at the Congress panel.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"activity_id": 1, "person_id": 1, "role": "represents", "represents_organisation_id": 1, "note": "Opens the session"})))]
pub struct ParticipationInput {
    pub activity_id: i64,
    pub person_id: i64,
    pub role: ParticipantRole,
    /// For `represents`: the organisation represented.
    pub represents_organisation_id: Option<i64>,
    pub note: Option<Text<500>>,
    /// The version being replaced; required on update unless `If-Match` is sent.
    pub version: Option<i32>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Participation {
    pub id: i64,
    pub activity_id: i64,
    pub person_id: i64,
    pub person_name: String,
    pub person_title: Option<String>,
    pub role: ParticipantRole,
    pub represents_organisation_id: Option<i64>,
    pub note: Option<String>,
    /// The answer to the invitation, once the participant's calendar sent one.
    pub answer: Option<ParticipationAnswer>,
    pub answered_at: Option<DateTime<Utc>>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
