-- series: the row belongs to a series (an activity with a recurrence), which
-- may have several rows in a range; any other activity has exactly one row.
-- A range counts the other rows as they are and only the series' rows as
-- distinct activities (db::activities::in_range). In both indexes, so that
-- the count still reads the index alone. The indexes also put a missing start
-- (a whole day) first within its day, as a range lists them and as SQLite's
-- indexes do: a page then reads its rows in index order and stops, on both
-- backends, instead of reading its whole last day to order it.
ALTER TABLE activity_occurrences ADD COLUMN series BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE activity_occurrences o SET series = TRUE
    FROM activities a WHERE a.id = o.activity_id AND a.rrule IS NOT NULL;
ALTER TABLE activity_occurrences ALTER COLUMN series DROP DEFAULT;
DROP INDEX activity_occurrences_plan_days;
DROP INDEX activity_occurrences_days;
CREATE INDEX activity_occurrences_plan_days ON activity_occurrences (
    plan_id, long_span, starts_on, starts_at NULLS FIRST, activity_id, ends_on,
    time_precision, kind, status, campaign_id, visibility, source_organisation_id, series);
CREATE INDEX activity_occurrences_days ON activity_occurrences (
    long_span, starts_on, starts_at NULLS FIRST, activity_id, ends_on,
    time_precision, plan_id, kind, status, campaign_id, visibility, source_organisation_id, series);
