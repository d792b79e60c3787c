-- Back to tokens without accounts. An approver token becomes an editor token
-- (the role did not exist before); accounts and their data are dropped.
ALTER TABLE api_tokens DROP CONSTRAINT api_tokens_role_check;
UPDATE api_tokens SET role = 'editor' WHERE role = 'approver';
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_role_check
    CHECK (role IN ('admin', 'editor', 'viewer'));
DROP INDEX api_tokens_account;
ALTER TABLE api_tokens DROP COLUMN account_id;
DROP TABLE accounts;
