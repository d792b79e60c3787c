//! The networks' public counts of published post variants, read on a
//! schedule and kept with the time they were read, for the progress report
//! (engagement, not reach: Pregón counts no readers).
//!
//! - **Mastodon**: `GET {instance}/api/v1/statuses/{id}` with the account's
//!   token: `replies_count`, `reblogs_count`, `favourites_count`.
//! - **Bluesky**: `GET {appview}/xrpc/app.bsky.feed.getPosts?uris=…` (25 a
//!   call, no sign-in: the counts are public) from `engagement.bluesky_appview`:
//!   `replyCount`, `repostCount`, `likeCount`, `quoteCount`.
//!
//! `Planner` enqueues one `social.engagement` job per `refresh_minutes` slot
//! (the key is the slot, so a second runner or a restart adds none) when a
//! variant published in the last `max_age_days` exists; the handler reads
//! every such variant. A read that fails (the network down, the post
//! deleted) records the error and when it was tried, and leaves the last
//! figures and the time they were read as they were.

use crate::clock::SharedClock;
use crate::config::EngagementSettings;
use crate::db::engagement::{self, Counts, Target};
use crate::db::{Db, DbConnection};
use crate::domain::network::Network;
use crate::error::Result;
use crate::jobs::outbound::Outbound;
use crate::jobs::sealed::Sealer;
use crate::jobs::{Attempt, Exchange, Handler, Job, NewJob, Outcome, RetryRules};
use chrono::{DateTime, TimeDelta, Utc};
use futures_util::future::BoxFuture;
use serde_json::{Value, json};
use std::collections::HashMap;

pub const KIND: &str = "social.engagement";

/// Bluesky's getPosts takes at most 25 URIs a call.
const BLUESKY_BATCH: usize = 25;

fn slot_of(settings: &EngagementSettings, now: DateTime<Utc>) -> i64 {
    let every = i64::from(settings.refresh_minutes.max(1)) * 60;
    now.timestamp().div_euclid(every)
}

fn oldest(settings: &EngagementSettings, now: DateTime<Utc>) -> DateTime<Utc> {
    now - TimeDelta::days(i64::from(settings.max_age_days))
}

/// Enqueues the read of the current slot, once.
pub struct Planner {
    settings: EngagementSettings,
    /// The last slot a job was enqueued (or found) for: the rest of the
    /// slot costs nothing.
    last_slot: std::sync::Mutex<Option<i64>>,
}

impl Planner {
    pub fn new(settings: EngagementSettings) -> Planner {
        Planner {
            settings,
            last_slot: std::sync::Mutex::new(None),
        }
    }
}

impl crate::jobs::Planner for Planner {
    fn name(&self) -> &'static str {
        "engagement"
    }

    fn plan(&self, conn: &mut DbConnection, now: DateTime<Utc>) -> Result<usize> {
        if !self.settings.enabled {
            return Ok(0);
        }
        let slot = slot_of(&self.settings, now);
        if *self.last_slot.lock().expect("engagement planner") == Some(slot) {
            return Ok(0);
        }
        if !engagement::any_target(conn, oldest(&self.settings, now))? {
            return Ok(0);
        }
        let enqueued = crate::jobs::enqueue(
            conn,
            &NewJob {
                kind: KIND,
                key: format!("slot:{slot}"),
                payload: json!({"slot": slot}),
                due_at: now,
            },
            now,
        )?;
        *self.last_slot.lock().expect("engagement planner") = Some(slot);
        Ok(usize::from(enqueued.created))
    }
}

/// Counts from a Mastodon status.
pub fn mastodon_counts(status: &Value) -> Option<Counts> {
    Some(Counts {
        replies: Some(status["replies_count"].as_i64()?),
        reposts: Some(status["reblogs_count"].as_i64()?),
        likes: Some(status["favourites_count"].as_i64()?),
        quotes: None,
    })
}

