//! The job runner: claims due jobs of the kinds it has handlers for, runs up
//! to `jobs.concurrency` at once, and records each attempt. Results are
//! written by one writer task in group commits. Any number of runners can
//! share a PostgreSQL database (`FOR UPDATE SKIP LOCKED`); on SQLite one
//! runs at a time. Heartbeat, dead-worker rules and the stop flag are the
//! dispatcher's (`liveness`); backoff is the dispatcher's too.
//!
//! Tests drive it one step at a time with `run_once` and a manual clock.

use super::liveness::{self, Identity, Stop};
use super::{Attempt, Exchange, Handler, Job, Outcome, Planner};
use crate::clock::SharedClock;
use crate::config::JobSettings;
use crate::db::jobs::{self as db, Finish, Row};
use crate::db::{Backend, Db, DbConnection};
use crate::domain::job::{AttemptOutcome, JobState};
use crate::error::{Error, Result};
use chrono::{DateTime, TimeDelta, Utc};
use diesel::connection::SimpleConnection;
use futures_util::FutureExt;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// What one `run_once` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Step {
    /// Attempts made.
    pub attempted: usize,
    /// Jobs done.
    pub done: usize,
    /// Jobs of dead workers put back as outcome unknown.
    pub recovered: usize,
    /// Jobs the planners created at the start of the step.
    pub planned: usize,
}

pub struct Runner {
    me: Identity,
    db: Db,
    clock: SharedClock,
    handlers: HashMap<&'static str, Arc<dyn Handler>>,
    kinds: Vec<&'static str>,
    settings: JobSettings,
    stop: Stop,
    planners: Vec<Arc<dyn Planner>>,
    /// On SQLite, the runner's own write transactions (claims, results)
    /// take turns here: waiting in SQLite's busy handler (sleeps of up to
    /// 100 ms) left the slots idle and could starve a claim past the busy
    /// timeout. PostgreSQL needs no turns.
    turns: Option<tokio::sync::Mutex<()>>,
}

/// A finished attempt on its way to the writer.
struct Completed {
    row: Row,
    job: Job,
    attempt: Attempt,
    started_at: DateTime<Utc>,
}

impl Runner {
    pub fn new(
        db: Db,
        clock: SharedClock,
        settings: JobSettings,
        handlers: Vec<Arc<dyn Handler>>,
    ) -> Result<Arc<Runner>> {
        Runner::with_planners(db, clock, settings, handlers, Vec::new())
    }

    /// A runner that also runs `planners` at the start of each step.
    pub fn with_planners(
        db: Db,
        clock: SharedClock,
        settings: JobSettings,
        handlers: Vec<Arc<dyn Handler>>,
        planners: Vec<Arc<dyn Planner>>,
    ) -> Result<Arc<Runner>> {
        let mut map = HashMap::new();
        for handler in handlers {
            super::check_kind(handler.kind())?;
            map.insert(handler.kind(), handler);
        }
        let mut kinds: Vec<&'static str> = map.keys().copied().collect();
        kinds.sort();
        let turns = (db.backend() == Backend::Sqlite).then(|| tokio::sync::Mutex::new(()));
        Ok(Arc::new(Runner {
            turns,
            me: Identity::new(),
            db,
            clock,
            handlers: map,
            kinds,
            settings,
            stop: Stop::default(),
            planners,
        }))
    }

    pub fn id(&self) -> &str {
        &self.me.id
    }

    pub fn kinds(&self) -> &[&'static str] {
        &self.kinds
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// A write transaction of this runner, taking its turn on SQLite.
    async fn write_txn<T, F>(&self, work: F) -> Result<T>
    where
        F: FnOnce(&mut DbConnection) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let _turn = self.turn().await;
        self.db.transaction(work).await
    }

