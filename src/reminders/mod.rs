//! Reminders and the weekly digest, as jobs of `crate::jobs`.
//!
//! The `Planner` runs at the start of each job-runner step (at most every
//! `reminders.plan_every_secs`, by the runner's clock) and enqueues:
//!
//! - a `reminder.email` job per person with an email (the item's owner and
//!   its participants) when an event or learning meeting is
//!   `reminders.event_days` away, or a social post or newsletter issue
//!   `reminders.post_days` away (each occurrence of a series counts);
//! - a `reminder.email` job per person of its activity (or, without one, to
//!   the account that scheduled it) when a scheduled newsletter issue's own
//!   `scheduled_at` is `reminders.post_days` away; its activity is then not
//!   reminded of separately;
//! - a `reminder.email` job per approver (active accounts with the approver
//!   or administrator role, not the item's author or last editor) when an
//!   item has waited in review `reminders.approval_days`;
//! - a `digest.email` job per active account (unless it opted out) once per
//!   ISO week, from Monday `reminders.digest_hour_utc`, about the account's
//!   own items (those its people own or take part in) and what awaits its
//!   approval.
//!
//! Once each: the idempotency key holds the item, the scheduled instant it
//! reminds of (for reviews, the instant it was sent for review), the lead
//! and the recipient, so a repeated plan, a second runner or a restart finds
//! the job already there, and a changed time makes a new key: the reminder
//! is armed again. The handler checks the item before sending: a reminder
//! whose item moved, was cancelled or was approved meanwhile is not sent
//! (the job ends `done` with "skipped: …").

pub mod report;
mod text;

use crate::config::{ReminderSettings, Settings};
use crate::db::activities::ActivityFilter;
use crate::db::{Db, DbConnection};
use crate::domain::Language;
use crate::domain::account::{AccountKind, AccountStatus};
use crate::domain::activity::{Activity, ActivityKind, ActivityStatus};
use crate::domain::history::makes_unconfirmed;
use crate::domain::language::pick;
use crate::domain::newsletter::IssueState;
use crate::domain::timing::{Precision, Timing};
use crate::domain::{Role, review::ReviewState};
use crate::email::{MailTransport, OutgoingEmail};
use crate::error::{Error, Result};
use crate::jobs::{
    self, Attempt, Exchange, Handler, Job, NewJob, Outcome, Planner as PlannerTrait,
};
use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc};
use futures_util::future::BoxFuture;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

pub use text::{DigestItem, DigestSections};

/// Reminder emails (items coming up, items waiting for approval).
pub const REMINDER_KIND: &str = "reminder.email";
/// The weekly digest.
pub const DIGEST_KIND: &str = "digest.email";

/// The planners `jobs::standard_planners` runs.
pub fn planners(settings: &Settings) -> Vec<Arc<dyn PlannerTrait>> {
    if !settings.reminders.enabled {
        return Vec::new();
    }
    vec![Arc::new(Planner::new(settings.reminders.clone()))]
}

/// The handlers `jobs::standard_handlers` registers.
pub fn handlers(settings: &Settings, db: &Db) -> anyhow::Result<Vec<Arc<dyn Handler>>> {
    let transport = crate::dispatch::transport_from_settings(&settings.email)?;
    let mailer = Mailer {
        transport,
        email: settings.email.clone(),
    };
    Ok(vec![
        Arc::new(ReminderHandler {
            db: db.clone(),
            mailer: mailer.clone(),
        }),
        Arc::new(DigestHandler {
            db: db.clone(),
            mailer: mailer.clone(),
            settings: settings.reminders.clone(),
        }),
        Arc::new(report::ReportHandler {
            db: db.clone(),
            mailer,
        }),
    ])
}

// ---------------------------------------------------------------- planning

/// Plans reminders and digests; rates itself to `plan_every_secs`.
pub struct Planner {
    settings: ReminderSettings,
    last: Mutex<Option<DateTime<Utc>>>,
}

impl Planner {
    pub fn new(settings: ReminderSettings) -> Planner {
        Planner {
            settings,
            last: Mutex::new(None),
        }
    }
}

