-- COC schema v8 (issue 4): engineer profiles and contact subscriptions
-- (O1), notification rules (O3), the incident event outbox that drives
-- notifications and SLA timing, escalation policies and running
-- escalations (I7), SLAs and SLA records (O5), the incident category, and
-- per-person deliveries.
ALTER TABLE incidents ADD COLUMN category TEXT;

CREATE TABLE engineers (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    user_name TEXT NOT NULL,
    alias TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX engineers_user ON engineers (tenant_id, user_name);

CREATE TABLE contacts (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    user_name TEXT NOT NULL,
    channel TEXT NOT NULL,
    address TEXT NOT NULL,
    masked TEXT NOT NULL,
    status TEXT NOT NULL,
    token_hash TEXT,
    expires_at BIGINT,
    confirmed_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX contacts_user_channel ON contacts (tenant_id, user_name, channel);
CREATE INDEX contacts_token ON contacts (token_hash);

CREATE TABLE notification_rules (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    enabled BIGINT NOT NULL,
    spec TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX notification_rules_name ON notification_rules (tenant_id, name);

CREATE TABLE incident_events (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    incident_id TEXT NOT NULL,
    event TEXT NOT NULL,
    actor TEXT NOT NULL,
    from_status TEXT,
    to_status TEXT,
    at BIGINT NOT NULL,
    done BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX incident_events_new ON incident_events (done, at);

CREATE TABLE escalation_policies (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    enabled BIGINT NOT NULL,
    spec TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX escalation_policies_name ON escalation_policies (tenant_id, name);

CREATE TABLE escalations (
    incident_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    policy_id TEXT NOT NULL,
    level BIGINT NOT NULL,
    round BIGINT NOT NULL,
    fired BIGINT NOT NULL,
    next_at BIGINT NOT NULL,
    state TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX escalations_due ON escalations (state, next_at);

ALTER TABLE deliveries ADD COLUMN recipient TEXT;
ALTER TABLE deliveries ADD COLUMN incident_id TEXT;
ALTER TABLE deliveries ADD COLUMN address TEXT;
ALTER TABLE deliveries ADD COLUMN body TEXT;

CREATE TABLE slas (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    enabled BIGINT NOT NULL,
    spec TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX slas_name ON slas (tenant_id, name);

CREATE TABLE sla_records (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    ticket_kind TEXT NOT NULL,
    ticket_id TEXT NOT NULL,
    ticket_number TEXT NOT NULL,
    owner TEXT NOT NULL,
    sla_id TEXT NOT NULL,
    sla_name TEXT NOT NULL,
    spec TEXT NOT NULL,
    status TEXT NOT NULL,
    duration_ms BIGINT NOT NULL,
    current_since BIGINT,
    target_ms BIGINT NOT NULL,
    state TEXT NOT NULL,
    prewarned_at BIGINT,
    broken_at BIGINT,
    next_check_at BIGINT,
    notifications TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX sla_records_ticket ON sla_records (ticket_id, status);
CREATE INDEX sla_records_tenant ON sla_records (tenant_id, id);
CREATE INDEX sla_records_due ON sla_records (next_check_at);
