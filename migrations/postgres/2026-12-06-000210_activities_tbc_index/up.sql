-- The month and week pages list a plan's to-be-confirmed activities apart:
-- found by plan and precision, not by reading the whole plan.
CREATE INDEX activities_plan_precision ON activities (plan_id, time_precision);
