ALTER TABLE channel_accounts DROP COLUMN credentials_version;
ALTER TABLE channel_accounts DROP COLUMN deleted_at;
ALTER TABLE channel_accounts DROP COLUMN disabled_at;
ALTER TABLE channel_accounts DROP COLUMN name;
