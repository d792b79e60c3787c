//! Webhook endpoints, their sealed secrets and their delivery log.

use super::outbound_schema::{webhook_deliveries, webhook_endpoints, webhook_secrets};
use super::{DbConnection, utc};
use crate::domain::webhook::{EventType, SecretInfo, Webhook};
use crate::error::{Error, Result};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_endpoints)]
pub struct Row {
    pub id: i64,
    pub url: String,
    pub description: Option<String>,
    pub event_types: String,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Row {
    pub fn event_types(&self) -> Vec<EventType> {
        serde_json::from_str(&self.event_types).unwrap_or_default()
    }
}

pub struct Fields<'a> {
    pub url: &'a str,
    pub description: Option<&'a str>,
    pub event_types: &'a [EventType],
    pub enabled: bool,
}

fn types_json(types: &[EventType]) -> String {
    serde_json::to_string(types).unwrap_or_else(|_| "[]".into())
}

pub fn insert(conn: &mut DbConnection, f: &Fields<'_>, now: DateTime<Utc>) -> Result<i64> {
    Ok(diesel::insert_into(webhook_endpoints::table)
        .values((
            webhook_endpoints::url.eq(f.url),
            webhook_endpoints::description.eq(f.description),
            webhook_endpoints::event_types.eq(types_json(f.event_types)),
            webhook_endpoints::enabled.eq(f.enabled),
            webhook_endpoints::created_at.eq(now.naive_utc()),
            webhook_endpoints::updated_at.eq(now.naive_utc()),
        ))
        .returning(webhook_endpoints::id)
        .get_result(conn)?)
}

pub fn update(conn: &mut DbConnection, id: i64, f: &Fields<'_>, now: DateTime<Utc>) -> Result<()> {
    let n = diesel::update(webhook_endpoints::table.find(id))
        .set((
            webhook_endpoints::url.eq(f.url),
            webhook_endpoints::description.eq(f.description),
            webhook_endpoints::event_types.eq(types_json(f.event_types)),
            webhook_endpoints::enabled.eq(f.enabled),
            webhook_endpoints::version.eq(webhook_endpoints::version + 1),
            webhook_endpoints::updated_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    if f.enabled {
        diesel::update(webhook_endpoints::table.find(id))
            .set(webhook_endpoints::disabled_reason.eq(None::<String>))
            .execute(conn)?;
    }
    if n == 0 {
        return Err(Error::not_found("webhook", id));
    }
    Ok(())
}

/// A receiver that answered 410 Gone is not sent anything more.
pub fn disable(conn: &mut DbConnection, id: i64, reason: &str, now: DateTime<Utc>) -> Result<bool> {
    Ok(diesel::update(
        webhook_endpoints::table
            .find(id)
            .filter(webhook_endpoints::enabled.eq(true)),
    )
    .set((
        webhook_endpoints::enabled.eq(false),
        webhook_endpoints::disabled_reason.eq(Some(reason)),
        webhook_endpoints::version.eq(webhook_endpoints::version + 1),
        webhook_endpoints::updated_at.eq(now.naive_utc()),
    ))
    .execute(conn)?
        > 0)
}

pub fn delete(conn: &mut DbConnection, id: i64) -> Result<()> {
    // The log goes with the endpoint: its jobs are deleted with it.
    let jobs: Vec<i64> = webhook_deliveries::table
        .filter(webhook_deliveries::endpoint_id.eq(id))
        .select(webhook_deliveries::job_id)
        .load(conn)?;
    if diesel::delete(webhook_endpoints::table.find(id)).execute(conn)? == 0 {
        return Err(Error::not_found("webhook", id));
    }
    use super::outbound_schema::jobs;
    diesel::delete(jobs::table.filter(jobs::id.eq_any(jobs))).execute(conn)?;
    Ok(())
}

pub fn get_row(conn: &mut DbConnection, id: i64) -> Result<Row> {
    webhook_endpoints::table
        .find(id)
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| Error::not_found("webhook", id))
}

pub fn get(conn: &mut DbConnection, id: i64, now: DateTime<Utc>) -> Result<Webhook> {
    let row = get_row(conn, id)?;
    view(conn, row, now)
}

fn view(conn: &mut DbConnection, row: Row, now: DateTime<Utc>) -> Result<Webhook> {
    let secrets = secrets(conn, row.id, now)?
        .into_iter()
        .map(|s| SecretInfo {
            id: s.id,
            created_at: s.created_at,
            expires_at: s.expires_at,
        })
        .collect();
    Ok(Webhook {
        id: row.id,
        event_types: row.event_types(),
        url: row.url,
        description: row.description,
        enabled: row.enabled,
        disabled_reason: row.disabled_reason,
        secrets,
        version: row.version,
        created_at: utc(row.created_at),
        updated_at: utc(row.updated_at),
    })
}

pub fn list(conn: &mut DbConnection, now: DateTime<Utc>) -> Result<Vec<Webhook>> {
    let rows: Vec<Row> = webhook_endpoints::table
        .order(webhook_endpoints::id)
        .select(Row::as_select())
        .load(conn)?;
    rows.into_iter().map(|r| view(conn, r, now)).collect()
}

/// Enabled endpoints subscribed to `event`.
pub fn subscribed(conn: &mut DbConnection, event: EventType) -> Result<Vec<i64>> {
    let rows: Vec<Row> = webhook_endpoints::table
        .filter(webhook_endpoints::enabled.eq(true))
        .select(Row::as_select())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter(|r| r.event_types().contains(&event))
        .map(|r| r.id)
        .collect())
}

