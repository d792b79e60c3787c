DROP INDEX activity_occurrences_repeats;
DROP INDEX activity_occurrences_plan_days;
DROP INDEX activity_occurrences_days;
ALTER TABLE activity_occurrences DROP COLUMN one_day;
ALTER TABLE activity_occurrences DROP COLUMN earlier_until;
CREATE INDEX activity_occurrences_plan_days ON activity_occurrences (
    plan_id, long_span, starts_on, starts_at NULLS FIRST, activity_id, ends_on,
    time_precision, kind, status, campaign_id, visibility, source_organisation_id, series);
CREATE INDEX activity_occurrences_days ON activity_occurrences (
    long_span, starts_on, starts_at NULLS FIRST, activity_id, ends_on,
    time_precision, plan_id, kind, status, campaign_id, visibility, source_organisation_id, series);
