//! Mailing lists, subscribers, newsletter issues and deliveries: the types the
//! API reads and writes, validated on construction.

use super::language::{Language, Translations};
use super::macros::text_enum;
use super::text::{EmailAddress, Name, Slug, Text, Title};
use super::zone::Zone;
use crate::error::{Error, Result};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

text_enum!(
    /// A subscriber's standing on one list: `pending` until the double opt-in
    /// link is followed.
    SubscriptionStatus {
        Pending => "pending",
        Confirmed => "confirmed",
        Unsubscribed => "unsubscribed",
    }
);

text_enum!(
    /// The address as a whole: a hard bounce or a complaint stops every send.
    SubscriberStatus {
        Active => "active",
        Bounced => "bounced",
        Complained => "complained",
    }
);

text_enum!(
    /// Where a newsletter issue stands. It ends `sent`, `sent_with_failures`
    /// (some recipients failed permanently or their outcome is unknown),
    /// `failed` (nobody received it) or `cancelled`, and only once no delivery
    /// is queued, retrying or sending.
    IssueState {
        Draft => "draft",
        Scheduled => "scheduled",
        Sending => "sending",
        Paused => "paused",
        Sent => "sent",
        SentWithFailures => "sent_with_failures",
        Failed => "failed",
        Cancelled => "cancelled",
    }
);

impl IssueState {
    /// The states an issue in this one may move to (the dispatcher's own moves
    /// from sending to sent, sent with failures or failed included).
    pub fn next_states(self) -> &'static [IssueState] {
        use IssueState::*;
        match self {
            Draft => &[Scheduled, Sending, Cancelled],
            Scheduled => &[Draft, Sending, Cancelled],
            Sending => &[Paused, Sent, SentWithFailures, Failed, Cancelled],
            Paused => &[Sending, Cancelled],
            Sent | SentWithFailures | Failed => &[Sending],
            Cancelled => &[],
        }
    }
}

text_enum!(
    /// One message to one recipient: `queued` → `sending` → `sent`; or `retry`
    /// (a 4xx reply, tried again at `next_attempt_at`), `failed` (5xx, never
    /// retried), `unknown` (the relay may or may not have accepted it),
    /// `cancelled` (the issue was cancelled first).
    DeliveryState {
        Queued => "queued",
        Sending => "sending",
        Sent => "sent",
        Retry => "retry",
        Failed => "failed",
        Unknown => "unknown",
        Cancelled => "cancelled",
    }
);

text_enum!(
    DeliveryKind {
        Newsletter => "newsletter",
        Confirmation => "confirmation",
        Invitation => "invitation",
    }
);

text_enum!(
    /// A hard bounce or a complaint suppresses the address; soft bounces do
    /// after `SOFT_BOUNCE_LIMIT` in a row.
    BounceKind {
        Hard => "hard",
        Soft => "soft",
        Complaint => "complaint",
        Policy => "policy",
    }
);

/// Soft bounces (mailbox full, …) in a row that suppress an address.
pub const SOFT_BOUNCE_LIMIT: i32 = 3;

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"slug": "members", "name": "Members' newsletter", "description": "News for member cities, monthly.", "public_subscribe": true, "default_language": "es"})))]
pub struct ListInput {
    pub slug: Slug,
    pub name: Name,
    pub description: Option<Text<2000>>,
    /// Anyone may subscribe through the public endpoint (default false).
    pub public_subscribe: Option<bool>,
    /// Language of subscribers who state none (default en).
    pub default_language: Option<Language>,
    /// The version being replaced; required on update unless `If-Match` is sent.
    pub version: Option<i32>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MailingList {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub description: Option<String>,
    pub public_subscribe: bool,
    pub default_language: Language,
    /// Confirmed subscribers whose address is not suppressed.
    pub confirmed_subscribers: i64,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A subscriber added by an editor (or an import).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"email": "ana@example.org", "name": "Ana", "language": "es", "list_ids": [1], "status": "confirmed", "source": "registration form at the 2019 Congress"})))]
pub struct SubscriberInput {
    pub email: EmailAddress,
    pub name: Option<Name>,
    pub language: Language,
    /// Lists to subscribe to.
    pub list_ids: Vec<i64>,
    /// `pending` (the default) sends a double opt-in email; `confirmed` records
    /// consent obtained elsewhere, described by `source`.
    pub status: Option<SubscriptionStatus>,
    /// How consent was obtained, e.g. "registration form at the 2019 Congress".
    pub source: Option<Text<200>>,
}

