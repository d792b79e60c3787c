//! Social posts: how each network counts a post's length, and publishing
//! through the job mechanism exactly once (Mastodon and Bluesky). Which
//! variant goes out when is decided in `app::posts`; `Planner` asks it at
//! every runner step.

pub mod accounts;
pub mod bluesky;
pub mod mastodon;
pub mod text;

use crate::db::{DbConnection, posts};
use crate::domain::webhook::EventType;
use crate::error::Result;
use crate::jobs::{Job, Outcome};
use chrono::{DateTime, Utc};
use serde_json::json;

/// Records how a post job ended on its variant's publication, and tells
/// webhook subscribers (`post.published`, `post.failed`). A job with no
/// publication (made by hand) changes nothing.
pub fn finished(
    conn: &mut DbConnection,
    network: &str,
    job: &Job,
    outcome: &Outcome,
    now: DateTime<Utc>,
) -> Result<()> {
    let Some(publication) = posts::by_job(conn, job.id)? else {
        return Ok(());
    };
    let (state, remote_id, remote_url, reason) = match outcome {
        Outcome::Done {
            remote_id,
            remote_url,
        } => ("published", remote_id.clone(), remote_url.clone(), None),
        Outcome::Failed { reason } => ("failed", None, None, Some(reason.clone())),
        // Past its attempts a retry is a failure.
        Outcome::RetryAt { reason, .. } => (
            "failed",
            None,
            None,
            Some(format!("gave up after {} attempts: {reason}", job.attempt)),
        ),
        Outcome::Unknown { how_to_check, .. } => {
            ("unknown", None, None, Some(how_to_check.clone()))
        }
    };
    posts::finish(
        conn,
        job.id,
        state,
        remote_id.as_deref(),
        remote_url.as_deref(),
        reason.as_deref(),
        now,
    )?;
    let data = json!({
        "activity_id": publication.activity_id,
        "channel_id": publication.channel_id,
        "lang": publication.lang,
        "network": network,
        "job_id": job.id,
        "state": state,
        "remote_id": remote_id,
        "url": remote_url,
        "reason": reason,
    });
    match state {
        "published" => {
            crate::app::webhooks::emit(conn, now, EventType::PostPublished, data)?;
        }
        "failed" => {
            crate::app::webhooks::emit(conn, now, EventType::PostFailed, data)?;
        }
        _ => {}
    }
    Ok(())
}

/// Creates the publish jobs of approved post variants as their time comes.
pub struct Planner;

impl crate::jobs::Planner for Planner {
    fn name(&self) -> &'static str {
        "social posts"
    }

    fn plan(&self, conn: &mut DbConnection, now: DateTime<Utc>) -> Result<usize> {
        crate::app::posts::schedule_due(conn, now)
    }
}
