//! The default data of a fresh install: the 2020 plan of the UCLG Community of
//! Practice on Digital Cities, from `plan-2020.toml`. The file is the API's input
//! with references by slug; each record goes through the same validation and
//! storage code as an API request.

use crate::app::entities::{
    Activities, Campaigns, Channels, Organisations, Participations, People, Plans,
};
use crate::app::{Actor, Context, records};
use crate::db::{self, DbConnection};
use crate::domain::activity::ActivityInput;
use crate::domain::campaign::CampaignInput;
use crate::domain::channel::ChannelInput;
use crate::domain::organisation::OrganisationInput;
use crate::domain::participation::ParticipationInput;
use crate::domain::person::PersonInput;
use crate::domain::plan::PlanInput;
use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::HashMap;
use std::fmt;

const PLAN_2020: &str = include_str!("plan-2020.toml");
pub const PLAN_SLUG: &str = "uclg-digital-cities-2020";

#[derive(Debug, Default)]
pub struct SeedReport {
    pub organisations: usize,
    pub people: usize,
    pub channels: usize,
    pub campaigns: usize,
    pub activities: usize,
    pub participations: usize,
}

impl fmt::Display for SeedReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.activities == 0 {
            return write!(f, "the 2020 plan is already present; nothing added");
        }
        write!(
            f,
            "loaded the 2020 plan: {} organisations, {} people, {} channels, {} campaigns, {} activities, {} participations",
            self.organisations,
            self.people,
            self.channels,
            self.campaigns,
            self.activities,
            self.participations
        )
    }
}

/// Loads the plan unless it is there already (then adds nothing). Existing
/// organisations, channels and people with the same slug (or name) are reused.
pub fn load_2020_plan(conn: &mut DbConnection, now: DateTime<Utc>) -> Result<SeedReport> {
    let mut report = SeedReport::default();
    // Written by the seed account, through the same operations as any edit, so
    // it is in the history and its activities start approved.
    let cx = Context::new(Actor::Seed, now);
    if db::plans::find_by_slug(conn, PLAN_SLUG)?.is_some() {
        return Ok(report);
    }
    let seed: Value = toml::from_str::<toml::Value>(PLAN_2020)
        .map_err(|e| seed_error(format!("plan-2020.toml: {e}")))
        .and_then(|v| serde_json::to_value(v).map_err(|e| seed_error(e.to_string())))?;
    let mut refs = Refs::default();

    for org in list(&seed, "organisations") {
        let slug = str_field(&org, "slug")?;
        let id = match db::organisations::find_by_slug(conn, &slug)? {
            Some(existing) => existing.id,
            None => {
                report.organisations += 1;
                records::create::<Organisations>(conn, &cx, &input::<OrganisationInput>(org)?)?.id
            }
        };
        refs.organisations.insert(slug, id);
    }
    for mut person in list(&seed, "people") {
        let name = str_field(&person, "name")?;
        refs.resolve(
            &mut person,
            "organisation",
            "organisation_id",
            Kind::Organisation,
        )?;
        let existing = db::people::list(conn, None, db::PageRequest::first(500))?
            .items
            .into_iter()
            .find(|p| p.name == name);
        let id = match existing {
            Some(p) => p.id,
            None => {
                report.people += 1;
                records::create::<People>(conn, &cx, &input::<PersonInput>(person)?)?.id
            }
        };
        refs.people.insert(name, id);
    }
    for mut channel in list(&seed, "channels") {
        let slug = str_field(&channel, "slug")?;
        refs.resolve(
            &mut channel,
            "organisation",
            "organisation_id",
            Kind::Organisation,
        )?;
        let id = match db::channels::find_by_slug(conn, &slug)? {
            Some(existing) => existing.id,
            None => {
                report.channels += 1;
                records::create::<Channels>(conn, &cx, &input::<ChannelInput>(channel)?)?.id
            }
        };
        refs.channels.insert(slug, id);
    }

    let mut plan = seed
        .get("plan")
        .cloned()
        .ok_or_else(|| seed_error("no [plan]"))?;
    refs.resolve(
        &mut plan,
        "organisation",
        "organisation_id",
        Kind::Organisation,
    )?;
    let plan = records::create::<Plans>(conn, &cx, &input::<PlanInput>(plan)?)?;
    let period_ids: Vec<i64> = plan.periods.iter().map(|p| p.id).collect();

    for mut campaign in list(&seed, "campaigns") {
        let slug = str_field(&campaign, "slug")?;
        campaign["plan_id"] = plan.id.into();
        refs.resolve_list(&mut campaign, "channels", "channel_ids", Kind::Channel)?;
        let id = records::create::<Campaigns>(conn, &cx, &input::<CampaignInput>(campaign)?)?.id;
        report.campaigns += 1;
        refs.campaigns.insert(slug, id);
    }

    for mut activity in list(&seed, "activities") {
        activity["plan_id"] = plan.id.into();
        if let Some(index) = activity.as_object_mut().and_then(|o| o.remove("period")) {
            let id = index
                .as_u64()
                .and_then(|i| period_ids.get(i as usize))
                .ok_or_else(|| seed_error(format!("no period {index}")))?;
            activity["period_id"] = (*id).into();
        }
        refs.resolve(&mut activity, "campaign", "campaign_id", Kind::Campaign)?;
        refs.resolve(
            &mut activity,
            "owner_organisation",
            "owner_organisation_id",
            Kind::Organisation,
        )?;
        refs.resolve_list(&mut activity, "channels", "channel_ids", Kind::Channel)?;
        for partner in array_mut(&mut activity, "partners") {
            refs.resolve(
                partner,
                "organisation",
                "organisation_id",
                Kind::Organisation,
            )?;
        }
        for variant in array_mut(&mut activity, "post_variants") {
            refs.resolve(variant, "channel", "channel_id", Kind::Channel)?;
        }
        let participants = activity
            .as_object_mut()
            .and_then(|o| o.remove("participants"))
            .unwrap_or(Value::Array(Vec::new()));
        let created = records::create::<Activities>(conn, &cx, &input::<ActivityInput>(activity)?)?;
        report.activities += 1;
        for mut participant in participants.as_array().cloned().unwrap_or_default() {
            participant["activity_id"] = created.id.into();
            refs.resolve(&mut participant, "person", "person_id", Kind::Person)?;
            refs.resolve(
                &mut participant,
                "represents",
                "represents_organisation_id",
                Kind::Organisation,
            )?;
            records::create::<Participations>(
                conn,
                &cx,
                &input::<ParticipationInput>(participant)?,
            )?;
            report.participations += 1;
        }
    }
    Ok(report)
}

