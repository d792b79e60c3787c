-- An account on a network that a channel publishes through. Credentials are
-- sealed with credentials.key; never returned, logged or in the history.
CREATE TABLE channel_accounts (
    id BIGSERIAL PRIMARY KEY,
    network TEXT NOT NULL CHECK (network IN ('mastodon', 'bluesky', 'webhook', 'manual')),
    base_url TEXT NOT NULL,
    handle TEXT,
    sealed_credentials TEXT,
    -- Cached instance configuration (Mastodon /api/v2/instance), JSON.
    limits TEXT,
    limits_fetched_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
