//! The agent's durable memory of tasks (X8), under `<state_dir>/spool`:
//! - `tasks/<id>`: written before a task starts (`started`), and `done`
//!   once its result is acknowledged, so an id is never run twice, even
//!   across an agent restart;
//! - `results/<id>.json`: a finished task's result, kept until the server
//!   acknowledges it, so results survive both a server outage and an
//!   agent restart.
//!
//! A task found `started` without a result when the agent starts was cut
//! off by the restart; it gets an `error` result saying so and is not run
//! again. Markers older than [`KEEP_DAYS`] are removed at start.
//!
//! Every write is flushed to disk (`sync_all`) before the agent acts on it.

use std::path::{Path, PathBuf};

use coc_proto::{AgentMessage, ExecOutcome};

/// Days a task marker is kept.
pub const KEEP_DAYS: u64 = 7;

/// The spool directory of an agent.
#[derive(Debug, Clone)]
pub struct Spool {
    dir: PathBuf,
}

/// What the spool held at start.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Every task id the agent has started (kept for [`KEEP_DAYS`]).
    pub known: Vec<String>,
    /// Results not yet acknowledged, including those of interrupted tasks.
    pub unacked: Vec<AgentMessage>,
}

/// Whether an id is safe as a file name (the server's ids are).
fn safe(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn write_synced(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(parent) = path.parent()
        && let Ok(d) = std::fs::File::open(parent)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

impl Spool {
    /// Opens (creating) the spool under `state_dir` and loads it.
    ///
    /// Errors: the directories cannot be created or read.
    pub fn open(state_dir: &Path) -> std::io::Result<(Spool, Loaded)> {
        // Results may hold secrets a script printed: private dirs (0700).
        let dir = state_dir.join("spool");
        for d in [
            state_dir.to_path_buf(),
            dir.clone(),
            dir.join("tasks"),
            dir.join("results"),
        ] {
            crate::identity::private_dir(&d)?;
        }
        let spool = Spool { dir };
        let mut loaded = Loaded::default();
        let now = std::time::SystemTime::now();
        for e in std::fs::read_dir(spool.dir.join("results"))? {
            let p = e?.path();
            if p.extension().is_some_and(|x| x == "json")
                && let Ok(text) = std::fs::read_to_string(&p)
                && let Ok(m) = serde_json::from_str::<AgentMessage>(&text)
            {
                loaded.unacked.push(m);
            }
        }
        for e in std::fs::read_dir(spool.dir.join("tasks"))? {
            let e = e?;
            let id = e.file_name().to_string_lossy().to_string();
            if id.ends_with(".tmp") {
                continue;
            }
            let old = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .is_some_and(|age| age.as_secs() > KEEP_DAYS * 86_400);
            let state = std::fs::read_to_string(e.path()).unwrap_or_default();
            let has_result = loaded
                .unacked
                .iter()
                .any(|m| matches!(m, AgentMessage::Result { task_id, .. } if *task_id == id));
            if old && (state == "done" || !has_result) {
                let _ = std::fs::remove_file(e.path());
                continue;
            }
            if state == "started" && !has_result {
                let m = AgentMessage::Result {
                    task_id: id.clone(),
                    outcome: ExecOutcome::Error,
                    exit_code: None,
                    error: Some(
                        "the agent restarted while this task ran; it is not run again".into(),
                    ),
                    patches: None,
                };
                spool.finish(&id, &m)?;
                loaded.unacked.push(m);
            }
            loaded.known.push(id);
        }
        Ok((spool, loaded))
    }

    /// Records that task `id` starts (before it does).
    ///
    /// Errors: the marker cannot be written; the task must not start.
    pub fn start(&self, id: &str) -> std::io::Result<()> {
        if !safe(id) {
            return Ok(());
        }
        write_synced(&self.dir.join("tasks").join(id), b"started")
    }

    /// Records task `id`'s result (before it is sent).
    ///
    /// Errors: the files cannot be written.
    pub fn finish(&self, id: &str, result: &AgentMessage) -> std::io::Result<()> {
        if !safe(id) {
            return Ok(());
        }
        let body = serde_json::to_vec(result).unwrap_or_default();
        // The result file itself says the task is done.
        write_synced(&self.dir.join("results").join(format!("{id}.json")), &body)
    }

    /// Forgets the result of `id` once the server has stored it; the
    /// marker says `done` (not flushed: if it is lost, a restart reports
    /// the task interrupted, which the server ignores for a finished task).
    pub fn acked(&self, id: &str) {
        if safe(id) {
            let _ = std::fs::write(self.dir.join("tasks").join(id), b"done");
            let _ = std::fs::remove_file(self.dir.join("results").join(format!("{id}.json")));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(id: &str) -> AgentMessage {
        AgentMessage::Result {
            task_id: id.into(),
            outcome: ExecOutcome::Success,
            exit_code: Some(0),
            error: None,
            patches: None,
        }
    }

    #[test]
    fn survives_a_restart() {
        let d = tempfile::tempdir().unwrap();
        let (s, l) = Spool::open(d.path()).unwrap();
        assert!(l.known.is_empty() && l.unacked.is_empty());
        s.start("a").unwrap();
        s.start("b").unwrap();
        s.finish("b", &result("b")).unwrap();
        s.start("c").unwrap();
        s.finish("c", &result("c")).unwrap();
        s.acked("c");
        // "../x" is never used as a path.
        s.start("../x").unwrap();
        let (_, l) = Spool::open(d.path()).unwrap();
        let mut known = l.known.clone();
        known.sort();
        assert_eq!(known, ["a", "b", "c"]);
        let ids: Vec<(String, ExecOutcome)> = l
            .unacked
            .iter()
            .map(|m| match m {
                AgentMessage::Result {
                    task_id, outcome, ..
                } => (task_id.clone(), *outcome),
                _ => unreachable!(),
            })
            .collect();
        assert!(ids.contains(&("b".into(), ExecOutcome::Success)));
        assert!(
            ids.contains(&("a".into(), ExecOutcome::Error)),
            "an interrupted task is reported, not re-run: {ids:?}"
        );
        assert_eq!(ids.len(), 2);
        // The interrupted result is durable too.
        let (_, l) = Spool::open(d.path()).unwrap();
        assert_eq!(l.unacked.len(), 2);
    }
}
