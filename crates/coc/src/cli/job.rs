//! `coc job …` (X3, X4) and `coc job-ticket …` (ref. 10.1.2).

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::{Conn, Format, output};

#[derive(Args, Debug)]
pub struct Cmd {
    #[command(subcommand)]
    verb: Verb,
}

#[derive(Subcommand, Debug)]
enum Verb {
    /// List jobs (custom, then common).
    List {
        /// Name contains.
        #[arg(long)]
        name: Option<String>,
        /// Tag `key` or `key=value`.
        #[arg(long)]
        tag: Option<String>,
    },
    /// Show a job (id or name) with its steps.
    Show { id: String },
    /// The job templates (Reboot_and_Verify, Routine_Scan, Custom_Action)
    /// as JSON, to edit and create from.
    Templates,
    /// Create a job from a JSON file (`-` for stdin), or from a template.
    Create {
        /// Job JSON (name, risk_level, params, steps, …).
        #[arg(long, short, conflicts_with = "template")]
        file: Option<String>,
        /// Start from this template.
        #[arg(long, requires = "name")]
        template: Option<String>,
        /// Name (overrides the file's or template's).
        #[arg(long)]
        name: Option<String>,
    },
    /// Modify a job from a JSON file (a new version).
    Update {
        id: String,
        #[arg(long, short)]
        file: String,
    },
    /// Delete a job.
    Delete { id: String },
    /// Every version of a job.
    Versions { id: String },
    /// Clone a job under a new name.
    Clone {
        id: String,
        #[arg(long)]
        name: String,
    },
    /// Replace a job's tags: KEY=VALUE (repeat; none clears them).
    Tag {
        id: String,
        #[arg(long = "tag")]
        tags: Vec<String>,
    },
    /// Approve or reject the version waiting for review.
    Review {
        id: String,
        /// Approve (default: reject).
        #[arg(long)]
        approve: bool,
        #[arg(long)]
        comment: Option<String>,
    },
    /// Execute a job: creates a job ticket.
    Run {
        /// Job id or name.
        id: String,
        /// Target hosts for every step, by name or id (repeat), or `all`.
        #[arg(long = "host")]
        hosts: Vec<String>,
        /// Hosts of one step (unique for each step): STEP:HOST, steps
        /// counted from 1 (repeat).
        #[arg(long = "step-host", value_name = "STEP:HOST")]
        step_hosts: Vec<String>,
        /// auto, manual or none (every step).
        #[arg(long, default_value = "auto")]
        batch_policy: String,
        /// Suspension threshold of every step: success rate in %.
        #[arg(long)]
        threshold: Option<f64>,
        /// Global parameter NAME=VALUE (repeat).
        #[arg(long = "param")]
        params: Vec<String>,
        /// Job version to run (default: the current one). Not `--version`:
        /// that prints the program's version.
        #[arg(long = "job-version", id = "job_version", value_name = "N")]
        version: Option<i64>,
        /// Execution description.
        #[arg(long, default_value = "")]
        description: String,
        /// Ticket tag KEY=VALUE (repeat).
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// Show progress per step until the ticket ends.
        #[arg(long)]
        follow: bool,
    },
}

#[derive(Args, Debug)]
pub struct TicketCmd {
    #[command(subcommand)]
    verb: TicketVerb,
}

#[derive(Subcommand, Debug)]
enum TicketVerb {
    /// List job tickets.
    List {
        #[arg(long)]
        status: Option<String>,
        /// Job id or name.
        #[arg(long)]
        job: Option<String>,
        #[arg(long)]
        limit: Option<u32>,
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Show a job ticket (id or number): steps, hosts, runs.
    Show {
        id: String,
        /// Show progress until the ticket ends.
        #[arg(long)]
        follow: bool,
    },
    /// pause | continue | forcibly-end | terminate-all | retry-failed
    Action { id: String, action: String },
    /// Cancel one host of the current step (host name or id).
    CancelHost { id: String, host: String },
    /// Run the ticket's request again as a new ticket.
    Clone {
        id: String,
        #[arg(long)]
        follow: bool,
    },
    /// Approve or reject the approval task (by task name) the ticket waits at.
    Approve {
        id: String,
        /// Task name.
        #[arg(long)]
        task: String,
        /// Reject instead of approving.
        #[arg(long)]
        reject: bool,
        #[arg(long)]
        comment: Option<String>,
    },
}

const COLS: &[&str] = &[
    "id",
    "name",
    "version",
    "risk_level",
    "system",
    "review.status",
];

/// Job ticket columns.
pub(crate) const TICKET_COLS: &[&str] = &[
    "number",
    "id",
    "job_name",
    "job_version",
    "status",
    "current_step",
    "counts.total",
    "counts.successful",
    "counts.failed",
];

fn pairs(list: &[String], what: &str) -> anyhow::Result<BTreeMap<String, String>> {
    list.iter()
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .with_context(|| format!("{what} '{p}' must be KEY=VALUE"))
        })
        .collect()
}

