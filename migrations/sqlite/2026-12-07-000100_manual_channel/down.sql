DROP TABLE manual_done_links;
UPDATE post_publications SET state = 'queued' WHERE state = 'awaiting_owner';
ALTER TABLE post_publications RENAME TO post_publications_before_manual;
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
INSERT INTO post_publications SELECT * FROM post_publications_before_manual;
DROP TABLE post_publications_before_manual;
CREATE UNIQUE INDEX post_publications_job ON post_publications (job_id);
