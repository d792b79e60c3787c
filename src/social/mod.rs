//! Social posts: how each network counts a post's length, and publishing
//! through the job mechanism exactly once (Mastodon, Bluesky, a CMS
//! through a signed webhook, and the manual channel: an email to the owner
//! with a one-time link to say where it was posted). Which
//! variant goes out when is decided in `app::posts`; `Planner` asks it at
//! every runner step.

/// The job handler of one network's publisher: its job kind (`KIND` of the
/// module), one attempt (the handler's method `$attempt`), and the ending
/// every network shares (`social::finished`: the publication, the
/// activity, the `post.*` event).
macro_rules! publisher_handler {
    ($handler:ty, $network:expr, $attempt:ident) => {
        impl crate::jobs::Handler for $handler {
            fn kind(&self) -> &'static str {
                KIND
            }

            fn run<'a>(
                &'a self,
                job: &'a crate::jobs::Job,
            ) -> futures_util::future::BoxFuture<'a, crate::jobs::Attempt> {
                Box::pin(self.$attempt(job))
            }

            fn finished(
                &self,
                conn: &mut crate::db::DbConnection,
                job: &crate::jobs::Job,
                outcome: &crate::jobs::Outcome,
                now: chrono::DateTime<chrono::Utc>,
            ) -> crate::error::Result<()> {
                super::finished(conn, $network, job, outcome, now)
            }
        }
    };
}

pub mod accounts;
pub mod bluesky;
pub mod cms;
pub mod engagement;
pub mod image;
pub mod manual;
pub mod mastodon;
pub mod text;

use crate::db::{DbConnection, posts};
use crate::domain::network::{Network, PublicationState};
use crate::domain::webhook::EventType;
use crate::error::Result;
use crate::jobs::{Job, Outcome};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// An image a post job uploads before the part it goes with (its bytes are
/// read from `post_media` when uploaded; what the upload became is kept in
/// `post_media_uploads`, so a retry reuses it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MediaItem {
    pub id: i64,
    /// 0: the post itself, 1: the first reply, …
    pub part: usize,
    pub mime_type: String,
    pub alt: String,
}

/// Reads an image's bytes, or why it cannot be uploaded.
pub(crate) async fn media_bytes(
    db: &crate::db::Db,
    id: i64,
) -> std::result::Result<Vec<u8>, String> {
    db.run(move |c| posts::media_data(c, id))
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("image {id} no longer exists"))
}

/// What a job's upload of an image became, if it was uploaded.
pub(crate) async fn stored_upload(
    db: &crate::db::Db,
    job_id: i64,
    media_id: i64,
) -> std::result::Result<Option<String>, String> {
    db.run(move |c| posts::upload(c, job_id, media_id))
        .await
        .map_err(|e| e.to_string())
}

/// Records what an upload became.
pub(crate) async fn store_upload(
    db: &crate::db::Db,
    job_id: i64,
    media_id: i64,
    remote: String,
    now: DateTime<Utc>,
) -> std::result::Result<String, String> {
    db.transaction(move |c| posts::store_upload(c, job_id, media_id, &remote, now))
        .await
        .map_err(|e| e.to_string())
}

