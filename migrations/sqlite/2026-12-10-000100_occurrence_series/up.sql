-- Two changes to activity_occurrences, so that a range query's count costs
-- an index scan and nothing per row beyond it (db::activities::in_range):
-- * series: the row belongs to a series (an activity with a recurrence), which
--   may have several rows in a range; any other activity has exactly one row.
--   A range counts the other rows as they are and only the series' rows as
--   distinct activities, instead of every row as distinct activities (a temporary
--   b-tree of every match).
-- * its days and start declared TEXT, as they are stored: declared DATE and
--   TIMESTAMP they had NUMERIC affinity, and SQLite tried every comparison with
--   a bound day (ends_on >= ?) as a number first (parsing the text each time).
-- SQLite cannot change a column's type: the table is rebuilt.
ALTER TABLE activity_occurrences RENAME TO activity_occurrences_before_series;
DROP INDEX activity_occurrences_plan_days;
DROP INDEX activity_occurrences_days;
CREATE TABLE activity_occurrences (
    activity_id INTEGER NOT NULL REFERENCES activities (id) ON DELETE CASCADE,
    n INTEGER NOT NULL,
    starts_on TEXT NOT NULL,
    ends_on TEXT NOT NULL,
    starts_at TEXT,
    long_span BOOLEAN NOT NULL,
    plan_id BIGINT NOT NULL,
    campaign_id BIGINT,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    visibility TEXT NOT NULL,
    source_organisation_id BIGINT,
    time_precision TEXT NOT NULL,
    series BOOLEAN NOT NULL,
    PRIMARY KEY (activity_id, n)
);
INSERT INTO activity_occurrences (activity_id, n, starts_on, ends_on, starts_at, long_span,
        plan_id, campaign_id, kind, status, visibility, source_organisation_id, time_precision,
        series)
    SELECT o.activity_id, o.n, o.starts_on, o.ends_on, o.starts_at, o.long_span,
        o.plan_id, o.campaign_id, o.kind, o.status, o.visibility, o.source_organisation_id,
        o.time_precision, a.rrule IS NOT NULL
    FROM activity_occurrences_before_series o JOIN activities a ON a.id = o.activity_id;
DROP TABLE activity_occurrences_before_series;
CREATE INDEX activity_occurrences_plan_days ON activity_occurrences (
    plan_id, long_span, starts_on, starts_at, activity_id, ends_on,
    time_precision, kind, status, campaign_id, visibility, source_organisation_id, series);
CREATE INDEX activity_occurrences_days ON activity_occurrences (
    long_span, starts_on, starts_at, activity_id, ends_on,
    time_precision, plan_id, kind, status, campaign_id, visibility, source_organisation_id, series);
