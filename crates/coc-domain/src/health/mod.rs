//! Health check (M7, ref. `mrs-cluster-om.txt` "Health Check"): one
//! click inspects chosen hosts and COC itself, and judges every item
//! against its threshold as pass, warn or fail.
//!
//! A check is a ticket of the common job [`JOB_NAME`], whose one task
//! runs the common script [`SCRIPT_NAME`] ([`probe::PROBE`]) on each host
//! through the one engine (batches, suspension threshold, live output);
//! its id is the ticket's, so a scheduled task running the job makes
//! checks too. The report is put together when it is read ([`report`]):
//! each host's probe output judged ([`probe::judge`]) with its patch
//! compliance and agent version ([`host_items`]), and COC's own items
//! ([`judge_coc`]) measured once, when the check was made or first read.

use serde::{Deserialize, Serialize};

use crate::error::{DomainError, invalid};
use probe::above;

pub mod probe;

pub use probe::{Item, Limit, Thresholds, Verdict};

/// The common script a check runs on each host.
pub const SCRIPT_NAME: &str = "COC-HEALTH-PROBE";
/// The common job a check is a ticket of.
pub const JOB_NAME: &str = "COC-Health-Check";
/// Most hosts in one check.
pub const MAX_HOSTS: usize = 1000;
/// Timeout of a host's probe, seconds.
pub const PROBE_TIMEOUT_S: u32 = 120;

/// A request for a health check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckSpec {
    /// The hosts (ids or names; 1..=[`MAX_HOSTS`]).
    pub hosts: Vec<String>,
    /// The thresholds; default: [`Thresholds::default`].
    #[serde(default)]
    pub thresholds: Option<Thresholds>,
    /// Hosts per batch (default: all at once).
    #[serde(default)]
    pub batch_size: Option<u32>,
    /// Suspension threshold: the success rate in % below which the check
    /// stops before the next batch.
    #[serde(default)]
    pub success_rate_threshold: Option<f64>,
}

impl HealthCheckSpec {
    /// The request trimmed, without repeated hosts, and checked.
    ///
    /// Errors: [`DomainError::Validation`]: no host or too many, a
    /// threshold pair out of order or range, batch size 0, a suspension
    /// threshold outside 0–100.
    pub fn normalized(&self) -> Result<HealthCheckSpec, DomainError> {
        let hosts = crate::ticket::distinct_trimmed(&self.hosts);
        if hosts.is_empty() || hosts.len() > MAX_HOSTS {
            return Err(invalid(format!("choose 1 to {MAX_HOSTS} hosts to check")));
        }
        if let Some(t) = &self.thresholds {
            t.validate()?;
        }
        crate::ticket::check_batching(self.batch_size, self.success_rate_threshold)?;
        Ok(HealthCheckSpec {
            hosts,
            ..self.clone()
        })
    }
}

/// What COC measured of itself for a check.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CocFacts {
    /// Size of its database, bytes.
    pub database_bytes: i64,
    /// Time of one round trip to its database, ms.
    pub database_latency_ms: f64,
    /// Work waiting in each of the engine's queues (`deliveries`,
    /// `escalations`, `agent_tasks` …: the gauges of `GET /metrics`).
    pub queues: Vec<(String, i64)>,
    /// Hosts whose agent is offline (names).
    pub offline_agents: Vec<String>,
    /// Notifications given up in the last 24 hours.
    pub failed_deliveries_24h: i64,
}

fn item(item: &str, value: String, threshold: String, verdict: Verdict) -> Item {
    Item {
        item: item.into(),
        value,
        threshold,
        verdict,
    }
}

