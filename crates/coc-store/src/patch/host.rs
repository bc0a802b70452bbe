//! The hosts' patches (P2, P3; ref. 4.2.2–4.2.4): what the latest scan,
//! repair or rollback of each host reported, stored per host and package
//! in the same transaction that ends the run; how a patch task starts on
//! a host (what a repair installs, what a rollback puts back); compliance
//! per host and across the tenant. The rules are
//! [`coc_domain::patch::host`]'s; states are worked out when read, so a
//! changed baseline or an approval delay running out shows at once.

use std::collections::{BTreeMap, BTreeSet};

use coc_domain::job::Atom;
use coc_domain::patch::host::{self as ph, HostPatch};
use coc_domain::patch::{
    BaselineSpec, Classification, ComplianceLevel, HostCompliance, PatchState, PatchWork,
    PatchWorkKind, Severity, repair_plan,
};
use coc_proto::{PackageSeen, PatchAction, PatchReport};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::jobticket::JobTicketDetail;
use crate::{Result, Store, StoreError};

/// Rows per `INSERT` when a host's patches are replaced.
const INSERT_CHUNK: usize = 200;

/// What a patch run keeps in its `detail`: the agent's action (sent
/// again after a reconnect) and the baseline a repair followed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PatchDetail {
    /// What the agent does.
    pub action: PatchAction,
    /// Timeout, seconds.
    pub timeout_s: u64,
    /// A repair's baseline, by name.
    #[serde(default)]
    pub baseline: Option<String>,
}

/// How a patch task starts on a host.
pub(crate) enum Start {
    /// The agent does this.
    Send(PatchDetail),
    /// Nothing to do: the task succeeds with this output.
    Done(String),
    /// It cannot start: the task fails with this error.
    Fail(String),
}

/// A version the latest repair replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Replaced {
    /// Package name.
    pub name: String,
    /// Its version before the repair; `None`: the repair installed it.
    pub version: Option<String>,
}

/// What a host's latest patch report said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PatchReportInfo {
    /// Package manager (`apt`).
    pub manager: String,
    /// OS (`/etc/os-release` `ID`).
    pub os_id: String,
    /// OS version (`VERSION_ID`).
    pub os_version: String,
    /// What reported: a scan, a repair or a rollback.
    pub kind: PatchWorkKind,
    /// The run that reported.
    pub run_id: String,
    /// Its job ticket (gone once the ticket is purged).
    pub ticket_id: Option<String>,
    /// Whether that run succeeded.
    pub succeeded: bool,
    /// When, Unix ms.
    pub reported_at: i64,
    /// The host waits for a reboot.
    pub reboot_required: bool,
    /// The versions the latest repair replaced (what a rollback puts
    /// back); empty after a rollback.
    pub replaced: Vec<Replaced>,
    /// When that repair reported, Unix ms.
    pub replaced_at: Option<i64>,
}

/// A package of a host with its compliance state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PatchRow {
    /// The package.
    #[serde(flatten)]
    pub patch: HostPatch,
    /// Its state under the host's baseline.
    pub state: PatchState,
}

/// A host's patches (`GET /api/v1/patch-compliance/hosts/{host}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HostPatches {
    /// Host id.
    pub host_id: String,
    /// Host name.
    pub host: String,
    /// The baseline it follows, by name; `None`: none applies.
    pub baseline: Option<String>,
    /// That baseline's compliance level.
    pub compliance_level: Option<ComplianceLevel>,
    /// Its latest report; `None`: never scanned.
    pub report: Option<PatchReportInfo>,
    /// Its compliance; `None`: never scanned or no baseline.
    pub compliance: Option<HostCompliance>,
    /// Its reported packages (installed or approved): failed, missing,
    /// pending reboot, rejected, installed, others; by name within each.
    pub patches: Vec<PatchRow>,
}

