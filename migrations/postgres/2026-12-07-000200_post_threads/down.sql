DROP TABLE post_parts;
ALTER TABLE post_variants DROP COLUMN thread;
