//! Running scripts (X2): the script is written to a private temporary file
//! and run by its interpreter in its own process group, with parameters as
//! environment variables, as the requested user, under a timeout. Output
//! (stdout and stderr merged) is streamed in chunks.

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt as _;
use std::process::Stdio;
use std::time::Duration;

use coc_proto::ExecOutcome;
use tokio::io::AsyncReadExt;
use tokio::sync::{mpsc, oneshot};

/// A task to run, as received in `exec`.
#[derive(Debug, Clone)]
pub struct ExecRequest {
    /// Task id.
    pub task_id: String,
    /// `shell`, `python` or `bat`.
    pub script_type: String,
    /// Script text.
    pub content: String,
    /// Environment variables (script parameters).
    pub env: BTreeMap<String, String>,
    /// User to run as.
    pub run_as: String,
    /// Timeout, seconds.
    pub timeout_s: u64,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecResult {
    /// Outcome.
    pub outcome: ExecOutcome,
    /// Exit code if the process exited.
    pub exit_code: Option<i32>,
    /// Explanation for non-exit outcomes.
    pub error: Option<String>,
}

fn user_ids(name: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() > 3 && f[0] == name).then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))?
    })
}

fn current_user() -> String {
    let uid = unsafe { libc::geteuid() };
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|p| {
            p.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() > 2 && f[2] == uid.to_string()).then(|| f[0].to_string())
            })
        })
        .unwrap_or_else(|| uid.to_string())
}

fn error(msg: impl Into<String>) -> ExecResult {
    ExecResult {
        outcome: ExecOutcome::Error,
        exit_code: None,
        error: Some(msg.into()),
    }
}

