-- COC schema v25 (issue 17): alarms waiting for a forwarding rule's
-- `after_minutes` before it opens their incident.
CREATE TABLE delayed_alarms (
    alarm_id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    due_at BIGINT NOT NULL,
    PRIMARY KEY (alarm_id, rule_id)
);
CREATE INDEX delayed_alarms_due ON delayed_alarms (due_at);
