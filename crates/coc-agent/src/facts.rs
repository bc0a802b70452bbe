//! Host facts (R1): name, addresses, OS, CPU and memory, read with sysinfo.

use coc_proto::Facts;

/// Collects the host's facts. Never fails: what cannot be read is left
/// empty or zero.
pub fn collect(agent_id: &str) -> Facts {
    use sysinfo::{CpuRefreshKind, MemoryRefreshKind, Networks, RefreshKind, System};
    let sys = System::new_with_specifics(
        RefreshKind::nothing()
            .with_memory(MemoryRefreshKind::nothing().with_ram())
            .with_cpu(CpuRefreshKind::nothing()),
    )
    .ok();
    let networks = Networks::new_with_refreshed_list().ok();
    let mut ips: Vec<String> = Vec::new();
    let mut loopback: Vec<String> = Vec::new();
    for (_name, data) in networks.iter().flat_map(|n| n.iter()) {
        for ip in data.ip_networks() {
            let s = ip.addr.to_string();
            if ip.addr.is_loopback() {
                loopback.push(s);
            } else if !ips.contains(&s) {
                ips.push(s);
            }
        }
    }
    if ips.is_empty() {
        ips = loopback;
    }
    ips.sort();
    Facts {
        agent_id: agent_id.to_string(),
        hostname: System::host_name().unwrap_or_else(|_| "unknown".into()),
        ips,
        os: System::long_os_version().unwrap_or_else(|_| std::env::consts::OS.into()),
        arch: std::env::consts::ARCH.into(),
        cpu_cores: sys.as_ref().map(|s| s.cpus().len()).unwrap_or(0).max(1) as u32,
        memory_bytes: sys.as_ref().map(|s| s.total_memory()).unwrap_or(0),
        agent_version: env!("CARGO_PKG_VERSION").into(),
        boot_id: boot_id(),
        proxy: None,
        proxy_listen: None,
        agent_sha256: own_sha256().to_string(),
    }
}

/// SHA-256 of this agent's executable, read once per process; empty
/// when it cannot be read.
pub fn own_sha256() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        std::env::current_exe()
            .ok()
            .and_then(|p| crate::drift::sha256(&p, u64::MAX).ok())
            .unwrap_or_default()
    })
}

/// The kernel's boot id, or empty where there is none (non-Linux).
pub fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}
