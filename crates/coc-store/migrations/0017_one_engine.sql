-- COC schema v17 (issue 15): one engine runs every ticket. A script
-- ticket is a one-step job ticket of kind 'script'; the rows of the old
-- `tickets` and `ticket_tasks` tables are moved over by the store right
-- after this migration, in the same transaction (run ids keep the old
-- task ids, so results agents still hold land on the right run).
ALTER TABLE job_tickets ADD COLUMN kind TEXT NOT NULL DEFAULT 'job';
CREATE INDEX job_tickets_kind ON job_tickets (tenant_id, kind, id);
CREATE INDEX job_runs_agent ON job_runs (host_id, status);
