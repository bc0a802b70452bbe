-- Applications (R6) are referred to by id. Incidents keep their
-- application's id; forwarding rules, plans, scheduled tasks, escalation
-- policies, notification rules, SLAs and scheduling scenarios keep ids in
-- their JSON documents. After this SQL, the migration adopts today's free
-- text: one application per distinct name, and every reference rewritten
-- to its id (`application::adopt_free_text`).
ALTER TABLE incidents ADD COLUMN application_id TEXT;
CREATE INDEX incidents_by_application ON incidents (tenant_id, application_id);