/// Records how a post job ended on its variant's publication, and tells
/// webhook subscribers (`post.published`, `post.failed`). A job with no
/// publication (made by hand) changes nothing. A manual channel's job that
/// is done sent the owner's email: the variant is then `awaiting_owner`,
/// and `post.published` waits until the owner says where it was posted.
pub fn finished(
    conn: &mut DbConnection,
    network: Network,
    job: &Job,
    outcome: &Outcome,
    now: DateTime<Utc>,
) -> Result<()> {
    let Some(publication) = posts::by_job(conn, job.id)? else {
        return Ok(());
    };
    let (state, remote_id, remote_url, reason) = match outcome {
        Outcome::Done { .. } if network == Network::Manual => {
            (PublicationState::AwaitingOwner, None, None, None)
        }
        Outcome::Done {
            remote_id,
            remote_url,
        } => (
            PublicationState::Published,
            remote_id.clone(),
            remote_url.clone(),
            None,
        ),
        Outcome::Failed { reason } => (PublicationState::Failed, None, None, Some(reason.clone())),
        // Past its attempts a retry is a failure.
        Outcome::RetryAt { reason, .. } => (
            PublicationState::Failed,
            None,
            None,
            Some(format!("gave up after {} attempts: {reason}", job.attempt)),
        ),
        Outcome::Unknown { how_to_check, .. } => (
            PublicationState::Unknown,
            None,
            None,
            Some(how_to_check.clone()),
        ),
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
    tell(
        conn,
        &publication,
        network,
        state,
        remote_id.as_deref(),
        remote_url.as_deref(),
        reason.as_deref(),
        now,
    )
}

/// Tells webhook subscribers what became of a variant: `post.published`
/// (with the URL) or `post.failed` (with the reason); other states tell
/// nothing.
#[allow(clippy::too_many_arguments)]
pub fn tell(
    conn: &mut DbConnection,
    publication: &posts::Publication,
    network: Network,
    state: PublicationState,
    remote_id: Option<&str>,
    remote_url: Option<&str>,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<()> {
    let data = json!({
        "activity_id": publication.activity_id,
        "channel_id": publication.channel_id,
        "lang": publication.lang,
        "network": network,
        "job_id": publication.job_id,
        "state": state,
        "remote_id": remote_id,
        "url": remote_url,
        "reason": reason,
    });
    match state {
        PublicationState::Published => {
            crate::app::webhooks::emit(conn, now, EventType::PostPublished, data)?;
        }
        PublicationState::Failed => {
            crate::app::webhooks::emit(conn, now, EventType::PostFailed, data)?;
        }
        _ => {}
    }
    Ok(())
}

/// Why a post job must not go out (any more), if so: its activity was
/// cancelled, or the activity's approval no longer covers the content the
/// job carries (edited since; approve again, then retry the job). Asked
/// before a try whose predecessors were all seen to fail: after an unseen
/// outcome the post may exist, and the handler reconciles instead.
pub fn withdrawn(conn: &mut DbConnection, job_id: i64) -> Result<Option<String>> {
    let Some(publication) = posts::by_job(conn, job_id)? else {
        return Ok(None);
    };
    let account = crate::db::channel_accounts::get(conn, publication.channel_account_id)?;
    if account.is_deleted() {
        return Ok(Some("its channel account was deleted".into()));
    }
    if account.is_disabled() {
        return Ok(Some("its channel account is disabled".into()));
    }
    let activity = crate::db::activities::get(conn, publication.activity_id)?;
    if activity.status.is_off() {
        return Ok(Some(format!("its activity is {}", activity.status)));
    }
    let review = crate::app::reviews::get(
        conn,
        crate::app::reviews::Subject::Activity(publication.activity_id),
    )?;
    let key = format!("variant:{}:{}", publication.channel_id, publication.lang);
    // Per variant: approved as it stands (the approval, or what still stands
    // of it after an edit of other variants), with the text the job carries.
    let current = crate::domain::review::activity_content(&activity);
    let approved = review.covers_variant(&current, &key)
        && review
            .standing()
            .and_then(|h| h.get(&key))
            .is_some_and(|h| *h == publication.content_hash);
    if !approved {
        return Ok(Some(
            "the activity's current approval does not cover this text (edited since)".into(),
        ));
    }
    Ok(None)
}

/// The outcome of a post job that must not go out, if it must not.
/// The channel account a post goes out through, and its secret (the
/// Mastodon token, the CMS's signing secret) opened; `Err` is the failed
/// attempt saying why (`missing`: what the account lacks).
pub(crate) async fn account_and_secret(
    db: &crate::db::Db,
    sealer: &crate::jobs::sealed::Sealer,
    account_id: i64,
    missing: &str,
) -> std::result::Result<(crate::db::channel_accounts::Row, String), crate::jobs::Attempt> {
    use crate::db::channel_accounts;
    use crate::jobs::{Attempt, Exchange};
    let failed = |why: String| Attempt::new(Outcome::failed(why), Exchange::default());
    let account = db
        .run(move |c| channel_accounts::get(c, account_id))
        .await
        .map_err(|e| failed(e.to_string()))?;
    let secret = match account.sealed_credentials.as_deref() {
        Some(sealed) => sealer
            .open(sealed, &account.credentials_context())
            .map_err(|e| failed(e.to_string()))?,
        None => return Err(failed(format!("the account has no {missing}"))),
    };
    Ok((account, secret))
}

pub(crate) async fn check_withdrawn(db: &crate::db::Db, job: &Job) -> Option<Outcome> {
    if job.unknown_outcomes > 0 {
        return None;
    }
    let id = job.id;
    match db.run(move |c| withdrawn(c, id)).await {
        Ok(Some(reason)) => Some(Outcome::failed(format!("not published: {reason}"))),
        Ok(None) => None,
        Err(e) => Some(Outcome::retry(None, e.to_string())),
    }
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
