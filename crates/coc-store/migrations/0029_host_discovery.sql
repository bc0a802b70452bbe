-- Discovery (R2, R4): what each host's agent last saw — its listening TCP
-- ports and its processes' outbound connections — as reported, one row
-- per host, replaced by each report. Services and dependencies are
-- derived from it when read (coc_domain::discovery).
CREATE TABLE host_discovery (
    host_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    listeners TEXT NOT NULL,
    connections TEXT NOT NULL,
    reported_at BIGINT NOT NULL
);