impl PlannerTrait for Planner {
    fn name(&self) -> &'static str {
        "reminders"
    }

    fn plan(&self, conn: &mut DbConnection, now: DateTime<Utc>) -> Result<usize> {
        let every = TimeDelta::seconds(self.settings.plan_every_secs as i64);
        if let Some(last) = *self.last.lock().expect("planner lock")
            && now >= last
            && now < last + every
        {
            return Ok(0);
        }
        let mut created = plan_items(conn, &self.settings, now)?;
        created += plan_issues(conn, &self.settings, now)?;
        created += plan_approvals(conn, &self.settings, now)?;
        created += report::plan(conn, now)?;
        if self.settings.digest {
            created += plan_digests(conn, &self.settings, now)?;
        }
        *self.last.lock().expect("planner lock") = Some(now);
        Ok(created)
    }
}

/// Days before the item its people are reminded, by kind; `None`: no reminder.
fn lead_days(settings: &ReminderSettings, kind: ActivityKind) -> Option<u32> {
    match kind {
        ActivityKind::Event | ActivityKind::LearningMeeting => Some(settings.event_days),
        ActivityKind::SocialPost | ActivityKind::NewsletterIssue => Some(settings.post_days),
        _ => None,
    }
}

/// An item still to happen: reminders are for these.
fn is_open(status: ActivityStatus) -> bool {
    matches!(
        status,
        ActivityStatus::Planned | ActivityStatus::Tentative | ActivityStatus::Confirmed
    )
}

/// The instant an occurrence starts: exact timings at their instant,
/// whole-day ones at 00:00 UTC of their first day; month-only and TBC
/// timings have none (nothing to remind of yet).
fn start_instant(timing: &Timing) -> Option<DateTime<Utc>> {
    match timing {
        Timing::Exact { .. } => timing.instants().map(|(start, _)| start),
        Timing::Days { start, .. } => Some(start.and_time(chrono::NaiveTime::MIN).and_utc()),
        _ => None,
    }
}

/// The start instants of the activity (or of its occurrences) touching `from..=to`.
fn starts(a: &Activity, from: NaiveDate, to: NaiveDate) -> Vec<DateTime<Utc>> {
    match &a.recurrence_rule {
        Some(rule) => rule
            .occurrences(&a.timing, &a.exceptions, from, to)
            .iter()
            .filter_map(|o| start_instant(&o.timing))
            .collect(),
        None => start_instant(&a.timing).into_iter().collect(),
    }
}

/// The owner and the participants who have an email address, once each.
fn reachable_people(conn: &mut DbConnection, a: &Activity) -> Result<Vec<i64>> {
    let mut out = Vec::new();
    for id in people_of(a) {
        if crate::db::people::get(conn, id)?.email.is_some() {
            out.push(id);
        }
    }
    Ok(out)
}

/// The owner and the participants, once each.
fn people_of(a: &Activity) -> Vec<i64> {
    let mut ids: Vec<i64> = a
        .owner_person_id
        .into_iter()
        .chain(a.participants.iter().map(|p| p.person_id))
        .collect();
    let mut seen = std::collections::HashSet::new();
    ids.retain(|id| seen.insert(*id));
    ids
}

