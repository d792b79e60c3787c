//! The job mechanism: enqueued in the caller's transaction (or not at all),
//! one job per kind and key, every outcome of the handler trait, retry
//! schedules, recovery of a dead worker's jobs as outcome unknown, two
//! runners on one database running each job once, and the admin API.

use crate::helpers::*;
use chrono::{DateTime, TimeDelta, Utc};
use futures_util::future::BoxFuture;
use pregon::db::DbConnection;
use pregon::domain::job::JobState;
use pregon::jobs::{self, Attempt, Exchange, Handler, Job, NewJob, Outcome, Runner};
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const KIND: &str = "test.echo";

/// Answers each job with what its payload asks for, and counts the runs.
#[derive(Default)]
struct Echo {
    runs: Mutex<HashMap<String, Vec<i32>>>,
    finished: Mutex<Vec<(String, String)>>,
}

impl Echo {
    fn runs_of(&self, key: &str) -> Vec<i32> {
        self.runs
            .lock()
            .unwrap()
            .get(key)
            .cloned()
            .unwrap_or_default()
    }
}

struct EchoHandler(Arc<Echo>);

impl Handler for EchoHandler {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn run<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Attempt> {
        Box::pin(async move {
            self.0
                .runs
                .lock()
                .unwrap()
                .entry(job.key.clone())
                .or_default()
                .push(job.unknown_outcomes);
            // A little time on the wire, so two runners overlap.
            tokio::task::yield_now().await;
            let answer = job.payload["answer"].as_str().unwrap_or("done");
            let at = job.payload["at"]
                .as_str()
                .map(|t| t.parse::<DateTime<Utc>>().unwrap());
            let outcome = match answer {
                "done" => Outcome::done(Some(format!("remote-{}", job.id)), None),
                "retry" => Outcome::retry(at, "503 Service Unavailable"),
                "fail" => Outcome::failed("422 text too long"),
                "unknown" => Outcome::Unknown {
                    how_to_check: "read the recent posts".into(),
                    check_at: at,
                },
                "retry-then-done" if job.attempt < 2 => Outcome::retry(None, "busy"),
                _ => Outcome::done(None, Some("https://example.test/1".into())),
            };
            Attempt::new(
                outcome,
                Exchange {
                    request: Some(format!("POST /echo {}", job.key)),
                    status: Some(200),
                    reply: Some(answer.into()),
                },
            )
        })
    }

    fn finished(
        &self,
        _conn: &mut DbConnection,
        job: &Job,
        outcome: &Outcome,
        _now: DateTime<Utc>,
    ) -> pregon::Result<()> {
        if job.payload["hook"] == "fail" {
            return Err(pregon::Error::Internal(anyhow::anyhow!("the hook broke")));
        }
        let what = match outcome {
            Outcome::Done { .. } => "done",
            Outcome::Failed { .. } => "failed",
            Outcome::Unknown { .. } => "unknown",
            Outcome::RetryAt { .. } => "retry",
        };
        self.0
            .finished
            .lock()
            .unwrap()
            .push((job.key.clone(), what.into()));
        Ok(())
    }
}

fn runner(app: &TestApp, echo: &Arc<Echo>) -> Arc<Runner> {
    let mut settings = app.settings.jobs.clone();
    settings.concurrency = 8;
    Runner::new(
        app.db.clone(),
        Arc::new(app.clock.clone()),
        settings,
        vec![Arc::new(EchoHandler(echo.clone()))],
    )
    .unwrap()
}

async fn enqueue(app: &TestApp, key: &str, payload: serde_json::Value) -> i64 {
    let now = app.clock_now();
    let job = NewJob {
        kind: KIND,
        key: key.into(),
        payload,
        due_at: now,
    };
    app.db
        .transaction(move |c| jobs::enqueue(c, &job, now))
        .await
        .unwrap()
        .id
}

async fn job(app: &TestApp, id: i64) -> pregon::db::jobs::Row {
    app.db
        .run(move |c| pregon::db::jobs::get(c, id))
        .await
        .unwrap()
}

