-- COC schema v10 (issue 5, X6): the parameter center — parameters per
-- region (encrypted values encrypted at rest), every version, the
-- notifications sent, and parameter references of tickets.
CREATE TABLE parameters (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    enterprise_project TEXT,
    value TEXT NOT NULL,
    version BIGINT NOT NULL,
    spec TEXT NOT NULL,
    expires_at BIGINT,
    notices BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    modified_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX parameters_name ON parameters (tenant_id, region, name);
CREATE INDEX parameters_expiry ON parameters (expires_at);

CREATE TABLE parameter_versions (
    parameter_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    tenant_id TEXT NOT NULL,
    value TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (parameter_id, version)
);

CREATE TABLE parameter_notices (
    parameter_id TEXT NOT NULL,
    notice TEXT NOT NULL,
    version BIGINT NOT NULL,
    sent_at BIGINT NOT NULL,
    PRIMARY KEY (parameter_id, notice, version)
);

ALTER TABLE tickets ADD COLUMN param_refs TEXT;
