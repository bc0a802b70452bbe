//! `coc integration …`

use clap::{Args, Subcommand};
use serde_json::json;

use super::{Conn, output};

#[derive(Args, Debug)]
pub struct Cmd {
    #[command(subcommand)]
    verb: Verb,
}

#[derive(Subcommand, Debug)]
enum Verb {
    /// Create an integration; prints its key once.
    Create {
        /// Name.
        name: String,
        /// alertmanager, generic, pagerduty or heartbeat.
        #[arg(long = "type", default_value = "alertmanager")]
        kind: String,
        /// A heartbeat monitor's interval, seconds.
        #[arg(long)]
        interval: Option<i64>,
    },
    /// List integrations.
    List,
    /// Show one.
    Show { id: String },
    /// Enable one.
    Enable { id: String },
    /// Disable one (its key is refused).
    Disable { id: String },
    /// Replace the key.
    RotateKey { id: String },
}

const COLS: &[&str] = &[
    "id",
    "name",
    "type",
    "enabled",
    "key_hint",
    "interval_s",
    "last_ping_at",
];

pub async fn run(conn: &Conn, c: Cmd) -> anyhow::Result<()> {
    let cl = conn.client()?;
    let v = match c.verb {
        Verb::Create {
            name,
            kind,
            interval,
        } => {
            let mut body = json!({"name": name, "type": kind});
            if let Some(i) = interval {
                body["interval_s"] = json!(i);
            }
            let v = cl.post("/api/v1/integrations", &body).await?;
            output::print(conn.output, &v, &["id", "name", "type", "key"]);
            return Ok(());
        }
        Verb::List => cl.get("/api/v1/integrations", &[]).await?,
        Verb::Show { id } => cl.get(&format!("/api/v1/integrations/{id}"), &[]).await?,
        Verb::Enable { id } => {
            cl.post(&format!("/api/v1/integrations/{id}/enable"), &json!({}))
                .await?
        }
        Verb::Disable { id } => {
            cl.post(&format!("/api/v1/integrations/{id}/disable"), &json!({}))
                .await?
        }
        Verb::RotateKey { id } => {
            let v = cl
                .post(&format!("/api/v1/integrations/{id}/rotate-key"), &json!({}))
                .await?;
            output::print(conn.output, &v, &["id", "name", "key"]);
            return Ok(());
        }
    };
    output::print(conn.output, &v, COLS);
    Ok(())
}
