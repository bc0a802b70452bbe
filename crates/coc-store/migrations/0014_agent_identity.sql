-- COC schema v14 (issue 14): agent identity. A host is bound to the public
-- key its agent made (hex Ed25519); connections prove it by signing a
-- challenge. Enrollment tokens get a number of uses and an expiry. Hosts
-- registered before keys existed keep identity 'none' until an operator
-- opens them for re-enrollment; tokens from before expire after a day.
ALTER TABLE hosts ADD COLUMN agent_key TEXT;
ALTER TABLE hosts ADD COLUMN identity TEXT NOT NULL DEFAULT 'none';
ALTER TABLE hosts ADD COLUMN identity_until BIGINT;
ALTER TABLE hosts ADD COLUMN identity_changed_at BIGINT;
CREATE UNIQUE INDEX hosts_agent_key ON hosts (agent_key) WHERE agent_key IS NOT NULL;

ALTER TABLE agent_enrollments ADD COLUMN max_uses BIGINT NOT NULL DEFAULT 1;
ALTER TABLE agent_enrollments ADD COLUMN uses BIGINT NOT NULL DEFAULT 0;
ALTER TABLE agent_enrollments ADD COLUMN expires_at BIGINT NOT NULL DEFAULT 0;
UPDATE agent_enrollments SET expires_at = created_at + 86400000;
