DROP INDEX history_entity_at;