fn key_instant(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

fn plan_items(conn: &mut DbConnection, s: &ReminderSettings, now: DateTime<Utc>) -> Result<usize> {
    let longest = s.event_days.max(s.post_days) as i64;
    let today = now.date_naive();
    let filter = ActivityFilter {
        from: Some(today - TimeDelta::days(1)),
        to: Some(today + TimeDelta::days(longest + 1)),
        ..ActivityFilter::default()
    };
    let mut created = 0;
    let found = crate::db::activities::all(conn, &filter)?;
    let newsletters: Vec<i64> = found
        .iter()
        .filter(|a| a.kind == ActivityKind::NewsletterIssue)
        .map(|a| a.id)
        .collect();
    let issue_scheduled = crate::db::reminders::with_scheduled_issue(conn, &newsletters)?;
    for a in found {
        let Some(days) = lead_days(s, a.kind) else {
            continue;
        };
        if !is_open(a.status) || issue_scheduled.contains(&a.id) {
            continue;
        }
        let lead = TimeDelta::days(days as i64);
        let (from, to) = (filter.from.unwrap_or(today), filter.to.unwrap_or(today));
        for at in starts(&a, from, to) {
            if !(now >= at - lead && now < at) {
                continue;
            }
            for person in reachable_people(conn, &a)? {
                let job = NewJob {
                    kind: REMINDER_KIND,
                    key: format!(
                        "activity:{}:{}:{days}d:person:{person}",
                        a.id,
                        key_instant(at)
                    ),
                    payload: json!({
                        "about": "activity",
                        "activity_id": a.id,
                        "at": at,
                        "lead_days": days,
                        "person_id": person,
                    }),
                    due_at: now,
                };
                created += usize::from(jobs::enqueue(conn, &job, now)?.created);
            }
        }
    }
    Ok(created)
}

/// Who is reminded of a scheduled issue: the people of its activity who have
/// an email; with no activity (or nobody there to write to), the account
/// that scheduled it. Returned as `("person" | "account", id)`.
fn issue_recipients(
    conn: &mut DbConnection,
    issue_id: i64,
    activity_id: Option<i64>,
) -> Result<Vec<(&'static str, i64)>> {
    if let Some(activity_id) = activity_id {
        let a = crate::db::activities::get(conn, activity_id)?;
        let people = reachable_people(conn, &a)?;
        if !people.is_empty() {
            return Ok(people.into_iter().map(|p| ("person", p)).collect());
        }
    }
    Ok(scheduled_by(conn, issue_id)?
        .into_iter()
        .map(|a| ("account", a))
        .collect())
}

/// The active person account with an email that last set the issue's
/// schedule (from its history).
fn scheduled_by(conn: &mut DbConnection, issue_id: i64) -> Result<Option<i64>> {
    let history = crate::app::history::of_record(conn, "issue", issue_id)?;
    let Some(account_id) = history
        .iter()
        .rev()
        .find(|e| {
            e.changes
                .iter()
                .any(|c| c.field == "scheduled_at" && !c.after.is_null())
        })
        .and_then(|e| e.actor.account_id)
    else {
        return Ok(None);
    };
    let account = crate::db::accounts::find(conn, account_id)?;
    Ok(account
        .filter(|a| a.kind == AccountKind::Person && a.is_active() && a.email.is_some())
        .map(|a| a.id))
}

/// Reminders of scheduled newsletter issues, `post_days` before their own
/// `scheduled_at`: keyed by that instant, so a moved schedule is a new
/// reminder and the old one is skipped when its time comes.
fn plan_issues(conn: &mut DbConnection, s: &ReminderSettings, now: DateTime<Utc>) -> Result<usize> {
    let days = s.post_days;
    let lead = TimeDelta::days(days as i64);
    let mut created = 0;
    for issue in crate::db::reminders::scheduled_issues(conn, now, now + lead)? {
        let at = crate::db::utc(issue.scheduled_at);
        for (who, id) in issue_recipients(conn, issue.id, issue.activity_id)? {
            let job = NewJob {
                kind: REMINDER_KIND,
                key: format!("issue:{}:{}:{days}d:{who}:{id}", issue.id, key_instant(at)),
                payload: json!({
                    "about": "issue",
                    "issue_id": issue.id,
                    "at": at,
                    "lead_days": days,
                    "recipient": who,
                    "recipient_id": id,
                }),
                due_at: now,
            };
            created += usize::from(jobs::enqueue(conn, &job, now)?.created);
        }
    }
    Ok(created)
}

/// Accounts that may approve: active people with the approver role or more.
fn approvers(conn: &mut DbConnection) -> Result<Vec<crate::domain::account::Account>> {
    Ok(crate::db::accounts::list(conn)?
        .into_iter()
        .filter(|a| a.kind == AccountKind::Person && a.status == AccountStatus::Active)
        .filter(|a| a.role.includes(Role::Approver) && a.email.is_some())
        .collect())
}

fn plan_approvals(
    conn: &mut DbConnection,
    s: &ReminderSettings,
    now: DateTime<Utc>,
) -> Result<usize> {
    let waited = TimeDelta::days(s.approval_days as i64);
    let waiting = crate::db::reminders::in_review(conn, Some(now - waited))?;
    if waiting.is_empty() {
        return Ok(0);
    }
    let approvers = approvers(conn)?;
    let mut created = 0;
    for review in waiting {
        let since = crate::db::utc(review.updated_at);
        for account in &approvers {
            if Some(account.id) == review.author_account_id
                || Some(account.id) == review.last_editor_account_id
            {
                continue;
            }
            let job = NewJob {
                kind: REMINDER_KIND,
                key: format!(
                    "review:{}:{}:{}:account:{}",
                    review.entity,
                    review.entity_id,
                    key_instant(since),
                    account.id
                ),
                payload: json!({
                    "about": "review",
                    "entity": review.entity,
                    "entity_id": review.entity_id,
                    "since": since,
                    "account_id": account.id,
                }),
                due_at: now,
            };
            created += usize::from(jobs::enqueue(conn, &job, now)?.created);
        }
    }
    Ok(created)
}

/// Monday of the ISO week of `day`.
fn week_start(day: NaiveDate) -> NaiveDate {
    day - TimeDelta::days(day.weekday().num_days_from_monday() as i64)
}

fn plan_digests(
    conn: &mut DbConnection,
    s: &ReminderSettings,
    now: DateTime<Utc>,
) -> Result<usize> {
    let monday = week_start(now.date_naive());
    let from = monday
        .and_hms_opt(s.digest_hour_utc.min(23), 0, 0)
        .expect("valid hour")
        .and_utc();
    if now < from {
        return Ok(0);
    }
    let week = now.date_naive().iso_week();
    let out = crate::db::reminders::digest_opted_out(conn)?;
    let mut created = 0;
    for account in crate::db::accounts::list(conn)? {
        if account.kind != AccountKind::Person
            || account.status != AccountStatus::Active
            || account.email.is_none()
            || out.contains(&account.id)
        {
            continue;
        }
        let job = NewJob {
            kind: DIGEST_KIND,
            key: format!("account:{}:{}-W{:02}", account.id, week.year(), week.week()),
            payload: json!({ "account_id": account.id, "week_start": monday }),
            due_at: now,
        };
        created += usize::from(jobs::enqueue(conn, &job, now)?.created);
    }
    Ok(created)
}

// ---------------------------------------------------------------- sending

/// Sends one job's email through the configured transport (shared by the
/// reminder, digest, report and manual-post handlers).
#[derive(Clone)]
pub(crate) struct Mailer {
    transport: Arc<dyn MailTransport>,
    email: crate::config::EmailSettings,
}

/// What a handler found to send, or why not.
pub(crate) enum Prepared {
    Send {
        to: String,
        name: String,
        subject: String,
        text: String,
    },
    Skip(String),
}

/// The attempt of an email that is not sent: skipped, with why (nothing left
/// to remind of, or its record is gone), or to be tried again after an error.
fn unsent(why: std::result::Result<String, Error>) -> Attempt {
    let outcome = match why {
        Ok(why) => Outcome::done(Some(format!("skipped: {why}")), None),
        Err(Error::NotFound { .. }) => {
            Outcome::done(Some("skipped: the record is gone".into()), None)
        }
        Err(e) => Outcome::retry(None, e.to_string()),
    };
    Attempt::new(outcome, Exchange::default())
}

impl Mailer {
    pub(crate) fn from_settings(settings: &Settings) -> anyhow::Result<Mailer> {
        Ok(Mailer {
            transport: crate::dispatch::transport_from_settings(&settings.email)?,
            email: settings.email.clone(),
        })
    }

    pub(crate) async fn send(&self, job: &Job, prepared: Result<Prepared>) -> Attempt {
        let message_id = self.message_id(job, None);
        self.send_as(job, prepared, message_id).await
    }

    /// Sends with the Message-ID given (one of a job's several emails).
    pub(crate) async fn send_as(
        &self,
        job: &Job,
        prepared: Result<Prepared>,
        message_id: String,
    ) -> Attempt {
        let (to, name, subject, text) = match prepared {
            Ok(Prepared::Send {
                to,
                name,
                subject,
                text,
            }) => (to, name, subject, text),
            Ok(Prepared::Skip(why)) => return unsent(Ok(why)),
            Err(e) => return unsent(Err(e)),
        };
        let address = match to.parse() {
            Ok(address) => address,
            Err(e) => {
                return Attempt::new(
                    Outcome::failed(format!("invalid address: {e}")),
                    Exchange::default(),
                );
            }
        };
        let recipient = lettre::message::Mailbox::new(Some(name), address);
        let built = crate::dispatch::content::sender(&self.email)
            .map_err(|e| format!("{e:?}"))
            .and_then(|from| {
                OutgoingEmail::new(
                    from,
                    recipient,
                    subject,
                    text,
                    message_id.clone(),
                    job.first_attempt_at,
                )
                .into_message()
                .map_err(|e| e.to_string())
            });
        match built {
            Ok(message) => self.deliver(&message_id, &message).await,
            Err(e) => Attempt::new(Outcome::failed(e), Exchange::default()),
        }
    }

    /// The Message-ID of a job's email (`part`: one of its several emails):
    /// the same on every attempt.
    pub(crate) fn message_id(&self, job: &Job, part: Option<&str>) -> String {
        let part = part.map(|p| format!("-{p}")).unwrap_or_default();
        format!(
            "<{}-{}{part}@{}>",
            job.kind.replace('.', "-"),
            job.id,
            crate::dispatch::message_domain(&self.email)
        )
    }

    /// Hands one built message to the transport; the outcome as a job sees it.
    async fn deliver(&self, message_id: &str, message: &lettre::Message) -> Attempt {
        let exchange = |reply: Option<String>, status: Option<u16>| Exchange {
            request: Some(format!("SMTP message {message_id}")),
            status,
            reply,
        };
        match self.transport.send(message, message.envelope()).await {
            Ok(accepted) => Attempt::new(
                Outcome::done(Some(message_id.to_owned()), None),
                exchange(Some(accepted.reply), Some(accepted.code)),
            ),
            Err(e) if e.outcome_unknown() => Attempt::new(
                Outcome::Unknown {
                    how_to_check: format!(
                        "the relay may have accepted {message_id}: look for it in the relay's \
                         log, then retry (to send it) or cancel the job"
                    ),
                    check_at: None,
                },
                exchange(Some(e.to_string()), e.code()),
            ),
            Err(e) if e.is_retryable() => Attempt::new(
                Outcome::retry(None, e.to_string()),
                exchange(Some(e.to_string()), e.code()),
            ),
            Err(e) => Attempt::new(
                Outcome::failed(e.to_string()),
                exchange(Some(e.to_string()), e.code()),
            ),
        }
    }
}

/// The language to write to someone in: their account's, else the one
/// recorded on the person, else English.
pub(crate) fn language_for(
    conn: &mut DbConnection,
    email: &str,
    person: Option<Language>,
) -> Result<Language> {
    let account = crate::db::accounts::find_by_email(conn, email)?;
    Ok(account
        .filter(|a| a.is_active())
        .map(|a| a.language)
        .or(person)
        .unwrap_or(Language::En))
}

pub(crate) fn title_in(a: &Activity, lang: Language) -> String {
    pick(&a.translations, lang)
        .map(|(_, t)| t.title.clone())
        .unwrap_or_else(|| a.title.clone())
}

/// The wall-clock time of `at` in the activity's zone (exact timings), or the day.
pub(crate) fn when_text(a: &Activity, at: DateTime<Utc>) -> String {
    match a.timing.zone() {
        Some(zone) => format!(
            "{} ({})",
            at.with_timezone(&zone.tz()).format("%Y-%m-%d %H:%M"),
            zone.name()
        ),
        None => at.format("%Y-%m-%d").to_string(),
    }
}

fn payload_time(payload: &Value, field: &str) -> Result<DateTime<Utc>> {
    serde_json::from_value(payload[field].clone())
        .map_err(|e| Error::Internal(anyhow::anyhow!("reminder payload {field}: {e}")))
}

fn payload_id(payload: &Value, field: &str) -> Result<i64> {
    payload[field]
        .as_i64()
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("reminder payload without {field}")))
}

