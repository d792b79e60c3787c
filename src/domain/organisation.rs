use super::activity::OrganisationKind;
use super::text::{Name, Slug, Text, WebUrl};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An organisation as a client writes it (create, or full replacement).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"slug": "bilbao", "name": "City of Bilbao", "kind": "city", "description": "Host of the 2020 Congress.", "website": "https://www.bilbao.eus"})))]
pub struct OrganisationInput {
    pub slug: Slug,
    pub name: Name,
    pub kind: OrganisationKind,
    pub description: Option<Text>,
    pub website: Option<WebUrl>,
    /// The version being replaced; required on update unless `If-Match` is sent.
    pub version: Option<i32>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Organisation {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub kind: OrganisationKind,
    pub description: Option<String>,
    pub website: Option<String>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
