-- The days each dated activity touches, every occurrence of a series included,
-- so that a date-range query finds its rows by index instead of reading the
-- whole plan (db::activities, "spans"). Written with the activity, on every
-- write. occurs_until NULL: a series that never ends. long_span: longer than
-- db::activities::SHORT_SPAN_DAYS (62) days, or not known: series stored before
-- this migration get a row with no bounds, so they are always expanded, until
-- their next write stores their span. An undated (TBC) activity has no row.
CREATE TABLE activity_spans (
    activity_id BIGINT PRIMARY KEY NOT NULL REFERENCES activities (id) ON DELETE CASCADE,
    occurs_from DATE,
    occurs_until DATE,
    long_span BOOLEAN NOT NULL
);
INSERT INTO activity_spans (activity_id, occurs_from, occurs_until, long_span)
    SELECT id, start_date, end_date, end_date - start_date > 62
    FROM activities WHERE rrule IS NULL AND start_date IS NOT NULL;
INSERT INTO activity_spans (activity_id, occurs_from, occurs_until, long_span)
    SELECT id, NULL, NULL, TRUE FROM activities WHERE rrule IS NOT NULL;
CREATE INDEX activity_spans_days ON activity_spans (long_span, occurs_from, occurs_until);
-- Children of a page are loaded by activity; lists filter by channel.
CREATE INDEX participations_activity ON participations (activity_id);
CREATE INDEX activity_channels_channel ON activity_channels (channel_id);
