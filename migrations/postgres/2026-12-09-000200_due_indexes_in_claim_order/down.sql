DROP INDEX jobs_due;
CREATE INDEX jobs_due ON jobs (next_attempt_at) WHERE state = 'queued';
DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE state IN ('queued', 'retry');