/// On start-up: seed only a database that holds no plan at all.
pub fn seed_if_empty(conn: &mut DbConnection, now: DateTime<Utc>) -> Result<Option<SeedReport>> {
    if db::plans::count(conn)? > 0 {
        return Ok(None);
    }
    load_2020_plan(conn, now).map(Some)
}

fn seed_error(message: impl Into<String>) -> Error {
    Error::Internal(anyhow::anyhow!("seed data: {}", message.into()))
}

fn input<T: DeserializeOwned>(value: Value) -> Result<T> {
    serde_json::from_value(value.clone()).map_err(|e| seed_error(format!("{e} in {value}")))
}

fn list(seed: &Value, key: &str) -> Vec<Value> {
    seed.get(key)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn array_mut<'a>(value: &'a mut Value, key: &str) -> impl Iterator<Item = &'a mut Value> {
    value
        .get_mut(key)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
}

fn str_field(value: &Value, key: &str) -> Result<String> {
    value
        .get(key)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| seed_error(format!("missing {key} in {value}")))
}

#[derive(Clone, Copy)]
enum Kind {
    Organisation,
    Person,
    Channel,
    Campaign,
}

/// Slugs (and, for people, names) of the records loaded so far, to their ids.
#[derive(Default)]
struct Refs {
    organisations: HashMap<String, i64>,
    people: HashMap<String, i64>,
    channels: HashMap<String, i64>,
    campaigns: HashMap<String, i64>,
}

impl Refs {
    fn id(&self, kind: Kind, key: &str) -> Result<i64> {
        let map = match kind {
            Kind::Organisation => &self.organisations,
            Kind::Person => &self.people,
            Kind::Channel => &self.channels,
            Kind::Campaign => &self.campaigns,
        };
        map.get(key)
            .copied()
            .ok_or_else(|| seed_error(format!("unknown reference {key:?}")))
    }

    /// Replaces `from: "slug"` with `to: id`.
    fn resolve(&self, value: &mut Value, from: &str, to: &str, kind: Kind) -> Result<()> {
        let Some(object) = value.as_object_mut() else {
            return Ok(());
        };
        if let Some(key) = object.remove(from) {
            let key = key
                .as_str()
                .ok_or_else(|| seed_error(format!("{from} must be text")))?;
            object.insert(to.into(), self.id(kind, key)?.into());
        }
        Ok(())
    }

    /// Replaces `from: ["slug", …]` with `to: [id, …]`.
    fn resolve_list(&self, value: &mut Value, from: &str, to: &str, kind: Kind) -> Result<()> {
        let Some(object) = value.as_object_mut() else {
            return Ok(());
        };
        if let Some(keys) = object.remove(from) {
            let ids = keys
                .as_array()
                .into_iter()
                .flatten()
                .map(|k| {
                    self.id(kind, k.as_str().unwrap_or_default())
                        .map(Value::from)
                })
                .collect::<Result<Vec<_>>>()?;
            object.insert(to.into(), Value::Array(ids));
        }
        Ok(())
    }
}
