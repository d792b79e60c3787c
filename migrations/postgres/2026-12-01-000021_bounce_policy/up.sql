-- Policy refusals (5.7.x: spam filters, reputation, DMARC) are recorded as
-- bounces of their own kind, which never suppress the address.
ALTER TABLE bounces DROP CONSTRAINT bounces_kind_check;
ALTER TABLE bounces ADD CONSTRAINT bounces_kind_check CHECK (kind IN ('hard', 'soft', 'complaint', 'policy'));
