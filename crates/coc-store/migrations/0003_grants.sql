-- COC schema v3 (issue 3, A6): O&M authorization grants and log sharing.
CREATE TABLE grants (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    grantee_tenant TEXT NOT NULL,
    grantee_user TEXT NOT NULL,
    policy_id TEXT,
    scope TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX grants_grantee ON grants (grantee_tenant, grantee_user, tenant_id);