/// The fields of a subscriber an editor may change.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"name": "Ana García", "language": "fr"})))]
pub struct SubscriberUpdate {
    pub name: Option<Name>,
    pub language: Language,
    /// The version being replaced; required unless `If-Match` is sent.
    pub version: Option<i32>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Subscriber {
    pub id: i64,
    pub email: String,
    pub name: Option<String>,
    pub language: Language,
    pub status: SubscriberStatus,
    pub suppressed_at: Option<DateTime<Utc>>,
    pub suppression_reason: Option<String>,
    pub subscriptions: Vec<Subscription>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Subscription {
    pub list_id: i64,
    pub list_slug: String,
    pub status: SubscriptionStatus,
    pub source: String,
    pub requested_at: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub unsubscribed_at: Option<DateTime<Utc>>,
}

/// The public subscription form.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"email": "ana@example.org", "name": "Ana", "language": "es", "lists": ["members"], "consent": true})))]
pub struct PublicSubscribe {
    pub email: EmailAddress,
    pub name: Option<Name>,
    pub language: Option<Language>,
    /// Slugs of lists open to public subscription.
    pub lists: Vec<Slug>,
    /// The person agreed to receive the newsletter; must be true.
    pub consent: bool,
}

/// A bounce or complaint, as a relay's DSN or a feedback loop reports it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"email": "ana@example.org", "kind": "hard", "reason": "550 5.1.1 no such user", "message_id": "<issue-1.42@pregon.example>"})))]
pub struct BounceInput {
    pub email: EmailAddress,
    pub kind: BounceKind,
    pub reason: Option<Text<2000>>,
    /// Message-ID of the message that bounced, to mark its delivery.
    pub message_id: Option<Text<300>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BounceOutcome {
    pub email: String,
    pub kind: BounceKind,
    /// Whether a subscriber with this address exists (the endpoint is
    /// authenticated, so this leaks nothing).
    pub known_subscriber: bool,
    /// The address receives nothing more.
    pub suppressed: bool,
}

/// Subject and Markdown body in one language.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueTranslationInput {
    /// May contain `{{name}}`.
    pub subject: Text<300>,
    /// Markdown; may contain `{{name}}` and `{{unsubscribe_url}}`. Raw HTML is
    /// shown as text, not interpreted.
    pub body: Text<200_000>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct IssueTranslation {
    pub subject: String,
    pub body: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"name": "Launch of the Smart Cities Study", "list_ids": [1], "translations": {"es": {"subject": "Ya está aquí el estudio, {{name}}", "body": "# Hola {{name}}\n\nYa está aquí el **Estudio de Ciudades Inteligentes**.\n\n[Darse de baja]({{unsubscribe_url}})"}, "en": {"subject": "The study is out, {{name}}", "body": "# Hello {{name}}\n\nThe **Smart Cities Study** is here."}}})))]
pub struct IssueInput {
    /// Internal name, e.g. "Launch of the Smart Cities Study".
    pub name: Title,
    /// The plan activity this issue carries out (kind `newsletter_issue`); its
    /// status follows the issue's.
    pub activity_id: Option<i64>,
    /// The audience: confirmed subscribers of these lists, each once.
    pub list_ids: Vec<i64>,
    /// Subject and body per language (es, en, fr); at least one. Recipients
    /// get their language, else English, Spanish, French in that order.
    #[schema(value_type = std::collections::BTreeMap<String, IssueTranslationInput>)]
    pub translations: Translations<IssueTranslationInput>,
    /// The version being replaced; required on update unless `If-Match` is sent.
    pub version: Option<i32>,
}