#[tokio::test]
async fn a_job_exists_only_if_its_transaction_commits_and_once_per_key() {
    let app = spawn_app().await;
    let now = app.clock_now();
    // The change fails after enqueueing: no job.
    let new = NewJob {
        kind: KIND,
        key: "rolled-back".into(),
        payload: json!({}),
        due_at: now,
    };
    let failed = app
        .db
        .transaction(move |c| {
            jobs::enqueue(c, &new, now)?;
            Err::<(), _>(pregon::Error::invalid(
                "title",
                "the change itself was refused",
            ))
        })
        .await;
    assert!(failed.is_err());
    let found = app
        .db
        .run(|c| pregon::db::jobs::find(c, KIND, "rolled-back"))
        .await
        .unwrap();
    assert!(found.is_none(), "a job survived its rolled-back change");

    // The same key twice is one job; another kind may use the same key.
    let first = enqueue(&app, "k1", json!({"n": 1})).await;
    let again = app
        .db
        .transaction(move |c| {
            jobs::enqueue(
                c,
                &NewJob {
                    kind: KIND,
                    key: "k1".into(),
                    payload: json!({"n": 2}),
                    due_at: now,
                },
                now,
            )
        })
        .await
        .unwrap();
    assert_eq!(again.id, first);
    assert!(!again.created);
    let other = app
        .db
        .transaction(move |c| {
            jobs::enqueue(
                c,
                &NewJob {
                    kind: "test.other",
                    key: "k1".into(),
                    payload: json!({}),
                    due_at: now,
                },
                now,
            )
        })
        .await
        .unwrap();
    assert!(other.created);
    assert_ne!(other.id, first);
    assert_eq!(job(&app, first).await.payload, r#"{"n":1}"#);
}

#[tokio::test]
async fn each_outcome_of_a_handler_becomes_the_jobs_state() {
    let app = spawn_app().await;
    let echo = Arc::new(Echo::default());
    let runner = runner(&app, &echo);
    let now = app.clock_now();
    let later = now + TimeDelta::minutes(10);
    let done = enqueue(&app, "done", json!({"answer": "done"})).await;
    let retry = enqueue(
        &app,
        "retry",
        json!({"answer": "retry", "at": later.to_rfc3339()}),
    )
    .await;
    let fail = enqueue(&app, "fail", json!({"answer": "fail"})).await;
    let unknown = enqueue(&app, "unknown", json!({"answer": "unknown"})).await;
    let check = enqueue(
        &app,
        "check",
        json!({"answer": "unknown", "at": later.to_rfc3339()}),
    )
    .await;
    let backoff = enqueue(&app, "backoff", json!({"answer": "retry-then-done"})).await;

    let step = runner.run_once().await.unwrap();
    assert_eq!(step.attempted, 6);
    assert_eq!(step.done, 1);

    let d = job(&app, done).await;
    assert_eq!(d.state().unwrap(), JobState::Done);
    assert_eq!(
        d.remote_id.as_deref(),
        Some(format!("remote-{done}").as_str())
    );
    assert_eq!(d.attempts, 1);
    assert!(d.claimed_by.is_none());

    // Retry-After honoured exactly.
    let r = job(&app, retry).await;
    assert_eq!(r.state().unwrap(), JobState::Queued);
    assert_eq!(r.next_attempt_at, later.naive_utc());

    let f = job(&app, fail).await;
    assert_eq!(f.state().unwrap(), JobState::Failed);
    assert_eq!(f.last_result.as_deref(), Some("failed: 422 text too long"));

    // Unknown without a time to check: held for a person.
    let u = job(&app, unknown).await;
    assert_eq!(u.state().unwrap(), JobState::Unknown);
    assert!(u.last_result.unwrap().contains("read the recent posts"));

    // Unknown with a time: queued again, and the handler is told.
    let c = job(&app, check).await;
    assert_eq!(c.state().unwrap(), JobState::Queued);
    assert_eq!(c.unknown_outcomes, 1);

    // No time given: the kind's backoff (30 s base, equal jitter: 15–30 s).
    let b = job(&app, backoff).await;
    assert_eq!(b.state().unwrap(), JobState::Queued);
    let wait = b.next_attempt_at - now.naive_utc();
    assert!(
        wait >= TimeDelta::seconds(15) && wait <= TimeDelta::seconds(30),
        "{wait}"
    );

    // Nothing else is due yet.
    assert_eq!(runner.run_once().await.unwrap().attempted, 0);

    app.clock.advance(TimeDelta::minutes(11));
    let step = runner.run_once().await.unwrap();
    assert_eq!(step.attempted, 3, "{step:?}");
    assert_eq!(job(&app, backoff).await.state().unwrap(), JobState::Done);
    assert_eq!(echo.runs_of("check"), vec![0, 1]);
    assert_eq!(echo.runs_of("done"), vec![0]);

    let finished = echo.finished.lock().unwrap().clone();
    for (key, what) in [
        ("done", "done"),
        ("fail", "failed"),
        ("unknown", "unknown"),
        ("backoff", "done"),
    ] {
        assert!(
            finished.contains(&(key.to_string(), what.to_string())),
            "{key} {what}: {finished:?}"
        );
    }
    assert!(!finished.iter().any(|(k, _)| k == "retry"), "{finished:?}");

    // Every attempt is in the log, without anything but what the handler said.
    let attempts = app
        .db
        .run(move |c| pregon::db::jobs::attempts(c, backoff))
        .await
        .unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0].request.as_deref(), Some("POST /echo backoff"));
    assert_eq!(attempts[0].status, Some(200));
}

