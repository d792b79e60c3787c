//! What a person does with jobs: look at them and their attempts, run a
//! failed or held one again, cancel one still queued. Administrators only:
//! jobs are the service's plumbing.

use super::Context;
use super::history::{self, Action, FieldChange};
use super::policy::{self, Operation};
use crate::db::{self, DbConnection};
use crate::domain::job::{JobAttemptView, JobState, JobView};
use crate::error::{Error, Result};
use serde::Serialize;
use utoipa::ToSchema;

/// A job with its attempts.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobDetail {
    #[serde(flatten)]
    pub job: JobView,
    pub attempts: Vec<JobAttemptView>,
}

pub fn list(
    conn: &mut DbConnection,
    cx: &Context,
    kind: Option<&str>,
    state: Option<JobState>,
    page: i64,
    per_page: i64,
) -> Result<Vec<JobView>> {
    policy::require(&cx.actor, Operation::Administer)?;
    db::jobs::list(conn, kind, state, per_page, (page - 1) * per_page)?
        .iter()
        .map(|r| r.view())
        .collect()
}

pub fn get(conn: &mut DbConnection, cx: &Context, id: i64) -> Result<JobDetail> {
    policy::require(&cx.actor, Operation::Administer)?;
    let job = db::jobs::get(conn, id)?.view()?;
    let attempts = db::jobs::attempts(conn, id)?;
    Ok(JobDetail { job, attempts })
}

fn moved(
    conn: &mut DbConnection,
    cx: &Context,
    id: i64,
    from: &[JobState],
    to: JobState,
    note: &str,
    action: &str,
) -> Result<JobDetail> {
    policy::require(&cx.actor, Operation::Administer)?;
    let before = db::jobs::get(conn, id)?;
    let was = before.state()?;
    if !db::jobs::transition(conn, id, from, to, cx.now, note, cx.now)? {
        return Err(Error::InvalidTransition {
            action: action.into(),
            current: was.to_string(),
            allowed: from.iter().map(|s| s.to_string()).collect(),
        });
    }
    history::record_in(
        conn,
        cx,
        "job",
        id,
        Action::StateChanged,
        vec![FieldChange {
            field: "state".into(),
            before: was.as_str().into(),
            after: to.as_str().into(),
            personal: false,
        }],
    )?;
    get(conn, cx, id)
}

/// Runs a failed, held or cancelled job again now. A job held as outcome
/// unknown keeps its count of unknown outcomes, so its handler checks first.
pub fn retry(conn: &mut DbConnection, cx: &Context, id: i64) -> Result<JobDetail> {
    moved(
        conn,
        cx,
        id,
        &[JobState::Failed, JobState::Unknown, JobState::Cancelled],
        JobState::Queued,
        "queued again by a person",
        "retry",
    )
}

pub fn cancel(conn: &mut DbConnection, cx: &Context, id: i64) -> Result<JobDetail> {
    moved(
        conn,
        cx,
        id,
        &[JobState::Queued, JobState::Unknown],
        JobState::Cancelled,
        "cancelled by a person",
        "cancel",
    )
}
