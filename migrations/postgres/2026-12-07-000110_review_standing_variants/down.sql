ALTER TABLE reviews DROP COLUMN standing_hash;
