-- A channel account can be named, disabled (nothing goes out through it)
-- and deleted (its credentials and session erased, the row kept for the
-- publications that point at it). Each rotation of its credentials bumps
-- `credentials_version`, which the sealing is bound to: a sealed secret of
-- an earlier version no longer opens.
ALTER TABLE channel_accounts ADD COLUMN name TEXT;
ALTER TABLE channel_accounts ADD COLUMN disabled_at TIMESTAMP;
ALTER TABLE channel_accounts ADD COLUMN deleted_at TIMESTAMP;
ALTER TABLE channel_accounts ADD COLUMN credentials_version INTEGER NOT NULL DEFAULT 1;
