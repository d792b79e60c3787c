-- Core plan model. Times are UTC (TIMESTAMP without zone); an activity's own IANA
-- zone is kept beside them so wall-clock times and recurrences stay correct.

CREATE TABLE api_tokens (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    revoked_at TIMESTAMP
);

CREATE TABLE organisations (
    id BIGSERIAL PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('community', 'secretariat', 'partner', 'member_group', 'city', 'external')),
    description TEXT,
    website TEXT,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE people (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    title TEXT,
    organisation_id BIGINT REFERENCES organisations (id) ON DELETE RESTRICT,
    email TEXT,
    language TEXT CHECK (language IN ('es', 'en', 'fr')),
    version INTEGER NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE plans (
    id BIGSERIAL PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    description TEXT,
    organisation_id BIGINT NOT NULL REFERENCES organisations (id) ON DELETE RESTRICT,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE plan_periods (
    id BIGSERIAL PRIMARY KEY,
    plan_id BIGINT NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    starts_on DATE,
    ends_on DATE,
    CHECK (starts_on IS NULL OR ends_on IS NULL OR ends_on >= starts_on)
);

CREATE TABLE plan_goals (
    id BIGSERIAL PRIMARY KEY,
    plan_id BIGINT NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    period_id BIGINT REFERENCES plan_periods (id) ON DELETE SET NULL,
    description TEXT NOT NULL
);

CREATE TABLE channels (
    id BIGSERIAL PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('website', 'newsletter', 'social', 'forum', 'email')),
    name TEXT NOT NULL,
    network TEXT,
    handle TEXT,
    url TEXT,
    organisation_id BIGINT REFERENCES organisations (id) ON DELETE RESTRICT,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE campaigns (
    id BIGSERIAL PRIMARY KEY,
    plan_id BIGINT NOT NULL REFERENCES plans (id) ON DELETE RESTRICT,
    slug TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL CHECK (status IN ('draft', 'planned', 'tentative', 'confirmed', 'done', 'cancelled', 'failed')),
    starts_on DATE,
    ends_on DATE,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CHECK (starts_on IS NULL OR ends_on IS NULL OR ends_on >= starts_on)
);

CREATE TABLE campaign_translations (
    campaign_id BIGINT NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    lang TEXT NOT NULL CHECK (lang IN ('es', 'en', 'fr')),
    title TEXT NOT NULL,
    description TEXT,
    PRIMARY KEY (campaign_id, lang)
);

CREATE TABLE campaign_channels (
    campaign_id BIGINT NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    channel_id BIGINT NOT NULL REFERENCES channels (id) ON DELETE RESTRICT,
    PRIMARY KEY (campaign_id, channel_id)
);

CREATE TABLE activities (
    id BIGSERIAL PRIMARY KEY,
    uid TEXT NOT NULL UNIQUE,
    plan_id BIGINT NOT NULL REFERENCES plans (id) ON DELETE RESTRICT,
    period_id BIGINT REFERENCES plan_periods (id) ON DELETE RESTRICT,
    campaign_id BIGINT REFERENCES campaigns (id) ON DELETE RESTRICT,
    kind TEXT NOT NULL CHECK (kind IN ('milestone', 'newsletter_issue', 'social_post', 'event', 'learning_meeting', 'progress_report', 'external')),
    status TEXT NOT NULL CHECK (status IN ('draft', 'planned', 'tentative', 'confirmed', 'done', 'cancelled', 'failed')),
    visibility TEXT NOT NULL CHECK (visibility IN ('public', 'internal')),
    owner_person_id BIGINT REFERENCES people (id) ON DELETE RESTRICT,
    owner_organisation_id BIGINT REFERENCES organisations (id) ON DELETE RESTRICT,
    time_precision TEXT NOT NULL CHECK (time_precision IN ('exact', 'days', 'month', 'tbc')),
    starts_at TIMESTAMP,
    ends_at TIMESTAMP,
    time_zone TEXT,
    start_date DATE,
    end_date DATE,
    rrule TEXT,
    place_name TEXT,
    place_address TEXT,
    place_url TEXT,
    actual_start_date DATE,
    actual_end_date DATE,
    source_organisation_id BIGINT REFERENCES organisations (id) ON DELETE RESTRICT,
    external_uid TEXT,
    external_sequence INTEGER,
    external_last_modified TIMESTAMP,
    sequence INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    cancelled_at TIMESTAMP,
    CHECK ((time_precision = 'exact') = (starts_at IS NOT NULL AND ends_at IS NOT NULL AND time_zone IS NOT NULL)),
    CHECK (starts_at IS NULL OR ends_at > starts_at),
    CHECK (time_precision NOT IN ('days', 'month') OR (start_date IS NOT NULL AND end_date IS NOT NULL)),
    CHECK (start_date IS NULL OR end_date >= start_date),
    CHECK (time_precision <> 'tbc' OR rrule IS NULL),
    UNIQUE (source_organisation_id, external_uid)
);
CREATE INDEX activities_dates ON activities (starts_at, start_date);
CREATE INDEX activities_campaign ON activities (campaign_id);

CREATE TABLE activity_translations (
    activity_id BIGINT NOT NULL REFERENCES activities (id) ON DELETE CASCADE,
    lang TEXT NOT NULL CHECK (lang IN ('es', 'en', 'fr')),
    title TEXT NOT NULL,
    description TEXT,
    PRIMARY KEY (activity_id, lang)
);

CREATE TABLE activity_channels (
    activity_id BIGINT NOT NULL REFERENCES activities (id) ON DELETE CASCADE,
    channel_id BIGINT NOT NULL REFERENCES channels (id) ON DELETE RESTRICT,
    PRIMARY KEY (activity_id, channel_id)
);

CREATE TABLE activity_partners (
    activity_id BIGINT NOT NULL REFERENCES activities (id) ON DELETE CASCADE,
    organisation_id BIGINT NOT NULL REFERENCES organisations (id) ON DELETE RESTRICT,
    role TEXT NOT NULL CHECK (role IN ('co_organiser', 'host', 'partner', 'audience')),
    PRIMARY KEY (activity_id, organisation_id)
);

CREATE TABLE activity_exceptions (
    activity_id BIGINT NOT NULL REFERENCES activities (id) ON DELETE CASCADE,
    recurrence_id TEXT NOT NULL,
    cancelled BOOLEAN NOT NULL,
    starts_at TIMESTAMP,
    ends_at TIMESTAMP,
    start_date DATE,
    end_date DATE,
    PRIMARY KEY (activity_id, recurrence_id)
);

CREATE TABLE post_variants (
    activity_id BIGINT NOT NULL REFERENCES activities (id) ON DELETE CASCADE,
    channel_id BIGINT NOT NULL REFERENCES channels (id) ON DELETE RESTRICT,
    lang TEXT NOT NULL CHECK (lang IN ('es', 'en', 'fr')),
    body TEXT NOT NULL,
    PRIMARY KEY (activity_id, channel_id, lang)
);

CREATE TABLE participations (
    id BIGSERIAL PRIMARY KEY,
    activity_id BIGINT NOT NULL REFERENCES activities (id) ON DELETE CASCADE,
    person_id BIGINT NOT NULL REFERENCES people (id) ON DELETE RESTRICT,
    role TEXT NOT NULL CHECK (role IN ('represents', 'speaker', 'moderator', 'co_organiser', 'organiser', 'attendee')),
    represents_organisation_id BIGINT REFERENCES organisations (id) ON DELETE RESTRICT,
    note TEXT,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (activity_id, person_id, role)
);
