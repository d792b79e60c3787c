//! When activities last changed, for feeds' Last-Modified — including deletions,
//! which leave no row behind.

use super::DbConnection;
use super::schema::{activities, deletions};
use crate::error::Result;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

/// Notes that a record of `entity` was deleted at `now`.
pub fn record_deletion(conn: &mut DbConnection, entity: &str, now: DateTime<Utc>) -> Result<()> {
    let updated = diesel::update(deletions::table.find(entity))
        .set(deletions::last_deleted_at.eq(now.naive_utc()))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(deletions::table)
            .values((
                deletions::entity.eq(entity),
                deletions::last_deleted_at.eq(now.naive_utc()),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn last_deletion(conn: &mut DbConnection, entity: &str) -> Result<Option<DateTime<Utc>>> {
    Ok(deletions::table
        .find(entity)
        .select(deletions::last_deleted_at)
        .first::<NaiveDateTime>(conn)
        .optional()?
        .map(|t| t.and_utc()))
}

/// The latest change to any activity (edited or deleted): feeds use it as
/// Last-Modified, so it only ever moves forward.
pub fn activities_changed_at(conn: &mut DbConnection) -> Result<Option<DateTime<Utc>>> {
    let edited: Option<NaiveDateTime> = activities::table
        .select(diesel::dsl::max(activities::updated_at))
        .first(conn)?;
    let deleted = last_deletion(conn, "activity")?;
    Ok(edited.map(|t| t.and_utc()).max(deleted))
}
