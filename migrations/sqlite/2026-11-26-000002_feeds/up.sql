-- Private calendar feeds for partners: reached at an unguessable token URL whose
-- token is stored only as a SHA-256 hash.
CREATE TABLE feeds (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    organisation_id INTEGER REFERENCES organisations (id) ON DELETE RESTRICT,
    token_hash TEXT NOT NULL UNIQUE,
    lang TEXT CHECK (lang IN ('es', 'en', 'fr')),
    -- JSON: {"kinds": [...], "campaign_ids": [...], "channel_ids": [...], "statuses": [...], "include_internal": bool}
    filters TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);

-- When a kind of record was last deleted: a feed's Last-Modified must move
-- forward when an event leaves it, which no remaining row can tell.
CREATE TABLE deletions (
    entity TEXT PRIMARY KEY,
    last_deleted_at TIMESTAMP NOT NULL
);
