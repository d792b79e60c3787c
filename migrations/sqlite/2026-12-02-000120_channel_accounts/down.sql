DROP TABLE channel_accounts;
