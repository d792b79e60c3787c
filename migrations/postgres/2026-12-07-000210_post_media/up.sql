-- Images attached to a post variant (or to one part of its thread), stored
-- with their type, size, hash and REQUIRED alt text (Mastodon's
-- description, Bluesky's alt). part 0 is the post itself.
CREATE TABLE post_media (
    id BIGSERIAL PRIMARY KEY,
    activity_id BIGINT NOT NULL,
    channel_id BIGINT NOT NULL,
    lang TEXT NOT NULL,
    part INTEGER NOT NULL,
    position INTEGER NOT NULL,
    mime_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    alt TEXT NOT NULL,
    data BYTEA NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX post_media_variant ON post_media (activity_id, channel_id, lang);

-- What a post job's upload of an image became (the Mastodon media id, the
-- Bluesky blob reference): a retry reuses it instead of uploading again.
CREATE TABLE post_media_uploads (
    job_id BIGINT NOT NULL REFERENCES jobs (id),
    media_id BIGINT NOT NULL,
    remote TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (job_id, media_id)
);
