//! Queries for reminders and the weekly digest: account preferences, the
//! reviews that have waited, whose items an account's are, and the
//! newsletter issues scheduled soon. The rules are in `crate::reminders`.

use super::DbConnection;
use super::reviews::Row as ReviewRow;
use super::schema::{
    account_preferences, activities, newsletter_issues, participations, people, reviews,
};
use crate::domain::newsletter::IssueState;
use crate::domain::review::ReviewState;
use crate::error::Result;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use std::collections::HashSet;

diesel::define_sql_function! {
    /// SQL's `lower`, the same in SQLite and PostgreSQL.
    fn lower(x: diesel::sql_types::Nullable<diesel::sql_types::Text>) -> diesel::sql_types::Nullable<diesel::sql_types::Text>;
}

/// The people recorded with this email address, whatever its case: an
/// account is these people (accounts keep their email lowercased).
pub fn people_with_email(conn: &mut DbConnection, email: &str) -> Result<Vec<i64>> {
    Ok(people::table
        .filter(lower(people::email).eq(email.to_lowercase()))
        .select(people::id)
        .order(people::id)
        .load(conn)?)
}

/// The activities these people own or take part in.
pub fn activities_of_people(conn: &mut DbConnection, person_ids: &[i64]) -> Result<HashSet<i64>> {
    if person_ids.is_empty() {
        return Ok(HashSet::new());
    }
    let owned: Vec<i64> = activities::table
        .filter(activities::owner_person_id.eq_any(person_ids))
        .select(activities::id)
        .load(conn)?;
    let joined: Vec<i64> = participations::table
        .filter(participations::person_id.eq_any(person_ids))
        .select(participations::activity_id)
        .load(conn)?;
    Ok(owned.into_iter().chain(joined).collect())
}

/// A newsletter issue waiting for its scheduled time.
#[derive(Debug, Clone, Queryable)]
pub struct ScheduledIssue {
    pub id: i64,
    pub activity_id: Option<i64>,
    pub scheduled_at: chrono::NaiveDateTime,
}

/// Issues in the `scheduled` state whose time is after `after` and at or
/// before `until`, soonest first.
pub fn scheduled_issues(
    conn: &mut DbConnection,
    after: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<ScheduledIssue>> {
    Ok(newsletter_issues::table
        .filter(newsletter_issues::state.eq(IssueState::Scheduled.as_str()))
        .filter(newsletter_issues::scheduled_at.gt(after.naive_utc()))
        .filter(newsletter_issues::scheduled_at.le(until.naive_utc()))
        .order((newsletter_issues::scheduled_at, newsletter_issues::id))
        .select((
            newsletter_issues::id,
            newsletter_issues::activity_id,
            newsletter_issues::scheduled_at.assume_not_null(),
        ))
        .load(conn)?)
}

/// The activities that have a newsletter issue waiting for its scheduled
/// time: such an issue's own time is reminded of, not the activity's.
pub fn with_scheduled_issue(conn: &mut DbConnection, activity_ids: &[i64]) -> Result<HashSet<i64>> {
    if activity_ids.is_empty() {
        return Ok(HashSet::new());
    }
    let ids: Vec<Option<i64>> = newsletter_issues::table
        .filter(newsletter_issues::state.eq(IssueState::Scheduled.as_str()))
        .filter(newsletter_issues::activity_id.eq_any(activity_ids))
        .select(newsletter_issues::activity_id)
        .load(conn)?;
    Ok(ids.into_iter().flatten().collect())
}

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
