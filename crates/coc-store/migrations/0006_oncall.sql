-- COC schema v6 (issue 4, O2): scheduling scenarios with their shift
-- schedules (JSON).
CREATE TABLE oncall_scenarios (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    application TEXT,
    region TEXT,
    spec TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX oncall_scenarios_name ON oncall_scenarios (tenant_id, name);
