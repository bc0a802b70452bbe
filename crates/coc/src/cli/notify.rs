//! `coc engineer …` (O1), `coc notification …` (O3/O4) and
//! `coc escalation …` (I7).

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::{Conn, output, read_json};

/// Verbs shared by every named, enable-able document (notification rules,
/// escalation policies, SLAs): the API has the same routes for each.
#[derive(Subcommand, Debug)]
pub enum DocVerb {
    /// List (optionally by a name substring).
    List {
        #[arg(long)]
        name: Option<String>,
    },
    /// Show one (JSON).
    Show { id: String },
    /// Create from a JSON file (`-` for stdin).
    Create {
        #[arg(long, short)]
        file: String,
    },
    /// Replace from a JSON file.
    Update {
        id: String,
        #[arg(long, short)]
        file: String,
    },
    /// Enable.
    Enable { id: String },
    /// Disable.
    Disable { id: String },
    /// Delete.
    Delete { id: String },
}

/// Runs a document verb against `base` (`/api/v1/notification-rules`).
pub async fn run_doc(conn: &Conn, base: &str, cols: &[&str], verb: DocVerb) -> anyhow::Result<()> {
    let cl = conn.client()?;
    let v = match verb {
        DocVerb::List { name } => {
            let q: Vec<(&str, String)> = name.map(|n| ("name", n)).into_iter().collect();
            cl.get(base, &q).await?
        }
        DocVerb::Show { id } => {
            let v = cl.get(&format!("{base}/{id}"), &[]).await?;
            println!("{}", serde_json::to_string_pretty(&v)?);
            return Ok(());
        }
        DocVerb::Create { file } => cl.post(base, &read_json(&file)?).await?,
        DocVerb::Update { id, file } => cl.put(&format!("{base}/{id}"), &read_json(&file)?).await?,
        DocVerb::Enable { id } => cl.post(&format!("{base}/{id}/enable"), &json!({})).await?,
        DocVerb::Disable { id } => cl.post(&format!("{base}/{id}/disable"), &json!({})).await?,
        DocVerb::Delete { id } => {
            cl.delete(&format!("{base}/{id}")).await?;
            println!("deleted {id}");
            return Ok(());
        }
    };
    output::print(conn.output, &v, cols);
    Ok(())
}

#[derive(Args, Debug)]
pub struct EngineerCmd {
    #[command(subcommand)]
    verb: EngineerVerb,
}

#[derive(Subcommand, Debug)]
enum EngineerVerb {
    /// List users with alias and contact channels (● confirmed, ○ pending, ✕ expired).
    List,
    /// Show one engineer.
    Show { user: String },
    /// Set alias and contacts: `--contact email=ann@example.com --contact mobile=+8613800000000`
    /// (`--contact slack=` removes one). Email and mobile get a confirmation link.
    Set {
        user: String,
        #[arg(long)]
        alias: Option<String>,
        #[arg(long = "contact", value_name = "CHANNEL=ADDRESS")]
        contacts: Vec<String>,
    },
    /// Send subscription confirmations again (all unconfirmed, or --channel).
    Subscribe {
        user: String,
        #[arg(long = "channel")]
        channels: Vec<String>,
    },
    /// Remove the profile and its contacts.
    Delete { user: String },
}

