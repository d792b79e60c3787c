DROP INDEX activities_plan_precision;