/// COC's own items: database size and latency, offline agents, failing
/// deliveries, then each queue's depth — each against `t`.
pub fn judge_coc(f: &CocFacts, t: &Thresholds) -> Vec<Item> {
    let gib = f.database_bytes as f64 / f64::from(1u32 << 30);
    let (gw, gf) = t.database_gib.pair();
    let (lw, lf) = t.database_latency_ms.pair();
    let (qw, qf) = t.queue_depth.pair();
    let (dw, df) = t.failed_deliveries.pair();
    let offline = f.offline_agents.len();
    let mut out = vec![
        item(
            "database size",
            if gib < 1.0 {
                format!("{:.1} MiB", f.database_bytes as f64 / f64::from(1u32 << 20))
            } else {
                format!("{gib:.2} GiB")
            },
            format!("warn ≥ {gw} GiB, fail ≥ {gf} GiB"),
            above(gib, t.database_gib.pair()),
        ),
        item(
            "database latency",
            format!("{:.1} ms", f.database_latency_ms),
            format!("warn ≥ {lw} ms, fail ≥ {lf} ms"),
            above(f.database_latency_ms, t.database_latency_ms.pair()),
        ),
        item(
            "offline agents",
            if offline == 0 {
                "none".into()
            } else {
                let mut names = f.offline_agents.clone();
                names.sort();
                let shown: Vec<&str> = names.iter().take(10).map(String::as_str).collect();
                let more = offline.saturating_sub(shown.len());
                format!(
                    "{offline}: {}{}",
                    shown.join(", "),
                    if more > 0 {
                        format!(" and {more} more")
                    } else {
                        String::new()
                    }
                )
            },
            "none".into(),
            if offline == 0 {
                Verdict::Pass
            } else {
                Verdict::Warn
            },
        ),
        item(
            "failed notifications (24 h)",
            f.failed_deliveries_24h.to_string(),
            format!("warn ≥ {dw}, fail ≥ {df}"),
            above(f.failed_deliveries_24h as f64, t.failed_deliveries.pair()),
        ),
    ];
    out.extend(f.queues.iter().map(|(name, n)| {
        item(
            &format!("queue {name}"),
            n.to_string(),
            format!("warn ≥ {qw}, fail ≥ {qf}"),
            above(*n as f64, t.queue_depth.pair()),
        )
    }));
    out
}

/// A host's patch compliance as a check reads it (P3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatchSummary {
    /// Patches of its latest report that are not compliant.
    pub non_compliant: u32,
    /// Patches its baseline approves in that report.
    pub total: u32,
}

/// A host as a check's report reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct HostInput {
    /// Host id.
    pub host_id: String,
    /// Its name.
    pub host: String,
    /// Its probe run's status (`successful`, `failed`, `executing`, …);
    /// none: not started.
    pub run_status: Option<String>,
    /// The probe's output.
    pub output: String,
    /// Why the run failed, if it did.
    pub error: Option<String>,
    /// The version its agent runs.
    pub agent_version: String,
    /// Its patch compliance; none: never scanned.
    pub patches: Option<PatchSummary>,
}

/// One host of a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HostReport {
    /// Host id.
    pub host_id: String,
    /// Its name.
    pub host: String,
    /// `checked`, `failed` (its probe did not run) or `waiting`.
    pub state: String,
    /// Its worst item; none while waiting.
    pub verdict: Option<Verdict>,
    /// Its items.
    pub items: Vec<Item>,
}

/// A host's items: its probe judged, then its patch compliance and its
/// agent's version against the server's (`server_version`). A probe
/// that failed is one failed item; one not finished gives no items.
pub fn host_items(h: &HostInput, server_version: &str, t: &Thresholds, now: i64) -> HostReport {
    let (state, mut items) = match h.run_status.as_deref() {
        Some("successful") => (
            "checked",
            probe::judge(&probe::parse_probe(&h.output), t, now),
        ),
        Some("failed" | "cancelled") => (
            "failed",
            vec![item(
                "probe",
                h.error.clone().unwrap_or_else(|| "failed".into()),
                "runs to its end".into(),
                Verdict::Fail,
            )],
        ),
        _ => ("waiting", vec![]),
    };
    if state != "waiting" {
        items.push(match h.patches {
            Some(p) => item(
                "patch compliance",
                format!("{} of {} patches not compliant", p.non_compliant, p.total),
                "all compliant".into(),
                if p.non_compliant == 0 {
                    Verdict::Pass
                } else {
                    Verdict::Warn
                },
            ),
            None => item(
                "patch compliance",
                "never scanned".into(),
                "scanned".into(),
                Verdict::Warn,
            ),
        });
        items.push(item(
            "agent version",
            if h.agent_version.is_empty() {
                "unknown".into()
            } else {
                h.agent_version.clone()
            },
            format!("the server's, {server_version}"),
            if h.agent_version == server_version {
                Verdict::Pass
            } else {
                Verdict::Warn
            },
        ));
    }
    HostReport {
        host_id: h.host_id.clone(),
        host: h.host.clone(),
        state: state.into(),
        verdict: (state != "waiting").then(|| probe::overall(&items)),
        items,
    }
}

