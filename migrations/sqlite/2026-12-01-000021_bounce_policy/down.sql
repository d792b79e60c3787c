CREATE TABLE bounces_copy AS SELECT * FROM bounces WHERE kind <> 'policy';
DROP TABLE bounces;
CREATE TABLE bounces (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('hard', 'soft', 'complaint')),
    subscriber_id INTEGER REFERENCES subscribers (id) ON DELETE SET NULL,
    delivery_id INTEGER REFERENCES deliveries (id) ON DELETE SET NULL,
    reason TEXT,
    created_at TIMESTAMP NOT NULL
);
INSERT INTO bounces SELECT * FROM bounces_copy;
DROP TABLE bounces_copy;