#[tokio::test]
async fn a_retried_job_fails_after_its_kinds_attempts() {
    let app = spawn_app().await;
    let echo = Arc::new(Echo::default());
    let runner = runner(&app, &echo);
    let id = enqueue(&app, "always", json!({"answer": "retry"})).await;
    for _ in 0..10 {
        runner.run_once().await.unwrap();
        app.clock.advance(TimeDelta::hours(2));
    }
    let row = job(&app, id).await;
    assert_eq!(row.state().unwrap(), JobState::Failed);
    assert_eq!(row.attempts, 10);
    assert!(
        row.last_result
            .unwrap()
            .starts_with("gave up after 10 attempts")
    );
}

#[tokio::test]
async fn the_jobs_of_a_dead_worker_run_again_as_outcome_unknown() {
    let app = spawn_app().await;
    let echo = Arc::new(Echo::default());
    let id = enqueue(&app, "orphan", json!({"answer": "done"})).await;
    // A worker claimed it and died (its heartbeat is old, its lease over).
    let now = app.clock_now();
    app.db
        .transaction(move |c| {
            pregon::db::jobs::heartbeat(c, "dead-worker", "elsewhere", 1, now, now)?;
            let claimed = pregon::db::jobs::claim(
                c,
                "dead-worker",
                &[KIND],
                10,
                now + TimeDelta::seconds(15),
                now,
            )?;
            assert_eq!(claimed.len(), 1);
            Ok(())
        })
        .await
        .unwrap();
    let runner = runner(&app, &echo);
    // Still within the dead worker's heartbeats: left alone.
    assert_eq!(runner.run_once().await.unwrap().recovered, 0);
    assert!(echo.runs_of("orphan").is_empty());

    app.clock.advance(TimeDelta::seconds(16));
    let step = runner.run_once().await.unwrap();
    assert_eq!(step.recovered, 1);
    // The handler is told an earlier attempt's outcome is unknown.
    assert_eq!(echo.runs_of("orphan"), vec![1]);
    let row = job(&app, id).await;
    assert_eq!(row.state().unwrap(), JobState::Done);
    assert_eq!(row.attempts, 2);
    let attempts = app
        .db
        .run(move |c| pregon::db::jobs::attempts(c, id))
        .await
        .unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0].worker, "dead-worker");
    assert_eq!(attempts[0].outcome.as_str(), "unknown");
}

#[tokio::test]
async fn two_runners_on_one_database_run_each_job_once() {
    let app = spawn_app().await;
    let echo = Arc::new(Echo::default());
    let now = app.clock_now();
    app.db
        .transaction(move |c| {
            for n in 0..300 {
                jobs::enqueue(
                    c,
                    &NewJob {
                        kind: KIND,
                        key: format!("j{n}"),
                        payload: json!({"answer": "done"}),
                        due_at: now,
                    },
                    now,
                )?;
            }
            Ok(())
        })
        .await
        .unwrap();
    let (a, b) = (runner(&app, &echo), runner(&app, &echo));
    let (sa, sb) = tokio::join!(a.run_once(), b.run_once());
    let (sa, sb) = (sa.unwrap(), sb.unwrap());
    assert_eq!(sa.attempted + sb.attempted, 300, "{sa:?} {sb:?}");
    assert_eq!(sa.done + sb.done, 300);
    let runs = echo.runs.lock().unwrap();
    assert_eq!(runs.len(), 300);
    assert!(runs.values().all(|r| r.len() == 1), "a job ran twice");
    if backend() == pregon::db::Backend::Postgres {
        // Both took part: SKIP LOCKED let them claim side by side.
        assert!(sa.attempted > 0 && sb.attempted > 0, "{sa:?} {sb:?}");
    }
}

