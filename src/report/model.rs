//! The report as data: what every renderer (JSON, CSV, Markdown, HTML, PDF)
//! shows. Every figure carries the ids of the records it counts.

use crate::domain::Language;
use crate::domain::activity::{ActivityKind, ActivityStatus};
use crate::domain::timing::Precision;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Report {
    pub lang: Language,
    pub plan: PlanRef,
    #[schema(value_type = String, format = Date)]
    pub from: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub to: NaiveDate,
    /// Only this campaign, when asked for.
    pub campaign_id: Option<i64>,
    pub generated_at: DateTime<Utc>,
    /// Changes are listed from this day on: the day after the previous report
    /// (the last done progress-report activity of the plan), else `from`.
    #[schema(value_type = String, format = Date)]
    pub changes_since: NaiveDate,
    /// The progress-report activity `changes_since` comes from, if any.
    pub previous_report_activity_id: Option<i64>,
    pub totals: Counts,
    /// The plan's periods with their goals and items.
    pub periods: Vec<PeriodSection>,
    /// One row per period, campaign and channel (an item with two channels
    /// counts in both rows).
    pub breakdown: Vec<BreakdownRow>,
    /// Items still tentative or to be confirmed, with how long.
    pub unconfirmed: Vec<i64>,
    /// Cancelled and failed items.
    pub called_off: Vec<i64>,
    pub changes: Vec<Change>,
    pub newsletter: Vec<IssueReach>,
    pub events: Vec<EventAttended>,
    /// The selected items' published social posts with the networks' public
    /// counts as last read (engagement, not reach).
    pub social: Vec<PostEngagement>,
    /// Those counts added up per channel.
    pub social_totals: Vec<ChannelEngagement>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlanRef {
    pub id: i64,
    pub slug: String,
    pub title: String,
    pub description: Option<String>,
    pub link: String,
}

/// Item counts, each with the activity ids counted.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Counts {
    pub planned: Tally,
    pub done: Tally,
    pub done_on_time: Tally,
    pub done_late: Tally,
    /// Past their planned date, not done and not called off.
    pub overdue: Tally,
    /// Not yet due.
    pub upcoming: Tally,
    pub unconfirmed: Tally,
    pub cancelled: Tally,
    pub failed: Tally,
}

/// A number and the records it counts.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Tally {
    pub count: usize,
    pub activity_ids: Vec<i64>,
}

impl Tally {
    pub fn add(&mut self, id: i64) {
        self.count += 1;
        self.activity_ids.push(id);
    }
}

impl Counts {
    pub fn add(&mut self, item: &Item) {
        let id = item.activity_id;
        self.planned.add(id);
        match item.outcome {
            Outcome::DoneOnTime => {
                self.done.add(id);
                self.done_on_time.add(id);
            }
            Outcome::DoneLate => {
                self.done.add(id);
                self.done_late.add(id);
            }
            Outcome::Done => self.done.add(id),
            Outcome::Overdue => self.overdue.add(id),
            Outcome::Upcoming => self.upcoming.add(id),
            Outcome::Unconfirmed => self.unconfirmed.add(id),
            Outcome::Cancelled => self.cancelled.add(id),
            Outcome::Failed => self.failed.add(id),
        }
    }
}

