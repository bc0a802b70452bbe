//! A server on 127.0.0.1:0 with N in-process agents and a client.

use std::time::Duration;

use coc_client::Client;
use serde_json::{Value, json};

pub struct Harness {
    pub server: Option<coc_server::Running>,
    pub client: Client,
    pub dir: tempfile::TempDir,
    pub agent_token: String,
    agents: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        for a in &self.agents {
            a.abort();
        }
    }
}

pub const ADMIN: &str = "test-admin-token";

/// The harness' store key: fixed so a reopened store can read its secrets.
pub fn keyring() -> coc_store::secret::Keyring {
    coc_store::secret::Keyring::new([7; 32])
}

/// The harness' store for data dir `dir`: SQLite in `dir`, or — with
/// `COC_TEST_SERVER_DB=postgres` — a PostgreSQL database of its own on the
/// server of `COC_TEST_DATABASE_URL`, named in `dir/pg.db` (so a reopened
/// store finds it again). `scripts/test.sh` runs this suite both ways.
pub async fn store(dir: &std::path::Path) -> coc_store::Store {
    coc_store::Store::open(&database_url(dir), keyring())
        .await
        .unwrap()
}

fn database_url(dir: &std::path::Path) -> String {
    if std::env::var("COC_TEST_SERVER_DB").as_deref() != Ok("postgres") {
        return format!("sqlite://{}", dir.join("coc.db").display());
    }
    let admin = std::env::var("COC_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let marker = dir.join("pg.db");
    let name = match std::fs::read_to_string(&marker) {
        Ok(n) => n,
        Err(_) => {
            let n = format!("coc_srv_{}", &coc_store::new_id().replace('-', "")[12..]);
            let ok = std::process::Command::new("psql")
                .arg(&admin)
                .args(["-q", "-c", &format!("CREATE DATABASE {n}")])
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "cannot create database {n} on {admin}");
            std::fs::write(&marker, &n).unwrap();
            n
        }
    };
    let (root, _) = admin.rsplit_once('/').unwrap();
    format!("{root}/{name}")
}

pub fn config(listen: std::net::SocketAddr) -> coc_server::ServerConfig {
    coc_server::ServerConfig {
        listen,
        admin_token: ADMIN.into(),
        heartbeat_ms: 500,
        alarm_retention_days: 90,
        admin_password: Some("admin-password-1".into()),
        notify: Default::default(),
        tls: None,
        egress: Default::default(),
    }
}

impl Harness {
    pub async fn start(agents: usize) -> Harness {
        Harness::start_with(agents, Default::default()).await
    }

    /// A harness whose server has these channel settings.
    pub async fn start_with(agents: usize, notify: coc_server::NotifyConfig) -> Harness {
        Harness::start_configured(agents, |c| c.notify = notify).await
    }