/// A host in the compliance view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HostComplianceRow {
    /// Host id.
    pub host_id: String,
    /// Host name.
    pub host: String,
    /// Its OS as last reported (`debian 12`); empty: never scanned.
    pub os: String,
    /// The baseline it follows; `None`: none applies.
    pub baseline: Option<String>,
    /// That baseline's compliance level.
    pub compliance_level: Option<ComplianceLevel>,
    /// Its latest report, Unix ms; `None`: never scanned.
    pub reported_at: Option<i64>,
    /// The job ticket of that report.
    pub ticket_id: Option<String>,
    /// The host waits for a reboot.
    pub reboot_required: bool,
    /// Its compliance; `None`: never scanned or no baseline.
    pub compliance: Option<HostCompliance>,
}

/// The tenant's compliance (`GET /api/v1/patch-compliance`, ref. 4.2.4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FleetCompliance {
    /// Hosts with no missing or failed patch.
    pub compliant: u32,
    /// Hosts with one or more.
    pub non_compliant: u32,
    /// Hosts never scanned, or that no baseline applies to.
    pub unknown: u32,
    /// Missing or failed patches over all hosts, by severity.
    pub by_severity: BTreeMap<String, u32>,
    /// Every host, by name.
    pub items: Vec<HostComplianceRow>,
}

impl FleetCompliance {
    /// The view of `hosts`, with the sums over them.
    pub fn of(hosts: Vec<HostComplianceRow>) -> FleetCompliance {
        let mut out = FleetCompliance {
            compliant: 0,
            non_compliant: 0,
            unknown: 0,
            by_severity: BTreeMap::new(),
            items: vec![],
        };
        for h in &hosts {
            match &h.compliance {
                Some(c) if c.compliant => out.compliant += 1,
                Some(c) => {
                    out.non_compliant += 1;
                    for (s, n) in &c.by_severity {
                        *out.by_severity.entry(s.clone()).or_default() += n;
                    }
                }
                None => out.unknown += 1,
            }
        }
        out.items = hosts;
        out
    }

    /// Only the hosts `keep` accepts (by id), with the sums over them.
    pub fn retain(self, keep: impl Fn(&str) -> bool) -> FleetCompliance {
        FleetCompliance::of(
            self.items
                .into_iter()
                .filter(|h| keep(&h.host_id))
                .collect(),
        )
    }
}

fn kind_of(atom_kind: &str) -> PatchWorkKind {
    match atom_kind {
        "patch_repair" => PatchWorkKind::Repair,
        "patch_rollback" => PatchWorkKind::Rollback,
        _ => PatchWorkKind::Scan,
    }
}

fn enum_of<T: Copy>(all: &[T], name: impl Fn(T) -> &'static str, s: &str, default: T) -> T {
    all.iter()
        .copied()
        .find(|x| name(*x) == s)
        .unwrap_or(default)
}

fn patch_row(r: &AnyRow) -> Result<HostPatch> {
    Ok(HostPatch {
        name: r.try_get("name")?,
        installed: r.try_get("installed")?,
        available: r.try_get("available")?,
        classification: enum_of(
            Classification::ALL,
            Classification::as_str,
            &r.try_get::<String, _>("classification")?,
            Classification::Bugfix,
        ),
        severity: enum_of(
            Severity::ALL,
            Severity::as_str,
            &r.try_get::<String, _>("severity")?,
            Severity::None,
        ),
        first_offered_at: r.try_get("first_offered_at")?,
        failed: r.try_get::<i64, _>("failed")? != 0,
        pending_reboot: r.try_get::<i64, _>("pending_reboot")? != 0,
    })
}

const PATCH_COLS: &str = "host_id, name, installed, available, classification, severity, first_offered_at, failed, pending_reboot";

