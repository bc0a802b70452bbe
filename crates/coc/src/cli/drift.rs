//! `coc drift …`: a host's desired state (R5) by host name — packages at
//! versions, services that should run, files under watch — its
//! differences from what the agent reports, and accepting the current
//! state.

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
    /// Hosts with a desired state, drifted first.
    List,
    /// A host's desired state and its differences (by host name or id).
    Show { host: String },
    /// Set (replace) a host's desired state, e.g. `coc drift set web-1
    /// --package openssl=3.0.15-1~deb12u1 --service nginx --file
    /// /etc/nginx/nginx.conf`. The agent starts watching at once.
    Set {
        /// Host name or id.
        host: String,
        /// A package that should be installed: NAME, or NAME=VERSION for
        /// an exact version (repeat).
        #[arg(long = "package", value_name = "NAME[=VERSION]")]
        packages: Vec<String>,
        /// A service that should run: a systemd unit, or a process name
        /// where there is no systemd (repeat).
        #[arg(long = "service", value_name = "NAME")]
        services: Vec<String>,
        /// A file under watch: PATH (its first reported hash becomes the
        /// baseline), or PATH=SHA256 (repeat).
        #[arg(long = "file", value_name = "PATH[=SHA256]")]
        files: Vec<String>,
        /// Full check at least every this many seconds (10–86400,
        /// default 300).
        #[arg(long)]
        interval: Option<u64>,
        /// Level of the drift alarm: Critical, Major (default), Minor,
        /// Suggestion, or none (differences listed, no alarm).
        #[arg(long)]
        alarm_level: Option<String>,
    },
    /// Accept the host's current state: the desired versions and hashes
    /// become the ones its agent last reported.
    Accept { host: String },
    /// Remove a host's desired state (the agent stops watching).
    Clear { host: String },
}

const COLS: &[&str] = &[
    "host",
    "status",
    "differences",
    "checked_at",
    "drifted_since",
];
const DIFF_COLS: &[&str] = &["kind", "item", "expected", "actual"];

/// `NAME=VALUE` split at the first `=`; a missing or empty value is none.
fn pair(s: &str) -> (String, Option<String>) {
    match s.split_once('=') {
        Some((k, v)) if !v.trim().is_empty() => (k.to_string(), Some(v.to_string())),
        Some((k, _)) => (k.to_string(), None),
        None => (s.to_string(), None),
    }
}

/// A drift record for the table: the differences counted.
fn summary(d: &Value) -> Value {
    let mut s = d.clone();
    s["differences"] = json!(d["differences"].as_array().map_or(0, Vec::len));
    s
}

/// Prints a record: its summary, then its differences as a table.
fn record(conn: &Conn, d: &Value) {
    if conn.output == super::Format::Json {
        output::print(conn.output, d, COLS);
        return;
    }
    output::print(conn.output, &summary(d), COLS);
    if let Some(diffs) = d["differences"].as_array().filter(|a| !a.is_empty()) {
        println!();
        output::table(diffs, DIFF_COLS);
    }
}

pub async fn run(conn: &Conn, c: Cmd) -> anyhow::Result<()> {
    let cl = conn.client()?;
    let path = |h: &str| format!("/api/v1/drift/{}", super::enc(h));
    match c.verb {
        Verb::List => {
            let mut v = cl.get("/api/v1/drift", &[]).await?;
            if let Some(items) = v["items"].as_array_mut() {
                for d in items.iter_mut() {
                    *d = summary(d);
                }
            }
            output::print(conn.output, &v, COLS);
        }
        Verb::Show { host } => record(conn, &cl.get(&path(&host), &[]).await?),
        Verb::Set {
            host,
            packages,
            services,
            files,
            interval,
            alarm_level,
        } => {
            let packages: Vec<Value> = packages
                .iter()
                .map(|p| {
                    let (name, version) = pair(p);
                    json!({"name": name, "version": version})
                })
                .collect();
            let files: Vec<Value> = files
                .iter()
                .map(|f| {
                    let (path, sha256) = pair(f);
                    json!({"path": path, "sha256": sha256})
                })
                .collect();
            let mut d = json!({"packages": packages, "services": services, "files": files});
            if let Some(i) = interval {
                d["interval_s"] = json!(i);
            }
            match alarm_level.as_deref() {
                Some(l) if l.eq_ignore_ascii_case("none") => d["no_alarm"] = json!(true),
                Some(l) => d["alarm_level"] = json!(l),
                None => {}
            }
            record(conn, &cl.put(&path(&host), &d).await?);
        }
        Verb::Accept { host } => {
            let d = cl
                .post(&format!("{}/accept", path(&host)), &json!({}))
                .await?;
            record(conn, &d);
        }
        Verb::Clear { host } => {
            cl.delete(&path(&host)).await?;
            println!("cleared the desired state of {host}");
        }
    }
    Ok(())
}
