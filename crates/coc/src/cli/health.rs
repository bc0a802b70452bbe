//! `coc health-check …` (M7): check hosts by name and read the report —
//! `coc health-check run web-1 web-2 --threshold disk_pct=70,85
//! --follow` (exits 1 when an item fails), `coc health-check list`,
//! `coc health-check show JOB…`, `coc health-check export JOB…
//! --format html --file report.html`.

use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Map, Value, json};

use super::{Conn, output};

#[derive(Args, Debug)]
pub struct Cmd {
    #[command(subcommand)]
    cmd: Sub,
}

#[derive(Subcommand, Debug)]
enum Sub {
    /// Check hosts: each runs the read-only health probe; COC checks
    /// itself too.
    Run {
        /// Hosts (names or ids).
        #[arg(required = true)]
        hosts: Vec<String>,
        /// A threshold as KEY=WARN,FAIL (disk_pct, inode_pct, memory_pct,
        /// swap_pct, load_per_cpu, cert_days, database_gib,
        /// database_latency_ms, queue_depth, failed_deliveries);
        /// repeatable.
        #[arg(long = "threshold", value_name = "KEY=WARN,FAIL")]
        thresholds: Vec<String>,
        #[command(flatten)]
        batching: super::agent_install::Batching,
        /// Wait for every host and print the report (exits 1 when an item
        /// fails).
        #[arg(long)]
        follow: bool,
    },
    /// The checks, newest first.
    List,
    /// A check's report (by id or ticket number).
    Show {
        /// The check.
        check: String,
    },
    /// A check's report as a file.
    Export {
        /// The check.
        check: String,
        /// html (a page of its own that prints well), csv or json.
        #[arg(long, value_enum, default_value = "html")]
        format: FileFormat,
        /// Write it to this file instead of standard output.
        #[arg(long)]
        file: Option<std::path::PathBuf>,
    },
}

#[derive(Copy, Clone, Debug, ValueEnum)]
enum FileFormat {
    Html,
    Csv,
    Json,
}

const LIST_COLS: &[&str] = &[
    "number",
    "status",
    "description",
    "created_by",
    "created_at",
];

/// `KEY=WARN,FAIL` pairs as the API's `thresholds` object.
fn thresholds(pairs: &[String]) -> anyhow::Result<Value> {
    let mut out = Map::new();
    for p in pairs {
        let parsed = p.split_once('=').and_then(|(k, v)| {
            let (w, f) = v.split_once(',')?;
            Some((
                k.trim(),
                w.trim().parse::<f64>().ok()?,
                f.trim().parse::<f64>().ok()?,
            ))
        });
        let Some((k, warn, fail)) = parsed else {
            bail!("'{p}' is not KEY=WARN,FAIL (for example disk_pct=80,90)");
        };
        out.insert(k.to_string(), json!({"warn": warn, "fail": fail}));
    }
    Ok(Value::Object(out))
}

/// Prints a report: its verdict and counts, then every item that is not
/// a pass (all of them with `--output json`).
fn print_report(conn: &Conn, r: &Value) {
    if conn.output != super::Format::Text {
        output::print(conn.output, r, &[]);
        return;
    }
    let c = &r["counts"];
    println!(
        "health check {}: {} ({} pass, {} warn, {} fail), {}",
        r["number"].as_str().unwrap_or_default(),
        r["verdict"].as_str().unwrap_or_default(),
        c["pass"],
        c["warn"],
        c["fail"],
        r["status"].as_str().unwrap_or_default()
    );
    let mut rows = Vec::new();
    let mut add = |scope: &str, items: &Value| {
        for i in items.as_array().into_iter().flatten() {
            if i["verdict"] != "pass" {
                let mut row = i.clone();
                row["scope"] = json!(scope);
                rows.push(row);
            }
        }
    };
    add("COC", &r["coc"]);
    for h in r["hosts"].as_array().into_iter().flatten() {
        let host = h["host"].as_str().unwrap_or_default();
        if h["state"] == "waiting" {
            println!("{host}: waiting for its probe");
        }
        add(host, &h["items"]);
    }
    if rows.is_empty() {
        println!("every item passes");
    } else {
        output::table(&rows, &["scope", "item", "value", "threshold", "verdict"]);
    }
}

/// Runs `coc health-check`.
pub async fn run(conn: &Conn, c: Cmd) -> anyhow::Result<()> {
    let cl = conn.client()?;
    match c.cmd {
        Sub::Run {
            hosts,
            thresholds: pairs,
            batching,
            follow,
        } => {
            let mut body = json!({
                "hosts": hosts,
                "batch_size": batching.batch_size,
                "success_rate_threshold": batching.success_rate_threshold,
            });
            if !pairs.is_empty() {
                body["thresholds"] = thresholds(&pairs)?;
            }
            let mut r = cl.post("/api/v1/health-checks", &body).await?;
            if !follow {
                print_report(conn, &r);
                return Ok(());
            }
            let id = r["id"].as_str().unwrap_or_default().to_string();
            if conn.output == super::Format::Text {
                println!(
                    "health check {} started",
                    r["number"].as_str().unwrap_or(&id)
                );
            }
            let path = format!("/api/v1/health-checks/{}", super::enc(&id));
            loop {
                let waiting = r["hosts"]
                    .as_array()
                    .is_some_and(|h| h.iter().any(|x| x["state"] == "waiting"));
                let running = ["executing", "paused"].contains(&r["status"].as_str().unwrap_or(""));
                if !waiting && !running {
                    break;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
                r = cl.get(&path, &[]).await?;
            }
            print_report(conn, &r);
            if r["verdict"] == "fail" {
                bail!("the health check found failing items");
            }
            Ok(())
        }
        Sub::List => {
            let v = cl.get("/api/v1/health-checks", &[]).await?;
            output::print(conn.output, &v, LIST_COLS);
            Ok(())
        }
        Sub::Show { check } => {
            let r = cl
                .get(
                    &format!("/api/v1/health-checks/{}", super::enc(&check)),
                    &[],
                )
                .await?;
            print_report(conn, &r);
            Ok(())
        }
        Sub::Export {
            check,
            format,
            file,
        } => {
            let f = match format {
                FileFormat::Html => "html",
                FileFormat::Csv => "csv",
                FileFormat::Json => "json",
            };
            let v = cl
                .get(
                    &format!("/api/v1/health-checks/{}/export", super::enc(&check)),
                    &[("format", f.to_string())],
                )
                .await?;
            let text = match v {
                Value::String(s) => s,
                other => serde_json::to_string_pretty(&other)? + "\n",
            };
            match file {
                Some(p) => {
                    std::fs::write(&p, text).with_context(|| format!("writing {}", p.display()))?;
                    eprintln!("written to {}", p.display());
                }
                None => print!("{text}"),
            }
            Ok(())
        }
    }
}
