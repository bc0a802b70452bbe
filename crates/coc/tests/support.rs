//! Real `coc server` and `coc agent` processes in a temporary data dir,
//! driven over HTTP(S) with the admin token.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub const ADMIN: &str = "durable-admin-token";
pub const KEY: &str = "0707070707070707070707070707070707070707070707070707070707070707";

/// A child process killed (SIGKILL) when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn log_file(dir: &Path, name: &str) -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(name))
        .unwrap()
}

pub struct Env {
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub http: reqwest::Client,
    /// `https` when the server serves TLS.
    pub scheme: &'static str,
    /// Flags added to `coc server` (TLS settings).
    pub server_args: Vec<String>,
}

impl Env {
    pub fn new() -> Env {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Env {
            dir: tempfile::tempdir().unwrap(),
            port: free_port(),
            http: reqwest::Client::new(),
            scheme: "http",
            server_args: vec![],
        }
    }

    /// An env whose server serves TLS with `cert` and `key`, trusted by the
    /// test's client through `ca`.
    pub fn tls(cert: &Path, key: &Path, ca: &Path) -> Env {
        let mut env = Env::new();
        let ca = reqwest::Certificate::from_pem_bundle(&std::fs::read(ca).unwrap()).unwrap();
        env.http = reqwest::Client::builder()
            .tls_certs_only(ca)
            .build()
            .unwrap();
        env.scheme = "https";
        env.server_args = vec![
            "--tls-cert".into(),
            cert.display().to_string(),
            "--tls-key".into(),
            key.display().to_string(),
        ];
        env
    }

    pub fn url(&self) -> String {
        format!("{}://127.0.0.1:{}", self.scheme, self.port)
    }

    pub async fn server(&self, crash_at: Option<&str>) -> Proc {
        self.replica(self.port, None, "server.log", crash_at).await
    }

    /// A `coc server` on `port` (a replica when `database_url` is a shared
    /// PostgreSQL database), logging to `log` in the data dir.
    pub async fn replica(
        &self,
        port: u16,
        database_url: Option<&str>,
        log: &str,
        crash_at: Option<&str>,
    ) -> Proc {
        let mut c = Command::new(env!("CARGO_BIN_EXE_coc"));
        c.args(["server", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(self.dir.path())
            .args(["--admin-token", ADMIN])
            .args(["--secret-key", KEY, "--heartbeat-ms", "500"])
            .args(["--admin-password", "durable-password"])
            .args(&self.server_args)
            .env("RUST_LOG", "debug,sqlx=warn,hyper=info,h2=info,rustls=info")
            .env_remove("COC_CRASH_AT")
            .stdin(Stdio::null())
            .stdout(log_file(self.dir.path(), log))
            .stderr(log_file(self.dir.path(), log));
        if let Some(u) = database_url {
            c.args(["--database-url", u]);
        }
        if let Some(p) = crash_at {
            c.env("COC_CRASH_AT", p);
        }
        let p = Proc(c.spawn().expect("coc server starts"));
        let url = format!("{}://127.0.0.1:{port}", self.scheme);
        for _ in 0..200 {
            if let Ok(r) = self.http.get(format!("{url}/readyz")).send().await
                && r.status().is_success()
            {
                return p;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("server did not come up: {}", self.server_log());
    }

    /// An enrollment token for the agents of a test (10 hosts).
    pub async fn enrollment(&self) -> String {
        let v = self
            .call(
                "POST",
                "/api/v1/agent-enrollments",
                Some(json!({"name": "durable", "max_uses": 10})),
            )
            .await;
        v["secret"].as_str().unwrap().to_string()
    }

    pub fn agent(&self, i: usize, token: &str) -> Proc {
        self.agent_with(i, token, &[])
    }

    /// Agent `i` with more flags (`--ca-cert`).
    pub fn agent_with(&self, i: usize, token: &str, args: &[&str]) -> Proc {
        self.agent_of(i, token, &[self.url()], args)
    }

    /// Agent `i` as the slim `coc-agent` binary (decision 0021).
    pub fn slim_agent(&self, i: usize, token: &str, args: &[&str]) -> Proc {
        self.spawn_agent(
            Command::new(env!("CARGO_BIN_EXE_coc-agent")),
            i,
            token,
            &[self.url()],
            args,
        )
    }

    /// Agent `i` of the servers `urls` (replicas, tried in order).
    pub fn agent_of(&self, i: usize, token: &str, urls: &[String], args: &[&str]) -> Proc {
        let mut c = Command::new(env!("CARGO_BIN_EXE_coc"));
        c.arg("agent");
        self.spawn_agent(c, i, token, urls, args)
    }

    /// Starts agent `i` with command `c` (its state and log in the test's
    /// directory).
    pub fn spawn_agent(
        &self,
        mut c: Command,
        i: usize,
        token: &str,
        urls: &[String],
        args: &[&str],
    ) -> Proc {
        for u in urls {
            c.args(["--server", u]);
        }
        Proc(
            c.args(["--token", token])
                .args(args)
                .arg("--state-dir")
                .arg(self.dir.path().join(format!("agent-{i}")))
                .stdin(Stdio::null())
                .stdout(log_file(self.dir.path(), &format!("agent-{i}.log")))
                .stderr(log_file(self.dir.path(), &format!("agent-{i}.log")))
                .spawn()
                .expect("coc agent starts"),
        )
    }

    /// What agent `i` logged.
    pub fn agent_log(&self, i: usize) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("agent-{i}.log"))).unwrap_or_default()
    }

    pub fn server_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.call_at(&self.url(), method, path, body).await
    }

    /// An admin call to the server (replica) at `base`.
    pub async fn call_at(
        &self,
        base: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let url = format!("{base}{path}");
        let rb = match method {
            "GET" => self.http.get(url),
            "PUT" => self.http.put(url).json(&body.unwrap_or(json!({}))),
            _ => self.http.post(url).json(&body.unwrap_or(json!({}))),
        };
        let r = rb.bearer_auth(ADMIN).send().await.unwrap();
        let st = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        assert!(st.is_success(), "{method} {path}: {st} {v}");
        v
    }

    pub async fn hosts(&self, n: usize) -> Vec<String> {
        for _ in 0..400 {
            let v = self.call("GET", "/api/v1/resources?type=host", None).await;
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

    pub async fn wait(&self, path: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        self.wait_at(&self.url(), path, what, pred).await
    }

    /// Polls `path` on the server (replica) at `base` until `pred` holds
    /// (90 s at most).
    pub async fn wait_at(
        &self,
        base: &str,
        path: &str,
        what: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let end = Instant::now() + Duration::from_secs(90);
        let mut last = Value::Null;
        while Instant::now() < end {
            if let Ok(r) = self
                .http
                .get(format!("{base}{path}"))
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

pub fn me() -> String {
    let out = Command::new("id").arg("-un").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A webhook receiver on a free loopback port: answers 200 and keeps the
/// `Idempotency-Key` of every request it receives, in order. Returns its
/// URL and the keys.
pub async fn webhook_sink() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let keys = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = keys.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap| {
            let seen = seen.clone();
            async move {
                let key = headers
                    .get("idempotency-key")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                seen.lock().unwrap().push(key);
                "ok"
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    (url, keys)
}
