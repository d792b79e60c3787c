//! The jobs table as the job runner uses it: enqueue (idempotent per kind and
//! key), claim due jobs (`FOR UPDATE SKIP LOCKED` on PostgreSQL), record each
//! attempt, heartbeat, and recover the jobs of workers that died.
//!
//! A job is `running` from its claim until its outcome is written, so a
//! worker that dies leaves its jobs `running` under its id: recovery puts
//! them back in the queue as "outcome unknown", and the handler, seeing
//! `unknown_outcomes > 0`, checks before acting again.

use super::outbound_schema::{job_attempts, job_workers, jobs};
use super::{DbConnection, parse_stored, raw_sql, utc};
use crate::domain::job::{AttemptOutcome, JobAttemptView, JobState, JobView};
use crate::error::{Error, Result};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};

#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = jobs)]
pub struct Row {
    pub id: i64,
    pub kind: String,
    pub idempotency_key: String,
    pub payload: String,
    pub state: String,
    pub attempts: i32,
    pub unknown_outcomes: i32,
    pub next_attempt_at: NaiveDateTime,
    pub claimed_by: Option<String>,
    pub claimed_until: Option<NaiveDateTime>,
    pub last_result: Option<String>,
    pub remote_id: Option<String>,
    pub remote_url: Option<String>,
    pub first_attempt_at: Option<NaiveDateTime>,
    pub finished_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

const COLUMNS: &str = "id, kind, idempotency_key, payload, state, attempts, unknown_outcomes, \
     next_attempt_at, claimed_by, claimed_until, last_result, remote_id, remote_url, \
     first_attempt_at, finished_at, created_at, updated_at";

impl Row {
    pub fn state(&self) -> Result<JobState> {
        parse_stored(&self.state)
    }

    pub fn view(&self) -> Result<JobView> {
        Ok(JobView {
            id: self.id,
            kind: self.kind.clone(),
            idempotency_key: self.idempotency_key.clone(),
            state: self.state()?,
            attempts: self.attempts,
            unknown_outcomes: self.unknown_outcomes,
            next_attempt_at: utc(self.next_attempt_at),
            claimed_by: self.claimed_by.clone(),
            claimed_until: self.claimed_until.map(utc),
            last_result: self.last_result.clone(),
            remote_id: self.remote_id.clone(),
            remote_url: self.remote_url.clone(),
            first_attempt_at: self.first_attempt_at.map(utc),
            finished_at: self.finished_at.map(utc),
            created_at: utc(self.created_at),
            updated_at: utc(self.updated_at),
            payload: serde_json::from_str(&self.payload).unwrap_or(serde_json::Value::Null),
        })
    }
}

/// Inserts a job unless one of this kind with this key exists. Returns the
/// job's id and whether it was created now.
pub fn enqueue(
    conn: &mut DbConnection,
    kind: &str,
    key: &str,
    payload: &str,
    due_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(i64, bool)> {
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = BigInt)]
        id: i64,
    }
    let inserted: Vec<Id> = raw_sql!(
        conn,
        "INSERT INTO jobs (kind, idempotency_key, payload, state, next_attempt_at, created_at, updated_at) \
         VALUES (?, ?, ?, 'queued', ?, ?, ?) ON CONFLICT (kind, idempotency_key) DO NOTHING RETURNING id",
        load::<Id>;
        Text => kind.to_owned(),
        Text => key.to_owned(),
        Text => payload.to_owned(),
        Timestamp => due_at.naive_utc(),
        Timestamp => now.naive_utc(),
        Timestamp => now.naive_utc(),
    )?;
    if let Some(row) = inserted.first() {
        return Ok((row.id, true));
    }
    let id = jobs::table
        .filter(jobs::kind.eq(kind))
        .filter(jobs::idempotency_key.eq(key))
        .select(jobs::id)
        .first(conn)?;
    Ok((id, false))
}