    /// A harness whose server settings `set` changes.
    pub async fn start_configured(
        agents: usize,
        set: impl FnOnce(&mut coc_server::ServerConfig),
    ) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path()).await;
        let mut cfg = config("127.0.0.1:0".parse().unwrap());
        set(&mut cfg);
        let (_, agent_token) = store
            .create_enrollment(
                coc_domain::DEFAULT_TENANT,
                "harness",
                1000,
                24,
                coc_store::now_ms(),
            )
            .await
            .unwrap();
        let server = coc_server::start(cfg, store).await.unwrap();
        let client = Client::new(&server.url(), ADMIN).unwrap();
        let mut h = Harness {
            server: Some(server),
            client,
            dir,
            agent_token,
            agents: vec![],
        };
        for _ in 0..agents {
            h.add_agent();
        }
        if agents > 0 {
            h.wait_hosts(agents).await;
        }
        h
    }

    pub fn url(&self) -> String {
        self.client.base().to_string()
    }

    pub fn add_agent(&mut self) {
        self.add_agent_with(|_| {});
    }

    /// Adds an in-process agent whose settings `set` changes.
    pub fn add_agent_with(&mut self, set: impl FnOnce(&mut coc_agent::AgentConfig)) {
        let n = self.agents.len();
        let mut cfg = coc_agent::AgentConfig {
            server: self.url(),
            fallback_servers: vec![],
            token: Some(self.agent_token.clone()),
            ca_cert: None,
            state_dir: self.dir.path().join(format!("agent-{n}")),
            run_as_self: true,
            simulate_reboot: true,
            recorded_patches: None,
            patching: Default::default(),
            proxy: None,
            proxy_listen: None,
            upgradable: false,
            discovery: Some(std::time::Duration::from_secs(2)),
        };
        set(&mut cfg);
        self.agents.push(tokio::spawn(async move {
            let _ = coc_agent::run(cfg).await;
        }));
    }

    /// Waits until `n` hosts are registered and connected; returns their ids.
    pub async fn wait_hosts(&self, n: usize) -> Vec<String> {
        let server = self.server.as_ref().unwrap();
        for _ in 0..200 {
            let v = self
                .client
                .get("/api/v1/resources", &[("type", "host".into())])
                .await
                .unwrap();
            let items = v["items"].as_array().unwrap();
            let ids: Vec<String> = items
                .iter()
                .map(|h| h["id"].as_str().unwrap().to_string())
                .collect();
            if ids.len() >= n && server.state.agents.count() >= n {
                return ids;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{n} agents did not connect");
    }

    /// Makes sure `names` are users (an incident's owner, a rule's
    /// assignee or a forward's target must be one).
    pub async fn users(&self, names: &[&str]) {
        for n in names {
            if self
                .client
                .get(&format!("/api/v1/users/{n}"), &[])
                .await
                .is_err()
            {
                self.client
                    .post("/api/v1/users", &json!({"name": n}))
                    .await
                    .unwrap();
            }
        }
    }

    /// Creates these applications (R6) so that definitions and incidents
    /// can name them.
    pub async fn applications(&self, names: &[&str]) {
        for n in names {
            self.client
                .post("/api/v1/applications", &json!({"name": n}))
                .await
                .unwrap();
        }
    }

    /// Creates an Alertmanager integration named `prom`; its ingest key.
    pub async fn alertmanager_key(&self) -> String {
        let integ = self
            .client
            .post(
                "/api/v1/integrations",
                &json!({"name": "prom", "type": "alertmanager"}),
            )
            .await
            .unwrap();
        integ["key"].as_str().unwrap().to_string()
    }

    pub async fn script(&self, name: &str, content: &str) -> String {
        let v = self
            .client
            .post(
                "/api/v1/scripts",
                &json!({"name": name, "type": "shell", "content": content, "risk_level": "low",
                "params": [{"name": "SERVICE", "default": "nginx"}]}),
            )
            .await
            .unwrap();
        v["id"].as_str().unwrap().to_string()
    }

    /// Polls a ticket until `pred` holds (10 s at most).
    pub async fn wait_ticket(&self, id: &str, pred: impl Fn(&Value) -> bool) -> Value {
        self.wait_for(&format!("/api/v1/tickets/{id}"), 200, pred)
            .await
    }

    /// Scans `host` for patches (P2) with a job of the `patch_scan` atom
    /// that leaves this machine's package lists as they are (no `apt-get
    /// update`); returns the ended job ticket.
    pub async fn scan_patches_locally(&self, host: &str) -> Value {
        let job = self
            .client
            .post(
                "/api/v1/jobs",
                &serde_json::json!({"name": format!("scan-{host}"), "risk_level": "low",
                    "steps": [{"name": "scan", "tasks": [
                        {"name": "scan", "atom": {"type": "patch_scan", "skip_refresh": true}}]}]}),
            )
            .await
            .unwrap();
        let t = self
            .client
            .post(
                &format!("/api/v1/jobs/{}/execute", job["id"].as_str().unwrap()),
                &serde_json::json!({"hosts": [host]}),
            )
            .await
            .unwrap();
        self.wait_job_ticket(t["id"].as_str().unwrap(), |t| {
            !["executing", "pending"].contains(&t["status"].as_str().unwrap_or(""))
        })
        .await
    }

    /// Polls a job ticket until `pred` holds (15 s at most).
    pub async fn wait_job_ticket(&self, id: &str, pred: impl Fn(&Value) -> bool) -> Value {
        self.wait_for(&format!("/api/v1/job-tickets/{id}"), 300, pred)
            .await
    }

    /// Polls `GET path` every 50 ms, at most `tries` times, until `pred`
    /// holds; panics with the last answer otherwise.
    /// Polls `path` until `pred` holds (15 s), panicking with `what` and
    /// the last answer.
    pub async fn wait_until(&self, path: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let mut last = Value::Null;
        for _ in 0..150 {
            last = self.client.get(path, &[]).await.unwrap();
            if pred(&last) {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{what}: {last}");
    }

    async fn wait_for(&self, path: &str, tries: u32, pred: impl Fn(&Value) -> bool) -> Value {
        let mut last = Value::Null;
        for _ in 0..tries {
            last = self.client.get(path, &[]).await.unwrap();
            if pred(&last) {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{path} never reached the expected state: {last:#}");
    }
}

/// Counts of a ticket: (pending, executing, successful, failed, cancelled).
pub fn counts(t: &Value) -> (i64, i64, i64, i64, i64) {
    let c = &t["counts"];
    let g = |k: &str| c[k].as_i64().unwrap();
    (
        g("pending"),
        g("executing"),
        g("successful"),
        g("failed"),
        g("cancelled"),
    )
}

/// One raw HTTP call: `(status, content-type, JSON body or the text as a
/// JSON string)`. `body` is sent as `application/json` bytes.
pub async fn request(
    h: &Harness,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Vec<u8>>,
) -> (u16, String, Value) {
    let http = reqwest::Client::new();
    let url = format!("{}{path}", h.url());
    let mut rb = match method {
        "GET" => http.get(&url),
        "POST" => http.post(&url),
        "PUT" => http.put(&url),
        "DELETE" => http.delete(&url),
        _ => unreachable!("method {method}"),
    };
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    if let Some(b) = body {
        rb = rb.header("content-type", "application/json").body(b);
    }
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let text = r.text().await.unwrap();
    (
        status,
        ct,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Registers a host with no agent behind it in the default tenant.
pub async fn fake_host(h: &Harness, name: &str) -> String {
    let facts = coc_store::resource::HostFacts {
        agent_id: format!("fake-{name}"),
        hostname: name.into(),
        ips: vec![],
        os: "Linux".into(),
        arch: "x86_64".into(),
        cpu_cores: 1,
        memory_bytes: 1,
        agent_version: "test".into(),
        boot_id: String::new(),
        proxy: None,
        proxy_listen: None,
        agent_sha256: String::new(),
    };
    h.server
        .as_ref()
        .unwrap()
        .state
        .store
        .upsert_host(coc_domain::DEFAULT_TENANT, &facts)
        .await
        .unwrap()
}

/// Whether PostgreSQL listens on 127.0.0.1:5432 for tests that use the
/// machine's own server (discovery). Absent: a notice, except under
/// `CI=true`, where it fails.
pub fn postgres_running() -> bool {
    let up = std::net::TcpStream::connect(("127.0.0.1", 5432)).is_ok();
    assert!(
        up || std::env::var("CI").as_deref() != Ok("true"),
        "PostgreSQL is not running on 127.0.0.1:5432 (CI)"
    );
    if !up {
        eprintln!("skipped: no PostgreSQL on 127.0.0.1:5432");
    }
    up
}

/// The status and stable code of a refused call (panics on success).
pub fn refusal<T: std::fmt::Debug>(r: Result<T, coc_client::ClientError>) -> (u16, String) {
    match r {
        Err(coc_client::ClientError::Api { status, code, .. }) => (status, code),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

impl Harness {
    /// The host name host `id` reported.
    pub async fn hostname(&self, id: &str) -> String {
        self.client
            .get(&format!("/api/v1/resources/{id}"), &[])
            .await
            .unwrap()["hostname"]
            .as_str()
            .unwrap()
            .to_string()
    }
}