fn read_json(file: &str) -> anyhow::Result<Value> {
    let text = if file == "-" {
        std::io::read_to_string(std::io::stdin())?
    } else {
        std::fs::read_to_string(file).with_context(|| format!("cannot read {file}"))?
    };
    serde_json::from_str(&text).with_context(|| format!("{file} is not valid JSON"))
}

pub async fn run(conn: &Conn, c: Cmd) -> anyhow::Result<()> {
    let cl = conn.client()?;
    let fmt = conn.output;
    match c.verb {
        Verb::List { name, tag } => {
            let mut q = vec![];
            if let Some(n) = name {
                q.push(("name", n));
            }
            if let Some(t) = tag {
                q.push(("tag", t));
            }
            output::print(fmt, &cl.get("/api/v1/jobs", &q).await?, COLS);
        }
        Verb::Show { id } => {
            let v = cl.get(&format!("/api/v1/jobs/{id}"), &[]).await?;
            if fmt == Format::Json {
                output::print(fmt, &v, &[]);
            } else {
                output::print(fmt, &v, COLS);
                for (i, s) in v["steps"].as_array().into_iter().flatten().enumerate() {
                    println!("step {} {}", i + 1, s["name"].as_str().unwrap_or(""));
                    for t in s["tasks"].as_array().into_iter().flatten() {
                        println!(
                            "  {:<24} {:<10} on failure: {}",
                            t["name"].as_str().unwrap_or(""),
                            t["atom"]["type"].as_str().unwrap_or(""),
                            t["on_failure"].as_str().unwrap_or("stop")
                        );
                    }
                }
            }
        }
        Verb::Templates => output::print(
            Format::Json,
            &cl.get("/api/v1/jobs/templates", &[]).await?,
            &[],
        ),
        Verb::Create {
            file,
            template,
            name,
        } => {
            let mut body = match (file, template) {
                (Some(f), _) => read_json(&f)?,
                (None, Some(t)) => {
                    let all = cl.get("/api/v1/jobs/templates", &[]).await?;
                    all["items"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .find(|x| x["name"] == t.as_str())
                        .cloned()
                        .with_context(|| format!("no template named '{t}'"))?
                }
                (None, None) => bail!("give --file or --template"),
            };
            if let Some(n) = name {
                body["name"] = json!(n);
            }
            output::print(fmt, &cl.post("/api/v1/jobs", &body).await?, COLS);
        }
        Verb::Update { id, file } => output::print(
            fmt,
            &cl.put(&format!("/api/v1/jobs/{id}"), &read_json(&file)?)
                .await?,
            COLS,
        ),
        Verb::Delete { id } => {
            cl.delete(&format!("/api/v1/jobs/{id}")).await?;
            println!("deleted {id}");
        }
        Verb::Versions { id } => output::print(
            fmt,
            &cl.get(&format!("/api/v1/jobs/{id}/versions"), &[]).await?,
            &["version", "created_by", "created_at"],
        ),
        Verb::Clone { id, name } => output::print(
            fmt,
            &cl.post(&format!("/api/v1/jobs/{id}/clone"), &json!({"name": name}))
                .await?,
            COLS,
        ),
        Verb::Tag { id, tags } => output::print(
            fmt,
            &cl.put(
                &format!("/api/v1/jobs/{id}/tags"),
                &json!({"tags": pairs(&tags, "--tag")?}),
            )
            .await?,
            &["id", "name", "tags"],
        ),
        Verb::Review {
            id,
            approve,
            comment,
        } => output::print(
            fmt,
            &cl.post(
                &format!("/api/v1/jobs/{id}/review"),
                &json!({"approve": approve, "comment": comment}),
            )
            .await?,
            &["id", "name", "version", "review"],
        ),
        Verb::Run {
            id,
            hosts,
            step_hosts,
            batch_policy,
            threshold,
            params,
            version,
            description,
            tags,
            follow,
        } => {
            let mut body = json!({"batch_policy": batch_policy, "success_rate_threshold": threshold,
                "params": pairs(&params, "--param")?, "version": version, "description": description,
                "tags": pairs(&tags, "--tag")?});
            if !step_hosts.is_empty() {
                if !hosts.is_empty() {
                    bail!("give --host (every step) or --step-host (each step), not both");
                }
                let mut steps: Vec<Vec<String>> = vec![];
                for sh in &step_hosts {
                    let (n, h) = sh
                        .split_once(':')
                        .with_context(|| format!("--step-host takes STEP:HOST, got '{sh}'"))?;
                    let n: usize = n
                        .parse()
                        .ok()
                        .filter(|n| *n >= 1)
                        .with_context(|| format!("step number '{n}' counts from 1"))?;
                    if steps.len() < n {
                        steps.resize(n, vec![]);
                    }
                    steps[n - 1].push(h.to_string());
                }
                let names = super::ticket::host_names(&cl).await;
                for hosts in steps.iter_mut() {
                    for h in hosts.iter_mut() {
                        *h = super::ticket::resolve_host(&names, h)?;
                    }
                }
                body["target_mode"] = json!("unique_per_step");
                body["steps"] = json!(
                    steps
                        .into_iter()
                        .map(|h| json!({"hosts": h}))
                        .collect::<Vec<_>>()
                );
            } else {
                let hosts = super::ticket::resolve_hosts(&cl, &hosts).await?;
                body["hosts"] = json!(hosts);
            }
            let t = cl
                .post(&format!("/api/v1/jobs/{id}/execute"), &body)
                .await?;
            if follow {
                return follow_ticket(&cl, t["id"].as_str().unwrap_or_default(), fmt).await;
            }
            output::print(fmt, &t, TICKET_COLS);
        }
    }
    Ok(())
}

pub async fn run_ticket(conn: &Conn, c: TicketCmd) -> anyhow::Result<()> {
    let cl = conn.client()?;
    let fmt = conn.output;
    let base = |id: &str| format!("/api/v1/job-tickets/{id}");
    match c.verb {
        TicketVerb::List {
            status,
            job,
            limit,
            cursor,
        } => {
            let mut q = vec![];
            if let Some(s) = status {
                q.push(("status", s));
            }
            if let Some(j) = job {
                q.push(("job", j));
            }
            if let Some(l) = limit {
                q.push(("limit", l.to_string()));
            }
            if let Some(c) = cursor {
                q.push(("cursor", c));
            }
            output::print(fmt, &cl.get("/api/v1/job-tickets", &q).await?, TICKET_COLS);
        }
        TicketVerb::Show { id, follow } => {
            if follow {
                return follow_ticket(&cl, &id, fmt).await;
            }
            let v = cl.get(&base(&id), &[]).await?;
            show(fmt, &v, &super::ticket::host_names(&cl).await, true);
        }
        TicketVerb::Action { id, action } => {
            let action = action.replace('-', "_");
            let v = cl
                .post(
                    &format!("{}/actions", base(&id)),
                    &json!({ "action": action }),
                )
                .await?;
            show(fmt, &v, &super::ticket::host_names(&cl).await, false);
        }
        TicketVerb::CancelHost { id, host } => {
            let host = super::ticket::resolve_host(&super::ticket::host_names(&cl).await, &host)?;
            let v = cl
                .post(&format!("{}/hosts/{host}/cancel", base(&id)), &json!({}))
                .await?;
            show(fmt, &v, &super::ticket::host_names(&cl).await, false);
        }
        TicketVerb::Clone { id, follow } => {
            let v = cl.post(&format!("{}/clone", base(&id)), &json!({})).await?;
            if follow {
                return follow_ticket(&cl, v["id"].as_str().unwrap_or_default(), fmt).await;
            }
            output::print(fmt, &v, TICKET_COLS);
        }
        TicketVerb::Approve {
            id,
            task,
            reject,
            comment,
        } => {
            let v = cl.get(&base(&id), &[]).await?;
            let a = v["approvals"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|a| a["task_name"] == task.as_str() && a["status"] == "pending")
                .with_context(|| format!("the ticket does not wait for an approval of '{task}'"))?;
            let v = cl
                .post(
                    &format!("{}/approvals/{}/{}", base(&id), a["step"], a["task"]),
                    &json!({"approve": !reject, "comment": comment}),
                )
                .await?;
            show(fmt, &v, &super::ticket::host_names(&cl).await, false);
        }
    }
    Ok(())
}

/// One line per step: a bar of finished hosts, counts and the state.
fn progress(v: &Value) -> Vec<String> {
    v["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            let c = &s["counts"];
            let n = |k: &str| c[k].as_i64().unwrap_or(0);
            let total = n("total").max(1);
            let done = n("successful") + n("failed") + n("cancelled");
            format!(
                "step {} {:<20} [{:<20}] {done}/{} ok {} failed {} {}",
                s["index"].as_i64().unwrap_or(0) + 1,
                s["name"].as_str().unwrap_or(""),
                "#".repeat((done * 20 / total) as usize),
                n("total"),
                n("successful"),
                n("failed"),
                s["status"].as_str().unwrap_or("")
            )
        })
        .collect()
}

