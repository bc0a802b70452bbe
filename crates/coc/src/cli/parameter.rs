//! `coc parameter …` — the parameter center (X6).

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::{Conn, output, read_json};

#[derive(Args, Debug)]
pub struct Cmd {
    #[command(subcommand)]
    verb: Verb,
}

#[derive(Subcommand, Debug)]
enum Verb {
    /// List parameters (encrypted values masked).
    List {
        #[arg(long)]
        region: Option<String>,
        #[arg(long)]
        name: Option<String>,
        /// key or key=value.
        #[arg(long)]
        tag: Option<String>,
    },
    /// Show one parameter.
    Show { id: String },
    /// Create a parameter. The value comes from --value, or stdin with `--value -`.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        region: String,
        /// text or encrypted.
        #[arg(long = "type", default_value = "text")]
        kind: String,
        #[arg(long)]
        value: String,
        /// Tag KEY=VALUE (repeat).
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// Delete at this time (RFC 3339).
        #[arg(long)]
        expires: Option<String>,
    },
    /// Create from, or replace with, a full JSON document (notifications, tags …).
    Apply {
        /// Parameter id to replace; none creates.
        #[arg(long)]
        id: Option<String>,
        #[arg(long, short)]
        file: String,
    },
    /// Set a new value (a new version); `-` reads it from stdin.
    Set { id: String, value: String },
    /// Every version's value, decrypted (needs coc:parameter:decrypt).
    Decrypt { id: String },
    /// Version history (who and when).
    Versions { id: String },
    /// Delete a parameter.
    Delete { id: String },
}

fn value_arg(v: String) -> anyhow::Result<String> {
    if v == "-" {
        Ok(std::io::read_to_string(std::io::stdin())?
            .trim_end_matches('\n')
            .to_string())
    } else {
        Ok(v)
    }
}

pub async fn run(conn: &Conn, c: Cmd) -> anyhow::Result<()> {
    let cl = conn.client()?;
    let cols = &[
        "id",
        "region",
        "name",
        "type",
        "value",
        "version",
        "modified_by",
        "updated_at",
    ];
    let v = match c.verb {
        Verb::List { region, name, tag } => {
            let q: Vec<(&str, String)> = [("region", region), ("name", name), ("tag", tag)]
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| (k, v)))
                .collect();
            cl.get("/api/v1/parameters", &q).await?
        }
        Verb::Show { id } => cl.get(&format!("/api/v1/parameters/{id}"), &[]).await?,
        Verb::Create {
            name,
            region,
            kind,
            value,
            tags,
            expires,
        } => {
            let mut t = serde_json::Map::new();
            for tag in tags {
                let (k, v) = tag
                    .split_once('=')
                    .ok_or_else(|| anyhow::anyhow!("--tag takes KEY=VALUE, got '{tag}'"))?;
                t.insert(k.into(), Value::String(v.into()));
            }
            let expires_at = match expires {
                Some(e) => Some(
                    chrono::DateTime::parse_from_rfc3339(&e)
                        .map_err(|err| anyhow::anyhow!("--expires must be RFC 3339: {err}"))?
                        .timestamp_millis(),
                ),
                None => None,
            };
            cl.post(
                "/api/v1/parameters",
                &json!({"name": name, "region": region, "type": kind, "value": value_arg(value)?,
                        "tags": t, "expires_at": expires_at}),
            )
            .await?
        }
        Verb::Apply { id, file } => match id {
            Some(id) => {
                cl.put(&format!("/api/v1/parameters/{id}"), &read_json(&file)?)
                    .await?
            }
            None => cl.post("/api/v1/parameters", &read_json(&file)?).await?,
        },
        Verb::Set { id, value } => {
            let mut cur = cl.get(&format!("/api/v1/parameters/{id}"), &[]).await?;
            let doc = cur
                .as_object_mut()
                .ok_or_else(|| anyhow::anyhow!("unexpected answer"))?;
            for k in [
                "id",
                "version",
                "created_by",
                "modified_by",
                "created_at",
                "updated_at",
            ] {
                doc.remove(k);
            }
            doc.insert("value".into(), Value::String(value_arg(value)?));
            cl.put(&format!("/api/v1/parameters/{id}"), &cur).await?
        }
        Verb::Decrypt { id } => {
            let v = cl
                .post(&format!("/api/v1/parameters/{id}/decrypt"), &json!({}))
                .await?;
            output::print(
                conn.output,
                &v,
                &["version", "value", "created_by", "created_at"],
            );
            return Ok(());
        }
        Verb::Versions { id } => {
            let v = cl
                .get(&format!("/api/v1/parameters/{id}/versions"), &[])
                .await?;
            output::print(
                conn.output,
                &v,
                &["version", "value", "created_by", "created_at"],
            );
            return Ok(());
        }
        Verb::Delete { id } => {
            cl.delete(&format!("/api/v1/parameters/{id}")).await?;
            println!("deleted {id}");
            return Ok(());
        }
    };
    output::print(conn.output, &v, cols);
    Ok(())
}
