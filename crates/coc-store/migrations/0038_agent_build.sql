-- The build each host's agent runs (R3): SHA-256 of its executable.
ALTER TABLE hosts ADD COLUMN agent_sha256 TEXT;
