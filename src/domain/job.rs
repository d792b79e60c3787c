//! Jobs: one outbound effect each (a social post, a webhook delivery, a
//! reminder email), run by `crate::jobs`.

use super::macros::text_enum;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

text_enum!(
    /// `queued` (waiting for `next_attempt_at`) → `running` (claimed by a
    /// worker, attempt under way) → `done` | `failed` | `unknown` (the
    /// effect may or may not have happened and the network cannot tell: a
    /// person decides) | `cancelled`. A retry or an outcome that will be
    /// checked again puts it back to `queued`.
    JobState {
        Queued => "queued",
        Running => "running",
        Done => "done",
        Failed => "failed",
        Unknown => "unknown",
        Cancelled => "cancelled",
    }
);

impl JobState {
    /// Nothing more happens to a job in this state unless a person acts.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobState::Done | JobState::Failed | JobState::Unknown | JobState::Cancelled
        )
    }
}

text_enum!(
    /// How one attempt ended.
    AttemptOutcome {
        Done => "done",
        Retry => "retry",
        Failed => "failed",
        Unknown => "unknown",
    }
);

/// A job as the API shows it (its payload holds no secret: handlers keep
/// credentials elsewhere, encrypted).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobView {
    pub id: i64,
    pub kind: String,
    pub idempotency_key: String,
    pub state: JobState,
    pub attempts: i32,
    pub unknown_outcomes: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub claimed_by: Option<String>,
    pub claimed_until: Option<DateTime<Utc>>,
    pub last_result: Option<String>,
    pub remote_id: Option<String>,
    pub remote_url: Option<String>,
    pub first_attempt_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
}

/// One attempt of a job.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobAttemptView {
    pub attempt: i32,
    pub worker: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub outcome: AttemptOutcome,
    /// What was asked, without secrets.
    pub request: Option<String>,
    pub status: Option<i32>,
    pub reply: Option<String>,
    pub remote_id: Option<String>,
    pub remote_url: Option<String>,
}
