-- People's accounts. API tokens belong to an account and act as it, with at
-- most its role. Tokens that existed before accounts each get a built-in
-- account (kind 'token') named after the token, with the token's role; the
-- accounts of revoked tokens are created disabled. Two more built-in accounts,
-- 'seed' and 'system', name who loaded the default plan and Pregón's own work
-- in the history; nobody can sign in as a built-in account.
CREATE TABLE accounts (
    id BIGSERIAL PRIMARY KEY,
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
VALUES ('seed', NULL, 'seed', 'en', 'admin', 'active', 1, now() AT TIME ZONE 'utc', now() AT TIME ZONE 'utc'),
       ('system', NULL, 'system', 'en', 'admin', 'active', 1, now() AT TIME ZONE 'utc', now() AT TIME ZONE 'utc');

ALTER TABLE api_tokens ADD COLUMN account_id BIGINT REFERENCES accounts (id) ON DELETE RESTRICT;
UPDATE api_tokens SET account_id = a.id FROM accounts a WHERE a.kind = 'token' AND a.name = api_tokens.name;
ALTER TABLE api_tokens ALTER COLUMN account_id SET NOT NULL;
CREATE INDEX api_tokens_account ON api_tokens (account_id);
ALTER TABLE api_tokens DROP CONSTRAINT api_tokens_role_check;
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_role_check
    CHECK (role IN ('admin', 'approver', 'editor', 'viewer'));
