-- COC schema v16 (issue 14): the addresses each API token was used from,
-- so "token used from a new address" is audited for addresses never seen
-- before, not for every change between known ones.
CREATE TABLE token_addresses (
    token_id TEXT NOT NULL,
    ip TEXT NOT NULL,
    first_seen_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    PRIMARY KEY (token_id, ip)
);
INSERT INTO token_addresses (token_id, ip, first_seen_at, last_seen_at)
    SELECT id, last_ip, COALESCE(last_used_at, created_at), COALESCE(last_used_at, created_at)
    FROM api_tokens WHERE last_ip IS NOT NULL;
