-- RDATE occurrences of a series (RFC 5545 §3.8.5.2): extra starts beside the
-- RRULE's, each with the series' length, as a comma-separated list of
-- occurrence keys in the activity's own frame (wall-clock date-times in its
-- zone, or dates for whole days), sorted. NULL: none.
ALTER TABLE activities ADD COLUMN rdates TEXT;
