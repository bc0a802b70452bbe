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
    /// Replace a rule's spec from a JSON file (rule by name or id).
    Update {
        id: String,
        #[arg(long, short)]
        file: String,
    },
    /// What a rule (JSON file, `-` for stdin) would have done to the
    /// alarms of the last days: matches and incidents, before saving it.
    Replay {
        #[arg(long, short)]
        file: String,
        /// Days back (1 to 30).
        #[arg(long, default_value_t = 7)]
        days: u32,
    },
    /// List rules.
    List,
    /// Show a rule (by name or id).
    Show { id: String },
    /// Delete a rule (by name or id).
    Delete { id: String },
    /// Copy a rule (by name or id; the copy starts disabled).
    Copy {
        id: String,
        #[arg(long)]
        name: String,
    },
    /// Enable a rule (by name or id).
    Enable { id: String },
    /// Disable a rule (by name or id).
    Disable { id: String },
}

/// The id of the forwarding rule named (or with id) `given`.
async fn id_of(cl: &coc_client::Client, given: &str) -> anyhow::Result<String> {
    super::id_by_name(cl, "/api/v1/forwarding-rules", "forwarding rule", given).await
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
            let id = id_of(&cl, &id).await?;
            cl.put(
                &format!("/api/v1/forwarding-rules/{id}"),
                &read_json(&file)?,
            )
            .await?
        }
        Verb::Replay { file, days } => {
            let v = cl
                .post(
                    "/api/v1/forwarding-rules/replay",
                    &json!({"rule": read_json(&file)?, "days": days}),
                )
                .await?;
            output::print(
                conn.output,
                &v,
                &["alarms", "matched", "incidents", "sample"],
            );
            return Ok(());
        }
        Verb::List => cl.get("/api/v1/forwarding-rules", &[]).await?,
        Verb::Show { id } => {
            let id = id_of(&cl, &id).await?;
            cl.get(&format!("/api/v1/forwarding-rules/{id}"), &[])
                .await?
        }
        Verb::Delete { id } => {
            let id = id_of(&cl, &id).await?;
            cl.delete(&format!("/api/v1/forwarding-rules/{id}")).await?;
            println!("deleted {id}");
            return Ok(());
        }
        Verb::Copy { id, name } => {
            let id = id_of(&cl, &id).await?;
            cl.post(
                &format!("/api/v1/forwarding-rules/{id}/copy"),
                &json!({"name": name}),
            )
            .await?
        }
        Verb::Enable { id } => {
            let id = id_of(&cl, &id).await?;
            cl.post(&format!("/api/v1/forwarding-rules/{id}/enable"), &json!({}))
                .await?
        }
        Verb::Disable { id } => {
            let id = id_of(&cl, &id).await?;
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
