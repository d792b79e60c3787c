-- Every occurrence of every dated activity, by the days it touches, so that a
-- date-range query finds, orders, counts and pages what it matches in SQL (the
-- index), instead of expanding each series of the plan on every request
-- (db::activities, "occurrences"). Written with the activity, on every write.
-- A plain activity has one row; a series one per occurrence, exceptions
-- applied, up to db::activities::STORED_OCCURRENCES; long_span as in
-- activity_spans.
CREATE TABLE activity_occurrences (
    activity_id INTEGER NOT NULL REFERENCES activities (id) ON DELETE CASCADE,
    n INTEGER NOT NULL,
    starts_on DATE NOT NULL,
    ends_on DATE NOT NULL,
    starts_at TIMESTAMP,
    long_span BOOLEAN NOT NULL,
    PRIMARY KEY (activity_id, n)
);
CREATE INDEX activity_occurrences_days
    ON activity_occurrences (long_span, starts_on, starts_at, activity_id, ends_on);
-- occurrences_stored: every occurrence up to stored_through (NULL: all of them)
-- is in activity_occurrences. A range query reaching past what is stored
-- expands the series instead. Series written before this migration are stored
-- by `pregon` at start-up (db::activities::store_missing_occurrences).
ALTER TABLE activity_spans ADD COLUMN occurrences_stored BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE activity_spans ADD COLUMN stored_through DATE;
INSERT INTO activity_occurrences (activity_id, n, starts_on, ends_on, starts_at, long_span)
    SELECT a.id, 0, a.start_date, a.end_date, a.starts_at, s.long_span
    FROM activities a JOIN activity_spans s ON s.activity_id = a.id
    WHERE a.rrule IS NULL AND a.start_date IS NOT NULL AND a.end_date IS NOT NULL;
UPDATE activity_spans SET occurrences_stored = TRUE
    WHERE activity_id IN (SELECT activity_id FROM activity_occurrences);
CREATE INDEX activity_spans_unstored ON activity_spans (occurrences_stored);
CREATE INDEX activity_spans_stored_through ON activity_spans (stored_through);
