//! The delivery table as the dispatcher uses it: claim a batch, mark the
//! part about to be sent as `sending` (durably, before any byte goes out),
//! record each outcome, give back what was not started, and recover the rows
//! of dispatchers that died.
//!
//! A row's `claimed_by` names the dispatcher holding it. Claimed rows still
//! `queued`/`retry` were never attempted and simply return to the queue when
//! their holder dies; rows `sending` under a dead holder may or may not have
//! reached the relay: they become "outcome unknown". Their number is bounded
//! by (1 + `email.mark_ahead`) × one dispatcher's concurrency, because only
//! that many are marked `sending` at a time (see `dispatch::DEFAULT_MARK_AHEAD`).

use super::cached::cached_statement;
use super::schema::{deliveries, dispatchers};
use super::{DbConnection, Page, PageRequest, parse_stored, raw_sql, utc};
use crate::config::OutcomeUnknownPolicy;
use crate::domain::language::Language;
use crate::domain::newsletter::{DeliveryKind, DeliveryState, DeliveryView, IssueState};
use crate::error::Result;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Integer, Nullable, Text, Timestamp};

/// A claimed delivery: everything needed to build its message.
#[derive(Debug, Clone, QueryableByName)]
pub struct Claimed {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub issue_id: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub subscriber_id: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub subscription_id: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub activity_id: Option<i64>,
    #[diesel(sql_type = Text)]
    pub email: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub name: Option<String>,
    #[diesel(sql_type = Text)]
    pub language: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub method: Option<String>,
    #[diesel(sql_type = Nullable<Integer>)]
    pub sequence: Option<i32>,
    #[diesel(sql_type = Text)]
    pub message_id: String,
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
    #[diesel(sql_type = Integer)]
    pub unknown_outcomes: i32,
    #[diesel(sql_type = Nullable<Timestamp>)]
    pub first_attempt_at: Option<NaiveDateTime>,
}

impl Claimed {
    pub fn kind(&self) -> Result<DeliveryKind> {
        parse_stored(&self.kind)
    }

    pub fn language(&self) -> Result<Language> {
        parse_stored(&self.language)
    }
}

const CLAIMED_COLUMNS: &str = "id, kind, issue_id, subscriber_id, subscription_id, activity_id, \
     email, name, language, method, sequence, message_id, attempts, unknown_outcomes, \
     first_attempt_at";

/// Claims up to `limit` due deliveries for `dispatcher`: queued or retrying,
/// unclaimed, due, and (for newsletters) of an issue that is sending. On
/// PostgreSQL `FOR UPDATE SKIP LOCKED` lets any number of dispatchers claim
/// at once without waiting for or overlapping each other; SQLite has one
/// writer at a time and one dispatcher.
pub fn claim(
    conn: &mut DbConnection,
    dispatcher: &str,
    limit: i64,
    now: DateTime<Utc>,
) -> Result<Vec<Claimed>> {
    let lock = match conn {
        DbConnection::Postgres(_) => "FOR UPDATE OF d SKIP LOCKED",
        DbConnection::Sqlite(_) => "",
    };
    let due = super::sql_literals(&[
        DeliveryState::Queued.as_str(),
        DeliveryState::Retry.as_str(),
    ]);
    let sending = super::sql_literals(&[IssueState::Sending.as_str()]);
    super::claim_in_index_order(conn)?;
    let sql = format!(
        "UPDATE deliveries SET claimed_by = ?, claimed_at = ? WHERE id IN ( \
             SELECT d.id FROM deliveries d LEFT JOIN newsletter_issues i ON i.id = d.issue_id \
             WHERE d.state IN ({due}) AND d.claimed_by IS NULL \
               AND d.next_attempt_at <= ? AND (d.issue_id IS NULL OR i.state = {sending}) \
             ORDER BY d.next_attempt_at, d.id LIMIT ? {lock}) \
         RETURNING {CLAIMED_COLUMNS}"
    );
    let mut claimed: Vec<Claimed> = raw_sql!(
        conn, &sql, load::<Claimed>;
        Text => dispatcher.to_owned(),
        Timestamp => now.naive_utc(),
        Timestamp => now.naive_utc(),
        BigInt => limit,
    )?;
    claimed.sort_by_key(|c| c.id);
    Ok(claimed)
}

