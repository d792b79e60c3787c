//! Accounts on social networks, with sealed credentials and cached limits.

use super::outbound_schema::channel_accounts;
use super::{DbConnection, utc};
use crate::domain::network::Network;
use crate::error::{Error, Result};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = channel_accounts)]
pub struct Row {
    pub id: i64,
    pub network: Network,
    pub base_url: String,
    pub handle: Option<String>,
    pub sealed_credentials: Option<String>,
    pub limits: Option<String>,
    pub limits_fetched_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub channel_id: Option<i64>,
    pub sealed_session: Option<String>,
    pub name: Option<String>,
    pub disabled_at: Option<NaiveDateTime>,
    pub deleted_at: Option<NaiveDateTime>,
    pub credentials_version: i32,
    /// JSON: a manual account's recipients and default language.
    pub config: Option<String>,
}

/// The context an account's credentials are sealed for: its id and the
/// version of its credentials (each rotation a new one), so that a sealed
/// secret of an earlier version does not open any more.
pub fn credentials_context(id: i64, version: i32) -> String {
    if version <= 1 {
        format!("channel_account:{id}")
    } else {
        format!("channel_account:{id}:v{version}")
    }
}

impl Row {
    /// The context this row's sealed credentials open with.
    pub fn credentials_context(&self) -> String {
        credentials_context(self.id, self.credentials_version)
    }

    pub fn is_disabled(&self) -> bool {
        self.disabled_at.is_some()
    }
}

pub fn insert(
    conn: &mut DbConnection,
    network: Network,
    name: Option<&str>,
    base_url: &str,
    handle: Option<&str>,
    now: DateTime<Utc>,
) -> Result<i64> {
    Ok(diesel::insert_into(channel_accounts::table)
        .values((
            channel_accounts::network.eq(network),
            channel_accounts::name.eq(name),
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

/// New credentials, sealed for `version` (the previous plus one); the
/// session made with the old ones is dropped with them.
pub fn rotate_credentials(
    conn: &mut DbConnection,
    id: i64,
    sealed: &str,
    version: i32,
    now: DateTime<Utc>,
) -> Result<()> {
    diesel::update(channel_accounts::table.find(id))
        .set((
            channel_accounts::sealed_credentials.eq(Some(sealed)),
            channel_accounts::credentials_version.eq(version),
            channel_accounts::sealed_session.eq(None::<String>),
            channel_accounts::updated_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Name, URL and handle as given; a new URL forgets the limits read from
/// the old one.
pub fn set_details(
    conn: &mut DbConnection,
    id: i64,
    name: Option<&str>,
    base_url: &str,
    handle: Option<&str>,
    url_changed: bool,
    now: DateTime<Utc>,
) -> Result<()> {
    diesel::update(channel_accounts::table.find(id))
        .set((
            channel_accounts::name.eq(name),
            channel_accounts::base_url.eq(base_url),
            channel_accounts::handle.eq(handle),
            channel_accounts::updated_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    if url_changed {
        diesel::update(channel_accounts::table.find(id))
            .set((
                channel_accounts::limits.eq(None::<String>),
                channel_accounts::limits_fetched_at.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The account's settings (JSON), or none.
pub fn set_config(
    conn: &mut DbConnection,
    id: i64,
    config: Option<&str>,
    now: DateTime<Utc>,
) -> Result<()> {
    diesel::update(channel_accounts::table.find(id))
        .set((
            channel_accounts::config.eq(config),
            channel_accounts::updated_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn set_disabled(
    conn: &mut DbConnection,
    id: i64,
    disabled: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<()> {
    diesel::update(channel_accounts::table.find(id))
        .set((
            channel_accounts::disabled_at.eq(disabled.map(|d| d.naive_utc())),
            channel_accounts::updated_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Deletes the account: its credentials and session erased, its channel
/// freed; the row stays for the publications that refer to it.
pub fn mark_deleted(conn: &mut DbConnection, id: i64, now: DateTime<Utc>) -> Result<()> {
    diesel::update(channel_accounts::table.find(id))
        .set((
            channel_accounts::sealed_credentials.eq(None::<String>),
            channel_accounts::sealed_session.eq(None::<String>),
            channel_accounts::channel_id.eq(None::<i64>),
            channel_accounts::deleted_at.eq(Some(now.naive_utc())),
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

/// The accounts not deleted.
pub fn list(conn: &mut DbConnection) -> Result<Vec<Row>> {
    Ok(channel_accounts::table
        .filter(channel_accounts::deleted_at.is_null())
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
    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }

    pub fn limits_fetched_at(&self) -> Option<DateTime<Utc>> {
        self.limits_fetched_at.map(utc)
    }
}
