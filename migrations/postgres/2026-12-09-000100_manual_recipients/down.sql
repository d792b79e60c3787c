DROP TABLE manual_post_deliveries;
ALTER TABLE channel_accounts DROP COLUMN config;
