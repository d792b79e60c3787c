ALTER TABLE activity_exceptions DROP COLUMN location;
DROP TABLE activity_exception_translations;