/// A host's stored rows, by name.
async fn load_rows(conn: &mut sqlx::AnyConnection, host_id: &str) -> Result<Vec<HostPatch>> {
    let rows = sqlx::query(dynsql!(
        "SELECT {PATCH_COLS} FROM host_patches WHERE host_id = $1 ORDER BY name"
    ))
    .bind(host_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(patch_row).collect()
}

fn report_row(r: &AnyRow) -> Result<PatchReportInfo> {
    let replaced: String = r.try_get("replaced")?;
    Ok(PatchReportInfo {
        manager: r.try_get("manager")?,
        os_id: r.try_get("os_id")?,
        os_version: r.try_get("os_version")?,
        kind: enum_of(
            PatchWorkKind::ALL,
            PatchWorkKind::as_str,
            &r.try_get::<String, _>("kind")?,
            PatchWorkKind::Scan,
        ),
        run_id: r.try_get("run_id")?,
        ticket_id: r.try_get("ticket_id")?,
        succeeded: r.try_get::<i64, _>("succeeded")? != 0,
        reported_at: r.try_get("reported_at")?,
        reboot_required: r.try_get::<i64, _>("reboot_required")? != 0,
        replaced: serde_json::from_str(&replaced).unwrap_or_default(),
        replaced_at: r.try_get("replaced_at")?,
    })
}

const REPORT_COLS: &str = "host_id, manager, os_id, os_version, kind, run_id, succeeded, reported_at, \
    reboot_required, replaced, replaced_at, \
    (SELECT ticket_id FROM job_runs WHERE job_runs.id = patch_hosts.run_id) AS ticket_id";

/// A host's latest report, if it has one.
async fn load_report(
    conn: &mut sqlx::AnyConnection,
    host_id: &str,
) -> Result<Option<PatchReportInfo>> {
    let r = sqlx::query(dynsql!(
        "SELECT {REPORT_COLS} FROM patch_hosts WHERE host_id = $1"
    ))
    .bind(host_id)
    .fetch_optional(&mut *conn)
    .await?;
    r.as_ref().map(report_row).transpose()
}

/// Whether a host's latest patch report found a reboot pending (a
/// reboot task `if_required` reboots only then).
pub(crate) async fn reboot_required_in(
    conn: &mut sqlx::AnyConnection,
    host_id: &str,
) -> Result<bool> {
    Ok(load_report(conn, host_id)
        .await?
        .is_some_and(|r| r.reboot_required))
}

/// A tenant's enabled baselines as stored (applications as ids).
async fn enabled_baselines(
    conn: &mut sqlx::AnyConnection,
    tenant: &str,
) -> Result<Vec<BaselineSpec>> {
    let rows = sqlx::query(
        "SELECT spec FROM patch_baselines WHERE tenant_id = $1 AND enabled >= 1 ORDER BY name",
    )
    .bind(tenant)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .iter()
        .filter_map(|r| r.try_get::<String, _>("spec").ok())
        .filter_map(|s| serde_json::from_str(&s).ok())
        .collect())
}

