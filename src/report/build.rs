//! Builds the report model from the plan's records: pure, no database. The
//! records are read by `app::reports` through `db::reports`.

use super::i18n::Catalogue;
use super::model::*;
use crate::db::reports::{ChannelRow, DeliveryCounts, HistoryRow, IssueRow};
use crate::domain::Language;
use crate::domain::activity::{Activity, ActivityKind, ActivityStatus};
use crate::domain::campaign::Campaign;
use crate::domain::history::{FieldChange, makes_unconfirmed};
use crate::domain::language::pick;
use crate::domain::plan::Plan;
use crate::domain::timing::{Precision, Timing};
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::{BTreeMap, HashMap};

/// What the report asks for.
#[derive(Debug, Clone)]
pub struct Params {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub campaign_id: Option<i64>,
    pub lang: Language,
    pub now: DateTime<Utc>,
}

/// Everything the report is built from.
#[derive(Debug, Clone, Default)]
pub struct Records {
    pub plan: Option<Plan>,
    /// The plan's activities, localised or not (titles are picked here).
    pub activities: Vec<Activity>,
    pub campaigns: Vec<Campaign>,
    pub channels: Vec<ChannelRow>,
    pub organisations: HashMap<i64, String>,
    /// History entries about activities, oldest first.
    pub history: Vec<HistoryRow>,
    /// Issues tied to the plan's activities that started sending, by start.
    pub issues: Vec<IssueRow>,
    pub issue_subjects: HashMap<i64, Vec<(String, String)>>,
    pub deliveries: HashMap<i64, DeliveryCounts>,
    /// Unsubscriptions after each issue, by issue id.
    pub unsubscribed: HashMap<i64, i64>,
    /// Published post variants with their last counts.
    pub engagement: Vec<crate::db::engagement::Row>,
}

pub fn activity_link(id: i64) -> String {
    format!("/api/v1/activities/{id}")
}

fn history_link(activity_id: i64) -> String {
    format!("/api/v1/activities/{activity_id}/history")
}

/// The window in which an issue's unsubscriptions are counted: from its start
/// to the next issue's start (the last one: open).
pub fn unsubscribe_windows(
    issues: &[IssueRow],
) -> Vec<(i64, chrono::NaiveDateTime, Option<chrono::NaiveDateTime>)> {
    let starts: Vec<_> = issues
        .iter()
        .filter_map(|i| i.started_at.map(|s| (i.id, s)))
        .collect();
    starts
        .iter()
        .enumerate()
        .map(|(n, (id, start))| (*id, *start, starts.get(n + 1).map(|(_, s)| *s)))
        .collect()
}

/// The progress-report activity the previous report was, if one is done
/// before `to`: changes are listed from the day after it.
fn previous_report(activities: &[Activity], p: &Params) -> Option<(i64, NaiveDate)> {
    activities
        .iter()
        .filter(|a| a.kind == ActivityKind::ProgressReport && a.status == ActivityStatus::Done)
        .filter_map(|a| a.actual.as_ref().map(|act| (a.id, act.end)))
        .filter(|(_, end)| *end < p.to)
        .max_by_key(|(id, end)| (*end, *id))
}

struct Ctx<'a> {
    p: &'a Params,
    today: NaiveDate,
    channels: HashMap<i64, &'a ChannelRow>,
    goals_by_period: HashMap<Option<i64>, Vec<i64>>,
    /// Per activity: history entries, oldest first.
    history: HashMap<i64, Vec<&'a HistoryRow>>,
}

fn parse_changes(row: &HistoryRow) -> Vec<FieldChange> {
    serde_json::from_str(&row.changes).unwrap_or_default()
}

fn becomes(c: &FieldChange, field: &str, value: &str) -> bool {
    c.becomes(field, value)
}

