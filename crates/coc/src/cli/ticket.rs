//! `coc ticket …`

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::json;

use super::{Conn, Format, output};

#[derive(Args, Debug)]
pub struct Cmd {
    #[command(subcommand)]
    verb: Verb,
}

#[derive(Subcommand, Debug)]
enum Verb {
    /// List tickets.
    List {
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        limit: Option<u32>,
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Show a ticket (id or number) with per-host status and output.
    Show {
        id: String,
        /// Stream output until the ticket finishes.
        #[arg(long)]
        follow: bool,
    },
    /// Pause: no new host starts.
    Pause { id: String },
    /// Continue a paused ticket.
    Continue { id: String },
    /// Forcibly end: cancel every pending and running host.
    End { id: String },
    /// Cancel one host (task id, host name or host id).
    CancelHost { id: String, task: String },
}

/// Ticket list columns.
pub const COLS: &[&str] = &[
    "number",
    "id",
    "script_name",
    "status",
    "counts.total",
    "counts.successful",
    "counts.failed",
];

pub async fn run(conn: &Conn, c: Cmd) -> anyhow::Result<()> {
    let cl = conn.client()?;
    let fmt = conn.output;
    let v = match c.verb {
        Verb::List {
            status,
            limit,
            cursor,
        } => {
            let mut q = Vec::new();
            if let Some(s) = status {
                q.push(("status", s));
            }
            if let Some(s) = cursor {
                q.push(("cursor", s));
            }
            if let Some(l) = limit {
                q.push(("limit", l.to_string()));
            }
            cl.get("/api/v1/tickets", &q).await?
        }
        Verb::Show { id, follow: true } => return follow(&cl, &id, fmt).await,
        Verb::Show { id, follow: false } => {
            let v = cl.get(&format!("/api/v1/tickets/{id}"), &[]).await?;
            show(fmt, &v, &host_names(&cl).await, true);
            return Ok(());
        }
        Verb::Pause { id } => {
            cl.post(
                &format!("/api/v1/tickets/{id}/actions"),
                &json!({"action": "pause"}),
            )
            .await?
        }
        Verb::Continue { id } => {
            cl.post(
                &format!("/api/v1/tickets/{id}/actions"),
                &json!({"action": "continue"}),
            )
            .await?
        }
        Verb::End { id } => {
            cl.post(
                &format!("/api/v1/tickets/{id}/actions"),
                &json!({"action": "forcibly_end"}),
            )
            .await?
        }
        Verb::CancelHost { id, task } => {
            // A host name stands for its host's task.
            let names = host_names(&cl).await;
            let task = match resolve_host(&names, &task) {
                Ok(h) if names.contains_key(&h) => h,
                _ => task,
            };
            cl.post(
                &format!("/api/v1/tickets/{id}/tasks/{task}/cancel"),
                &json!({}),
            )
            .await?
        }
    };
    output::print(fmt, &v, COLS);
    Ok(())
}

/// Host resource id → host name, for labels (empty when the list cannot
/// be read: ids are shown then).
pub async fn host_names(cl: &coc_client::Client) -> HashMap<String, String> {
    cl.get(
        "/api/v1/resources",
        &[("limit", "1000".to_string()), ("type", "host".to_string())],
    )
    .await
    .ok()
    .and_then(|v| v["items"].as_array().cloned())
    .unwrap_or_default()
    .iter()
    .filter_map(|h| {
        Some((
            h["id"].as_str()?.to_string(),
            h["hostname"].as_str()?.to_string(),
        ))
    })
    .collect()
}

/// The hosts a command names, as resource ids: each given by host name
/// or id; `all` alone: every registered host. Errors: a name that is no
/// registered host (nothing is sent then).
pub async fn resolve_hosts(
    cl: &coc_client::Client,
    given: &[String],
) -> anyhow::Result<Vec<String>> {
    let names = host_names(cl).await;
    if given == ["all"] {
        let mut all: Vec<String> = names.into_keys().collect();
        all.sort();
        return Ok(all);
    }
    given.iter().map(|g| resolve_host(&names, g)).collect()
}

/// One host by name or id, from `names` (id → host name).
pub fn resolve_host(names: &HashMap<String, String>, given: &str) -> anyhow::Result<String> {
    if names.contains_key(given) {
        return Ok(given.to_string());
    }
    let mut found = names.iter().filter(|(_, n)| n.as_str() == given);
    match (found.next(), found.next()) {
        (Some((id, _)), None) => Ok(id.clone()),
        (Some(_), Some(_)) => anyhow::bail!("several hosts are named '{given}': give its id"),
        // An id the list does not hold (a list the caller may not read):
        // the server decides.
        (None, _) if names.is_empty() => Ok(given.to_string()),
        (None, _) => anyhow::bail!(
            "no host is named '{given}' (coc resource list shows the registered hosts)"
        ),
    }
}

/// A host's label: its name, else its id.
pub fn label<'a>(names: &'a HashMap<String, String>, id: &'a str) -> &'a str {
    names.get(id).map_or(id, String::as_str)
}

/// Prints a script ticket: its facts, one row per host (by name, batches
/// from 1), and — with `outputs` — each host's output.
fn show(fmt: Format, v: &serde_json::Value, names: &HashMap<String, String>, outputs: bool) {
    output::print(
        fmt,
        v,
        &[
            "id",
            "number",
            "script_name",
            "script_version",
            "status",
            "run_as",
            "timeout_s",
            "batch_policy",
            "success_rate_threshold",
        ],
    );
    if fmt == Format::Text {
        println!();
        let rows: Vec<serde_json::Value> = v["tasks"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| {
                json!({"host": label(names, t["host_id"].as_str().unwrap_or("?")),
                    "batch": t["batch"].as_i64().map(|b| b + 1),
                    "status": t["status"], "exit": t["exit_code"], "error": t["error"]})
            })
            .collect();
        output::table(&rows, &["host", "batch", "status", "exit", "error"]);
        for t in v["tasks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|_| outputs)
        {
            let out = t["output"].as_str().unwrap_or("");
            if !out.is_empty() {
                println!(
                    "\n--- {} ---\n{}",
                    label(names, t["host_id"].as_str().unwrap_or("?")),
                    out.trim_end()
                );
            }
        }
    }
}

/// Polls a ticket, printing new output per host and a progress line, until
/// it is finished (or abnormal). Exits non-zero unless it is successful.
pub async fn follow(cl: &coc_client::Client, id: &str, fmt: Format) -> anyhow::Result<()> {
    let mut printed: HashMap<String, usize> = HashMap::new();
    let names = host_names(cl).await;
    loop {
        let v = cl.get(&format!("/api/v1/tickets/{id}"), &[]).await?;
        let status = v["status"].as_str().unwrap_or("").to_string();
        if fmt == Format::Text {
            for t in v["tasks"].as_array().into_iter().flatten() {
                let tid = t["id"].as_str().unwrap_or_default().to_string();
                let out = t["output"].as_str().unwrap_or("");
                let seen = printed.entry(tid).or_default();
                if out.len() > *seen {
                    let host = label(&names, t["host_id"].as_str().unwrap_or("?"));
                    for line in out[*seen..].lines() {
                        println!("[{host}] {line}");
                    }
                    *seen = out.len();
                }
            }
            let c = &v["counts"];
            let total = c["total"].as_i64().unwrap_or(0).max(1);
            let done = c["successful"].as_i64().unwrap_or(0)
                + c["failed"].as_i64().unwrap_or(0)
                + c["cancelled"].as_i64().unwrap_or(0);
            let bar = "#".repeat((done * 20 / total) as usize);
            eprint!("\r[{bar:<20}] {done}/{total} {status:<12}");
            let _ = std::io::stderr().flush();
        }
        if matches!(
            status.as_str(),
            "successful" | "failed" | "terminated" | "abnormal"
        ) {
            if fmt == Format::Text {
                eprintln!();
                // The output was printed as it came: the summary only.
                show(fmt, &v, &names, false);
            } else {
                output::print(fmt, &v, COLS);
            }
            if status != "successful" {
                anyhow::bail!("ticket {} is {status}", v["number"].as_str().unwrap_or(id));
            }
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