/// Marks claimed deliveries as being sent, just before sending them; returns
/// the ids that may go. Those left out were cancelled, or their issue paused,
/// since they were claimed: they are given back instead.
pub fn mark_sending(
    conn: &mut DbConnection,
    dispatcher: &str,
    ids: &[i64],
    now: DateTime<Utc>,
) -> Result<Vec<i64>> {
    let marked: Vec<i64> = match conn {
        // One statement prepared once, per row.
        DbConnection::Sqlite(sqlite) => {
            let mut marked = Vec::with_capacity(ids.len());
            let states = (
                DeliveryState::Sending.as_str(),
                DeliveryState::Queued.as_str(),
                DeliveryState::Retry.as_str(),
                IssueState::Sending.as_str(),
            );
            let now = now.naive_utc();
            for id in ids {
                let changed = MarkOne {
                    sending: states.0,
                    now: &now,
                    id,
                    dispatcher,
                    queued: states.1,
                    retry: states.2,
                    issue_sending: states.3,
                }
                .execute(sqlite)?;
                if changed == 1 {
                    marked.push(*id);
                }
            }
            marked
        }
        // One statement for the whole group, its rows found by id.
        DbConnection::Postgres(pg) => {
            #[derive(QueryableByName)]
            struct Id {
                #[diesel(sql_type = BigInt)]
                id: i64,
            }
            let sql = format!(
                "WITH mine AS MATERIALIZED ({}) \
                 UPDATE deliveries AS d SET state = $2, updated_at = $3 FROM mine AS m \
                 WHERE d.id = m.id AND m.claimed_by = $4 AND m.state IN ($5, $6) \
                   AND (m.issue_id IS NULL OR m.issue_id IN \
                        (SELECT id FROM newsletter_issues WHERE state = $7)) \
                 RETURNING d.id",
                locked_by_id("$1")
            );
            diesel::sql_query(sql)
                .bind::<diesel::sql_types::Array<BigInt>, _>(ids)
                .bind::<Text, _>(DeliveryState::Sending.as_str())
                .bind::<Timestamp, _>(now.naive_utc())
                .bind::<Text, _>(dispatcher)
                .bind::<Text, _>(DeliveryState::Queued.as_str())
                .bind::<Text, _>(DeliveryState::Retry.as_str())
                .bind::<Text, _>(IssueState::Sending.as_str())
                .load::<Id>(pg)?
                .into_iter()
                .map(|r| r.id)
                .collect()
        }
    };
    let skipped: Vec<i64> = ids
        .iter()
        .copied()
        .filter(|id| !marked.contains(id))
        .collect();
    release(conn, dispatcher, &skipped)?;
    Ok(marked)
}

/// PostgreSQL: the deliveries a statement names by id, locked, with what
/// decides whether it may write them, for `WITH mine AS MATERIALIZED (…)
/// UPDATE deliveries AS d … FROM mine AS m WHERE d.id = m.id AND m.…`. The
/// checks then read these rows, not the table, so the rows are found by
/// their primary key whatever the planner believes. Checked on the table
/// itself, `claimed_by = … AND state IN (…)` made the planner (without
/// statistics for a newsletter just queued, and statistics can never say how
/// many rows are claimed at this moment) expect one row from the claimed and
/// due indexes and read both whole for each group: at 40,000 recipients,
/// 12,000 and 30,000 entries to mark 64 rows, more with every batch sent.
fn locked_by_id(ids: &str) -> String {
    format!(
        "SELECT id, claimed_by, state, issue_id FROM deliveries WHERE id = ANY({ids}) FOR UPDATE"
    )
}

cached_statement! {
    /// One delivery marked `sending` on SQLite, if it may still go.
    struct MarkOne<'a> {
        sending: &'a str,
        now: &'a NaiveDateTime,
        id: &'a i64,
        dispatcher: &'a str,
        queued: &'a str,
        retry: &'a str,
        issue_sending: &'a str,
    }
    "UPDATE deliveries SET state = " (sending as Text) ", updated_at = " (now as Timestamp)
    " WHERE id = " (id as BigInt) " AND claimed_by = " (dispatcher as Text)
    " AND state IN (" (queued as Text) ", " (retry as Text) ") AND (issue_id IS NULL OR issue_id IN \
     (SELECT id FROM newsletter_issues WHERE state = " (issue_sending as Text) "))"
}

