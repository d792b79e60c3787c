-- An account's own settings. No row: the defaults (the weekly digest is on).
CREATE TABLE account_preferences (
    account_id BIGINT PRIMARY KEY NOT NULL REFERENCES accounts (id),
    weekly_digest BOOLEAN NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
