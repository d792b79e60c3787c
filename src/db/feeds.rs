use super::schema::feeds;
use super::{DbConnection, organisations, parse_stored, require_ref, utc};
use crate::domain::feed::{self, Feed, FeedFilters, FeedInput};
use crate::error::{Error, Result};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

#[derive(Queryable, Selectable)]
#[diesel(table_name = feeds)]
struct Row {
    id: i64,
    name: String,
    organisation_id: Option<i64>,
    lang: Option<String>,
    filters: String,
    version: i32,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    revoked_at: Option<NaiveDateTime>,
}

impl Row {
    fn into_domain(self) -> Result<Feed> {
        let filters: FeedFilters = serde_json::from_str(&self.filters)
            .map_err(|e| Error::Internal(anyhow::anyhow!("stored feed filters: {e}")))?;
        Ok(Feed {
            id: self.id,
            name: self.name,
            organisation_id: self.organisation_id,
            lang: self.lang.as_deref().map(parse_stored).transpose()?,
            filters,
            version: self.version,
            created_at: utc(self.created_at),
            updated_at: utc(self.updated_at),
            revoked_at: self.revoked_at.map(utc),
        })
    }
}

#[derive(AsChangeset, Insertable)]
#[diesel(table_name = feeds, treat_none_as_null = true)]
struct Fields<'a> {
    name: &'a str,
    organisation_id: Option<i64>,
    lang: Option<&'a str>,
    filters: String,
}

fn fields<'a>(conn: &mut DbConnection, input: &'a FeedInput) -> Result<Fields<'a>> {
    if let Some(org) = input.organisation_id {
        require_ref(organisations::exists(conn, org)?, "organisation_id", org)?;
    }
    Ok(Fields {
        name: input.name.as_str(),
        organisation_id: input.organisation_id,
        lang: input.lang.map(|l| l.as_str()),
        filters: serde_json::to_string(&input.filters).map_err(|e| Error::Internal(e.into()))?,
    })
}

/// Creates a feed; returns it with its token, which is not stored.
pub fn create(
    conn: &mut DbConnection,
    input: &FeedInput,
    now: DateTime<Utc>,
) -> Result<(Feed, String)> {
    let values = fields(conn, input)?;
    let (token, hash) = feed::generate_token();
    let id = diesel::insert_into(feeds::table)
        .values((
            values,
            feeds::token_hash.eq(&hash),
            feeds::created_at.eq(now.naive_utc()),
            feeds::updated_at.eq(now.naive_utc()),
        ))
        .returning(feeds::id)
        .get_result(conn)?;
    Ok((get(conn, id)?, token))
}

pub fn get(conn: &mut DbConnection, id: i64) -> Result<Feed> {
    feeds::table
        .find(id)
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| Error::not_found("feed", id))?
        .into_domain()
}

pub fn list(conn: &mut DbConnection) -> Result<Vec<Feed>> {
    feeds::table
        .order(feeds::id)
        .select(Row::as_select())
        .load(conn)?
        .into_iter()
        .map(Row::into_domain)
        .collect()
}

/// The live feed behind a token, if any. Revoked and unknown tokens look alike.
pub fn find_by_token(conn: &mut DbConnection, token: &str) -> Result<Option<Feed>> {
    feeds::table
        .filter(feeds::token_hash.eq(feed::hash_token(token)))
        .filter(feeds::revoked_at.is_null())
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .map(Row::into_domain)
        .transpose()
}

pub fn update(
    conn: &mut DbConnection,
    id: i64,
    expected_version: i32,
    input: &FeedInput,
    now: DateTime<Utc>,
) -> Result<Feed> {
    let values = fields(conn, input)?;
    update_versioned(conn, id, expected_version, now, values)?;
    get(conn, id)
}

/// Replaces the token: the old URL stops working at once.
pub fn rotate(conn: &mut DbConnection, id: i64, now: DateTime<Utc>) -> Result<(Feed, String)> {
    let (token, hash) = feed::generate_token();
    let updated = diesel::update(feeds::table.find(id).filter(feeds::revoked_at.is_null()))
        .set((
            feeds::token_hash.eq(&hash),
            feeds::version.eq(feeds::version + 1),
            feeds::updated_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    if updated == 0 {
        return Err(Error::not_found("feed", id));
    }
    Ok((get(conn, id)?, token))
}

/// Revokes the feed: its URL answers 404 from now on. The record stays, so the
/// list shows what existed and when it was revoked.
pub fn revoke(conn: &mut DbConnection, id: i64, now: DateTime<Utc>) -> Result<()> {
    let updated = diesel::update(feeds::table.find(id).filter(feeds::revoked_at.is_null()))
        .set((
            feeds::revoked_at.eq(now.naive_utc()),
            feeds::version.eq(feeds::version + 1),
            feeds::updated_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    if updated == 0 {
        return Err(Error::not_found("feed", id));
    }
    Ok(())
}

fn current_version(conn: &mut DbConnection, id: i64) -> Result<Option<i32>> {
    Ok(feeds::table
        .find(id)
        .select(feeds::version)
        .first(conn)
        .optional()?)
}

fn update_versioned(
    conn: &mut DbConnection,
    id: i64,
    expected: i32,
    now: DateTime<Utc>,
    values: Fields<'_>,
) -> Result<()> {
    let updated = diesel::update(
        feeds::table
            .find(id)
            .filter(feeds::version.eq(expected))
            .filter(feeds::revoked_at.is_null()),
    )
    .set((
        values,
        feeds::version.eq(expected + 1),
        feeds::updated_at.eq(now.naive_utc()),
    ))
    .execute(conn)?;
    super::check_updated(updated, "feed", id, expected, || current_version(conn, id))
}
