//! The benches' own COC: `coc server` processes on a fresh data dir (or a
//! PostgreSQL database), and agents inside the bench process, each with
//! its own connection, identity and spool.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// A child process (a `coc server`, an Alertmanager), killed when dropped.
pub struct ServerProc(pub std::process::Child);

impl Drop for ServerProc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Servers started by a bench, stopped and their data removed when
/// dropped.
pub struct Servers {
    procs: Vec<ServerProc>,
    /// Their URLs, in start order.
    pub urls: Vec<String>,
    /// An admin client of the first.
    pub client: coc_client::Client,
    /// The CA the agents trust (with TLS).
    ca: Option<std::path::PathBuf>,
    /// Where the agents keep their state.
    base: std::path::PathBuf,
    data: std::path::PathBuf,
}

/// A fresh directory under the system temp dir for a server's data.
pub fn tempdir_in_tmp() -> anyhow::Result<std::path::PathBuf> {
    let d = std::env::temp_dir().join(format!("coc-fanout-data-{:08x}", rand::random::<u32>()));
    std::fs::create_dir_all(&d)?;
    Ok(d)
}

/// The admin token of the benches' servers.
pub const ADMIN: &str = "fanout-admin-token";

impl Servers {
    /// Starts `replicas` servers (HTTPS with a CA of their own when
    /// `tls`) on `database_url` (default: SQLite in a fresh data dir);
    /// agents will keep their state under `state`.
    ///
    /// Errors: a server that does not start.
    pub async fn start(
        state: &std::path::Path,
        tls: bool,
        database_url: Option<&str>,
        replicas: usize,
    ) -> anyhow::Result<Servers> {
        let base = state.join(format!("coc-fanout-{:08x}", rand::random::<u32>()));
        std::fs::create_dir_all(&base)?;
        let scheme = if tls { "https" } else { "http" };
        let mut urls = Vec::new();
        for _ in 0..replicas {
            let port = std::net::TcpListener::bind("127.0.0.1:0")?
                .local_addr()?
                .port();
            urls.push(format!("{scheme}://127.0.0.1:{port}"));
        }
        let exe = std::env::current_exe()?.with_file_name("coc");
        let data = tempdir_in_tmp()?;
        let certs = if tls {
            Some(coc_server::tls::dev_certificates(&data.join("tls"), &[])?)
        } else {
            None
        };
        let mut tls_args: Vec<std::ffi::OsString> = vec![];
        if let Some(c) = &certs {
            tls_args.extend([
                "--tls-cert".into(),
                c.cert.clone().into(),
                "--tls-key".into(),
                c.key.clone().into(),
            ]);
        }
        let client_of = |u: &str| -> anyhow::Result<coc_client::Client> {
            Ok(match &certs {
                Some(c) => coc_client::Client::with_ca(u, ADMIN, &std::fs::read(&c.ca)?)?,
                None => coc_client::Client::new(u, ADMIN)?,
            })
        };
        let mut procs = Vec::new();
        for u in &urls {
            let mut c = std::process::Command::new(&exe);
            c.args([
                "server",
                "--listen",
                u.rsplit("//").next().unwrap_or_default(),
            ])
            .arg("--data-dir")
            .arg(&data)
            .args(&tls_args)
            .args(["--admin-token", ADMIN])
            .args(["--admin-password", "fanout-password"])
            .env("RUST_LOG", "warn")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null());
            if let Some(d) = database_url {
                c.args(["--database-url", d]);
            }
            let server = ServerProc(
                c.spawn()
                    .with_context(|| format!("starting {}", exe.display()))?,
            );
            let client = client_of(u)?;
            for i in 0.. {
                if client.get("/readyz", &[]).await.is_ok() {
                    break;
                }
                if i > 200 {
                    bail!("the server did not start");
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            procs.push(server);
        }
        let client = client_of(&urls[0])?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        Ok(Servers {
            procs,
            urls,
            client,
            ca: certs.map(|c| c.ca),
            base,
            data,
        })
    }

    /// The servers' process ids.
    pub fn pids(&self) -> Vec<u32> {
        self.procs.iter().map(|p| p.0.id()).collect()
    }

    /// Starts `n` agents in this process, agent `i` connected to server
    /// `i % replicas` (the others as fallbacks), and waits until all are
    /// connected (2 minutes at most). `recorded`: their patch tasks
    /// answer with this report instead of running apt.
    ///
    /// Errors: an agent that did not connect in time.
    pub async fn agents(
        &self,
        n: usize,
        recorded: Option<Arc<coc_proto::PatchReport>>,
    ) -> anyhow::Result<Agents> {
        let token = self
            .client
            .post(
                "/api/v1/agent-enrollments",
                &serde_json::json!({"name": "fanout", "max_uses": n}),
            )
            .await?["secret"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let started = Instant::now();
        let urls = &self.urls;
        let mut handles = Vec::new();
        for i in 0..n {
            let cfg = coc_agent::AgentConfig {
                server: urls[i % urls.len()].clone(),
                fallback_servers: (1..urls.len())
                    .map(|k| urls[(i + k) % urls.len()].clone())
                    .collect(),
                token: Some(token.clone()),
                ca_cert: self.ca.clone(),
                state_dir: self.base.join(format!("agent-{i}")),
                run_as_self: true,
                simulate_reboot: true,
                recorded_patches: recorded.clone(),
                patching: Default::default(),
                proxy: None,
                proxy_listen: None,
                upgradable: false,
                discovery: None,
            };
            handles.push(tokio::spawn(async move {
                let _ = coc_agent::run(cfg).await;
            }));
        }
        let hosts: Vec<String> = loop {
            let v = self
                .client
                .get("/api/v1/resources", &[("limit", "1000".into())])
                .await?;
            let ids: Vec<String> = v["items"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|h| h["agent_status"] == "running")
                .filter_map(|h| h["id"].as_str().map(String::from))
                .collect();
            if ids.len() >= n {
                break ids;
            }
            if started.elapsed() > Duration::from_secs(120) {
                bail!("only {} of {n} agents connected", ids.len());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        Ok(Agents { handles, hosts })
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        self.procs.clear();
        let _ = std::fs::remove_dir_all(&self.base);
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

/// Agents running in the bench process, stopped when dropped.
pub struct Agents {
    handles: Vec<tokio::task::JoinHandle<()>>,
    /// Their hosts' ids.
    pub hosts: Vec<String>,
}

impl Drop for Agents {
    fn drop(&mut self) {
        for h in &self.handles {
            h.abort();
        }
    }
}
