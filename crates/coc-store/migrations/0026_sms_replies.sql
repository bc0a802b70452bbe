-- COC schema v26 (issue 17): reply codes of incident SMS. A reply from
-- the number a code was sent to acknowledges or resolves its incident as
-- the person; the number is kept only as a keyed hash.
CREATE TABLE sms_replies (
    mobile_hash TEXT NOT NULL,
    code TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    user_name TEXT NOT NULL,
    incident_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (mobile_hash, code)
);
CREATE INDEX sms_replies_expiry ON sms_replies (expires_at);
