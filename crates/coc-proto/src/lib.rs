//! # coc-proto — messages between the COC server and its agents
//!
//! The agent dials `GET /api/v1/agent/connect` (WebSocket; `wss://` in
//! production) and exchanges JSON text frames, one message per frame,
//! tagged by `type`. [`PROTOCOL_VERSION`] is sent in
//! [`AgentMessage::Hello`]; the server refuses versions it does not speak.
//!
//! Identity: the agent holds an Ed25519 key pair made on its host. `hello`
//! carries the public key; the server answers `challenge` with a random
//! nonce; the agent answers `proof`, its signature over
//! [`proof_message`]. A key the server does not know yet must come with an
//! enrollment token (`Authorization: Bearer <token>` on the upgrade
//! request), which binds it to a new host; afterwards the key alone
//! identifies the host.
//!
//! Flow: `hello` → `challenge` → `proof` → `welcome` (or `refused`); then
//! `heartbeat` every
//! `heartbeat_interval_ms`; the server sends `exec` (a host task),
//! `patch` (scan or install packages), `reboot`, `upgrade` (whose build the agent pulls with `fetch` →
//! `chunk`) and `cancel`; the agent streams `output` and ends each task
//! with one `result`, which it re-sends after a reconnect until the server
//! answers `ack`.

#![warn(missing_docs)]

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Version of this protocol: 3 added `patch` (P2).
pub const PROTOCOL_VERSION: u32 = 3;
/// The oldest version a server still admits: such an agent gets every
/// message of its version (a `patch` task for it fails at once), and can
/// be upgraded.
pub const OLDEST_PROTOCOL_VERSION: u32 = 2;
/// The first version whose agents take `patch` tasks.
pub const PATCH_SINCE: u32 = 3;

/// Length of a challenge nonce, bytes.
pub const NONCE_LEN: usize = 32;

/// The bytes an agent signs to prove its key: a fixed context, the
/// server's nonce, the agent id and the public key (both as sent in
/// `hello`), separated by newlines, so a signature answers only this
/// challenge for this identity.
pub fn proof_message(nonce: &str, agent_id: &str, public_key: &str) -> Vec<u8> {
    format!("coc-agent-proof-v1\n{nonce}\n{agent_id}\n{public_key}").into_bytes()
}

/// Host facts reported in `hello` (ref. 3.1, R1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Facts {
    /// Stable agent id, kept in the agent's state directory.
    pub agent_id: String,
    /// Host name.
    pub hostname: String,
    /// Non-loopback IP addresses (loopback only if there is nothing else).
    pub ips: Vec<String>,
    /// OS name and version.
    pub os: String,
    /// CPU architecture (`x86_64`, `aarch64`).
    pub arch: String,
    /// Logical CPUs.
    pub cpu_cores: u32,
    /// Total memory, bytes.
    pub memory_bytes: u64,
    /// Agent version.
    pub agent_version: String,
    /// The kernel's boot id (`/proc/sys/kernel/random/boot_id`): a new
    /// value tells the server the host rebooted.
    #[serde(default)]
    pub boot_id: String,
    /// The proxy agent (`host:port`) this agent reaches the server
    /// through (R3 proxy access); `None`: directly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<String>,
    /// The address this agent relays other agents from (R3 proxy mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_listen: Option<String>,
    /// SHA-256 of the agent's own executable, 64 hex characters: which
    /// build a host runs (R3), empty when unreadable.
    #[serde(default)]
    pub agent_sha256: String,
}

/// A TCP port the host listens on, as the agent found it (R2 discovery).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Listener {
    /// Port.
    pub port: u16,
    /// Local address it is bound to (`0.0.0.0`, `127.0.0.1`, `::`).
    pub address: String,
    /// Name of the process that owns it (`postgres`), when the agent may
    /// read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<String>,
}

/// An established TCP connection from a local process to a port it does
/// not serve (R4: a dependency the agent observed).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Connection {
    /// The local process, when the agent may read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<String>,
    /// The remote address.
    pub remote_address: String,
    /// The remote port.
    pub remote_port: u16,
}

/// Most listeners and connections one discovery report carries.
pub const MAX_DISCOVERED: usize = 1000;

/// What the server asks an agent to watch for drift (R5): the names and
/// paths of a host's desired state, never the desired values themselves
/// (the server compares). Empty lists stop the watch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watch {
    /// Package names (dpkg, else rpm).
    #[serde(default)]
    pub packages: Vec<String>,
    /// Service names: a systemd unit where systemd runs, else a process
    /// name.
    #[serde(default)]
    pub services: Vec<String>,
    /// Absolute file paths, hashed with SHA-256.
    #[serde(default)]
    pub files: Vec<String>,
    /// A full check (packages and services too) at least this often,
    /// seconds; files and the package database are looked at (stat only)
    /// every few seconds and checked when they changed.
    pub interval_s: u64,
}

/// Most packages, services or files one watch names (and one state
/// report carries).
pub const MAX_WATCHED: usize = 500;