/// Runs a script to completion, sending output chunks to `out`. `cancel`
/// firing kills the process group. `run_as_self` (dev mode) runs as the
/// agent's own user whatever `run_as` says, noting it in the output.
pub async fn run(
    req: ExecRequest,
    out: mpsc::Sender<String>,
    cancel: oneshot::Receiver<()>,
    run_as_self: bool,
) -> ExecResult {
    let (program, ext): (&str, &str) = match req.script_type.as_str() {
        "shell" => (
            if std::path::Path::new("/bin/bash").exists() {
                "/bin/bash"
            } else {
                "/bin/sh"
            },
            "sh",
        ),
        "python" => ("python3", "py"),
        "bat" => return error("bat scripts run only on Windows hosts"),
        other => return error(format!("unknown script type '{other}'")),
    };
    let dir = std::env::temp_dir().join(format!("coc-task-{}", req.task_id));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return error(format!("cannot create work directory: {e}"));
    }
    let path = dir.join(format!("script.{ext}"));
    if let Err(e) = std::fs::write(&path, req.content.as_bytes()) {
        return error(format!("cannot write script: {e}"));
    }
    let me = current_user();
    let mut cmd = std::process::Command::new(program);
    cmd.arg(&path)
        .current_dir(&dir)
        .env_clear()
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .env("LANG", "C.UTF-8")
        .env("COC_TASK_ID", &req.task_id)
        // The agent's own binary: an agent installation (R3) copies it.
        .env("COC_AGENT_EXE", std::env::current_exe().unwrap_or_default())
        .envs(&req.env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    if req.run_as != me {
        if run_as_self {
            let _ = out
                .send(format!(
                    "[coc-agent] dev mode: running as '{me}' instead of '{}'\n",
                    req.run_as
                ))
                .await;
        } else if unsafe { libc::geteuid() } == 0 {
            let Some((uid, gid)) = user_ids(&req.run_as) else {
                return error(format!("user '{}' does not exist on this host", req.run_as));
            };
            let _ =
                std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755));
            let _ = std::fs::set_permissions(
                &path,
                std::os::unix::fs::PermissionsExt::from_mode(0o644),
            );
            cmd.uid(uid).gid(gid);
            if let Some(home) = std::fs::read_to_string("/etc/passwd").ok().and_then(|p| {
                p.lines().find_map(|l| {
                    let f: Vec<&str> = l.split(':').collect();
                    (f.len() > 5 && f[0] == req.run_as).then(|| f[5].to_string())
                })
            }) {
                cmd.env("HOME", home);
            }
            cmd.env("USER", &req.run_as);
        } else {
            return error(format!(
                "the agent runs as '{me}' and cannot switch to user '{}'",
                req.run_as
            ));
        }
    }
    let mut child = match tokio::process::Command::from(cmd)
        .kill_on_drop(true)
        .spawn()
    {
        Ok(c) => c,
        Err(e) => return error(format!("cannot start {program}: {e}")),
    };
    let pgid = child.id().map(|p| p as i32);
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let pump = |mut r: Box<dyn tokio::io::AsyncRead + Unpin + Send>, out: mpsc::Sender<String>| async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match r.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if out
                        .send(String::from_utf8_lossy(&buf[..n]).into_owned())
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
    };
    let o = stdout
        .take()
        .map(|s| tokio::spawn(pump(Box::new(s), out.clone())));
    let e = stderr
        .take()
        .map(|s| tokio::spawn(pump(Box::new(s), out.clone())));
    let kill = |pgid: Option<i32>| {
        if let Some(p) = pgid {
            unsafe { libc::kill(-p, libc::SIGKILL) };
        }
    };
    let timeout = tokio::time::sleep(Duration::from_secs(req.timeout_s.max(1)));
    tokio::pin!(timeout);
    let res = tokio::select! {
        st = child.wait() => match st {
            Ok(st) => match st.code() {
                Some(0) => ExecResult { outcome: ExecOutcome::Success, exit_code: Some(0), error: None },
                Some(c) => ExecResult { outcome: ExecOutcome::Failed, exit_code: Some(c), error: None },
                None => ExecResult { outcome: ExecOutcome::Failed, exit_code: None, error: Some("killed by a signal".into()) },
            },
            Err(e) => error(format!("wait failed: {e}")),
        },
        _ = &mut timeout => {
            kill(pgid);
            let _ = child.wait().await;
            ExecResult { outcome: ExecOutcome::Timeout, exit_code: None, error: Some(format!("timed out after {} s", req.timeout_s)) }
        }
        _ = cancel => {
            kill(pgid);
            let _ = child.wait().await;
            ExecResult { outcome: ExecOutcome::Cancelled, exit_code: None, error: Some("cancelled".into()) }
        }
    };
    // Background children of the script may still hold the pipes: kill the
    // group so the output pumps end.
    kill(pgid);
    for h in [o, e].into_iter().flatten() {
        let _ = tokio::time::timeout(Duration::from_secs(2), h).await;
    }
    let _ = std::fs::remove_dir_all(&dir);
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn go(kind: &str, content: &str, timeout_s: u64) -> (ExecResult, String) {
        let (tx, mut rx) = mpsc::channel(64);
        let (_c, cancel) = oneshot::channel();
        let mut env = BTreeMap::new();
        env.insert("GREETING".to_string(), "hello".to_string());
        let req = ExecRequest {
            task_id: format!("t-{}", rand::random::<u64>()),
            script_type: kind.into(),
            content: content.into(),
            env,
            run_as: current_user(),
            timeout_s,
        };
        let r = run(req, tx, cancel, false).await;
        let mut out = String::new();
        while let Ok(s) = rx.try_recv() {
            out.push_str(&s);
        }
        (r, out)
    }

    #[tokio::test]
    async fn shell_exit_codes_env_and_output() {
        let (r, out) = go(
            "shell",
            "echo \"$GREETING world\"; echo err >&2; exit 3",
            10,
        )
        .await;
        assert_eq!(r.outcome, ExecOutcome::Failed);
        assert_eq!(r.exit_code, Some(3));
        assert!(out.contains("hello world") && out.contains("err"), "{out}");
        let (r, _) = go("shell", "true", 10).await;
        assert_eq!(r.outcome, ExecOutcome::Success);
    }

    #[tokio::test]
    async fn timeout_kills_the_process_group() {
        let start = std::time::Instant::now();
        let (r, _) = go("shell", "sleep 30 & sleep 30", 1).await;
        assert_eq!(r.outcome, ExecOutcome::Timeout);
        assert!(start.elapsed() < Duration::from_secs(10));
    }

    #[tokio::test]
    async fn python_and_unknown_user() {
        let (r, out) = go("python", "import os; print(os.environ['GREETING'])", 10).await;
        assert_eq!(r.outcome, ExecOutcome::Success, "{out}");
        assert!(out.contains("hello"));
        let (tx, _rx) = mpsc::channel(4);
        let (_c, cancel) = oneshot::channel();
        let req = ExecRequest {
            task_id: "x".into(),
            script_type: "shell".into(),
            content: "true".into(),
            env: BTreeMap::new(),
            run_as: "no-such-user-coc".into(),
            timeout_s: 5,
        };
        let r = run(req, tx, cancel, false).await;
        assert_eq!(r.outcome, ExecOutcome::Error);
    }
}
