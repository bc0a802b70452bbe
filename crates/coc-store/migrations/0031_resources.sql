-- The resource catalogue (R1, R2): resources other than hosts —
-- databases, caches, queues, web servers, container clusters, load
-- balancers — either discovered on a host by its agent (host_id and port
-- set, origin 'discovered') or registered by hand. Type-specific fields
-- are one JSON object (coc_domain::resource::catalog::ResourceType::fields).
-- Application, module, region and project, when not set on the resource,
-- come from its host when listed.
CREATE TABLE resources (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    type TEXT NOT NULL,
    name TEXT NOT NULL,
    host_id TEXT,
    port INTEGER,
    origin TEXT NOT NULL,
    application_id TEXT,
    module TEXT,
    region TEXT,
    enterprise_project TEXT,
    tags TEXT NOT NULL,
    attributes TEXT NOT NULL,
    vanished_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (tenant_id, type, name)
);
CREATE INDEX resources_by_name ON resources (tenant_id, name, id);
CREATE INDEX resources_by_created ON resources (tenant_id, created_at, id);
CREATE INDEX resources_by_host ON resources (host_id, port);
-- Hosts get a region, and the list pages by name and by age.
ALTER TABLE hosts ADD COLUMN region TEXT;
CREATE INDEX hosts_by_name ON hosts (tenant_id, hostname, id);
CREATE INDEX hosts_by_created ON hosts (tenant_id, created_at, id);