/// Gives back deliveries marked `sending` that were never sent (the
/// dispatcher stopped before their turn): queued again, no attempt counted.
pub fn unmark(conn: &mut DbConnection, dispatcher: &str, ids: &[i64]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    diesel::update(
        deliveries::table
            .filter(deliveries::id.eq_any(ids))
            .filter(deliveries::claimed_by.eq(dispatcher))
            .filter(deliveries::state.eq(DeliveryState::Sending.as_str())),
    )
    .set((
        deliveries::state.eq(DeliveryState::Queued.as_str()),
        deliveries::claimed_by.eq(None::<String>),
        deliveries::claimed_at.eq(None::<NaiveDateTime>),
    ))
    .execute(conn)?;
    Ok(())
}

/// Gives back claimed deliveries that were not started.
pub fn release(conn: &mut DbConnection, dispatcher: &str, ids: &[i64]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    diesel::update(
        deliveries::table
            .filter(deliveries::id.eq_any(ids))
            .filter(deliveries::claimed_by.eq(dispatcher))
            .filter(deliveries::state.ne(DeliveryState::Sending.as_str())),
    )
    .set((
        deliveries::claimed_by.eq(None::<String>),
        deliveries::claimed_at.eq(None::<NaiveDateTime>),
    ))
    .execute(conn)?;
    Ok(())
}

/// Gives back every claimed delivery of `dispatcher` not being sent.
pub fn release_all(conn: &mut DbConnection, dispatcher: &str) -> Result<usize> {
    Ok(diesel::update(
        deliveries::table
            .filter(deliveries::claimed_by.eq(dispatcher))
            .filter(deliveries::state.ne(DeliveryState::Sending.as_str())),
    )
    .set((
        deliveries::claimed_by.eq(None::<String>),
        deliveries::claimed_at.eq(None::<NaiveDateTime>),
    ))
    .execute(conn)?)
}

/// How one attempt ended, as the dispatcher decided from the SMTP outcome.
#[derive(Debug, Clone)]
pub enum Outcome {
    Sent {
        code: u16,
        reply: String,
    },
    /// A 4xx reply: try again at `at`.
    Retry {
        code: Option<u16>,
        reply: String,
        at: DateTime<Utc>,
    },
    /// A 5xx reply (or a message that can never be sent).
    Failed {
        code: Option<u16>,
        reply: String,
    },
    /// The relay may have accepted it. `resend_at`: queued again (policy
    /// "resend"), else held as `unknown`.
    Unknown {
        reply: String,
        resend_at: Option<DateTime<Utc>>,
    },
    /// Nothing reached the recipient's relay for reasons that are not theirs
    /// (connection refused, relay refuses our sender): back to the queue at
    /// `at`, without counting an attempt.
    Requeue {
        reply: String,
        at: DateTime<Utc>,
    },
}

/// The columns one outcome writes: every outcome is written by the same
/// statement, whatever its kind.
struct Written<'a> {
    id: i64,
    state: DeliveryState,
    /// Attempts and unknown outcomes to add (0 or 1).
    attempts: i32,
    unknown: i32,
    /// `Some(code)`: `smtp_code` becomes it (`None` inside: cleared); `None`:
    /// left as it was (a requeue says nothing about the recipient).
    code: Option<Option<i32>>,
    reply: &'a str,
    sent_at: Option<NaiveDateTime>,
    next_attempt_at: Option<NaiveDateTime>,
    first_attempt_at: Option<NaiveDateTime>,
}

