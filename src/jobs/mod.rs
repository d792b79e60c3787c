//! One mechanism for every outbound effect but the newsletter's own
//! deliveries: social posts, webhook deliveries, reminder and report emails,
//! invitations. A job is a row of `jobs` (kind, payload, an idempotency key
//! unique per kind, a typed state, attempts, the next attempt's time, who
//! holds it and until when, the last result), created by `enqueue` in the
//! same transaction as the change that causes it, and run by a `Runner`
//! through the `Handler` of its kind. See docs/jobs.md.
//!
//! What a handler must guarantee: the job may be run again after an outcome
//! nobody saw (the worker died, a timeout after the request went out); then
//! `Job::unknown_outcomes > 0` and the handler checks before it acts again,
//! or acts in a way the remote end deduplicates (an idempotency key, a fixed
//! record key, the same event id).

pub mod liveness;
pub mod outbound;
pub mod runner;
pub mod sealed;
pub mod webhook;

pub use runner::{Runner, Step};

use crate::db::DbConnection;
use crate::error::{Error, Result};
use chrono::{DateTime, TimeDelta, Utc};
use futures_util::future::BoxFuture;
use serde_json::Value;

/// A job as its handler sees it, for one attempt.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub key: String,
    pub payload: Value,
    /// This attempt's number, from 1.
    pub attempt: i32,
    /// Earlier attempts whose outcome nobody saw: check before acting.
    pub unknown_outcomes: i32,
    pub first_attempt_at: DateTime<Utc>,
    pub last_result: Option<String>,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It happened; the remote end's id and URL for it, if any.
    Done {
        remote_id: Option<String>,
        remote_url: Option<String>,
    },
    /// Not now: try again at `at` (a `Retry-After` honoured), or after the
    /// kind's schedule when `None`. Past the kind's attempts it fails.
    RetryAt {
        at: Option<DateTime<Utc>>,
        reason: String,
    },
    /// It will never happen as asked; the reason is shown to people.
    Failed { reason: String },
    /// It may or may not have happened. `check_at`: run again then, and the
    /// handler checks first (`Job::unknown_outcomes`); `None`: held for a
    /// person, with `how_to_check` telling them how.
    Unknown {
        how_to_check: String,
        check_at: Option<DateTime<Utc>>,
    },
}

impl Outcome {
    pub fn done(remote_id: Option<String>, remote_url: Option<String>) -> Outcome {
        Outcome::Done {
            remote_id,
            remote_url,
        }
    }

    pub fn failed(reason: impl Into<String>) -> Outcome {
        Outcome::Failed {
            reason: reason.into(),
        }
    }

    pub fn retry(at: Option<DateTime<Utc>>, reason: impl Into<String>) -> Outcome {
        Outcome::RetryAt {
            at,
            reason: reason.into(),
        }
    }
}

/// What went over the wire in one attempt, for the attempt log: never a
/// secret (no tokens, no signatures' keys).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exchange {
    pub request: Option<String>,
    pub status: Option<u16>,
    pub reply: Option<String>,
}

/// One attempt: its outcome and what was exchanged.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub outcome: Outcome,
    pub exchange: Exchange,
}

impl Attempt {
    pub fn new(outcome: Outcome, exchange: Exchange) -> Attempt {
        Attempt { outcome, exchange }
    }
}

/// When a kind's retries happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// Exponential with equal jitter (`email::retry::backoff`, the
    /// dispatcher's): between half and all of `base · 2^(n-1)`, capped.
    Backoff { base_secs: u64, max_secs: u64 },
    /// The n-th retry after the n-th delay (the last one repeats), plus up
    /// to a tenth of it as jitter.
    Fixed(&'static [u64]),
}

