-- The table as 2026-12-08-000100 created it and 2026-12-09-000300 extended it.
ALTER TABLE activity_occurrences RENAME TO activity_occurrences_with_series;
DROP INDEX activity_occurrences_plan_days;
DROP INDEX activity_occurrences_days;
CREATE TABLE activity_occurrences (
    activity_id INTEGER NOT NULL REFERENCES activities (id) ON DELETE CASCADE,
    n INTEGER NOT NULL,
    starts_on DATE NOT NULL,
    ends_on DATE NOT NULL,
    starts_at TIMESTAMP,
    long_span BOOLEAN NOT NULL,
    PRIMARY KEY (activity_id, n)
);
ALTER TABLE activity_occurrences ADD COLUMN plan_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE activity_occurrences ADD COLUMN campaign_id BIGINT;
ALTER TABLE activity_occurrences ADD COLUMN kind TEXT NOT NULL DEFAULT '';
ALTER TABLE activity_occurrences ADD COLUMN status TEXT NOT NULL DEFAULT '';
ALTER TABLE activity_occurrences ADD COLUMN visibility TEXT NOT NULL DEFAULT '';
ALTER TABLE activity_occurrences ADD COLUMN source_organisation_id BIGINT;
ALTER TABLE activity_occurrences ADD COLUMN time_precision TEXT NOT NULL DEFAULT '';
INSERT INTO activity_occurrences (activity_id, n, starts_on, ends_on, starts_at, long_span,
        plan_id, campaign_id, kind, status, visibility, source_organisation_id, time_precision)
    SELECT activity_id, n, starts_on, ends_on, starts_at, long_span,
        plan_id, campaign_id, kind, status, visibility, source_organisation_id, time_precision
    FROM activity_occurrences_with_series;
DROP TABLE activity_occurrences_with_series;
CREATE INDEX activity_occurrences_plan_days ON activity_occurrences (
    plan_id, long_span, starts_on, starts_at, activity_id, ends_on,
    time_precision, kind, status, campaign_id, visibility, source_organisation_id);
CREATE INDEX activity_occurrences_days ON activity_occurrences (
    long_span, starts_on, starts_at, activity_id, ends_on,
    time_precision, plan_id, kind, status, campaign_id, visibility, source_organisation_id);
