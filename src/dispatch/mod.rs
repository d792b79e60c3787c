//! The dispatcher: claims due deliveries in batches, sends them through the
//! configured transport at the configured pace, and records each outcome.
//!
//! `concurrency` workers each send one message at a time. Before a message
//! goes, its row is marked `sending` in a committed write; its outcome is
//! recorded in a later write of the worker, made while the next messages
//! are on the wire. A writer task groups the workers' requests into shared
//! commits (one on SQLite; on PostgreSQL several, whose commits overlap). A
//! worker has at most `1 + email.mark_ahead` rows `sending` (the message on
//! the wire and those marked ahead, 7 by default), so a crash can leave at most that many times
//! `concurrency` rows whose fate is unknown, and those rows say so;
//! everything else is either recorded or still queued. Any number of
//! dispatchers can share a PostgreSQL database; on SQLite one runs at a time.
//!
//! Tests drive it one step at a time with `run_once` and a manual clock.

pub mod content;

use crate::clock::SharedClock;
use crate::config::{EmailSettings, OutcomeUnknownPolicy, TransportKind};
use crate::db::deliveries::{self, Claimed, Outcome, Recovered};
use crate::db::{self, Backend, Db, issues, subscribers};
use crate::domain::newsletter::{BounceInput, BounceKind, DeliveryState, IssueState};
use crate::domain::{EmailAddress, Text};
use crate::email::classify::{Verdict, classify};
use crate::email::dkim::{DkimSigner, SigningTransport};
use crate::email::links::LinkSigner;
use crate::email::retry::{Next, RetryPolicy};
use crate::email::{FileOutbox, MailTransport, RateLimiter, RateLimits, SendError, SmtpTransport};
use crate::error::{Error, Result};
use crate::jobs::liveness::{self, Identity, Stop};
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

pub use content::message_domain;

/// `email.mark_ahead` when unset (see `Dispatcher::marked_per_worker`).
pub const DEFAULT_MARK_AHEAD: u32 = 7;

/// The transport the configuration asks for, DKIM-signing when
/// `[email.dkim]` names a selector.
pub fn transport_from_settings(email: &EmailSettings) -> anyhow::Result<Arc<dyn MailTransport>> {
    let transport: Arc<dyn MailTransport> = match email.transport {
        TransportKind::Outbox => Arc::new(FileOutbox::new(&email.outbox_dir)),
        TransportKind::Smtp => Arc::new(SmtpTransport::new(&email.smtp.transport_settings())?),
    };
    Ok(match dkim_signer(email)? {
        Some(signer) => Arc::new(SigningTransport::new(transport, signer)),
        None => transport,
    })
}

/// The DKIM signer `[email.dkim]` describes, if any.
pub fn dkim_signer(email: &EmailSettings) -> anyhow::Result<Option<DkimSigner>> {
    let dkim = &email.dkim;
    if dkim.selector.trim().is_empty() {
        return Ok(None);
    }
    let domain = match dkim.domain.trim() {
        "" => email
            .from_address
            .rsplit_once('@')
            .map(|(_, d)| d.to_owned())
            .unwrap_or_default(),
        domain => domain.to_owned(),
    };
    let key = match (
        dkim.private_key_file.trim(),
        dkim.private_key.expose().trim(),
    ) {
        ("", "") => anyhow::bail!("email.dkim: set private_key_file or private_key"),
        (file, "") => std::fs::read_to_string(file)
            .map_err(|e| anyhow::anyhow!("email.dkim.private_key_file {file}: {e}"))?,
        ("", key) => key.to_owned(),
        _ => anyhow::bail!("email.dkim: set private_key_file or private_key, not both"),
    };
    Ok(Some(DkimSigner::new(
        &domain,
        &dkim.selector,
        dkim.algorithm,
        &key,
    )?))
}

/// What one `run_once` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Step {
    /// Messages handed to the transport.
    pub attempted: usize,
    pub sent: usize,
    pub recovered: Recovered,
    /// Scheduled issues that started sending.
    pub started_issues: Vec<i64>,
    pub finished_issues: Vec<i64>,
}

