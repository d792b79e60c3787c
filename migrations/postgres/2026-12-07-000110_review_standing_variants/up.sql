-- Approval per post variant: when an edit changes only some variants of an
-- approved social post, the approved hashes of the variants left as they
-- were still stand (`standing_hash`, the same JSON map as `approved_hash`)
-- while the review is back in review for the edited ones.
ALTER TABLE reviews ADD COLUMN standing_hash TEXT;
