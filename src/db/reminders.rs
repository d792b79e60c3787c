//! Queries for reminders and the weekly digest: account preferences and the
//! reviews that have waited. The rules are in `crate::reminders`.

use super::DbConnection;
use super::reviews::Row as ReviewRow;
use super::schema::{account_preferences, reviews};
use crate::domain::review::ReviewState;
use crate::error::Result;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use std::collections::HashSet;

/// Whether the account receives the weekly digest (no row: yes).
pub fn weekly_digest(conn: &mut DbConnection, account_id: i64) -> Result<bool> {
    let stored: Option<bool> = account_preferences::table
        .find(account_id)
        .select(account_preferences::weekly_digest)
        .first(conn)
        .optional()?;
    Ok(stored.unwrap_or(true))
}

/// Sets whether the account receives the weekly digest.
pub fn set_weekly_digest(
    conn: &mut DbConnection,
    account_id: i64,
    on: bool,
    now: DateTime<Utc>,
) -> Result<()> {
    let updated = diesel::update(account_preferences::table.find(account_id))
        .set((
            account_preferences::weekly_digest.eq(on),
            account_preferences::updated_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(account_preferences::table)
            .values((
                account_preferences::account_id.eq(account_id),
                account_preferences::weekly_digest.eq(on),
                account_preferences::updated_at.eq(now.naive_utc()),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The accounts that turned the weekly digest off.
pub fn digest_opted_out(conn: &mut DbConnection) -> Result<HashSet<i64>> {
    let ids: Vec<i64> = account_preferences::table
        .filter(account_preferences::weekly_digest.eq(false))
        .select(account_preferences::account_id)
        .load(conn)?;
    Ok(ids.into_iter().collect())
}

/// Reviews in review whose last move was at or before `before` (all of
/// them with `None`), oldest first.
pub fn in_review(conn: &mut DbConnection, before: Option<DateTime<Utc>>) -> Result<Vec<ReviewRow>> {
    let mut query = reviews::table
        .filter(reviews::state.eq(ReviewState::InReview.as_str()))
        .select(ReviewRow::as_select())
        .order((reviews::updated_at, reviews::entity, reviews::entity_id))
        .into_boxed();
    if let Some(before) = before {
        query = query.filter(reviews::updated_at.le(before.naive_utc()));
    }
    Ok(query.load(conn)?)
}