/// The runner writes a batch's results together: every outcome in one
/// multi-row UPDATE and one INSERT, a job another worker holds left alone;
/// claimed jobs never started go back as they were.
#[tokio::test]
async fn a_batch_of_mixed_results_is_written_together_and_unstarted_claims_go_back() {
    use pregon::db::jobs::{Finish, claim, finish_many, release};
    use pregon::domain::job::AttemptOutcome;
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for key in ["done", "retry", "failed", "unknown", "stolen", "unstarted"] {
        ids.push(enqueue(&app, key, json!({})).await);
    }
    let now = app.clock_now();
    let later = now + TimeDelta::seconds(90);
    let lease = now + TimeDelta::seconds(15);
    let written = app
        .db
        .transaction(move |c| {
            let mine = claim(c, "w", &[KIND], 4, lease, now)?;
            assert_eq!(mine.len(), 4);
            let theirs = claim(c, "other", &[KIND], 1, lease, now)?;
            assert_eq!(theirs.len(), 1);
            let finish = |id: i64, state, outcome, result: &str| Finish {
                job_id: id,
                attempt: 1,
                state,
                outcome,
                next_attempt_at: None,
                unknown: false,
                result: result.into(),
                remote_id: None,
                remote_url: None,
                started_at: now,
                request: Some(format!("POST /{id}")),
                status: Some(200),
                reply: Some("ok".into()),
            };
            let batch = vec![
                Finish {
                    remote_id: Some("r-1".into()),
                    remote_url: Some("https://example.test/1".into()),
                    ..finish(mine[0].id, JobState::Done, AttemptOutcome::Done, "done")
                },
                Finish {
                    next_attempt_at: Some(later),
                    status: Some(503),
                    ..finish(mine[1].id, JobState::Queued, AttemptOutcome::Retry, "retry")
                },
                finish(
                    mine[2].id,
                    JobState::Failed,
                    AttemptOutcome::Failed,
                    "failed: 422",
                ),
                Finish {
                    unknown: true,
                    status: None,
                    reply: None,
                    ..finish(
                        mine[3].id,
                        JobState::Unknown,
                        AttemptOutcome::Unknown,
                        "outcome unknown",
                    )
                },
                // Not this worker's: skipped.
                finish(theirs[0].id, JobState::Done, AttemptOutcome::Done, "done"),
            ];
            finish_many(c, "w", &batch, now)
        })
        .await
        .unwrap();
    assert_eq!(written, ids[..4].to_vec());

    let done = job(&app, ids[0]).await;
    assert_eq!(done.state().unwrap(), JobState::Done);
    assert_eq!(done.remote_url.as_deref(), Some("https://example.test/1"));
    assert_eq!(done.finished_at, Some(now.naive_utc()));
    assert_eq!(done.claimed_by, None);
    let retry = job(&app, ids[1]).await;
    assert_eq!(retry.state().unwrap(), JobState::Queued);
    assert_eq!(retry.next_attempt_at, later.naive_utc());
    assert_eq!(retry.finished_at, None);
    // Due later: not claimed now.
    let again = app
        .db
        .transaction(move |c| claim(c, "w", &[KIND], 10, lease, now))
        .await
        .unwrap();
    assert_eq!(again.iter().map(|r| r.id).collect::<Vec<_>>(), vec![ids[5]]);
    assert_eq!(job(&app, ids[2]).await.state().unwrap(), JobState::Failed);
    let unknown = job(&app, ids[3]).await;
    assert_eq!(unknown.state().unwrap(), JobState::Unknown);
    assert_eq!(unknown.unknown_outcomes, 1);
    let stolen = job(&app, ids[4]).await;
    assert_eq!(stolen.state().unwrap(), JobState::Running);
    assert_eq!(stolen.claimed_by.as_deref(), Some("other"));
    for (id, status) in [(ids[0], Some(200)), (ids[1], Some(503)), (ids[3], None)] {
        let attempts = app
            .db
            .run(move |c| pregon::db::jobs::attempts(c, id))
            .await
            .unwrap();
        assert_eq!(attempts.len(), 1);
        assert_eq!(attempts[0].worker, "w");
        assert_eq!(attempts[0].status, status);
        assert_eq!(attempts[0].started_at, now);
    }
    let stolen_id = ids[4];
    let none = app
        .db
        .run(move |c| pregon::db::jobs::attempts(c, stolen_id))
        .await
        .unwrap();
    assert!(none.is_empty());

    // Claimed, never started: back in the queue, no attempt counted.
    let unstarted = ids[5];
    let released = app
        .db
        .transaction(move |c| release(c, "w", &[unstarted], now))
        .await
        .unwrap();
    assert_eq!(released, 1);
    let back = job(&app, unstarted).await;
    assert_eq!(back.state().unwrap(), JobState::Queued);
    assert_eq!((back.attempts, back.unknown_outcomes), (0, 0));
    assert_eq!((back.claimed_by, back.first_attempt_at), (None, None));
}

