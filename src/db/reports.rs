//! Queries for the progress report: the records of one plan, read in a few
//! bulk queries. What they mean (done, late, open) is decided in `report`.

use super::schema::{
    channels, deliveries, history, newsletter_issue_translations, newsletter_issues, organisations,
    people,
};
use super::{DbConnection, raw_sql};
use crate::error::Result;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Timestamp};
use std::collections::HashMap;

/// A channel as the report names it.
#[derive(Debug, Clone, Queryable)]
pub struct ChannelRow {
    pub id: i64,
    pub slug: String,
    pub kind: String,
    pub name: String,
    pub url: Option<String>,
}

pub fn channels(conn: &mut DbConnection) -> Result<Vec<ChannelRow>> {
    Ok(channels::table
        .order(channels::id)
        .select((
            channels::id,
            channels::slug,
            channels::kind,
            channels::name,
            channels::url,
        ))
        .load(conn)?)
}

/// Organisation names by id.
pub fn organisation_names(conn: &mut DbConnection) -> Result<HashMap<i64, String>> {
    Ok(organisations::table
        .select((organisations::id, organisations::name))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .collect())
}

/// People's names and titles by id (for owners and participants).
pub fn people(conn: &mut DbConnection) -> Result<HashMap<i64, (String, Option<String>)>> {
    Ok(people::table
        .select((people::id, people::name, people::title))
        .load::<(i64, String, Option<String>)>(conn)?
        .into_iter()
        .map(|(id, name, title)| (id, (name, title)))
        .collect())
}

/// One history entry about an activity, as the report reads it.
#[derive(Debug, Clone, Queryable)]
pub struct HistoryRow {
    pub id: i64,
    pub at: NaiveDateTime,
    pub entity_id: i64,
    pub action: String,
    pub changes: String,
    pub reason: Option<String>,
}

/// Every history entry about activities up to `until`, oldest first.
pub fn activity_history(conn: &mut DbConnection, until: NaiveDateTime) -> Result<Vec<HistoryRow>> {
    Ok(history::table
        .filter(history::entity.eq("activity"))
        .filter(history::at.le(until))
        .order(history::id)
        .select((
            history::id,
            history::at,
            history::entity_id,
            history::action,
            history::changes,
            history::reason,
        ))
        .load(conn)?)
}

/// A newsletter issue tied to an activity.
#[derive(Debug, Clone, Queryable)]
pub struct IssueRow {
    pub id: i64,
    pub name: String,
    pub activity_id: Option<i64>,
    pub state: String,
    pub started_at: Option<NaiveDateTime>,
    pub finished_at: Option<NaiveDateTime>,
}

/// The issues tied to any of `activity_ids` that started sending, by start.
pub fn issues_of(conn: &mut DbConnection, activity_ids: &[i64]) -> Result<Vec<IssueRow>> {
    let mut out = Vec::new();
    for chunk in activity_ids.chunks(5000) {
        out.extend(
            newsletter_issues::table
                .filter(newsletter_issues::activity_id.eq_any(chunk))
                .filter(newsletter_issues::started_at.is_not_null())
                .select((
                    newsletter_issues::id,
                    newsletter_issues::name,
                    newsletter_issues::activity_id,
                    newsletter_issues::state,
                    newsletter_issues::started_at,
                    newsletter_issues::finished_at,
                ))
                .load::<IssueRow>(conn)?,
        );
    }
    out.sort_by_key(|i| (i.started_at, i.id));
    Ok(out)
}

/// Subjects of issues by id and language.
pub fn issue_subjects(
    conn: &mut DbConnection,
    issue_ids: &[i64],
) -> Result<HashMap<i64, Vec<(String, String)>>> {
    let mut out: HashMap<i64, Vec<(String, String)>> = HashMap::new();
    for (id, lang, subject) in newsletter_issue_translations::table
        .filter(newsletter_issue_translations::issue_id.eq_any(issue_ids))
        .select((
            newsletter_issue_translations::issue_id,
            newsletter_issue_translations::lang,
            newsletter_issue_translations::subject,
        ))
        .load::<(i64, String, String)>(conn)?
    {
        out.entry(id).or_default().push((lang, subject));
    }
    Ok(out)
}

/// Delivery counts of one issue: newsletter deliveries by state, and those
/// accepted by the relay that bounced afterwards.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryCounts {
    pub recipients: i64,
    pub sent: i64,
    pub failed: i64,
    pub unknown: i64,
    pub pending: i64,
    pub cancelled: i64,
    pub bounced: i64,
}

/// The counts of each of `issue_ids`, from one grouped query.
pub fn delivery_counts(
    conn: &mut DbConnection,
    issue_ids: &[i64],
) -> Result<HashMap<i64, DeliveryCounts>> {
    let mut out: HashMap<i64, DeliveryCounts> = HashMap::new();
    let rows: Vec<(Option<i64>, String, i64)> = deliveries::table
        .filter(deliveries::issue_id.eq_any(issue_ids))
        .filter(deliveries::kind.eq("newsletter"))
        .group_by((deliveries::issue_id, deliveries::state))
        .select((
            deliveries::issue_id,
            deliveries::state,
            diesel::dsl::count_star(),
        ))
        .load(conn)?;
    for (issue, state, n) in rows {
        let Some(issue) = issue else { continue };
        let c = out.entry(issue).or_default();
        c.recipients += n;
        match state.as_str() {
            "sent" => c.sent += n,
            "failed" => c.failed += n,
            "unknown" => c.unknown += n,
            "cancelled" => c.cancelled += n,
            _ => c.pending += n,
        }
    }
    let bounced: Vec<(Option<i64>, i64)> = deliveries::table
        .filter(deliveries::issue_id.eq_any(issue_ids))
        .filter(deliveries::kind.eq("newsletter"))
        .filter(deliveries::state.eq("sent"))
        .filter(deliveries::bounced_at.is_not_null())
        .group_by(deliveries::issue_id)
        .select((deliveries::issue_id, diesel::dsl::count_star()))
        .load(conn)?;
    for (issue, n) in bounced {
        if let Some(issue) = issue {
            out.entry(issue).or_default().bounced += n;
        }
    }
    Ok(out)
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Recipients of `issue_id` whose subscription ended in `[from, until)`
/// (`until` open when `None`): the unsubscriptions after that issue.
pub fn unsubscribed_after(
    conn: &mut DbConnection,
    issue_id: i64,
    from: NaiveDateTime,
    until: Option<NaiveDateTime>,
) -> Result<i64> {
    // Deliveries name the subscriber, not the subscription: the issue's lists
    // say which subscriptions it went out on.
    let found: Vec<Count> = raw_sql!(
        conn,
        "SELECT COUNT(DISTINCT s.subscriber_id) AS n FROM subscriptions s \
         WHERE s.unsubscribed_at IS NOT NULL \
           AND s.unsubscribed_at >= ? AND (? IS NULL OR s.unsubscribed_at < ?) \
           AND s.list_id IN (SELECT il.list_id FROM newsletter_issue_lists il WHERE il.issue_id = ?) \
           AND s.subscriber_id IN (SELECT d.subscriber_id FROM deliveries d \
                WHERE d.issue_id = ? AND d.kind = 'newsletter' AND d.subscriber_id IS NOT NULL)",
        load::<Count>;
        Timestamp => from,
        Nullable<Timestamp> => until,
        Nullable<Timestamp> => until,
        BigInt => issue_id,
        BigInt => issue_id,
    )?;
    Ok(found.first().map(|c| c.n).unwrap_or(0))
}
