//! What changed, and when, for caches that must notice every change — including
//! deletions, which leave no row behind — and changes made by other processes.

use super::DbConnection;
use super::schema::{activities, deletions, feeds};
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

/// A cheap summary that differs whenever activities or feeds changed: compared
/// by the process-wide poller to notice writes made by other `pregon` processes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    activities: (i64, Option<i64>, Option<NaiveDateTime>),
    feeds: (i64, Option<NaiveDateTime>),
    deleted: Option<NaiveDateTime>,
}

pub fn marker(conn: &mut DbConnection) -> Result<Marker> {
    let activities = activities::table
        .select((
            diesel::dsl::count_star(),
            diesel::dsl::max(activities::id),
            diesel::dsl::max(activities::updated_at),
        ))
        .first(conn)?;
    let feeds = feeds::table
        .select((
            diesel::dsl::count_star(),
            diesel::dsl::max(feeds::updated_at),
        ))
        .first(conn)?;
    let deleted = deletions::table
        .select(diesel::dsl::max(deletions::last_deleted_at))
        .first(conn)?;
    Ok(Marker {
        activities,
        feeds,
        deleted,
    })
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
