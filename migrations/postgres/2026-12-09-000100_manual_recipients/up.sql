-- A manual channel account's settings as JSON: `recipients` (account ids
-- and email addresses, each emailed the post in their own language) and
-- `default_language` (for an address with no account). NULL: none, the
-- account's own address or the activity's owner is written to.
ALTER TABLE channel_accounts ADD COLUMN config TEXT;

-- Which recipients of a manual post's job (or of its reminder's) have been
-- sent their email: a retry of the job writes only to the others.
CREATE TABLE manual_post_deliveries (
    job_id BIGINT NOT NULL REFERENCES jobs (id),
    recipient TEXT NOT NULL,
    message_id TEXT NOT NULL,
    sent_at TIMESTAMP NOT NULL,
    PRIMARY KEY (job_id, recipient)
);
