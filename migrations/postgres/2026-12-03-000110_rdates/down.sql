ALTER TABLE activities DROP COLUMN rdates;
