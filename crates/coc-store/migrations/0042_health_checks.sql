-- Health checks (issue 19, M7): a check is a job ticket of the common job
-- COC-Health-Check; this row keeps what is not in the ticket — the
-- thresholds it is judged against and what COC measured of itself (once,
-- when the check was made, or first read for one a schedule made).
CREATE TABLE health_checks (
    ticket_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    thresholds TEXT NOT NULL,
    coc_facts TEXT NOT NULL,
    measured_at BIGINT NOT NULL
);
