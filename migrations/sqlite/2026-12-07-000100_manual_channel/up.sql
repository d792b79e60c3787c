-- The manual channel: at due time the owner is emailed the exact text and a
-- one-time link to say where it was posted. Until then the publication is
-- `awaiting_owner` (the email went out, nobody has said it was posted).
-- SQLite cannot change a CHECK: the table is rebuilt under its own name.
ALTER TABLE post_publications RENAME TO post_publications_before_manual;
CREATE TABLE post_publications (
    activity_id BIGINT NOT NULL REFERENCES activities (id) ON DELETE CASCADE,
    channel_id BIGINT NOT NULL,
    lang TEXT NOT NULL,
    channel_account_id BIGINT NOT NULL REFERENCES channel_accounts (id),
    content_hash TEXT NOT NULL,
    job_id BIGINT NOT NULL REFERENCES jobs (id),
    state TEXT NOT NULL CHECK (state IN ('queued', 'published', 'failed', 'unknown', 'awaiting_owner')),
    remote_id TEXT,
    remote_url TEXT,
    reason TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (activity_id, channel_id, lang)
);
INSERT INTO post_publications SELECT * FROM post_publications_before_manual;
DROP TABLE post_publications_before_manual;
CREATE UNIQUE INDEX post_publications_job ON post_publications (job_id);

-- The one-time links of manual posts' emails: only the SHA-256 of the
-- token is kept. A link works once (`used_at`) and until `expires_at`.
CREATE TABLE manual_done_links (
    token_hash TEXT PRIMARY KEY NOT NULL,
    job_id BIGINT NOT NULL REFERENCES jobs (id),
    lang TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX manual_done_links_job ON manual_done_links (job_id);
