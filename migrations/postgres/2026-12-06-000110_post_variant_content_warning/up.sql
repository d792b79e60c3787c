-- A post variant may carry a content warning (Mastodon's spoiler_text,
-- counted in its length as Mastodon counts it). Bluesky has none: a variant
-- with one on a Bluesky channel is refused (docs/social.md says why).
ALTER TABLE post_variants ADD COLUMN content_warning TEXT;