/// A host's name, application id and tags.
async fn host_info(
    conn: &mut sqlx::AnyConnection,
    tenant: &str,
    host_id: &str,
) -> Result<(String, Option<String>, BTreeMap<String, String>)> {
    let r = sqlx::query(
        "SELECT hostname, application_id, tags FROM hosts WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant)
    .bind(host_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| StoreError::not_found("host", host_id))?;
    Ok((
        r.try_get("hostname")?,
        r.try_get("application_id")?,
        serde_json::from_str(&r.try_get::<String, _>("tags")?).unwrap_or_default(),
    ))
}

/// The baseline of a host: the one named (`wanted`, name or id; enabled
/// or not), else the one it follows by its last reported OS.
async fn baseline_of(
    conn: &mut sqlx::AnyConnection,
    tenant: &str,
    host_id: &str,
    report: &PatchReportInfo,
    wanted: &str,
) -> Result<std::result::Result<BaselineSpec, String>> {
    if !wanted.trim().is_empty() {
        let spec: Option<String> = sqlx::query_scalar(
            "SELECT spec FROM patch_baselines WHERE tenant_id = $1 AND (id = $2 OR name = $2)",
        )
        .bind(tenant)
        .bind(wanted.trim())
        .fetch_optional(&mut *conn)
        .await?;
        return Ok(spec
            .and_then(|s| serde_json::from_str(&s).ok())
            .ok_or_else(|| format!("there is no patch baseline '{}'", wanted.trim())));
    }
    let all = enabled_baselines(conn, tenant).await?;
    let (_, app, tags) = host_info(conn, tenant, host_id).await?;
    Ok(ph::baseline_for(
        &all,
        &report.os_id,
        &report.os_version,
        app.as_deref(),
        &tags,
    )
    .cloned()
    .ok_or_else(|| {
        format!(
            "no enabled patch baseline applies to this host ({} {})",
            report.os_id, report.os_version
        )
    }))
}

/// How patch atom `atom` starts on host `host_id` at `now`: a scan always
/// goes to the agent; a repair installs what its baseline (`baseline`,
/// substituted; empty: the host's) approves from the latest scan; a
/// rollback puts back what the latest repair replaced.
pub(crate) async fn start_in(
    conn: &mut sqlx::AnyConnection,
    tenant: &str,
    host_id: &str,
    atom: &Atom,
    baseline: &str,
    now: i64,
) -> Result<Start> {
    let timeout_s = u64::from(atom.patch_timeout_s().unwrap_or_default());
    let send = |action, baseline| {
        Start::Send(PatchDetail {
            action,
            timeout_s,
            baseline,
        })
    };
    if let Atom::PatchScan { skip_refresh, .. } = atom {
        return Ok(send(
            PatchAction::Scan {
                refresh: !skip_refresh,
            },
            None,
        ));
    }
    let Some(report) = load_report(conn, host_id).await? else {
        return Ok(Start::Fail(
            "the host has not been scanned for patches yet: scan it first".into(),
        ));
    };
    let rows = load_rows(conn, host_id).await?;
    match atom {
        Atom::PatchRepair { .. } => {
            let b = match baseline_of(conn, tenant, host_id, &report, baseline).await? {
                Ok(b) => b,
                Err(why) => return Ok(Start::Fail(why)),
            };
            let patches: Vec<_> = rows.iter().map(HostPatch::patch).collect();
            let plan = repair_plan(&b, &patches, now);
            if plan.is_empty() {
                return Ok(Start::Done(format!(
                    "nothing to install: baseline {} approves none of the patches offered\n",
                    b.name
                )));
            }
            let packages = plan
                .into_iter()
                .map(|(name, v)| PackageSeen {
                    name,
                    version: Some(v),
                })
                .collect();
            Ok(send(PatchAction::Install { packages }, Some(b.name)))
        }
        _ => {
            let installed: BTreeMap<String, String> = rows
                .iter()
                .filter_map(|r| r.installed.clone().map(|v| (r.name.clone(), v)))
                .collect();
            let replaced: Vec<(String, Option<String>)> = report
                .replaced
                .iter()
                .map(|r| (r.name.clone(), r.version.clone()))
                .collect();
            let plan = ph::rollback_plan(&replaced, &installed);
            if plan.is_empty() {
                return Ok(Start::Done(
                    "nothing to roll back: no repair replaced a version that is still installed\n"
                        .into(),
                ));
            }
            let packages = plan
                .into_iter()
                .map(|(name, version)| PackageSeen { name, version })
                .collect();
            Ok(send(PatchAction::Install { packages }, None))
        }
    }
}

/// The output a repair or rollback run starts with: what it installs
/// (or removes) and by which baseline.
pub(crate) fn plan_text(packages: &[PackageSeen], baseline: Option<&str>) -> String {
    let mut out = match baseline {
        Some(b) => format!("baseline {b} approves {} package(s):\n", packages.len()),
        None => format!("putting back {} package(s):\n", packages.len()),
    };
    for p in packages.iter().take(200) {
        match &p.version {
            Some(v) => out.push_str(&format!("  {} {v}\n", p.name)),
            None => out.push_str(&format!("  {} (remove)\n", p.name)),
        }
    }
    if packages.len() > 200 {
        out.push_str(&format!("  … and {} more\n", packages.len() - 200));
    }
    out
}

/// Stores the report of patch run `run_id` (kind `atom_kind`, `detail`
/// its [`PatchDetail`]) of `host_id` at `now`, replacing the host's rows.
/// Returns why the run fails although the agent succeeded, if it does: a
/// package manager COC does not read, or packages of a repair that did
/// not reach their version.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn record_in(
    conn: &mut sqlx::AnyConnection,
    tenant: &str,
    host_id: &str,
    run_id: &str,
    atom_kind: &str,
    detail: Option<&str>,
    succeeded: bool,
    report: &PatchReport,
    now: i64,
) -> Result<Option<String>> {
    let detail: Option<PatchDetail> = detail.and_then(|d| serde_json::from_str(d).ok());
    let kind = kind_of(atom_kind);
    let planned: Vec<(String, String)> = match (&detail, kind) {
        (
            Some(PatchDetail {
                action: PatchAction::Install { packages },
                ..
            }),
            PatchWorkKind::Repair,
        ) => packages
            .iter()
            .filter_map(|p| p.version.clone().map(|v| (p.name.clone(), v)))
            .collect(),
        _ => vec![],
    };
    let found = match ph::found(report, &planned) {
        Ok(f) => f,
        Err(e) => return Ok(Some(e.to_string())),
    };
    let missed: BTreeSet<String> = found.failed.clone();
    let before = load_report(conn, host_id).await?;
    let previous = load_rows(conn, host_id).await?;
    let rows = ph::merge(&previous, found, now);
    sqlx::query("DELETE FROM host_patches WHERE host_id = $1")
        .bind(host_id)
        .execute(&mut *conn)
        .await?;
    for chunk in rows.chunks(INSERT_CHUNK) {
        let mut sql = String::from(
            "INSERT INTO host_patches (tenant_id, host_id, name, installed, available, classification, \
             severity, first_offered_at, failed, pending_reboot) VALUES ",
        );
        for i in 0..chunk.len() {
            let b = i * 8 + 3;
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "($1,$2,${},${},${},${},${},${},${},${})",
                b,
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6,
                b + 7
            ));
        }
        // Only placeholders are formatted in; every value is bound.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant)
            .bind(host_id);
        for r in chunk {
            q = q
                .bind(&r.name)
                .bind(&r.installed)
                .bind(&r.available)
                .bind(r.classification.as_str())
                .bind(r.severity.as_str())
                .bind(r.first_offered_at)
                .bind(i64::from(r.failed))
                .bind(i64::from(r.pending_reboot));
        }
        q.execute(&mut *conn).await?;
    }
    // What a rollback puts back: a repair's replaced versions, kept until
    // a rollback succeeds.
    let (replaced, replaced_at) = match kind {
        PatchWorkKind::Repair => (
            report
                .replaced
                .iter()
                .map(|p| Replaced {
                    name: p.name.clone(),
                    version: p.version.clone(),
                })
                .collect(),
            Some(now),
        ),
        PatchWorkKind::Rollback if succeeded => (vec![], None),
        _ => before
            .map(|b| (b.replaced, b.replaced_at))
            .unwrap_or_default(),
    };
    sqlx::query("DELETE FROM patch_hosts WHERE host_id = $1")
        .bind(host_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO patch_hosts (host_id, tenant_id, manager, os_id, os_version, kind, run_id, succeeded, \
         reported_at, reboot_required, replaced, replaced_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)",
    )
    .bind(host_id)
    .bind(tenant)
    .bind(&report.manager)
    .bind(&report.os_id)
    .bind(&report.os_version)
    .bind(kind.as_str())
    .bind(run_id)
    .bind(i64::from(succeeded))
    .bind(now)
    .bind(i64::from(report.reboot_required))
    .bind(serde_json::to_string(&replaced).unwrap_or_else(|_| "[]".into()))
    .bind(replaced_at)
    .execute(&mut *conn)
    .await?;
    Ok((succeeded && !missed.is_empty()).then(|| {
        let names: Vec<&str> = missed.iter().map(String::as_str).take(10).collect();
        format!(
            "{} package(s) did not reach the planned version: {}",
            missed.len(),
            names.join(", ")
        )
    }))
}

