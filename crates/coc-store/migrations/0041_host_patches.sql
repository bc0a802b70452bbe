-- Patch scan and repair results (issue 19, P2/P3): per host, what its
-- latest patch report said (package manager, OS, whether a reboot is
-- pending, the versions its latest repair replaced); per host and
-- package, the package as that report left it. Removed with the host.
CREATE TABLE patch_hosts (
    host_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    manager TEXT NOT NULL,
    os_id TEXT NOT NULL,
    os_version TEXT NOT NULL,
    kind TEXT NOT NULL,
    run_id TEXT NOT NULL,
    succeeded BIGINT NOT NULL,
    reported_at BIGINT NOT NULL,
    reboot_required BIGINT NOT NULL,
    replaced TEXT NOT NULL,
    replaced_at BIGINT
);
CREATE INDEX patch_hosts_tenant ON patch_hosts (tenant_id, host_id);
CREATE TABLE host_patches (
    host_id TEXT NOT NULL,
    name TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    installed TEXT,
    available TEXT,
    classification TEXT NOT NULL,
    severity TEXT NOT NULL,
    first_offered_at BIGINT,
    failed BIGINT NOT NULL,
    pending_reboot BIGINT NOT NULL,
    PRIMARY KEY (host_id, name)
);
-- The compliance report reads the offered rows and counts the others.
CREATE INDEX host_patches_offered ON host_patches (tenant_id, available, host_id);
