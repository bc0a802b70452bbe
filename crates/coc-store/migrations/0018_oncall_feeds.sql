-- COC schema v18 (issue 16): on-call calendar subscriptions. Each feed is
-- a secret URL (only its SHA-256 is kept) owned by a user, listing one
-- person's shifts or a scenario's.
CREATE TABLE oncall_feeds (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    scope TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE UNIQUE INDEX oncall_feeds_token ON oncall_feeds (token_hash);
CREATE INDEX oncall_feeds_owner ON oncall_feeds (tenant_id, owner);