    /// This runner's turn to write, on SQLite (see `turns`); none needed on
    /// PostgreSQL.
    async fn turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match &self.turns {
            Some(turns) => Some(turns.lock().await),
            None => None,
        }
    }

    fn stale_after(&self) -> TimeDelta {
        liveness::stale_after(self.settings.heartbeat_secs)
    }

    fn lease_until(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now + self.stale_after()
    }

    /// Registers this runner. On SQLite only one may run: wait until any
    /// other is gone (its jobs are then recovered).
    pub async fn register(&self) -> Result<()> {
        loop {
            let now = self.now();
            let others = self.db.run(db::workers).await?;
            let live = others
                .iter()
                .filter(|w| w.id != self.me.id)
                .filter(|w| !self.is_dead(w, now))
                .count();
            if self.db.backend() == Backend::Postgres || live == 0 {
                break;
            }
            if self.stop.is_stopping() {
                return Err(Error::Conflict("stopped before starting".into()));
            }
            tracing::warn!(
                "another job runner is using this SQLite database; waiting for it to stop"
            );
            tokio::time::sleep(Duration::from_secs(self.settings.heartbeat_secs.max(1))).await;
        }
        self.heartbeat().await
    }

    fn is_dead(&self, w: &db::WorkerRow, now: DateTime<Utc>) -> bool {
        self.me.is_dead(
            &w.id,
            &w.host,
            w.pid,
            w.heartbeat_at,
            now,
            self.stale_after(),
        )
    }

    pub async fn heartbeat(&self) -> Result<()> {
        let me = self.me.clone();
        let now = self.now();
        let lease = self.lease_until(now);
        self.write_txn(move |c| db::heartbeat(c, &me.id, &me.host, me.pid, lease, now))
            .await
    }

    /// Puts the jobs of dead workers back in the queue as outcome unknown.
    pub async fn recover_dead(&self) -> Result<usize> {
        let now = self.now();
        let workers = self.db.run(db::workers).await?;
        let dead: Vec<String> = workers
            .iter()
            .filter(|w| self.is_dead(w, now))
            .map(|w| w.id.clone())
            .collect();
        let recovered = self
            .db
            .transaction(move |c| db::recover(c, &dead, now))
            .await?;
        if recovered > 0 {
            tracing::warn!(
                recovered,
                "jobs of stopped workers put back as outcome unknown"
            );
        }
        Ok(recovered)
    }

    /// Runs every job due now, claiming until none is left (or stopping).
    pub async fn run_once(self: &Arc<Self>) -> Result<Step> {
        let mut step = Step::default();
        self.heartbeat().await?;
        step.recovered = self.recover_dead().await?;
        step.planned = self.plan().await;
        self.process(&mut step).await?;
        Ok(step)
    }

    /// Runs each planner in its own transaction; a failing planner is
    /// logged and does not stop the step (its jobs are planned next time).
    async fn plan(&self) -> usize {
        let mut planned = 0;
        for planner in &self.planners {
            let (planner, now) = (planner.clone(), self.now());
            let name = planner.name();
            match self.db.transaction(move |c| planner.plan(c, now)).await {
                Ok(n) => planned += n,
                Err(e) => tracing::error!(planner = name, error = %e, "planning jobs failed"),
            }
        }
        planned
    }

    /// Claims up to `limit` due jobs in one statement, then lets each
    /// handler prepare for its own (one read for the group, not one per job)
    /// on the same connection, after the claim has committed: one trip to
    /// the pool and its thread for both, so a claim returns sooner.
    async fn claim(self: Arc<Self>, limit: usize) -> Result<Vec<(Row, Job)>> {
        let (me, kinds, now) = (self.me.id.clone(), self.kinds.clone(), self.now());
        let lease = self.lease_until(now);
        let _turn = self.turn().await;
        let this = self.clone();
        self.db
            .run(move |c| {
                let rows = crate::db::write_transaction(c, |c| {
                    db::claim(c, &me, &kinds, limit as i64, lease, now)
                })?;
                let claimed: Vec<(Row, Job)> = rows
                    .into_iter()
                    .map(|row| {
                        let job = job_of(&row, now);
                        (row, job)
                    })
                    .collect();
                this.prepare(c, &claimed, now);
                Ok(claimed)
            })
            .await
    }

    /// The handlers' `prepare` for the jobs just claimed, grouped by kind; a
    /// failure is logged (each attempt then reads what it needs itself).
    fn prepare(&self, conn: &mut DbConnection, claimed: &[(Row, Job)], now: DateTime<Utc>) {
        let mut groups: HashMap<&'static str, Vec<Job>> = HashMap::new();
        for (_, job) in claimed {
            if let Some((kind, _)) = self.handlers.get_key_value(job.kind.as_str()) {
                groups.entry(kind).or_default().push(job.clone());
            }
        }
        for (kind, jobs) in &groups {
            if let Some(handler) = self.handlers.get(kind)
                && let Err(e) = handler.prepare(conn, jobs, now)
            {
                tracing::error!(kind, error = %e, "preparing claimed jobs failed");
            }
        }
    }

    /// Puts claimed jobs that never started back in the queue (stopping).
    async fn release(&self, waiting: Vec<(Row, Job)>) {
        let ids: Vec<i64> = waiting.iter().map(|(row, _)| row.id).collect();
        let (me, now) = (self.me.id.clone(), self.now());
        match self
            .write_txn(move |c| db::release(c, &me, &ids, now))
            .await
        {
            Ok(n) => tracing::info!(released = n, "claimed jobs not started put back"),
            // Left running under this worker: recovered after it stops.
            Err(e) => tracing::error!(error = %e, "putting back claimed jobs failed"),
        }
    }

    async fn process(self: &Arc<Self>, step: &mut Step) -> Result<()> {
        let concurrency = self.settings.concurrency.max(1) as usize;
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let writer = tokio::spawn(self.clone().writer(rx));
        let mut tasks = tokio::task::JoinSet::new();
        // Claimed, not yet started, in due order; a claim is under way
        // while attempts run, so the slots never wait for the database.
        let mut waiting: VecDeque<(Row, Job)> = VecDeque::new();
        let mut claims = tokio::task::JoinSet::new();
        let mut asked = 0;
        let mut exhausted = false;
        let mut failure = None;
        loop {
            if self.stop.is_stopping() && !waiting.is_empty() {
                self.release(waiting.drain(..).collect()).await;
            }
            while tasks.len() < concurrency
                && let Some((row, job)) = waiting.pop_front()
            {
                step.attempted += 1;
                tasks.spawn(self.clone().attempt(row, job, tx.clone()));
            }
            // Claim when fewer than two slots' worth of jobs wait, up to
            // four slots' worth in all: groups of at least `concurrency`,
            // claimed while a slots' worth still waits, so a slow claim
            // does not leave the slots idle.
            if claims.is_empty()
                && !exhausted
                && !self.stop.is_stopping()
                && waiting.len() < 2 * concurrency
            {
                asked = (4 * concurrency)
                    .saturating_sub(tasks.len() + waiting.len())
                    .min(MAX_CLAIM);
                if asked > 0 {
                    claims.spawn(self.clone().claim(asked));
                }
            }
            if tasks.is_empty() && claims.is_empty() {
                if waiting.is_empty() {
                    break;
                }
                continue;
            }
            tokio::select! {
                Some(claimed) = claims.join_next(), if !claims.is_empty() => {
                    match claimed {
                        Ok(Ok(rows)) => {
                            exhausted = rows.len() < asked;
                            waiting.extend(rows);
                        }
                        Ok(Err(e)) => {
                            exhausted = true;
                            failure = Some(e);
                        }
                        Err(e) => {
                            exhausted = true;
                            failure = Some(Error::Internal(anyhow::anyhow!("job claim failed: {e}")));
                        }
                    }
                }
                Some(joined) = tasks.join_next(), if !tasks.is_empty() => {
                    if let Err(e) = joined {
                        tracing::error!(error = %e, "job task failed");
                    }
                }
            }
        }
        drop(tx);
        step.done += writer
            .await
            .map_err(|e| Error::Internal(anyhow::anyhow!("job writer failed: {e}")))?;
        failure.map_or(Ok(()), Err)
    }

    /// One attempt of one claimed job; the result goes to the writer.
    async fn attempt(
        self: Arc<Self>,
        row: Row,
        job: Job,
        done: tokio::sync::mpsc::UnboundedSender<Completed>,
    ) {
        let started_at = self.now();
        let attempt = match self.handlers.get(row.kind.as_str()) {
            None => Attempt::new(
                Outcome::failed(format!("no handler for {}", row.kind)),
                Exchange::default(),
            ),
            Some(handler) => {
                match std::panic::AssertUnwindSafe(handler.run(&job))
                    .catch_unwind()
                    .await
                {
                    Ok(attempt) => attempt,
                    Err(_) => Attempt::new(
                        Outcome::Unknown {
                            how_to_check: "the handler failed unexpectedly during the attempt; \
                                           check the remote end, then retry or cancel the job"
                                .into(),
                            check_at: None,
                        },
                        Exchange::default(),
                    ),
                }
            }
        };
        let _ = done.send(Completed {
            row,
            job,
            attempt,
            started_at,
        });
    }

    /// Group commit: writes every result waiting in one transaction (with
    /// the handlers' `finished` hooks); returns how many jobs got done.
    async fn writer(
        self: Arc<Self>,
        mut results: tokio::sync::mpsc::UnboundedReceiver<Completed>,
    ) -> usize {
        let mut done = 0;
        while let Some(first) = results.recv().await {
            let mut batch = vec![first];
            while batch.len() < 256 {
                match results.try_recv() {
                    Ok(more) => batch.push(more),
                    Err(_) => break,
                }
            }
            let batch = Arc::new(batch);
            for round in 0.. {
                let (this, batch2) = (self.clone(), batch.clone());
                let now = self.now();
                let written = self.write_txn(move |c| this.write(c, &batch2, now)).await;
                match written {
                    Ok(n) => {
                        done += n;
                        break;
                    }
                    Err(e) if round < 5 => {
                        tracing::error!(error = %e, "recording job results failed; trying again");
                        tokio::time::sleep(Duration::from_millis(500 << round)).await;
                    }
                    Err(e) => {
                        // Left running under this worker: recovered as
                        // outcome unknown after it stops.
                        tracing::error!(error = %e, "recording job results failed; giving up");
                        break;
                    }
                }
            }
        }
        done
    }

    /// Records a batch: all its results together (one UPDATE, one INSERT,
    /// then the hooks), in a savepoint; if a hook fails, that is undone and
    /// the batch recorded one by one, each result in its own savepoint, so
    /// one failing hook costs only its own job a note.
    fn write(
        &self,
        conn: &mut DbConnection,
        batch: &[Completed],
        now: DateTime<Utc>,
    ) -> Result<usize> {
        let finishes: Vec<Finish> = batch
            .iter()
            .map(|completed| {
                let rules = self
                    .handlers
                    .get(completed.row.kind.as_str())
                    .map(|h| h.retry())
                    .unwrap_or_default();
                decide(completed, rules, now)
            })
            .collect();
        conn.batch_execute("SAVEPOINT job_results")?;
        match self.write_together(conn, batch, &finishes, now) {
            Ok(done) => {
                conn.batch_execute("RELEASE SAVEPOINT job_results")?;
                Ok(done)
            }
            Err(e) => {
                conn.batch_execute("ROLLBACK TO SAVEPOINT job_results")?;
                conn.batch_execute("RELEASE SAVEPOINT job_results")?;
                tracing::warn!(error = %e, "recording job results together failed; one by one");
                self.write_one_by_one(conn, batch, &finishes, now)
            }
        }
    }

    fn write_together(
        &self,
        conn: &mut DbConnection,
        batch: &[Completed],
        finishes: &[Finish],
        now: DateTime<Utc>,
    ) -> Result<usize> {
        let written = db::finish_many(conn, &self.me.id, finishes, now)?;
        let mut done = 0;
        for (completed, finish) in batch.iter().zip(finishes) {
            if written.binary_search(&finish.job_id).is_err() {
                continue;
            }
            if finish.state.is_final()
                && let Some(handler) = self.handlers.get(completed.row.kind.as_str())
            {
                handler.finished(conn, &completed.job, &completed.attempt.outcome, now)?;
            }
            if finish.state == JobState::Done {
                done += 1;
            }
        }
        Ok(done)
    }

    fn write_one_by_one(
        &self,
        conn: &mut DbConnection,
        batch: &[Completed],
        finishes: &[Finish],
        now: DateTime<Utc>,
    ) -> Result<usize> {
        let mut done = 0;
        for (completed, finish) in batch.iter().zip(finishes) {
            let handler = self.handlers.get(completed.row.kind.as_str());
            conn.batch_execute("SAVEPOINT job_result")?;
            let hooked = (|| -> Result<bool> {
                let written = db::finish(conn, &self.me.id, finish, now)?;
                if written
                    && finish.state.is_final()
                    && let Some(handler) = handler
                {
                    handler.finished(conn, &completed.job, &completed.attempt.outcome, now)?;
                }
                Ok(written)
            })();
            let written = match hooked {
                Ok(written) => {
                    conn.batch_execute("RELEASE SAVEPOINT job_result")?;
                    written
                }
                Err(e) => {
                    conn.batch_execute("ROLLBACK TO SAVEPOINT job_result")?;
                    conn.batch_execute("RELEASE SAVEPOINT job_result")?;
                    tracing::error!(job = completed.row.id, error = %e, "recording what followed a job failed");
                    let mut plain = finish.clone();
                    plain.result = format!("{} (recording what follows failed: {e})", plain.result);
                    db::finish(conn, &self.me.id, &plain, now)?
                }
            };
            if written && finish.state == JobState::Done {
                done += 1;
            }
        }
        Ok(done)
    }

    /// Asks the runner to stop: no new claims; attempts under way finish.
    pub fn stop(&self) {
        self.stop.stop();
    }

    pub async fn shut_down(&self) -> Result<()> {
        let me = self.me.id.clone();
        self.db.transaction(move |c| db::deregister(c, &me)).await?;
        tracing::info!("job runner stopped");
        Ok(())
    }

    /// Runs until `shutdown` turns true, or, with `exit_when_idle`, until no
    /// job of its kinds is queued or running.
    pub async fn run(
        self: Arc<Self>,
        shutdown: watch::Receiver<bool>,
        exit_when_idle: bool,
    ) -> Result<()> {
        self.register().await?;
        tracing::info!(id = %self.me.id, kinds = ?self.kinds, "job runner started");
        let beat = {
            let this = self.clone();
            liveness::spawn_heartbeat(self.settings.heartbeat_secs, "job runner", move || {
                let this = this.clone();
                async move { this.heartbeat().await }
            })
        };
        let poll = Duration::from_millis(self.settings.poll_interval_ms.max(10));
        let mut shutdown = shutdown;
        loop {
            if *shutdown.borrow() {
                self.stop();
                break;
            }
            let stopper = {
                let this = self.clone();
                liveness::on_shutdown(shutdown.clone(), move || this.stop())
            };
            let result = self.run_once().await;
            stopper.abort();
            let worked = match result {
                Ok(step) => step.attempted > 0,
                Err(e) => {
                    tracing::error!(error = %e, "job runner step failed");
                    false
                }
            };
            if self.stop.is_stopping() {
                break;
            }
            if exit_when_idle && !worked {
                let kinds = self.kinds.clone();
                if self.db.run(move |c| db::pending(c, &kinds)).await? == 0 {
                    break;
                }
            }
            if !worked {
                tokio::select! {
                    () = tokio::time::sleep(poll) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
        beat.abort();
        self.shut_down().await
    }
}

/// The most jobs one claim takes.
const MAX_CLAIM: usize = 512;

/// A claimed row as its handler sees it.
fn job_of(row: &Row, now: DateTime<Utc>) -> Job {
    Job {
        id: row.id,
        kind: row.kind.clone(),
        key: row.idempotency_key.clone(),
        payload: serde_json::from_str(&row.payload).unwrap_or(serde_json::Value::Null),
        attempt: row.attempts,
        unknown_outcomes: row.unknown_outcomes,
        first_attempt_at: row.first_attempt_at.map(crate::db::utc).unwrap_or(now),
        last_result: row.last_result.clone(),
    }
}

/// The job's next state from an attempt's outcome and its kind's rules.
fn decide(c: &Completed, rules: super::RetryRules, now: DateTime<Utc>) -> Finish {
    let ex = &c.attempt.exchange;
    let mut f = Finish {
        job_id: c.row.id,
        attempt: c.row.attempts,
        state: JobState::Done,
        outcome: AttemptOutcome::Done,
        next_attempt_at: None,
        unknown: false,
        result: String::new(),
        remote_id: c.row.remote_id.clone(),
        remote_url: c.row.remote_url.clone(),
        started_at: c.started_at,
        request: ex.request.clone(),
        status: ex.status.map(i32::from),
        reply: ex.reply.as_ref().map(|r| r.chars().take(4000).collect()),
    };
    match &c.attempt.outcome {
        Outcome::Done {
            remote_id,
            remote_url,
        } => {
            f.result = match remote_url.as_deref().or(remote_id.as_deref()) {
                Some(at) => format!("done: {at}"),
                None => "done".into(),
            };
            f.remote_id = remote_id.clone().or(f.remote_id);
            f.remote_url = remote_url.clone().or(f.remote_url);
        }
        Outcome::RetryAt { at, reason } => {
            f.outcome = AttemptOutcome::Retry;
            if c.row.attempts >= rules.max_attempts {
                f.state = JobState::Failed;
                f.result = format!("gave up after {} attempts: {reason}", c.row.attempts);
            } else {
                let at = at.unwrap_or_else(|| now + rules.schedule.delay(c.row.attempts));
                f.state = JobState::Queued;
                f.next_attempt_at = Some(at.max(now));
                f.result = format!("retry at {}: {reason}", at.format("%Y-%m-%dT%H:%M:%SZ"));
            }
        }
        Outcome::Failed { reason } => {
            f.state = JobState::Failed;
            f.outcome = AttemptOutcome::Failed;
            f.result = format!("failed: {reason}");
        }
        Outcome::Unknown {
            how_to_check,
            check_at,
        } => {
            f.outcome = AttemptOutcome::Unknown;
            f.unknown = true;
            match check_at {
                Some(at) if c.row.unknown_outcomes + 1 < rules.max_unknown => {
                    f.state = JobState::Queued;
                    f.next_attempt_at = Some((*at).max(now));
                    f.result = format!("outcome unknown, checked again: {how_to_check}");
                }
                _ => {
                    f.state = JobState::Unknown;
                    f.result = format!("outcome unknown: {how_to_check}");
                }
            }
        }
    }
    f
}
