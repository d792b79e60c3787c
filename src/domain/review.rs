//! Review and approval of what goes out. An activity or newsletter issue is
//! written as a draft, sent for review, and approved (or sent back with changes
//! requested); sending, publishing and inviting need a current approval. Any
//! edit to what goes out returns approved work to review; the approval is bound
//! to the hash of the content it saw, per language (and channel variant).

use super::macros::text_enum;
use super::newsletter::Issue;
use crate::domain::activity::Activity;
use crate::error::{Error, Result};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use utoipa::ToSchema;

text_enum!(
    /// Where a piece of outgoing work stands in review.
    ReviewState {
        Draft => "draft",
        InReview => "in_review",
        ChangesRequested => "changes_requested",
        Approved => "approved",
    }
);

text_enum!(
    /// What a person does to a review (`supersede` is recorded by Pregón when
    /// approved content is edited).
    ReviewAction {
        Submit => "submit",
        Approve => "approve",
        RequestChanges => "request_changes",
        Supersede => "supersede",
    }
);

impl ReviewState {
    /// The state `action` leads to from this one, or the refusal naming what is allowed.
    pub fn after(self, action: ReviewAction) -> Result<ReviewState> {
        use ReviewAction as A;
        use ReviewState as S;
        let next = match (self, action) {
            (S::Draft | S::ChangesRequested, A::Submit) => Some(S::InReview),
            (S::InReview, A::Approve) => Some(S::Approved),
            (S::InReview, A::RequestChanges) => Some(S::ChangesRequested),
            (S::Approved, A::Supersede) => Some(S::InReview),
            _ => None,
        };
        next.ok_or_else(|| Error::InvalidTransition {
            action: action.as_str().into(),
            current: self.as_str().into(),
            allowed: self
                .allowed()
                .iter()
                .map(|a| a.as_str().to_owned())
                .collect(),
        })
    }

    /// The actions a person may take from this state.
    pub fn allowed(self) -> &'static [ReviewAction] {
        match self {
            ReviewState::Draft | ReviewState::ChangesRequested => &[ReviewAction::Submit],
            ReviewState::InReview => &[ReviewAction::Approve, ReviewAction::RequestChanges],
            ReviewState::Approved => &[],
        }
    }
}

/// Hashes of what goes out, one per language and per channel variant: an
/// approval is bound to these, and an edit that changes none of them (an owner,
/// a status) leaves the approval standing.
pub type ContentHash = BTreeMap<String, String>;

fn sha(value: &serde_json::Value) -> String {
    hex::encode(Sha256::digest(value.to_string().as_bytes()))
}

pub fn activity_content(a: &Activity) -> ContentHash {
    let shared = serde_json::json!({
        "timing": a.timing_view,
        "recurrence": a.recurrence,
        "place": a.place,
        "visibility": a.visibility,
    });
    let mut out = ContentHash::new();
    for (lang, t) in a.translations.iter() {
        out.insert(
            lang.as_str().to_owned(),
            sha(&serde_json::json!({"text": t, "shared": shared})),
        );
    }
    for v in &a.post_variants {
        out.insert(
            format!("variant:{}:{}", v.channel_id, v.lang.as_str()),
            sha(&serde_json::to_value(v).unwrap_or_default()),
        );
    }
    out
}

pub fn issue_content(i: &Issue) -> ContentHash {
    i.translations
        .iter()
        .map(|(lang, t)| {
            (
                lang.as_str().to_owned(),
                sha(&serde_json::json!({"text": t, "lists": i.list_ids})),
            )
        })
        .collect()
}

/// A review as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Review {
    pub entity: String,
    pub entity_id: i64,
    pub state: ReviewState,
    /// What a person may do next.
    pub allowed: Vec<ReviewAction>,
    #[schema(value_type = std::collections::BTreeMap<String, String>)]
    pub content_hash: ContentHash,
    /// The hashes the current approval was given for (absent when none stands).
    #[schema(value_type = Option<std::collections::BTreeMap<String, String>>)]
    pub approved_hash: Option<ContentHash>,
    pub author_account_id: Option<i64>,
    pub last_editor_account_id: Option<i64>,
    pub approved_by_account_id: Option<i64>,
    pub approved_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The reviewer's note when changes were requested.
    pub comment: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions() {
        use ReviewAction as A;
        use ReviewState as S;
        assert_eq!(S::Draft.after(A::Submit).unwrap(), S::InReview);
        assert_eq!(S::InReview.after(A::Approve).unwrap(), S::Approved);
        assert_eq!(
            S::InReview.after(A::RequestChanges).unwrap(),
            S::ChangesRequested
        );
        assert_eq!(S::ChangesRequested.after(A::Submit).unwrap(), S::InReview);
        assert_eq!(S::Approved.after(A::Supersede).unwrap(), S::InReview);
        match S::Draft.after(A::Approve) {
            Err(Error::InvalidTransition {
                current, allowed, ..
            }) => {
                assert_eq!(current, "draft");
                assert_eq!(allowed, ["submit"]);
            }
            other => panic!("{other:?}"),
        }
        assert!(S::Approved.after(A::Approve).is_err());
    }
}
