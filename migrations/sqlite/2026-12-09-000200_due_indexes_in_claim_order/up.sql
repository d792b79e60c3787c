-- Claims take the due rows in (next_attempt_at, id) order. With an index on
-- next_attempt_at alone, PostgreSQL sorted every due row on each claim: a
-- newsletter of 100,000 recipients, all due at the same instant, cost a
-- sequential scan and an on-disk sort of 100,000 rows per batch of 400
-- (about 200 ms a claim, most of the database's work while sending). The
-- jobs' claim has the same order.
DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, id) WHERE state IN ('queued', 'retry');
DROP INDEX jobs_due;
CREATE INDEX jobs_due ON jobs (next_attempt_at, id) WHERE state = 'queued';