/// How a planned item ended, or stands, on the report's day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    DoneOnTime,
    DoneLate,
    /// Done, with no actual date recorded to compare.
    Done,
    Overdue,
    Upcoming,
    /// Tentative, or its date is still to be confirmed.
    Unconfirmed,
    Cancelled,
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::DoneOnTime => "done_on_time",
            Outcome::DoneLate => "done_late",
            Outcome::Done => "done",
            Outcome::Overdue => "overdue",
            Outcome::Upcoming => "upcoming",
            Outcome::Unconfirmed => "unconfirmed",
            Outcome::Cancelled => "cancelled",
            Outcome::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PeriodSection {
    /// `None`: items in no period.
    pub period: Option<PeriodRef>,
    pub goals: Vec<GoalRef>,
    pub counts: Counts,
    pub campaigns: Vec<CampaignSection>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PeriodRef {
    pub id: i64,
    pub name: String,
    #[schema(value_type = Option<String>, format = Date)]
    pub starts_on: Option<NaiveDate>,
    #[schema(value_type = Option<String>, format = Date)]
    pub ends_on: Option<NaiveDate>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GoalRef {
    pub id: i64,
    pub description: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CampaignSection {
    pub campaign: Option<CampaignRef>,
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CampaignRef {
    pub id: i64,
    pub slug: String,
    pub title: String,
    pub link: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChannelRef {
    pub id: i64,
    pub slug: String,
    pub name: String,
}

/// One planned activity.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Item {
    pub activity_id: i64,
    pub uid: String,
    pub link: String,
    pub title: String,
    pub kind: ActivityKind,
    pub status: ActivityStatus,
    pub outcome: Outcome,
    pub period_id: Option<i64>,
    pub campaign_id: Option<i64>,
    pub channels: Vec<ChannelRef>,
    /// The goals of the item's period: what it serves.
    pub goal_ids: Vec<i64>,
    pub precision: Precision,
    #[schema(value_type = Option<String>, format = Date)]
    pub planned_start: Option<NaiveDate>,
    #[schema(value_type = Option<String>, format = Date)]
    pub planned_end: Option<NaiveDate>,
    #[schema(value_type = Option<String>, format = Date)]
    pub actual_start: Option<NaiveDate>,
    #[schema(value_type = Option<String>, format = Date)]
    pub actual_end: Option<NaiveDate>,
    /// Actual start minus planned start (within a planned month: 0); negative
    /// is early.
    pub delay_days: Option<i64>,
    /// For unconfirmed items: days since it became tentative or undated.
    pub unconfirmed_days: Option<i64>,
    #[schema(value_type = Option<String>, format = Date)]
    pub unconfirmed_since: Option<NaiveDate>,
    /// For cancelled and failed items: the reason given in the history.
    pub reason: Option<String>,
    /// The history entry the reason comes from.
    pub reason_history_id: Option<i64>,
    pub place: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BreakdownRow {
    pub period_id: Option<i64>,
    pub period: Option<String>,
    pub campaign_id: Option<i64>,
    pub campaign: Option<String>,
    pub channel_id: Option<i64>,
    pub channel: Option<String>,
    pub counts: Counts,
}

/// One change to a planned item since the previous report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Change {
    pub history_id: Option<i64>,
    pub link: String,
    pub at: DateTime<Utc>,
    pub activity_id: i64,
    pub title: String,
    pub action: String,
    /// `field: before → after` for each field, personal values left out.
    pub fields: Vec<String>,
    pub reason: Option<String>,
}

/// What one newsletter issue reached, from its delivery records. Pregón does
/// not track opens or clicks.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IssueReach {
    pub issue_id: i64,
    pub link: String,
    pub deliveries_link: String,
    pub activity_id: Option<i64>,
    pub name: String,
    pub subject: Option<String>,
    pub state: String,
    pub started_at: Option<DateTime<Utc>>,
    pub recipients: i64,
    pub delivered: i64,
    pub failed: i64,
    /// Outcome unknown (the relay may or may not have taken it).
    pub unknown: i64,
    /// Still queued, retrying or sending.
    pub pending: i64,
    pub bounced: i64,
    /// Recipients who unsubscribed after this issue and before the next one.
    pub unsubscribed: i64,
}

/// An event or meeting that took place, with who represented the Community.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventAttended {
    pub activity_id: i64,
    pub link: String,
    pub title: String,
    #[schema(value_type = Option<String>, format = Date)]
    pub date: Option<NaiveDate>,
    pub place: Option<String>,
    pub people: Vec<Participant>,
    pub partners: Vec<PartnerRef>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Participant {
    pub participation_id: i64,
    pub link: String,
    pub person_id: i64,
    pub name: String,
    pub title: Option<String>,
    pub role: String,
    pub represents: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PartnerRef {
    pub organisation_id: i64,
    pub name: String,
    pub role: String,
}

/// One published post variant and its public counts, as the network gave
/// them when last read. A count is `None` when the network gives none
/// (Mastodon has no quotes) or the post was never read.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PostEngagement {
    pub activity_id: i64,
    pub link: String,
    pub title: String,
    pub channel_id: i64,
    pub channel: Option<String>,
    pub lang: String,
    pub network: String,
    /// The post's public URL.
    pub url: Option<String>,
    pub replies: Option<i64>,
    pub reposts: Option<i64>,
    pub likes: Option<i64>,
    pub quotes: Option<i64>,
    /// When the figures were read; `None`: never read yet.
    pub read_at: Option<DateTime<Utc>>,
    /// The last attempt to read them, and why it failed if it did (the
    /// figures are then those read at `read_at`).
    pub tried_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
}

/// A channel's posts' counts added up.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChannelEngagement {
    pub channel_id: i64,
    pub channel: Option<String>,
    pub network: String,
    pub posts: usize,
    /// Posts whose figures were never read (not in the sums).
    pub unread: usize,
    pub replies: i64,
    pub reposts: i64,
    pub likes: i64,
    /// `None` when the network gives no quote counts.
    pub quotes: Option<i64>,
    /// The oldest time among the figures added: the totals are as of then
    /// or later.
    pub as_of: Option<DateTime<Utc>>,
    /// Posts whose last read failed (their older figures are in the sums).
    pub stale: usize,
    pub activity_ids: Vec<i64>,
}

impl Report {
    /// Every item, in section order.
    pub fn items(&self) -> impl Iterator<Item = &Item> {
        self.periods
            .iter()
            .flat_map(|p| p.campaigns.iter())
            .flat_map(|c| c.items.iter())
    }

    /// Items by activity id.
    pub fn index(&self) -> std::collections::HashMap<i64, &Item> {
        self.items().map(|i| (i.activity_id, i)).collect()
    }
}
