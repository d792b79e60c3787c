use super::schema::{campaign_channels, campaign_translations, campaigns};
use super::{DbConnection, Page, PageRequest, channels, parse_stored, plans, require_ref, utc};
use crate::domain::activity::ActivityStatus;
use crate::domain::campaign::{Campaign, CampaignInput, Translation};
use crate::domain::language::Translations;
use crate::error::{Error, Result};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;

#[derive(Queryable, Selectable)]
#[diesel(table_name = campaigns)]
struct Row {
    id: i64,
    plan_id: i64,
    slug: String,
    status: String,
    starts_on: Option<NaiveDate>,
    ends_on: Option<NaiveDate>,
    version: i32,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

#[derive(AsChangeset, Insertable)]
#[diesel(table_name = campaigns, treat_none_as_null = true)]
struct Fields<'a> {
    plan_id: i64,
    slug: &'a str,
    status: &'a str,
    starts_on: Option<NaiveDate>,
    ends_on: Option<NaiveDate>,
}

fn fields<'a>(conn: &mut DbConnection, input: &'a CampaignInput) -> Result<Fields<'a>> {
    input.validate()?;
    require_ref(
        plans::exists(conn, input.plan_id)?,
        "plan_id",
        input.plan_id,
    )?;
    for (i, id) in input.channel_ids.iter().enumerate() {
        require_ref(
            channels::exists(conn, *id)?,
            &format!("channel_ids[{i}]"),
            *id,
        )?;
    }
    Ok(Fields {
        plan_id: input.plan_id,
        slug: input.slug.as_str(),
        status: input.status.as_str(),
        starts_on: input.starts_on,
        ends_on: input.ends_on,
    })
}

fn write_children(conn: &mut DbConnection, id: i64, input: &CampaignInput) -> Result<()> {
    diesel::delete(campaign_translations::table.filter(campaign_translations::campaign_id.eq(id)))
        .execute(conn)?;
    for (lang, t) in &input.translations {
        diesel::insert_into(campaign_translations::table)
            .values((
                campaign_translations::campaign_id.eq(id),
                campaign_translations::lang.eq(lang.as_str()),
                campaign_translations::title.eq(t.title.as_str()),
                campaign_translations::description.eq(t.description.as_ref().map(|d| d.as_str())),
            ))
            .execute(conn)?;
    }
    diesel::delete(campaign_channels::table.filter(campaign_channels::campaign_id.eq(id)))
        .execute(conn)?;
    for channel in &input.channel_ids {
        diesel::insert_into(campaign_channels::table)
            .values((
                campaign_channels::campaign_id.eq(id),
                campaign_channels::channel_id.eq(channel),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn create(
    conn: &mut DbConnection,
    input: &CampaignInput,
    now: DateTime<Utc>,
) -> Result<Campaign> {
    let values = fields(conn, input)?;
    let id = diesel::insert_into(campaigns::table)
        .values((
            values,
            campaigns::created_at.eq(now.naive_utc()),
            campaigns::updated_at.eq(now.naive_utc()),
        ))
        .returning(campaigns::id)
        .get_result(conn)?;
    write_children(conn, id, input)?;
    get(conn, id)
}

fn hydrate(conn: &mut DbConnection, row: Row) -> Result<Campaign> {
    let translations = translations(conn, Some(row.id))?
        .remove(&row.id)
        .unwrap_or_default();
    let channel_ids = campaign_channels::table
        .filter(campaign_channels::campaign_id.eq(row.id))
        .order(campaign_channels::channel_id)
        .select(campaign_channels::channel_id)
        .load(conn)?;
    Ok(Campaign {
        id: row.id,
        plan_id: row.plan_id,
        slug: row.slug,
        status: parse_stored(&row.status)?,
        starts_on: row.starts_on,
        ends_on: row.ends_on,
        channel_ids,
        translations,
        version: row.version,
        created_at: utc(row.created_at),
        updated_at: utc(row.updated_at),
    })
}

pub fn get(conn: &mut DbConnection, id: i64) -> Result<Campaign> {
    let row = campaigns::table
        .find(id)
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| Error::not_found("campaign", id))?;
    hydrate(conn, row)
}

pub fn find_by_slug(conn: &mut DbConnection, slug: &str) -> Result<Option<Campaign>> {
    let row = campaigns::table
        .filter(campaigns::slug.eq(slug))
        .select(Row::as_select())
        .first(conn)
        .optional()?;
    row.map(|r| hydrate(conn, r)).transpose()
}

pub fn list(
    conn: &mut DbConnection,
    plan_id: Option<i64>,
    status: Option<ActivityStatus>,
    page: PageRequest,
) -> Result<Page<Campaign>> {
    let query = || {
        let mut q = campaigns::table.into_boxed();
        if let Some(plan) = plan_id {
            q = q.filter(campaigns::plan_id.eq(plan));
        }
        if let Some(status) = status {
            q = q.filter(campaigns::status.eq(status.as_str()));
        }
        q
    };
    let total: i64 = query().count().get_result(conn)?;
    let rows = query()
        .order(campaigns::id)
        .limit(page.limit())
        .offset(page.offset())
        .select(Row::as_select())
        .load(conn)?;
    let items = rows
        .into_iter()
        .map(|r| hydrate(conn, r))
        .collect::<Result<_>>()?;
    page.wrap(items, total)
}

pub fn update(
    conn: &mut DbConnection,
    id: i64,
    expected_version: i32,
    input: &CampaignInput,
    now: DateTime<Utc>,
) -> Result<Campaign> {
    let values = fields(conn, input)?;
    update_versioned(conn, id, expected_version, now, values)?;
    write_children(conn, id, input)?;
    get(conn, id)
}

/// Does campaign `id` belong to plan `plan_id`?
pub fn in_plan(conn: &mut DbConnection, id: i64, plan_id: i64) -> Result<bool> {
    let n: i64 = campaigns::table
        .filter(campaigns::id.eq(id))
        .filter(campaigns::plan_id.eq(plan_id))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

super::versioned_record!(campaigns, "campaign");

/// Every campaign's titles, by campaign id.
pub fn all_translations(
    conn: &mut DbConnection,
) -> Result<std::collections::HashMap<i64, Translations<Translation>>> {
    translations(conn, None)
}

/// Titles by campaign id: of one campaign, or of all.
fn translations(
    conn: &mut DbConnection,
    campaign: Option<i64>,
) -> Result<std::collections::HashMap<i64, Translations<Translation>>> {
    let mut query = campaign_translations::table.into_boxed();
    if let Some(id) = campaign {
        query = query.filter(campaign_translations::campaign_id.eq(id));
    }
    let mut all: std::collections::HashMap<i64, Translations<Translation>> = Default::default();
    for (id, lang, title, description) in query
        .select((
            campaign_translations::campaign_id,
            campaign_translations::lang,
            campaign_translations::title,
            campaign_translations::description,
        ))
        .load::<(i64, String, String, Option<String>)>(conn)?
    {
        all.entry(id)
            .or_default()
            .insert(parse_stored(&lang)?, Translation { title, description });
    }
    Ok(all)
}