fn contacts_cell(v: &Value) -> String {
    v["contacts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let mark = match c["status"].as_str() {
                Some("confirmed") => "●",
                Some("pending") => "○",
                _ => "✕",
            };
            format!(
                "{mark}{} {}",
                c["channel"].as_str().unwrap_or(""),
                c["address"].as_str().unwrap_or("")
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// With a `contacts` column flattened into one text cell.
fn flatten(mut v: Value) -> Value {
    let fix = |e: &mut Value| {
        let c = contacts_cell(e);
        e["contacts"] = Value::String(c);
    };
    match v.get_mut("items").and_then(Value::as_array_mut) {
        Some(items) => items.iter_mut().for_each(fix),
        None => fix(&mut v),
    }
    v
}

pub async fn run_engineer(conn: &Conn, c: EngineerCmd) -> anyhow::Result<()> {
    let cl = conn.client()?;
    let cols = &["user", "display_name", "alias", "contacts"];
    let v = match c.verb {
        EngineerVerb::List => cl.get("/api/v1/engineers", &[]).await?,
        EngineerVerb::Show { user } => cl.get(&format!("/api/v1/engineers/{user}"), &[]).await?,
        EngineerVerb::Set {
            user,
            alias,
            contacts,
        } => {
            let mut map = serde_json::Map::new();
            for c in contacts {
                let (ch, addr) = c
                    .split_once('=')
                    .ok_or_else(|| anyhow::anyhow!("--contact takes CHANNEL=ADDRESS, got '{c}'"))?;
                let addr = addr.trim();
                map.insert(
                    ch.trim().to_string(),
                    if addr.is_empty() {
                        Value::Null
                    } else {
                        Value::String(addr.into())
                    },
                );
            }
            let mut body = json!({"contacts": map});
            if let Some(a) = alias {
                body["alias"] = Value::String(a);
            }
            cl.put(&format!("/api/v1/engineers/{user}"), &body).await?
        }
        EngineerVerb::Subscribe { user, channels } => {
            cl.post(
                &format!("/api/v1/engineers/{user}/subscribe"),
                &json!({"channels": channels}),
            )
            .await?
        }
        EngineerVerb::Delete { user } => {
            cl.delete(&format!("/api/v1/engineers/{user}")).await?;
            println!("deleted the profile of {user}");
            return Ok(());
        }
    };
    let v = if conn.output == super::Format::Json {
        v
    } else {
        flatten(v)
    };
    output::print(conn.output, &v, cols);
    Ok(())
}

#[derive(Args, Debug)]
pub struct NotificationCmd {
    #[command(subcommand)]
    verb: NotificationVerb,
}

#[derive(Subcommand, Debug)]
enum NotificationVerb {
    // Feature ref. 11.3.
    /// Notification rules.
    #[command(subcommand)]
    Rule(DocVerb),
    /// Replay a notification rule (JSON file, `-` for stdin) over the
    /// incident changes of the last days before saving it: who it would
    /// have told.
    Replay {
        #[arg(long, short)]
        file: String,
        /// Days back (1 to 30).
        #[arg(long, default_value_t = 7)]
        days: u32,
    },
    /// The delivery log.
    Deliveries {
        /// pending, delivered, failed or skipped.
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        limit: Option<u32>,
    },
    /// Queue a test message to a channel.
    Test {
        #[arg(long)]
        channel: String,
        /// URL, email address or E.164 number.
        #[arg(long)]
        target: String,
        /// Webhook signing secret.
        #[arg(long, env = "COC_WEBHOOK_SECRET", hide_env_values = true)]
        secret: Option<String>,
    },
}

pub async fn run_notification(conn: &Conn, c: NotificationCmd) -> anyhow::Result<()> {
    let cl = conn.client()?;
    let v = match c.verb {
        NotificationVerb::Rule(v) => {
            return run_doc(
                conn,
                "/api/v1/notification-rules",
                &["id", "name", "enabled", "templates", "channels"],
                v,
            )
            .await;
        }
        NotificationVerb::Replay { file, days } => {
            let v = cl
                .post(
                    "/api/v1/notification-rules/replay",
                    &json!({"rule": read_json(&file)?, "days": days}),
                )
                .await?;
            output::print(
                conn.output,
                &v,
                &["events", "matched", "messages", "people", "sample"],
            );
            return Ok(());
        }
        NotificationVerb::Deliveries { status, limit } => {
            let mut q = vec![];
            if let Some(s) = status {
                q.push(("status", s));
            }
            if let Some(l) = limit {
                q.push(("limit", l.to_string()));
            }
            cl.get("/api/v1/notifications/deliveries", &q).await?
        }
        NotificationVerb::Test {
            channel,
            target,
            secret,
        } => {
            cl.post(
                "/api/v1/notifications/test",
                &json!({"channel": channel, "target": target, "secret": secret}),
            )
            .await?
        }
    };
    output::print(
        conn.output,
        &v,
        &[
            "id",
            "created_at",
            "event",
            "channel",
            "recipient",
            "target",
            "status",
            "attempts",
            "last_error",
        ],
    );
    Ok(())
}

#[derive(Subcommand, Debug)]
pub enum SlaVerb {
    #[command(flatten)]
    Doc(DocVerb),
    /// SLA records: duration per status, target, state, break time.
    Records {
        /// Ticket id or number.
        #[arg(long)]
        ticket: Option<String>,
        /// normal, pre_warned or has_broken.
        #[arg(long)]
        state: Option<String>,
    },
}

pub async fn run_sla(conn: &Conn, v: SlaVerb) -> anyhow::Result<()> {
    match v {
        SlaVerb::Doc(d) => {
            run_doc(
                conn,
                "/api/v1/slas",
                &[
                    "id",
                    "name",
                    "enabled",
                    "common",
                    "trigger",
                    "levels",
                    "applications",
                ],
                d,
            )
            .await
        }
        SlaVerb::Records { ticket, state } => {
            let mut q = vec![];
            if let Some(t) = ticket {
                q.push(("ticket", t));
            }
            if let Some(s) = state {
                q.push(("state", s));
            }
            let v = conn.client()?.get("/api/v1/sla-records", &q).await?;
            output::print(
                conn.output,
                &v,
                &[
                    "ticket_number",
                    "sla_name",
                    "status",
                    "duration_ms",
                    "target_ms",
                    "state",
                    "broken_at",
                    "owner",
                ],
            );
            Ok(())
        }
    }
}
