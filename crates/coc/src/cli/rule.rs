//! `coc rule …` — forwarding rules are JSON documents (see README).

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
    /// Create a rule from a JSON file (`-` for stdin).
    Create {
        #[arg(long, short)]
        file: String,
    },
    /// Replace a rule's spec from a JSON file.
    Update {
        id: String,
        #[arg(long, short)]
        file: String,
    },
    /// List rules.
    List,
    /// Show a rule.
    Show { id: String },
    /// Delete a rule.
    Delete { id: String },
    /// Copy a rule (the copy starts disabled).
    Copy {
        id: String,
        #[arg(long)]
        name: String,
    },
    /// Enable a rule.
    Enable { id: String },
    /// Disable a rule.
    Disable { id: String },
}

const COLS: &[&str] = &[
    "id",
    "name",
    "enabled",
    "incident_level",
    "assignee",
    "contingency_script.script_id",
];

pub async fn run(conn: &Conn, c: Cmd) -> anyhow::Result<()> {
    let cl = conn.client()?;
    let v = match c.verb {
        Verb::Create { file } => {
            cl.post("/api/v1/forwarding-rules", &read_json(&file)?)
                .await?
        }
        Verb::Update { id, file } => {
            cl.put(
                &format!("/api/v1/forwarding-rules/{id}"),
                &read_json(&file)?,
            )
            .await?
        }
        Verb::List => cl.get("/api/v1/forwarding-rules", &[]).await?,
        Verb::Show { id } => {
            cl.get(&format!("/api/v1/forwarding-rules/{id}"), &[])
                .await?
        }
        Verb::Delete { id } => {
            cl.delete(&format!("/api/v1/forwarding-rules/{id}")).await?;
            println!("deleted {id}");
            return Ok(());
        }
        Verb::Copy { id, name } => {
            cl.post(
                &format!("/api/v1/forwarding-rules/{id}/copy"),
                &json!({"name": name}),
            )
            .await?
        }
        Verb::Enable { id } => {
            cl.post(&format!("/api/v1/forwarding-rules/{id}/enable"), &json!({}))
                .await?
        }
        Verb::Disable { id } => {
            cl.post(
                &format!("/api/v1/forwarding-rules/{id}/disable"),
                &json!({}),
            )
            .await?
        }
    };
    output::print(conn.output, &v, COLS);
    Ok(())
}