pub struct Dispatcher {
    me: Identity,
    db: Db,
    clock: SharedClock,
    transport: Arc<dyn MailTransport>,
    limiter: RateLimiter,
    retry: RetryPolicy,
    email: EmailSettings,
    public_url: String,
    concurrency: AtomicU32,
    signer: tokio::sync::OnceCell<LinkSigner>,
    content: Mutex<content::Cache>,
    /// After connection-level failures: no sending before this instant.
    blocked: Mutex<Option<(DateTime<Utc>, u32)>>,
    stopping: Stop,
}

impl Dispatcher {
    pub fn new(
        db: Db,
        clock: SharedClock,
        transport: Arc<dyn MailTransport>,
        email: EmailSettings,
        public_url: &str,
    ) -> Arc<Dispatcher> {
        let limits = RateLimits::new(Some(email.rate_per_second), Some(email.rate_per_hour));
        Arc::new(Dispatcher {
            me: Identity::new(),
            limiter: RateLimiter::new(limits, clock.clone()),
            concurrency: AtomicU32::new(email.concurrency.max(1)),
            retry: RetryPolicy::from_settings(&email),
            db,
            clock,
            transport,
            email,
            public_url: public_url.trim_end_matches('/').to_owned(),
            signer: tokio::sync::OnceCell::new(),
            content: Mutex::new(content::Cache::default()),
            blocked: Mutex::new(None),
            stopping: Stop::default(),
        })
    }

    pub fn id(&self) -> &str {
        &self.me.id
    }

