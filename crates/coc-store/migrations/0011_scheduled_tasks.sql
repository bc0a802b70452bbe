-- COC schema v11 (issue 5, X5): scheduled O&M tasks and their execution
-- records.
CREATE TABLE scheduled_tasks (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    enabled BIGINT NOT NULL,
    review_status TEXT NOT NULL,
    reviewed_by TEXT,
    spec TEXT NOT NULL,
    next_run_at BIGINT,
    created_by TEXT NOT NULL,
    modified_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX scheduled_tasks_name ON scheduled_tasks (tenant_id, name);
CREATE INDEX scheduled_tasks_due ON scheduled_tasks (enabled, next_run_at);

CREATE TABLE scheduled_runs (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    due_at BIGINT NOT NULL,
    started_at BIGINT NOT NULL,
    status TEXT NOT NULL,
    ticket_id TEXT,
    detail TEXT NOT NULL,
    notified BIGINT NOT NULL
);
CREATE INDEX scheduled_runs_task ON scheduled_runs (task_id, due_at);
CREATE INDEX scheduled_runs_open ON scheduled_runs (status);
