-- COC schema v24 (issue 17): alarm convergence. An incident knows when an
-- alarm last joined it (a group's window slides with it); a rule's
-- incidents of the last minute are counted for storms.
ALTER TABLE incidents ADD COLUMN last_alarm_at BIGINT;
CREATE INDEX incidents_rule_created ON incidents (tenant_id, rule_id, created_at);
