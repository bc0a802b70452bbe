//! `coc resource …`

use clap::{Args, Subcommand};

use super::{Conn, output};

#[derive(Args, Debug)]
pub struct Cmd {
    #[command(subcommand)]
    verb: Verb,
}

#[derive(Subcommand, Debug)]
enum Verb {
    /// List hosts with agent status.
    List,
    /// Show a host.
    Show { id: String },
}

pub async fn run(conn: &Conn, c: Cmd) -> anyhow::Result<()> {
    let cl = conn.client()?;
    let cols = &[
        "id",
        "hostname",
        "ips",
        "os",
        "cpu_cores",
        "memory_bytes",
        "agent_status",
    ];
    let v = match c.verb {
        Verb::List => cl.get("/api/v1/resources", &[]).await?,
        Verb::Show { id } => cl.get(&format!("/api/v1/resources/{id}"), &[]).await?,
    };
    output::print(conn.output, &v, cols);
    Ok(())
}
