DROP TABLE job_workers;
DROP TABLE job_attempts;
DROP TABLE jobs;
