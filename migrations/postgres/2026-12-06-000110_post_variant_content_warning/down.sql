ALTER TABLE post_variants DROP COLUMN content_warning;