impl Schedule {
    /// The wait after attempt number `attempt` failed.
    pub fn delay(self, attempt: i32) -> TimeDelta {
        match self {
            Schedule::Backoff {
                base_secs,
                max_secs,
            } => crate::email::retry::backoff(attempt, base_secs, max_secs),
            Schedule::Fixed(delays) => {
                let Some(last) = delays.last() else {
                    return TimeDelta::seconds(60);
                };
                let index = (attempt.max(1) as usize - 1).min(delays.len() - 1);
                let secs = delays.get(index).copied().unwrap_or(*last);
                let jitter = rand::random_range(0..=secs / 10);
                TimeDelta::seconds((secs + jitter) as i64)
            }
        }
    }
}

/// A kind's retry rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryRules {
    pub schedule: Schedule,
    /// Attempts in all before a retry becomes a failure.
    pub max_attempts: i32,
    /// Unknown outcomes checked again automatically before one is held.
    pub max_unknown: i32,
}

impl Default for RetryRules {
    fn default() -> Self {
        RetryRules {
            schedule: Schedule::Backoff {
                base_secs: 30,
                max_secs: 3600,
            },
            max_attempts: 10,
            max_unknown: 5,
        }
    }
}

/// The code behind one kind of job: one real implementation per kind,
/// registered with the `Runner`.
pub trait Handler: Send + Sync + 'static {
    /// The kind's name as stored in `jobs.kind`: lowercase letters, digits,
    /// `_` and `.` only.
    fn kind(&self) -> &'static str;

    fn retry(&self) -> RetryRules {
        RetryRules::default()
    }

    /// Called once per claim with the jobs of this kind just claimed, before
    /// any of them runs, on a connection of its own (after the claim has
    /// committed, so it sees every change committed before the claim): the
    /// place to read in one query what their attempts need, instead of one
    /// read per attempt. An error is logged and the attempts still run, so
    /// `run` must manage without what `prepare` would have read.
    fn prepare(&self, _conn: &mut DbConnection, _jobs: &[Job], _now: DateTime<Utc>) -> Result<()> {
        Ok(())
    }

    /// Makes one attempt. Must not panic; must bound its own time (a
    /// timeout on every request).
    fn run<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Attempt>;

    /// Called in the transaction that records an attempt that ended the
    /// job (done, failed, or held as unknown): the place to update the
    /// record the job was for, and to enqueue what follows from it. It
    /// writes only through `conn`: the results of a batch are recorded
    /// together and, if one hook fails, rolled back and recorded one by one,
    /// so a hook may run again for the same outcome (its earlier writes
    /// undone).
    fn finished(
        &self,
        _conn: &mut DbConnection,
        _job: &Job,
        _outcome: &Outcome,
        _now: DateTime<Utc>,
    ) -> Result<()> {
        Ok(())
    }
}

/// Work that decides which jobs are due, run by the runner at the start of
/// each step (its "tick") in its own transaction with the runner's clock:
/// reminders and digests are planned this way. A planner only enqueues
/// (idempotency keys make a repeated or concurrent plan harmless); it must
/// be cheap, or rate itself (see `reminders::Planner`).
pub trait Planner: Send + Sync + 'static {
    /// A name for logs.
    fn name(&self) -> &'static str;

    /// Enqueues what is due at `now`; returns how many jobs it created.
    fn plan(&self, conn: &mut DbConnection, now: DateTime<Utc>) -> Result<usize>;
}

/// A job to create.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: &'static str,
    /// Unique per kind: the same key twice is the same job.
    pub key: String,
    pub payload: Value,
    pub due_at: DateTime<Utc>,
}

/// What `enqueue` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enqueued {
    pub id: i64,
    /// False when a job of this kind with this key already existed (it is
    /// left as it was).
    pub created: bool,
}

/// Creates a job with the connection the caller holds, inside its
/// transaction: it exists if and only if that transaction commits.
pub fn enqueue(conn: &mut DbConnection, job: &NewJob, now: DateTime<Utc>) -> Result<Enqueued> {
    check_kind(job.kind)?;
    if job.key.is_empty() || job.key.len() > 500 {
        return Err(Error::invalid("idempotency_key", "1 to 500 characters"));
    }
    let payload = serde_json::to_string(&job.payload)
        .map_err(|e| Error::Internal(anyhow::anyhow!("job payload: {e}")))?;
    let (id, created) =
        crate::db::jobs::enqueue(conn, job.kind, &job.key, &payload, job.due_at, now)?;
    Ok(Enqueued { id, created })
}

