-- The networks' public counts of each published post variant (activity ×
-- channel × language), as last read, with when: `read_at` is the time of
-- the figures shown, `tried_at` and `error` the last attempt to read them.
-- A failed read leaves the figures and `read_at` as they were.
CREATE TABLE post_engagement (
    activity_id BIGINT NOT NULL REFERENCES activities (id) ON DELETE CASCADE,
    channel_id BIGINT NOT NULL,
    lang TEXT NOT NULL,
    replies BIGINT,
    reposts BIGINT,
    likes BIGINT,
    quotes BIGINT,
    read_at TIMESTAMP,
    tried_at TIMESTAMP NOT NULL,
    error TEXT,
    PRIMARY KEY (activity_id, channel_id, lang)
);
