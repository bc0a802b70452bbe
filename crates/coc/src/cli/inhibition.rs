//! `coc inhibition …`: inhibition rules (M3), by name.

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::{Conn, output};

#[derive(Args, Debug)]
pub struct Cmd {
    #[command(subcommand)]
    verb: Verb,
}

#[derive(Subcommand, Debug)]
enum Verb {
    /// Add a rule, e.g. `coc inhibition add node-down --source alertname=NodeDown
    /// --target 'severity=~Major|Minor' --equal instance`.
    Add {
        /// Name.
        name: String,
        /// Source matcher (repeat: all must hold).
        #[arg(long = "source", required = true)]
        source: Vec<String>,
        /// Target matcher (repeat: all must hold).
        #[arg(long = "target", required = true)]
        target: Vec<String>,
        /// Labels equal on both (comma-separated or repeated).
        #[arg(long, value_delimiter = ',')]
        equal: Vec<String>,
    },
    /// List rules.
    List,
    /// Show a rule (by name or id).
    Show { name: String },
    /// Delete a rule (by name or id).
    Delete { name: String },
}

const COLS: &[&str] = &["id", "name", "source", "target", "equal"];

/// A rule's matchers as text for the table.
fn texts(v: &mut Value) {
    let one = |m: &mut Value| {
        for side in ["source", "target"] {
            if let Some(ms) = m[side].as_array() {
                let t: Vec<String> = ms
                    .iter()
                    .map(|x| {
                        format!(
                            "{}{}{}",
                            x["name"].as_str().unwrap_or(""),
                            x["op"].as_str().unwrap_or(""),
                            Value::from(x["value"].as_str().unwrap_or(""))
                        )
                    })
                    .collect();
                m[side] = json!(t.join(", "));
            }
        }
    };
    match v.get_mut("items").and_then(Value::as_array_mut) {
        Some(items) => items.iter_mut().for_each(one),
        None => one(v),
    }
}

pub async fn run(conn: &Conn, c: Cmd) -> anyhow::Result<()> {
    let cl = conn.client()?;
    let path = |n: &str| format!("/api/v1/inhibition-rules/{}", super::enc(n));
    let mut v: Value = match c.verb {
        Verb::Add {
            name,
            source,
            target,
            equal,
        } => {
            cl.post(
                "/api/v1/inhibition-rules",
                &json!({"name": name, "source": source, "target": target, "equal": equal}),
            )
            .await?
        }
        Verb::List => cl.get("/api/v1/inhibition-rules", &[]).await?,
        Verb::Show { name } => cl.get(&path(&name), &[]).await?,
        Verb::Delete { name } => {
            cl.delete(&path(&name)).await?;
            println!("deleted {name}");
            return Ok(());
        }
    };
    if conn.output == super::Format::Text {
        texts(&mut v);
    }
    output::print(conn.output, &v, COLS);
    Ok(())
}
