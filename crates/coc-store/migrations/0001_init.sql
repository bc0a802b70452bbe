-- COC schema v1 (issue 2): integrations, alarms, rules, incidents, hosts,
-- scripts, tickets. Portable types only: TEXT ids, BIGINT unix-ms times,
-- TEXT json, BIGINT 0/1 booleans. Every row carries tenant_id.

CREATE TABLE integrations (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    key_hint TEXT NOT NULL,
    enabled BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX integrations_name ON integrations (tenant_id, name);

CREATE TABLE alarms (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    integration_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    name TEXT NOT NULL,
    level TEXT NOT NULL,
    status TEXT NOT NULL,
    first_status TEXT NOT NULL,
    prev_status TEXT,
    occurrences BIGINT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    started_at BIGINT NOT NULL,
    source TEXT NOT NULL,
    source_alarm_id TEXT,
    resource_id TEXT,
    resource_name TEXT,
    region TEXT,
    application TEXT,
    namespace TEXT,
    description TEXT,
    url TEXT,
    labels TEXT NOT NULL,
    annotations TEXT NOT NULL,
    additional TEXT NOT NULL,
    cleared_remark TEXT,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX alarms_fp ON alarms (tenant_id, fingerprint);

CREATE TABLE alarm_events (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    alarm_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    actor TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX alarm_events_alarm ON alarm_events (alarm_id, at);

CREATE TABLE forwarding_rules (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    enabled BIGINT NOT NULL,
    spec TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX forwarding_rules_name ON forwarding_rules (tenant_id, name);

CREATE TABLE incidents (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    number TEXT NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    level TEXT NOT NULL,
    status TEXT NOT NULL,
    assignee TEXT NOT NULL,
    application TEXT,
    region TEXT,
    source TEXT NOT NULL,
    rule_id TEXT,
    dedup_key TEXT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX incidents_number ON incidents (number);
CREATE INDEX incidents_dedup ON incidents (tenant_id, dedup_key, status);
CREATE INDEX incidents_created ON incidents (tenant_id, created_at, id);

CREATE TABLE incident_alarms (
    incident_id TEXT NOT NULL,
    alarm_id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    linked_at BIGINT NOT NULL,
    PRIMARY KEY (incident_id, alarm_id)
);
CREATE INDEX incident_alarms_alarm ON incident_alarms (alarm_id);

CREATE TABLE incident_history (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    incident_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    from_status TEXT,
    to_status TEXT,
    summary TEXT NOT NULL,
    ticket_id TEXT
);
CREATE INDEX incident_history_incident ON incident_history (incident_id, at, id);

CREATE TABLE hosts (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    hostname TEXT NOT NULL,
    ips TEXT NOT NULL,
    os TEXT NOT NULL,
    arch TEXT NOT NULL,
    cpu_cores BIGINT NOT NULL,
    memory_bytes BIGINT NOT NULL,
    agent_version TEXT NOT NULL,
    last_heartbeat BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX hosts_agent ON hosts (tenant_id, agent_id);

CREATE TABLE scripts (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    type TEXT NOT NULL,
    content TEXT NOT NULL,
    risk_level TEXT NOT NULL,
    params TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX scripts_name ON scripts (tenant_id, name);

CREATE TABLE tickets (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    number TEXT NOT NULL,
    kind TEXT NOT NULL,
    script_id TEXT NOT NULL,
    script_name TEXT NOT NULL,
    script_version BIGINT NOT NULL,
    script_type TEXT NOT NULL,
    content TEXT NOT NULL,
    param_decl TEXT NOT NULL,
    params TEXT NOT NULL,
    run_as TEXT NOT NULL,
    timeout_s BIGINT NOT NULL,
    batch_policy TEXT NOT NULL,
    threshold BIGINT,
    status TEXT NOT NULL,
    incident_id TEXT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE UNIQUE INDEX tickets_number ON tickets (number);
CREATE INDEX tickets_status ON tickets (status);
CREATE INDEX tickets_created ON tickets (tenant_id, created_at, id);

CREATE TABLE ticket_tasks (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    ticket_id TEXT NOT NULL,
    host_id TEXT NOT NULL,
    batch BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    status TEXT NOT NULL,
    exit_code BIGINT,
    output TEXT NOT NULL,
    error TEXT,
    attempt BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT
);
CREATE INDEX ticket_tasks_ticket ON ticket_tasks (ticket_id, seq);
