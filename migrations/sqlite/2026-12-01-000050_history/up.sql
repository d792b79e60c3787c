-- The change history: append-only. Each entry carries the hash of the one before
-- it, so a changed or removed entry breaks the chain (`pregon history verify`).
-- The triggers refuse UPDATE and DELETE to anyone who has not dropped them first.
CREATE TABLE history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TIMESTAMP NOT NULL,
    actor_kind TEXT NOT NULL CHECK (actor_kind IN ('account', 'system', 'seed', 'import')),
    account_id BIGINT,
    token_id BIGINT,
    session_id BIGINT,
    organisation_id BIGINT,
    entity TEXT NOT NULL,
    entity_id BIGINT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('created', 'updated', 'deleted', 'state_changed')),
    -- JSON: [{"field": "...", "before": ..., "after": ...}]; personal fields carry no values.
    changes TEXT NOT NULL,
    reason TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE
);
CREATE INDEX history_entity ON history (entity, entity_id, id);

CREATE TRIGGER history_no_update BEFORE UPDATE ON history
BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;
CREATE TRIGGER history_no_delete BEFORE DELETE ON history
BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;

-- Review and approval of what goes out (activities, newsletter issues): the state,
-- the hash of the current content per language and the hash that was approved.
CREATE TABLE reviews (
    entity TEXT NOT NULL CHECK (entity IN ('activity', 'issue')),
    entity_id BIGINT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('draft', 'in_review', 'changes_requested', 'approved')),
    content_hash TEXT NOT NULL,
    approved_hash TEXT,
    author_account_id BIGINT,
    last_editor_account_id BIGINT,
    approved_by_account_id BIGINT,
    approved_by_kind TEXT CHECK (approved_by_kind IN ('account', 'system', 'seed', 'import')),
    approved_at TIMESTAMP,
    comment TEXT,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (entity, entity_id)
);