impl<'a> Written<'a> {
    fn of(id: i64, outcome: &'a Outcome, first: DateTime<Utc>, now: DateTime<Utc>) -> Self {
        let code = |c: Option<u16>| Some(c.map(i32::from));
        let attempt = |state, code, reply, next: Option<DateTime<Utc>>| Written {
            id,
            state,
            attempts: 1,
            unknown: 0,
            code,
            reply,
            sent_at: None,
            next_attempt_at: next.map(|t| t.naive_utc()),
            first_attempt_at: Some(first.naive_utc()),
        };
        match outcome {
            Outcome::Sent { code: c, reply } => Written {
                sent_at: Some(now.naive_utc()),
                ..attempt(DeliveryState::Sent, code(Some(*c)), reply, None)
            },
            Outcome::Retry { code: c, reply, at } => {
                attempt(DeliveryState::Retry, code(*c), reply, Some(*at))
            }
            Outcome::Failed { code: c, reply } => {
                attempt(DeliveryState::Failed, code(*c), reply, None)
            }
            Outcome::Unknown { reply, resend_at } => Written {
                unknown: 1,
                ..match resend_at {
                    Some(at) => attempt(DeliveryState::Queued, code(None), reply, Some(*at)),
                    None => attempt(DeliveryState::Unknown, code(None), reply, Some(now)),
                }
            },
            Outcome::Requeue { reply, at } => Written {
                attempts: 0,
                code: None,
                first_attempt_at: None,
                ..attempt(DeliveryState::Queued, None, reply, Some(*at))
            },
        }
    }
}

/// Records outcomes of deliveries this dispatcher was sending, each with
/// when the delivery was first attempted. A row no longer held by it
/// (recovered after a long stall) is left alone.
///
/// SQLite: one cached statement per row, in process. PostgreSQL: one
/// statement for the whole group (`unnest` of one array per column), since
/// there every statement is a round trip made while the commit waits.
pub fn record(
    conn: &mut DbConnection,
    dispatcher: &str,
    outcomes: &[(i64, Outcome, DateTime<Utc>)],
    now: DateTime<Utc>,
) -> Result<()> {
    if outcomes.is_empty() {
        return Ok(());
    }
    let rows: Vec<Written<'_>> = outcomes
        .iter()
        .map(|(id, outcome, first)| Written::of(*id, outcome, *first, now))
        .collect();
    let now_naive = now.naive_utc();
    match conn {
        DbConnection::Postgres(pg) => record_all(pg, dispatcher, &rows, now_naive),
        DbConnection::Sqlite(sqlite) => {
            let (sending, now) = (DeliveryState::Sending.as_str(), &now_naive);
            for row in &rows {
                RecordOne {
                    now,
                    state: row.state.as_str(),
                    attempts: &row.attempts,
                    unknown: &row.unknown,
                    set_code: &row.code.is_some(),
                    code: &row.code.flatten(),
                    reply: row.reply,
                    sent_at: &row.sent_at,
                    next_attempt_at: &row.next_attempt_at,
                    first_attempt_at: &row.first_attempt_at,
                    id: &row.id,
                    dispatcher,
                    sending,
                }
                .execute(sqlite)?;
            }
            Ok(())
        }
    }
}

cached_statement! {
    /// One outcome on SQLite: the statement `record_all` runs for a whole
    /// group on PostgreSQL, for one row.
    struct RecordOne<'a> {
        now: &'a NaiveDateTime,
        state: &'a str,
        attempts: &'a i32,
        unknown: &'a i32,
        set_code: &'a bool,
        code: &'a Option<i32>,
        reply: &'a str,
        sent_at: &'a Option<NaiveDateTime>,
        next_attempt_at: &'a Option<NaiveDateTime>,
        first_attempt_at: &'a Option<NaiveDateTime>,
        id: &'a i64,
        dispatcher: &'a str,
        sending: &'a str,
    }
    "UPDATE deliveries SET claimed_by = NULL, claimed_at = NULL, updated_at = " (now as Timestamp)
    ", state = " (state as Text)
    ", attempts = attempts + " (attempts as Integer)
    ", unknown_outcomes = unknown_outcomes + " (unknown as Integer)
    ", smtp_code = CASE WHEN " (set_code as Bool) " THEN " (code as Nullable<Integer>)
    " ELSE smtp_code END, smtp_reply = " (reply as Text)
    ", sent_at = COALESCE(" (sent_at as Nullable<Timestamp>)
    ", sent_at), next_attempt_at = COALESCE(" (next_attempt_at as Nullable<Timestamp>)
    ", next_attempt_at), first_attempt_at = COALESCE(" (first_attempt_at as Nullable<Timestamp>)
    ", first_attempt_at) WHERE id = " (id as BigInt)
    " AND claimed_by = " (dispatcher as Text)
    " AND state = " (sending as Text)
}

