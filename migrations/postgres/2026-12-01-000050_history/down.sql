DROP TABLE reviews;
DROP TRIGGER history_no_truncate ON history;
DROP TRIGGER history_no_change ON history;
DROP FUNCTION history_append_only();
DROP TABLE history;