/// Prints a job ticket: its facts, each step's progress, one row per run
/// (hosts by name, steps and batches from 1) and — with `outputs` — each
/// run's output.
fn show(fmt: Format, v: &Value, names: &HashMap<String, String>, outputs: bool) {
    if fmt == Format::Json {
        output::print(fmt, v, &[]);
        return;
    }
    output::print(fmt, v, &["number", "id", "job_name", "status", "reason"]);
    println!();
    for line in progress(v) {
        println!("{line}");
    }
    let mut rows = vec![];
    let mut outs = vec![];
    for (s, h, r) in runs(v) {
        let host = super::ticket::label(names, h["host_id"].as_str().unwrap_or("?"));
        let step = s["index"].as_i64().unwrap_or(0) + 1;
        let task = r["task_name"].as_str().unwrap_or("");
        rows.push(
            json!({"step": step, "batch": h["batch"].as_i64().map(|b| b + 1),
            "host": host, "task": task, "try": r["attempt"], "status": r["status"],
            "exit": r["exit_code"], "error": r["error"]}),
        );
        let out = r["output"].as_str().unwrap_or("").trim_end();
        if outputs && !out.is_empty() {
            outs.push(format!("\n--- step {step} · {host} · {task} ---\n{out}"));
        }
    }
    if !rows.is_empty() {
        println!();
        output::table(
            &rows,
            &[
                "step", "batch", "host", "task", "try", "status", "exit", "error",
            ],
        );
    }
    for o in outs {
        println!("{o}");
    }
}

