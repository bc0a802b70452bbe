-- COC schema v2 (issue 3): tenants, users, groups, policies and their
-- attachments, API tokens, and the audit trail.

CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    display_name TEXT NOT NULL,
    password_hash TEXT,
    enabled BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_name ON users (tenant_id, name);

CREATE TABLE user_groups (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX user_groups_name ON user_groups (tenant_id, name);

CREATE TABLE group_members (
    group_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

CREATE TABLE policies (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    document TEXT NOT NULL,
    system BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX policies_name ON policies (tenant_id, name);

CREATE TABLE policy_attachments (
    policy_id TEXT NOT NULL,
    principal_type TEXT NOT NULL,
    principal_id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (policy_id, principal_type, principal_id)
);
CREATE INDEX policy_attachments_principal ON policy_attachments (principal_type, principal_id);

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    hint TEXT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT,
    last_used_at BIGINT,
    last_ip TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    trace TEXT NOT NULL,
    action TEXT NOT NULL,
    user_name TEXT NOT NULL,
    source_ip TEXT,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id TEXT,
    request TEXT NOT NULL,
    status BIGINT NOT NULL,
    result TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (tenant_id, at, id);
