//! `coc integration …`

use clap::{Args, Subcommand};
use serde_json::json;

use super::{Conn, output};

#[derive(Args, Debug)]
pub struct Cmd {
    #[command(subcommand)]
    verb: Verb,
}

/// A generic integration's field mapping, from the command line.
#[derive(Args, Debug, Default)]
struct MappingArgs {
    /// Where an alarm field is in the sender's JSON, `field=pointer`
    /// (repeat): `--map alarmName=/title --map resourceName=/host/name`.
    #[arg(long = "map", value_name = "FIELD=POINTER")]
    fields: Vec<String>,
    /// JSON pointer to the list of alarms in a body (`/alerts`).
    #[arg(long, value_name = "POINTER")]
    items: Option<String>,
    /// The sender's level value and COC's level, `value=level` (repeat):
    /// `--level P1=critical`.
    #[arg(long = "level", value_name = "VALUE=LEVEL")]
    levels: Vec<String>,
    /// The sender's status value and COC's status, `value=status`
    /// (repeat): `--status alerting=alarm`.
    #[arg(long = "status", value_name = "VALUE=STATUS")]
    statuses: Vec<String>,
}

impl MappingArgs {
    fn given(&self) -> bool {
        !self.fields.is_empty()
            || self.items.is_some()
            || !self.levels.is_empty()
            || !self.statuses.is_empty()
    }

    /// The mapping as the API takes it.
    fn json(&self) -> anyhow::Result<serde_json::Value> {
        let pairs = |v: &[String], what: &str| -> anyhow::Result<serde_json::Map<_, _>> {
            v.iter()
                .map(|p| {
                    let (k, x) = p
                        .split_once('=')
                        .ok_or_else(|| anyhow::anyhow!("--{what} takes KEY=VALUE, not '{p}'"))?;
                    Ok((k.trim().to_string(), json!(x.trim())))
                })
                .collect()
        };
        Ok(json!({
            "items": self.items.clone().unwrap_or_default(),
            "fields": pairs(&self.fields, "map")?,
            "levels": pairs(&self.levels, "level")?,
            "statuses": pairs(&self.statuses, "status")?,
        }))
    }
}

#[derive(Subcommand, Debug)]
enum Verb {
    /// Create an integration; prints its key once.
    Create {
        /// Name.
        name: String,
        /// alertmanager, generic, grafana, pagerduty or heartbeat.
        #[arg(long = "type", default_value = "alertmanager")]
        kind: String,
        /// A heartbeat monitor's interval, seconds.
        #[arg(long)]
        interval: Option<i64>,
        #[command(flatten)]
        mapping: MappingArgs,
        /// When senders are answered: applied (default; after the alarms
        /// are stored and the rules ran) or received (once they are
        /// durably logged; for high-volume senders).
        #[arg(long, value_parser = ["applied", "received"])]
        acknowledge: Option<String>,
    },
    /// List integrations.
    List,
    /// Show one (by name or id).
    Show { integration: String },
    /// Change one (by name or id): its name, a heartbeat's interval, a
    /// generic integration's field mapping (given whole; `--no-mapping`
    /// removes it).
    Update {
        integration: String,
        /// A new name.
        #[arg(long)]
        name: Option<String>,
        /// A heartbeat monitor's interval, seconds.
        #[arg(long)]
        interval: Option<i64>,
        #[command(flatten)]
        mapping: MappingArgs,
        /// Remove the field mapping.
        #[arg(long, conflicts_with_all = ["fields", "items", "levels", "statuses"])]
        no_mapping: bool,
        /// When senders are answered: applied or received.
        #[arg(long, value_parser = ["applied", "received"])]
        acknowledge: Option<String>,
    },
    /// Enable one (by name or id).
    Enable { integration: String },
    /// Disable one (its key is refused; by name or id).
    Disable { integration: String },
    /// Replace the key (by name or id).
    RotateKey { integration: String },
}

/// The id of the integration named (or with id) `given`.
async fn id_of(cl: &coc_client::Client, given: &str) -> anyhow::Result<String> {
    super::id_by_name(cl, "/api/v1/integrations", "integration", given).await
}

const COLS: &[&str] = &[
    "id",
    "name",
    "type",
    "enabled",
    "acknowledge",
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
            mapping,
            acknowledge,
        } => {
            let mut body = json!({"name": name, "type": kind});
            if let Some(a) = acknowledge {
                body["acknowledge"] = json!(a);
            }
            if let Some(i) = interval {
                body["interval_s"] = json!(i);
            }
            if mapping.given() {
                body["mapping"] = mapping.json()?;
            }
            let v = cl.post("/api/v1/integrations", &body).await?;
            output::print(conn.output, &v, &["id", "name", "type", "key"]);
            return Ok(());
        }
        Verb::List => cl.get("/api/v1/integrations", &[]).await?,
        Verb::Show { integration } => {
            let id = id_of(&cl, &integration).await?;
            cl.get(&format!("/api/v1/integrations/{id}"), &[]).await?
        }
        Verb::Update {
            integration,
            name,
            interval,
            mapping,
            no_mapping,
            acknowledge,
        } => {
            let id = id_of(&cl, &integration).await?;
            let current = cl.get(&format!("/api/v1/integrations/{id}"), &[]).await?;
            let mut body = json!({});
            if let Some(a) = acknowledge {
                body["acknowledge"] = json!(a);
            }
            if let Some(n) = name {
                body["name"] = json!(n);
            }
            if let Some(i) = interval {
                body["interval_s"] = json!(i);
            }
            // The mapping is replaced whole; unchanged when not given.
            body["mapping"] = if mapping.given() {
                mapping.json()?
            } else if no_mapping {
                serde_json::Value::Null
            } else {
                current["mapping"].clone()
            };
            cl.put(&format!("/api/v1/integrations/{id}"), &body).await?
        }
        Verb::Enable { integration } => {
            let id = id_of(&cl, &integration).await?;
            cl.post(&format!("/api/v1/integrations/{id}/enable"), &json!({}))
                .await?
        }
        Verb::Disable { integration } => {
            let id = id_of(&cl, &integration).await?;
            cl.post(&format!("/api/v1/integrations/{id}/disable"), &json!({}))
                .await?
        }
        Verb::RotateKey { integration } => {
            let id = id_of(&cl, &integration).await?;
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