/// Items per verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Counts {
    /// Passed.
    pub pass: u32,
    /// Warned.
    pub warn: u32,
    /// Failed.
    pub fail: u32,
}

/// A health check's report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Report {
    /// The check's id (its ticket's).
    pub id: String,
    /// Its ticket's number.
    pub number: String,
    /// Its ticket's status (`executing`, `successful`, `failed`, …).
    pub status: String,
    /// Who started it.
    pub created_by: String,
    /// When it started, Unix ms (UTC).
    pub created_at: i64,
    /// When it ended, Unix ms (UTC); none while running.
    pub finished_at: Option<i64>,
    /// The worst item of all.
    pub verdict: Verdict,
    /// Items per verdict, hosts and COC together.
    pub counts: Counts,
    /// The hosts, in the ticket's order.
    pub hosts: Vec<HostReport>,
    /// COC's own items.
    pub coc: Vec<Item>,
    /// The thresholds judged against.
    pub thresholds: Thresholds,
}

impl Report {
    /// The report of `hosts` and COC's items `coc`, with the check's
    /// ticket fields.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: &str,
        number: &str,
        status: &str,
        created_by: &str,
        created_at: i64,
        finished_at: Option<i64>,
        hosts: Vec<HostReport>,
        coc: Vec<Item>,
        thresholds: Thresholds,
    ) -> Report {
        let mut counts = Counts::default();
        for i in hosts.iter().flat_map(|h| &h.items).chain(&coc) {
            match i.verdict {
                Verdict::Pass => counts.pass += 1,
                Verdict::Warn => counts.warn += 1,
                Verdict::Fail => counts.fail += 1,
            }
        }
        let verdict = hosts
            .iter()
            .filter_map(|h| h.verdict)
            .chain(std::iter::once(probe::overall(&coc)))
            .max()
            .unwrap_or(Verdict::Pass);
        Report {
            id: id.into(),
            number: number.into(),
            status: status.into(),
            created_by: created_by.into(),
            created_at,
            finished_at,
            verdict,
            counts,
            hosts,
            coc,
            thresholds,
        }
    }

    /// Its rows for a CSV export: `scope, item, value, threshold,
    /// verdict`, COC first, then each host's (scope: `COC` or the host's
    /// name; a waiting host is one row).
    pub fn rows(&self) -> Vec<[String; 5]> {
        let row = |scope: &str, i: &Item| {
            [
                scope.to_string(),
                i.item.clone(),
                i.value.clone(),
                i.threshold.clone(),
                verdict_name(i.verdict).to_string(),
            ]
        };
        let mut out: Vec<[String; 5]> = self.coc.iter().map(|i| row("COC", i)).collect();
        for h in &self.hosts {
            if h.items.is_empty() {
                out.push([
                    h.host.clone(),
                    "probe".into(),
                    h.state.clone(),
                    String::new(),
                    String::new(),
                ]);
            }
            out.extend(h.items.iter().map(|i| row(&h.host, i)));
        }
        out
    }
}