    pub fn limiter(&self) -> &RateLimiter {
        &self.limiter
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    fn stale_after(&self) -> TimeDelta {
        liveness::stale_after(self.email.heartbeat_secs)
    }

    async fn signer(&self) -> Result<&LinkSigner> {
        self.signer
            .get_or_try_init(|| {
                let now = self.now();
                self.db
                    .transaction(move |c| subscribers::link_signer(c, now))
            })
            .await
    }

    /// Dispatchers other than this one that are dead: silent for three
    /// heartbeats, or a process on this host that no longer exists.
    fn dead_among(&self, rows: &[deliveries::DispatcherRow], now: DateTime<Utc>) -> Vec<String> {
        rows.iter()
            .filter(|d| {
                self.me.is_dead(
                    &d.id,
                    &d.host,
                    d.pid,
                    d.heartbeat_at,
                    now,
                    self.stale_after(),
                )
            })
            .map(|d| d.id.clone())
            .collect()
    }

    /// Registers this dispatcher. On SQLite only one may run: wait until any
    /// other is gone (its deliveries are then recovered).
    pub async fn register(&self) -> Result<()> {
        loop {
            let now = self.now();
            let others = self.db.run(deliveries::dispatchers).await?;
            let dead = self.dead_among(&others, now);
            let live = others
                .iter()
                .filter(|d| d.id != self.me.id && !dead.contains(&d.id))
                .count();
            if self.db.backend() == Backend::Postgres || live == 0 {
                break;
            }
            if self.stopping.is_stopping() {
                return Err(Error::Conflict("stopped before starting".into()));
            }
            tracing::warn!(
                "another dispatcher is running on this SQLite database; waiting for it to stop"
            );
            tokio::time::sleep(Duration::from_secs(self.email.heartbeat_secs.max(1))).await;
        }
        self.heartbeat().await
    }

    async fn heartbeat(&self) -> Result<()> {
        let (me, now) = (self.me.clone(), self.now());
        self.db
            .transaction(move |c| deliveries::heartbeat(c, &me.id, &me.host, me.pid, now))
            .await
    }

    /// Heartbeat, recovery of dead dispatchers' deliveries, limits changed at
    /// run time, and scheduled issues whose time has come.
    async fn housekeeping(&self, step: &mut Step) -> Result<()> {
        self.heartbeat().await?;
        step.recovered = self.recover_dead().await?;
        let now = self.now();
        self.apply_limits().await?;
        for id in self.db.run(move |c| issues::due(c, now)).await? {
            let domain = message_domain(&self.email);
            match self
                .db
                .transaction(move |c| {
                    let cx = crate::app::Context::new(crate::app::Actor::System, now);
                    crate::app::sending::send_issue_now(c, &cx, id, &domain)
                })
                .await
            {
                Ok((_, queued)) => {
                    tracing::info!(issue = id, queued, "scheduled issue started sending");
                    step.started_issues.push(id);
                }
                Err(
                    e @ (Error::Conflict(_)
                    | Error::InvalidTransition { .. }
                    | Error::Blocked { .. }),
                ) => {
                    let reason = e.to_string();
                    // Another dispatcher started it, or there is nobody to
                    // send it to: then it failed, and says why.
                    let failed = self
                        .db
                        .transaction(move |c| issues::fail_scheduled(c, id, now))
                        .await?;
                    if failed {
                        tracing::error!(issue = id, %reason, "scheduled issue could not start");
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Recovers the deliveries of dispatchers that died.
    async fn recover_dead(&self) -> Result<Recovered> {
        let now = self.now();
        let others = self.db.run(deliveries::dispatchers).await?;
        let dead = self.dead_among(&others, now);
        let (policy, max_unknown) = (self.email.outcome_unknown, self.email.max_unknown);
        let recovered = self
            .db
            .transaction(move |c| deliveries::recover(c, &dead, policy, max_unknown, now))
            .await?;
        if recovered.outcome_unknown + recovered.released > 0 {
            tracing::warn!(
                dead = ?recovered.dead_dispatchers,
                outcome_unknown = recovered.outcome_unknown,
                released = recovered.released,
                "recovered deliveries of stopped dispatchers"
            );
        }
        Ok(recovered)
    }

    async fn apply_limits(&self) -> Result<()> {
        let overrides = self.db.run(subscribers::runtime_limits).await?;
        let limits = RateLimits::new(
            Some(
                overrides
                    .rate_per_second
                    .unwrap_or(self.email.rate_per_second),
            ),
            Some(overrides.rate_per_hour.unwrap_or(self.email.rate_per_hour)),
        );
        if limits != self.limiter.limits() {
            tracing::info!(?limits, "sending rate limits changed");
            self.limiter.set_limits(limits);
        }
        let concurrency = overrides
            .concurrency
            .unwrap_or(self.email.concurrency)
            .max(1);
        self.concurrency.store(concurrency, Ordering::Relaxed);
        Ok(())
    }

    fn blocked_until(&self) -> Option<DateTime<Utc>> {
        let blocked = self.blocked.lock().expect("blocked lock");
        blocked.map(|(until, _)| until)
    }

    /// Sends everything due now: claims batches until none is left (or the
    /// relay is unreachable, or the dispatcher is stopping).
    pub async fn run_once(self: &Arc<Self>) -> Result<Step> {
        let mut step = Step::default();
        self.housekeeping(&mut step).await?;
        self.process(&mut step).await?;
        let now = self.now();
        let finished = self
            .db
            .transaction(move |c| {
                crate::app::sending::finish_completed(
                    c,
                    &crate::app::Context::new(crate::app::Actor::System, now),
                )
            })
            .await?;
        for issue in &finished {
            tracing::info!(issue = issue.id, state = %issue.state, "issue finished");
        }
        step.finished_issues = finished.into_iter().map(|i| i.id).collect();
        Ok(step)
    }

    /// Sends with `concurrency` workers (see `worker`) until nothing is
    /// left to claim. Each holds at most `marked_per_worker` rows `sending`
    /// (the one on the wire and those marked ahead). Claimed rows not sent
    /// when it halts are given back.
    async fn process(self: &Arc<Self>, step: &mut Step) -> Result<()> {
        let workers = self.concurrency.load(Ordering::Relaxed).max(1);
        let run = Arc::new(Run {
            queue: Mutex::new(VecDeque::new()),
            claiming: tokio::sync::Mutex::new(()),
            checked: Mutex::new(self.now()),
            drained: AtomicBool::new(false),
            workers,
        });
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        let writers: Vec<_> = (0..self.writers())
            .map(|_| tokio::spawn(self.clone().writer(rx.clone())))
            .collect();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..workers {
            tasks.spawn(self.clone().worker(run.clone(), tx.clone()));
        }
        drop(tx);
        let mut failure = None;
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Ok((attempted, sent))) => {
                    step.attempted += attempted;
                    step.sent += sent;
                }
                Ok(Err(e)) => {
                    // No more claims; the others finish what is queued.
                    self.stop_claiming(&run);
                    failure = Some(e);
                }
                Err(e) => failure = Some(Error::Internal(anyhow::anyhow!("worker failed: {e}"))),
            }
        }
        for writer in writers {
            writer
                .await
                .map_err(|e| Error::Internal(anyhow::anyhow!("writer failed: {e}")))?;
        }
        let rest: Vec<i64> = run
            .queue
            .lock()
            .expect("queue lock")
            .drain(..)
            .map(|d| d.id)
            .collect();
        if !rest.is_empty() {
            let me = self.me.id.clone();
            self.db
                .transaction(move |c| deliveries::release(c, &me, &rest))
                .await?;
        }
        failure.map_or(Ok(()), Err)
    }

    fn stop_claiming(&self, run: &Run) {
        run.drained.store(true, Ordering::Relaxed);
    }

    fn halted(&self) -> bool {
        self.stopping.is_stopping() || self.blocked_until().is_some_and(|until| until > self.now())
    }

    /// The next claimed delivery; claims more while the queue still holds
    /// half a batch, so sending never waits for a claim. `None` when
    /// nothing is left or sending must halt, or the concurrency was changed
    /// (`run_once` ends and the next one starts with the new figure).
    async fn next_delivery(&self, run: &Run) -> Result<Option<Claimed>> {
        let low_water = (self.email.batch_size.max(2) / 2) as usize;
        loop {
            self.check_in(run).await?;
            if self.halted()
                || self.concurrency.load(Ordering::Relaxed).max(1) != run.workers
                || run.drained.load(Ordering::Relaxed) && run.is_empty()
            {
                return Ok(None);
            }
            let (next, low) = {
                let mut queue = run.queue.lock().expect("queue lock");
                let next = queue.pop_front();
                (next, queue.len() < low_water)
            };
            if low && !run.drained.load(Ordering::Relaxed) {
                self.refill(run, low_water).await?;
            }
            if next.is_some() {
                return Ok(next);
            }
        }
    }

    /// Once a heartbeat, even in the middle of a long send: limits changed
    /// at run time, and the deliveries of dispatchers that died meanwhile.
    async fn check_in(&self, run: &Run) -> Result<()> {
        let now = self.now();
        {
            let mut checked = run.checked.lock().expect("check-in lock");
            if now - *checked < TimeDelta::seconds(self.email.heartbeat_secs.max(1) as i64) {
                return Ok(());
            }
            *checked = now;
        }
        self.apply_limits().await?;
        self.recover_dead().await?;
        Ok(())
    }

    /// Claims a batch into the queue, unless another worker just did.
    async fn refill(&self, run: &Run, low_water: usize) -> Result<()> {
        let _claiming = run.claiming.lock().await;
        if run.drained.load(Ordering::Relaxed) || run.len() >= low_water {
            return Ok(());
        }
        let (id, now, limit) = (self.me.id.clone(), self.now(), self.email.batch_size.max(1));
        let batch = self
            .db
            .transaction(move |c| deliveries::claim(c, &id, i64::from(limit), now))
            .await?;
        if batch.is_empty() {
            self.stop_claiming(run);
        } else {
            run.queue.lock().expect("queue lock").extend(batch);
        }
        Ok(())
    }

    /// Deliveries one worker may have `sending` at once: the one on the wire
    /// and `email.mark_ahead` more (7 unless set), marked ahead so the wire
    /// never waits for a commit: a PostgreSQL commit waits for the disk
    /// (several ms here). On SQLite, where a commit takes a fraction of a
    /// send, marking ahead lets one commit carry the outcomes and marks of
    /// several messages: fewer transactions, each writing its pages once,
    /// took a fifth to a third more messages a second than marking one ahead.
    fn marked_per_worker(&self) -> usize {
        self.email.mark_ahead.unwrap_or(DEFAULT_MARK_AHEAD) as usize + 1
    }

    /// One worker: two halves joined. The sender sends its marked
    /// deliveries one after the other on its connection; the preparer, at the
    /// same time, has the writer record the outcomes sent so far and mark
    /// more deliveries `sending` (claiming more if needed), so that at most
    /// `marked_per_worker` rows of this worker are `sending` at any moment. A
    /// delivery goes only after its mark committed, and the connection never
    /// waits for the database while marked ones are left.
    async fn worker(
        self: Arc<Self>,
        run: Arc<Run>,
        writer: tokio::sync::mpsc::UnboundedSender<WriteRequest>,
    ) -> Result<(usize, usize)> {
        let limit = self.marked_per_worker();
        let (to_send, mut marked) = tokio::sync::mpsc::unbounded_channel::<Claimed>();
        let (to_write, mut done) = tokio::sync::mpsc::unbounded_channel::<Done>();
        let failed = AtomicBool::new(false);
        let sender = async {
            let (mut attempted, mut sent) = (0, 0);
            while let Some(delivery) = marked.recv().await {
                if failed.load(Ordering::Relaxed) {
                    // The database failed: leave it `sending`, recovery decides.
                    continue;
                }
                if self.stopping.is_stopping() {
                    // Stopping: only the message on the wire finishes; the
                    // ones marked ahead go back to the queue, unsent.
                    let _ = to_write.send(Done::Unsent(delivery.id));
                    continue;
                }
                self.limiter.acquire().await;
                let (outcome, connection_problem) = self.send(&delivery).await;
                self.note_transport(connection_problem);
                attempted += 1;
                let delivered = matches!(outcome, Outcome::Sent { .. });
                if delivered {
                    sent += 1;
                }
                let _ = to_write.send(Done::Sent(Recorded {
                    id: delivery.id,
                    first_attempt_at: first_attempt(&delivery, self.now()),
                    bounce: bounce_of(&outcome, &delivery),
                    outcome,
                    delivered_to: delivered.then_some(delivery.subscriber_id).flatten(),
                }));
            }
            drop(to_write);
            (attempted, sent)
        };
        let preparer = async {
            let result = self.prepare(&run, &writer, limit, to_send, &mut done).await;
            if result.is_err() {
                failed.store(true, Ordering::Relaxed);
            }
            result
        };
        let (prepared, counts) = tokio::join!(preparer, sender);
        prepared.map(|()| counts)
    }

    /// The preparer half of a worker (see `worker`): ends when nothing is left
    /// to claim and every outcome is written.
    async fn prepare(
        &self,
        run: &Run,
        writer: &tokio::sync::mpsc::UnboundedSender<WriteRequest>,
        limit: usize,
        to_send: tokio::sync::mpsc::UnboundedSender<Claimed>,
        done: &mut tokio::sync::mpsc::UnboundedReceiver<Done>,
    ) -> Result<()> {
        let mut to_send = Some(to_send);
        // Marked by this worker, outcome not yet committed.
        let mut outstanding = 0usize;
        loop {
            let mut finished = Vec::new();
            while let Ok(d) = done.try_recv() {
                finished.push(d);
            }
            if finished.is_empty() && (to_send.is_none() || outstanding >= limit) {
                if outstanding == 0 && to_send.is_none() {
                    return Ok(());
                }
                // Wait for the sender; `None`: it has ended.
                match done.recv().await {
                    Some(d) => finished.push(d),
                    None => return Ok(()),
                }
                while let Ok(d) = done.try_recv() {
                    finished.push(d);
                }
            }
            // The finished ones stop being `sending` in the same commit that
            // marks the next ones.
            let wanted = match to_send {
                Some(_) => limit.saturating_sub(outstanding - finished.len()),
                None => 0,
            };
            let mut next = Vec::with_capacity(wanted);
            let mut exhausted = false;
            while next.len() < wanted {
                match self.next_delivery(run).await? {
                    Some(delivery) => next.push(delivery),
                    None => {
                        exhausted = true;
                        break;
                    }
                }
            }
            if finished.is_empty() && next.is_empty() {
                if exhausted {
                    // Nothing more: the sender finishes what it has.
                    to_send = None;
                }
                continue;
            }
            let (mut records, mut unsent) = (Vec::new(), Vec::new());
            for d in finished {
                match d {
                    Done::Sent(recorded) => records.push(recorded),
                    Done::Unsent(id) => unsent.push(id),
                }
            }
            let written = records.len() + unsent.len();
            let (reply, answer) = tokio::sync::oneshot::channel();
            let stopped = || Error::Internal(anyhow::anyhow!("delivery writer stopped"));
            writer
                .send(WriteRequest {
                    records,
                    unsent,
                    marks: next.iter().map(|d| d.id).collect(),
                    reply,
                })
                .map_err(|_| stopped())?;
            let took = answer.await.map_err(|_| stopped())??;
            outstanding = outstanding - written + took.len();
            // Those not marked were paused or cancelled since they were claimed.
            if let Some(sender) = &to_send {
                for delivery in next.into_iter().filter(|d| took.contains(&d.id)) {
                    let _ = sender.send(delivery);
                }
            }
            if exhausted {
                // Nothing more: the sender finishes what it has.
                to_send = None;
            }
        }
    }

    /// Writers committing at once. SQLite has one writer at a time. A
    /// PostgreSQL commit waits for the disk; with several writers, requests
    /// that arrive during one commit go out in the next without waiting for
    /// it, and the server flushes commits that overlap together.
    fn writers(&self) -> usize {
        match self.db.backend() {
            Backend::Sqlite => 1,
            Backend::Postgres => 4,
        }
    }

    /// Group commit: takes every request waiting, writes them in one
    /// transaction, answers each. While one writer commits, the next takes
    /// the requests that arrive meanwhile.
    async fn writer(
        self: Arc<Self>,
        requests: Arc<tokio::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<WriteRequest>>>,
    ) {
        loop {
            let batch = {
                let mut requests = requests.lock().await;
                let Some(first) = requests.recv().await else {
                    break;
                };
                let mut batch = vec![first];
                while batch.len() < 512 {
                    match requests.try_recv() {
                        Ok(more) => batch.push(more),
                        Err(_) => break,
                    }
                }
                batch
            };
            let mut outcomes = Vec::new();
            let mut bounces = Vec::new();
            let mut delivered_to = Vec::new();
            let mut unsent = Vec::new();
            let mut marks = Vec::new();
            let mut replies = Vec::with_capacity(batch.len());
            for request in batch {
                for recorded in request.records {
                    delivered_to.extend(recorded.delivered_to);
                    bounces.extend(recorded.bounce);
                    outcomes.push((recorded.id, recorded.outcome, recorded.first_attempt_at));
                }
                unsent.extend(request.unsent);
                marks.extend(request.marks.iter().copied());
                replies.push((request.marks, request.reply));
            }
            let (me, now) = (self.me.id.clone(), self.now());
            let written = self
                .db
                .transaction(move |c| {
                    deliveries::record(c, &me, &outcomes, now)?;
                    let cx = crate::app::Context::new(crate::app::Actor::System, now);
                    for bounce in &bounces {
                        crate::app::subscribers::record_bounce(c, &cx, bounce)?;
                    }
                    if !delivered_to.is_empty() {
                        subscribers::reset_soft_bounces(c, &delivered_to)?;
                    }
                    deliveries::unmark(c, &me, &unsent)?;
                    if marks.is_empty() {
                        Ok(Vec::new())
                    } else {
                        deliveries::mark_sending(c, &me, &marks, now)
                    }
                })
                .await;
            for (marks, reply) in replies {
                let answer = match &written {
                    Ok(marked) => Ok(marks.into_iter().filter(|id| marked.contains(id)).collect()),
                    Err(e) => Err(Error::Internal(anyhow::anyhow!("{e}"))),
                };
                let _ = reply.send(answer);
            }
        }
    }

    /// After a connection-level failure, wait 1, 2, 4 … 60 s before trying
    /// again; any success clears it.
    fn note_transport(&self, failure: Option<String>) {
        let mut blocked = self.blocked.lock().expect("blocked lock");
        match failure {
            None => *blocked = None,
            Some(reason) => {
                let failures = blocked.map_or(0, |(_, n)| n) + 1;
                let wait = TimeDelta::seconds(1i64 << failures.min(6).saturating_sub(1))
                    .min(TimeDelta::seconds(60));
                tracing::warn!(%reason, wait_secs = wait.num_seconds(), "cannot reach the mail relay; pausing");
                *blocked = Some((self.now() + wait, failures));
            }
        }
    }

    /// Builds and sends one message; the outcome to record, and the reason
    /// if the relay itself (not this recipient) is the problem.
    async fn send(&self, delivery: &Claimed) -> (Outcome, Option<String>) {
        let now = self.now();
        let message = match self.build(delivery, now).await {
            Ok(message) => message,
            Err(BuildError::Unsendable(reason)) => {
                return (
                    Outcome::Failed {
                        code: None,
                        reply: reason,
                    },
                    None,
                );
            }
            Err(BuildError::Internal(e)) => {
                // A database hiccup while rendering: not the recipient's fault.
                tracing::error!(error = %e, delivery = delivery.id, "could not build message");
                return (
                    Outcome::Requeue {
                        reply: "could not build the message; will try again".into(),
                        at: now + TimeDelta::seconds(30),
                    },
                    None,
                );
            }
        };
        let result = self.transport.send(&message, message.envelope()).await;
        let now = self.now();
        let attempts = delivery.attempts + 1;
        let first = first_attempt(delivery, now);
        let temporary = |code: Option<u16>, reply: String| match self
            .retry
            .after_temporary(attempts, first, now)
        {
            Next::At(at) => Outcome::Retry { code, reply, at },
            Next::GiveUp(why) => Outcome::Failed {
                code,
                reply: format!("{reply} ({why})"),
            },
        };
        match result {
            Ok(accepted) => (
                Outcome::Sent {
                    code: accepted.code,
                    reply: accepted.reply,
                },
                None,
            ),
            Err(SendError::Temporary { code, reply }) => {
                (temporary(Some(code), format!("{code} {reply}")), None)
            }
            // Counts as an attempt; the relay itself is fine (it took MAIL).
            Err(error @ SendError::RecipientDropped { .. }) => {
                (temporary(None, error.to_string()), None)
            }
            Err(SendError::Permanent { code, reply }) => (
                Outcome::Failed {
                    code: Some(code),
                    reply: format!("{code} {reply}"),
                },
                None,
            ),
            Err(
                error @ SendError::Connection {
                    before_data: false, ..
                },
            ) => {
                let unknown = delivery.unknown_outcomes + 1;
                let resend_at = self.retry.after_unknown(attempts, unknown, first, now);
                let mut reply = error.to_string();
                if resend_at.is_none() && self.email.outcome_unknown == OutcomeUnknownPolicy::Resend
                {
                    reply.push_str(&format!(
                        " (held for a person after {unknown} unknown outcomes in {attempts} attempts)"
                    ));
                }
                (
                    Outcome::Unknown { reply, resend_at },
                    Some(error.to_string()),
                )
            }
            Err(error @ SendError::Unsendable(_)) => (
                Outcome::Failed {
                    code: None,
                    reply: error.to_string(),
                },
                None,
            ),
            Err(
                error @ (SendError::Connection { .. }
                | SendError::RelayClosing { .. }
                | SendError::SenderRejected { .. }
                | SendError::Io(_)),
            ) => (
                Outcome::Requeue {
                    reply: error.to_string(),
                    at: now + TimeDelta::seconds(1),
                },
                Some(error.to_string()),
            ),
        }
    }

    /// Asks `run` to stop: no new claims; the messages being sent finish.
    pub fn stop(&self) {
        self.stopping.stop();
    }

    /// Gives back claimed deliveries and unregisters.
    pub async fn shut_down(&self) -> Result<()> {
        let me = self.me.id.clone();
        let released = self
            .db
            .transaction(move |c| {
                let n = deliveries::release_all(c, &me)?;
                deliveries::deregister(c, &me)?;
                Ok(n)
            })
            .await?;
        tracing::info!(released, "dispatcher stopped");
        Ok(())
    }

    /// Runs until `shutdown` turns true (SIGTERM), or, with `exit_when_idle`,
    /// until nothing is queued or scheduled.
    pub async fn run(
        self: Arc<Self>,
        mut shutdown: watch::Receiver<bool>,
        exit_when_idle: bool,
    ) -> Result<()> {
        self.register().await?;
        tracing::info!(id = %self.me.id, "dispatcher started");
        let beat = {
            let this = self.clone();
            liveness::spawn_heartbeat(self.email.heartbeat_secs, "dispatcher", move || {
                let this = this.clone();
                async move { this.heartbeat().await }
            })
        };
        let poll = Duration::from_millis(self.email.poll_interval_ms.max(10));
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
                    tracing::error!(error = %e, "dispatcher step failed");
                    false
                }
            };
            if self.stopping.is_stopping() {
                break;
            }
            if exit_when_idle && !worked && self.idle().await? {
                break;
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

    /// Nothing queued, retrying, sending or scheduled remains (paused issues
    /// aside).
    async fn idle(&self) -> Result<bool> {
        self.db.run(pending_work).await.map(|n| n == 0)
    }
}

fn pending_work(conn: &mut db::DbConnection) -> Result<i64> {
    use crate::db::schema::{deliveries, newsletter_issues};
    use diesel::prelude::*;
    // Deliveries of paused issues wait for a person, not for this process.
    let sending_issues = newsletter_issues::table
        .filter(newsletter_issues::state.eq(IssueState::Sending))
        .select(newsletter_issues::id.nullable());
    let deliveries: i64 = deliveries::table
        .filter(deliveries::state.eq_any([
            DeliveryState::Queued,
            DeliveryState::Retry,
            DeliveryState::Sending,
        ]))
        .filter(
            deliveries::issue_id
                .is_null()
                .or(deliveries::issue_id.eq_any(sending_issues)),
        )
        .count()
        .get_result(conn)?;
    let scheduled: i64 = newsletter_issues::table
        .filter(newsletter_issues::state.eq(IssueState::Scheduled))
        .count()
        .get_result(conn)?;
    Ok(deliveries + scheduled)
}

/// What the workers of one `process` share.
struct Run {
    queue: Mutex<VecDeque<Claimed>>,
    /// One claim at a time.
    claiming: tokio::sync::Mutex<()>,
    /// When limits and dead dispatchers were last checked.
    checked: Mutex<DateTime<Utc>>,
    /// Nothing more to claim in this run (or a worker failed).
    drained: AtomicBool,
    /// The concurrency this run started with.
    workers: u32,
}

impl Run {
    fn len(&self) -> usize {
        self.queue.lock().expect("queue lock").len()
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A finished attempt waiting to be written.
struct Recorded {
    id: i64,
    /// A refusal that is a bounce of the address: recorded with the outcome.
    bounce: Option<BounceInput>,
    outcome: Outcome,
    first_attempt_at: DateTime<Utc>,
    delivered_to: Option<i64>,
}

/// What the sender half of a worker hands back to its preparer.
enum Done {
    Sent(Recorded),
    /// Marked but not sent: the dispatcher is stopping.
    Unsent(i64),
}

/// A worker's request to the writer: record its outcomes, give back what it
/// did not send, mark its next deliveries `sending`; answered with the marks
/// that took.
struct WriteRequest {
    records: Vec<Recorded>,
    unsent: Vec<i64>,
    marks: Vec<i64>,
    reply: tokio::sync::oneshot::Sender<Result<Vec<i64>>>,
}

#[derive(Debug)]
pub enum BuildError {
    /// This message can never be sent (invalid address, …).
    Unsendable(String),
    Internal(Error),
}

impl From<Error> for BuildError {
    fn from(e: Error) -> Self {
        BuildError::Internal(e)
    }
}

/// A permanent refusal that says the address does not exist (a hard
/// bounce: suppressed from now on) or that the message was refused by policy
/// (recorded, nothing suppressed); see `email::classify`.
fn bounce_of(outcome: &Outcome, delivery: &Claimed) -> Option<BounceInput> {
    let Outcome::Failed {
        code: Some(code),
        reply,
    } = outcome
    else {
        return None;
    };
    let kind = match classify(Some(*code), reply) {
        Verdict::NoSuchUser => BounceKind::Hard,
        Verdict::Policy => BounceKind::Policy,
        _ => return None,
    };
    let reason: String = reply.chars().take(2000).collect();
    Some(BounceInput {
        email: EmailAddress::parse(&delivery.email).ok()?,
        kind,
        reason: Text::parse(&reason).ok(),
        message_id: Text::parse(&delivery.message_id).ok(),
    })
}

/// When `delivery` was first attempted: now, for its first attempt.
fn first_attempt(delivery: &Claimed, now: DateTime<Utc>) -> DateTime<Utc> {
    delivery.first_attempt_at.map(db::utc).unwrap_or(now)
}
