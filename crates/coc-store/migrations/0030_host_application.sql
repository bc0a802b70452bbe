-- Applications (R6) own hosts: a host belongs to one application (by id)
-- and, within it, to one of its modules (by name).
ALTER TABLE hosts ADD COLUMN application_id TEXT;
ALTER TABLE hosts ADD COLUMN module TEXT;
CREATE INDEX hosts_by_application ON hosts (tenant_id, application_id);