/// A watched package as the agent found it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PackageSeen {
    /// Package name.
    pub name: String,
    /// Installed version; `None`: not installed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// A watched service as the agent found it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ServiceSeen {
    /// Service name.
    pub name: String,
    /// Whether it runs (systemd: `active`; else a process of that name).
    pub running: bool,
}

/// A watched file as the agent found it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FileSeen {
    /// Absolute path.
    pub path: String,
    /// SHA-256 of its content, 64 hex characters; `None`: missing or
    /// unreadable (see `error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Why there is no hash (`missing`, `too large`, a read error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Size of the pieces an agent build is sent in (R3 upgrade), bytes
/// (192 KiB: 256 KiB of base64).
pub const UPGRADE_CHUNK_BYTES: u64 = 192 * 1024;

/// Largest file the agent hashes, bytes (64 MiB).
pub const MAX_WATCHED_FILE: u64 = 64 * 1024 * 1024;

/// What a `patch` task does (P2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PatchAction {
    /// Find the updates the package manager offers.
    Scan {
        /// Refresh the package lists first (`apt-get update`).
        refresh: bool,
    },
    /// Bring packages to versions: a package with a version is installed
    /// at it (upgraded or downgraded), one without is removed.
    Install {
        /// The packages (1..=[`MAX_PATCH_PACKAGES`]).
        packages: Vec<PackageSeen>,
    },
}

/// Most packages one `patch` install names.
pub const MAX_PATCH_PACKAGES: usize = 5000;
/// Most bytes of the package manager's answer a [`PatchReport`] carries.
pub const MAX_PATCH_TEXT: usize = 2 * 1024 * 1024;
/// Most installed packages a [`PatchReport`] lists.
pub const MAX_PATCH_INSTALLED: usize = 20_000;

/// What a `patch` task found on its host (P2): read after the task, so
/// it is the host's state after an installation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatchReport {
    /// The package manager: `apt` or `dnf`, or empty when the host has none the
    /// agent knows.
    pub manager: String,
    /// The OS as `/etc/os-release` names it: `ID` (`debian`, `ubuntu`,
    /// `rocky`, …).
    pub os_id: String,
    /// And its `VERSION_ID` (`12`, `22.04`).
    pub os_version: String,
    /// The manager's account of what it would update, verbatim (apt:
    /// `apt-get --simulate dist-upgrade` with `LANG=C`; dnf: its upgrades
    /// and `updateinfo` list and info, each a `== ` section), at most
    /// [`MAX_PATCH_TEXT`] bytes.
    pub offered: String,
    /// Every installed package with its version (at most
    /// [`MAX_PATCH_INSTALLED`]).
    pub installed: Vec<PackageSeen>,
    /// For an installation: the versions the named packages had before
    /// it (`None`: not installed), so it can be rolled back.
    #[serde(default)]
    pub replaced: Vec<PackageSeen>,
    /// Packages that asked for a reboot to take effect
    /// (`/run/reboot-required.pkgs`).
    #[serde(default)]
    pub reboot_packages: Vec<String>,
    /// The host waits for a reboot (`/run/reboot-required` exists).
    #[serde(default)]
    pub reboot_required: bool,
}

/// How a task ended on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecOutcome {
    /// Exit code 0.
    Success,
    /// Non-zero exit code or killed by a signal.
    Failed,
    /// Killed after its timeout.
    Timeout,
    /// Killed on the server's `cancel`.
    Cancelled,
    /// Could not start (interpreter missing, user unknown, …).
    Error,
}

/// Agent → server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentMessage {
    /// First message on every connection.
    Hello {
        /// [`PROTOCOL_VERSION`] of the agent.
        version: u32,
        /// Host facts (boxed: the other messages are small).
        facts: Box<Facts>,
        /// The agent's Ed25519 public key, 64 hex characters.
        public_key: String,
    },
    /// Answer to `challenge`: the Ed25519 signature (128 hex characters)
    /// of [`proof_message`] with the agent's key.
    Proof {
        /// Signature, hex.
        signature: String,
    },
    /// Liveness, every `heartbeat_interval_ms`.
    Heartbeat {
        /// Agent clock, Unix ms.
        at_ms: i64,
    },
    /// What the host serves and talks to (R2, R4), sent after `welcome`
    /// when it changed and at least every few minutes; at most
    /// [`MAX_DISCOVERED`] of each.
    Discovery {
        /// Listening TCP ports.
        listeners: Vec<Listener>,
        /// Outbound established connections, one per (process, remote
        /// address, remote port).
        connections: Vec<Connection>,
    },
    /// The actual state of what the server asked to watch (R5), sent
    /// after each `watch`, when it changed, and after every full check
    /// (at least every `interval_s`).
    State {
        /// Watched packages.
        packages: Vec<PackageSeen>,
        /// Watched services.
        services: Vec<ServiceSeen>,
        /// Watched files.
        files: Vec<FileSeen>,
    },
    /// A piece of a task's combined stdout/stderr.
    Output {
        /// Task id from `exec`.
        task_id: String,
        /// Chunk number, from 0.
        seq: u64,
        /// Text (lossy UTF-8).
        data: String,
    },
    /// Asks for the piece of an agent build that starts at `offset` (R3
    /// upgrade); the server answers `chunk`.
    Fetch {
        /// Task id from `upgrade`.
        task_id: String,
        /// Byte offset, a multiple of [`UPGRADE_CHUNK_BYTES`].
        offset: u64,
    },
    /// A task's end; re-sent until acknowledged.
    Result {
        /// Task id from `exec`.
        task_id: String,
        /// Outcome.
        outcome: ExecOutcome,
        /// Exit code when the process exited normally.
        exit_code: Option<i32>,
        /// Why, for timeout/cancel/error.
        error: Option<String>,
        /// What a `patch` task found on the host (P2), whatever its
        /// outcome; absent for other tasks.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        patches: Option<Box<PatchReport>>,
    },
}