impl Ctx<'_> {
    /// The latest entry that set the status to `status`, with its reason; an
    /// entry with no reason falls back to the newest reason given before it.
    fn reason_for(&self, a: &Activity, status: &str) -> (Option<String>, Option<i64>) {
        let Some(entries) = self.history.get(&a.id) else {
            return (None, None);
        };
        let found = entries.iter().rposition(|e| {
            parse_changes(e)
                .iter()
                .any(|c| becomes(c, "status", status))
        });
        match found {
            Some(n) => {
                let with_reason = entries[..=n].iter().rev().find(|e| e.reason.is_some());
                match (entries[n].reason.clone(), with_reason) {
                    (Some(r), _) => (Some(r), Some(entries[n].id)),
                    (None, Some(e)) => (e.reason.clone(), Some(e.id)),
                    (None, None) => (None, Some(entries[n].id)),
                }
            }
            None => (None, None),
        }
    }

    /// Since when an item has been unconfirmed: the last entry that made it
    /// tentative or undated (`domain::history::makes_unconfirmed`), else its
    /// creation.
    fn unconfirmed_since(&self, a: &Activity) -> NaiveDate {
        let made = self.history.get(&a.id).and_then(|entries| {
            entries
                .iter()
                .rev()
                .find(|e| e.action != "created" && makes_unconfirmed(&parse_changes(e)))
                .map(|e| e.at.date())
        });
        made.unwrap_or_else(|| a.created_at.date_naive())
    }

    fn item(&self, a: &Activity) -> Item {
        let planned = a.timing.date_range();
        let precision = a.timing.precision();
        let actual = a.actual.as_ref().map(|x| (x.start, x.end));
        let outcome = match a.status {
            ActivityStatus::Done => match (planned, actual) {
                (Some(_), Some(_)) => {
                    if delay(&a.timing, actual.map(|x| x.0)).unwrap_or(0) > 0 {
                        Outcome::DoneLate
                    } else {
                        Outcome::DoneOnTime
                    }
                }
                _ => Outcome::Done,
            },
            ActivityStatus::Cancelled => Outcome::Cancelled,
            ActivityStatus::Failed => Outcome::Failed,
            ActivityStatus::Tentative => Outcome::Unconfirmed,
            _ if precision == Precision::Tbc => Outcome::Unconfirmed,
            _ => match planned {
                Some((_, end)) if end < self.today => Outcome::Overdue,
                _ => Outcome::Upcoming,
            },
        };
        let (reason, reason_history_id) = match outcome {
            Outcome::Cancelled => self.reason_for(a, "cancelled"),
            Outcome::Failed => self.reason_for(a, "failed"),
            _ => (None, None),
        };
        let unconfirmed_since =
            (outcome == Outcome::Unconfirmed).then(|| self.unconfirmed_since(a));
        let title = pick(&a.translations, self.p.lang)
            .map(|(_, t)| t.title.clone())
            .unwrap_or_else(|| a.title.clone());
        Item {
            activity_id: a.id,
            uid: a.uid.clone(),
            link: activity_link(a.id),
            title,
            kind: a.kind,
            status: a.status,
            outcome,
            period_id: a.period_id,
            campaign_id: a.campaign_id,
            channels: a
                .channel_ids
                .iter()
                .filter_map(|id| self.channels.get(id))
                .map(|c| ChannelRef {
                    id: c.id,
                    slug: c.slug.clone(),
                    name: c.name.clone(),
                })
                .collect(),
            goal_ids: self
                .goals_by_period
                .get(&a.period_id)
                .cloned()
                .unwrap_or_default(),
            precision,
            planned_start: planned.map(|x| x.0),
            planned_end: planned.map(|x| x.1),
            actual_start: actual.map(|x| x.0),
            actual_end: actual.map(|x| x.1),
            delay_days: match outcome {
                Outcome::DoneLate | Outcome::DoneOnTime => delay(&a.timing, actual.map(|x| x.0)),
                _ => None,
            },
            unconfirmed_days: unconfirmed_since.map(|d| (self.today - d).num_days().max(0)),
            unconfirmed_since,
            reason,
            reason_history_id,
            place: a.place.name.clone().or_else(|| a.place.address.clone()),
        }
    }
}

/// Days between the planned and the actual start; a month-precision plan is
/// kept by any day of that month.
fn delay(timing: &Timing, actual_start: Option<NaiveDate>) -> Option<i64> {
    let actual = actual_start?;
    match timing {
        Timing::Month(m) => {
            let (first, last) = (m.first_day(), m.last_day());
            Some(if actual < first {
                (actual - first).num_days()
            } else if actual > last {
                (actual - last).num_days()
            } else {
                0
            })
        }
        t => t.date_range().map(|(start, _)| (actual - start).num_days()),
    }
}

/// Does the activity belong in a report for `[from, to]`? Planned or done in
/// the range; or undated and in a period that overlaps the range (or in
/// none), while still open or called off.
fn in_range(a: &Activity, p: &Params, period: Option<&crate::domain::plan::Period>) -> bool {
    let overlaps = |(s, e): (NaiveDate, NaiveDate)| s <= p.to && e >= p.from;
    if a.timing.date_range().is_some_and(overlaps) {
        return true;
    }
    if a.actual
        .as_ref()
        .is_some_and(|x| overlaps((x.start, x.end)))
    {
        return true;
    }
    if a.timing.precision() == Precision::Tbc && a.actual.is_none() {
        return period.is_none_or(|x| {
            overlaps((
                x.starts_on.unwrap_or(NaiveDate::MIN),
                x.ends_on.unwrap_or(NaiveDate::MAX),
            ))
        });
    }
    false
}

