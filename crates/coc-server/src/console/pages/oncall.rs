//! On-call (O2): who is on call now and the schedules.

use crate::console::*;

#[derive(Template, WebTemplate)]
#[template(path = "oncall.html")]
pub(crate) struct OnCall {
    pub(crate) user: String,
    pub(crate) csrf: String,
    pub(crate) flash: Option<String>,
    /// The name of every scenario.
    pub(crate) scenarios: Vec<String>,
    pub(crate) roles: Vec<String>,
    pub(crate) scenario: String,
    pub(crate) role: String,
    pub(crate) at: String,
    pub(crate) application: String,
    pub(crate) region: String,
    /// (instant, people) once asked.
    pub(crate) answer: Option<(String, Vec<String>)>,
    pub(crate) error: Option<String>,
}

/// Query of the on-call page; every field as typed.
#[derive(Deserialize, Default)]
pub(crate) struct WhoQuery {
    #[serde(default)]
    pub(crate) scenario: String,
    #[serde(default)]
    pub(crate) role: String,
    /// `YYYY-MM-DDTHH:MM` in UTC; empty: now.
    #[serde(default)]
    pub(crate) at: String,
    #[serde(default)]
    pub(crate) application: String,
    #[serde(default)]
    pub(crate) region: String,
}

/// `GET /console/oncall`: who is on call for a scenario's role at an
/// instant (ref. 11.2), asked of `GET /api/v1/oncall/who`. A GET form,
/// so an answer has an address to share.
pub(crate) async fn oncall(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(q): Query<WhoQuery>,
) -> Response {
    let (v, list) = match page_data(
        &s,
        &headers,
        ip,
        "/console/oncall",
        "/api/v1/oncall/scenarios",
    )
    .await
    {
        Ok(x) => x,
        Err(r) => return r,
    };
    let all = items(&list);
    let mut roles: Vec<String> = all
        .iter()
        .flat_map(|x| x["roles"].as_array().cloned().unwrap_or_default())
        .map(|r| text(&r))
        .collect();
    roles.sort();
    roles.dedup();
    let (mut answer, mut error) = (None, None);
    if !q.scenario.is_empty() && !q.role.is_empty() {
        let mut uri = format!(
            "/api/v1/oncall/who?scenario={}&role={}",
            urlencode(&q.scenario),
            urlencode(&q.role)
        );
        for (k, x) in [("application", &q.application), ("region", &q.region)] {
            if !x.is_empty() {
                uri.push_str(&format!("&{k}={}", urlencode(x)));
            }
        }
        let at = match q.at.trim() {
            "" => Ok(None),
            t => chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M")
                .or_else(|_| chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S"))
                .map(|t| Some(t.and_utc().to_rfc3339()))
                .map_err(|_| "write the time as YYYY-MM-DDTHH:MM (UTC)".to_string()),
        };
        match at {
            Ok(at) => {
                if let Some(at) = at {
                    uri.push_str(&format!("&at={}", urlencode(&at)));
                }
                match api(&s, &v, Method::GET, &uri, None).await {
                    Ok(x) => {
                        let people = x["on_call"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(text)
                            .collect();
                        answer = Some((text(&x["at"]), people));
                    }
                    Err(p) => error = Some(p.detail),
                }
            }
            Err(e) => error = Some(e),
        }
    }
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = OnCall {
        user: v.user.clone(),
        csrf: v.csrf.clone(),
        flash: None,
        scenarios: all.iter().map(|x| text(&x["name"])).collect(),
        roles,
        scenario: q.scenario,
        role: q.role,
        at: q.at,
        application: q.application,
        region: q.region,
        answer,
        error,
    };
    (status, page).into_response()
}