/// A reminder about an activity coming up.
fn prepare_activity(conn: &mut DbConnection, payload: &Value) -> Result<Prepared> {
    let activity_id = payload_id(payload, "activity_id")?;
    let person_id = payload_id(payload, "person_id")?;
    let at = payload_time(payload, "at")?;
    let lead = payload["lead_days"].as_i64().unwrap_or_default();
    let a = crate::db::activities::get(conn, activity_id)?;
    if !is_open(a.status) {
        return Ok(Prepared::Skip(format!("the activity is {}", a.status)));
    }
    let day = at.date_naive();
    if !starts(&a, day - TimeDelta::days(1), day + TimeDelta::days(1)).contains(&at) {
        return Ok(Prepared::Skip(
            "the activity's time changed; a reminder for the new time is planned".into(),
        ));
    }
    if !people_of(&a).contains(&person_id) {
        return Ok(Prepared::Skip("the person no longer takes part".into()));
    }
    if a.kind == ActivityKind::NewsletterIssue
        && !crate::db::reminders::with_scheduled_issue(conn, &[a.id])?.is_empty()
    {
        return Ok(Prepared::Skip(
            "its newsletter issue is scheduled; the issue's own time is reminded of".into(),
        ));
    }
    let person = crate::db::people::get(conn, person_id)?;
    let Some(email) = person.email.clone() else {
        return Ok(Prepared::Skip("the person has no email address".into()));
    };
    let lang = language_for(conn, &email, person.language)?;
    let (subject, text) = text::reminder(
        lang,
        a.kind,
        &person.name,
        &title_in(&a, lang),
        &when_text(&a, at),
        lead,
    );
    Ok(Prepared::Send {
        to: email,
        name: person.name,
        subject,
        text,
    })
}

