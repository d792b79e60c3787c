//! Accounts on social networks, with sealed credentials and cached limits.

use super::outbound_schema::channel_accounts;
use super::{DbConnection, utc};
use crate::error::{Error, Result};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = channel_accounts)]
pub struct Row {
    pub id: i64,
    pub network: String,
    pub base_url: String,
    pub handle: Option<String>,
    pub sealed_credentials: Option<String>,
    pub limits: Option<String>,
    pub limits_fetched_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub channel_id: Option<i64>,
    pub sealed_session: Option<String>,
}

/// The context an account's credentials are sealed for.
pub fn credentials_context(id: i64) -> String {
    format!("channel_account:{id}")
}

pub fn insert(
    conn: &mut DbConnection,
    network: &str,
    base_url: &str,
    handle: Option<&str>,
    now: DateTime<Utc>,
) -> Result<i64> {
    Ok(diesel::insert_into(channel_accounts::table)
        .values((
            channel_accounts::network.eq(network),
            channel_accounts::base_url.eq(base_url),
            channel_accounts::handle.eq(handle),
            channel_accounts::created_at.eq(now.naive_utc()),
            channel_accounts::updated_at.eq(now.naive_utc()),
        ))
        .returning(channel_accounts::id)
        .get_result(conn)?)
}

pub fn set_credentials(
    conn: &mut DbConnection,
    id: i64,
    sealed: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    diesel::update(channel_accounts::table.find(id))
        .set((
            channel_accounts::sealed_credentials.eq(Some(sealed)),
            channel_accounts::updated_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn set_limits(
    conn: &mut DbConnection,
    id: i64,
    limits: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    diesel::update(channel_accounts::table.find(id))
        .set((
            channel_accounts::limits.eq(Some(limits)),
            channel_accounts::limits_fetched_at.eq(Some(now.naive_utc())),
        ))
        .execute(conn)?;
    Ok(())
}

/// The context a Bluesky account's session is sealed for.
pub fn session_context(id: i64) -> String {
    format!("channel_account:{id}:session")
}

/// Links the account to the channel it publishes for (one account per channel).
pub fn set_channel(
    conn: &mut DbConnection,
    id: i64,
    channel_id: Option<i64>,
    now: DateTime<Utc>,
) -> Result<()> {
    diesel::update(channel_accounts::table.find(id))
        .set((
            channel_accounts::channel_id.eq(channel_id),
            channel_accounts::updated_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn set_session(
    conn: &mut DbConnection,
    id: i64,
    sealed: Option<&str>,
    now: DateTime<Utc>,
) -> Result<()> {
    diesel::update(channel_accounts::table.find(id))
        .set((
            channel_accounts::sealed_session.eq(sealed),
            channel_accounts::updated_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    Ok(())
}

/// The account that publishes for `channel_id`, if any.
pub fn for_channel(conn: &mut DbConnection, channel_id: i64) -> Result<Option<Row>> {
    Ok(channel_accounts::table
        .filter(channel_accounts::channel_id.eq(channel_id))
        .select(Row::as_select())
        .first(conn)
        .optional()?)
}

pub fn list(conn: &mut DbConnection) -> Result<Vec<Row>> {
    Ok(channel_accounts::table
        .order(channel_accounts::id)
        .select(Row::as_select())
        .load(conn)?)
}

pub fn get(conn: &mut DbConnection, id: i64) -> Result<Row> {
    channel_accounts::table
        .find(id)
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| Error::not_found("channel account", id))
}

impl Row {
    pub fn limits_fetched_at(&self) -> Option<DateTime<Utc>> {
        self.limits_fetched_at.map(utc)
    }
}
