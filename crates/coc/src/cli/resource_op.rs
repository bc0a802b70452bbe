//! `coc resource-op start|stop|restart DATABASE…` (P4): start, stop or
//! restart databases by name through the service manager of the hosts
//! they run on — `coc resource-op restart orders-db users-db --batch-size
//! 1 --success-rate-threshold 100 --follow`. Each database names its
//! service in its `service` attribute (`coc resource update`).
//!
//! `coc host-op start|stop|restart|reinstall-os|change-os HOST…` (P4,
//! ref. 4.3): the same for hosts and cloud servers by name — through the
//! cloud provider for cloud servers, a restart or stop through the agent
//! otherwise: `coc host-op change-os web-1 web-2 --image ubuntu-24.04
//! --batch-size 1 --follow`.

use clap::{Args, ValueEnum};
use serde_json::json;

use super::{Conn, output};

/// What to do.
#[derive(Copy, Clone, Debug, ValueEnum)]
enum Action {
    /// Start (a running one stays running).
    Start,
    /// Stop (a stopped one stays stopped).
    Stop,
    /// Restart.
    Restart,
}

/// How an operation runs: batches, and whether to follow it.
#[derive(Args, Debug)]
struct Running {
    #[command(flatten)]
    batching: super::agent_install::Batching,
    /// Print each host's progress until the operation ends (fails when a
    /// host failed).
    #[arg(long)]
    follow: bool,
}

/// The API's name of a chosen value (`reinstall-os` → `reinstall_os`).
fn api_name(v: impl ValueEnum) -> String {
    v.to_possible_value()
        .map(|p| p.get_name().replace('-', "_"))
        .unwrap_or_default()
}

#[derive(Args, Debug)]
pub struct Cmd {
    /// start, stop or restart.
    #[arg(value_enum)]
    action: Action,
    /// Databases (names or ids).
    #[arg(required = true)]
    resources: Vec<String>,
    #[command(flatten)]
    run: Running,
}

/// Runs `coc resource-op`.
pub async fn run(conn: &Conn, c: Cmd) -> anyhow::Result<()> {
    let cl = conn.client()?;
    let action = api_name(c.action);
    let t = cl
        .post(
            "/api/v1/resource-operations",
            &json!({
                "action": action,
                "resources": c.resources,
                "batch_size": c.run.batching.batch_size,
                "success_rate_threshold": c.run.batching.success_rate_threshold,
            }),
        )
        .await?;
    if c.run.follow {
        let id = t["id"].as_str().unwrap_or_default().to_string();
        if conn.output == super::Format::Text {
            println!(
                "{action} started: ticket {}",
                t["number"].as_str().unwrap_or(&id)
            );
        }
        return super::ticket::follow(&cl, &id, conn.output).await;
    }
    output::print(conn.output, &t, super::ticket::COLS);
    Ok(())
}

/// What to do to hosts.
#[derive(Copy, Clone, Debug, ValueEnum)]
enum HostAction {
    /// Power on (cloud servers only; a running one stays running).
    Start,
    /// Shut down (a stopped one stays stopped).
    Stop,
    /// Reboot and wait until it runs again.
    Restart,
    /// Rebuild from the image it runs (cloud servers only; wipes its disk).
    ReinstallOs,
    /// Rebuild from another image, --image (cloud servers only; wipes its
    /// disk).
    ChangeOs,
}

/// `coc host-op`.
#[derive(Args, Debug)]
pub struct HostCmd {
    /// start, stop, restart, reinstall-os or change-os.
    #[arg(value_enum)]
    action: HostAction,
    /// Hosts or cloud servers (names or ids).
    #[arg(required = true)]
    hosts: Vec<String>,
    /// The image change-os installs (name or id at the provider).
    #[arg(long)]
    image: Option<String>,
    /// The key pair a reinstalled or changed server takes for logins
    /// (its name at the provider); default: what its image gives.
    #[arg(long)]
    key_pair: Option<String>,
    #[command(flatten)]
    run: Running,
}

/// Runs `coc host-op`.
pub async fn run_hosts(conn: &Conn, c: HostCmd) -> anyhow::Result<()> {
    let cl = conn.client()?;
    let action = api_name(c.action);
    let t = cl
        .post(
            "/api/v1/host-operations",
            &json!({
                "action": action,
                "hosts": c.hosts,
                "image": c.image,
                "key_pair": c.key_pair,
                "batch_size": c.run.batching.batch_size,
                "success_rate_threshold": c.run.batching.success_rate_threshold,
            }),
        )
        .await?;
    let what = action.replace('_', " ");
    super::job::started(&cl, &t, &what, c.run.follow, conn.output).await
}
