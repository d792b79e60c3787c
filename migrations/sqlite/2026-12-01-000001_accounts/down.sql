-- Back to tokens without accounts. An approver token becomes an editor token
-- (the role did not exist before); accounts and their data are dropped.
CREATE TABLE api_tokens_with_accounts AS SELECT * FROM api_tokens;
DROP TABLE api_tokens;
CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    revoked_at TIMESTAMP
);
INSERT INTO api_tokens (id, name, role, token_hash, created_at, last_used_at, revoked_at)
SELECT id, name, CASE WHEN role = 'approver' THEN 'editor' ELSE role END,
       token_hash, created_at, last_used_at, revoked_at
FROM api_tokens_with_accounts;
DROP TABLE api_tokens_with_accounts;
DROP TABLE accounts;