impl IssueInput {
    pub fn validate(&self) -> Result<()> {
        super::campaign::check_translations(&self.translations)?;
        if self.list_ids.is_empty() {
            return Err(Error::invalid("list_ids", "needs at least one list"));
        }
        super::campaign::check_unique_ids(&self.list_ids, "list_ids")?;
        for (lang, t) in &self.translations {
            for (field, text) in [("subject", t.subject.as_str()), ("body", t.body.as_str())] {
                let unknown = crate::email::render::unknown_placeholders(text);
                if let Some(first) = unknown.first() {
                    return Err(Error::invalid(
                        format!("translations.{lang}.{field}"),
                        format!(
                            "unknown placeholder {{{{{first}}}}}; use {{{{name}}}} or {{{{unsubscribe_url}}}}"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Issue {
    pub id: i64,
    pub name: String,
    pub activity_id: Option<i64>,
    pub list_ids: Vec<i64>,
    pub state: IssueState,
    #[schema(value_type = std::collections::BTreeMap<String, IssueTranslation>)]
    pub translations: Translations<IssueTranslation>,
    /// When a scheduled issue starts sending, in UTC.
    pub scheduled_at: Option<DateTime<Utc>>,
    /// The same instant as the editor gave it: local time and IANA zone.
    pub schedule: Option<ScheduleView>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip)]
    pub uid: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"at": "2030-03-10T10:00", "time_zone": "Europe/Madrid"})))]
pub struct ScheduleInput {
    /// Local wall-clock time in `time_zone`, e.g. `2030-03-10T10:00` (seconds
    /// optional); in the future, as `send` is for now.
    #[schema(value_type = String, example = "2030-03-10T10:00", max_length = 64)]
    #[serde(deserialize_with = "crate::domain::timing::local_date_time")]
    pub at: NaiveDateTime,
    pub time_zone: Zone,
}

impl ScheduleInput {
    /// The instant, refusing local times that do not exist (a DST gap) and
    /// taking the earlier of two that exist twice (a DST overlap).
    pub fn instant(&self) -> Result<DateTime<Utc>> {
        use chrono::TimeZone;
        use chrono::offset::LocalResult;
        match self.time_zone.tz().from_local_datetime(&self.at) {
            LocalResult::Single(t) => Ok(t.with_timezone(&Utc)),
            LocalResult::Ambiguous(earlier, _) => Ok(earlier.with_timezone(&Utc)),
            LocalResult::None => Err(Error::invalid(
                "at",
                format!(
                    "{} does not exist in {} (the clocks skip it)",
                    self.at,
                    self.time_zone.name()
                ),
            )),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScheduleView {
    #[schema(value_type = String)]
    pub at: NaiveDateTime,
    pub time_zone: Zone,
}

/// What the preview endpoint shows.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Preview {
    /// The language rendered (after fallback).
    pub language: Language,
    pub subject: String,
    pub html: String,
    pub text: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"addresses": ["editor@example.org"], "language": "es"})))]
pub struct TestSendInput {
    /// 1 to 10 addresses; they are not subscribed to anything.
    pub addresses: Vec<EmailAddress>,
    /// Default: each address gets the first of en, es, fr the issue has.
    pub language: Option<Language>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TestSendResult {
    pub address: String,
    pub accepted: bool,
    pub smtp_code: Option<u16>,
    pub reply: String,
}

/// Counts per delivery state, rate and estimate, for one issue.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Progress {
    pub issue_id: i64,
    pub state: IssueState,
    pub total: i64,
    pub queued: i64,
    pub sending: i64,
    pub sent: i64,
    pub retry: i64,
    pub failed: i64,
    pub unknown: i64,
    pub cancelled: i64,
    /// Delivered after an outcome-unknown attempt: the recipient may have it twice.
    pub possible_duplicates: i64,
    /// Messages sent in the last minute.
    pub sent_last_minute: i64,
    /// Seconds until the queue is empty at the last minute's rate.
    pub eta_seconds: Option<i64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: i64,
    pub kind: DeliveryKind,
    pub email: String,
    pub name: Option<String>,
    pub language: Language,
    pub state: DeliveryState,
    pub attempts: i32,
    /// Attempts whose outcome was unknown (possible duplicates if resent).
    pub unknown_outcomes: i32,
    pub smtp_code: Option<i32>,
    pub smtp_reply: Option<String>,
    pub message_id: String,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub sent_at: Option<DateTime<Utc>>,
    pub bounced_at: Option<DateTime<Utc>>,
    /// When it was first attempted: temporary failures are retried for
    /// `email.retry_for` from then.
    pub first_attempt_at: Option<DateTime<Utc>>,
    /// Invitations: the iTIP method and SEQUENCE sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequence: Option<i32>,
}

/// Sending limits in force, and the ones set at run time.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"rate_per_second": 10, "rate_per_hour": 20000, "concurrency": 4})))]
pub struct EmailLimits {
    /// Messages per second per dispatcher; 0 for no limit; null for the configured value.
    pub rate_per_second: Option<u32>,
    /// Messages per hour per dispatcher; 0 for no limit; null for the configured value.
    pub rate_per_hour: Option<u32>,
    /// Simultaneous sends per dispatcher, 1 to 256; null for the configured value.
    pub concurrency: Option<u32>,
}

impl EmailLimits {
    pub fn validate(&self) -> Result<()> {
        if self.concurrency.is_some_and(|c| !(1..=256).contains(&c)) {
            return Err(Error::invalid("concurrency", "must be between 1 and 256"));
        }
        Ok(())
    }
}

/// The normal form stored and compared: addresses are matched without regard
/// to case, as every mail provider does.
pub fn normalise_email(address: &EmailAddress) -> String {
    address.as_str().to_lowercase()
}
