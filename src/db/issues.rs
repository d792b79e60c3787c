//! Newsletter issues and their life: draft → scheduled → sending ⇄ paused →
//! sent / sent with failures / failed, or cancelled. Starting to send
//! snapshots the audience into `deliveries` in the same transaction as the
//! state change, so a crash can never leave an issue "sending" to nobody or a
//! recipient list that later changes under it.

use super::schema::{
    activities, deliveries, mailing_lists, newsletter_issue_lists, newsletter_issue_translations,
    newsletter_issues,
};
use super::{DbConnection, Page, PageRequest, parse_stored, raw_sql, require_ref, utc};
use crate::domain::activity::{ActivityKind, ActivityStatus};
use crate::domain::language::Translations;
use crate::domain::newsletter::{
    DeliveryKind, DeliveryState, Issue, IssueInput, IssueState, IssueTranslation, Progress,
    ScheduleInput, ScheduleView, SubscriberStatus, SubscriptionStatus,
};
use crate::domain::zone::Zone;
use crate::error::{Error, Result};
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};
use std::collections::HashMap;

#[derive(Queryable, Selectable)]
#[diesel(table_name = newsletter_issues)]
struct Row {
    id: i64,
    uid: String,
    name: String,
    activity_id: Option<i64>,
    state: String,
    scheduled_at: Option<NaiveDateTime>,
    schedule_zone: Option<String>,
    started_at: Option<NaiveDateTime>,
    finished_at: Option<NaiveDateTime>,
    version: i32,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

fn hydrate(conn: &mut DbConnection, rows: Vec<Row>) -> Result<Vec<Issue>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut lists: HashMap<i64, Vec<i64>> = HashMap::new();
    for (issue, list) in newsletter_issue_lists::table
        .filter(newsletter_issue_lists::issue_id.eq_any(&ids))
        .order(newsletter_issue_lists::list_id)
        .select((
            newsletter_issue_lists::issue_id,
            newsletter_issue_lists::list_id,
        ))
        .load::<(i64, i64)>(conn)?
    {
        lists.entry(issue).or_default().push(list);
    }
    let mut translations: HashMap<i64, Translations<IssueTranslation>> = HashMap::new();
    for (issue, lang, subject, body) in newsletter_issue_translations::table
        .filter(newsletter_issue_translations::issue_id.eq_any(&ids))
        .select((
            newsletter_issue_translations::issue_id,
            newsletter_issue_translations::lang,
            newsletter_issue_translations::subject,
            newsletter_issue_translations::body_markdown,
        ))
        .load::<(i64, String, String, String)>(conn)?
    {
        translations
            .entry(issue)
            .or_default()
            .insert(parse_stored(&lang)?, IssueTranslation { subject, body });
    }
    rows.into_iter()
        .map(|r| {
            let zone: Option<Zone> = r
                .schedule_zone
                .as_deref()
                .map(|z| {
                    z.parse()
                        .map_err(|e: String| Error::Internal(anyhow::anyhow!(e)))
                })
                .transpose()?;
            let schedule = match (r.scheduled_at, zone) {
                (Some(at), Some(zone)) => Some(ScheduleView {
                    at: at.and_utc().with_timezone(&zone.tz()).naive_local(),
                    time_zone: zone,
                }),
                _ => None,
            };
            Ok(Issue {
                id: r.id,
                uid: r.uid,
                name: r.name,
                activity_id: r.activity_id,
                list_ids: lists.remove(&r.id).unwrap_or_default(),
                state: parse_stored(&r.state)?,
                translations: translations.remove(&r.id).unwrap_or_default(),
                scheduled_at: r.scheduled_at.map(utc),
                schedule,
                started_at: r.started_at.map(utc),
                finished_at: r.finished_at.map(utc),
                version: r.version,
                created_at: utc(r.created_at),
                updated_at: utc(r.updated_at),
            })
        })
        .collect()
}

pub fn get(conn: &mut DbConnection, id: i64) -> Result<Issue> {
    let row = newsletter_issues::table
        .find(id)
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| Error::not_found("issue", id))?;
    Ok(hydrate(conn, vec![row])?.remove(0))
}

