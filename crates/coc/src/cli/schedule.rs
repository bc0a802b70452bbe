//! `coc schedule …` — scheduled O&M (X5).

use clap::{Args, Subcommand};
use serde_json::json;

use super::{Conn, output, read_json};

#[derive(Args, Debug)]
pub struct Cmd {
    #[command(subcommand)]
    verb: Verb,
}

#[derive(Subcommand, Debug)]
enum Verb {
    /// List scheduled tasks.
    List,
    /// Show one task (JSON).
    Show { id: String },
    /// Create a task from a JSON file (`-` for stdin): disabled, pending review.
    Create {
        #[arg(long, short)]
        file: String,
    },
    /// Replace a task (only disabled or pending review).
    Update {
        id: String,
        #[arg(long, short)]
        file: String,
    },
    /// Approve (--approve) or reject a task.
    Review {
        id: String,
        #[arg(long)]
        approve: bool,
    },
    /// Enable an approved task.
    Enable { id: String },
    /// Disable a task.
    Disable { id: String },
    /// Execution records.
    Runs { id: String },
    /// Delete a disabled task.
    Delete { id: String },
}

pub async fn run(conn: &Conn, c: Cmd) -> anyhow::Result<()> {
    let cl = conn.client()?;
    let base = "/api/v1/scheduled-tasks";
    let cols = &[
        "id",
        "name",
        "enabled",
        "review_status",
        "script",
        "next_run_at",
    ];
    let v = match c.verb {
        Verb::List => cl.get(base, &[]).await?,
        Verb::Show { id } => {
            let v = cl.get(&format!("{base}/{id}"), &[]).await?;
            println!("{}", serde_json::to_string_pretty(&v)?);
            return Ok(());
        }
        Verb::Create { file } => cl.post(base, &read_json(&file)?).await?,
        Verb::Update { id, file } => cl.put(&format!("{base}/{id}"), &read_json(&file)?).await?,
        Verb::Review { id, approve } => {
            cl.post(&format!("{base}/{id}/review"), &json!({"approve": approve}))
                .await?
        }
        Verb::Enable { id } => cl.post(&format!("{base}/{id}/enable"), &json!({})).await?,
        Verb::Disable { id } => cl.post(&format!("{base}/{id}/disable"), &json!({})).await?,
        Verb::Runs { id } => {
            let v = cl.get(&format!("{base}/{id}/runs"), &[]).await?;
            output::print(
                conn.output,
                &v,
                &["due_at", "started_at", "status", "ticket_id", "detail"],
            );
            return Ok(());
        }
        Verb::Delete { id } => {
            cl.delete(&format!("{base}/{id}")).await?;
            println!("deleted {id}");
            return Ok(());
        }
    };
    output::print(conn.output, &v, cols);
    Ok(())
}
