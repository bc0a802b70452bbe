//! `coc oncall …` — scheduling scenarios and "who is on call" (O2).

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
    /// List scenarios.
    List,
    /// Show a scenario (JSON).
    Show { scenario: String },
    /// Create a scenario from a JSON file (`-` for stdin).
    Create {
        #[arg(long, short)]
        file: String,
    },
    /// Replace a scenario from a JSON file.
    Update {
        scenario: String,
        #[arg(long, short)]
        file: String,
    },
    /// Delete a scenario.
    Delete { scenario: String },
    /// Clear local dates FROM..=TO (YYYY-MM-DD); past dates stay.
    Clear {
        scenario: String,
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
    },
    /// Who is on call for a role (now, or --at an RFC 3339 time).
    Who {
        #[arg(long)]
        scenario: String,
        #[arg(long)]
        role: String,
        /// Application (application-dimension scenarios).
        #[arg(long)]
        application: Option<String>,
        /// Region (application-dimension scenarios).
        #[arg(long)]
        region: Option<String>,
        #[arg(long)]
        at: Option<String>,
    },
}

pub async fn run(conn: &Conn, c: Cmd) -> anyhow::Result<()> {
    let cl = conn.client()?;
    let cols = &["id", "name", "dimension", "roles"];
    let v = match c.verb {
        Verb::List => cl.get("/api/v1/oncall/scenarios", &[]).await?,
        Verb::Show { scenario } => {
            let v = cl
                .get(&format!("/api/v1/oncall/scenarios/{scenario}"), &[])
                .await?;
            println!("{}", serde_json::to_string_pretty(&v)?);
            return Ok(());
        }
        Verb::Create { file } => {
            cl.post("/api/v1/oncall/scenarios", &read_json(&file)?)
                .await?
        }
        Verb::Update { scenario, file } => {
            cl.put(
                &format!("/api/v1/oncall/scenarios/{scenario}"),
                &read_json(&file)?,
            )
            .await?
        }
        Verb::Delete { scenario } => {
            cl.delete(&format!("/api/v1/oncall/scenarios/{scenario}"))
                .await?;
            println!("deleted {scenario}");
            return Ok(());
        }
        Verb::Clear { scenario, from, to } => {
            cl.post(
                &format!("/api/v1/oncall/scenarios/{scenario}/clear"),
                &json!({"from": from, "to": to}),
            )
            .await?
        }
        Verb::Who {
            scenario,
            role,
            application,
            region,
            at,
        } => {
            let mut q = vec![("scenario", scenario), ("role", role)];
            for (k, v) in [("application", application), ("region", region), ("at", at)] {
                if let Some(v) = v {
                    q.push((k, v));
                }
            }
            let v = cl.get("/api/v1/oncall/who", &q).await?;
            if conn.output == super::Format::Text {
                let people: Vec<&str> = v["on_call"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|p| p.as_str())
                    .collect();
                println!(
                    "{}",
                    if people.is_empty() {
                        "(nobody)".to_string()
                    } else {
                        people.join(", ")
                    }
                );
                return Ok(());
            }
            v
        }
    };
    output::print(conn.output, &v, cols);
    Ok(())
}
