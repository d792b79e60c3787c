-- A post variant may be a thread: the parts after the first (a JSON array
-- of {"body": ...}, in order; NULL: a single post). Part 2 replies to part 1,
-- and so on.
ALTER TABLE post_variants ADD COLUMN thread TEXT;

-- What became of each part of a post job: its Bluesky record key and exact
-- record (stored before the part's first attempt), and once it went out its
-- remote id, CID (Bluesky) and URL. A retry resumes at the first part
-- without a remote id, so a part is published once.
CREATE TABLE post_parts (
    job_id BIGINT NOT NULL REFERENCES jobs (id),
    part INTEGER NOT NULL,
    rkey TEXT,
    record TEXT,
    remote_id TEXT,
    cid TEXT,
    remote_url TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (job_id, part)
);
