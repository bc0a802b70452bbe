-- Patch baselines (issue 19, P1): named documents of a tenant.
CREATE TABLE patch_baselines (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    enabled BIGINT NOT NULL,
    spec TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX patch_baselines_name ON patch_baselines (tenant_id, name);