fn record_all(
    conn: &mut diesel::PgConnection,
    dispatcher: &str,
    rows: &[Written<'_>],
    now: NaiveDateTime,
) -> Result<()> {
    use diesel::sql_types::Array;
    let column = |f: fn(&Written<'_>) -> Option<NaiveDateTime>| -> Vec<Option<NaiveDateTime>> {
        rows.iter().map(f).collect()
    };
    diesel::sql_query(format!(
        "WITH mine AS MATERIALIZED ({}) \
         UPDATE deliveries AS d SET claimed_by = NULL, claimed_at = NULL, updated_at = $1, \
             state = v.state, attempts = d.attempts + v.attempts, \
             unknown_outcomes = d.unknown_outcomes + v.unknown, smtp_reply = v.reply, \
             smtp_code = CASE WHEN v.set_code THEN v.code ELSE d.smtp_code END, \
             sent_at = COALESCE(v.sent_at, d.sent_at), \
             next_attempt_at = COALESCE(v.next_attempt_at, d.next_attempt_at), \
             first_attempt_at = COALESCE(v.first_attempt_at, d.first_attempt_at) \
         FROM unnest($2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             AS v(id, state, attempts, unknown, set_code, code, reply, sent_at, \
                  next_attempt_at, first_attempt_at), \
             mine AS m \
         WHERE d.id = v.id AND m.id = v.id AND m.claimed_by = $12 AND m.state = $13",
        locked_by_id("$2")
    ))
    .bind::<Timestamp, _>(now)
    .bind::<Array<BigInt>, _>(rows.iter().map(|r| r.id).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(rows.iter().map(|r| r.state.as_str()).collect::<Vec<_>>())
    .bind::<Array<Integer>, _>(rows.iter().map(|r| r.attempts).collect::<Vec<_>>())
    .bind::<Array<Integer>, _>(rows.iter().map(|r| r.unknown).collect::<Vec<_>>())
    .bind::<Array<Bool>, _>(rows.iter().map(|r| r.code.is_some()).collect::<Vec<_>>())
    .bind::<Array<Nullable<Integer>>, _>(rows.iter().map(|r| r.code.flatten()).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(rows.iter().map(|r| r.reply).collect::<Vec<_>>())
    .bind::<Array<Nullable<Timestamp>>, _>(column(|r| r.sent_at))
    .bind::<Array<Nullable<Timestamp>>, _>(column(|r| r.next_attempt_at))
    .bind::<Array<Nullable<Timestamp>>, _>(column(|r| r.first_attempt_at))
    .bind::<Text, _>(dispatcher)
    .bind::<Text, _>(DeliveryState::Sending.as_str())
    .execute(conn)?;
    Ok(())
}

/// Registers a dispatcher (or refreshes its heartbeat).
pub fn heartbeat(
    conn: &mut DbConnection,
    id: &str,
    host: &str,
    pid: u32,
    now: DateTime<Utc>,
) -> Result<()> {
    let updated = diesel::update(dispatchers::table.find(id))
        .set(dispatchers::heartbeat_at.eq(now.naive_utc()))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(dispatchers::table)
            .values((
                dispatchers::id.eq(id),
                dispatchers::host.eq(host),
                dispatchers::pid.eq(pid as i32),
                dispatchers::started_at.eq(now.naive_utc()),
                dispatchers::heartbeat_at.eq(now.naive_utc()),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn deregister(conn: &mut DbConnection, id: &str) -> Result<()> {
    diesel::delete(dispatchers::table.find(id)).execute(conn)?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct DispatcherRow {
    pub id: String,
    pub host: String,
    pub pid: i32,
    pub heartbeat_at: DateTime<Utc>,
}

pub fn dispatchers(conn: &mut DbConnection) -> Result<Vec<DispatcherRow>> {
    Ok(dispatchers::table
        .select((
            dispatchers::id,
            dispatchers::host,
            dispatchers::pid,
            dispatchers::heartbeat_at,
        ))
        .load::<(String, String, i32, NaiveDateTime)>(conn)?
        .into_iter()
        .map(|(id, host, pid, at)| DispatcherRow {
            id,
            host,
            pid,
            heartbeat_at: utc(at),
        })
        .collect())
}

/// What recovery found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovered {
    pub dead_dispatchers: Vec<String>,
    /// Deliveries that were being sent by a dead dispatcher.
    pub outcome_unknown: usize,
    /// Claimed but never started: simply back in the queue.
    pub released: usize,
}

/// Removes the given dead dispatchers, then recovers every delivery claimed
/// by a dispatcher that is no longer registered.
pub fn recover(
    conn: &mut DbConnection,
    dead: &[String],
    policy: OutcomeUnknownPolicy,
    max_unknown: u32,
    now: DateTime<Utc>,
) -> Result<Recovered> {
    diesel::delete(dispatchers::table.filter(dispatchers::id.eq_any(dead))).execute(conn)?;
    let live = dispatchers::table.select(dispatchers::id.nullable());
    let orphaned = || {
        deliveries::table
            .filter(deliveries::claimed_by.is_not_null())
            .filter(diesel::dsl::not(deliveries::claimed_by.eq_any(live)))
    };
    let next_state = match policy {
        OutcomeUnknownPolicy::Resend => DeliveryState::Queued,
        OutcomeUnknownPolicy::Hold => DeliveryState::Unknown,
    };
    let sending = || orphaned().filter(deliveries::state.eq(DeliveryState::Sending));
    diesel::update(sending().filter(deliveries::first_attempt_at.is_null()))
        .set(deliveries::first_attempt_at.eq(Some(now.naive_utc())))
        .execute(conn)?;
    // This unknown outcome is the `max_unknown`-th: held whatever the policy.
    let last_chance = (max_unknown.max(1) as i32) - 1;
    let held = diesel::update(sending().filter(deliveries::unknown_outcomes.ge(last_chance)))
        .set((
            deliveries::state.eq(DeliveryState::Unknown),
            deliveries::claimed_by.eq(None::<String>),
            deliveries::claimed_at.eq(None::<NaiveDateTime>),
            deliveries::attempts.eq(deliveries::attempts + 1),
            deliveries::unknown_outcomes.eq(deliveries::unknown_outcomes + 1),
            deliveries::smtp_code.eq(None::<i32>),
            deliveries::smtp_reply
                .eq("outcome unknown: the dispatcher stopped while sending this message"),
            deliveries::updated_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    let outcome_unknown = held
        + diesel::update(sending())
            .set((
                deliveries::state.eq(next_state),
                deliveries::claimed_by.eq(None::<String>),
                deliveries::claimed_at.eq(None::<NaiveDateTime>),
                deliveries::attempts.eq(deliveries::attempts + 1),
                deliveries::unknown_outcomes.eq(deliveries::unknown_outcomes + 1),
                deliveries::smtp_code.eq(None::<i32>),
                deliveries::smtp_reply
                    .eq("outcome unknown: the dispatcher stopped while sending this message"),
                deliveries::next_attempt_at.eq(now.naive_utc()),
                deliveries::updated_at.eq(now.naive_utc()),
            ))
            .execute(conn)?;
    let released = diesel::update(orphaned())
        .set((
            deliveries::claimed_by.eq(None::<String>),
            deliveries::claimed_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    Ok(Recovered {
        dead_dispatchers: dead.to_vec(),
        outcome_unknown,
        released,
    })
}

// ---------------------------------------------------------------- reports

#[derive(Queryable, Selectable)]
#[diesel(table_name = deliveries)]
struct Row {
    id: i64,
    kind: String,
    email: String,
    name: Option<String>,
    language: String,
    state: String,
    attempts: i32,
    unknown_outcomes: i32,
    smtp_code: Option<i32>,
    smtp_reply: Option<String>,
    message_id: String,
    next_attempt_at: NaiveDateTime,
    sent_at: Option<NaiveDateTime>,
    bounced_at: Option<NaiveDateTime>,
    first_attempt_at: Option<NaiveDateTime>,
    method: Option<String>,
    sequence: Option<i32>,
}

impl Row {
    fn into_view(self) -> Result<DeliveryView> {
        let state: DeliveryState = parse_stored(&self.state)?;
        Ok(DeliveryView {
            id: self.id,
            kind: parse_stored(&self.kind)?,
            email: self.email,
            name: self.name,
            language: parse_stored(&self.language)?,
            attempts: self.attempts,
            unknown_outcomes: self.unknown_outcomes,
            smtp_code: self.smtp_code,
            smtp_reply: self.smtp_reply,
            message_id: self.message_id,
            next_attempt_at: matches!(state, DeliveryState::Queued | DeliveryState::Retry)
                .then(|| utc(self.next_attempt_at)),
            sent_at: self.sent_at.map(utc),
            bounced_at: self.bounced_at.map(utc),
            first_attempt_at: self.first_attempt_at.map(utc),
            method: self.method,
            sequence: self.sequence,
            state,
        })
    }
}

/// One issue's deliveries in id order, optionally of one state.
pub fn of_issue(
    conn: &mut DbConnection,
    issue_id: i64,
    state: Option<DeliveryState>,
    page: PageRequest,
) -> Result<Page<DeliveryView>> {
    let query = || {
        let mut q = deliveries::table
            .filter(deliveries::issue_id.eq(issue_id))
            .into_boxed();
        if let Some(state) = state {
            q = q.filter(deliveries::state.eq(state.as_str()));
        }
        q
    };
    let total: i64 = query().count().get_result(conn)?;
    let rows = query()
        .order(deliveries::id)
        .limit(page.limit())
        .offset(page.offset())
        .select(Row::as_select())
        .load(conn)?;
    let items = rows
        .into_iter()
        .map(Row::into_view)
        .collect::<Result<_>>()?;
    page.wrap(items, total)
}

/// A slice of an issue's deliveries after `after_id`, for streaming reports.
pub fn report_chunk(
    conn: &mut DbConnection,
    issue_id: i64,
    after_id: i64,
    limit: i64,
) -> Result<Vec<DeliveryView>> {
    deliveries::table
        .filter(deliveries::issue_id.eq(issue_id))
        .filter(deliveries::id.gt(after_id))
        .order(deliveries::id)
        .limit(limit)
        .select(Row::as_select())
        .load(conn)?
        .into_iter()
        .map(Row::into_view)
        .collect()
}

/// Deliveries of one activity's invitations, newest first.
pub fn of_activity(conn: &mut DbConnection, activity_id: i64) -> Result<Vec<DeliveryView>> {
    deliveries::table
        .filter(deliveries::activity_id.eq(activity_id))
        .filter(deliveries::kind.eq(DeliveryKind::Invitation))
        .order(deliveries::id.desc())
        .select(Row::as_select())
        .load(conn)?
        .into_iter()
        .map(Row::into_view)
        .collect()
}

/// The header of the delivery report CSV.
pub const CSV_HEADER: &[u8] = b"id,email,name,language,state,attempts,unknown_outcomes,possible_duplicate,smtp_code,smtp_reply,message_id,sent_at,bounced_at,first_attempt_at\r\n";

/// Rows of the delivery report CSV (after [`CSV_HEADER`]). Names come from the
/// public subscribe form and replies from remote relays: every text cell is
/// neutralised against formula injection.
pub fn csv_rows(rows: &[DeliveryView]) -> Vec<u8> {
    use super::subscriber_csv::spreadsheet_safe as safe;
    let mut writer = csv::WriterBuilder::new()
        .has_headers(false)
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let time = |t: Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339()).unwrap_or_default();
    for r in rows {
        let _ = writer.write_record([
            r.id.to_string(),
            safe(&r.email).into_owned(),
            safe(r.name.as_deref().unwrap_or_default()).into_owned(),
            r.language.to_string(),
            r.state.to_string(),
            r.attempts.to_string(),
            r.unknown_outcomes.to_string(),
            (r.unknown_outcomes > 0 && r.state == DeliveryState::Sent).to_string(),
            r.smtp_code.map(|c| c.to_string()).unwrap_or_default(),
            safe(r.smtp_reply.as_deref().unwrap_or_default()).into_owned(),
            safe(&r.message_id).into_owned(),
            time(r.sent_at),
            time(r.bounced_at),
            time(r.first_attempt_at),
        ]);
    }
    writer.into_inner().unwrap_or_default()
}
