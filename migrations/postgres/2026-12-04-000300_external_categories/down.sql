ALTER TABLE activity_import_fingerprints DROP COLUMN categories;
