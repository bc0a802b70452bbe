//! `coc agent-install …`: install the agent on hosts over SSH from an
//! installation host (R3), by name: `coc agent-install --via jump
//! --target root@10.0.0.5 --target ops@db-1:2222 --key-file
//! ~/.ssh/id_ed25519 --follow`. Passwords come from an environment
//! variable and keys from a file, never from a command-line value.

use clap::Args;
use serde_json::{Value, json};

use super::{Conn, output};

#[derive(Args, Debug)]
pub struct Cmd {
    /// The installation host (name or id) whose agent signs in to the
    /// targets.
    #[arg(long, value_name = "HOST")]
    via: String,
    /// A host to install on: [LOGIN@]ADDRESS[:PORT] (login root, port 22
    /// when left out); repeat for several.
    #[arg(
        long = "target",
        value_name = "[LOGIN@]ADDRESS[:PORT]",
        required = true
    )]
    targets: Vec<String>,
    /// Sign in with this private key file (every target).
    #[arg(long, value_name = "FILE", conflicts_with = "password_env")]
    key_file: Option<std::path::PathBuf>,
    /// Sign in with the password in this environment variable (every
    /// target).
    #[arg(long, value_name = "VAR")]
    password_env: Option<String>,
    /// The server URL the new agents dial (default: this server's public
    /// URL).
    #[arg(long)]
    server: Option<String>,
    /// A proxy agent (HOST:PORT) the new agents go through.
    #[arg(long)]
    proxy: Option<String>,
    /// Where the agent is installed (default /opt/coc-agent).
    #[arg(long)]
    install_dir: Option<String>,
    #[command(flatten)]
    batching: Batching,
    /// Print each target's output as it comes, until the installation
    /// ends (fails when a target failed).
    #[arg(long)]
    follow: bool,
}

/// How hosts are split into batches, and when the work stops (agent
/// installation and upgrade).
#[derive(Args, Debug)]
pub struct Batching {
    /// Hosts per batch (default: all at once).
    #[arg(long)]
    pub batch_size: Option<u32>,
    /// Stop before the next batch when fewer than this % succeeded.
    #[arg(long, value_name = "PERCENT")]
    pub success_rate_threshold: Option<f64>,
}

/// `coc agent-uninstall HOST…`: removes agents installed by `coc
/// agent-install` (the common script COC-AGENT-UNINSTALL, run by each
/// host's own agent; any other agent is refused).
#[derive(Args, Debug)]
pub struct UninstallCmd {
    /// Hosts (names or ids) whose agent is removed.
    #[arg(required = true)]
    hosts: Vec<String>,
    /// Stop before the next batch when fewer than this % succeeded.
    #[arg(long, value_name = "PERCENT")]
    success_rate_threshold: Option<f64>,
    /// Print each host's output until the ticket ends (fails when a host
    /// failed).
    #[arg(long)]
    follow: bool,
}

/// Runs `coc agent-uninstall`.
pub async fn uninstall(conn: &Conn, c: UninstallCmd) -> anyhow::Result<()> {
    let cl = conn.client()?;
    let hosts = super::ticket::resolve_hosts(&cl, &c.hosts).await?;
    let body = json!({"hosts": hosts, "success_rate_threshold": c.success_rate_threshold});
    let t = cl
        .post(
            &format!(
                "/api/v1/scripts/{}/execute",
                coc_domain::agent_install::UNINSTALL_SCRIPT_NAME
            ),
            &body,
        )
        .await?;
    if c.follow {
        let tid = t["id"].as_str().unwrap_or_default().to_string();
        return super::ticket::follow(&cl, &tid, conn.output).await;
    }
    output::print(conn.output, &t, super::ticket::COLS);
    Ok(())
}

/// `[login@]address[:port]` as a target (an IPv6 address in brackets).
fn target(s: &str) -> anyhow::Result<Value> {
    let (login, rest) = match s.split_once('@') {
        Some((l, r)) => (l, r),
        None => ("root", s),
    };
    let (address, port) = match rest.rsplit_once(':') {
        Some((a, p)) if !a.contains(':') || a.ends_with(']') => (
            a.trim_start_matches('[').trim_end_matches(']'),
            p.parse::<u16>()
                .map_err(|_| anyhow::anyhow!("target '{s}': the port must be 1-65535"))?,
        ),
        _ => (rest, 22),
    };
    Ok(json!({"address": address, "port": port, "login": login}))
}

pub async fn run(conn: &Conn, c: Cmd) -> anyhow::Result<()> {
    let cl = conn.client()?;
    let auth = match (&c.key_file, &c.password_env) {
        (Some(f), _) => {
            let key = std::fs::read_to_string(f)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", f.display()))?;
            json!({"auth": "key", "private_key": key})
        }
        (None, Some(var)) => {
            let pw = std::env::var(var)
                .map_err(|_| anyhow::anyhow!("the environment variable {var} is not set"))?;
            json!({"auth": "password", "password": pw})
        }
        (None, None) => anyhow::bail!("give --key-file FILE or --password-env VAR"),
    };
    let mut targets = Vec::with_capacity(c.targets.len());
    for t in &c.targets {
        let mut v = target(t)?;
        for (k, x) in auth.as_object().into_iter().flatten() {
            v[k] = x.clone();
        }
        targets.push(v);
    }
    let body = json!({
        "installation_host": c.via,
        "targets": targets,
        "server": c.server,
        "proxy": c.proxy,
        "install_dir": c.install_dir,
        "batch_size": c.batching.batch_size,
        "success_rate_threshold": c.batching.success_rate_threshold,
    });
    let started = cl.post("/api/v1/agent-installs", &body).await?;
    let ticket = started["ticket"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if conn.output == super::Format::Text {
        println!(
            "installation {} started from {}",
            started["ticket"]["number"].as_str().unwrap_or(&ticket),
            c.via
        );
        output::table(
            started["hosts"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default(),
            &["address", "host_id"],
        );
    } else if !c.follow {
        output::print(conn.output, &started, &[]);
    }
    if c.follow {
        return super::ticket::follow(&cl, &ticket, conn.output).await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_read_login_address_and_port() {
        assert_eq!(
            target("10.0.0.5").unwrap(),
            json!({"address": "10.0.0.5", "port": 22, "login": "root"})
        );
        assert_eq!(
            target("ops@db-1:2222").unwrap(),
            json!({"address": "db-1", "port": 2222, "login": "ops"})
        );
        assert_eq!(target("[::1]:22").unwrap()["address"], "::1");
        assert_eq!(target("fe80::1").unwrap()["port"], 22);
        assert!(target("db:x").is_err());
    }
}