/// A verdict's name (`pass`, `warn`, `fail`).
pub fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Warn => "warn",
        Verdict::Fail => "fail",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEBIAN12: &str = include_str!("../../fixtures/health-probe-debian12.txt");

    fn host(status: Option<&str>, output: &str) -> HostInput {
        HostInput {
            host_id: "h1".into(),
            host: "web-1".into(),
            run_status: status.map(Into::into),
            output: output.into(),
            error: Some("the host's agent is offline".into()),
            agent_version: "0.9.0".into(),
            patches: Some(PatchSummary {
                non_compliant: 0,
                total: 12,
            }),
        }
    }

    #[test]
    fn a_host_is_judged_with_its_patches_and_agent() {
        let now = 1_796_000_000_000;
        let t = Thresholds::default();
        let r = host_items(&host(Some("successful"), DEBIAN12), "0.9.0", &t, now);
        assert_eq!(r.state, "checked");
        let v = |name: &str| r.items.iter().find(|i| i.item == name).unwrap().verdict;
        assert_eq!(v("patch compliance"), Verdict::Pass);
        assert_eq!(v("agent version"), Verdict::Pass);
        let old = host_items(&host(Some("successful"), DEBIAN12), "1.0.0", &t, now);
        let agent = old
            .items
            .iter()
            .find(|i| i.item == "agent version")
            .unwrap();
        assert_eq!(agent.verdict, Verdict::Warn);
        assert!(agent.threshold.contains("1.0.0"));
        let failed = host_items(&host(Some("failed"), ""), "0.9.0", &t, now);
        assert_eq!(failed.verdict, Some(Verdict::Fail));
        assert_eq!(failed.items[0].value, "the host's agent is offline");
        let waiting = host_items(&host(Some("executing"), ""), "0.9.0", &t, now);
        assert_eq!((waiting.state.as_str(), waiting.verdict), ("waiting", None));
        assert!(waiting.items.is_empty());
        let unscanned = HostInput {
            patches: None,
            ..host(Some("successful"), DEBIAN12)
        };
        let r = host_items(&unscanned, "0.9.0", &t, now);
        let p = r
            .items
            .iter()
            .find(|i| i.item == "patch compliance")
            .unwrap();
        assert_eq!(
            (p.value.as_str(), p.verdict),
            ("never scanned", Verdict::Warn)
        );
    }

    #[test]
    fn coc_is_judged_and_the_report_counts_every_item() {
        let t = Thresholds::default();
        let f = CocFacts {
            database_bytes: 3 << 30,
            database_latency_ms: 700.0,
            queues: vec![("deliveries".into(), 1500), ("agent_tasks".into(), 2)],
            offline_agents: (0..12).map(|i| format!("h{i:02}")).collect(),
            failed_deliveries_24h: 0,
        };
        let items = judge_coc(&f, &t);
        let get = |name: &str| items.iter().find(|i| i.item == name).unwrap();
        assert_eq!(get("database size").value, "3.00 GiB");
        assert_eq!(get("database size").verdict, Verdict::Pass);
        assert_eq!(get("database latency").verdict, Verdict::Fail);
        assert_eq!(get("queue deliveries").verdict, Verdict::Warn);
        assert_eq!(get("queue agent_tasks").verdict, Verdict::Pass);
        let off = get("offline agents");
        assert_eq!(off.verdict, Verdict::Warn);
        assert!(
            off.value.starts_with("12: h00, h01") && off.value.ends_with("and 2 more"),
            "{}",
            off.value
        );
        let hosts = vec![
            host_items(
                &host(Some("successful"), DEBIAN12),
                "0.9.0",
                &t,
                1_796_000_000_000,
            ),
            host_items(&host(None, ""), "0.9.0", &t, 1_796_000_000_000),
        ];
        let r = Report::new("t1", "JOB1", "executing", "admin", 1, None, hosts, items, t);
        assert_eq!(r.verdict, Verdict::Fail);
        let total = r.counts.pass + r.counts.warn + r.counts.fail;
        assert_eq!(total as usize, r.coc.len() + r.hosts[0].items.len());
        let rows = r.rows();
        assert_eq!(rows[0][0], "COC");
        assert_eq!(
            rows.last().unwrap()[..3],
            ["web-1".to_string(), "probe".into(), "waiting".into()]
        );
        assert_eq!(rows.len(), total as usize + 1);
    }

    #[test]
    fn a_request_is_trimmed_and_its_thresholds_checked() {
        let spec = HealthCheckSpec {
            hosts: vec![" a ".into(), "a".into(), "b".into()],
            thresholds: None,
            batch_size: None,
            success_rate_threshold: None,
        };
        assert_eq!(spec.normalized().unwrap().hosts, ["a", "b"]);
        let t = Thresholds {
            disk_pct: Limit {
                warn: 95.0,
                fail: 90.0,
            },
            ..Thresholds::default()
        };
        let bad = HealthCheckSpec {
            thresholds: Some(t),
            ..spec.clone()
        };
        assert!(bad.normalized().unwrap_err().to_string().contains("disk"));
        let t = Thresholds {
            cert_days: Limit {
                warn: 7.0,
                fail: 30.0,
            },
            ..Thresholds::default()
        };
        let bad = HealthCheckSpec {
            thresholds: Some(t),
            ..spec.clone()
        };
        assert!(
            bad.normalized()
                .unwrap_err()
                .to_string()
                .contains("certificate")
        );
        let none = HealthCheckSpec {
            hosts: vec![],
            ..spec
        };
        assert!(none.normalized().is_err());
    }
}