/// Counts by URI from a `getPosts` answer.
pub fn bluesky_counts(body: &Value) -> HashMap<String, Counts> {
    body["posts"]
        .as_array()
        .map(|posts| {
            posts
                .iter()
                .filter_map(|p| {
                    Some((
                        p["uri"].as_str()?.to_owned(),
                        Counts {
                            replies: p["replyCount"].as_i64(),
                            reposts: p["repostCount"].as_i64(),
                            likes: p["likeCount"].as_i64(),
                            quotes: p["quoteCount"].as_i64(),
                        },
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

type Read = std::result::Result<Counts, String>;

pub struct EngagementHandler {
    db: Db,
    outbound: Outbound,
    sealer: Sealer,
    clock: SharedClock,
    settings: EngagementSettings,
}

impl EngagementHandler {
    pub fn new(
        db: Db,
        outbound: Outbound,
        sealer: Sealer,
        clock: SharedClock,
        settings: EngagementSettings,
    ) -> EngagementHandler {
        EngagementHandler {
            db,
            outbound,
            sealer,
            clock,
            settings,
        }
    }

    async fn mastodon(&self, targets: &[&Target]) -> Vec<Read> {
        let mut tokens: HashMap<i64, std::result::Result<String, String>> = HashMap::new();
        let mut out = Vec::with_capacity(targets.len());
        for t in targets {
            let token = match tokens.get(&t.account_id) {
                Some(known) => known.clone(),
                None => {
                    let opened = super::account_and_secret(
                        &self.db,
                        &self.sealer,
                        t.account_id,
                        "access token",
                    )
                    .await
                    .map(|(_, secret)| secret)
                    .map_err(|attempt| match attempt.outcome {
                        Outcome::Failed { reason } => reason,
                        other => format!("{other:?}"),
                    });
                    tokens.insert(t.account_id, opened.clone());
                    opened
                }
            };
            let token = match token {
                Ok(token) => token,
                Err(e) => {
                    out.push(Err(e));
                    continue;
                }
            };
            let url = format!(
                "{}/api/v1/statuses/{}",
                t.base_url.trim_end_matches('/'),
                urlencoding(&t.remote_id)
            );
            out.push(self.mastodon_one(&url, &token).await);
        }
        out
    }

    async fn mastodon_one(&self, url: &str, token: &str) -> Read {
        let url = self.outbound.check(url)?;
        let response = self
            .outbound
            .client()
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| format!("Mastodon: {e}"))?;
        let status = response.status();
        if status.as_u16() == 404 {
            return Err("Mastodon answered 404: the status is gone (deleted?)".into());
        }
        if !status.is_success() {
            return Err(format!("Mastodon answered {status}"));
        }
        let body: Value = response
            .json()
            .await
            .map_err(|e| format!("Mastodon: {e}"))?;
        mastodon_counts(&body).ok_or_else(|| "Mastodon: the status carries no counts".into())
    }

    async fn bluesky(&self, targets: &[&Target]) -> Vec<Read> {
        let base = self.settings.bluesky_appview.trim_end_matches('/');
        let url = format!("{base}/xrpc/app.bsky.feed.getPosts");
        let mut out = Vec::with_capacity(targets.len());
        for batch in targets.chunks(BLUESKY_BATCH) {
            match self.bluesky_batch(&url, batch).await {
                Ok(found) => out.extend(batch.iter().map(|t| {
                    found.get(&t.remote_id).copied().ok_or_else(|| {
                        "Bluesky: the AppView does not know the post (deleted?)".to_owned()
                    })
                })),
                Err(e) => out.extend(batch.iter().map(|_| Err(e.clone()))),
            }
        }
        out
    }

    async fn bluesky_batch(
        &self,
        url: &str,
        batch: &[&Target],
    ) -> std::result::Result<HashMap<String, Counts>, String> {
        let url = self.outbound.check(url)?;
        let query: Vec<(&str, &str)> = batch
            .iter()
            .map(|t| ("uris", t.remote_id.as_str()))
            .collect();
        let response = self
            .outbound
            .client()
            .get(url)
            .query(&query)
            .send()
            .await
            .map_err(|e| format!("Bluesky: {e}"))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("Bluesky answered {status}"));
        }
        let body: Value = response.json().await.map_err(|e| format!("Bluesky: {e}"))?;
        Ok(bluesky_counts(&body))
    }

    async fn refresh(&self) -> Attempt {
        let since = oldest(&self.settings, self.clock.now());
        let targets = match self.db.run(move |c| engagement::targets(c, since)).await {
            Ok(t) => t,
            Err(e) => {
                return Attempt::new(Outcome::retry(None, e.to_string()), Exchange::default());
            }
        };
        let (mastodon, bluesky): (Vec<&Target>, Vec<&Target>) =
            targets.iter().partition(|t| t.network == Network::Mastodon);
        let mut reads: Vec<(&Target, Read)> = Vec::with_capacity(targets.len());
        reads.extend(mastodon.iter().copied().zip(self.mastodon(&mastodon).await));
        reads.extend(bluesky.iter().copied().zip(self.bluesky(&bluesky).await));
        let now = self.clock.now();
        let failed: Vec<String> = reads
            .iter()
            .filter_map(|(t, r)| {
                r.as_ref().err().map(|e| {
                    format!(
                        "activity {} channel {} {}: {e}",
                        t.activity_id, t.channel_id, t.lang
                    )
                })
            })
            .collect();
        let summary = format!(
            "read {} of {} posts{}",
            reads.len() - failed.len(),
            reads.len(),
            if failed.is_empty() {
                String::new()
            } else {
                format!("; not read: {}", failed.join("; "))
            }
        );
        let rows: Vec<(i64, i64, String, Read)> = reads
            .into_iter()
            .map(|(t, r)| (t.activity_id, t.channel_id, t.lang.clone(), r))
            .collect();
        let stored = self
            .db
            .transaction(move |c| {
                for (activity, channel, lang, read) in &rows {
                    let key = (*activity, *channel, lang.as_str());
                    match read {
                        Ok(counts) => engagement::record_read(c, key, *counts, now)?,
                        Err(e) => engagement::record_failure(c, key, e, now)?,
                    }
                }
                Ok(())
            })
            .await;
        let exchange = Exchange {
            request: Some(format!(
                "GET /api/v1/statuses/… ({}), GET app.bsky.feed.getPosts ({})",
                mastodon.len(),
                bluesky.len()
            )),
            status: None,
            reply: Some(summary.chars().take(2000).collect()),
        };
        match stored {
            Ok(()) => Attempt::new(Outcome::done(None, None), exchange),
            Err(e) => Attempt::new(Outcome::retry(None, e.to_string()), exchange),
        }
    }
}

/// A remote id as one path segment.
fn urlencoding(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes()).collect()
}

impl Handler for EngagementHandler {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn retry(&self) -> RetryRules {
        // A refresh that cannot store its figures tries a few times; the
        // next slot reads again anyway.
        RetryRules {
            max_attempts: 3,
            ..RetryRules::default()
        }
    }

    fn run<'a>(&'a self, _job: &'a Job) -> BoxFuture<'a, Attempt> {
        Box::pin(self.refresh())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_read_from_each_networks_answer() {
        let status =
            json!({"id": "1", "replies_count": 2, "reblogs_count": 5, "favourites_count": 9});
        assert_eq!(
            mastodon_counts(&status),
            Some(Counts {
                replies: Some(2),
                reposts: Some(5),
                likes: Some(9),
                quotes: None
            })
        );
        assert_eq!(mastodon_counts(&json!({"id": "1"})), None);
        let posts = json!({"posts": [
            {"uri": "at://did:plc:x/app.bsky.feed.post/1", "likeCount": 4, "repostCount": 1, "replyCount": 0, "quoteCount": 2},
            {"cid": "no uri"}
        ]});
        let found = bluesky_counts(&posts);
        assert_eq!(found.len(), 1);
        assert_eq!(
            found["at://did:plc:x/app.bsky.feed.post/1"],
            Counts {
                replies: Some(0),
                reposts: Some(1),
                likes: Some(4),
                quotes: Some(2)
            }
        );
    }

    #[test]
    fn one_slot_per_refresh_period() {
        let s = EngagementSettings {
            refresh_minutes: 60,
            ..EngagementSettings::default()
        };
        let a: DateTime<Utc> = "2026-12-01T10:00:00Z".parse().unwrap();
        assert_eq!(slot_of(&s, a), slot_of(&s, a + TimeDelta::minutes(59)));
        assert_ne!(slot_of(&s, a), slot_of(&s, a + TimeDelta::minutes(60)));
    }
}
