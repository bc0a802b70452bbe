//! Durable execution (X8): the real `coc server` process is killed in the
//! middle of a multi-batch job running on four real `coc agent` processes,
//! restarted, and the job must complete with every task run exactly once
//! on every host. The kill comes at different points: right after run
//! states are committed and before anything is sent (`before_dispatch`),
//! when a result arrives and before it is stored (`before_result_store`),
//! after it is stored and before the agent gets its acknowledgement
//! (`before_ack`) — these use the server's `COC_CRASH_AT` hook, which
//! aborts the process like SIGKILL — and a real SIGKILL while the scripts
//! run. A killed and restarted agent reports the task it was running as
//! interrupted instead of running it again.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const ADMIN: &str = "durable-admin-token";
const KEY: &str = "0707070707070707070707070707070707070707070707070707070707070707";

/// A child process killed (SIGKILL) when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn log_file(dir: &Path, name: &str) -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(name))
        .unwrap()
}

struct Env {
    dir: tempfile::TempDir,
    port: u16,
    http: reqwest::Client,
}

impl Env {
    fn new() -> Env {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Env {
            dir: tempfile::tempdir().unwrap(),
            port: free_port(),
            http: reqwest::Client::new(),
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn server(&self, crash_at: Option<&str>) -> Proc {
        let mut c = Command::new(env!("CARGO_BIN_EXE_coc"));
        c.args(["server", "--listen", &format!("127.0.0.1:{}", self.port)])
            .arg("--data-dir")
            .arg(self.dir.path())
            .args(["--admin-token", ADMIN])
            .args(["--secret-key", KEY, "--heartbeat-ms", "500"])
            .args(["--admin-password", "durable-password"])
            .env("RUST_LOG", "info")
            .env_remove("COC_CRASH_AT")
            .stdin(Stdio::null())
            .stdout(log_file(self.dir.path(), "server.log"))
            .stderr(log_file(self.dir.path(), "server.log"));
        if let Some(p) = crash_at {
            c.env("COC_CRASH_AT", p);
        }
        let p = Proc(c.spawn().expect("coc server starts"));
        for _ in 0..200 {
            if let Ok(r) = self.http.get(format!("{}/readyz", self.url())).send().await
                && r.status().is_success()
            {
                return p;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("server did not come up: {}", self.server_log());
    }

    /// An enrollment token for the agents of a test (10 hosts).
    async fn enrollment(&self) -> String {
        let v = self
            .call(
                "POST",
                "/api/v1/agent-enrollments",
                Some(json!({"name": "durable", "max_uses": 10})),
            )
            .await;
        v["secret"].as_str().unwrap().to_string()
    }

    fn agent(&self, i: usize, token: &str) -> Proc {
        Proc(
            Command::new(env!("CARGO_BIN_EXE_coc"))
                .args(["agent", "--server", &self.url(), "--token", token])
                .arg("--state-dir")
                .arg(self.dir.path().join(format!("agent-{i}")))
                .stdin(Stdio::null())
                .stdout(log_file(self.dir.path(), &format!("agent-{i}.log")))
                .stderr(log_file(self.dir.path(), &format!("agent-{i}.log")))
                .spawn()
                .expect("coc agent starts"),
        )
    }

    fn server_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.url());
        let rb = match method {
            "GET" => self.http.get(url),
            _ => self.http.post(url).json(&body.unwrap_or(json!({}))),
        };
        let r = rb.bearer_auth(ADMIN).send().await.unwrap();
        let st = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        assert!(st.is_success(), "{method} {path}: {st} {v}");
        v
    }

    async fn hosts(&self, n: usize) -> Vec<String> {
        for _ in 0..400 {
            let v = self.call("GET", "/api/v1/resources", None).await;
            let ids: Vec<String> = v["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|h| h["agent_status"] == "running")
                .map(|h| h["id"].as_str().unwrap().to_string())
                .collect();
            if ids.len() >= n {
                return ids;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{n} agents did not connect");
    }

    async fn wait(&self, path: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let end = Instant::now() + Duration::from_secs(90);
        let mut last = Value::Null;
        while Instant::now() < end {
            if let Ok(r) = self
                .http
                .get(format!("{}{path}", self.url()))
                .bearer_auth(ADMIN)
                .send()
                .await
                && let Ok(v) = r.json::<Value>().await
            {
                if pred(&v) {
                    return v;
                }
                last = v;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{what} never happened: {last:#}\n{}", self.server_log());
    }
}

fn me() -> String {
    let out = Command::new("id").arg("-un").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Starts the server (crashing at `crash_at`), four agents and a
/// two-task job in batches 1, 2, 1; returns the env, processes, ticket id
/// and the marks file the scripts append to.
async fn setup(crash_at: Option<&str>) -> (Env, Proc, Vec<Proc>, String, PathBuf) {
    let env = Env::new();
    let server = env.server(crash_at).await;
    let token = env.enrollment().await;
    let agents: Vec<Proc> = (0..4).map(|i| env.agent(i, &token)).collect();
    let hosts = env.hosts(4).await;
    let marks = env.dir.path().join("marks.log");
    env.call(
        "POST",
        "/api/v1/scripts",
        Some(json!({"name": "mark", "type": "shell", "risk_level": "low",
            "content": "echo \"$HOST $TASK $COC_TASK_ID\" >> \"$MARKS\"; sleep 1; echo marked",
            "params": [{"name": "HOST"}, {"name": "TASK"}, {"name": "MARKS"}]})),
    )
    .await;
    let task = |name: &str| {
        json!({"name": name, "atom": {"type": "script", "script": "mark", "run_as": me(),
            "params": {"HOST": "{{host.id}}", "TASK": name, "MARKS": marks.to_str().unwrap()}}})
    };
    env.call(
        "POST",
        "/api/v1/jobs",
        Some(json!({"name": "durable", "risk_level": "low",
            "steps": [{"name": "mark-twice", "tasks": [task("first"), task("second")]}]})),
    )
    .await;
    let t = env
        .call(
            "POST",
            "/api/v1/jobs/durable/execute",
            Some(json!({"hosts": hosts, "batch_policy": "auto"})),
        )
        .await;
    assert_eq!(t["steps"][0]["batches"], 3);
    let id = t["id"].as_str().unwrap().to_string();
    (env, server, agents, id, marks)
}

/// Waits for the crashed server to exit, restarts it, and checks that the
/// job completes with each task run exactly once per host.
async fn recover_and_check(env: &Env, mut server: Proc, id: &str, marks: &Path) {
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(st) = server.0.try_wait().unwrap() {
            assert!(!st.success(), "the server was killed");
            break;
        }
        assert!(Instant::now() < end, "the crash point was never reached");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _restarted = env.server(None).await;
    drop(server);
    let t = env
        .wait(
            &format!("/api/v1/job-tickets/{id}"),
            "job completion",
            |t| t["status"] == "successful",
        )
        .await;
    let runs: Vec<&Value> = t["steps"][0]["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|h| h["runs"].as_array().unwrap())
        .collect();
    assert_eq!(runs.len(), 8, "4 hosts × 2 tasks, no retries");
    assert!(
        runs.iter()
            .all(|r| r["attempt"] == 1 && r["status"] == "successful")
    );
    let text = std::fs::read_to_string(marks).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 8, "every task ran exactly once:\n{text}");
    lines.sort();
    lines.dedup_by(|a, b| a.split(' ').take(2).eq(b.split(' ').take(2)));
    assert_eq!(lines.len(), 8, "no (host, task) ran twice:\n{text}");
    assert!(
        env.server_log().contains("COC_CRASH_AT") || env.server_log().contains("SIGKILL"),
        "the first server died at the crash point"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_before_dispatch() {
    let (env, server, _agents, id, marks) = setup(Some("before_dispatch:2")).await;
    recover_and_check(&env, server, &id, &marks).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_before_a_result_is_stored() {
    let (env, server, _agents, id, marks) = setup(Some("before_result_store:2")).await;
    recover_and_check(&env, server, &id, &marks).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_before_a_result_is_acknowledged() {
    let (env, server, _agents, id, marks) = setup(Some("before_ack:3")).await;
    recover_and_check(&env, server, &id, &marks).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_while_scripts_run() {
    let (env, mut server, _agents, id, marks) = setup(None).await;
    // Kill when the second batch's scripts are running: their results
    // are produced while the server is down.
    env.wait(
        &format!("/api/v1/job-tickets/{id}"),
        "batch 2 running",
        |t| {
            t["steps"][0]["hosts"].as_array().is_some_and(|h| {
                h.iter()
                    .filter(|x| x["batch"] == 1 && x["status"] == "executing")
                    .count()
                    == 2
            })
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.0.kill().unwrap(); // SIGKILL
    std::fs::write(
        env.dir.path().join("server.log"),
        format!("{}\nSIGKILL sent by the test\n", env.server_log()),
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    recover_and_check(&env, server, &id, &marks).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_agent_does_not_run_a_task_twice() {
    let env = Env::new();
    let _server = env.server(None).await;
    let token = env.enrollment().await;
    let mut agent = env.agent(0, &token);
    let hosts = env.hosts(1).await;
    let marks = env.dir.path().join("marks.log");
    let script = env
        .call(
            "POST",
            "/api/v1/scripts",
            Some(json!({"name": "slow", "type": "shell", "risk_level": "low",
                "content": format!("echo start >> {}; sleep 3; echo end >> {}", marks.display(), marks.display())})),
        )
        .await;
    let t = env
        .call(
            "POST",
            &format!("/api/v1/scripts/{}/execute", script["id"].as_str().unwrap()),
            Some(json!({"hosts": hosts, "run_as": me()})),
        )
        .await;
    let id = t["id"].as_str().unwrap().to_string();
    env.wait(&format!("/api/v1/tickets/{id}"), "the task running", |_| {
        std::fs::read_to_string(&marks).is_ok_and(|m| m.contains("start"))
    })
    .await;
    agent.0.kill().unwrap(); // SIGKILL: the script keeps running or dies with it
    let _ = agent.0.wait();
    let _again = env.agent(0, &token);
    let t = env
        .wait(&format!("/api/v1/tickets/{id}"), "the ticket ends", |t| {
            t["status"] == "failed" || t["status"] == "successful"
        })
        .await;
    let task = &t["tasks"][0];
    assert_eq!(task["status"], "failed", "{t:#}");
    assert!(
        task["error"].as_str().unwrap().contains("agent restarted"),
        "{task:#}"
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    let m = std::fs::read_to_string(&marks).unwrap();
    assert_eq!(m.matches("start").count(), 1, "never started twice: {m}");
}
