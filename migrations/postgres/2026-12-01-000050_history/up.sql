-- The change history: append-only. Each entry carries the hash of the one before
-- it (`pregon history verify`); the trigger refuses UPDATE, DELETE and TRUNCATE.
CREATE TABLE history (
    id BIGSERIAL PRIMARY KEY,
    at TIMESTAMP NOT NULL,
    actor_kind TEXT NOT NULL CHECK (actor_kind IN ('account', 'system', 'seed', 'import')),
    account_id BIGINT,
    token_id BIGINT,
    session_id BIGINT,
    organisation_id BIGINT,
    entity TEXT NOT NULL,
    entity_id BIGINT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('created', 'updated', 'deleted', 'state_changed')),
    changes TEXT NOT NULL,
    reason TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE
);
CREATE INDEX history_entity ON history (entity, entity_id, id);

CREATE FUNCTION history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'history is append-only';
END;
$$;
CREATE TRIGGER history_no_change BEFORE UPDATE OR DELETE ON history
    FOR EACH ROW EXECUTE FUNCTION history_append_only();
CREATE TRIGGER history_no_truncate BEFORE TRUNCATE ON history
    FOR EACH STATEMENT EXECUTE FUNCTION history_append_only();

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
