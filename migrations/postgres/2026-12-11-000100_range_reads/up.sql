-- one_day: every occurrence of the activity starts and ends on the same day
-- (most of a plan: exact times within a day, whole days). A range query reads
-- those rows from the range's first day, not SHORT_SPAN_DAYS before it as for
-- the other short rows, which may have started earlier
-- (db::activities::short_touching): a month of a 100,000-activity plan read
-- about 15,000 rows of the two months before it to discard them. Per activity,
-- not per row, so that a series' rows are all read by one of the two queries
-- and counted once.
-- earlier_until: the latest day the activity's earlier occurrences (in
-- (starts_on, n) order, among those as short or as long as this one) reach;
-- none on its first. An occurrence touching a range is the activity's first
-- there unless an earlier one reaches the range (earlier_until >= its first
-- day): a range's activities are its rows less those, two index counts
-- (db::activities::in_range), instead of a COUNT(DISTINCT) over every row
-- (a month of a 100,000-activity plan: about 4 ms, most of the request).
-- The partial index holds the rows that have one (a series' later ones).
ALTER TABLE activity_occurrences ADD COLUMN earlier_until DATE;
ALTER TABLE activity_occurrences ADD COLUMN one_day BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE activity_occurrences o SET one_day = TRUE
    WHERE NOT EXISTS (SELECT 1 FROM activity_occurrences x
        WHERE x.activity_id = o.activity_id AND x.starts_on <> x.ends_on);
ALTER TABLE activity_occurrences ALTER COLUMN one_day DROP DEFAULT;
DROP INDEX activity_occurrences_plan_days;
DROP INDEX activity_occurrences_days;
CREATE INDEX activity_occurrences_plan_days ON activity_occurrences (
    plan_id, long_span, one_day, starts_on, starts_at NULLS FIRST, activity_id, ends_on,
    time_precision, kind, status, campaign_id, visibility, source_organisation_id, series);
CREATE INDEX activity_occurrences_days ON activity_occurrences (
    long_span, one_day, starts_on, starts_at NULLS FIRST, activity_id, ends_on,
    time_precision, plan_id, kind, status, campaign_id, visibility, source_organisation_id, series);
UPDATE activity_occurrences SET earlier_until = (
    SELECT MAX(o.ends_on) FROM activity_occurrences o
    WHERE o.activity_id = activity_occurrences.activity_id
        AND o.long_span = activity_occurrences.long_span
        AND (o.starts_on < activity_occurrences.starts_on
            OR (o.starts_on = activity_occurrences.starts_on AND o.n < activity_occurrences.n)))
    WHERE series;
CREATE INDEX activity_occurrences_repeats ON activity_occurrences (
    long_span, one_day, starts_on, earlier_until,
    plan_id, kind, status, campaign_id, visibility, source_organisation_id)
    WHERE earlier_until IS NOT NULL;
