use super::macros::text_enum;

text_enum!(
    /// What an activity of the plan is.
    ActivityKind {
        Milestone => "milestone",
        NewsletterIssue => "newsletter_issue",
        SocialPost => "social_post",
        Event => "event",
        LearningMeeting => "learning_meeting",
        ProgressReport => "progress_report",
        External => "external",
    }
);

text_enum!(
    /// Where an activity (or campaign) stands.
    ActivityStatus {
        Draft => "draft",
        Planned => "planned",
        Tentative => "tentative",
        Confirmed => "confirmed",
        Done => "done",
        Cancelled => "cancelled",
        Failed => "failed",
    }
);

impl ActivityStatus {
    /// Called off: cancelled, or failed (e.g. a newsletter that reached nobody).
    /// Feeds show such an activity as cancelled for a while, then drop it.
    pub fn is_off(self) -> bool {
        matches!(self, ActivityStatus::Cancelled | ActivityStatus::Failed)
    }
}

text_enum!(
    /// Public activities appear in the public calendar feed; internal ones only to
    /// API users and private feeds.
    Visibility {
        Public => "public",
        Internal => "internal",
    }
);

text_enum!(
    /// How a partner organisation takes part in an activity.
    PartnerRole {
        CoOrganiser => "co_organiser",
        Host => "host",
        Partner => "partner",
        Audience => "audience",
    }
);

text_enum!(
    /// How a person takes part in an activity.
    ParticipantRole {
        Represents => "represents",
        Speaker => "speaker",
        Moderator => "moderator",
        CoOrganiser => "co_organiser",
        Organiser => "organiser",
        Attendee => "attendee",
    }
);

text_enum!(
    OrganisationKind {
        Community => "community",
        Secretariat => "secretariat",
        Partner => "partner",
        MemberGroup => "member_group",
        City => "city",
        External => "external",
    }
);

text_enum!(
    ChannelKind {
        Website => "website",
        Newsletter => "newsletter",
        Social => "social",
        Forum => "forum",
        Email => "email",
    }
);