impl Store {
    /// A host's (id or name) patches with their states under its
    /// baseline; `state` keeps only those in it.
    ///
    /// Errors: `NotFound` (no such host).
    pub async fn host_patches(
        &self,
        tenant: &str,
        host: &str,
        state: Option<PatchState>,
    ) -> Result<HostPatches> {
        let host_id = self.host_ref(tenant, host).await?;
        let mut c = self.reader().acquire().await?;
        let (name, _, _) = host_info(&mut c, tenant, &host_id).await?;
        let report = load_report(&mut c, &host_id).await?;
        let mut out = HostPatches {
            host_id: host_id.clone(),
            host: name,
            baseline: None,
            compliance_level: None,
            report: report.clone(),
            compliance: None,
            patches: vec![],
        };
        let Some(report) = report else {
            return Ok(out);
        };
        let Ok(b) = baseline_of(&mut c, tenant, &host_id, &report, "").await? else {
            return Ok(out);
        };
        let rows = load_rows(&mut c, &host_id).await?;
        let now = self.now();
        out.compliance = Some(ph::compliance(&b, &rows, now));
        out.patches = ph::states(&b, &rows, now)
            .into_iter()
            .filter(|(_, s)| state.is_none_or(|w| w == *s))
            .map(|(p, s)| PatchRow {
                patch: p.clone(),
                state: s,
            })
            .collect();
        // What needs doing first: failed, missing, then the rest.
        out.patches.sort_by_key(|r| {
            let rank = match r.state {
                PatchState::Failed => 0,
                PatchState::Missing => 1,
                PatchState::InstalledPendingReboot => 2,
                PatchState::InstalledRejected => 3,
                PatchState::Installed => 4,
                PatchState::InstalledOther => 5,
            };
            (rank, r.patch.name.clone())
        });
        out.baseline = Some(b.name);
        out.compliance_level = Some(b.compliance_level);
        Ok(out)
    }

