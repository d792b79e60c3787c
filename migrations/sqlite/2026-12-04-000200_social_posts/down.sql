DROP TABLE bluesky_records;
DROP TABLE post_publications;
DROP INDEX channel_accounts_channel;
ALTER TABLE channel_accounts DROP COLUMN sealed_session;
ALTER TABLE channel_accounts DROP COLUMN channel_id;
