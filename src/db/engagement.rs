//! Queries on the networks' public counts of published post variants
//! (`post_engagement`): which variants can be read, and the last figures.

use super::outbound_schema::{channel_accounts, post_publications};
use super::{DbConnection, utc};
use crate::domain::network::{Network, PublicationState};
use crate::error::Result;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

diesel::table! {
    post_engagement (activity_id, channel_id, lang) {
        activity_id -> BigInt,
        channel_id -> BigInt,
        lang -> Text,
        replies -> Nullable<BigInt>,
        reposts -> Nullable<BigInt>,
        likes -> Nullable<BigInt>,
        quotes -> Nullable<BigInt>,
        read_at -> Nullable<Timestamp>,
        tried_at -> Timestamp,
        error -> Nullable<Text>,
    }
}

/// The publication state whose variants have counts to read (the column's
/// CHECK-constrained value for "published").
const PUBLISHED: PublicationState = PublicationState::Published;

/// A published variant whose counts can be read: where it is and through
/// which account.
#[derive(Debug, Clone, Queryable)]
pub struct Target {
    pub activity_id: i64,
    pub channel_id: i64,
    pub lang: String,
    pub account_id: i64,
    pub network: Network,
    pub base_url: String,
    /// Mastodon: the status id; Bluesky: the record's at:// URI.
    pub remote_id: String,
    pub published_at: NaiveDateTime,
}

/// Published variants on Mastodon or Bluesky with a remote id, published
/// at or after `since`, in a stable order.
pub fn targets(conn: &mut DbConnection, since: DateTime<Utc>) -> Result<Vec<Target>> {
    Ok(post_publications::table
        .inner_join(channel_accounts::table)
        .filter(post_publications::state.eq(PUBLISHED))
        .filter(post_publications::remote_id.is_not_null())
        .filter(channel_accounts::network.eq_any([Network::Mastodon, Network::Bluesky]))
        .filter(post_publications::updated_at.ge(since.naive_utc()))
        .order((
            post_publications::activity_id,
            post_publications::channel_id,
            post_publications::lang,
        ))
        .select((
            post_publications::activity_id,
            post_publications::channel_id,
            post_publications::lang,
            channel_accounts::id,
            channel_accounts::network,
            channel_accounts::base_url,
            post_publications::remote_id.assume_not_null(),
            post_publications::updated_at,
        ))
        .load(conn)?)
}

/// Whether any variant has counts to read (the planner's question).
pub fn any_target(conn: &mut DbConnection, since: DateTime<Utc>) -> Result<bool> {
    use diesel::dsl::exists;
    Ok(diesel::select(exists(
        post_publications::table
            .inner_join(channel_accounts::table)
            .filter(post_publications::state.eq(PUBLISHED))
            .filter(post_publications::remote_id.is_not_null())
            .filter(channel_accounts::network.eq_any([Network::Mastodon, Network::Bluesky]))
            .filter(post_publications::updated_at.ge(since.naive_utc())),
    ))
    .get_result(conn)?)
}

/// A network's counts of one post; `None` where the network gives none
/// (Mastodon has no quotes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub replies: Option<i64>,
    pub reposts: Option<i64>,
    pub likes: Option<i64>,
    pub quotes: Option<i64>,
}

