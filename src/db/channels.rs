use super::schema::channels;
use super::{DbConnection, Page, PageRequest, organisations, parse_stored, require_ref, utc};
use crate::domain::activity::ChannelKind;
use crate::domain::channel::{Channel, ChannelInput};
use crate::error::{Error, Result};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

#[derive(Queryable, Selectable)]
#[diesel(table_name = channels)]
struct Row {
    id: i64,
    slug: String,
    kind: String,
    name: String,
    network: Option<String>,
    handle: Option<String>,
    url: Option<String>,
    organisation_id: Option<i64>,
    version: i32,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl Row {
    fn into_domain(self) -> Result<Channel> {
        Ok(Channel {
            id: self.id,
            slug: self.slug,
            kind: parse_stored(&self.kind)?,
            name: self.name,
            network: self.network,
            handle: self.handle,
            url: self.url,
            organisation_id: self.organisation_id,
            version: self.version,
            created_at: utc(self.created_at),
            updated_at: utc(self.updated_at),
        })
    }
}

#[derive(AsChangeset, Insertable)]
#[diesel(table_name = channels, treat_none_as_null = true)]
struct Fields<'a> {
    slug: &'a str,
    kind: &'a str,
    name: &'a str,
    network: Option<&'a str>,
    handle: Option<&'a str>,
    url: Option<&'a str>,
    organisation_id: Option<i64>,
}

fn fields<'a>(conn: &mut DbConnection, input: &'a ChannelInput) -> Result<Fields<'a>> {
    if let Some(org) = input.organisation_id {
        require_ref(organisations::exists(conn, org)?, "organisation_id", org)?;
    }
    Ok(Fields {
        slug: input.slug.as_str(),
        kind: input.kind.as_str(),
        name: input.name.as_str(),
        network: input.network.as_ref().map(|n| n.as_str()),
        handle: input.handle.as_ref().map(|h| h.as_str()),
        url: input.url.as_ref().map(|u| u.as_str()),
        organisation_id: input.organisation_id,
    })
}

pub fn create(
    conn: &mut DbConnection,
    input: &ChannelInput,
    now: DateTime<Utc>,
) -> Result<Channel> {
    let values = fields(conn, input)?;
    let id = diesel::insert_into(channels::table)
        .values((
            values,
            channels::created_at.eq(now.naive_utc()),
            channels::updated_at.eq(now.naive_utc()),
        ))
        .returning(channels::id)
        .get_result(conn)?;
    get(conn, id)
}

pub fn get(conn: &mut DbConnection, id: i64) -> Result<Channel> {
    channels::table
        .find(id)
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| Error::not_found("channel", id))?
        .into_domain()
}

pub fn find_by_slug(conn: &mut DbConnection, slug: &str) -> Result<Option<Channel>> {
    channels::table
        .filter(channels::slug.eq(slug))
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .map(Row::into_domain)
        .transpose()
}

pub fn list(
    conn: &mut DbConnection,
    kind: Option<ChannelKind>,
    page: PageRequest,
) -> Result<Page<Channel>> {
    let query = || {
        let mut q = channels::table.into_boxed();
        if let Some(kind) = kind {
            q = q.filter(channels::kind.eq(kind.as_str()));
        }
        q
    };
    let total: i64 = query().count().get_result(conn)?;
    let rows = query()
        .order(channels::id)
        .limit(page.limit())
        .offset(page.offset())
        .select(Row::as_select())
        .load(conn)?;
    page.wrap(
        rows.into_iter()
            .map(Row::into_domain)
            .collect::<Result<_>>()?,
        total,
    )
}

pub fn update(
    conn: &mut DbConnection,
    id: i64,
    expected_version: i32,
    input: &ChannelInput,
    now: DateTime<Utc>,
) -> Result<Channel> {
    let values = fields(conn, input)?;
    update_versioned(conn, id, expected_version, now, values)?;
    get(conn, id)
}

super::versioned_record!(channels, "channel");
