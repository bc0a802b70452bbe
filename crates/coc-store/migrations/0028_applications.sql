-- Applications (R6): the unit alarms, incidents, schedules, SLAs and
-- changes hang on. The definition (description, owner, enterprise
-- project, modules, regions) is one JSON document; the name is a column
-- so that it is unique per tenant and found by the CLI.
CREATE TABLE applications (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    spec TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (tenant_id, name)
);
