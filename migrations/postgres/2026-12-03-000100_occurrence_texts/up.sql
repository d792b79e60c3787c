-- What one occurrence of a series says differently from the series (RFC 5545
-- §3.8.4.4: a RECURRENCE-ID instance may change SUMMARY, DESCRIPTION,
-- LOCATION, not only its time): per language a title and description that
-- replace the series' own in that language, and the place's name. Rewritten
-- with the activity's exceptions on every write (db::activities).
CREATE TABLE activity_exception_translations (
    activity_id BIGINT NOT NULL REFERENCES activities (id) ON DELETE CASCADE,
    recurrence_id TEXT NOT NULL,
    lang TEXT NOT NULL CHECK (lang IN ('es', 'en', 'fr')),
    title TEXT NOT NULL,
    description TEXT,
    PRIMARY KEY (activity_id, recurrence_id, lang)
);
ALTER TABLE activity_exceptions ADD COLUMN location TEXT;
