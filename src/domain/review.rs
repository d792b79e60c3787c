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

fn is_variant(key: &str) -> bool {
    key.starts_with("variant:")
}

/// Whether `approved` covers the variant `key` as the content stands: its
/// own hash, and every hash that is not a variant's (the activity's texts
/// and shared fields: time, place…), are the ones approved.
pub fn covers(approved: &ContentHash, current: &ContentHash, key: &str) -> bool {
    let same = |k: &str| approved.get(k).is_some() && approved.get(k) == current.get(k);
    same(key)
        && current.keys().filter(|k| !is_variant(k)).all(|k| same(k))
        && approved
            .keys()
            .filter(|k| !is_variant(k))
            .all(|k| current.contains_key(k))
}

/// What of an approval still stands after an edit (per variant): when
/// nothing but variants changed, the approved hashes of the variants left
/// as they were, with the activity's own hashes; `None` when the edit
/// touched the activity itself (everything goes back to review) or no
/// variant is left approved.
pub fn still_standing(approved: &ContentHash, current: &ContentHash) -> Option<ContentHash> {
    let activity_same = current
        .iter()
        .chain(approved.iter())
        .filter(|(k, _)| !is_variant(k))
        .all(|(k, _)| approved.get(k).is_some() && approved.get(k) == current.get(k));
    if !activity_same {
        return None;
    }
    let standing: ContentHash = approved
        .iter()
        .filter(|(k, v)| current.get(*k) == Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    standing.keys().any(|k| is_variant(k)).then_some(standing)
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
    /// While a social post is back in review after an edit of some of its
    /// variants only: the approved hashes that still stand (the activity's
    /// own and those of the variants left as they were). Those variants are
    /// still published at their time; the edited ones wait for an approval.
    #[schema(value_type = Option<std::collections::BTreeMap<String, String>>)]
    pub standing_hash: Option<ContentHash>,
}

impl Review {
    /// The hashes approved as of now: the approval's while it stands, else
    /// what still stands of it after an edit of some variants.
    pub fn standing(&self) -> Option<&ContentHash> {
        if self.state == ReviewState::Approved {
            self.approved_hash.as_ref()
        } else {
            self.standing_hash.as_ref()
        }
    }

    /// Whether the variant `key` may go out as the content stands (`current`).
    pub fn covers_variant(&self, current: &ContentHash, key: &str) -> bool {
        self.standing()
            .is_some_and(|approved| covers(approved, current, key))
    }
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

    fn map(pairs: &[(&str, &str)]) -> ContentHash {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn an_edit_of_one_variant_leaves_the_others_approved() {
        let approved = map(&[("es", "1"), ("variant:7:es", "a"), ("variant:8:es", "b")]);
        let edited = map(&[("es", "1"), ("variant:7:es", "a"), ("variant:8:es", "B")]);
        let standing = still_standing(&approved, &edited).unwrap();
        assert!(covers(&standing, &edited, "variant:7:es"));
        assert!(!covers(&standing, &edited, "variant:8:es"));
        // The activity's own text changed: nothing stands.
        let moved = map(&[("es", "2"), ("variant:7:es", "a"), ("variant:8:es", "b")]);
        assert_eq!(still_standing(&approved, &moved), None);
        assert!(!covers(&approved, &moved, "variant:7:es"));
        // A language added is the activity's change too.
        let added = map(&[("es", "1"), ("en", "3"), ("variant:7:es", "a")]);
        assert!(!covers(&approved, &added, "variant:7:es"));
        // Every variant edited: none left approved.
        let all = map(&[("es", "1"), ("variant:7:es", "x"), ("variant:8:es", "y")]);
        assert_eq!(still_standing(&approved, &all), None);
    }
}
