//! `coc-bench patches` (issue 19, P2/P3): starts its own `coc server` and
//! `--hosts` agents in this process whose patch tasks answer with one
//! recorded report (apt's simulation and dpkg's package list of a host
//! with `--patches` packages, `--offered` of them with an update, a third
//! of those from a `…-security` suite), so the server does all of its
//! real work per host — parse, merge with the host's rows, store them —
//! while no apt runs. It then scans every host as one ticket and reports
//! the time from the submit to the compliance report listing every host,
//! and the latency of the compliance report (API and console) and of one
//! host's patches over `--rounds` requests.
//!
//! ```text
//! coc-bench patches --hosts 200 --patches 2000 --rounds 50
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use coc_proto::{PackageSeen, PatchReport};
use serde_json::json;

use super::fleet::{ADMIN, Servers};

/// A host's report: `patches` installed packages, `offered` of them with
/// an update (every third from the security suite).
fn recorded(patches: usize, offered: usize) -> PatchReport {
    let mut text = String::from(
        "Reading package lists...\nBuilding dependency tree...\nReading state information...\nCalculating upgrade...\n",
    );
    for i in 0..offered.min(patches) {
        let suite = if i % 3 == 0 {
            "Debian-Security:12/stable-security"
        } else {
            "Debian:12.9/stable"
        };
        text.push_str(&format!(
            "Inst bench-pkg-{i:05} [1.0-1] (1.0-2 {suite} [amd64])\n"
        ));
    }
    for i in 0..offered.min(patches) {
        text.push_str(&format!(
            "Conf bench-pkg-{i:05} (1.0-2 Debian:12.9/stable [amd64])\n"
        ));
    }
    PatchReport {
        manager: "apt".into(),
        os_id: "debian".into(),
        os_version: "12".into(),
        offered: text,
        installed: (0..patches)
            .map(|i| PackageSeen {
                name: format!("bench-pkg-{i:05}"),
                version: Some("1.0-1".into()),
            })
            .collect(),
        replaced: vec![],
        reboot_packages: vec![],
        reboot_required: false,
    }
}

/// Runs the bench.
///
/// Errors: a server or agent that does not start, a scan that fails.
pub async fn run(
    hosts: usize,
    patches: usize,
    offered: usize,
    rounds: usize,
    state: &std::path::Path,
    database_url: Option<&str>,
) -> anyhow::Result<()> {
    let servers = Servers::start(state, false, database_url, 1).await?;
    let client = servers.client.clone();
    let report = Arc::new(recorded(patches, offered));
    let agents = servers.agents(hosts, Some(report)).await?;
    println!("{hosts} agents connected; each reports {patches} packages, {offered} with an update");
    // Security patches approved at once: a third of the offered ones are
    // missing on every host.
    client
        .post(
            "/api/v1/patch-baselines",
            &json!({"name": "bench", "os": "debian", "rules": {"type": "installation",
                "classifications": ["security"], "approval": {"type": "after_days", "days": 0}}}),
        )
        .await?;
    let t0 = Instant::now();
    let t = client
        .post("/api/v1/patch-scans", &json!({"hosts": agents.hosts}))
        .await?;
    let id = t["id"].as_str().context("ticket id")?.to_string();
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let v = client
            .get(&format!("/api/v1/job-tickets/{id}"), &[])
            .await?;
        match v["status"].as_str() {
            Some("successful") => break,
            Some("executing" | "pending") => {}
            other => bail!("the scan ended {other:?}"),
        }
        if t0.elapsed() > Duration::from_secs(600) {
            bail!("the scan did not end in 10 minutes");
        }
    }
    let ticket_done = t0.elapsed();
    let report = loop {
        let v = client.get("/api/v1/patch-compliance", &[]).await?;
        let scanned = v["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|h| h["reported_at"].is_i64())
            .count();
        if scanned >= hosts {
            break v;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let listed = t0.elapsed();
    let missing = report["items"][0]["compliance"]["non_compliant"].clone();
    println!(
        "scan of {hosts} hosts: ticket done in {:.2} s, compliance report listing all of them at {:.2} s \
         ({missing} missing patches per host, {} non-compliant hosts)",
        ticket_done.as_secs_f64(),
        listed.as_secs_f64(),
        report["non_compliant"]
    );
    let host = agents.hosts[0].clone();
    let pages = vec![
        (
            "API compliance report".to_string(),
            "/api/v1/patch-compliance".to_string(),
        ),
        (
            "console compliance report".to_string(),
            "/console/patch-compliance".to_string(),
        ),
        (
            "API one host's patches".to_string(),
            format!("/api/v1/patch-compliance/{host}"),
        ),
        (
            "API compliance report as CSV".to_string(),
            "/api/v1/patch-compliance/export".to_string(),
        ),
    ];
    super::time_pages(&servers.urls[0], ADMIN, &pages, rounds).await?;
    drop(agents);
    drop(servers);
    Ok(())
}