pub fn list(
    conn: &mut DbConnection,
    state: Option<IssueState>,
    page: PageRequest,
) -> Result<Page<Issue>> {
    let query = || {
        let mut q = newsletter_issues::table.into_boxed();
        if let Some(state) = state {
            q = q.filter(newsletter_issues::state.eq(state.as_str()));
        }
        q
    };
    let total: i64 = query().count().get_result(conn)?;
    let rows = query()
        .order(newsletter_issues::id.desc())
        .limit(page.limit())
        .offset(page.offset())
        .select(Row::as_select())
        .load(conn)?;
    page.wrap(hydrate(conn, rows)?, total)
}

fn check_references(conn: &mut DbConnection, input: &IssueInput) -> Result<()> {
    input.validate()?;
    if let Some(activity) = input.activity_id {
        let kind: Option<ActivityKind> = activities::table
            .find(activity)
            .select(activities::kind)
            .first(conn)
            .optional()?;
        match kind {
            None => require_ref(false, "activity_id", activity)?,
            Some(kind) if kind != ActivityKind::NewsletterIssue => {
                return Err(Error::invalid(
                    "activity_id",
                    format!("activity {activity} is a {kind}, not a newsletter_issue"),
                ));
            }
            Some(_) => {}
        }
    }
    for (i, list) in input.list_ids.iter().enumerate() {
        let found = mailing_lists::table
            .find(list)
            .select(mailing_lists::id)
            .first::<i64>(conn)
            .optional()?
            .is_some();
        require_ref(found, &format!("list_ids[{i}]"), *list)?;
    }
    Ok(())
}