/// Claims up to `limit` due queued jobs of these kinds for `worker`: they
/// become `running`, their attempt counted, held until `lease_until` (the
/// heartbeat extends it). Kinds are handler names (checked to be plain
/// identifiers when the handler is registered), written into the SQL.
pub fn claim(
    conn: &mut DbConnection,
    worker: &str,
    kinds: &[&'static str],
    limit: i64,
    lease_until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Vec<Row>> {
    if kinds.is_empty() || limit <= 0 {
        return Ok(Vec::new());
    }
    // On SQLite `+kind` keeps the planner off the (kind, key) index, which
    // reads every job of these kinds, done ones included, and sorts them:
    // a claim then cost time in proportion to the whole table. The partial
    // index of queued jobs by due time is already in claim order.
    let (lock, kind) = match conn {
        DbConnection::Postgres(_) => ("FOR UPDATE SKIP LOCKED", "kind"),
        DbConnection::Sqlite(_) => ("", "+kind"),
    };
    super::claim_in_index_order(conn)?;
    let kinds = kinds
        .iter()
        .map(|k| format!("'{k}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "UPDATE jobs SET state = 'running', claimed_by = ?, claimed_until = ?, \
             attempts = attempts + 1, first_attempt_at = COALESCE(first_attempt_at, ?), updated_at = ? \
         WHERE id IN (SELECT id FROM jobs WHERE state = 'queued' AND next_attempt_at <= ? \
             AND {kind} IN ({kinds}) ORDER BY next_attempt_at, id LIMIT ? {lock}) \
         RETURNING {COLUMNS}"
    );
    let mut rows: Vec<Row> = raw_sql!(
        conn, &sql, load::<Row>;
        Text => worker.to_owned(),
        Timestamp => lease_until.naive_utc(),
        Timestamp => now.naive_utc(),
        Timestamp => now.naive_utc(),
        Timestamp => now.naive_utc(),
        BigInt => limit,
    )?;
    rows.sort_by_key(|r| (r.next_attempt_at, r.id));
    Ok(rows)
}

/// The end of one attempt, as the runner decided it.
#[derive(Debug, Clone)]
pub struct Finish {
    pub job_id: i64,
    pub attempt: i32,
    pub state: JobState,
    pub outcome: AttemptOutcome,
    /// For `queued`: when to try again.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub unknown: bool,
    pub result: String,
    pub remote_id: Option<String>,
    pub remote_url: Option<String>,
    pub started_at: DateTime<Utc>,
    pub request: Option<String>,
    pub status: Option<i32>,
    pub reply: Option<String>,
}

/// Writes an attempt's outcome, if `worker` still holds the job (a worker
/// taken for dead and recovered meanwhile writes nothing). Returns whether
/// it was written.
pub fn finish(
    conn: &mut DbConnection,
    worker: &str,
    f: &Finish,
    now: DateTime<Utc>,
) -> Result<bool> {
    let target = jobs::table
        .filter(jobs::id.eq(f.job_id))
        .filter(jobs::claimed_by.eq(worker))
        .filter(jobs::state.eq(JobState::Running.as_str()));
    let finished_at = f.state.is_final().then_some(now.naive_utc());
    let updated = diesel::update(target)
        .set((
            jobs::state.eq(f.state.as_str()),
            jobs::claimed_by.eq(None::<String>),
            jobs::claimed_until.eq(None::<NaiveDateTime>),
            jobs::next_attempt_at.eq(f.next_attempt_at.unwrap_or(now).naive_utc()),
            jobs::unknown_outcomes.eq(jobs::unknown_outcomes + i32::from(f.unknown)),
            jobs::last_result.eq(Some(&f.result)),
            jobs::remote_id.eq(f.remote_id.as_deref()),
            jobs::remote_url.eq(f.remote_url.as_deref()),
            jobs::finished_at.eq(finished_at),
            jobs::updated_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    if updated == 0 {
        return Ok(false);
    }
    insert_attempt(conn, worker, f, now)?;
    Ok(true)
}

/// Writes the outcomes of many attempts of `worker`: a multi-row UPDATE of
/// the jobs and a multi-row INSERT of their attempts, one statement on
/// PostgreSQL (a data-modifying WITH), two on SQLite (the batch goes as one
/// JSON parameter, so its size needs no placeholder per value). A job
/// `worker` no longer holds is skipped, as in `finish`.
/// Returns the ids of the jobs written.
pub fn finish_many(
    conn: &mut DbConnection,
    worker: &str,
    batch: &[Finish],
    now: DateTime<Utc>,
) -> Result<Vec<i64>> {
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = BigInt)]
        id: i64,
    }
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    let postgres = matches!(conn, DbConnection::Postgres(_));
    // The text each backend reads back as the timestamp diesel would bind:
    // PostgreSQL keeps microseconds (diesel truncates to them), SQLite the
    // exact text diesel writes.
    let stamp = |t: DateTime<Utc>| {
        let t = t.naive_utc();
        if postgres {
            t.format("%F %T%.6f").to_string()
        } else {
            t.format("%F %T%.f").to_string()
        }
    };
    // Each result as the statements read it (jobs' columns and the attempt's).
    let rows: Vec<serde_json::Value> = batch
        .iter()
        .map(|f| {
            serde_json::json!({
                "job_id": f.job_id,
                "new_state": f.state.as_str(),
                "next_at": stamp(f.next_attempt_at.unwrap_or(now)),
                "add_unknown": i32::from(f.unknown),
                "result_text": f.result,
                "rid": f.remote_id,
                "rurl": f.remote_url,
                "fin_at": f.state.is_final().then(|| stamp(now)),
                "attempt": f.attempt,
                "started": stamp(f.started_at),
                "outcome": f.outcome.as_str(),
                "request": f.request,
                "status": f.status,
                "reply": f.reply,
            })
        })
        .collect();
    if postgres {
        // One statement: the UPDATE, and the INSERT of the attempts of the
        // jobs it wrote (a data-modifying WITH). The jobs are locked and
        // checked (this worker's, still running) in `mine`, found by id, so
        // the UPDATE finds them by primary key: checked on the table itself,
        // `claimed_by = … AND state = …` led the planner, with no statistics
        // yet for a burst of jobs, to expect one claimed row and compare
        // every claimed row with every result (10,000 webhooks: 10 s of a
        // 12 s run in this statement).
        let written: Vec<Id> = raw_sql!(
            conn,
            "WITH v AS (SELECT * FROM jsonb_to_recordset(?::jsonb) AS v(job_id bigint, \
                 new_state text, next_at text, add_unknown integer, result_text text, rid text, \
                 rurl text, fin_at text, attempt integer, started text, outcome text, \
                 request text, status integer, reply text)), \
             mine AS MATERIALIZED (SELECT id, claimed_by, state FROM jobs \
                 WHERE id IN (SELECT job_id FROM v) FOR UPDATE), \
             written AS (UPDATE jobs SET state = v.new_state, claimed_by = NULL, \
                 claimed_until = NULL, next_attempt_at = v.next_at::timestamp, \
                 unknown_outcomes = jobs.unknown_outcomes + v.add_unknown, \
                 last_result = v.result_text, remote_id = v.rid, remote_url = v.rurl, \
                 finished_at = v.fin_at::timestamp, updated_at = ? \
                 FROM v JOIN mine AS m ON m.id = v.job_id \
                 WHERE jobs.id = v.job_id AND m.claimed_by = ? AND m.state = ? \
                 RETURNING jobs.id), \
             logged AS (INSERT INTO job_attempts (job_id, attempt, worker, started_at, \
                 finished_at, outcome, request, status, reply, remote_id, remote_url) \
                 SELECT v.job_id, v.attempt, ?, v.started::timestamp, ?, v.outcome, v.request, \
                 v.status, v.reply, v.rid, v.rurl FROM v JOIN written ON written.id = v.job_id \
                 ORDER BY v.job_id) \
             SELECT id FROM written ORDER BY id",
            load::<Id>;
            Text => serde_json::Value::Array(rows).to_string(),
            Timestamp => now.naive_utc(),
            Text => worker.to_owned(),
            Text => JobState::Running.as_str().to_owned(),
            Text => worker.to_owned(),
            Timestamp => now.naive_utc(),
        )?;
        return Ok(written.into_iter().map(|r| r.id).collect());
    }
    // SQLite: the UPDATE, then the INSERT of the attempts it wrote.
    let sql = "UPDATE jobs SET state = new_state, claimed_by = NULL, claimed_until = NULL, \
             next_attempt_at = next_at, unknown_outcomes = unknown_outcomes + add_unknown, \
             last_result = result_text, remote_id = rid, remote_url = rurl, \
             finished_at = fin_at, updated_at = ? \
         FROM (SELECT json_extract(value, '$.job_id') AS job_id, \
                 json_extract(value, '$.new_state') AS new_state, \
                 json_extract(value, '$.next_at') AS next_at, \
                 json_extract(value, '$.add_unknown') AS add_unknown, \
                 json_extract(value, '$.result_text') AS result_text, \
                 json_extract(value, '$.rid') AS rid, json_extract(value, '$.rurl') AS rurl, \
                 json_extract(value, '$.fin_at') AS fin_at FROM json_each(?)) AS v \
         WHERE jobs.id = v.job_id AND jobs.claimed_by = ? AND jobs.state = ? \
         RETURNING id";
    let written: Vec<Id> = raw_sql!(
        conn, sql, load::<Id>;
        Timestamp => now.naive_utc(),
        Text => serde_json::Value::Array(rows.clone()).to_string(),
        Text => worker.to_owned(),
        Text => JobState::Running.as_str().to_owned(),
    )?;
    let written: std::collections::HashSet<i64> = written.into_iter().map(|r| r.id).collect();
    let attempts: Vec<serde_json::Value> = rows
        .into_iter()
        .zip(batch)
        .filter(|(_, f)| written.contains(&f.job_id))
        .map(|(row, _)| row)
        .collect();
    if !attempts.is_empty() {
        let sql = "INSERT INTO job_attempts (job_id, attempt, worker, started_at, finished_at, outcome, \
                 request, status, reply, remote_id, remote_url) \
             SELECT json_extract(value, '$.job_id'), json_extract(value, '$.attempt'), ?, \
                 json_extract(value, '$.started'), ?, json_extract(value, '$.outcome'), \
                 json_extract(value, '$.request'), json_extract(value, '$.status'), \
                 json_extract(value, '$.reply'), json_extract(value, '$.rid'), \
                 json_extract(value, '$.rurl') \
             FROM json_each(?) ORDER BY json_extract(value, '$.job_id')";
        raw_sql!(
            conn, sql, execute;
            Text => worker.to_owned(),
            Timestamp => now.naive_utc(),
            Text => serde_json::Value::Array(attempts).to_string(),
        )?;
    }
    let mut ids: Vec<i64> = written.into_iter().collect();
    ids.sort_unstable();
    Ok(ids)
}

/// Gives back jobs `worker` claimed but never started (it is stopping):
/// queued again as they were, their attempt not counted, no unknown outcome.
pub fn release(
    conn: &mut DbConnection,
    worker: &str,
    ids: &[i64],
    now: DateTime<Utc>,
) -> Result<usize> {
    if ids.is_empty() {
        return Ok(0);
    }
    let released = diesel::update(
        jobs::table
            .filter(jobs::id.eq_any(ids))
            .filter(jobs::claimed_by.eq(worker))
            .filter(jobs::state.eq(JobState::Running.as_str())),
    )
    .set((
        jobs::state.eq(JobState::Queued.as_str()),
        jobs::claimed_by.eq(None::<String>),
        jobs::claimed_until.eq(None::<NaiveDateTime>),
        jobs::attempts.eq(jobs::attempts - 1),
        jobs::updated_at.eq(now.naive_utc()),
    ))
    .execute(conn)?;
    // A job never attempted has no first attempt either.
    diesel::update(
        jobs::table
            .filter(jobs::id.eq_any(ids))
            .filter(jobs::attempts.eq(0))
            .filter(jobs::state.eq(JobState::Queued.as_str())),
    )
    .set(jobs::first_attempt_at.eq(None::<NaiveDateTime>))
    .execute(conn)?;
    Ok(released)
}

fn insert_attempt(
    conn: &mut DbConnection,
    worker: &str,
    f: &Finish,
    now: DateTime<Utc>,
) -> Result<()> {
    diesel::insert_into(job_attempts::table)
        .values((
            job_attempts::job_id.eq(f.job_id),
            job_attempts::attempt.eq(f.attempt),
            job_attempts::worker.eq(worker),
            job_attempts::started_at.eq(f.started_at.naive_utc()),
            job_attempts::finished_at.eq(now.naive_utc()),
            job_attempts::outcome.eq(f.outcome.as_str()),
            job_attempts::request.eq(f.request.as_deref()),
            job_attempts::status.eq(f.status),
            job_attempts::reply.eq(f.reply.as_deref()),
            job_attempts::remote_id.eq(f.remote_id.as_deref()),
            job_attempts::remote_url.eq(f.remote_url.as_deref()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Registers or refreshes a worker, and extends the lease of the jobs it runs.
pub fn heartbeat(
    conn: &mut DbConnection,
    id: &str,
    host: &str,
    pid: u32,
    lease_until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<()> {
    let updated = diesel::update(job_workers::table.find(id))
        .set(job_workers::heartbeat_at.eq(now.naive_utc()))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(job_workers::table)
            .values((
                job_workers::id.eq(id),
                job_workers::host.eq(host),
                job_workers::pid.eq(pid as i32),
                job_workers::started_at.eq(now.naive_utc()),
                job_workers::heartbeat_at.eq(now.naive_utc()),
            ))
            .execute(conn)?;
    }
    diesel::update(
        jobs::table
            .filter(jobs::claimed_by.eq(id))
            .filter(jobs::state.eq(JobState::Running.as_str())),
    )
    .set(jobs::claimed_until.eq(lease_until.naive_utc()))
    .execute(conn)?;
    Ok(())
}

pub fn deregister(conn: &mut DbConnection, id: &str) -> Result<()> {
    diesel::delete(job_workers::table.find(id)).execute(conn)?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct WorkerRow {
    pub id: String,
    pub host: String,
    pub pid: i32,
    pub heartbeat_at: DateTime<Utc>,
}

pub fn workers(conn: &mut DbConnection) -> Result<Vec<WorkerRow>> {
    Ok(job_workers::table
        .select((
            job_workers::id,
            job_workers::host,
            job_workers::pid,
            job_workers::heartbeat_at,
        ))
        .load::<(String, String, i32, NaiveDateTime)>(conn)?
        .into_iter()
        .map(|(id, host, pid, at)| WorkerRow {
            id,
            host,
            pid,
            heartbeat_at: utc(at),
        })
        .collect())
}

pub const DIED_MID_ATTEMPT: &str =
    "outcome unknown: the worker stopped during this attempt; checked before acting again";

/// Forgets dead workers and puts their running jobs (and any whose lease ran
/// out) back in the queue as outcome unknown. Returns how many.
pub fn recover(conn: &mut DbConnection, dead: &[String], now: DateTime<Utc>) -> Result<usize> {
    if !dead.is_empty() {
        diesel::delete(job_workers::table.filter(job_workers::id.eq_any(dead))).execute(conn)?;
    }
    let live = job_workers::table.select(job_workers::id.nullable());
    let orphans: Vec<(i64, i32, Option<String>, Option<NaiveDateTime>)> = jobs::table
        .filter(jobs::state.eq(JobState::Running.as_str()))
        .filter(
            diesel::dsl::not(jobs::claimed_by.eq_any(live))
                .or(jobs::claimed_until.lt(now.naive_utc())),
        )
        .select((
            jobs::id,
            jobs::attempts,
            jobs::claimed_by,
            jobs::first_attempt_at,
        ))
        .load(conn)?;
    let mut recovered = 0;
    for (id, attempt, holder, first) in orphans {
        let updated = diesel::update(
            jobs::table
                .filter(jobs::id.eq(id))
                .filter(jobs::state.eq(JobState::Running.as_str())),
        )
        .set((
            jobs::state.eq(JobState::Queued.as_str()),
            jobs::claimed_by.eq(None::<String>),
            jobs::claimed_until.eq(None::<NaiveDateTime>),
            jobs::unknown_outcomes.eq(jobs::unknown_outcomes + 1),
            jobs::next_attempt_at.eq(now.naive_utc()),
            jobs::last_result.eq(Some(DIED_MID_ATTEMPT)),
            jobs::updated_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
        if updated > 0 {
            recovered += 1;
            insert_attempt(
                conn,
                holder.as_deref().unwrap_or("?"),
                &Finish {
                    job_id: id,
                    attempt,
                    state: JobState::Queued,
                    outcome: AttemptOutcome::Unknown,
                    next_attempt_at: Some(now),
                    unknown: true,
                    result: DIED_MID_ATTEMPT.into(),
                    remote_id: None,
                    remote_url: None,
                    started_at: first.map(utc).unwrap_or(now),
                    request: None,
                    status: None,
                    reply: None,
                },
                now,
            )?;
        }
    }
    Ok(recovered)
}

pub fn get(conn: &mut DbConnection, id: i64) -> Result<Row> {
    jobs::table
        .find(id)
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| Error::not_found("job", id))
}

pub fn find(conn: &mut DbConnection, kind: &str, key: &str) -> Result<Option<Row>> {
    Ok(jobs::table
        .filter(jobs::kind.eq(kind))
        .filter(jobs::idempotency_key.eq(key))
        .select(Row::as_select())
        .first(conn)
        .optional()?)
}

/// Jobs, newest first, optionally of one kind and state.
pub fn list(
    conn: &mut DbConnection,
    kind: Option<&str>,
    state: Option<JobState>,
    limit: i64,
    offset: i64,
) -> Result<Vec<Row>> {
    let mut query = jobs::table.select(Row::as_select()).into_boxed();
    if let Some(kind) = kind {
        query = query.filter(jobs::kind.eq(kind.to_owned()));
    }
    if let Some(state) = state {
        query = query.filter(jobs::state.eq(state.as_str()));
    }
    Ok(query
        .order(jobs::id.desc())
        .limit(limit)
        .offset(offset)
        .load(conn)?)
}

pub fn attempts(conn: &mut DbConnection, job_id: i64) -> Result<Vec<JobAttemptView>> {
    type AttemptRow = (
        i32,
        String,
        NaiveDateTime,
        NaiveDateTime,
        String,
        Option<String>,
        Option<i32>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<AttemptRow> = job_attempts::table
        .filter(job_attempts::job_id.eq(job_id))
        .order(job_attempts::id)
        .select((
            job_attempts::attempt,
            job_attempts::worker,
            job_attempts::started_at,
            job_attempts::finished_at,
            job_attempts::outcome,
            job_attempts::request,
            job_attempts::status,
            job_attempts::reply,
            job_attempts::remote_id,
            job_attempts::remote_url,
        ))
        .load(conn)?;
    rows.into_iter()
        .map(|r| {
            Ok(JobAttemptView {
                attempt: r.0,
                worker: r.1,
                started_at: utc(r.2),
                finished_at: utc(r.3),
                outcome: parse_stored(&r.4)?,
                request: r.5,
                status: r.6,
                reply: r.7,
                remote_id: r.8,
                remote_url: r.9,
            })
        })
        .collect()
}

/// Sets a job's state from `from` (one of) to `to`, due at `at`; whether it moved.
pub fn transition(
    conn: &mut DbConnection,
    id: i64,
    from: &[JobState],
    to: JobState,
    at: DateTime<Utc>,
    note: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
    let finished_at = to.is_final().then_some(now.naive_utc());
    Ok(diesel::update(
        jobs::table
            .filter(jobs::id.eq(id))
            .filter(jobs::state.eq_any(from)),
    )
    .set((
        jobs::state.eq(to.as_str()),
        jobs::next_attempt_at.eq(at.naive_utc()),
        jobs::last_result.eq(Some(note)),
        jobs::finished_at.eq(finished_at),
        jobs::updated_at.eq(now.naive_utc()),
    ))
    .execute(conn)?
        > 0)
}

/// Jobs of these kinds still to run (queued or running).
pub fn pending(conn: &mut DbConnection, kinds: &[&'static str]) -> Result<i64> {
    Ok(jobs::table
        .filter(jobs::kind.eq_any(kinds.to_vec()))
        .filter(jobs::state.eq_any([JobState::Queued.as_str(), JobState::Running.as_str()]))
        .count()
        .get_result(conn)?)
}

/// When the next queued job of these kinds is due.
pub fn next_due(conn: &mut DbConnection, kinds: &[&'static str]) -> Result<Option<DateTime<Utc>>> {
    Ok(jobs::table
        .filter(jobs::kind.eq_any(kinds.to_vec()))
        .filter(jobs::state.eq(JobState::Queued.as_str()))
        .select(diesel::dsl::min(jobs::next_attempt_at))
        .first::<Option<NaiveDateTime>>(conn)?
        .map(utc))
}
