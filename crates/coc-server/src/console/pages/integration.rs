//! Integrations (I1): the setup page shown once after one is created —
//! its key with the ingest URLs and ready-to-paste `prometheus.yml` and
//! `alertmanager.yml` snippets, and *Send test alarm*.

use crate::console::*;

#[derive(Template, WebTemplate)]
#[template(path = "integration_setup.html")]
pub(crate) struct SetupPage {
    pub(crate) user: String,
    pub(crate) csrf: String,
    pub(crate) flash: Option<String>,
    pub(crate) id: String,
    pub(crate) name: String,
    /// The integration's type (`alertmanager`, `generic`, `pagerduty`).
    pub(crate) kind: String,
    pub(crate) key: String,
    /// `http://coc-host:8080` as people reach COC.
    pub(crate) base: String,
    /// `coc-host:8080` (Prometheus's target).
    pub(crate) host: String,
    /// `http` or `https`.
    pub(crate) scheme: String,
}

/// The setup page of a just-created integration (`created`: the API's
/// answer with its key). The key is in this page only — never in an
/// address.
pub(crate) fn setup_page(s: &AppState, v: &Visitor, created: &Value) -> Response {
    let base = s.public_url.to_string();
    let (scheme, host) = base
        .split_once("://")
        .map(|(a, b)| (a.to_string(), b.trim_end_matches('/').to_string()))
        .unwrap_or_else(|| ("http".into(), base.clone()));
    SetupPage {
        user: v.user.clone(),
        csrf: v.csrf.clone(),
        flash: Some("The access key is shown once, on this page only: copy it now.".into()),
        id: text(&created["id"]),
        name: text(&created["name"]),
        kind: text(&created["type"]),
        key: text(&created["key"]),
        base,
        host,
        scheme,
    }
    .into_response()
}
