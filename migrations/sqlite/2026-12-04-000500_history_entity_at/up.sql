-- When a kind of record last changed (feeds' Last-Modified, on every rebuild):
-- the newest `at` of one entity is one step down this index, not a pass over
-- every entry about it, which grows with each write.
CREATE INDEX history_entity_at ON history (entity, at);
