-- COC schema v18 (issue 16): on-call calendar subscriptions and handoff
-- notices. Each feed is a secret URL (only its SHA-256 is kept) owned by a
-- user, listing one person's shifts or a scenario's.
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
-- Handoff notices sent: one per person coming on call for a role at an
-- instant, whichever replica sends it.
CREATE TABLE oncall_handoffs (
    tenant_id TEXT NOT NULL,
    scenario_id TEXT NOT NULL,
    role TEXT NOT NULL,
    person TEXT NOT NULL,
    start_at BIGINT NOT NULL,
    sent_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, scenario_id, role, person, start_at)
);
