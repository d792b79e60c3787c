-- The columns a range query filters by, copied onto each occurrence from its
-- activity, so that the query reads activity_occurrences alone (the index
-- below, no join to activities per occurrence). Kept with the activity by
-- db::activities: written with the occurrences, and stamped again in the same
-- transaction wherever one of these columns of an activity changes
-- (db::activities::restamp_occurrences). The defaults only let SQLite add the
-- columns to existing rows; every row is written with its activity's values.
ALTER TABLE activity_occurrences ADD COLUMN plan_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE activity_occurrences ADD COLUMN campaign_id BIGINT;
ALTER TABLE activity_occurrences ADD COLUMN kind TEXT NOT NULL DEFAULT '';
ALTER TABLE activity_occurrences ADD COLUMN status TEXT NOT NULL DEFAULT '';
ALTER TABLE activity_occurrences ADD COLUMN visibility TEXT NOT NULL DEFAULT '';
ALTER TABLE activity_occurrences ADD COLUMN source_organisation_id BIGINT;
ALTER TABLE activity_occurrences ADD COLUMN time_precision TEXT NOT NULL DEFAULT '';
UPDATE activity_occurrences
    SET (plan_id, campaign_id, kind, status, visibility, source_organisation_id, time_precision) = (
        SELECT a.plan_id, a.campaign_id, a.kind, a.status, a.visibility,
               a.source_organisation_id, a.time_precision
        FROM activities a WHERE a.id = activity_occurrences.activity_id);
-- Occurrences in the order a range lists them, every filter column beside
-- them: a page's query, its count and the month grid's slots are read from
-- the index alone, a plan's from the first (the pages always ask for one),
-- any plan's from the second (the API's range without a plan).
CREATE INDEX activity_occurrences_plan_days ON activity_occurrences (
    plan_id, long_span, starts_on, starts_at, activity_id, ends_on,
    time_precision, kind, status, campaign_id, visibility, source_organisation_id);
DROP INDEX activity_occurrences_days;
CREATE INDEX activity_occurrences_days ON activity_occurrences (
    long_span, starts_on, starts_at, activity_id, ends_on,
    time_precision, plan_id, kind, status, campaign_id, visibility, source_organisation_id);