/// A reminder about a newsletter issue's scheduled sending.
fn prepare_issue(conn: &mut DbConnection, payload: &Value) -> Result<Prepared> {
    let issue_id = payload_id(payload, "issue_id")?;
    let recipient_id = payload_id(payload, "recipient_id")?;
    let at = payload_time(payload, "at")?;
    let lead = payload["lead_days"].as_i64().unwrap_or_default();
    let issue = crate::db::issues::get(conn, issue_id)?;
    if issue.state != IssueState::Scheduled {
        return Ok(Prepared::Skip(format!("the issue is {}", issue.state)));
    }
    if issue.scheduled_at != Some(at) {
        return Ok(Prepared::Skip(
            "the issue's schedule changed; a reminder for the new time is planned".into(),
        ));
    }
    let still = issue_recipients(conn, issue.id, issue.activity_id)?;
    let who = match payload["recipient"].as_str() {
        Some("account") => "account",
        _ => "person",
    };
    if !still.contains(&(who, recipient_id)) {
        return Ok(Prepared::Skip(
            "the recipient is no longer reminded of it".into(),
        ));
    }
    let (name, email, lang) = if who == "account" {
        let account = crate::db::accounts::get(conn, recipient_id)?;
        let Some(email) = account.email.clone() else {
            return Ok(Prepared::Skip("the account has no email address".into()));
        };
        (account.name, email, account.language)
    } else {
        let person = crate::db::people::get(conn, recipient_id)?;
        let Some(email) = person.email.clone() else {
            return Ok(Prepared::Skip("the person has no email address".into()));
        };
        let lang = language_for(conn, &email, person.language)?;
        (person.name, email, lang)
    };
    let when = match &issue.schedule {
        Some(local) => format!(
            "{} ({})",
            local.at.format("%Y-%m-%d %H:%M"),
            local.time_zone.name()
        ),
        None => at.format("%Y-%m-%d %H:%M UTC").to_string(),
    };
    let (subject, text) = text::reminder(
        lang,
        ActivityKind::NewsletterIssue,
        &name,
        &issue.name,
        &when,
        lead,
    );
    Ok(Prepared::Send {
        to: email,
        name,
        subject,
        text,
    })
}

