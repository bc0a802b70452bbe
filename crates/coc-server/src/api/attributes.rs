//! The ABAC attributes of records (A3, ref. 1.2): what the handlers, the
//! lists and the policy simulator check a request against —
//! `coc:Region`, `coc:Application`, `coc:EnterpriseProject`,
//! `coc:ResourceTag/<key>` — in one place.

use coc_store::alarm::Alarm;
use coc_store::incident::Incident;
use coc_store::resource::Host;

use crate::AppState;
use crate::error::ApiResult;

/// The ABAC attributes of an alarm.
pub fn alarm(a: &Alarm) -> [(&'static str, Option<&str>); 2] {
    [
        ("coc:Region", a.region.as_deref()),
        ("coc:Application", a.application.as_deref()),
    ]
}

/// The ABAC attributes of an incident.
pub fn incident(i: &Incident) -> [(&'static str, Option<&str>); 3] {
    [
        ("coc:Region", i.region.as_deref()),
        ("coc:Application", i.application.as_deref()),
        ("coc:EnterpriseProject", i.enterprise_project.as_deref()),
    ]
}

/// The ABAC attributes of a host: enterprise project and tags.
pub fn host(h: &Host) -> Vec<(String, Option<String>)> {
    tagged(h.enterprise_project.as_deref(), &h.tags)
}

/// The ABAC attributes of any resource in the inventory: its enterprise
/// project and its tags (`coc:ResourceTag/<key>`).
pub fn tagged(
    project: Option<&str>,
    tags: &std::collections::BTreeMap<String, String>,
) -> Vec<(String, Option<String>)> {
    let mut v = vec![(
        "coc:EnterpriseProject".to_string(),
        project.map(str::to_string),
    )];
    v.extend(
        tags.iter()
            .map(|(k, t)| (format!("coc:ResourceTag/{k}"), Some(t.clone()))),
    );
    v
}

/// Borrowed pairs of owned attributes, as [`crate::guard::Checked`] takes them.
pub fn as_refs(v: &[(String, Option<String>)]) -> Vec<(&str, Option<&str>)> {
    v.iter().map(|(k, x)| (k.as_str(), x.as_deref())).collect()
}

/// The record a simulated request names and its ABAC attributes, loaded
/// as the handlers check them: `incident:<id>`, `alarm:<id>`,
/// `resource:<id>` (also `host:<id or host name>`). Other resources have
/// no record attributes.
///
/// Errors: `not_found` when the named record does not exist.
pub async fn of_record(
    s: &AppState,
    tenant: &str,
    resource: &str,
) -> ApiResult<(String, Vec<(String, Option<String>)>)> {
    let own = |v: &[(&str, Option<&str>)]| {
        v.iter()
            .map(|(k, x)| (k.to_string(), x.map(str::to_string)))
            .collect::<Vec<_>>()
    };
    Ok(match resource.split_once(':') {
        Some(("incident", id)) if id != "*" => {
            let d = s.store.get_incident(tenant, id).await?;
            (resource.into(), own(&incident(&d.incident)))
        }
        Some(("alarm", id)) if id != "*" => {
            let a = s.store.get_alarm(tenant, id).await?;
            (resource.into(), own(&alarm(&a)))
        }
        Some(("resource" | "host", id)) if id != "*" => {
            let ms = s.heartbeat_ms as i64;
            let h = match s.store.get_host(tenant, id, ms).await {
                Ok(h) => h,
                Err(e) => s
                    .store
                    .list_hosts(tenant, ms)
                    .await?
                    .into_iter()
                    .find(|h| h.facts.hostname == id)
                    .ok_or(e)?,
            };
            (format!("resource:{}", h.id), host(&h))
        }
        Some(("host", "*")) => ("resource:*".into(), vec![]),
        _ => (resource.into(), vec![]),
    })
}
