-- Cloud accounts (R2): where servers are synchronized from. The
-- definition is one JSON document without the password, which is kept
-- encrypted apart. next_sync_at is claimed by the replica that runs the
-- synchronization (a conditional update), as scheduled tasks are.
CREATE TABLE cloud_accounts (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    spec TEXT NOT NULL,
    secret TEXT NOT NULL,
    next_sync_at BIGINT,
    last_sync_at BIGINT,
    last_outcome TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (tenant_id, name)
);
CREATE INDEX cloud_accounts_due ON cloud_accounts (next_sync_at);
-- A synchronized resource knows its account and its id there.
ALTER TABLE resources ADD COLUMN cloud_account_id TEXT;
ALTER TABLE resources ADD COLUMN external_id TEXT;
CREATE INDEX resources_by_cloud ON resources (cloud_account_id, external_id);
