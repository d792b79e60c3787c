DROP INDEX activity_occurrences_plan_days;
DROP INDEX activity_occurrences_days;
CREATE INDEX activity_occurrences_days
    ON activity_occurrences (long_span, starts_on, starts_at, activity_id, ends_on);
ALTER TABLE activity_occurrences DROP COLUMN time_precision;
ALTER TABLE activity_occurrences DROP COLUMN source_organisation_id;
ALTER TABLE activity_occurrences DROP COLUMN visibility;
ALTER TABLE activity_occurrences DROP COLUMN status;
ALTER TABLE activity_occurrences DROP COLUMN kind;
ALTER TABLE activity_occurrences DROP COLUMN campaign_id;
ALTER TABLE activity_occurrences DROP COLUMN plan_id;
