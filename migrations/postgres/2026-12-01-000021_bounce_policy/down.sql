DELETE FROM bounces WHERE kind = 'policy';
ALTER TABLE bounces DROP CONSTRAINT bounces_kind_check;
ALTER TABLE bounces ADD CONSTRAINT bounces_kind_check CHECK (kind IN ('hard', 'soft', 'complaint'));
