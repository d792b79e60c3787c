-- Newsletter: lists, subscribers and their subscriptions, issues, and one
-- delivery row per recipient and message (newsletter issues, double opt-in
-- confirmations, invitations) so that every send has a recorded outcome.

CREATE TABLE mailing_lists (
    id BIGSERIAL PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT,
    -- Anyone may subscribe through the public endpoint (double opt-in).
    public_subscribe BOOLEAN NOT NULL,
    default_language TEXT NOT NULL CHECK (default_language IN ('es', 'en', 'fr')),
    version INTEGER NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- One row per address. A hard bounce or a complaint suppresses the address
-- for every list.
CREATE TABLE subscribers (
    id BIGSERIAL PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT,
    language TEXT NOT NULL CHECK (language IN ('es', 'en', 'fr')),
    status TEXT NOT NULL CHECK (status IN ('active', 'bounced', 'complained')),
    soft_bounces INTEGER NOT NULL DEFAULT 0,
    suppressed_at TIMESTAMP,
    suppression_reason TEXT,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE subscriptions (
    id BIGSERIAL PRIMARY KEY,
    list_id BIGINT NOT NULL REFERENCES mailing_lists (id) ON DELETE CASCADE,
    subscriber_id BIGINT NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    status TEXT NOT NULL CHECK (status IN ('pending', 'confirmed', 'unsubscribed')),
    -- How consent was obtained: 'public-form', 'api:<token name>', 'import:<file>'.
    source TEXT NOT NULL,
    requested_at TIMESTAMP NOT NULL,
    confirmed_at TIMESTAMP,
    confirm_sent_at TIMESTAMP,
    confirm_expires_at TIMESTAMP,
    unsubscribed_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (list_id, subscriber_id)
);
CREATE INDEX subscriptions_subscriber ON subscriptions (subscriber_id);

CREATE TABLE newsletter_issues (
    id BIGSERIAL PRIMARY KEY,
    -- Random, so Message-IDs never repeat across reinstalls.
    uid TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    activity_id BIGINT REFERENCES activities (id) ON DELETE SET NULL,
    state TEXT NOT NULL CHECK (state IN ('draft', 'scheduled', 'sending', 'paused', 'sent', 'sent_with_failures', 'failed', 'cancelled')),
    scheduled_at TIMESTAMP,
    schedule_zone TEXT,
    started_at TIMESTAMP,
    finished_at TIMESTAMP,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CHECK (state <> 'scheduled' OR (scheduled_at IS NOT NULL AND schedule_zone IS NOT NULL))
);
CREATE INDEX newsletter_issues_due ON newsletter_issues (state, scheduled_at);

CREATE TABLE newsletter_issue_lists (
    issue_id BIGINT NOT NULL REFERENCES newsletter_issues (id) ON DELETE CASCADE,
    list_id BIGINT NOT NULL REFERENCES mailing_lists (id) ON DELETE RESTRICT,
    PRIMARY KEY (issue_id, list_id)
);

CREATE TABLE newsletter_issue_translations (
    issue_id BIGINT NOT NULL REFERENCES newsletter_issues (id) ON DELETE CASCADE,
    lang TEXT NOT NULL CHECK (lang IN ('es', 'en', 'fr')),
    subject TEXT NOT NULL,
    body_markdown TEXT NOT NULL,
    PRIMARY KEY (issue_id, lang)
);

-- One message to one recipient. `state`: queued → sending → sent, or retry
-- (4xx, with next_attempt_at), failed (5xx), unknown (may or may not have been
-- accepted), cancelled. `claimed_by` names the dispatcher holding the row.
CREATE TABLE deliveries (
    id BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('newsletter', 'confirmation', 'invitation')),
    issue_id BIGINT REFERENCES newsletter_issues (id) ON DELETE CASCADE,
    subscriber_id BIGINT REFERENCES subscribers (id) ON DELETE SET NULL,
    subscription_id BIGINT REFERENCES subscriptions (id) ON DELETE CASCADE,
    activity_id BIGINT REFERENCES activities (id) ON DELETE CASCADE,
    person_id BIGINT REFERENCES people (id) ON DELETE SET NULL,
    email TEXT NOT NULL,
    name TEXT,
    language TEXT NOT NULL CHECK (language IN ('es', 'en', 'fr')),
    method TEXT CHECK (method IN ('request', 'cancel')),
    sequence INTEGER,
    message_id TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'retry', 'failed', 'unknown', 'cancelled')),
    attempts INTEGER NOT NULL DEFAULT 0,
    unknown_outcomes INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    claimed_by TEXT,
    claimed_at TIMESTAMP,
    smtp_code INTEGER,
    smtp_reply TEXT,
    sent_at TIMESTAMP,
    bounced_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (issue_id, subscriber_id)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE state IN ('queued', 'retry');
CREATE INDEX deliveries_issue_state ON deliveries (issue_id, state);
CREATE INDEX deliveries_claimed ON deliveries (claimed_by) WHERE claimed_by IS NOT NULL;
CREATE INDEX deliveries_activity ON deliveries (activity_id) WHERE activity_id IS NOT NULL;

-- Bounce and complaint reports as received, for the record.
CREATE TABLE bounces (
    id BIGSERIAL PRIMARY KEY,
    email TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('hard', 'soft', 'complaint')),
    subscriber_id BIGINT REFERENCES subscribers (id) ON DELETE SET NULL,
    delivery_id BIGINT REFERENCES deliveries (id) ON DELETE SET NULL,
    reason TEXT,
    created_at TIMESTAMP NOT NULL
);

-- Running dispatchers and their heartbeats, so a dead one's deliveries can
-- be recovered.
CREATE TABLE dispatchers (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at TIMESTAMP NOT NULL,
    heartbeat_at TIMESTAMP NOT NULL
);

-- Sending limits changed at run time (NULL: the configured value).
CREATE TABLE email_limits (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    rate_per_second INTEGER,
    rate_per_hour INTEGER,
    concurrency INTEGER,
    updated_at TIMESTAMP NOT NULL
);

-- Keys generated on first use and shared by every process on this database
-- (the key that signs unsubscribe and confirmation links).
CREATE TABLE service_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
