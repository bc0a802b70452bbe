//! Health checks (M7) in the console: a check's report — its verdict,
//! each host's items and COC's own — with its exports (HTML, JSON, CSV)
//! and its job ticket; the page reloads itself while hosts are waiting.

use crate::console::*;

#[derive(Template, WebTemplate)]
#[template(path = "health.html")]
pub(crate) struct HealthPage {
    pub(crate) user: String,
    pub(crate) csrf: String,
    pub(crate) flash: Option<String>,
    pub(crate) r: coc_domain::health::Report,
    pub(crate) created: String,
    pub(crate) finished: String,
    /// Hosts still waiting: the page reloads.
    pub(crate) waiting: bool,
}

/// `GET /console/health-checks/{id}`: the report.
pub(crate) async fn health_check(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let here = format!("/console/health-checks/{id}");
    let (v, d) = match page_data(
        &s,
        &headers,
        ip,
        &here,
        &format!("/api/v1/health-checks/{}", urlencode(&id)),
    )
    .await
    {
        Ok(x) => x,
        Err(r) => return r,
    };
    let r: coc_domain::health::Report = match serde_json::from_value(d) {
        Ok(r) => r,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    let file = crate::api::health::ReportFile::of(&r);
    let (created, finished) = (file.created, file.finished);
    HealthPage {
        user: v.user.clone(),
        csrf: v.csrf.clone(),
        flash: None,
        waiting: r.hosts.iter().any(|h| h.verdict.is_none()),
        r,
        created,
        finished,
    }
    .into_response()
}
