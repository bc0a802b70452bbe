//! Patch work and compliance API (P2, P3; ref. 4.2.2–4.2.4): scanning,
//! repairing and rolling back hosts' patches — each answers the job
//! ticket that does it — and the compliance report: every host's
//! compliance under the baseline it follows, one host's patches with
//! their states, each also as CSV. Hosts are named by id or host name;
//! access follows the host's attributes (A3) as the resource API does.
//! Baselines themselves are documents (`/api/v1/patch-baselines`). A
//! host's report is guarded as the host (`resource:<id>`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use coc_domain::patch::{PatchState, PatchWork, PatchWorkKind};
use coc_store::access::Principal;
use coc_store::jobticket::JobTicketDetail;
use coc_store::patch::host::{FleetCompliance, HostPatches};

use super::catalog::{RouteDoc, route};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiQuery};
use crate::guard::Checked;

/// The routes this module serves, with what the guard checks and what
/// the OpenAPI document says of them.
pub const ROUTES: &[RouteDoc] = &[
    route!(
        "POST",
        "/api/v1/patch-scans",
        "patch",
        "Scan hosts for patches (P2, ref. 4.2.2): each host's agent refreshes its package lists and reports the updates offered and the packages installed; hosts (ids or names), batch_size and success_rate_threshold as for job tickets. Answers the job ticket that runs it",
        PatchScan,
        body = coc_domain::patch::PatchWork,
        created = coc_store::jobticket::JobTicketDetail
    ),
    route!(
        "POST",
        "/api/v1/patch-repairs",
        "patch",
        "Repair hosts' patches (P2, ref. 4.2.3): install what the baseline (name or id; default: the one each host follows) approves from each host's latest scan, recording the versions replaced; reboot: reboot the hosts that need it and wait for them; batch_size and success_rate_threshold as for job tickets. Answers the job ticket",
        PatchRepair,
        body = coc_domain::patch::PatchWork,
        created = coc_store::jobticket::JobTicketDetail
    ),
    route!(
        "POST",
        "/api/v1/patch-rollbacks",
        "patch",
        "Roll back hosts' latest patch repair (P2): install the versions it replaced again and remove the packages it added. Answers the job ticket",
        PatchRollback,
        body = coc_domain::patch::PatchWork,
        created = coc_store::jobticket::JobTicketDetail
    ),
    route!(
        "GET",
        "/api/v1/patch-compliance",
        "patch",
        "The compliance report (P3, ref. 4.2.4): every host with its baseline, latest report and compliance (non-compliant / total patches, by severity); and how many hosts are compliant, non-compliant or unknown (never scanned, or no baseline applies)",
        PatchreportList,
        ok = coc_store::patch::host::FleetCompliance
    ),
    route!(
        "GET",
        "/api/v1/patch-compliance/export",
        "patch",
        "The compliance report as CSV, a header row first, one host per row",
        PatchreportList,
        media = "text/csv"
    ),
    route!(
        "GET",
        "/api/v1/patch-compliance/{id}",
        "resource",
        "A host's patches (host by id or name) with their states under its baseline (installed, installed_other, installed_pending_reboot, installed_rejected, missing, failed); state keeps only one state",
        PatchreportGet,
        query = StateQuery,
        ok = coc_store::patch::host::HostPatches
    ),
    route!(
        "GET",
        "/api/v1/patch-compliance/{id}/export",
        "resource",
        "A host's patches as CSV, a header row first",
        PatchreportGet,
        query = StateQuery,
        media = "text/csv"
    ),
];

/// Query of a host's patches.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StateQuery {
    /// Only patches in this state.
    pub state: Option<PatchState>,
}

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/patch-scans", post(scan))
        .route("/api/v1/patch-repairs", post(repair))
        .route("/api/v1/patch-rollbacks", post(rollback))
        .route("/api/v1/patch-compliance", get(fleet))
        .route("/api/v1/patch-compliance/export", get(fleet_csv))
        .route("/api/v1/patch-compliance/{id}", get(host))
        .route("/api/v1/patch-compliance/{id}/export", get(host_csv))
}

async fn start(
    s: AppState,
    p: Principal,
    c: Checked,
    kind: PatchWorkKind,
    w: PatchWork,
) -> ApiResult<(StatusCode, Json<JobTicketDetail>)> {
    super::resource::require_hosts(&s, &p, &c, &w.hosts).await?;
    let t = s
        .store
        .start_patch_work(&p.tenant, kind, &w, &p.user_name)
        .await?;
    Ok((StatusCode::CREATED, Json(t)))
}

