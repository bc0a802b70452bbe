//! `coc incident …` — the lifecycle of ref. 7.1 (figure 7-1).

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
    /// List incidents (newest first).
    List {
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        level: Option<String>,
        #[arg(long)]
        assignee: Option<String>,
        #[arg(long)]
        limit: Option<u32>,
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Show an incident (id or number) with history and alarms.
    Show { id: String },
    /// Create an incident by hand.
    Create {
        #[arg(long)]
        title: String,
        #[arg(long, default_value = "P3")]
        level: String,
        /// Owner (required unless --shift finds someone on call).
        #[arg(long)]
        assignee: Option<String>,
        #[arg(long, default_value = "")]
        description: String,
        #[arg(long)]
        application: Option<String>,
        #[arg(long)]
        region: Option<String>,
        /// Category (matched by notification rules).
        #[arg(long)]
        category: Option<String>,
        /// Assign to whoever is on call: SCENARIO/ROLE (--assignee is the fallback).
        #[arg(long, value_name = "SCENARIO/ROLE")]
        shift: Option<String>,
    },
    /// Execute the incident's plan (or --plan), or one --step of a document plan, on hosts.
    Plan {
        id: String,
        #[arg(long)]
        plan: Option<String>,
        #[arg(long)]
        step: Option<usize>,
        /// Hosts by name or id (repeat), or `all`.
        #[arg(long = "host", required = true)]
        hosts: Vec<String>,
    },
    /// Accept (unaccepted → accepted).
    Accept {
        id: String,
        #[arg(long)]
        remark: Option<String>,
    },
    /// Reject with a reason (unaccepted → rejected).
    Reject {
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// Resubmit a rejected incident.
    Resubmit {
        id: String,
        #[arg(long)]
        title: Option<String>,
        #[arg(long)]
        description: Option<String>,
    },
    /// Close a rejected incident.
    Close {
        id: String,
        #[arg(long)]
        remark: Option<String>,
    },
    /// Forward to another owner.
    Forward {
        id: String,
        #[arg(long)]
        to: String,
        #[arg(long)]
        remark: Option<String>,
    },
    /// Upgrade or downgrade (accepted only).
    Level {
        id: String,
        /// P1..P5.
        level: String,
        #[arg(long)]
        reason: String,
    },
    /// Add a remark.
    Remark { id: String, text: String },
    /// Record the handling result (accepted → to be verified).
    Resolve {
        id: String,
        #[arg(long)]
        result: String,
    },
    /// Verify (to be verified → completed, or back to accepted with --failed).
    Verify {
        id: String,
        /// Verification failed.
        #[arg(long)]
        failed: bool,
        #[arg(long)]
        remark: Option<String>,
    },
}

const COLS: &[&str] = &[
    "number", "id", "title", "level", "status", "assignee", "source",
];
/// Fields shown for one incident.
pub const DETAIL: &[&str] = &[
    "id",
    "number",
    "title",
    "level",
    "status",
    "assignee",
    "region",
    "source",
    "created_by",
];

pub async fn run(conn: &Conn, c: Cmd) -> anyhow::Result<()> {
    let cl = conn.client()?;
    let (id, body): (String, Value) = match c.verb {
        Verb::List {
            status,
            level,
            assignee,
            limit,
            cursor,
        } => {
            let mut q = Vec::new();
            for (k, v) in [
                ("status", status),
                ("level", level),
                ("assignee", assignee),
                ("cursor", cursor),
            ] {
                if let Some(v) = v {
                    q.push((k, v));
                }
            }
            if let Some(l) = limit {
                q.push(("limit", l.to_string()));
            }
            output::print(conn.output, &cl.get("/api/v1/incidents", &q).await?, COLS);
            return Ok(());
        }
        Verb::Plan {
            id,
            plan,
            step,
            hosts,
        } => {
            let v = cl
                .post(
                    &format!("/api/v1/incidents/{id}/plan"),
                    &json!({"plan": plan, "step": step,
                            "hosts": super::ticket::resolve_hosts(&cl, &hosts).await?}),
                )
                .await?;
            output::print(
                conn.output,
                &v,
                &["id", "number", "status", "script_name", "job_name"],
            );
            return Ok(());
        }
        Verb::Show { id } => {
            let v = cl.get(&format!("/api/v1/incidents/{id}"), &[]).await?;
            show(conn.output, &v);
            return Ok(());
        }
        Verb::Create {
            title,
            level,
            assignee,
            description,
            application,
            region,
            category,
            shift,
        } => {
            let shift = match shift {
                Some(s) => {
                    let (scenario, role) = s
                        .split_once('/')
                        .ok_or_else(|| anyhow::anyhow!("--shift takes SCENARIO/ROLE, got '{s}'"))?;
                    json!({"scenario": scenario, "role": role})
                }
                None => serde_json::Value::Null,
            };
            let v = cl
                .post(
                    "/api/v1/incidents",
                    &json!({"title": title, "level": level, "assignee": assignee.unwrap_or_default(),
                            "description": description, "application": application, "region": region,
                            "category": category, "assignee_shift": shift}),
                )
                .await?;
            output::print(conn.output, &v, DETAIL);
            return Ok(());
        }
        Verb::Accept { id, remark } => (id, json!({"action": "accept", "remark": remark})),
        Verb::Reject { id, reason } => (id, json!({"action": "reject", "reason": reason})),
        Verb::Resubmit {
            id,
            title,
            description,
        } => (
            id,
            json!({"action": "resubmit", "title": title, "description": description}),
        ),
        Verb::Close { id, remark } => (id, json!({"action": "close", "remark": remark})),
        Verb::Forward { id, to, remark } => {
            (id, json!({"action": "forward", "to": to, "remark": remark}))
        }
        Verb::Level { id, level, reason } => (
            id,
            json!({"action": "change_level", "level": level.to_uppercase(), "reason": reason}),
        ),
        Verb::Remark { id, text } => (id, json!({"action": "remark", "text": text})),
        Verb::Resolve { id, result } => (id, json!({"action": "resolve", "result": result})),
        Verb::Verify { id, failed, remark } => (
            id,
            json!({"action": "verify", "passed": !failed, "remark": remark}),
        ),
    };
    let v = cl
        .post(&format!("/api/v1/incidents/{id}/actions"), &body)
        .await?;
    output::print(conn.output, &v, DETAIL);
    Ok(())
}

fn show(fmt: super::Format, v: &Value) {
    output::print(fmt, v, DETAIL);
    if fmt == super::Format::Text {
        println!("\nhistory:");
        output::table(
            v["history"].as_array().map(Vec::as_slice).unwrap_or(&[]),
            &["at", "actor", "action", "to_status", "summary"],
        );
        println!("\nalarms:");
        output::table(
            v["alarms"].as_array().map(Vec::as_slice).unwrap_or(&[]),
            &["id", "name", "level", "status", "occurrences"],
        );
    }
}
