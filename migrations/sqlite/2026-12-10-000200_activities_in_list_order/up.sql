-- The order of a list without a date range (db::activities::in_list_order:
-- dated first, by day, start and id), so that a page of it (the agenda, the
-- API's list) reads its rows in order and stops instead of sorting the whole
-- plan for every request: a plan's (the pages always ask for one) and any
-- plan's (the API without a plan).
CREATE INDEX activities_plan_list_order
    ON activities (plan_id, start_date IS NULL, start_date, starts_at, id);
CREATE INDEX activities_list_order
    ON activities (start_date IS NULL, start_date, starts_at, id);
