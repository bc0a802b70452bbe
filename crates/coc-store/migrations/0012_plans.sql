-- COC schema v12 (issue 5, S4/I4): emergency plans, and the plan an
-- incident's forwarding rule offers.
CREATE TABLE plans (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    enabled BIGINT NOT NULL,
    spec TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX plans_name ON plans (tenant_id, name);
ALTER TABLE incidents ADD COLUMN plan TEXT;
