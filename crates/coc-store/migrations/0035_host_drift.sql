-- Drift (R5): a host's desired state, the state its agent last reported,
-- the differences between them and whether the host's drift alarm is
-- raised. One row per host with a desired state; removed with the host.
CREATE TABLE host_drift (
    host_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    desired TEXT NOT NULL,
    observed TEXT,
    differences TEXT NOT NULL,
    checked_at BIGINT,
    drifted_since BIGINT,
    alarm_raised BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX host_drift_tenant ON host_drift (tenant_id, host_id);
