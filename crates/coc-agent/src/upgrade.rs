//! Self-upgrade (R3): the agent replaces its own executable with another
//! build and rolls back when the new build does not connect in time.
//!
//! 1. [`Download`]: the build arrives piece by piece (`fetch` → `chunk`)
//!    into `<exe>.new`, hashed as it comes; a wrong size or SHA-256 ends
//!    the upgrade before anything changed.
//! 2. [`swap_and_restart`]: the plan ([`Pending`]) is written to the state
//!    directory, the running executable is kept as `<exe>.prev` (a hard
//!    link), `<exe>.new` is renamed over `<exe>`, a *watcher* is started
//!    from `<exe>.prev` (the old, known-good build), and the agent
//!    `exec`s the new executable with its own arguments (same pid, so a
//!    systemd unit keeps tracking it).
//! 3. The new build, once the server welcomed it, writes the `upgrade.ok`
//!    marker and reports the task successful ([`on_welcome`]).
//! 4. [`watch`]: the watcher waits for that marker until the deadline;
//!    without it, it stops the new agent, renames `<exe>.prev` back, and
//!    starts the old build again (or lets systemd restart it), which then
//!    reports the task failed ([`on_start`]).

use std::io::Write as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use coc_proto::{AgentMessage, ExecOutcome};
use serde::{Deserialize, Serialize};

/// Environment variable that makes an agent process the rollback watcher
/// of the upgrade planned in the state directory it names.
pub const WATCH_ENV: &str = "COC_AGENT_UPGRADE_WATCH";
/// The plan of an upgrade in progress, in the state directory.
const PLAN: &str = "upgrade.json";
/// Written by the new build once connected.
const OK: &str = "upgrade.ok";
/// How long the watcher waits for a stopped agent to exit before killing
/// it.
const STOP_WAIT: Duration = Duration::from_secs(5);

/// An upgrade in progress, as the old build left it for the new one and
/// for the watcher.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Pending {
    /// The task id the result answers.
    pub task_id: String,
    /// The build's version label.
    pub version: String,
    /// SHA-256 of the new build.
    pub sha256: String,
    /// SHA-256 of the build it replaces.
    pub previous_sha256: String,
    /// The agent's executable.
    pub exe: PathBuf,
    /// Where the old build is kept.
    pub prev: PathBuf,
    /// The agent's pid (the same after `exec`).
    pub pid: u32,
    /// When the watcher gives up on the new build, Unix ms.
    pub deadline_ms: i64,
    /// Seconds the new build had.
    pub rollback_after_s: u64,
    /// The agent runs under systemd (which restarts it after a stop).
    pub systemd: bool,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn result(task_id: &str, ok: bool, error: Option<String>) -> AgentMessage {
    AgentMessage::Result {
        task_id: task_id.to_string(),
        outcome: if ok {
            ExecOutcome::Success
        } else {
            ExecOutcome::Failed
        },
        exit_code: ok.then_some(0),
        error,
        patches: None,
    }
}

/// A build being received into `<exe>.new`.
pub struct Download {
    /// The task id.
    pub task_id: String,
    /// The build's version label.
    pub version: String,
    /// Wanted SHA-256, lowercase hex.
    pub sha256: String,
    /// Wanted size, bytes.
    pub size: u64,
    /// Seconds the new build will have to connect.
    pub rollback_after_s: u64,
    /// Bytes received so far (the next piece's offset).
    pub offset: u64,
    path: PathBuf,
    /// Open until [`Download::finish`] (an executable open for writing
    /// cannot be started).
    file: Option<std::fs::File>,
    hash: ring::digest::Context,
}

impl Download {
    /// Starts receiving a build next to the executable `exe`.
    ///
    /// Errors: the directory is not writable.
    pub fn begin(
        exe: &Path,
        task_id: &str,
        version: &str,
        sha256: &str,
        size: u64,
        rollback_after_s: u64,
    ) -> std::io::Result<Download> {
        let path = sibling(exe, "new");
        let file = std::fs::File::create(&path)?;
        Ok(Download {
            task_id: task_id.to_string(),
            version: version.to_string(),
            sha256: sha256.to_ascii_lowercase(),
            size,
            rollback_after_s,
            offset: 0,
            path,
            file: Some(file),
            hash: ring::digest::Context::new(&ring::digest::SHA256),
        })
    }

