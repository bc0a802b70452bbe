-- COC schema v15 (issue 14): sign-in throttling. One row per key that
-- failed recently: a user name in a tenant (`user:<name>`) or a source
-- address (`ip:<address>`, tenant '*').
CREATE TABLE login_attempts (
    tenant_id TEXT NOT NULL,
    login_key TEXT NOT NULL,
    failures BIGINT NOT NULL,
    last_failure_at BIGINT NOT NULL,
    locked_until BIGINT,
    PRIMARY KEY (tenant_id, login_key)
);
CREATE INDEX login_attempts_last ON login_attempts (last_failure_at);