/// Records the counts read at `now`.
pub fn record_read(
    conn: &mut DbConnection,
    key: (i64, i64, &str),
    counts: Counts,
    now: DateTime<Utc>,
) -> Result<()> {
    let (activity, channel, lang) = key;
    let at = now.naive_utc();
    let changed = diesel::update(post_engagement::table.find((activity, channel, lang)))
        .set((
            post_engagement::replies.eq(counts.replies),
            post_engagement::reposts.eq(counts.reposts),
            post_engagement::likes.eq(counts.likes),
            post_engagement::quotes.eq(counts.quotes),
            post_engagement::read_at.eq(Some(at)),
            post_engagement::tried_at.eq(at),
            post_engagement::error.eq(None::<String>),
        ))
        .execute(conn)?;
    if changed == 0 {
        diesel::insert_into(post_engagement::table)
            .values((
                post_engagement::activity_id.eq(activity),
                post_engagement::channel_id.eq(channel),
                post_engagement::lang.eq(lang),
                post_engagement::replies.eq(counts.replies),
                post_engagement::reposts.eq(counts.reposts),
                post_engagement::likes.eq(counts.likes),
                post_engagement::quotes.eq(counts.quotes),
                post_engagement::read_at.eq(Some(at)),
                post_engagement::tried_at.eq(at),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Records a failed read at `now`: the last figures and their time stay.
pub fn record_failure(
    conn: &mut DbConnection,
    key: (i64, i64, &str),
    error: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let (activity, channel, lang) = key;
    let at = now.naive_utc();
    let error: String = error.chars().take(500).collect();
    let changed = diesel::update(post_engagement::table.find((activity, channel, lang)))
        .set((
            post_engagement::tried_at.eq(at),
            post_engagement::error.eq(Some(&error)),
        ))
        .execute(conn)?;
    if changed == 0 {
        diesel::insert_into(post_engagement::table)
            .values((
                post_engagement::activity_id.eq(activity),
                post_engagement::channel_id.eq(channel),
                post_engagement::lang.eq(lang),
                post_engagement::tried_at.eq(at),
                post_engagement::error.eq(Some(&error)),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// One published variant of an activity with its last counts (the report's
/// rows).
#[derive(Debug, Clone)]
pub struct Row {
    pub activity_id: i64,
    pub channel_id: i64,
    pub lang: String,
    pub network: Network,
    pub url: Option<String>,
    pub counts: Counts,
    pub read_at: Option<DateTime<Utc>>,
    pub tried_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
}

type PublicationRow = (i64, i64, String, Network, Option<String>);
type EngagementRow = (
    i64,
    i64,
    String,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<NaiveDateTime>,
    NaiveDateTime,
    Option<String>,
);

/// The published variants of `activity_ids` with their last counts, if any
/// were read.
pub fn of_activities(conn: &mut DbConnection, activity_ids: &[i64]) -> Result<Vec<Row>> {
    let mut out = Vec::new();
    // Bounded lists keep each statement within the backends' parameter limits.
    for ids in activity_ids.chunks(500) {
        let published: Vec<PublicationRow> = post_publications::table
            .inner_join(channel_accounts::table)
            .filter(post_publications::activity_id.eq_any(ids))
            .filter(post_publications::state.eq(PUBLISHED))
            .order((
                post_publications::activity_id,
                post_publications::channel_id,
                post_publications::lang,
            ))
            .select((
                post_publications::activity_id,
                post_publications::channel_id,
                post_publications::lang,
                channel_accounts::network,
                post_publications::remote_url,
            ))
            .load(conn)?;
        let read: Vec<EngagementRow> = post_engagement::table
            .filter(post_engagement::activity_id.eq_any(ids))
            .select((
                post_engagement::activity_id,
                post_engagement::channel_id,
                post_engagement::lang,
                post_engagement::replies,
                post_engagement::reposts,
                post_engagement::likes,
                post_engagement::quotes,
                post_engagement::read_at,
                post_engagement::tried_at,
                post_engagement::error,
            ))
            .load(conn)?;
        let mut by_key: std::collections::HashMap<(i64, i64, String), EngagementRow> = read
            .into_iter()
            .map(|r| ((r.0, r.1, r.2.clone()), r))
            .collect();
        for (activity_id, channel_id, lang, network, url) in published {
            let e = by_key.remove(&(activity_id, channel_id, lang.clone()));
            out.push(Row {
                activity_id,
                channel_id,
                lang,
                network,
                url,
                counts: e
                    .as_ref()
                    .map(|e| Counts {
                        replies: e.3,
                        reposts: e.4,
                        likes: e.5,
                        quotes: e.6,
                    })
                    .unwrap_or_default(),
                read_at: e.as_ref().and_then(|e| e.7).map(utc),
                tried_at: e.as_ref().map(|e| utc(e.8)),
                error: e.and_then(|e| e.9),
            });
        }
    }
    Ok(out)
}
