//! `coc enrollment …` — agent enrollment tokens (R3): a token enrolls a
//! limited number of hosts within a limited time; each enrolled agent then
//! holds its own key.

use anyhow::bail;
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
    /// List enrollment tokens with their uses, expiry and state.
    List,
    /// Create a token (its secret is printed once): `coc agent --token SECRET`.
    Create {
        /// Where it is used (`datacenter-east`).
        name: String,
        /// Hosts it may enroll (1 to 10000).
        #[arg(long, default_value_t = 1)]
        uses: i64,
        /// Hours it stays valid (1 to 720).
        #[arg(long, default_value_t = 24)]
        expires_in_hours: i64,
    },
    /// Show a token (by name or id).
    Show { enrollment: String },
    /// Revoke a token (by name or id): it enrolls no more hosts.
    Revoke { enrollment: String },
}

const COLS: &[&str] = &[
    "id",
    "name",
    "state",
    "uses",
    "max_uses",
    "expires_at",
    "hint",
];

/// The id of the enrollment token called `token` (name or id); the newest
/// unrevoked one when a name was used more than once.
async fn resolve(cl: &coc_client::Client, name: &str) -> anyhow::Result<String> {
    let v = cl.get("/api/v1/agent-enrollments", &[]).await?;
    let items = v["items"].as_array().cloned().unwrap_or_default();
    let found = items
        .iter()
        .find(|e| e["id"] == name)
        .or_else(|| {
            items
                .iter()
                .rev()
                .find(|e| e["name"] == name && e["revoked_at"].is_null())
        })
        .or_else(|| items.iter().rev().find(|e| e["name"] == name));
    match found {
        Some(e) => Ok(e["id"].as_str().unwrap_or_default().to_string()),
        None => bail!("no enrollment token is called '{name}' (coc enrollment list)"),
    }
}

pub async fn run(conn: &Conn, c: Cmd) -> anyhow::Result<()> {
    let cl = conn.client()?;
    match c.verb {
        Verb::List => output::print(
            conn.output,
            &cl.get("/api/v1/agent-enrollments", &[]).await?,
            COLS,
        ),
        Verb::Create {
            name,
            uses,
            expires_in_hours,
        } => {
            let v = cl
                .post(
                    "/api/v1/agent-enrollments",
                    &json!({"name": name, "max_uses": uses, "expires_in_hours": expires_in_hours}),
                )
                .await?;
            let mut cols = COLS.to_vec();
            cols.push("secret");
            output::print(conn.output, &v, &cols);
            if conn.output == super::Format::Text {
                println!(
                    "(the secret is shown once; start agents with: coc agent --server {} --token <secret>)",
                    conn.server
                );
            }
        }
        Verb::Show { enrollment } => {
            let id = resolve(&cl, &enrollment).await?;
            output::print(
                conn.output,
                &cl.get(&format!("/api/v1/agent-enrollments/{id}"), &[])
                    .await?,
                COLS,
            );
        }
        Verb::Revoke { enrollment } => {
            let id = resolve(&cl, &enrollment).await?;
            cl.delete(&format!("/api/v1/agent-enrollments/{id}"))
                .await?;
            println!("revoked enrollment token {enrollment} ({id})");
        }
    }
    Ok(())
}
