-- COC schema v21 (issue 17): inhibition rules. An alarm inhibited when it
-- arrived keeps the id of the rule that inhibited it.
CREATE TABLE inhibition_rules (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    spec TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX inhibition_rules_name ON inhibition_rules (tenant_id, name);
ALTER TABLE alarms ADD COLUMN inhibited_by TEXT;
-- Alarms that arrived as a rule's inhibiting source, by the values of the
-- rule's equal labels; a target looks its key up here, joined to alarms
-- for the source still firing.
CREATE TABLE inhibition_sources (
    tenant_id TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    equal_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    PRIMARY KEY (tenant_id, rule_id, equal_key, fingerprint)
);
