-- COC schema v13 (issue 5, X3/X4): jobs with versions and review, job
-- tickets with their hosts per step, the runs of each task on each host,
-- approvals, and the boot id a host reports (to see a reboot complete).
ALTER TABLE hosts ADD COLUMN boot_id TEXT;

CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    spec TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    modified_by TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    review_status TEXT NOT NULL,
    reviewed_by TEXT,
    reviewed_at BIGINT,
    review_comment TEXT,
    system BIGINT NOT NULL
);
CREATE UNIQUE INDEX jobs_name ON jobs (tenant_id, name);

CREATE TABLE job_versions (
    job_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    tenant_id TEXT NOT NULL,
    spec TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (job_id, version)
);

CREATE TABLE job_tickets (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    number TEXT NOT NULL,
    job_id TEXT NOT NULL,
    job_name TEXT NOT NULL,
    job_version BIGINT NOT NULL,
    spec TEXT NOT NULL,
    scripts TEXT NOT NULL,
    request TEXT NOT NULL,
    params TEXT NOT NULL,
    param_refs TEXT,
    target_mode TEXT NOT NULL,
    steps TEXT NOT NULL,
    status TEXT NOT NULL,
    current_step BIGINT NOT NULL,
    description TEXT NOT NULL,
    tags TEXT NOT NULL,
    incident_id TEXT,
    cloned_from TEXT,
    reason TEXT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE UNIQUE INDEX job_tickets_number ON job_tickets (number);
CREATE INDEX job_tickets_status ON job_tickets (status);
CREATE INDEX job_tickets_created ON job_tickets (tenant_id, id);

CREATE TABLE job_hosts (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    ticket_id TEXT NOT NULL,
    step BIGINT NOT NULL,
    host_id TEXT NOT NULL,
    batch BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    status TEXT NOT NULL,
    task_idx BIGINT NOT NULL,
    had_failure BIGINT NOT NULL,
    held BIGINT NOT NULL,
    error TEXT,
    started_at BIGINT,
    finished_at BIGINT
);
CREATE INDEX job_hosts_ticket ON job_hosts (ticket_id, step, seq);

CREATE TABLE job_runs (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    ticket_id TEXT NOT NULL,
    job_host_id TEXT NOT NULL,
    host_id TEXT NOT NULL,
    step BIGINT NOT NULL,
    task_idx BIGINT NOT NULL,
    attempt BIGINT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    phase TEXT,
    exit_code BIGINT,
    output TEXT NOT NULL,
    error TEXT,
    detail TEXT,
    wake_at BIGINT,
    started_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX job_runs_host ON job_runs (job_host_id, task_idx, attempt);
CREATE INDEX job_runs_ticket ON job_runs (ticket_id, status);

CREATE TABLE job_approvals (
    ticket_id TEXT NOT NULL,
    step BIGINT NOT NULL,
    task_idx BIGINT NOT NULL,
    tenant_id TEXT NOT NULL,
    status TEXT NOT NULL,
    requested_at BIGINT NOT NULL,
    decided_by TEXT,
    decided_at BIGINT,
    comment TEXT,
    PRIMARY KEY (ticket_id, step, task_idx)
);
