-- The mailboxes Pregón reads bounces, complaints and invitation replies from
-- (IMAP): where it got to. A message is handled once: its UID is at most
-- last_uid for the mailbox's UIDVALIDITY, whatever restarts in between.
CREATE TABLE inbound_mailboxes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    uid_validity BIGINT NOT NULL,
    last_uid BIGINT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- Every message read, and what became of it.
CREATE TABLE inbound_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    mailbox_id INTEGER NOT NULL REFERENCES inbound_mailboxes (id) ON DELETE CASCADE,
    uid_validity BIGINT NOT NULL,
    uid BIGINT NOT NULL,
    message_id TEXT,
    outcome TEXT NOT NULL CHECK (outcome IN ('bounce', 'complaint', 'reply', 'ignored', 'skipped')),
    detail TEXT NOT NULL,
    received_at TIMESTAMP NOT NULL,
    UNIQUE (mailbox_id, uid_validity, uid)
);
