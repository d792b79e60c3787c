DROP TABLE manual_done_links;
UPDATE post_publications SET state = 'queued' WHERE state = 'awaiting_owner';
ALTER TABLE post_publications DROP CONSTRAINT post_publications_state_check;
ALTER TABLE post_publications ADD CONSTRAINT post_publications_state_check
    CHECK (state IN ('queued', 'published', 'failed', 'unknown'));
