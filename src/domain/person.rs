use super::language::Language;
use super::text::{EmailAddress, Name};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"name": "Ane Etxeberria", "title": "Deputy Mayor of Bilbao", "organisation_id": 1, "email": "ane@bilbao.example", "language": "es"})))]
pub struct PersonInput {
    pub name: Name,
    /// What the person is, e.g. "Mayor of Bilbao".
    pub title: Option<Name>,
    pub organisation_id: Option<i64>,
    pub email: Option<EmailAddress>,
    pub language: Option<Language>,
    /// The version being replaced; required on update unless `If-Match` is sent.
    pub version: Option<i32>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Person {
    pub id: i64,
    pub name: String,
    pub title: Option<String>,
    pub organisation_id: Option<i64>,
    pub email: Option<String>,
    pub language: Option<Language>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