pub(crate) fn check_kind(kind: &str) -> Result<()> {
    let plain = !kind.is_empty()
        && kind.len() <= 64
        && kind
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.');
    if plain {
        Ok(())
    } else {
        Err(Error::Internal(anyhow::anyhow!(
            "job kind {kind:?}: use lowercase letters, digits, _ and ."
        )))
    }
}

/// The handlers `pregon dispatch` and `serve` run, from the configuration.
pub fn standard_handlers(
    settings: &crate::config::Settings,
    db: &crate::db::Db,
    clock: &crate::clock::SharedClock,
) -> anyhow::Result<Vec<std::sync::Arc<dyn Handler>>> {
    let sealer = sealed::Sealer::from_hex(settings.credentials.key.expose())?;
    let webhooks = outbound::Outbound::new(
        std::time::Duration::from_secs(settings.webhooks.timeout_secs.max(1)),
        settings.webhooks.allow_private,
    )?;
    let handlers: Vec<std::sync::Arc<dyn Handler>> = vec![
        std::sync::Arc::new(webhook::WebhookHandler::new(
            db.clone(),
            webhooks.clone(),
            sealer.clone(),
            clock.clone(),
        )),
        std::sync::Arc::new(crate::social::mastodon::MastodonHandler::new(
            db.clone(),
            webhooks.clone(),
            sealer.clone(),
            clock.clone(),
        )),
        std::sync::Arc::new(crate::social::bluesky::BlueskyHandler::new(
            db.clone(),
            webhooks.clone(),
            sealer.clone(),
            clock.clone(),
        )),
        std::sync::Arc::new(crate::social::cms::CmsHandler::new(
            db.clone(),
            webhooks.clone(),
            sealer.clone(),
            clock.clone(),
        )),
        std::sync::Arc::new(crate::social::engagement::EngagementHandler::new(
            db.clone(),
            webhooks,
            sealer,
            clock.clone(),
            settings.engagement.clone(),
        )),
    ];
    let mut handlers = handlers;
    handlers.push(std::sync::Arc::new(
        crate::social::manual::ManualHandler::new(settings, db.clone(), clock.clone())?,
    ));
    handlers.push(std::sync::Arc::new(
        crate::social::manual::ReminderHandler::new(settings, db.clone(), clock.clone())?,
    ));
    handlers.extend(crate::reminders::handlers(settings, db)?);
    Ok(handlers)
}

/// The planners `pregon dispatch` and `serve` run on each runner step.
pub fn standard_planners(settings: &crate::config::Settings) -> Vec<std::sync::Arc<dyn Planner>> {
    let mut planners = crate::reminders::planners(settings);
    planners.push(std::sync::Arc::new(crate::social::Planner));
    planners.push(std::sync::Arc::new(
        crate::social::engagement::Planner::new(settings.engagement.clone()),
    ));
    planners
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_schedule_repeats_its_last_delay_with_a_tenth_of_jitter() {
        let s = Schedule::Fixed(&[5, 300, 1800]);
        for _ in 0..50 {
            let first = s.delay(1).num_seconds();
            assert!((5..=5).contains(&first), "{first}");
            let second = s.delay(2).num_seconds();
            assert!((300..=330).contains(&second), "{second}");
            let tenth = s.delay(10).num_seconds();
            assert!((1800..=1980).contains(&tenth), "{tenth}");
        }
    }

    #[test]
    fn kinds_are_plain_names() {
        assert!(check_kind("webhook").is_ok());
        assert!(check_kind("social.mastodon").is_ok());
        for bad in ["", "Web", "a'b", "x y", "a;--"] {
            assert!(check_kind(bad).is_err(), "{bad:?}");
        }
    }
}
