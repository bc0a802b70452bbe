-- COC schema v19 (issue 17): silences and maintenance windows. Matchers and
-- the weekly window are JSON text; an alarm silenced when it arrived keeps
-- the id of the silence that muted it.
CREATE TABLE silences (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    matchers TEXT NOT NULL,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    weekly TEXT,
    comment TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX silences_tenant_end ON silences (tenant_id, ends_at);
ALTER TABLE alarms ADD COLUMN silenced_by TEXT;
