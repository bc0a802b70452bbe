//! `coc patch …` (P2, P3): scan, repair and roll back hosts' patches by
//! host name, and read the compliance report: `coc patch scan web-1 web-2
//! --follow`, `coc patch repair web-1 --baseline prod --reboot
//! --batch-size 1`, `coc patch compliance`, `coc patch show web-1 --state
//! missing`, each report also `--csv`. Baselines are `coc patch-baseline`.

use clap::{Args, Subcommand};
use serde_json::json;

use super::{Conn, output};

#[derive(Args, Debug)]
pub struct Cmd {
    #[command(subcommand)]
    cmd: Sub,
}

#[derive(Subcommand, Debug)]
enum Sub {
    /// Scan hosts: their agents refresh the package lists and report the
    /// patches offered and the packages installed.
    Scan {
        #[command(flatten)]
        on: On,
    },
    /// Install what each host's baseline approves from its latest scan,
    /// recording the versions replaced.
    Repair {
        #[command(flatten)]
        on: On,
        /// The baseline (name or id); default: the one each host follows.
        #[arg(long)]
        baseline: Option<String>,
        /// Reboot the hosts that need it afterwards and wait for them.
        #[arg(long)]
        reboot: bool,
    },
    /// Put back the versions the hosts' latest repair replaced.
    Rollback {
        #[command(flatten)]
        on: On,
    },
    /// The compliance report: every host, its baseline and compliance.
    Compliance {
        /// As CSV.
        #[arg(long)]
        csv: bool,
    },
    /// A host's patches and their states under its baseline.
    Show {
        /// Host name or id.
        host: String,
        /// Only this state: installed, installed_other,
        /// installed_pending_reboot, installed_rejected, missing, failed.
        #[arg(long)]
        state: Option<String>,
        /// As CSV.
        #[arg(long)]
        csv: bool,
    },
}

/// The hosts of patch work and how it runs.
#[derive(Args, Debug)]
struct On {
    /// Hosts (names or ids).
    #[arg(required = true)]
    hosts: Vec<String>,
    #[command(flatten)]
    batching: super::agent_install::Batching,
    /// Print each host's progress until the work ends (fails when a host
    /// failed).
    #[arg(long)]
    follow: bool,
}

const HOST_COLS: &[&str] = &[
    "host",
    "os",
    "baseline",
    "compliance.compliant",
    "compliance.non_compliant",
    "compliance.total",
    "reboot_required",
    "reported_at",
];

const PATCH_COLS: &[&str] = &[
    "name",
    "installed",
    "available",
    "classification",
    "severity",
    "state",
];

/// Runs `coc patch`.
pub async fn run(conn: &Conn, c: Cmd) -> anyhow::Result<()> {
    let cl = conn.client()?;
    let (path, what, on, extra) = match c.cmd {
        Sub::Scan { on } => ("/api/v1/patch-scans", "scan", on, json!({})),
        Sub::Repair {
            on,
            baseline,
            reboot,
        } => (
            "/api/v1/patch-repairs",
            "repair",
            on,
            json!({"baseline": baseline, "reboot": reboot}),
        ),
        Sub::Rollback { on } => ("/api/v1/patch-rollbacks", "rollback", on, json!({})),
        Sub::Compliance { csv } => {
            if csv {
                let v = cl.get("/api/v1/patch-compliance/export", &[]).await?;
                print!("{}", v.as_str().unwrap_or_default());
                return Ok(());
            }
            let v = cl.get("/api/v1/patch-compliance", &[]).await?;
            if conn.output == super::Format::Text {
                println!(
                    "{} compliant, {} non-compliant, {} unknown",
                    v["compliant"], v["non_compliant"], v["unknown"]
                );
                output::table(v["items"].as_array().map_or(&[], Vec::as_slice), HOST_COLS);
            } else {
                output::print(conn.output, &v, HOST_COLS);
            }
            return Ok(());
        }
        Sub::Show { host, state, csv } => {
            let q: Vec<(&str, String)> = state.into_iter().map(|s| ("state", s)).collect();
            let base = format!("/api/v1/patch-compliance/{}", super::enc(&host));
            if csv {
                let v = cl.get(&format!("{base}/export"), &q).await?;
                print!("{}", v.as_str().unwrap_or_default());
                return Ok(());
            }
            let v = cl.get(&base, &q).await?;
            if conn.output == super::Format::Text {
                match v["report"].as_object() {
                    None => println!("{}: never scanned", v["host"].as_str().unwrap_or(&host)),
                    Some(r) => println!(
                        "{}: baseline {}, latest {} {}, {} of {} patches non-compliant{}",
                        v["host"].as_str().unwrap_or(&host),
                        v["baseline"].as_str().unwrap_or("none"),
                        r["kind"].as_str().unwrap_or(""),
                        if r["succeeded"] == true {
                            "succeeded"
                        } else {
                            "failed"
                        },
                        v["compliance"]["non_compliant"],
                        v["compliance"]["total"],
                        if r["reboot_required"] == true {
                            ", reboot required"
                        } else {
                            ""
                        }
                    ),
                }
                output::table(
                    v["patches"].as_array().map_or(&[], Vec::as_slice),
                    PATCH_COLS,
                );
            } else {
                output::print(conn.output, &v, PATCH_COLS);
            }
            return Ok(());
        }
    };
    let hosts = super::ticket::resolve_hosts(&cl, &on.hosts).await?;
    let mut body = json!({
        "hosts": hosts,
        "batch_size": on.batching.batch_size,
        "success_rate_threshold": on.batching.success_rate_threshold,
    });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let t = cl.post(path, &body).await?;
    super::job::started(&cl, &t, &format!("patch {what}"), on.follow, conn.output).await
}