async fn scan(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,
    ApiJson(w): ApiJson<PatchWork>,
) -> ApiResult<(StatusCode, Json<JobTicketDetail>)> {
    start(s, p, c, PatchWorkKind::Scan, w).await
}

async fn repair(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,
    ApiJson(w): ApiJson<PatchWork>,
) -> ApiResult<(StatusCode, Json<JobTicketDetail>)> {
    start(s, p, c, PatchWorkKind::Repair, w).await
}

async fn rollback(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,
    ApiJson(w): ApiJson<PatchWork>,
) -> ApiResult<(StatusCode, Json<JobTicketDetail>)> {
    start(s, p, c, PatchWorkKind::Rollback, w).await
}

/// The report over the hosts the caller may read.
async fn readable_fleet(s: &AppState, p: &Principal, c: &Checked) -> ApiResult<FleetCompliance> {
    let readable = super::resource::readable_host_ids(s, p, c).await?;
    Ok(s.store
        .patch_compliance(&p.tenant)
        .await?
        .retain(|id| readable.contains(id)))
}

async fn fleet(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,
) -> ApiResult<Json<FleetCompliance>> {
    Ok(Json(readable_fleet(&s, &p, &c).await?))
}

async fn readable_patches(
    s: &AppState,
    p: &Principal,
    c: &Checked,
    id: &str,
    state: Option<PatchState>,
) -> ApiResult<HostPatches> {
    let host_id = s.store.host_ref(&p.tenant, id).await?;
    super::resource::readable_host(s, p, c, &host_id).await?;
    Ok(s.store.host_patches(&p.tenant, &host_id, state).await?)
}

async fn host(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<StateQuery>,
) -> ApiResult<Json<HostPatches>> {
    Ok(Json(readable_patches(&s, &p, &c, &id, q.state).await?))
}

/// RFC 3339 (UTC, seconds) of a Unix ms instant; empty for none.
fn when(ms: Option<i64>) -> String {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

async fn fleet_csv(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,
) -> ApiResult<axum::response::Response> {
    let f = readable_fleet(&s, &p, &c).await?;
    super::csv_download(
        "patch-compliance.csv",
        &[
            "host_id",
            "host",
            "os",
            "baseline",
            "compliance_level",
            "status",
            "non_compliant",
            "total",
            "critical",
            "important",
            "moderate",
            "low",
            "none",
            "reboot_required",
            "reported_at",
            "ticket_id",
        ],
        f.items.into_iter().map(|h| {
            let c = h.compliance.clone().unwrap_or_default();
            let sev = |k: &str| c.by_severity.get(k).copied().unwrap_or(0).to_string();
            vec![
                h.host_id.clone(),
                h.host.clone(),
                h.os.clone(),
                h.baseline.clone().unwrap_or_default(),
                h.compliance_level
                    .map(|l| l.as_str().to_string())
                    .unwrap_or_default(),
                match &h.compliance {
                    Some(c) if c.compliant => "compliant".into(),
                    Some(_) => "non_compliant".into(),
                    None => "unknown".into(),
                },
                c.non_compliant.to_string(),
                c.total.to_string(),
                sev("critical"),
                sev("important"),
                sev("moderate"),
                sev("low"),
                sev("none"),
                h.reboot_required.to_string(),
                when(h.reported_at),
                h.ticket_id.clone().unwrap_or_default(),
            ]
        }),
    )
}

async fn host_csv(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<StateQuery>,
) -> ApiResult<axum::response::Response> {
    let h = readable_patches(&s, &p, &c, &id, q.state).await?;
    let baseline = h.baseline.clone().unwrap_or_default();
    let level = h
        .compliance_level
        .map(|l| l.as_str().to_string())
        .unwrap_or_default();
    super::csv_download(
        &format!("patches-{}.csv", h.host),
        &[
            "host",
            "name",
            "installed",
            "available",
            "classification",
            "severity",
            "compliance_level",
            "baseline",
            "first_offered_at",
            "state",
        ],
        h.patches.iter().map(|r| {
            vec![
                h.host.clone(),
                r.patch.name.clone(),
                r.patch.installed.clone().unwrap_or_default(),
                r.patch.available.clone().unwrap_or_default(),
                r.patch.classification.as_str().into(),
                r.patch.severity.as_str().into(),
                level.clone(),
                baseline.clone(),
                when(r.patch.first_offered_at),
                r.state.as_str().into(),
            ]
        }),
    )
}
