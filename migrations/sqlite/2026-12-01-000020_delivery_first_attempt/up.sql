-- When a delivery was first attempted: its retry budget (email.retry_for) runs from here.
ALTER TABLE deliveries ADD COLUMN first_attempt_at TIMESTAMP;
