-- Agent builds (R3 upgrade): binaries uploaded under a version label,
-- kept in pieces of coc_proto::UPGRADE_CHUNK_BYTES (base64 text, the form
-- they are sent to agents in).
CREATE TABLE agent_builds (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    version TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (tenant_id, version)
);
CREATE TABLE agent_build_chunks (
    build_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (build_id, seq)
);