use super::campaign::{Translation, TranslationInput, check_translations, check_unique_ids};
use super::language::{Language, Translations, pick};
use super::recurrence::{Exception, ExceptionChange, OccurrenceKey, OccurrenceText, Recurrence};
use super::text::{Name, Text, WebUrl};
use super::timing::{Timing, TimingInput, TimingView};
use crate::error::{Error, Result};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An activity as a client writes it (create, or full replacement).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"plan_id": 1, "kind": "event", "status": "confirmed", "visibility": "public", "owner_organisation_id": 1, "timing": {"precision": "exact", "start": "2020-03-10T10:00", "end": "2020-03-10T12:00", "time_zone": "Europe/Madrid"}, "place": {"name": "Bizkaia Aretoa", "address": "Abandoibarra 3, Bilbao", "url": "https://www.ehu.eus/bizkaia-aretoa"}, "channel_ids": [1], "partners": [{"organisation_id": 1, "role": "host"}], "translations": {"en": {"title": "Presentation of the Smart Cities Study", "description": "The study's authors present its findings."}, "es": {"title": "Presentación del Estudio de Ciudades Inteligentes"}}})))]
pub struct ActivityInput {
    pub plan_id: i64,
    /// The plan period the activity belongs to.
    pub period_id: Option<i64>,
    pub campaign_id: Option<i64>,
    pub kind: ActivityKind,
    pub status: ActivityStatus,
    /// Default `internal`: only public activities reach the public calendar.
    pub visibility: Option<Visibility>,
    pub owner_person_id: Option<i64>,
    pub owner_organisation_id: Option<i64>,
    pub timing: TimingInput,
    pub recurrence: Option<RecurrenceInput>,
    pub place: Option<PlaceInput>,
    /// When it really happened, for plan-versus-actual reports.
    pub actual: Option<ActualInput>,
    #[serde(default)]
    pub channel_ids: Vec<i64>,
    #[serde(default)]
    pub partners: Vec<PartnerInput>,
    /// Title and description per language (es, en, fr); at least one.
    #[schema(value_type = std::collections::BTreeMap<String, TranslationInput>)]
    pub translations: Translations<TranslationInput>,
    /// Social posts: the text per channel and language.
    #[serde(default)]
    pub post_variants: Vec<PostVariantInput>,
    /// The version being replaced; required on update unless `If-Match` is sent.
    pub version: Option<i32>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecurrenceInput {
    /// An RFC 5545 RRULE value, e.g. `FREQ=MONTHLY;BYDAY=1TU`; empty for a
    /// series of `rdates` alone (DTSTART and those dates).
    #[schema(max_length = 1000)]
    pub rule: String,
    /// Extra occurrences beside the rule's (RFC 5545 RDATE), each with the
    /// series' length: wall-clock date-times in the activity's zone for exact
    /// times, dates for whole days.
    #[serde(default)]
    pub rdates: Vec<OccurrenceKey>,
    #[serde(default)]
    pub exceptions: Vec<ExceptionInput>,
}

/// One occurrence skipped (`cancelled: true`), moved (`timing`), or saying
/// something else that day (`translations`, `location`; RFC 5545 §3.8.4.4), or
/// both moved and renamed.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExceptionInput {
    pub occurrence: OccurrenceKey,
    #[serde(default)]
    pub cancelled: bool,
    /// The new timing; absent: the occurrence keeps its time.
    pub timing: Option<TimingInput>,
    /// Title and description of this occurrence per language, replacing the
    /// series' in that language on that date.
    #[serde(default)]
    #[schema(value_type = std::collections::BTreeMap<String, TranslationInput>)]
    pub translations: Translations<TranslationInput>,
    /// The place's name on that date.
    pub location: Option<Name>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaceInput {
    pub name: Option<Name>,
    pub address: Option<Text<500>>,
    pub url: Option<WebUrl>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActualInput {
    #[schema(value_type = String, format = Date)]
    pub start: NaiveDate,
    #[schema(value_type = Option<String>, format = Date)]
    pub end: Option<NaiveDate>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartnerInput {
    pub organisation_id: i64,
    pub role: PartnerRole,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostVariantInput {
    pub channel_id: i64,
    pub lang: Language,
    pub body: Text<5000>,
    /// Shown before the text, which stays hidden until opened (Mastodon's
    /// `spoiler_text`, counted in its length). Bluesky has none: refused there.
    #[serde(default)]
    pub content_warning: Option<Text<500>>,
    /// A thread: the parts after `body`, in order (part 2 replies to part 1,
    /// and so on). Left out or empty: a single post.
    #[serde(default)]
    #[schema(max_items = 24)]
    pub thread: Vec<ThreadPartInput>,
    /// The variant's images as a read activity shows them: ignored here
    /// (images are written with the variant's own route, and kept), taken
    /// so that an activity read can be sent back as it is.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    pub media: Option<Vec<serde_json::Value>>,
}

/// The most parts after the first a thread may have.
pub const MAX_THREAD_PARTS: usize = 24;

/// One part of a thread after the first.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ThreadPartInput {
    pub body: Text<5000>,
}

/// The parts after the first, checked: at most `MAX_THREAD_PARTS`, none
/// empty (`field` names the list, e.g. `post_variants[0].thread`).
pub fn thread_parts(input: &[ThreadPartInput], field: &str) -> Result<Vec<ThreadPart>> {
    if input.len() > MAX_THREAD_PARTS {
        return Err(Error::invalid(
            field,
            format!("at most {MAX_THREAD_PARTS} parts after the first"),
        ));
    }
    input
        .iter()
        .enumerate()
        .map(|(j, p)| {
            let body = p.body.as_str().trim();
            if body.is_empty() {
                return Err(Error::invalid(
                    format!("{field}[{j}].body"),
                    "must not be empty",
                ));
            }
            Ok(ThreadPart {
                body: body.to_owned(),
            })
        })
        .collect()
}

/// An activity that passed every rule that does not need the database.
#[derive(Debug, Clone)]
pub struct ValidActivity {
    pub plan_id: i64,
    pub period_id: Option<i64>,
    pub campaign_id: Option<i64>,
    pub kind: ActivityKind,
    pub status: ActivityStatus,
    pub visibility: Visibility,
    pub owner_person_id: Option<i64>,
    pub owner_organisation_id: Option<i64>,
    pub timing: Timing,
    pub recurrence: Option<Recurrence>,
    pub exceptions: Vec<Exception>,
    pub place: Place,
    pub actual: Option<(NaiveDate, NaiveDate)>,
    pub channel_ids: Vec<i64>,
    pub partners: Vec<Partner>,
    pub translations: Translations<Translation>,
    pub post_variants: Vec<PostVariant>,
}

impl ActivityInput {
    pub fn validate(&self) -> Result<ValidActivity> {
        let timing = Timing::try_from(self.timing.clone())?;
        check_translations(&self.translations)?;
        check_unique_ids(&self.channel_ids, "channel_ids")?;
        let partner_ids: Vec<i64> = self.partners.iter().map(|p| p.organisation_id).collect();
        check_unique_ids(&partner_ids, "partners")?;
        let (recurrence, exceptions) = match &self.recurrence {
            None => (None, Vec::new()),
            Some(input) => {
                // No rule but extra dates: a series of those dates (RFC 5545 §3.8.5.2).
                let recurrence = if input.rule.trim().is_empty() && !input.rdates.is_empty() {
                    Recurrence::dates_only(&input.rdates, &timing, "recurrence.rdates")?
                } else {
                    Recurrence::parse(&input.rule, &timing)?.with_rdates(
                        &input.rdates,
                        &timing,
                        "recurrence.rdates",
                    )?
                };
                let mut exceptions: Vec<Exception> = Vec::new();
                for (i, e) in input.exceptions.iter().enumerate() {
                    let field = format!("recurrence.exceptions[{i}]");
                    let exception = e.validate(&recurrence, &timing, &field)?;
                    if exceptions.iter().any(|x| x.key == exception.key) {
                        return Err(Error::invalid(
                            format!("{field}.occurrence"),
                            "is listed twice",
                        ));
                    }
                    exceptions.push(exception);
                }
                (Some(recurrence), exceptions)
            }
        };
        let actual = match &self.actual {
            None => None,
            Some(a) => {
                let end = a.end.unwrap_or(a.start);
                if end < a.start {
                    return Err(Error::invalid("actual.end", "must not be before start"));
                }
                Some((a.start, end))
            }
        };
        let mut post_variants = Vec::new();
        for (i, v) in self.post_variants.iter().enumerate() {
            if !self.channel_ids.contains(&v.channel_id) {
                return Err(Error::invalid(
                    format!("post_variants[{i}].channel_id"),
                    "must be one of the activity's channel_ids",
                ));
            }
            if post_variants
                .iter()
                .any(|p: &PostVariant| p.channel_id == v.channel_id && p.lang == v.lang)
            {
                return Err(Error::invalid(
                    format!("post_variants[{i}]"),
                    "a variant for this channel and language is listed twice",
                ));
            }
            post_variants.push(PostVariant {
                channel_id: v.channel_id,
                lang: v.lang,
                body: v.body.as_str().to_owned(),
                content_warning: v
                    .content_warning
                    .as_ref()
                    .map(|w| w.as_str().trim().to_owned())
                    .filter(|w| !w.is_empty()),
                thread: thread_parts(&v.thread, &format!("post_variants[{i}].thread"))?,
                media: Vec::new(),
            });
        }
        let place = self
            .place
            .as_ref()
            .map(|p| Place {
                name: p.name.as_ref().map(|n| n.as_str().to_owned()),
                address: p.address.as_ref().map(|a| a.as_str().to_owned()),
                url: p.url.as_ref().map(|u| u.as_str().to_owned()),
            })
            .unwrap_or_default();
        Ok(ValidActivity {
            plan_id: self.plan_id,
            period_id: self.period_id,
            campaign_id: self.campaign_id,
            kind: self.kind,
            status: self.status,
            visibility: self.visibility.unwrap_or(Visibility::Internal),
            owner_person_id: self.owner_person_id,
            owner_organisation_id: self.owner_organisation_id,
            timing,
            recurrence,
            exceptions,
            place,
            actual,
            channel_ids: self.channel_ids.clone(),
            partners: self
                .partners
                .iter()
                .map(|p| Partner {
                    organisation_id: p.organisation_id,
                    role: p.role,
                })
                .collect(),
            translations: self
                .translations
                .iter()
                .map(|(lang, t)| (*lang, Translation::from(t)))
                .collect(),
            post_variants,
        })
    }
}

impl ExceptionInput {
    /// The exception this input describes, checked against its series; errors
    /// name `field` and the part at fault.
    pub fn validate(
        &self,
        recurrence: &Recurrence,
        timing: &Timing,
        field: &str,
    ) -> Result<Exception> {
        let text = OccurrenceText {
            translations: self
                .translations
                .iter()
                .map(|(lang, t)| (*lang, Translation::from(t)))
                .collect(),
            location: self.location.as_ref().map(|n| n.as_str().to_owned()),
        };
        let change = match (self.cancelled, &self.timing) {
            (true, None) if text.is_empty() => ExceptionChange::Cancelled,
            (true, None) => {
                let part = if text.translations.is_empty() {
                    "location"
                } else {
                    "translations"
                };
                return Err(Error::invalid(
                    format!("{field}.{part}"),
                    "a cancelled occurrence says nothing: leave it out",
                ));
            }
            (false, Some(t)) => ExceptionChange::Moved(
                Timing::try_from(t.clone()).map_err(|err| prefix(err, field))?,
            ),
            (false, None) if !text.is_empty() => {
                // Renamed in place: the occurrence keeps its own time.
                match recurrence.occurrence_timing(timing, self.occurrence) {
                    Some(t) => ExceptionChange::Moved(t),
                    None => {
                        return Err(Error::invalid(
                            format!("{field}.occurrence"),
                            format!("{} is not an occurrence of the series", self.occurrence),
                        ));
                    }
                }
            }
            _ => {
                return Err(Error::invalid(
                    field,
                    "give either \"cancelled\": true, or a new timing, \
                     translations or a location",
                ));
            }
        };
        let exception = Exception {
            key: self.occurrence,
            change,
            text,
        };
        exception.validate(recurrence, timing, field)?;
        Ok(exception)
    }
}

/// Errors from a nested timing name their full path.
fn prefix(err: Error, path: &str) -> Error {
    match err {
        Error::Invalid { field, message } => Error::Invalid {
            field: format!("{path}.{field}"),
            message,
        },
        other => other,
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Place {
    pub name: Option<String>,
    pub address: Option<String>,
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Partner {
    pub organisation_id: i64,
    pub role: PartnerRole,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PostVariant {
    pub channel_id: i64,
    pub lang: Language,
    pub body: String,
    /// Left out when there is none (so that the approval hash of a variant
    /// without one is what it was before warnings existed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_warning: Option<String>,
    /// A thread's parts after `body`, in order; left out when there are none
    /// (so a single post's approval hash is what it was before threads).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thread: Vec<ThreadPart>,
    /// Images attached, in order (their bytes stay in `post_media`): the
    /// approval hash covers each one's hash and alt text. Left out when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub media: Vec<MediaRef>,
}

/// An image attached to a variant, as the approval hash and the API see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct MediaRef {
    /// The part it goes with: 1 is the post itself, 2 the first reply, …
    pub part: i32,
    pub mime_type: String,
    /// Bytes.
    pub size: i64,
    /// SHA-256 of the bytes, in hex.
    pub sha256: String,
    /// What the image shows, for people who cannot see it (required).
    pub alt: String,
}

/// Image types every network here accepts.
pub const MEDIA_TYPES: [&str; 4] = ["image/jpeg", "image/png", "image/gif", "image/webp"];

/// The most images a post (or a part of a thread) may carry, on Mastodon
/// and on Bluesky (`app.bsky.embed.images`: maxLength 4).
pub const MAX_MEDIA_PER_PART: usize = 4;

/// The longest alt text taken (Mastodon's `description` limit).
pub const MAX_ALT: usize = 1500;

impl PostVariant {
    /// Every part's text in order: `body`, then the thread's.
    pub fn parts(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.body.as_str()).chain(self.thread.iter().map(|p| p.body.as_str()))
    }
}

/// A part of a thread after the first: it replies to the part before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ThreadPart {
    pub body: String,
}

/// An activity as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Activity {
    pub id: i64,
    /// The calendar UID: fixed at creation, never changes.
    pub uid: String,
    pub plan_id: i64,
    pub period_id: Option<i64>,
    pub campaign_id: Option<i64>,
    pub kind: ActivityKind,
    pub status: ActivityStatus,
    pub visibility: Visibility,
    pub owner_person_id: Option<i64>,
    pub owner_organisation_id: Option<i64>,
    #[serde(skip)]
    pub timing: Timing,
    #[serde(rename = "timing")]
    pub timing_view: TimingView,
    pub recurrence: Option<RecurrenceView>,
    pub place: Place,
    pub actual: Option<ActualView>,
    pub channel_ids: Vec<i64>,
    pub partners: Vec<Partner>,
    pub participants: Vec<ParticipantView>,
    #[schema(value_type = std::collections::BTreeMap<String, Translation>)]
    pub translations: Translations<Translation>,
    /// Title in the language asked for with `?lang=` (with fallback), else in the
    /// first available of en, es, fr.
    pub title: String,
    pub description: Option<String>,
    /// The language `title` and `description` are in.
    pub lang: Language,
    pub post_variants: Vec<PostVariant>,
    /// Source of an imported activity.
    pub source_organisation_id: Option<i64>,
    pub external_uid: Option<String>,
    /// Incremented on every change a calendar subscriber would see.
    pub sequence: i32,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub cancelled_at: Option<DateTime<Utc>>,
    /// With a date range: the occurrences inside it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub occurrences: Option<Vec<OccurrenceView>>,
    #[serde(skip)]
    pub recurrence_rule: Option<Recurrence>,
    #[serde(skip)]
    pub exceptions: Vec<Exception>,
}

impl Activity {
    /// Sets `title`, `description` and `lang` from the best translation for `wanted`.
    pub fn localise(&mut self, wanted: Language) {
        if let Some((lang, t)) = pick(&self.translations, wanted) {
            self.title = t.title.clone();
            self.description = t.description.clone();
            self.lang = lang;
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecurrenceView {
    pub rule: String,
    /// RDATE occurrences, beside the rule's.
    pub rdates: Vec<OccurrenceKey>,
    pub exceptions: Vec<ExceptionView>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExceptionView {
    pub occurrence: OccurrenceKey,
    pub cancelled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timing: Option<TimingView>,
    /// This occurrence's own title and description, per language.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    #[schema(value_type = std::collections::BTreeMap<String, Translation>)]
    pub translations: Translations<Translation>,
    /// This occurrence's own place name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

impl RecurrenceView {
    pub fn new(rule: &Recurrence, exceptions: &[Exception]) -> RecurrenceView {
        RecurrenceView {
            rule: rule.rule().to_owned(),
            rdates: rule.rdates().to_vec(),
            exceptions: exceptions
                .iter()
                .map(|e| ExceptionView {
                    occurrence: e.key,
                    cancelled: matches!(e.change, ExceptionChange::Cancelled),
                    timing: match &e.change {
                        ExceptionChange::Moved(t) => Some(TimingView::from(t)),
                        ExceptionChange::Cancelled => None,
                    },
                    translations: e.text.translations.clone(),
                    location: e.text.location.clone(),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ActualView {
    #[schema(value_type = String, format = Date)]
    pub start: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub end: NaiveDate,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ParticipantView {
    pub participation_id: i64,
    pub person_id: i64,
    pub name: String,
    pub title: Option<String>,
    pub role: ParticipantRole,
    pub represents_organisation_id: Option<i64>,
    /// Their answer to the invitation (iTIP REPLY), if any.
    pub answer: Option<super::participation::ParticipationAnswer>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OccurrenceView {
    pub occurrence: OccurrenceKey,
    pub timing: TimingView,
    pub moved: bool,
}
