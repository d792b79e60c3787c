-- People's accounts. API tokens belong to an account and act as it, with at
-- most its role. Tokens that existed before accounts each get a built-in
-- account (kind 'token') named after the token, with the token's role; the
-- accounts of revoked tokens are created disabled. Two more built-in accounts,
-- 'seed' and 'system', name who loaded the default plan and Pregón's own work
-- in the history; nobody can sign in as a built-in account.
CREATE TABLE accounts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('person', 'token', 'seed', 'system')),
    -- Only people have an email; it is unique whatever its case.
    email TEXT,
    name TEXT NOT NULL,
    language TEXT NOT NULL CHECK (language IN ('es', 'en', 'fr')),
    role TEXT NOT NULL CHECK (role IN ('viewer', 'editor', 'approver', 'admin')),
    status TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
    -- An argon2id PHC string, or NULL: then only a sign-in link lets them in.
    password_hash TEXT,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CHECK ((kind = 'person') = (email IS NOT NULL))
);
CREATE UNIQUE INDEX accounts_email ON accounts (lower(email));
CREATE UNIQUE INDEX accounts_built_in_name ON accounts (kind, name) WHERE kind <> 'person';

INSERT INTO accounts (kind, email, name, language, role, status, version, created_at, updated_at)
SELECT 'token', NULL, name, 'en', role,
       CASE WHEN revoked_at IS NULL THEN 'active' ELSE 'disabled' END,
       1, created_at, created_at
FROM api_tokens ORDER BY id;

INSERT INTO accounts (kind, email, name, language, role, status, version, created_at, updated_at)
VALUES ('seed', NULL, 'seed', 'en', 'admin', 'active', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
       ('system', NULL, 'system', 'en', 'admin', 'active', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP);

-- SQLite cannot add a NOT NULL reference or change a CHECK in place: the table
-- is rebuilt, keeping every id, hash and date.
CREATE TABLE api_tokens_before_accounts AS SELECT * FROM api_tokens;
DROP TABLE api_tokens;
CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE RESTRICT,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('admin', 'approver', 'editor', 'viewer')),
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    revoked_at TIMESTAMP
);
CREATE INDEX api_tokens_account ON api_tokens (account_id);
INSERT INTO api_tokens (id, account_id, name, role, token_hash, created_at, last_used_at, revoked_at)
SELECT t.id, a.id, t.name, t.role, t.token_hash, t.created_at, t.last_used_at, t.revoked_at
FROM api_tokens_before_accounts t
JOIN accounts a ON a.kind = 'token' AND a.name = t.name;
DROP TABLE api_tokens_before_accounts;