/// A reminder to an approver about an item waiting in review.
fn prepare_review(conn: &mut DbConnection, payload: &Value) -> Result<Prepared> {
    let entity = payload["entity"].as_str().unwrap_or_default().to_owned();
    let entity_id = payload_id(payload, "entity_id")?;
    let account_id = payload_id(payload, "account_id")?;
    let since = payload_time(payload, "since")?;
    let review = crate::db::reviews::find(conn, &entity, entity_id)?;
    let still = review.filter(|r| {
        r.state == ReviewState::InReview.as_str() && crate::db::utc(r.updated_at) == since
    });
    if still.is_none() {
        return Ok(Prepared::Skip("the review moved on".into()));
    }
    let account = crate::db::accounts::get(conn, account_id)?;
    let Some(email) = account.email.clone().filter(|_| account.is_active()) else {
        return Ok(Prepared::Skip("the account is disabled".into()));
    };
    let lang = account.language;
    let title = match entity.as_str() {
        "activity" => title_in(&crate::db::activities::get(conn, entity_id)?, lang),
        _ => crate::db::issues::get(conn, entity_id)?.name,
    };
    let (subject, text) = text::approval(
        lang,
        &account.name,
        &title,
        &since.format("%Y-%m-%d").to_string(),
    );
    Ok(Prepared::Send {
        to: email,
        name: account.name,
        subject,
        text,
    })
}

pub struct ReminderHandler {
    db: Db,
    mailer: Mailer,
}

