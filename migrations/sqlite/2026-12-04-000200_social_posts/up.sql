-- A channel (kind social) publishes through one channel account; a
-- Bluesky account keeps its session (access and refresh JWTs), sealed like
-- its app password.
ALTER TABLE channel_accounts ADD COLUMN channel_id BIGINT;
ALTER TABLE channel_accounts ADD COLUMN sealed_session TEXT;
CREATE UNIQUE INDEX channel_accounts_channel ON channel_accounts (channel_id);

-- What became of each post variant (activity × channel × language): the
-- job that publishes it, created once at the activity's time for the
-- approved content, and where it landed.
CREATE TABLE post_publications (
    activity_id BIGINT NOT NULL REFERENCES activities (id) ON DELETE CASCADE,
    channel_id BIGINT NOT NULL,
    lang TEXT NOT NULL,
    channel_account_id BIGINT NOT NULL REFERENCES channel_accounts (id),
    content_hash TEXT NOT NULL,
    job_id BIGINT NOT NULL REFERENCES jobs (id),
    state TEXT NOT NULL CHECK (state IN ('queued', 'published', 'failed', 'unknown')),
    remote_id TEXT,
    remote_url TEXT,
    reason TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (activity_id, channel_id, lang)
);
CREATE UNIQUE INDEX post_publications_job ON post_publications (job_id);

-- The exact Bluesky record of a post job (createdAt included) and its
-- record key (a TID), stored before the first attempt: every retry writes
-- this same record to this same key.
CREATE TABLE bluesky_records (
    job_id BIGINT PRIMARY KEY NOT NULL REFERENCES jobs (id),
    rkey TEXT NOT NULL,
    record TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
