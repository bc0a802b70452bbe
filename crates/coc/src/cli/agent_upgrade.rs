//! `coc agent-build …` and `coc agent-upgrade …` (R3): keep agent builds
//! by version, and upgrade hosts' agents to one by name: `coc agent-build
//! upload ./coc-agent --version 1.5.0`, then `coc agent-upgrade web-1
//! web-2 --build 1.5.0 --batch-size 1 --follow`.

use clap::{Args, Subcommand};
use serde_json::json;

use super::{Conn, output};

#[derive(Args, Debug)]
pub struct BuildCmd {
    #[command(subcommand)]
    cmd: BuildSub,
}

#[derive(Subcommand, Debug)]
enum BuildSub {
    /// List the builds, newest first, with how many hosts run each.
    List,
    /// Upload an agent executable (the slim coc-agent binary) as a build.
    #[command(disable_version_flag = true)]
    Upload {
        /// The executable.
        file: std::path::PathBuf,
        /// Its version label (1.5.0, 1.5.0-rc1).
        #[arg(long = "version", value_name = "VERSION")]
        label: String,
        /// What it is.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Show a build (by version or id).
    Show {
        /// Version or id.
        build: String,
    },
    /// Delete a build (by version or id).
    Delete {
        /// Version or id.
        build: String,
    },
}

const COLS: &[&str] = &["version", "sha256", "size_bytes", "hosts", "note", "id"];

/// Runs `coc agent-build`.
pub async fn build(conn: &Conn, c: BuildCmd) -> anyhow::Result<()> {
    let cl = conn.client()?;
    let path = |b: &str| format!("/api/v1/agent-builds/{}", super::enc(b));
    match c.cmd {
        BuildSub::List => output::print(
            conn.output,
            &cl.get("/api/v1/agent-builds", &[]).await?,
            COLS,
        ),
        BuildSub::Upload { file, label, note } => {
            let max = coc_domain::agent_upgrade::MAX_BUILD_BYTES;
            let size = std::fs::metadata(&file)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?
                .len();
            anyhow::ensure!(
                size <= max,
                "{} is {size} bytes; an agent build is at most {} MiB",
                file.display(),
                max / 1024 / 1024
            );
            let bytes = std::fs::read(&file)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            let b = cl
                .post_bytes(
                    "/api/v1/agent-builds",
                    &[("version", label), ("note", note)],
                    bytes,
                )
                .await?;
            output::print(conn.output, &b, COLS);
        }
        BuildSub::Show { build } => {
            output::print(conn.output, &cl.get(&path(&build), &[]).await?, COLS)
        }
        BuildSub::Delete { build } => {
            cl.delete(&path(&build)).await?;
            if conn.output == super::Format::Text {
                println!("deleted agent build {build}");
            }
        }
    }
    Ok(())
}

/// `coc agent-upgrade HOST… --build VERSION`.
#[derive(Args, Debug)]
pub struct UpgradeCmd {
    /// Hosts (names or ids) whose agent is upgraded.
    #[arg(required = true)]
    hosts: Vec<String>,
    /// The build (version or id).
    #[arg(long)]
    build: String,
    /// Seconds the new build has to connect before it is rolled back
    /// (10-3600, default 120).
    #[arg(long, value_name = "SECONDS")]
    rollback_after: Option<u32>,
    #[command(flatten)]
    batching: super::agent_install::Batching,
    /// Print each host's progress until the upgrade ends (fails when a
    /// host failed).
    #[arg(long)]
    follow: bool,
}

/// Runs `coc agent-upgrade`.
pub async fn upgrade(conn: &Conn, c: UpgradeCmd) -> anyhow::Result<()> {
    let cl = conn.client()?;
    let hosts = super::ticket::resolve_hosts(&cl, &c.hosts).await?;
    let body = json!({
        "hosts": hosts,
        "build": c.build,
        "rollback_after_s": c.rollback_after,
        "batch_size": c.batching.batch_size,
        "success_rate_threshold": c.batching.success_rate_threshold,
    });
    let t = cl.post("/api/v1/agent-upgrades", &body).await?;
    let what = format!("upgrade to {}", c.build);
    super::job::started(&cl, &t, &what, c.follow, conn.output).await
}