    /// Appends the next piece (base64).
    ///
    /// Errors: undecodable data, more bytes than announced, a write error.
    pub fn push(&mut self, data_b64: &str) -> Result<(), String> {
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data_b64)
            .map_err(|e| format!("a piece of the build is not base64: {e}"))?;
        if bytes.is_empty() || self.offset + bytes.len() as u64 > self.size {
            return Err(format!(
                "the build is longer than the announced {} bytes",
                self.size
            ));
        }
        self.file
            .as_mut()
            .ok_or("the build was already finished")?
            .write_all(&bytes)
            .map_err(|e| format!("cannot write {}: {e}", self.path.display()))?;
        self.hash.update(&bytes);
        self.offset += bytes.len() as u64;
        Ok(())
    }

    /// Whether every byte arrived.
    pub fn complete(&self) -> bool {
        self.offset == self.size
    }

    /// The checked build, executable, ready to swap in.
    ///
    /// Errors: its SHA-256 is not the announced one (the file is removed).
    pub fn finish(&mut self) -> Result<PathBuf, String> {
        let got = hex::encode(self.hash.clone().finish().as_ref());
        let done = match self.file.take() {
            Some(f) => f.sync_all().map_err(|e| e.to_string()),
            None => Ok(()),
        };
        if got != self.sha256 {
            let _ = std::fs::remove_file(&self.path);
            return Err(format!(
                "checksum mismatch: the build received has SHA-256 {got}, not {}",
                self.sha256
            ));
        }
        done?;
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&self.path, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| e.to_string())?;
        Ok(self.path.clone())
    }

    /// Abandons it (removes the partial file).
    pub fn abandon(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// `<exe>.<ext>`.
fn sibling(exe: &Path, ext: &str) -> PathBuf {
    let mut s = exe.as_os_str().to_os_string();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

/// A process of `exe` with this agent's own arguments, without the
/// watcher's variable.
fn same_agent(exe: &Path) -> std::process::Command {
    let mut c = std::process::Command::new(exe);
    c.args(std::env::args_os().skip(1)).env_remove(WATCH_ENV);
    c
}

/// In a session of its own: it outlives the agent's process group.
fn detached(c: &mut std::process::Command) -> &mut std::process::Command {
    c.stdin(std::process::Stdio::null());
    // SAFETY: setsid is async-signal-safe; nothing else runs between fork
    // and exec.
    unsafe {
        c.pre_exec(|| {
            libc::setsid();
            Ok(())
        })
    }
}

/// Swaps the checked build `staged` in for the running executable and
/// restarts into it; returns only when that failed, after putting the old
/// build back (the agent then goes on as it was).
pub fn swap_and_restart(
    state_dir: &Path,
    staged: &Path,
    d: &Download,
) -> Result<std::convert::Infallible, String> {
    let exe = std::env::current_exe().map_err(|e| format!("own executable unknown: {e}"))?;
    let prev = sibling(&exe, "prev");
    let plan = Pending {
        task_id: d.task_id.clone(),
        version: d.version.clone(),
        sha256: d.sha256.clone(),
        previous_sha256: crate::facts::own_sha256().to_string(),
        exe: exe.clone(),
        prev: prev.clone(),
        pid: std::process::id(),
        deadline_ms: now_ms() + (d.rollback_after_s as i64) * 1000,
        rollback_after_s: d.rollback_after_s,
        systemd: std::env::var_os("INVOCATION_ID").is_some(),
    };
    let _ = std::fs::remove_file(state_dir.join(OK));
    write_plan(state_dir, &plan).map_err(|e| format!("cannot write the upgrade plan: {e}"))?;
    let undo = |why: String| {
        let _ = std::fs::remove_file(state_dir.join(PLAN));
        let _ = std::fs::remove_file(staged);
        Err(why)
    };
    let _ = std::fs::remove_file(&prev);
    if let Err(e) =
        std::fs::hard_link(&exe, &prev).or_else(|_| std::fs::copy(&exe, &prev).map(|_| ()))
    {
        return undo(format!(
            "cannot keep the running build as {}: {e}",
            prev.display()
        ));
    }
    if let Err(e) = std::fs::rename(staged, &exe) {
        return undo(format!("cannot put the new build in place: {e}"));
    }
    let mut watcher = match spawn_watcher(&prev, state_dir, plan.systemd) {
        Ok(w) => w,
        Err(e) => {
            let _ = std::fs::rename(&prev, &exe);
            return undo(format!("cannot start the rollback watcher: {e}"));
        }
    };
    tracing::warn!(version = %d.version, "restarting into the new agent build");
    let e = same_agent(&exe).exec();
    // Still the old process: put the old build back.
    let _ = watcher.kill();
    let _ = watcher.wait();
    let _ = std::fs::rename(&prev, &exe);
    undo(format!("cannot start the new build: {e}"))
}

fn write_plan(state_dir: &Path, plan: &Pending) -> std::io::Result<()> {
    let tmp = state_dir.join(format!("{PLAN}.tmp"));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(&serde_json::to_vec(plan).unwrap_or_default())?;
    f.sync_all()?;
    std::fs::rename(tmp, state_dir.join(PLAN))
}

fn read_plan(state_dir: &Path) -> Option<Pending> {
    std::fs::read(state_dir.join(PLAN))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
}

/// Starts the watcher from the old build `prev`. Under systemd it runs as
/// a transient unit of its own (`systemd-run`), so that stopping or
/// restarting the agent's unit does not end it.
fn spawn_watcher(
    prev: &Path,
    state_dir: &Path,
    systemd: bool,
) -> std::io::Result<std::process::Child> {
    if systemd && Path::new("/run/systemd/system").exists() {
        let mut c = std::process::Command::new("systemd-run");
        c.args(["--quiet", "--collect", "--unit"])
            .arg(format!("coc-agent-rollback-{}", std::process::id()))
            .arg(format!("--setenv={WATCH_ENV}={}", state_dir.display()))
            .arg(prev)
            .args(std::env::args_os().skip(1));
        return detached(&mut c).spawn();
    }
    let mut c = same_agent(prev);
    c.env(WATCH_ENV, state_dir);
    detached(&mut c).spawn()
}

/// The watcher (a process of the old build, [`WATCH_ENV`] set): waits for
/// the new build's `upgrade.ok` until the plan's deadline; without it,
/// stops the new build, puts the old one back and starts it. Returns when
/// done; there is nothing to watch without a plan.
pub fn watch(state_dir: &Path) {
    let Some(plan) = read_plan(state_dir) else {
        return;
    };
    let ok = || std::fs::read_to_string(state_dir.join(OK)).is_ok_and(|s| s.trim() == plan.sha256);
    while now_ms() < plan.deadline_ms {
        if ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    if ok() {
        return;
    }
    tracing::warn!(
        version = %plan.version,
        "the new agent build did not connect in {} s: rolling back",
        plan.rollback_after_s
    );
    // SAFETY: plain signal sends to one pid.
    let alive = |pid: u32| unsafe { libc::kill(pid as i32, 0) } == 0;
    unsafe {
        libc::kill(plan.pid as i32, libc::SIGTERM);
    }
    let t = Instant::now();
    while alive(plan.pid) && t.elapsed() < STOP_WAIT {
        std::thread::sleep(Duration::from_millis(100));
    }
    if alive(plan.pid) {
        unsafe {
            libc::kill(plan.pid as i32, libc::SIGKILL);
        }
    }
    if let Err(e) = std::fs::rename(&plan.prev, &plan.exe) {
        tracing::error!(error = %e, "cannot put the old agent build back");
        return;
    }
    if plan.systemd && Path::new("/run/systemd/system").exists() {
        // The unit restarts the agent (Restart=always); if it gave up on
        // the broken build meanwhile, start it again.
        let _ = std::process::Command::new("sh")
            .args([
                "-c",
                "sleep 3; systemctl reset-failed coc-agent.service; systemctl start coc-agent.service",
            ])
            .status();
    } else if let Err(e) = detached(&mut same_agent(&plan.exe)).spawn() {
        tracing::error!(error = %e, "cannot start the old agent build again");
    }
}

/// At the agent's start: the failure result of an upgrade whose new build
/// was rolled back (this is the old build, started by the watcher), and
/// the plan forgotten; `None` when no upgrade is pending or this is the
/// new build (it reports once connected, [`on_welcome`]).
pub fn on_start(state_dir: &Path) -> Option<AgentMessage> {
    let plan = read_plan(state_dir)?;
    if crate::facts::own_sha256() == plan.sha256 {
        return None;
    }
    forget(state_dir);
    Some(result(
        &plan.task_id,
        false,
        Some(format!(
            "the new build {} did not connect within {} s: rolled back to the previous build",
            plan.version, plan.rollback_after_s
        )),
    ))
}

/// Once the server welcomed this agent: when it is the new build of a
/// pending upgrade, tells the watcher (`upgrade.ok`) and answers the
/// task's success result; the plan is forgotten.
pub fn on_welcome(state_dir: &Path) -> Option<AgentMessage> {
    let plan = read_plan(state_dir)?;
    if crate::facts::own_sha256() != plan.sha256 {
        return None;
    }
    if let Err(e) = std::fs::write(state_dir.join(OK), &plan.sha256) {
        tracing::error!(error = %e, "cannot tell the rollback watcher the upgrade worked");
        return None;
    }
    let _ = std::fs::remove_file(state_dir.join(PLAN));
    Some(result(&plan.task_id, true, None))
}

fn forget(state_dir: &Path) {
    let _ = std::fs::remove_file(state_dir.join(PLAN));
    let _ = std::fs::remove_file(state_dir.join(OK));
}

/// The failure result of an upgrade that could not start.
pub fn refused(task_id: &str, why: String) -> AgentMessage {
    result(task_id, false, Some(why))
}

/// The success result of an upgrade to the build already running.
pub fn already(task_id: &str) -> AgentMessage {
    result(task_id, true, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    fn b64(b: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(b)
    }

    #[test]
    fn a_build_is_checked_before_it_is_used() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("coc-agent");
        let body = b"#!/bin/sh\necho new\n";
        let sha = hex::encode(ring::digest::digest(&ring::digest::SHA256, body).as_ref());
        let mut d = Download::begin(&exe, "t1", "2.0", &sha, body.len() as u64, 30).unwrap();
        d.push(&b64(&body[..5])).unwrap();
        assert!(!d.complete());
        d.push(&b64(&body[5..])).unwrap();
        assert!(d.complete());
        let staged = d.finish().unwrap();
        assert_eq!(std::fs::read(&staged).unwrap(), body);
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&staged).unwrap().permissions().mode() & 0o777,
            0o755
        );

        // A wrong hash: refused, nothing left behind.
        let mut d = Download::begin(&exe, "t2", "2.0", &"0".repeat(64), 3, 30).unwrap();
        d.push(&b64(b"abc")).unwrap();
        let e = d.finish().unwrap_err();
        assert!(e.contains("checksum mismatch"), "{e}");
        assert!(!sibling(&exe, "new").exists());

        // More bytes than announced, or not base64.
        let mut d = Download::begin(&exe, "t3", "2.0", &sha, 2, 30).unwrap();
        assert!(d.push(&b64(b"abc")).unwrap_err().contains("longer"));
        assert!(d.push("***").unwrap_err().contains("base64"));
        d.abandon();
    }

    #[test]
    fn a_pending_upgrade_reports_by_which_build_runs() {
        let dir = tempfile::tempdir().unwrap();
        let mine = crate::facts::own_sha256().to_string();
        let plan = |sha: &str| Pending {
            task_id: "run-1".into(),
            version: "2.0".into(),
            sha256: sha.into(),
            previous_sha256: "old".into(),
            exe: "/x".into(),
            prev: "/x.prev".into(),
            pid: 1,
            deadline_ms: 0,
            rollback_after_s: 30,
            systemd: false,
        };
        // This build is the new one: nothing at start, success once
        // welcomed, and the watcher is told.
        write_plan(dir.path(), &plan(&mine)).unwrap();
        assert_eq!(on_start(dir.path()), None);
        let r = on_welcome(dir.path()).unwrap();
        assert!(
            matches!(r, AgentMessage::Result { outcome: ExecOutcome::Success, ref task_id, .. } if task_id == "run-1")
        );
        assert_eq!(std::fs::read_to_string(dir.path().join(OK)).unwrap(), mine);
        assert_eq!(on_welcome(dir.path()), None, "reported once");

        // This build is not the planned one: it was rolled back.
        write_plan(dir.path(), &plan(&"f".repeat(64))).unwrap();
        let r = on_start(dir.path()).unwrap();
        let AgentMessage::Result { outcome, error, .. } = r else {
            panic!()
        };
        assert_eq!(outcome, ExecOutcome::Failed);
        assert!(error.unwrap().contains("rolled back"));
        assert!(read_plan(dir.path()).is_none());
    }
}