fn write_children(conn: &mut DbConnection, id: i64, input: &IssueInput) -> Result<()> {
    diesel::delete(newsletter_issue_lists::table.filter(newsletter_issue_lists::issue_id.eq(id)))
        .execute(conn)?;
    for list in &input.list_ids {
        diesel::insert_into(newsletter_issue_lists::table)
            .values((
                newsletter_issue_lists::issue_id.eq(id),
                newsletter_issue_lists::list_id.eq(list),
            ))
            .execute(conn)?;
    }
    diesel::delete(
        newsletter_issue_translations::table.filter(newsletter_issue_translations::issue_id.eq(id)),
    )
    .execute(conn)?;
    for (lang, t) in &input.translations {
        diesel::insert_into(newsletter_issue_translations::table)
            .values((
                newsletter_issue_translations::issue_id.eq(id),
                newsletter_issue_translations::lang.eq(lang.as_str()),
                newsletter_issue_translations::subject.eq(t.subject.as_str()),
                newsletter_issue_translations::body_markdown.eq(t.body.as_str()),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn create(conn: &mut DbConnection, input: &IssueInput, now: DateTime<Utc>) -> Result<Issue> {
    check_references(conn, input)?;
    let id: i64 = diesel::insert_into(newsletter_issues::table)
        .values((
            newsletter_issues::uid.eq(uuid::Uuid::new_v4().simple().to_string()),
            newsletter_issues::name.eq(input.name.as_str()),
            newsletter_issues::activity_id.eq(input.activity_id),
            newsletter_issues::state.eq(IssueState::Draft.as_str()),
            newsletter_issues::created_at.eq(now.naive_utc()),
            newsletter_issues::updated_at.eq(now.naive_utc()),
        ))
        .returning(newsletter_issues::id)
        .get_result(conn)?;
    write_children(conn, id, input)?;
    get(conn, id)
}

fn current_version(conn: &mut DbConnection, id: i64) -> Result<Option<i32>> {
    Ok(newsletter_issues::table
        .find(id)
        .select(newsletter_issues::version)
        .first(conn)
        .optional()?)
}

/// Content and audience can change until sending starts.
pub fn update(
    conn: &mut DbConnection,
    id: i64,
    version: i32,
    input: &IssueInput,
    now: DateTime<Utc>,
) -> Result<Issue> {
    let issue = get(conn, id)?;
    if !matches!(issue.state, IssueState::Draft | IssueState::Scheduled) {
        return Err(Error::Conflict(format!(
            "issue {id} is {}: only draft and scheduled issues can be edited",
            issue.state
        )));
    }
    check_references(conn, input)?;
    let updated = diesel::update(
        newsletter_issues::table
            .find(id)
            .filter(newsletter_issues::version.eq(version)),
    )
    .set((
        newsletter_issues::name.eq(input.name.as_str()),
        newsletter_issues::activity_id.eq(input.activity_id),
        newsletter_issues::version.eq(version + 1),
        newsletter_issues::updated_at.eq(now.naive_utc()),
    ))
    .execute(conn)?;
    super::check_updated(updated, "issue", id, version, || current_version(conn, id))?;
    write_children(conn, id, input)?;
    get(conn, id)
}

/// Drafts, cancelled and finished issues can be deleted (with their delivery
/// records); an issue that is sending or paused must be cancelled first.
pub fn delete(conn: &mut DbConnection, id: i64, _now: DateTime<Utc>) -> Result<()> {
    let issue = get(conn, id)?;
    if matches!(issue.state, IssueState::Sending | IssueState::Paused) {
        return Err(Error::Conflict(format!(
            "issue {id} is {}: cancel it first",
            issue.state
        )));
    }
    super::references::ensure_unreferenced(conn, "newsletter_issues", "issue", id)?;
    diesel::delete(newsletter_issues::table.find(id)).execute(conn)?;
    Ok(())
}

/// Moves an issue between states, refusing transitions not in `from`.
fn transition(
    conn: &mut DbConnection,
    id: i64,
    from: &[IssueState],
    to: IssueState,
    now: DateTime<Utc>,
) -> Result<Issue> {
    let issue = get(conn, id)?;
    if !from.contains(&issue.state) {
        return Err(Error::InvalidTransition {
            action: format!("become {to}"),
            current: issue.state.as_str().into(),
            allowed: issue
                .state
                .next_states()
                .iter()
                .map(|s| s.as_str().to_owned())
                .collect(),
        });
    }
    // The state is part of the WHERE so two concurrent transitions cannot
    // both succeed (the second matches no row).
    let updated = diesel::update(
        newsletter_issues::table
            .find(id)
            .filter(newsletter_issues::state.eq(issue.state.as_str())),
    )
    .set((
        newsletter_issues::state.eq(to.as_str()),
        newsletter_issues::version.eq(issue.version + 1),
        newsletter_issues::updated_at.eq(now.naive_utc()),
    ))
    .execute(conn)?;
    if updated == 0 {
        return Err(Error::Conflict(format!("issue {id} changed meanwhile")));
    }
    get(conn, id)
}

/// Sets the status of the linked plan activity, as a calendar subscriber would
/// see it (version and SEQUENCE go up).
fn follow_activity(
    conn: &mut DbConnection,
    issue: &Issue,
    status: ActivityStatus,
    now: DateTime<Utc>,
) -> Result<()> {
    let Some(activity) = issue.activity_id else {
        return Ok(());
    };
    let current: Option<String> = activities::table
        .find(activity)
        .select(activities::status)
        .first(conn)
        .optional()?;
    if current.as_deref().is_none_or(|s| s == status.as_str()) {
        return Ok(());
    }
    let day = now.date_naive();
    diesel::update(activities::table.find(activity))
        .set((
            activities::status.eq(status.as_str()),
            activities::version.eq(activities::version + 1),
            activities::sequence.eq(activities::sequence + 1),
            activities::updated_at.eq(now.naive_utc()),
            activities::cancelled_at.eq(status.is_off().then_some(now.naive_utc())),
        ))
        .execute(conn)?;
    // Range queries filter by the status copied onto the occurrences.
    super::activities::restamp_occurrences(conn, activity)?;
    if status == ActivityStatus::Done {
        diesel::update(activities::table.find(activity))
            .set((
                activities::actual_start_date
                    .eq(issue.started_at.map(|t| t.date_naive()).or(Some(day))),
                activities::actual_end_date.eq(Some(day)),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn schedule(
    conn: &mut DbConnection,
    id: i64,
    input: &ScheduleInput,
    now: DateTime<Utc>,
) -> Result<Issue> {
    let at = input.instant()?;
    if at <= now {
        return Err(Error::invalid("at", "is in the past; use send to send now"));
    }
    // The time first: a scheduled issue always has one (CHECK constraint).
    diesel::update(
        newsletter_issues::table
            .find(id)
            .filter(newsletter_issues::state.eq_any([IssueState::Draft, IssueState::Scheduled])),
    )
    .set((
        newsletter_issues::scheduled_at.eq(Some(at.naive_utc())),
        newsletter_issues::schedule_zone.eq(Some(input.time_zone.name())),
    ))
    .execute(conn)?;
    let issue = transition(
        conn,
        id,
        &[IssueState::Draft, IssueState::Scheduled],
        IssueState::Scheduled,
        now,
    )?;
    follow_activity(conn, &issue, ActivityStatus::Confirmed, now)?;
    get(conn, id)
}

pub fn unschedule(conn: &mut DbConnection, id: i64, now: DateTime<Utc>) -> Result<Issue> {
    let issue = transition(conn, id, &[IssueState::Scheduled], IssueState::Draft, now)?;
    diesel::update(newsletter_issues::table.find(id))
        .set((
            newsletter_issues::scheduled_at.eq(None::<NaiveDateTime>),
            newsletter_issues::schedule_zone.eq(None::<String>),
        ))
        .execute(conn)?;
    follow_activity(conn, &issue, ActivityStatus::Planned, now)?;
    get(conn, id)
}

/// Starts sending: the state change and the snapshot of the audience (each
/// active, confirmed subscriber of the issue's lists, once) in one
/// transaction. Returns the issue and the number of deliveries queued.
pub fn start_sending(
    conn: &mut DbConnection,
    id: i64,
    message_domain: &str,
    now: DateTime<Utc>,
) -> Result<(Issue, i64)> {
    let issue = transition(
        conn,
        id,
        &[IssueState::Draft, IssueState::Scheduled],
        IssueState::Sending,
        now,
    )?;
    diesel::update(newsletter_issues::table.find(id))
        .set(newsletter_issues::started_at.eq(Some(now.naive_utc())))
        .execute(conn)?;
    let queued = raw_sql!(
        conn,
        "INSERT INTO deliveries (kind, issue_id, subscriber_id, email, name, language, \
             message_id, state, attempts, unknown_outcomes, next_attempt_at, created_at, updated_at) \
         SELECT ?, ?, sub.id, sub.email, sub.name, sub.language, \
             '<' || ? || '.' || sub.id || '@' || ? || '>', ?, 0, 0, ?, ?, ? \
         FROM subscribers sub \
         WHERE sub.status = ? AND EXISTS ( \
             SELECT 1 FROM subscriptions sn \
             JOIN newsletter_issue_lists il ON il.list_id = sn.list_id \
             WHERE sn.subscriber_id = sub.id AND sn.status = ? AND il.issue_id = ?) \
         ORDER BY sub.id",
        execute;
        Text => DeliveryKind::Newsletter.as_str(),
        BigInt => id,
        Text => issue.uid.clone(),
        Text => message_domain.to_owned(),
        Text => DeliveryState::Queued.as_str(),
        Timestamp => now.naive_utc(),
        Timestamp => now.naive_utc(),
        Timestamp => now.naive_utc(),
        Text => SubscriberStatus::Active.as_str(),
        Text => SubscriptionStatus::Confirmed.as_str(),
        BigInt => id,
    )? as i64;
    if queued == 0 {
        return Err(Error::Conflict(
            "the issue's lists have no confirmed subscriber: nothing to send".into(),
        ));
    }
    Ok((get(conn, id)?, queued))
}

pub fn pause(conn: &mut DbConnection, id: i64, now: DateTime<Utc>) -> Result<Issue> {
    transition(conn, id, &[IssueState::Sending], IssueState::Paused, now)
}

pub fn resume(conn: &mut DbConnection, id: i64, now: DateTime<Utc>) -> Result<Issue> {
    transition(conn, id, &[IssueState::Paused], IssueState::Sending, now)
}

/// Cancels an issue: nothing queued for it is sent any more. Messages being
/// sent at this moment finish and are recorded.
pub fn cancel(conn: &mut DbConnection, id: i64, now: DateTime<Utc>) -> Result<Issue> {
    let issue = transition(
        conn,
        id,
        &[
            IssueState::Draft,
            IssueState::Scheduled,
            IssueState::Sending,
            IssueState::Paused,
        ],
        IssueState::Cancelled,
        now,
    )?;
    diesel::update(
        deliveries::table
            .filter(deliveries::issue_id.eq(id))
            .filter(deliveries::state.eq_any([DeliveryState::Queued, DeliveryState::Retry])),
    )
    .set((
        deliveries::state.eq(DeliveryState::Cancelled.as_str()),
        deliveries::updated_at.eq(now.naive_utc()),
    ))
    .execute(conn)?;
    diesel::update(newsletter_issues::table.find(id))
        .set(newsletter_issues::finished_at.eq(Some(now.naive_utc())))
        .execute(conn)?;
    follow_activity(conn, &issue, ActivityStatus::Cancelled, now)?;
    get(conn, id)
}

/// Queues the failed deliveries again (and those held as outcome unknown,
/// when asked), except to addresses suppressed or unsubscribed since.
pub fn retry_failed(
    conn: &mut DbConnection,
    id: i64,
    include_unknown: bool,
    now: DateTime<Utc>,
) -> Result<(Issue, i64)> {
    let issue = get(conn, id)?;
    if !matches!(
        issue.state,
        IssueState::Sending
            | IssueState::Paused
            | IssueState::Sent
            | IssueState::SentWithFailures
            | IssueState::Failed
    ) {
        return Err(Error::Conflict(format!(
            "issue {id} is {}: nothing was sent yet",
            issue.state
        )));
    }
    let states: &[DeliveryState] = if include_unknown {
        &[DeliveryState::Failed, DeliveryState::Unknown]
    } else {
        &[DeliveryState::Failed]
    };
    let still_wanted = super::schema::subscribers::table
        .filter(super::schema::subscribers::status.eq(SubscriberStatus::Active))
        .filter(
            super::schema::subscribers::id.eq_any(
                super::schema::subscriptions::table
                    .filter(super::schema::subscriptions::status.eq(SubscriptionStatus::Confirmed))
                    .filter(super::schema::subscriptions::list_id.eq_any(issue.list_ids.clone()))
                    .select(super::schema::subscriptions::subscriber_id),
            ),
        )
        .select(super::schema::subscribers::id.nullable());
    let requeued = diesel::update(
        deliveries::table
            .filter(deliveries::issue_id.eq(id))
            .filter(deliveries::state.eq_any(states))
            .filter(deliveries::subscriber_id.eq_any(still_wanted)),
    )
    .set((
        deliveries::state.eq(DeliveryState::Queued.as_str()),
        deliveries::attempts.eq(0),
        // A new retry budget (email.retry_for) from the next attempt.
        deliveries::first_attempt_at.eq(None::<NaiveDateTime>),
        deliveries::next_attempt_at.eq(now.naive_utc()),
        deliveries::updated_at.eq(now.naive_utc()),
    ))
    .execute(conn)? as i64;
    if requeued > 0 && issue.state != IssueState::Sending && issue.state != IssueState::Paused {
        diesel::update(newsletter_issues::table.find(id))
            .set((
                newsletter_issues::state.eq(IssueState::Sending.as_str()),
                newsletter_issues::finished_at.eq(None::<NaiveDateTime>),
                newsletter_issues::version.eq(newsletter_issues::version + 1),
                newsletter_issues::updated_at.eq(now.naive_utc()),
            ))
            .execute(conn)?;
    }
    Ok((get(conn, id)?, requeued))
}

/// A scheduled issue that could not start (nobody to send it to) fails.
/// Returns false if it is no longer scheduled (another dispatcher started it).
pub fn fail_scheduled(conn: &mut DbConnection, id: i64, now: DateTime<Utc>) -> Result<bool> {
    let updated = diesel::update(
        newsletter_issues::table
            .find(id)
            .filter(newsletter_issues::state.eq(IssueState::Scheduled.as_str())),
    )
    .set((
        newsletter_issues::state.eq(IssueState::Failed.as_str()),
        newsletter_issues::finished_at.eq(Some(now.naive_utc())),
        newsletter_issues::version.eq(newsletter_issues::version + 1),
        newsletter_issues::updated_at.eq(now.naive_utc()),
    ))
    .execute(conn)?;
    Ok(updated > 0)
}

/// Scheduled issues whose time has come.
pub fn due(conn: &mut DbConnection, now: DateTime<Utc>) -> Result<Vec<i64>> {
    Ok(newsletter_issues::table
        .filter(newsletter_issues::state.eq(IssueState::Scheduled.as_str()))
        .filter(newsletter_issues::scheduled_at.le(now.naive_utc()))
        .select(newsletter_issues::id)
        .load(conn)?)
}

/// Issues being sent (or paused) whose deliveries have all reached an end:
/// they become sent, sent with failures, or failed. Returns those finished.
pub fn finish_completed(conn: &mut DbConnection, now: DateTime<Utc>) -> Result<Vec<Issue>> {
    let pending = deliveries::table
        .filter(deliveries::state.eq_any([
            DeliveryState::Queued,
            DeliveryState::Retry,
            DeliveryState::Sending,
        ]))
        .filter(deliveries::issue_id.is_not_null())
        .select(deliveries::issue_id.assume_not_null());
    let done: Vec<i64> = newsletter_issues::table
        .filter(newsletter_issues::state.eq(IssueState::Sending.as_str()))
        .filter(diesel::dsl::not(newsletter_issues::id.eq_any(pending)))
        .select(newsletter_issues::id)
        .load(conn)?;
    let mut finished = Vec::new();
    for id in done {
        let counts = state_counts(conn, id)?;
        let count = |s: DeliveryState| counts.get(&s).copied().unwrap_or(0);
        let sent = count(DeliveryState::Sent);
        let failures = count(DeliveryState::Failed) + count(DeliveryState::Unknown);
        let final_state = if failures == 0 {
            IssueState::Sent
        } else if sent == 0 {
            IssueState::Failed
        } else {
            IssueState::SentWithFailures
        };
        let updated = diesel::update(
            newsletter_issues::table
                .find(id)
                .filter(newsletter_issues::state.eq(IssueState::Sending.as_str())),
        )
        .set((
            newsletter_issues::state.eq(final_state.as_str()),
            newsletter_issues::finished_at.eq(Some(now.naive_utc())),
            newsletter_issues::version.eq(newsletter_issues::version + 1),
            newsletter_issues::updated_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
        if updated == 0 {
            continue;
        }
        let issue = get(conn, id)?;
        // A newsletter that reached nobody did not happen: its activity failed.
        let outcome = if sent > 0 {
            ActivityStatus::Done
        } else {
            ActivityStatus::Failed
        };
        follow_activity(conn, &issue, outcome, now)?;
        finished.push(issue);
    }
    Ok(finished)
}

fn state_counts(conn: &mut DbConnection, id: i64) -> Result<HashMap<DeliveryState, i64>> {
    let rows: Vec<(String, i64)> = deliveries::table
        .filter(deliveries::issue_id.eq(id))
        .group_by(deliveries::state)
        .select((deliveries::state, diesel::dsl::count_star()))
        .load(conn)?;
    rows.into_iter()
        .map(|(s, n)| Ok((parse_stored(&s)?, n)))
        .collect()
}

pub fn progress(conn: &mut DbConnection, id: i64, now: DateTime<Utc>) -> Result<Progress> {
    let issue = get(conn, id)?;
    let counts = state_counts(conn, id)?;
    let count = |s: DeliveryState| counts.get(&s).copied().unwrap_or(0);
    let possible_duplicates: i64 = deliveries::table
        .filter(deliveries::issue_id.eq(id))
        .filter(deliveries::state.eq(DeliveryState::Sent))
        .filter(deliveries::unknown_outcomes.gt(0))
        .count()
        .get_result(conn)?;
    let sent_last_minute: i64 = deliveries::table
        .filter(deliveries::issue_id.eq(id))
        .filter(deliveries::sent_at.gt((now - TimeDelta::minutes(1)).naive_utc()))
        .count()
        .get_result(conn)?;
    let remaining =
        count(DeliveryState::Queued) + count(DeliveryState::Retry) + count(DeliveryState::Sending);
    let eta_seconds = (sent_last_minute > 0 && remaining > 0)
        .then(|| (remaining * 60 + sent_last_minute - 1) / sent_last_minute);
    Ok(Progress {
        issue_id: id,
        state: issue.state,
        total: counts.values().sum(),
        queued: count(DeliveryState::Queued),
        sending: count(DeliveryState::Sending),
        sent: count(DeliveryState::Sent),
        retry: count(DeliveryState::Retry),
        failed: count(DeliveryState::Failed),
        unknown: count(DeliveryState::Unknown),
        cancelled: count(DeliveryState::Cancelled),
        possible_duplicates,
        sent_last_minute,
        eta_seconds,
    })
}

pub fn all_ids(conn: &mut DbConnection) -> Result<Vec<i64>> {
    Ok(newsletter_issues::table
        .select(newsletter_issues::id)
        .order(newsletter_issues::id)
        .load(conn)?)
}

/// Every issue in `state` (the dispatcher's few sending ones).
pub fn list_in_state(conn: &mut DbConnection, state: IssueState) -> Result<Vec<Issue>> {
    let ids: Vec<i64> = newsletter_issues::table
        .filter(newsletter_issues::state.eq(state.as_str()))
        .select(newsletter_issues::id)
        .load(conn)?;
    ids.into_iter().map(|id| get(conn, id)).collect()
}