/// Server → agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// Answer to a valid `proof`.
    Welcome {
        /// The host's resource id.
        host_id: String,
        /// How often to send heartbeats, ms.
        heartbeat_interval_ms: u64,
    },
    /// Answer to `hello`: prove the key by signing [`proof_message`] with
    /// this nonce.
    Challenge {
        /// [`NONCE_LEN`] random bytes, hex.
        nonce: String,
    },
    /// Refusal (bad version, unproven or unknown identity, revoked); the
    /// server closes the connection after it.
    Refused {
        /// Why.
        reason: String,
    },
    /// Run a script. `task_id` is the idempotency key: an agent that has
    /// already run or is running this id does not start it again.
    Exec {
        /// Task id.
        task_id: String,
        /// `shell`, `python` or `bat`.
        script_type: String,
        /// Script text.
        content: String,
        /// Parameters, passed as environment variables.
        env: BTreeMap<String, String>,
        /// Names of `env` entries whose values are secret: the agent
        /// replaces them with `***` in the output it streams and keeps.
        #[serde(default)]
        redact: Vec<String>,
        /// User to run as.
        run_as: String,
        /// Kill after this many seconds.
        timeout_s: u64,
    },
    /// Reboot the host (a job's reboot atom). The agent answers with a
    /// `result` for `task_id` (success: the reboot was started), then
    /// reboots; the server sees the host back when it says `hello` with a
    /// new boot id. Idempotent like `exec`.
    Reboot {
        /// Task id.
        task_id: String,
    },
    /// Scan the host's packages for patches, or install or remove
    /// packages (P2, ref. 4.2.2–4.2.3), with the host's package manager.
    /// The agent streams the manager's `output` and ends with a `result`
    /// carrying a [`PatchReport`]. Idempotent like `exec`.
    Patch {
        /// Task id.
        task_id: String,
        /// What to do.
        action: PatchAction,
        /// Timeout of the whole task, seconds.
        timeout_s: u64,
    },
    /// Replace the agent with another build (R3). The agent fetches the
    /// build piece by piece (`fetch` → `chunk`), checks its size and
    /// SHA-256, swaps its executable (keeping the old one as `.prev`) and
    /// restarts into it; a watcher started from the old build restores
    /// it when the new one has not connected within `rollback_after_s`.
    /// The `result` comes from whichever build then runs: success from
    /// the new one once it connected, failure after a rollback.
    /// Idempotent like `exec`.
    Upgrade {
        /// Task id.
        task_id: String,
        /// The build's version label.
        version: String,
        /// SHA-256 of the build, 64 hex characters.
        sha256: String,
        /// Size of the build, bytes.
        size_bytes: u64,
        /// Seconds the new build has to connect before it is rolled back.
        rollback_after_s: u64,
    },
    /// A piece of the build an `upgrade` names, answering `fetch`.
    Chunk {
        /// Task id from `upgrade`.
        task_id: String,
        /// Byte offset of `data` in the build.
        offset: u64,
        /// The bytes, base64 (standard alphabet, padded); at most
        /// [`UPGRADE_CHUNK_BYTES`] of them.
        #[serde(default)]
        data: String,
        /// Why there is no data (the upgrade ended, the build is gone).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// Watch these for drift (R5); replaces any earlier watch. Sent after
    /// `welcome` when the host has a desired state, and when it changes.
    Watch(Watch),
    /// Stop a running task (its process group is killed).
    Cancel {
        /// Task id.
        task_id: String,
    },
    /// The result of `task_id` is stored; the agent may forget it.
    Ack {
        /// Task id.
        task_id: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_shape_is_tagged() {
        let m = ServerMessage::Cancel {
            task_id: "t".into(),
        };
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"type":"cancel","task_id":"t"}"#
        );
        let a: AgentMessage = serde_json::from_str(r#"{"type":"heartbeat","at_ms":5}"#).unwrap();
        assert_eq!(a, AgentMessage::Heartbeat { at_ms: 5 });
    }
}
