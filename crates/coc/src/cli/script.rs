//! `coc script …`

use std::collections::BTreeMap;

use anyhow::{Context, bail};
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
    /// Create a script from a file.
    Create {
        /// Name.
        #[arg(long)]
        name: String,
        /// shell, python or bat.
        #[arg(long = "type", default_value = "shell")]
        kind: String,
        /// File with the script text (`-` for stdin).
        #[arg(long, short)]
        file: String,
        /// low, medium or high.
        #[arg(long, default_value = "low")]
        risk: String,
        /// Description.
        #[arg(long, default_value = "")]
        description: String,
        /// Input parameter: NAME[:string|number|boolean][:default=V][:required][:sensitive]
        #[arg(long = "param")]
        params: Vec<String>,
        /// Ask for a manual review (always on for high-risk scripts).
        #[arg(long)]
        review: bool,
        /// Reviewer user (repeat).
        #[arg(long = "reviewer")]
        reviewers: Vec<String>,
        /// Reviewers on call for a shift: SCENARIO/ROLE (repeat).
        #[arg(long = "reviewer-shift", value_name = "SCENARIO/ROLE")]
        reviewer_shifts: Vec<String>,
    },
    /// Modify a script (by id or name): a new version; what is not given
    /// stays as it is.
    Update {
        /// Script id or name.
        id: String,
        /// File with the new script text (`-` for stdin).
        #[arg(long, short)]
        file: Option<String>,
        /// New name.
        #[arg(long)]
        name: Option<String>,
        /// shell, python or bat.
        #[arg(long = "type")]
        kind: Option<String>,
        /// low, medium or high.
        #[arg(long)]
        risk: Option<String>,
        /// Description.
        #[arg(long)]
        description: Option<String>,
        /// Input parameters, replacing all: NAME[:string|number|boolean][:default=V][:required][:sensitive]
        #[arg(long = "param")]
        params: Vec<String>,
        /// Ask for a manual review.
        #[arg(long)]
        review: Option<bool>,
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
    /// Every version of a script.
    Versions { id: String },
    /// Verify high-risk commands in a file (`-` for stdin).
    Verify {
        #[arg(long = "type", default_value = "shell")]
        kind: String,
        #[arg(long, short)]
        file: String,
    },
    /// The high-risk command rules.
    Rules,
    /// List scripts.
    List,
    /// Show a script.
    Show { id: String },
    /// Delete a script.
    Delete { id: String },
    /// Execute a script on hosts: creates a script ticket.
    Run {
        /// Script id.
        id: String,
        /// Target hosts by name or id (repeat), or `all` for every host.
        #[arg(long = "host", required = true)]
        hosts: Vec<String>,
        /// Parameter value NAME=VALUE (repeat).
        #[arg(long = "param")]
        params: Vec<String>,
        /// Executing user.
        #[arg(long)]
        run_as: Option<String>,
        /// Timeout per host, seconds.
        #[arg(long)]
        timeout: Option<u32>,
        /// auto, manual or none.
        #[arg(long, default_value = "auto")]
        batch_policy: String,
        /// Suspension threshold: success rate in percent (one decimal).
        #[arg(long)]
        threshold: Option<f64>,
        /// Follow the ticket until it finishes.
        #[arg(long)]
        follow: bool,
    },
}

/// A file's text, or stdin for `-`.
fn read_text(file: &str) -> anyhow::Result<String> {
    if file == "-" {
        Ok(std::io::read_to_string(std::io::stdin())?)
    } else {
        std::fs::read_to_string(file).with_context(|| format!("cannot read {file}"))
    }
}

fn parse_param(s: &str) -> anyhow::Result<Value> {
    let mut parts = s.split(':');
    let name = parts
        .next()
        .filter(|n| !n.is_empty())
        .context("parameter needs a name")?;
    let mut p = json!({"name": name});
    for part in parts {
        match part {
            "string" | "number" | "boolean" => p["type"] = json!(part),
            "required" => p["required"] = json!(true),
            "sensitive" => p["sensitive"] = json!(true),
            d if d.starts_with("default=") => p["default"] = json!(&d[8..]),
            other => bail!("unknown parameter option '{other}' in '{s}'"),
        }
    }
    Ok(p)
}

