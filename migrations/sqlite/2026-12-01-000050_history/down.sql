DROP TABLE reviews;
DROP TRIGGER history_no_delete;
DROP TRIGGER history_no_update;
DROP INDEX history_entity;
DROP TABLE history;
