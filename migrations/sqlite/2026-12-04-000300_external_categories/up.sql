-- The CATEGORIES (RFC 5545 §3.8.1.2) an imported event came with, as a JSON
-- array of strings in the file's order; feeds republish them for that
-- activity instead of the kind and campaign words (issue 12: an export →
-- import → export round trip keeps them). NULL: none.
ALTER TABLE activity_import_fingerprints ADD COLUMN categories TEXT;