impl Handler for ReminderHandler {
    fn kind(&self) -> &'static str {
        REMINDER_KIND
    }

    fn run<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Attempt> {
        Box::pin(async move {
            let payload = job.payload.clone();
            let prepared = self
                .db
                .run(move |c| match payload["about"].as_str() {
                    Some("activity") => prepare_activity(c, &payload),
                    Some("issue") => prepare_issue(c, &payload),
                    Some("review") => prepare_review(c, &payload),
                    other => Ok(Prepared::Skip(format!("unknown reminder {other:?}"))),
                })
                .await;
            self.mailer.send(job, prepared).await
        })
    }
}

// ---------------------------------------------------------------- digest

/// Since when an activity has been unconfirmed: the newest history entry
/// that made it tentative or "to be confirmed", else its creation.
pub fn unconfirmed_since(conn: &mut DbConnection, a: &Activity) -> Result<DateTime<Utc>> {
    let history = crate::app::history::of_record(conn, "activity", a.id)?;
    Ok(history
        .iter()
        .rev()
        .find(|e| makes_unconfirmed(&e.changes))
        .map(|e| e.at)
        .unwrap_or(a.created_at))
}

/// When an activity last became failed (its newest history entry that set
/// the status to failed), else its last update.
fn failed_since(conn: &mut DbConnection, a: &Activity) -> Result<DateTime<Utc>> {
    let history = crate::app::history::of_record(conn, "activity", a.id)?;
    Ok(history
        .iter()
        .rev()
        .find(|e| e.changes.iter().any(|c| c.becomes("status", "failed")))
        .map(|e| e.at)
        .unwrap_or(a.updated_at))
}

/// The activities that are an account's own: those owned by, or with as a
/// participant, a person recorded with the account's email address.
pub fn own_activities(
    conn: &mut DbConnection,
    account: &crate::domain::account::Account,
) -> Result<std::collections::HashSet<i64>> {
    let people = match &account.email {
        Some(email) => crate::db::reminders::people_with_email(conn, email)?,
        None => Vec::new(),
    };
    crate::db::reminders::activities_of_people(conn, &people)
}

/// What one account's digest for the week starting `monday` lists, as of
/// `now`: the account's own items (`own_activities`) due next week, late,
/// unconfirmed for long or failed lately, and, for approvers, what awaits
/// their approval. An account with no items of its own (an administrator
/// or approver without a person record, say) gets only the last section,
/// and no digest at all when that is empty.
pub fn digest_sections(
    conn: &mut DbConnection,
    settings: &ReminderSettings,
    account: &crate::domain::account::Account,
    monday: NaiveDate,
    now: DateTime<Utc>,
) -> Result<DigestSections> {
    let lang = account.language;
    let today = now.date_naive().max(monday);
    let item = |a: &Activity, day: Option<NaiveDate>| DigestItem {
        title: title_in(a, lang),
        day,
        status: a.status,
    };
    let mut out = DigestSections::default();
    let own = own_activities(conn, account)?;
    if !own.is_empty() {
        // Due next week.
        let (next, next_end) = (monday + TimeDelta::days(7), monday + TimeDelta::days(13));
        let upcoming = ActivityFilter {
            from: Some(next),
            to: Some(next_end),
            ..ActivityFilter::default()
        };
        for a in crate::db::activities::all(conn, &upcoming)? {
            if own.contains(&a.id) && is_open(a.status) {
                let first = starts(&a, next, next_end).into_iter().min();
                let day = first
                    .map(|t| t.date_naive())
                    .or_else(|| a.timing.date_range().map(|(s, _)| s));
                out.next_week.push(item(&a, day));
            }
        }
        // Late: single items whose days are over and that are still open.
        let past = ActivityFilter {
            to: Some(today - TimeDelta::days(1)),
            ..ActivityFilter::default()
        };
        for a in crate::db::activities::all(conn, &past)? {
            if own.contains(&a.id)
                && a.recurrence_rule.is_none()
                && is_open(a.status)
                && let Some((_, end)) = a.timing.date_range()
                && end < today
            {
                out.late.push(item(&a, Some(end)));
            }
        }
        // Unconfirmed (tentative, or "to be confirmed") for more than
        // `digest_tentative_days` since it became so; failed in the last week.
        let tentative = TimeDelta::days(settings.digest_tentative_days as i64);
        let mut ids: Vec<i64> = own.iter().copied().collect();
        ids.sort_unstable();
        let mut unconfirmed = Vec::new();
        let mut failed = Vec::new();
        for id in ids {
            let a = crate::db::activities::get(conn, id)?;
            let open_unconfirmed = is_open(a.status)
                && (a.status == ActivityStatus::Tentative
                    || a.timing.precision() == Precision::Tbc);
            if open_unconfirmed {
                let since = unconfirmed_since(conn, &a)?;
                if since < now - tentative {
                    unconfirmed.push((since, item(&a, Some(since.date_naive()))));
                }
            }
            if a.status == ActivityStatus::Failed {
                let since = failed_since(conn, &a)?;
                if since >= now - TimeDelta::days(7) {
                    failed.push((since, item(&a, Some(since.date_naive()))));
                }
            }
        }
        unconfirmed.sort_by_key(|(since, _)| *since);
        failed.sort_by_key(|(since, _)| *since);
        out.tentative = unconfirmed.into_iter().map(|(_, i)| i).collect();
        out.failed = failed.into_iter().map(|(_, i)| i).collect();
    }
    // Awaiting this account's approval.
    if account.role.includes(Role::Approver) {
        for review in crate::db::reminders::in_review(conn, None)? {
            if Some(account.id) == review.author_account_id
                || Some(account.id) == review.last_editor_account_id
            {
                continue;
            }
            let since = crate::db::utc(review.updated_at).date_naive();
            let title = match review.entity.as_str() {
                "activity" => title_in(&crate::db::activities::get(conn, review.entity_id)?, lang),
                _ => crate::db::issues::get(conn, review.entity_id)?.name,
            };
            out.awaiting_approval.push(DigestItem {
                title,
                day: Some(since),
                status: ActivityStatus::Planned,
            });
        }
    }
    Ok(out)
}

