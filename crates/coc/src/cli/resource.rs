//! `coc resource …` — hosts (R1) and their agent identity (R3).

use anyhow::bail;
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
    /// List hosts with agent status and identity, e.g. `coc resource list
    /// --application payments --status offline`.
    List {
        /// Belonging to this application.
        #[arg(long)]
        application: Option<String>,
        /// In this module of it.
        #[arg(long)]
        module: Option<String>,
        /// In this enterprise project.
        #[arg(long)]
        project: Option<String>,
        /// running, abnormal or offline.
        #[arg(long)]
        status: Option<String>,
        /// Host name or address contains.
        #[arg(long)]
        search: Option<String>,
    },
    /// Show a host (by host name or id).
    Show { host: String },
    /// Delete a host: its agent is cut off and refused (it may enroll again
    /// with a new enrollment token).
    Delete { host: String },
    /// Revoke a host's agent identity: its agent is cut off and refused
    /// until re-enrollment is allowed.
    Revoke { host: String },
    /// Allow re-enrollment (24 h): the next agent with this host's agent id
    /// and a valid enrollment token binds its new key (a re-installed
    /// agent, a replaced key).
    Reenroll { host: String },
    /// Put a host into an application and one of its modules, e.g. `coc
    /// resource assign web-1 --application payments --module web`.
    Assign {
        host: String,
        /// Application (name or id).
        #[arg(long, required_unless_present = "none")]
        application: Option<String>,
        /// One of the application's modules.
        #[arg(long, requires = "application")]
        module: Option<String>,
        /// Take the host out of its application instead.
        #[arg(long, conflicts_with = "application")]
        none: bool,
    },
    /// The services found on a host (PostgreSQL, Redis …), by its agent.
    Services { host: String },
    /// The dependencies observed on a host: which of its processes talk to
    /// which service, on this host or another.
    Dependencies { host: String },
}

const COLS: &[&str] = &[
    "id",
    "hostname",
    "application",
    "module",
    "ips",
    "os",
    "cpu_cores",
    "memory_bytes",
    "agent_status",
    "agent_identity",
];

/// The id of the host called `host` (a host name or a resource id).
///
/// Errors: no such host, or the name is shared by several hosts (their
/// ids are listed).
pub async fn resolve_host(cl: &coc_client::Client, host: &str) -> anyhow::Result<String> {
    let v = cl.get("/api/v1/resources", &[]).await?;
    let items = v["items"].as_array().cloned().unwrap_or_default();
    if items.iter().any(|h| h["id"] == host) {
        return Ok(host.to_string());
    }
    let named: Vec<&Value> = items
        .iter()
        .filter(|h| {
            h["hostname"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(host))
        })
        .collect();
    match named.as_slice() {
        [one] => Ok(one["id"].as_str().unwrap_or_default().to_string()),
        [] => bail!("no host is called '{host}' (coc resource list)"),
        many => bail!(
            "{} hosts are called '{host}'; give one of their ids: {}",
            many.len(),
            many.iter()
                .filter_map(|h| h["id"].as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

pub async fn run(conn: &Conn, c: Cmd) -> anyhow::Result<()> {
    let cl = conn.client()?;
    let v = match c.verb {
        Verb::List {
            application,
            module,
            project,
            status,
            search,
        } => {
            let q: Vec<(&str, String)> = [
                ("application", application),
                ("module", module),
                ("project", project),
                ("status", status),
                ("q", search),
            ]
            .into_iter()
            .filter_map(|(k, v)| Some((k, v?)))
            .collect();
            cl.get("/api/v1/resources", &q).await?
        }
        Verb::Show { host } => {
            let id = resolve_host(&cl, &host).await?;
            cl.get(&format!("/api/v1/resources/{id}"), &[]).await?
        }
        Verb::Delete { host } => {
            let id = resolve_host(&cl, &host).await?;
            cl.delete(&format!("/api/v1/resources/{id}")).await?;
            println!("deleted host {host} ({id})");
            return Ok(());
        }
        Verb::Revoke { host } => {
            let id = resolve_host(&cl, &host).await?;
            cl.post(&format!("/api/v1/resources/{id}/agent/revoke"), &json!({}))
                .await?
        }
        Verb::Reenroll { host } => {
            let id = resolve_host(&cl, &host).await?;
            cl.post(
                &format!("/api/v1/resources/{id}/agent/reenroll"),
                &json!({}),
            )
            .await?
        }
        Verb::Assign {
            host,
            application,
            module,
            none: _,
        } => {
            let id = resolve_host(&cl, &host).await?;
            cl.put(
                &format!("/api/v1/resources/{id}/application"),
                &json!({"application": application, "module": module}),
            )
            .await?
        }
        Verb::Services { host } => {
            let id = resolve_host(&cl, &host).await?;
            let v = cl
                .get(&format!("/api/v1/resources/{id}/services"), &[])
                .await?;
            output::print(
                conn.output,
                &v,
                &[
                    "kind",
                    "resource_type",
                    "port",
                    "addresses",
                    "process",
                    "local_only",
                ],
            );
            return Ok(());
        }
        Verb::Dependencies { host } => {
            let id = resolve_host(&cl, &host).await?;
            let v = cl
                .get(&format!("/api/v1/resources/{id}/dependencies"), &[])
                .await?;
            output::print(
                conn.output,
                &v,
                &[
                    "process",
                    "host",
                    "port",
                    "service",
                    "resource_type",
                    "local",
                ],
            );
            return Ok(());
        }
    };
    let mut cols = COLS.to_vec();
    if v.get("items").is_none() {
        cols.extend(["agent_key_fingerprint", "agent_identity_until"]);
    }
    output::print(conn.output, &v, &cols);
    Ok(())
}
