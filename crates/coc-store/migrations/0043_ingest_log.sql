-- COC schema v43 (issue 17, decision 0031): an integration's
-- acknowledgement ('applied': answered after the alarms are applied;
-- 'received': answered once they are in the ingest log), and the last
-- ingest-log sequence number applied, written in the same transaction as
-- the alarms it applied (SQLite; the log itself is a database file of its
-- own beside this one).
ALTER TABLE integrations ADD COLUMN acknowledge TEXT NOT NULL DEFAULT 'applied';
CREATE TABLE ingest_applied (
    id INTEGER PRIMARY KEY,
    seq BIGINT NOT NULL
);
