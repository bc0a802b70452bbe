-- COC schema v5 (issue 3): per-tenant agent enrollment tokens, separate
-- from user tokens.
CREATE TABLE agent_enrollments (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    hint TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
