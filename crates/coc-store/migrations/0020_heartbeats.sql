-- COC schema v20 (issue 17): heartbeat monitors. An integration of type
-- `heartbeat` expects a ping every interval; `heartbeat_missed_at` is set
-- while its HeartbeatMissed alarm is raised.
ALTER TABLE integrations ADD COLUMN heartbeat_interval_ms BIGINT;
ALTER TABLE integrations ADD COLUMN last_ping_at BIGINT;
ALTER TABLE integrations ADD COLUMN heartbeat_missed_at BIGINT;