/// Every run of a job ticket with its step and host, in order.
fn runs(v: &Value) -> impl Iterator<Item = (&Value, &Value, &Value)> {
    let steps = v["steps"].as_array().into_iter().flatten();
    steps.flat_map(|s| {
        let hosts = s["hosts"].as_array().into_iter().flatten();
        hosts.flat_map(move |h| {
            let runs = h["runs"].as_array().into_iter().flatten();
            runs.map(move |r| (s, h, r))
        })
    })
}

/// A job ticket `t` a command just started for `what`: followed to its
/// end when `follow` (after a "WHAT started: job ticket N" line), else
/// printed.
///
/// Errors: as [`follow_ticket`].
pub(crate) async fn started(
    cl: &coc_client::Client,
    t: &serde_json::Value,
    what: &str,
    follow: bool,
    fmt: Format,
) -> anyhow::Result<()> {
    if !follow {
        output::print(fmt, t, TICKET_COLS);
        return Ok(());
    }
    let id = t["id"].as_str().unwrap_or_default();
    if fmt == Format::Text {
        println!(
            "{what} started: job ticket {}",
            t["number"].as_str().unwrap_or(id)
        );
    }
    follow_ticket(cl, id, fmt).await
}

/// Polls a job ticket, printing each step's progress bar when it changes
/// (on stderr), until the ticket ends; fails unless it succeeded.
pub async fn follow_ticket(cl: &coc_client::Client, id: &str, fmt: Format) -> anyhow::Result<()> {
    let mut last: Vec<String> = vec![];
    let mut asked: Vec<String> = vec![];
    let mut printed: HashMap<String, usize> = HashMap::new();
    let names = super::ticket::host_names(cl).await;
    loop {
        let v = cl.get(&format!("/api/v1/job-tickets/{id}"), &[]).await?;
        let status = v["status"].as_str().unwrap_or("").to_string();
        if fmt == Format::Text {
            // New output of each run, as it comes, labelled by host and task.
            for (_, h, r) in runs(&v) {
                let out = r["output"].as_str().unwrap_or("");
                let seen = printed
                    .entry(r["id"].as_str().unwrap_or_default().to_string())
                    .or_default();
                if out.len() > *seen {
                    let host = super::ticket::label(&names, h["host_id"].as_str().unwrap_or("?"));
                    let task = r["task_name"].as_str().unwrap_or("");
                    for line in out[*seen..].lines() {
                        println!("[{host} {task}] {line}");
                    }
                    *seen = out.len();
                }
            }
            let now = progress(&v);
            for (i, line) in now.iter().enumerate() {
                if last.get(i) != Some(line) {
                    eprintln!("{line}");
                }
            }
            let _ = std::io::stderr().flush();
            last = now;
        }
        for a in v["approvals"].as_array().into_iter().flatten() {
            let task = a["task_name"].as_str().unwrap_or("");
            if a["status"] == "pending" && fmt == Format::Text && !asked.contains(&task.to_string())
            {
                eprintln!(
                    "waiting for approval of '{task}': coc job-ticket approve {id} --task {task}"
                );
                asked.push(task.to_string());
            }
        }
        if matches!(
            status.as_str(),
            "successful" | "failed" | "terminated" | "abnormal" | "paused"
        ) {
            // The output was printed as it came: the summary only.
            show(fmt, &v, &names, false);
            if status != "successful" {
                bail!(
                    "job ticket {} is {status}{}",
                    v["number"].as_str().unwrap_or(id),
                    v["reason"]
                        .as_str()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default()
                );
            }
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
