DROP INDEX activities_list_order;
DROP INDEX activities_plan_list_order;
