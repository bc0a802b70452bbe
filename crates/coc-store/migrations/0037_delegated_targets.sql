-- Delegated targets (R3): a target host whose tasks run on another host's
-- agent (an agent installation runs on the installation host), with
-- parameter values of its own (stored encrypted: they hold passwords and
-- tokens).
ALTER TABLE job_hosts ADD COLUMN runs_on TEXT;
ALTER TABLE job_hosts ADD COLUMN target_params TEXT;
-- A host's latest installation task gives its status before its agent
-- reports (installing, install failed).
CREATE INDEX job_hosts_by_host ON job_hosts (host_id, runs_on);
