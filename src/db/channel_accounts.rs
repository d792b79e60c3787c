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
