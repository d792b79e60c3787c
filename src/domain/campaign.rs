use super::activity::ActivityStatus;
use super::language::Translations;
use super::text::{Slug, Text, Title};
use crate::error::{Error, Result};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Title and description in one language.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TranslationInput {
    pub title: Title,
    pub description: Option<Text>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Translation {
    pub title: String,
    pub description: Option<String>,
}

impl From<&TranslationInput> for Translation {
    fn from(t: &TranslationInput) -> Self {
        Translation {
            title: t.title.as_str().to_owned(),
            description: t.description.as_ref().map(|d| d.as_str().to_owned()),
        }
    }
}

pub fn check_translations<T>(translations: &Translations<T>) -> Result<()> {
    if translations.is_empty() {
        return Err(Error::invalid(
            "translations",
            "needs at least one language (es, en or fr)",
        ));
    }
    Ok(())
}

/// A campaign spans several channels (the launch: website, social networks,
/// newsletter).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"plan_id": 1, "slug": "study-launch", "status": "planned", "starts_on": "2020-03-01", "ends_on": "2020-03-31", "channel_ids": [1], "translations": {"en": {"title": "Launch of the Smart Cities Study", "description": "Website, social networks and the newsletter."}, "es": {"title": "Lanzamiento del Estudio de Ciudades Inteligentes"}}})))]
pub struct CampaignInput {
    pub plan_id: i64,
    pub slug: Slug,
    pub status: ActivityStatus,
    #[schema(value_type = Option<String>, format = Date)]
    pub starts_on: Option<NaiveDate>,
    #[schema(value_type = Option<String>, format = Date)]
    pub ends_on: Option<NaiveDate>,
    #[serde(default)]
    pub channel_ids: Vec<i64>,
    #[schema(value_type = std::collections::BTreeMap<String, TranslationInput>)]
    pub translations: Translations<TranslationInput>,
    /// The version being replaced; required on update unless `If-Match` is sent.
    pub version: Option<i32>,
}

impl CampaignInput {
    pub fn validate(&self) -> Result<()> {
        check_translations(&self.translations)?;
        if let (Some(s), Some(e)) = (self.starts_on, self.ends_on)
            && e < s
        {
            return Err(Error::invalid("ends_on", "must not be before starts_on"));
        }
        check_unique_ids(&self.channel_ids, "channel_ids")
    }
}

pub fn check_unique_ids(ids: &[i64], field: &str) -> Result<()> {
    let mut seen = std::collections::BTreeSet::new();
    for (i, id) in ids.iter().enumerate() {
        if !seen.insert(id) {
            return Err(Error::invalid(
                format!("{field}[{i}]"),
                format!("{id} is listed twice"),
            ));
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Campaign {
    pub id: i64,
    pub plan_id: i64,
    pub slug: String,
    pub status: ActivityStatus,
    #[schema(value_type = Option<String>, format = Date)]
    pub starts_on: Option<NaiveDate>,
    #[schema(value_type = Option<String>, format = Date)]
    pub ends_on: Option<NaiveDate>,
    pub channel_ids: Vec<i64>,
    #[schema(value_type = std::collections::BTreeMap<String, Translation>)]
    pub translations: Translations<Translation>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
