-- COC schema v4 (issue 3, A4): enterprise projects group resources and
-- incidents inside a tenant; they are an ABAC attribute.
CREATE TABLE enterprise_projects (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX enterprise_projects_name ON enterprise_projects (tenant_id, name);
ALTER TABLE hosts ADD COLUMN enterprise_project TEXT;
ALTER TABLE incidents ADD COLUMN enterprise_project TEXT;
ALTER TABLE hosts ADD COLUMN tags TEXT NOT NULL DEFAULT '{}';
