-- The manual channel: at due time the owner is emailed the exact text and a
-- one-time link to say where it was posted. Until then the publication is
-- `awaiting_owner` (the email went out, nobody has said it was posted).
ALTER TABLE post_publications DROP CONSTRAINT post_publications_state_check;
ALTER TABLE post_publications ADD CONSTRAINT post_publications_state_check
    CHECK (state IN ('queued', 'published', 'failed', 'unknown', 'awaiting_owner'));

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