fn describe(c: &FieldChange, t: &Catalogue) -> String {
    if c.personal {
        return format!("{}: {}", c.field, t.personal_value);
    }
    let show = |v: &serde_json::Value| match v {
        serde_json::Value::Null => "—".to_owned(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut before = show(&c.before);
    let mut after = show(&c.after);
    for v in [&mut before, &mut after] {
        if v.chars().count() > 80 {
            *v = v.chars().take(79).collect::<String>() + "…";
        }
    }
    format!("{}: {} → {}", c.field, before, after)
}

pub fn build(r: &Records, p: &Params) -> Report {
    let t = Catalogue::of(p.lang);
    let plan = r.plan.as_ref();
    let today = p.now.date_naive();
    let mut goals_by_period: HashMap<Option<i64>, Vec<i64>> = HashMap::new();
    if let Some(plan) = plan {
        for g in &plan.goals {
            goals_by_period.entry(g.period_id).or_default().push(g.id);
        }
    }
    let mut history: HashMap<i64, Vec<&HistoryRow>> = HashMap::new();
    for h in &r.history {
        history.entry(h.entity_id).or_default().push(h);
    }
    let cx = Ctx {
        p,
        today,
        channels: r.channels.iter().map(|c| (c.id, c)).collect(),
        goals_by_period,
        history,
    };
    let campaign_title = |id: i64| -> Option<CampaignRef> {
        r.campaigns
            .iter()
            .find(|c| c.id == id)
            .map(|c| CampaignRef {
                id: c.id,
                slug: c.slug.clone(),
                title: pick(&c.translations, p.lang)
                    .map(|(_, t)| t.title.clone())
                    .unwrap_or_else(|| c.slug.clone()),
                link: format!("/api/v1/campaigns/{}", c.id),
            })
    };

    let selected: Vec<&Activity> = r
        .activities
        .iter()
        .filter(|a| p.campaign_id.is_none() || a.campaign_id == p.campaign_id)
        .filter(|a| {
            let period = a
                .period_id
                .and_then(|id| plan?.periods.iter().find(|x| x.id == id));
            in_range(a, p, period)
        })
        .collect();
    let items: Vec<Item> = selected.iter().map(|a| cx.item(a)).collect();

    // Periods in plan order, then items in no (known) period.
    let mut period_order: Vec<Option<i64>> = plan
        .map(|p| p.periods.iter().map(|x| Some(x.id)).collect())
        .unwrap_or_default();
    period_order.push(None);
    let known: std::collections::HashSet<i64> = period_order.iter().flatten().copied().collect();
    let period_key = |i: &Item| i.period_id.filter(|id| known.contains(id));

    let mut totals = Counts::default();
    let mut breakdown: BTreeMap<(usize, Option<i64>, Option<i64>), Counts> = BTreeMap::new();
    let mut sections: Vec<PeriodSection> = Vec::new();
    for (pos, period_id) in period_order.iter().enumerate() {
        let in_period: Vec<&Item> = items
            .iter()
            .filter(|i| period_key(i) == *period_id)
            .collect();
        let period = period_id.and_then(|id| plan?.periods.iter().find(|x| x.id == id));
        let goals: Vec<GoalRef> = plan
            .map(|pl| {
                pl.goals
                    .iter()
                    .filter(|g| g.period_id == *period_id)
                    .map(|g| GoalRef {
                        id: g.id,
                        description: g.description.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        if in_period.is_empty() && goals.is_empty() {
            continue;
        }
        let mut counts = Counts::default();
        let mut by_campaign: BTreeMap<Option<i64>, Vec<Item>> = BTreeMap::new();
        for item in in_period {
            counts.add(item);
            totals.add(item);
            let channels: Vec<Option<i64>> = if item.channels.is_empty() {
                vec![None]
            } else {
                item.channels.iter().map(|c| Some(c.id)).collect()
            };
            for ch in channels {
                breakdown
                    .entry((pos, item.campaign_id, ch))
                    .or_default()
                    .add(item);
            }
            by_campaign
                .entry(item.campaign_id)
                .or_default()
                .push(item.clone());
        }
        // Campaign sections: campaigns first (by id), items in no campaign last.
        let mut campaigns: Vec<CampaignSection> = Vec::new();
        let none = by_campaign.remove(&None);
        for (id, items) in by_campaign {
            campaigns.push(CampaignSection {
                campaign: id.and_then(campaign_title),
                items,
            });
        }
        if let Some(items) = none {
            campaigns.push(CampaignSection {
                campaign: None,
                items,
            });
        }
        sections.push(PeriodSection {
            period: period.map(|x| PeriodRef {
                id: x.id,
                name: x.name.clone(),
                starts_on: x.starts_on,
                ends_on: x.ends_on,
            }),
            goals,
            counts,
            campaigns,
        });
    }
    let breakdown = breakdown
        .into_iter()
        .map(|((pos, campaign, channel), counts)| {
            let period_id = period_order[pos];
            BreakdownRow {
                period_id,
                period: period_id
                    .and_then(|id| plan?.periods.iter().find(|x| x.id == id))
                    .map(|x| x.name.clone()),
                campaign_id: campaign,
                campaign: campaign.and_then(campaign_title).map(|c| c.title),
                channel_id: channel,
                channel: channel
                    .and_then(|id| cx.channels.get(&id))
                    .map(|c| c.name.clone()),
                counts,
            }
        })
        .collect();

    let mut unconfirmed: Vec<&Item> = items
        .iter()
        .filter(|i| i.outcome == Outcome::Unconfirmed)
        .collect();
    unconfirmed.sort_by_key(|i| (std::cmp::Reverse(i.unconfirmed_days), i.activity_id));
    let called_off: Vec<i64> = items
        .iter()
        .filter(|i| matches!(i.outcome, Outcome::Cancelled | Outcome::Failed))
        .map(|i| i.activity_id)
        .collect();

    // Changes since the previous report, to the end of the range.
    let previous = previous_report(&r.activities, p);
    let changes_since = previous
        .map(|(_, d)| d.succ_opt().unwrap_or(d))
        .unwrap_or(p.from);
    let titles: HashMap<i64, &str> = items
        .iter()
        .map(|i| (i.activity_id, i.title.as_str()))
        .collect();
    let changes: Vec<Change> = r
        .history
        .iter()
        .filter(|h| h.at.date() >= changes_since && h.at.date() <= p.to)
        .filter_map(|h| {
            let title = titles.get(&h.entity_id)?;
            let fields: Vec<String> = parse_changes(h)
                .iter()
                .filter(|c| h.action != "created" || c.field == "status")
                .map(|c| describe(c, t))
                .collect();
            Some(Change {
                history_id: Some(h.id),
                link: history_link(h.entity_id),
                at: h.at.and_utc(),
                activity_id: h.entity_id,
                title: (*title).to_owned(),
                action: h.action.clone(),
                fields,
                reason: h.reason.clone(),
            })
        })
        .collect();

    // Newsletter reach of the selected items' issues that started in range.
    let selected_ids: std::collections::HashSet<i64> =
        items.iter().map(|i| i.activity_id).collect();
    let newsletter = r
        .issues
        .iter()
        .filter(|i| i.activity_id.is_some_and(|a| selected_ids.contains(&a)))
        .filter(|i| {
            i.started_at
                .is_some_and(|s| s.date() >= p.from && s.date() <= p.to)
        })
        .map(|i| {
            let c = r.deliveries.get(&i.id).cloned().unwrap_or_default();
            let subject = r.issue_subjects.get(&i.id).and_then(|all| {
                p.lang
                    .fallback_order()
                    .iter()
                    .find_map(|l| all.iter().find(|(lang, _)| lang == l.as_str()))
                    .map(|(_, s)| s.clone())
            });
            IssueReach {
                issue_id: i.id,
                link: format!("/api/v1/issues/{}", i.id),
                deliveries_link: format!("/api/v1/issues/{}/deliveries", i.id),
                activity_id: i.activity_id,
                name: i.name.clone(),
                subject,
                state: i.state.clone(),
                started_at: i.started_at.map(|s| s.and_utc()),
                recipients: c.recipients,
                delivered: c.sent,
                failed: c.failed,
                unknown: c.unknown,
                pending: c.pending,
                bounced: c.bounced,
                unsubscribed: r.unsubscribed.get(&i.id).copied().unwrap_or(0),
            }
        })
        .collect();

    // Events and meetings that took place.
    let events = selected
        .iter()
        .filter(|a| {
            matches!(
                a.kind,
                ActivityKind::Event | ActivityKind::LearningMeeting | ActivityKind::External
            ) && a.status == ActivityStatus::Done
        })
        .map(|a| EventAttended {
            activity_id: a.id,
            link: activity_link(a.id),
            title: titles
                .get(&a.id)
                .map(|s| (*s).to_owned())
                .unwrap_or_default(),
            date: a
                .actual
                .as_ref()
                .map(|x| x.start)
                .or_else(|| a.timing.date_range().map(|x| x.0)),
            place: a.place.name.clone(),
            people: a
                .participants
                .iter()
                .map(|x| Participant {
                    participation_id: x.participation_id,
                    link: format!("/api/v1/participations/{}", x.participation_id),
                    person_id: x.person_id,
                    name: x.name.clone(),
                    title: x.title.clone(),
                    role: t.participant_role(x.role).to_owned(),
                    represents: x
                        .represents_organisation_id
                        .and_then(|id| r.organisations.get(&id).cloned()),
                })
                .collect(),
            partners: a
                .partners
                .iter()
                .map(|x| PartnerRef {
                    organisation_id: x.organisation_id,
                    name: r
                        .organisations
                        .get(&x.organisation_id)
                        .cloned()
                        .unwrap_or_else(|| format!("#{}", x.organisation_id)),
                    role: t.partner_role(x.role).to_owned(),
                })
                .collect(),
        })
        .collect();

    let (social, social_totals) = social_section(r, &cx, &titles, &selected_ids);

    Report {
        lang: p.lang,
        plan: plan
            .map(|pl| PlanRef {
                id: pl.id,
                slug: pl.slug.clone(),
                title: pl.title.clone(),
                description: pl.description.clone(),
                link: format!("/api/v1/plans/{}", pl.id),
            })
            .unwrap_or(PlanRef {
                id: 0,
                slug: String::new(),
                title: String::new(),
                description: None,
                link: String::new(),
            }),
        from: p.from,
        to: p.to,
        campaign_id: p.campaign_id,
        generated_at: p.now,
        changes_since,
        previous_report_activity_id: previous.map(|(id, _)| id),
        totals,
        periods: sections,
        breakdown,
        unconfirmed: unconfirmed.iter().map(|i| i.activity_id).collect(),
        called_off,
        changes,
        newsletter,
        events,
        social,
        social_totals,
    }
}

/// The selected items' published posts with their counts, and the sums per
/// channel.
fn social_section(
    r: &Records,
    cx: &Ctx<'_>,
    titles: &HashMap<i64, &str>,
    selected: &std::collections::HashSet<i64>,
) -> (Vec<PostEngagement>, Vec<ChannelEngagement>) {
    let posts: Vec<PostEngagement> = r
        .engagement
        .iter()
        .filter(|e| selected.contains(&e.activity_id))
        .map(|e| PostEngagement {
            activity_id: e.activity_id,
            link: activity_link(e.activity_id),
            title: titles
                .get(&e.activity_id)
                .map(|s| (*s).to_owned())
                .unwrap_or_default(),
            channel_id: e.channel_id,
            channel: cx.channels.get(&e.channel_id).map(|c| c.name.clone()),
            lang: e.lang.clone(),
            network: e.network.as_str().to_owned(),
            url: e.url.clone(),
            replies: e.counts.replies,
            reposts: e.counts.reposts,
            likes: e.counts.likes,
            quotes: e.counts.quotes,
            read_at: e.read_at,
            tried_at: e.tried_at,
            error: e.error.clone(),
        })
        .collect();
    let mut totals: BTreeMap<i64, ChannelEngagement> = BTreeMap::new();
    for post in &posts {
        let t = totals
            .entry(post.channel_id)
            .or_insert_with(|| ChannelEngagement {
                channel_id: post.channel_id,
                channel: post.channel.clone(),
                network: post.network.as_str().to_owned(),
                posts: 0,
                unread: 0,
                replies: 0,
                reposts: 0,
                likes: 0,
                quotes: None,
                as_of: None,
                stale: 0,
                activity_ids: Vec::new(),
            });
        t.posts += 1;
        if !t.activity_ids.contains(&post.activity_id) {
            t.activity_ids.push(post.activity_id);
        }
        let Some(read_at) = post.read_at else {
            t.unread += 1;
            continue;
        };
        if post.error.is_some() {
            t.stale += 1;
        }
        t.replies += post.replies.unwrap_or(0);
        t.reposts += post.reposts.unwrap_or(0);
        t.likes += post.likes.unwrap_or(0);
        if let Some(q) = post.quotes {
            t.quotes = Some(t.quotes.unwrap_or(0) + q);
        }
        t.as_of = Some(t.as_of.map_or(read_at, |a| a.min(read_at)));
    }
    (posts, totals.into_values().collect())
}