/// A hook that fails costs only its own job a note; the other results of
/// the same run are recorded with their hooks.
#[tokio::test]
async fn a_failing_hook_costs_only_its_own_job_a_note() {
    let app = spawn_app().await;
    let echo = Arc::new(Echo::default());
    let mut ids = Vec::new();
    for n in 0..20 {
        let hook = if n == 7 { "fail" } else { "ok" };
        ids.push(
            enqueue(
                &app,
                &format!("h{n}"),
                json!({"answer": "done", "hook": hook}),
            )
            .await,
        );
    }
    let step = runner(&app, &echo).run_once().await.unwrap();
    assert_eq!((step.attempted, step.done), (20, 20));
    for (n, id) in ids.iter().enumerate() {
        let row = job(&app, *id).await;
        assert_eq!(row.state().unwrap(), JobState::Done);
        let note = row.last_result.unwrap();
        assert_eq!(
            note.contains("recording what follows failed: "),
            n == 7,
            "{n}: {note}"
        );
    }
    let mut hooked: Vec<String> = echo
        .finished
        .lock()
        .unwrap()
        .iter()
        .map(|(k, _)| k.clone())
        .collect();
    hooked.sort();
    hooked.dedup();
    assert_eq!(hooked.len(), 19);
    assert!(!hooked.contains(&"h7".to_owned()));
}

#[tokio::test]
async fn the_jobs_api_is_for_administrators() {
    let app = spawn_app().await;
    let echo = Arc::new(Echo::default());
    let failed = enqueue(&app, "api-fail", json!({"answer": "fail"})).await;
    let queued = enqueue(
        &app,
        "api-later",
        json!({"answer": "retry", "at": (app.clock_now() + TimeDelta::hours(1)).to_rfc3339()}),
    )
    .await;
    runner(&app, &echo).run_once().await.unwrap();

    for token in [&app.editor, &app.viewer, &app.approver] {
        let res = app
            .client
            .get(app.url("/api/v1/jobs"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        expect_problem(res, 403).await;
        let res = app
            .client
            .post(app.url(&format!("/api/v1/jobs/{failed}/retry")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        expect_problem(res, 403).await;
    }
    let res = app
        .client
        .get(app.url("/api/v1/jobs"))
        .send()
        .await
        .unwrap();
    expect_problem(res, 401).await;

    let admin = |path: String| app.client.get(app.url(&path)).bearer_auth(&app.admin);
    let list: serde_json::Value = admin("/api/v1/jobs?state=failed".into())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], failed);
    let detail: serde_json::Value = admin(format!("/api/v1/jobs/{failed}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(detail["state"], "failed");
    assert_eq!(detail["attempts"][0]["outcome"], "failed");
    assert_eq!(detail["attempts"][0]["request"], "POST /echo api-fail");

    let post = |path: String| app.client.post(app.url(&path)).bearer_auth(&app.admin);
    // A queued job cannot be retried; a failed one can.
    let res = post(format!("/api/v1/jobs/{queued}/retry"))
        .send()
        .await
        .unwrap();
    expect_problem(res, 409).await;
    let res = post(format!("/api/v1/jobs/{failed}/retry"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(job(&app, failed).await.state().unwrap(), JobState::Queued);
    let res = post(format!("/api/v1/jobs/{queued}/cancel"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        job(&app, queued).await.state().unwrap(),
        JobState::Cancelled
    );
    let res = post("/api/v1/jobs/999999/cancel".into())
        .send()
        .await
        .unwrap();
    expect_problem(res, 404).await;
}
