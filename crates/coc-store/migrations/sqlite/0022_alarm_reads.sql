-- COC schema v22 (issue 17): alarm lists stay fast as the store grows, and
-- nothing joins alarms by fingerprint any more.
--
-- Pages of the alarm center walk one of these indexes newest first
-- (`ORDER BY id DESC`, ids being time-ordered UUIDv7) and stop after a page;
-- the third serves an integration's firing alarms (the Alertmanager API),
-- the fourth the integration page's last alarm.
CREATE INDEX alarms_recent ON alarms (tenant_id, id);
CREATE INDEX alarms_by_status ON alarms (tenant_id, status, id);
CREATE INDEX alarms_by_integration ON alarms (tenant_id, integration_id, status, id);
CREATE INDEX alarms_last_of_integration ON alarms (tenant_id, integration_id, updated_at);
-- Inhibiting sources point at their alarm by id (was: by fingerprint).
CREATE TABLE inhibition_sources_v22 (
    tenant_id TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    equal_key TEXT NOT NULL,
    alarm_id TEXT NOT NULL,
    PRIMARY KEY (tenant_id, rule_id, equal_key, alarm_id)
);
INSERT INTO inhibition_sources_v22 (tenant_id, rule_id, equal_key, alarm_id)
    SELECT s.tenant_id, s.rule_id, s.equal_key, a.id FROM inhibition_sources s
    JOIN alarms a ON a.tenant_id = s.tenant_id AND a.fingerprint = s.fingerprint;
DROP TABLE inhibition_sources;
ALTER TABLE inhibition_sources_v22 RENAME TO inhibition_sources;
CREATE INDEX inhibition_sources_alarm ON inhibition_sources (alarm_id);
-- SQLite: the fingerprint → alarm map lives in the ingest writer's memory
-- (decision 0016); the unique index on (tenant, fingerprint) was the
-- random-access b-tree that bounded ingest as the store grew.
DROP INDEX alarms_fp;
