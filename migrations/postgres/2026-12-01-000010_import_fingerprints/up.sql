-- What an imported event said when it was last written (RFC 5546 §2.1.5 change
-- detection): its DTSTAMP, and a hash of its content, so that a file with
-- neither a higher SEQUENCE nor a newer stamp still updates a changed event.
CREATE TABLE activity_import_fingerprints (
    activity_id BIGINT PRIMARY KEY NOT NULL REFERENCES activities (id) ON DELETE CASCADE,
    dtstamp TIMESTAMP,
    content_hash TEXT NOT NULL
);