    /// Every host's compliance under the baseline it follows, and the
    /// sums (ref. 4.2.4).
    ///
    /// Errors: a store error.
    pub async fn patch_compliance(&self, tenant: &str) -> Result<FleetCompliance> {
        let mut c = self.reader().acquire().await?;
        let baselines = enabled_baselines(&mut c, tenant).await?;
        let hosts = sqlx::query(
            "SELECT id, hostname, application_id, tags FROM hosts WHERE tenant_id = $1 ORDER BY hostname, id",
        )
        .bind(tenant)
        .fetch_all(&mut *c)
        .await?;
        let reports: BTreeMap<String, PatchReportInfo> = sqlx::query(dynsql!(
            "SELECT {REPORT_COLS} FROM patch_hosts WHERE tenant_id = $1"
        ))
        .bind(tenant)
        .fetch_all(&mut *c)
        .await?
        .iter()
        .map(|r| Ok((r.try_get::<String, _>("host_id")?, report_row(r)?)))
        .collect::<Result<_>>()?;
        // Only the rows with an update offered can be missing or failed;
        // the others are counted (see `compliance_of_offered`).
        let mut rows: BTreeMap<String, Vec<HostPatch>> = BTreeMap::new();
        for r in sqlx::query(dynsql!(
            "SELECT {PATCH_COLS} FROM host_patches WHERE tenant_id = $1 AND available IS NOT NULL"
        ))
        .bind(tenant)
        .fetch_all(&mut *c)
        .await?
        {
            rows.entry(r.try_get("host_id")?)
                .or_default()
                .push(patch_row(&r)?);
        }
        let settled: BTreeMap<String, i64> = sqlx::query(
            "SELECT host_id, COUNT(*) AS n FROM host_patches WHERE tenant_id = $1 AND available IS NULL \
             GROUP BY host_id",
        )
        .bind(tenant)
        .fetch_all(&mut *c)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("host_id")?, r.try_get("n")?)))
        .collect::<Result<_>>()?;
        let now = self.now();
        let mut out = Vec::with_capacity(hosts.len());
        for h in &hosts {
            let id: String = h.try_get("id")?;
            let app: Option<String> = h.try_get("application_id")?;
            let tags: BTreeMap<String, String> =
                serde_json::from_str(&h.try_get::<String, _>("tags")?).unwrap_or_default();
            let report = reports.get(&id);
            let baseline = report.and_then(|r| {
                ph::baseline_for(&baselines, &r.os_id, &r.os_version, app.as_deref(), &tags)
            });
            let compliance = baseline.map(|b| {
                ph::compliance_of_offered(
                    b,
                    rows.get(&id).map(Vec::as_slice).unwrap_or(&[]),
                    settled.get(&id).copied().unwrap_or(0) as u32,
                    now,
                )
            });
            out.push(HostComplianceRow {
                host_id: id.clone(),
                host: h.try_get("hostname")?,
                os: report
                    .map(|r| format!("{} {}", r.os_id, r.os_version).trim().to_string())
                    .unwrap_or_default(),
                baseline: baseline.map(|b| b.name.clone()),
                compliance_level: baseline.map(|b| b.compliance_level),
                reported_at: report.map(|r| r.reported_at),
                ticket_id: report.and_then(|r| r.ticket_id.clone()),
                reboot_required: report.is_some_and(|r| r.reboot_required),
                compliance,
            });
        }
        Ok(FleetCompliance::of(out))
    }

    /// Starts patch work of `kind` on hosts (ids or names): a ticket of
    /// the work's common job, in batches of `batch_size` under the suspension
    /// threshold.
    ///
    /// Errors: `Domain(Validation)` (see [`PatchWork::normalized`]),
    /// `NotFound` (a host, or the baseline named).
    pub async fn start_patch_work(
        &self,
        tenant: &str,
        kind: PatchWorkKind,
        work: &PatchWork,
        actor: &str,
    ) -> Result<JobTicketDetail> {
        let work = work.normalized(kind)?;
        let hosts = self
            .distinct_refs(&work.hosts, |h| self.host_ref(tenant, h))
            .await?;
        let mut params = BTreeMap::new();
        if let Some(b) = &work.baseline {
            let found: Option<String> = sqlx::query_scalar(
                "SELECT name FROM patch_baselines WHERE tenant_id = $1 AND (id = $2 OR name = $2)",
            )
            .bind(tenant)
            .bind(b)
            .fetch_optional(self.reader())
            .await?;
            let name = found.ok_or_else(|| StoreError::not_found("patch baseline", b))?;
            params.insert(coc_domain::patch::BASELINE_PARAM.to_string(), name);
        }
        let description = match (kind, &work.baseline) {
            (PatchWorkKind::Repair, Some(b)) => format!("repair patches by baseline {b}"),
            (PatchWorkKind::Repair, None) => "repair patches by each host's baseline".into(),
            (PatchWorkKind::Scan, _) => "scan for patches".into(),
            (PatchWorkKind::Rollback, _) => "roll back the latest patch repair".into(),
        };
        let run = crate::jobticket::CommonRun {
            job: kind.job(work.reboot),
            description,
            hosts,
            params,
            batch_size: work.batch_size,
            success_rate_threshold: work.success_rate_threshold,
        };
        self.start_common_job(tenant, run, actor).await
    }
}
