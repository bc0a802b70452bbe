-- COC schema v27 (issue 17): the original-alarms view (ref. 7.2.2). Each
-- occurrence of an alarm as received, the latest 20 per alarm in a ring
-- (`slot` = occurrence number mod 20), keyed by alarm so writing a
-- new alarm's first occurrence appends (ids are time-ordered).
CREATE TABLE alarm_occurrences (
    alarm_id TEXT NOT NULL,
    slot INTEGER NOT NULL,
    tenant_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    occurred_at BIGINT NOT NULL,
    status TEXT NOT NULL,
    level TEXT NOT NULL,
    description TEXT,
    PRIMARY KEY (alarm_id, slot)
);
