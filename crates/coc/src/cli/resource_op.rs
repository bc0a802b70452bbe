//! `coc resource-op start|stop|restart DATABASE…` (P4): start, stop or
//! restart databases by name through the service manager of the hosts
//! they run on — `coc resource-op restart orders-db users-db --batch-size
//! 1 --success-rate-threshold 100 --follow`. Each database names its
//! service in its `service` attribute (`coc resource update`).

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

#[derive(Args, Debug)]
pub struct Cmd {
    /// start, stop or restart.
    #[arg(value_enum)]
    action: Action,
    /// Databases (names or ids).
    #[arg(required = true)]
    resources: Vec<String>,
    #[command(flatten)]
    batching: super::agent_install::Batching,
    /// Print each host's progress until the operation ends (fails when a
    /// host failed).
    #[arg(long)]
    follow: bool,
}

/// Runs `coc resource-op`.
pub async fn run(conn: &Conn, c: Cmd) -> anyhow::Result<()> {
    let cl = conn.client()?;
    let action = match c.action {
        Action::Start => "start",
        Action::Stop => "stop",
        Action::Restart => "restart",
    };
    let t = cl
        .post(
            "/api/v1/resource-operations",
            &json!({
                "action": action,
                "resources": c.resources,
                "batch_size": c.batching.batch_size,
                "success_rate_threshold": c.batching.success_rate_threshold,
            }),
        )
        .await?;
    if c.follow {
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
