//! Health checks (M7) in the console: the form that starts one — the
//! hosts ticked, each threshold (empty: its default), batches and the
//! suspension threshold — going to the check's report page
//! ([`crate::console::pages::health`]).

use super::super::forms::{Field, Kind, h};

/// The fields of a check (the hosts, the thresholds people change most,
/// batches and the suspension threshold).
pub(crate) const HEALTH_CHECK: &[Field] = &[
    h(
        "hosts",
        "Hosts",
        Kind::Hosts,
        "Each host's agent runs the read-only health probe; COC checks itself too.",
    ),
    h(
        "thresholds.disk_pct.warn",
        "Disk use (%): warn at",
        Kind::Number,
        "Empty: warn 80, fail 90.",
    ),
    h(
        "thresholds.disk_pct.fail",
        "Disk use (%): fail at",
        Kind::Number,
        "Give both to change either.",
    ),
    h(
        "thresholds.memory_pct.warn",
        "Memory use (%): warn at",
        Kind::Number,
        "Empty: warn 85, fail 95.",
    ),
    h(
        "thresholds.memory_pct.fail",
        "Memory use (%): fail at",
        Kind::Number,
        "Give both to change either.",
    ),
    h(
        "thresholds.load_per_cpu.warn",
        "Load per CPU: warn at",
        Kind::Number,
        "Empty: warn 1, fail 2.",
    ),
    h(
        "thresholds.load_per_cpu.fail",
        "Load per CPU: fail at",
        Kind::Number,
        "Give both to change either.",
    ),
    h(
        "thresholds.cert_days.warn",
        "Certificate days left: warn at",
        Kind::Number,
        "Empty: warn under 30, fail under 7.",
    ),
    h(
        "thresholds.cert_days.fail",
        "Certificate days left: fail at",
        Kind::Number,
        "Give both to change either.",
    ),
    super::install::BATCH_SIZE,
    super::install::THRESHOLD,
];
