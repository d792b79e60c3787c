use super::text::{Name, Slug, Text, Title};
use crate::error::{Error, Result};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A plan, its periods (phases) and goals, written as one document.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"slug": "digital-cities-2020", "title": "Digital Cities 2020", "description": "The communication plan of the Digital Cities programme.", "organisation_id": 1, "periods": [{"name": "Launch", "description": "The study and the Congress", "starts_on": "2020-03-01", "ends_on": "2020-06-30"}], "goals": [{"description": "Reach 200 cities with the study", "period": 0}]})))]
pub struct PlanInput {
    pub slug: Slug,
    pub title: Title,
    pub description: Option<Text>,
    /// The organisation whose plan this is.
    pub organisation_id: i64,
    #[serde(default)]
    pub periods: Vec<PeriodInput>,
    #[serde(default)]
    pub goals: Vec<GoalInput>,
    /// The version being replaced; required on update unless `If-Match` is sent.
    pub version: Option<i32>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PeriodInput {
    /// Set to keep an existing period (activities may point at it); omit for a new one.
    pub id: Option<i64>,
    pub name: Name,
    pub description: Option<Text>,
    /// Either bound may be unknown (e.g. "late 2019" only has an end).
    #[schema(value_type = Option<String>, format = Date)]
    pub starts_on: Option<NaiveDate>,
    #[schema(value_type = Option<String>, format = Date)]
    pub ends_on: Option<NaiveDate>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GoalInput {
    pub description: Text<2000>,
    /// Index into `periods` of the period this goal belongs to.
    pub period: Option<usize>,
}

impl PlanInput {
    pub fn validate(&self) -> Result<()> {
        for (i, p) in self.periods.iter().enumerate() {
            if let (Some(s), Some(e)) = (p.starts_on, p.ends_on)
                && e < s
            {
                return Err(Error::invalid(
                    format!("periods[{i}].ends_on"),
                    "must not be before starts_on",
                ));
            }
        }
        for (i, g) in self.goals.iter().enumerate() {
            if g.period.is_some_and(|p| p >= self.periods.len()) {
                return Err(Error::invalid(
                    format!("goals[{i}].period"),
                    "is not an index into periods",
                ));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Plan {
    pub id: i64,
    pub slug: String,
    pub title: String,
    pub description: Option<String>,
    pub organisation_id: i64,
    pub periods: Vec<Period>,
    pub goals: Vec<Goal>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Period {
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
    #[schema(value_type = Option<String>, format = Date)]
    pub starts_on: Option<NaiveDate>,
    #[schema(value_type = Option<String>, format = Date)]
    pub ends_on: Option<NaiveDate>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Goal {
    pub id: i64,
    pub description: String,
    pub period_id: Option<i64>,
}
