-- Signing in. Every secret (a link's, a session's) is 256 random bits stored
-- only as its SHA-256 hash.

-- One-time sign-in links: emailed (or printed by `pregon user create`),
-- valid for a few minutes, good for one session.
CREATE TABLE sign_in_links (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    secret_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE INDEX sign_in_links_account ON sign_in_links (account_id);

-- Server-side sessions: expiring, revocable, listed per person.
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    secret_hash TEXT NOT NULL UNIQUE,
    method TEXT NOT NULL CHECK (method IN ('password', 'link')),
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);
CREATE INDEX sessions_account ON sessions (account_id);

-- Failed sign-ins, counted per account and per client address over a window
-- on the service's clock; in the database, so every process shares the count.
-- Rows older than the window are deleted as new ones come.
CREATE TABLE sign_in_failures (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER REFERENCES accounts (id) ON DELETE CASCADE,
    ip TEXT NOT NULL,
    failed_at TIMESTAMP NOT NULL
);
CREATE INDEX sign_in_failures_account ON sign_in_failures (account_id, failed_at);
CREATE INDEX sign_in_failures_ip ON sign_in_failures (ip, failed_at);
