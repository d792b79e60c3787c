-- One queue for every outbound effect but the newsletter's deliveries (which
-- keep their own ledger): social posts, webhooks, reminders, reports.
-- (kind, idempotency_key) is unique: enqueueing the same effect twice is one job.
CREATE TABLE jobs (
    id BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed', 'unknown', 'cancelled')),
    attempts INTEGER NOT NULL DEFAULT 0,
    unknown_outcomes INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    claimed_by TEXT,
    claimed_until TIMESTAMP,
    last_result TEXT,
    remote_id TEXT,
    remote_url TEXT,
    first_attempt_at TIMESTAMP,
    finished_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (kind, idempotency_key)
);
CREATE INDEX jobs_due ON jobs (next_attempt_at) WHERE state = 'queued';
CREATE INDEX jobs_claimed ON jobs (claimed_by) WHERE claimed_by IS NOT NULL;

-- Every attempt of a job: what was asked (without secrets), what came back.
CREATE TABLE job_attempts (
    id BIGSERIAL PRIMARY KEY,
    job_id BIGINT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL,
    worker TEXT NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('done', 'retry', 'failed', 'unknown')),
    request TEXT,
    status INTEGER,
    reply TEXT,
    remote_id TEXT,
    remote_url TEXT
);
CREATE INDEX job_attempts_job ON job_attempts (job_id, id);

-- Running job workers and their heartbeats, so a dead one's jobs are recovered.
CREATE TABLE job_workers (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at TIMESTAMP NOT NULL,
    heartbeat_at TIMESTAMP NOT NULL
);
