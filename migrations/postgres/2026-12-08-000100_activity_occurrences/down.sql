DROP INDEX activity_spans_stored_through;
DROP INDEX activity_spans_unstored;
ALTER TABLE activity_spans DROP COLUMN stored_through;
ALTER TABLE activity_spans DROP COLUMN occurrences_stored;
DROP TABLE activity_occurrences;
