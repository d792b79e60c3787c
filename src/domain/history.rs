//! The change history as the API shows it.

use super::macros::text_enum;
use serde::Serialize;
use utoipa::ToSchema;

text_enum!(
    /// What happened to the record.
    Action {
        Created => "created",
        Updated => "updated",
        Deleted => "deleted",
        StateChanged => "state_changed",
    }
);

text_enum!(
    /// Who acted: a person (through a session or one of their tokens), Pregón
    /// itself, the default plan's loader, or a partner's calendar import.
    ActorKind {
        Account => "account",
        System => "system",
        Seed => "seed",
        Import => "import",
    }
);

/// One field's value before and after. Personal data (names, email addresses)
/// is never copied into the history: for such a field `personal` is true and
/// both values are null, so erasing a person leaves nothing of them here.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, ToSchema)]
pub struct FieldChange {
    /// A dotted path into the record, e.g. `translations.en.title`.
    pub field: String,
    pub before: serde_json::Value,
    pub after: serde_json::Value,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub personal: bool,
}

impl FieldChange {
    /// Whether this change sets `field` to the text `value`.
    pub fn becomes(&self, field: &str, value: &str) -> bool {
        self.field == field && self.after.as_str() == Some(value)
    }
}

/// Whether an entry with these changes made an activity unconfirmed: its
/// status became tentative, or its timing "to be confirmed". The report's
/// "unconfirmed since" and the digest's "tentative for N days" count from
/// the newest such entry (else from the activity's creation).
pub fn makes_unconfirmed(changes: &[FieldChange]) -> bool {
    changes
        .iter()
        .any(|c| c.becomes("status", "tentative") || c.becomes("timing.precision", "tbc"))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HistoryActor {
    pub kind: ActorKind,
    pub account_id: Option<i64>,
    pub token_id: Option<i64>,
    pub session_id: Option<i64>,
    /// For imports: the partner organisation whose calendar was imported.
    pub organisation_id: Option<i64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HistoryEntry {
    pub id: i64,
    pub at: chrono::DateTime<chrono::Utc>,
    pub actor: HistoryActor,
    /// The kind of record: activity, plan, period, campaign, issue, …
    pub entity: String,
    pub entity_id: i64,
    pub action: Action,
    pub changes: Vec<FieldChange>,
    pub reason: Option<String>,
    /// SHA-256 over this entry and the previous entry's hash.
    pub hash: String,
}

/// A page of the change feed; pass `next` as `since` for the following page.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChangePage {
    pub items: Vec<HistoryEntry>,
    pub next: Option<i64>,
}