pub async fn run(conn: &Conn, c: Cmd) -> anyhow::Result<()> {
    let cl = conn.client()?;
    let cols = &[
        "id",
        "name",
        "version",
        "type",
        "risk_level",
        "system",
        "review",
    ];
    match c.verb {
        Verb::Create {
            name,
            kind,
            file,
            risk,
            description,
            params,
            review,
            reviewers,
            reviewer_shifts,
        } => {
            let content = read_text(&file)?;
            let params = params
                .iter()
                .map(|p| parse_param(p))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let mut who = vec![];
            if !reviewers.is_empty() {
                who.push(json!({"type": "individual", "users": reviewers}));
            }
            for sh in reviewer_shifts {
                let (scenario, role) = sh.split_once('/').ok_or_else(|| {
                    anyhow::anyhow!("--reviewer-shift takes SCENARIO/ROLE, got '{sh}'")
                })?;
                who.push(json!({"type": "shift", "scenario": scenario, "roles": [role]}));
            }
            let body = json!({"name": name, "type": kind, "content": content, "risk_level": risk,
                              "description": description, "params": params, "manual_review": review, "reviewers": who});
            output::print(conn.output, &cl.post("/api/v1/scripts", &body).await?, cols);
        }
        Verb::Update {
            id,
            file,
            name,
            kind,
            risk,
            description,
            params,
            review,
        } => {
            let cur = cl.get(&format!("/api/v1/scripts/{id}"), &[]).await?;
            let mut body = json!({});
            for k in [
                "name",
                "description",
                "type",
                "content",
                "risk_level",
                "params",
                "manual_review",
                "reviewers",
            ] {
                body[k] = cur[k].clone();
            }
            let set = |body: &mut Value, k: &str, v: Option<String>| {
                if let Some(v) = v {
                    body[k] = json!(v);
                }
            };
            set(&mut body, "name", name);
            set(&mut body, "type", kind);
            set(&mut body, "risk_level", risk);
            set(&mut body, "description", description);
            if let Some(f) = file {
                body["content"] = json!(read_text(&f)?);
            }
            if !params.is_empty() {
                body["params"] = json!(
                    params
                        .iter()
                        .map(|p| parse_param(p))
                        .collect::<anyhow::Result<Vec<_>>>()?
                );
            }
            if let Some(r) = review {
                body["manual_review"] = json!(r);
            }
            let sid = cur["id"].as_str().unwrap_or(&id).to_string();
            output::print(
                conn.output,
                &cl.put(&format!("/api/v1/scripts/{sid}"), &body).await?,
                cols,
            );
        }
        Verb::List => output::print(conn.output, &cl.get("/api/v1/scripts", &[]).await?, cols),
        Verb::Show { id } => output::print(
            conn.output,
            &cl.get(&format!("/api/v1/scripts/{id}"), &[]).await?,
            &[
                "id",
                "name",
                "version",
                "type",
                "risk_level",
                "params",
                "content",
            ],
        ),
        Verb::Delete { id } => {
            cl.delete(&format!("/api/v1/scripts/{id}")).await?;
            println!("deleted {id}");
        }
        Verb::Review {
            id,
            approve,
            comment,
        } => output::print(
            conn.output,
            &cl.post(
                &format!("/api/v1/scripts/{id}/review"),
                &json!({"approve": approve, "comment": comment}),
            )
            .await?,
            &["id", "name", "version", "review"],
        ),
        Verb::Versions { id } => output::print(
            conn.output,
            &cl.get(&format!("/api/v1/scripts/{id}/versions"), &[])
                .await?,
            &["version", "created_by", "created_at"],
        ),
        Verb::Verify { kind, file } => {
            let v = cl
                .post(
                    "/api/v1/scripts/verify",
                    &json!({"type": kind, "content": read_text(&file)?}),
                )
                .await?;
            if conn.output == super::Format::Text {
                println!("{}", v["result"].as_str().unwrap_or(""));
                for w in v["warnings"].as_array().into_iter().flatten() {
                    println!("warning: {}", w.as_str().unwrap_or(""));
                }
                output::print(
                    conn.output,
                    &v["findings"],
                    &["line", "rule", "name", "text"],
                );
            } else {
                output::print(conn.output, &v, &[]);
            }
        }
        Verb::Rules => output::print(
            conn.output,
            &cl.get("/api/v1/scripts/high-risk-rules", &[]).await?,
            &["id", "name", "types", "pattern"],
        ),
        Verb::Run {
            id,
            hosts,
            params,
            run_as,
            timeout,
            batch_policy,
            threshold,
            follow,
        } => {
            let hosts = super::ticket::resolve_hosts(&cl, &hosts).await?;
            let mut pv = BTreeMap::new();
            for p in params {
                let (k, v) = p
                    .split_once('=')
                    .with_context(|| format!("--param '{p}' must be NAME=VALUE"))?;
                pv.insert(k.to_string(), v.to_string());
            }
            let body = json!({"hosts": hosts, "params": pv, "run_as": run_as, "timeout_s": timeout,
                              "batch_policy": batch_policy, "success_rate_threshold": threshold});
            let t = cl
                .post(&format!("/api/v1/scripts/{id}/execute"), &body)
                .await?;
            if follow {
                let tid = t["id"].as_str().unwrap_or_default().to_string();
                return super::ticket::follow(&cl, &tid, conn.output).await;
            }
            output::print(conn.output, &t, super::ticket::COLS);
        }
    }
    Ok(())
}