pub struct DigestHandler {
    db: Db,
    mailer: Mailer,
    settings: ReminderSettings,
}

impl Handler for DigestHandler {
    fn kind(&self) -> &'static str {
        DIGEST_KIND
    }

    fn run<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Attempt> {
        Box::pin(async move {
            let payload = job.payload.clone();
            let settings = self.settings.clone();
            let now = job.first_attempt_at;
            let prepared = self
                .db
                .run(move |c| {
                    let account = crate::db::accounts::get(c, payload_id(&payload, "account_id")?)?;
                    let monday: NaiveDate =
                        serde_json::from_value(payload["week_start"].clone())
                            .map_err(|e| Error::Internal(anyhow::anyhow!("digest week: {e}")))?;
                    let Some(email) = account.email.clone().filter(|_| account.is_active()) else {
                        return Ok(Prepared::Skip("the account is disabled".into()));
                    };
                    if !crate::db::reminders::weekly_digest(c, account.id)? {
                        return Ok(Prepared::Skip("the account turned the digest off".into()));
                    }
                    let sections = digest_sections(c, &settings, &account, monday, now)?;
                    if sections.is_empty() {
                        return Ok(Prepared::Skip("nothing to report this week".into()));
                    }
                    let (subject, text) =
                        text::digest(account.language, &account.name, monday, &sections);
                    Ok(Prepared::Send {
                        to: email,
                        name: account.name,
                        subject,
                        text,
                    })
                })
                .await;
            self.mailer.send(job, prepared).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_start_on_monday() {
        let wednesday = NaiveDate::from_ymd_opt(2020, 1, 8).unwrap();
        assert_eq!(
            week_start(wednesday),
            NaiveDate::from_ymd_opt(2020, 1, 6).unwrap()
        );
        let monday = NaiveDate::from_ymd_opt(2020, 1, 6).unwrap();
        assert_eq!(week_start(monday), monday);
    }

    #[test]
    fn whole_days_start_at_midnight_utc_and_months_have_no_instant() {
        let d = NaiveDate::from_ymd_opt(2020, 10, 3).unwrap();
        let t = Timing::days(d, d).unwrap();
        assert_eq!(
            start_instant(&t).unwrap().to_rfc3339(),
            "2020-10-03T00:00:00+00:00"
        );
        assert_eq!(start_instant(&Timing::ToBeConfirmed), None);
    }

    #[test]
    fn leads_follow_the_kind() {
        let s = ReminderSettings::default();
        assert_eq!(lead_days(&s, ActivityKind::Event), Some(7));
        assert_eq!(lead_days(&s, ActivityKind::SocialPost), Some(1));
        assert_eq!(lead_days(&s, ActivityKind::Milestone), None);
    }
}