pub struct SealedSecret {
    pub id: i64,
    pub sealed: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// The secrets that sign now, newest first.
pub fn secrets(
    conn: &mut DbConnection,
    endpoint: i64,
    now: DateTime<Utc>,
) -> Result<Vec<SealedSecret>> {
    let rows: Vec<(i64, String, NaiveDateTime, Option<NaiveDateTime>)> = webhook_secrets::table
        .filter(webhook_secrets::endpoint_id.eq(endpoint))
        .filter(
            webhook_secrets::expires_at
                .is_null()
                .or(webhook_secrets::expires_at.gt(now.naive_utc())),
        )
        .order(webhook_secrets::id.desc())
        .select((
            webhook_secrets::id,
            webhook_secrets::sealed,
            webhook_secrets::created_at,
            webhook_secrets::expires_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, sealed, created, expires)| SealedSecret {
            id,
            sealed,
            created_at: utc(created),
            expires_at: expires.map(utc),
        })
        .collect())
}

/// The endpoints with these ids (those that still exist).
pub fn rows(conn: &mut DbConnection, ids: &[i64]) -> Result<Vec<Row>> {
    Ok(webhook_endpoints::table
        .filter(webhook_endpoints::id.eq_any(ids))
        .select(Row::as_select())
        .load(conn)?)
}

/// The secrets that sign now for each of these endpoints, newest first:
/// (endpoint id, secret).
pub fn signing_secrets(
    conn: &mut DbConnection,
    endpoints: &[i64],
    now: DateTime<Utc>,
) -> Result<Vec<(i64, SealedSecret)>> {
    type SecretRow = (i64, i64, String, NaiveDateTime, Option<NaiveDateTime>);
    let rows: Vec<SecretRow> = webhook_secrets::table
        .filter(webhook_secrets::endpoint_id.eq_any(endpoints))
        .filter(
            webhook_secrets::expires_at
                .is_null()
                .or(webhook_secrets::expires_at.gt(now.naive_utc())),
        )
        .order((webhook_secrets::endpoint_id, webhook_secrets::id.desc()))
        .select((
            webhook_secrets::endpoint_id,
            webhook_secrets::id,
            webhook_secrets::sealed,
            webhook_secrets::created_at,
            webhook_secrets::expires_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(endpoint, id, sealed, created, expires)| {
            (
                endpoint,
                SealedSecret {
                    id,
                    sealed,
                    created_at: utc(created),
                    expires_at: expires.map(utc),
                },
            )
        })
        .collect())
}

/// Adds a secret; the ones that signed until now expire at `others_expire`.
/// Returns the new secret's id (its sealed value is set by `seal_secret`,
/// since the id is bound into the sealing).
pub fn add_secret(
    conn: &mut DbConnection,
    endpoint: i64,
    others_expire: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<i64> {
    diesel::update(
        webhook_secrets::table
            .filter(webhook_secrets::endpoint_id.eq(endpoint))
            .filter(
                webhook_secrets::expires_at
                    .is_null()
                    .or(webhook_secrets::expires_at.gt(others_expire.naive_utc())),
            ),
    )
    .set(webhook_secrets::expires_at.eq(Some(others_expire.naive_utc())))
    .execute(conn)?;
    Ok(diesel::insert_into(webhook_secrets::table)
        .values((
            webhook_secrets::endpoint_id.eq(endpoint),
            webhook_secrets::sealed.eq(""),
            webhook_secrets::created_at.eq(now.naive_utc()),
        ))
        .returning(webhook_secrets::id)
        .get_result(conn)?)
}

pub fn seal_secret(conn: &mut DbConnection, id: i64, sealed: &str) -> Result<()> {
    diesel::update(webhook_secrets::table.find(id))
        .set(webhook_secrets::sealed.eq(sealed))
        .execute(conn)?;
    Ok(())
}

pub fn record_delivery(
    conn: &mut DbConnection,
    job_id: i64,
    endpoint: i64,
    event_id: &str,
    event: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    diesel::insert_into(webhook_deliveries::table)
        .values((
            webhook_deliveries::job_id.eq(job_id),
            webhook_deliveries::endpoint_id.eq(endpoint),
            webhook_deliveries::event_id.eq(event_id),
            webhook_deliveries::event_type.eq(event),
            webhook_deliveries::created_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    Ok(())
}

/// The jobs of one endpoint, newest first.
pub fn deliveries(
    conn: &mut DbConnection,
    endpoint: i64,
    limit: i64,
    offset: i64,
) -> Result<Vec<i64>> {
    Ok(webhook_deliveries::table
        .filter(webhook_deliveries::endpoint_id.eq(endpoint))
        .order(webhook_deliveries::job_id.desc())
        .limit(limit)
        .offset(offset)
        .select(webhook_deliveries::job_id)
        .load(conn)?)
}

pub fn delivery_count(conn: &mut DbConnection, endpoint: i64) -> Result<i64> {
    Ok(webhook_deliveries::table
        .filter(webhook_deliveries::endpoint_id.eq(endpoint))
        .count()
        .get_result(conn)?)
}

/// The endpoint a delivery job belongs to.
pub fn delivery_endpoint(conn: &mut DbConnection, job_id: i64) -> Result<Option<i64>> {
    Ok(webhook_deliveries::table
        .find(job_id)
        .select(webhook_deliveries::endpoint_id)
        .first(conn)
        .optional()?)
}
