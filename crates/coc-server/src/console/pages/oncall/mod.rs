//! On-call (O2): who is on call now for every scenario and role, the
//! rotations, and "who is on call at …"; the rotation and override forms
//! ([`rotation`]) and the 4-week calendar ([`calendar`]).

use crate::console::*;

pub mod calendar;
pub mod feed;
pub mod participants;
pub mod rotation;

pub(crate) use calendar::calendar;
pub(crate) use feed::create_feed;
pub(crate) use participants::{change_form, save_change};
pub(crate) use rotation::{
    new_override, new_rotation, remove_rotation, save_override, save_rotation,
};

/// The API query naming an application's schedule (`?application=…`),
/// or nothing for the global one.
pub(crate) fn of_application(application: &str) -> String {
    let a = application.trim();
    if a.is_empty() {
        String::new()
    } else {
        format!("?application={}", urlencode(a))
    }
}

/// Who is on call now for one scenario's role.
pub(crate) struct NowRow {
    pub(crate) scenario: String,
    pub(crate) role: String,
    pub(crate) people: Vec<String>,
    /// The role's calendar.
    pub(crate) link: String,
}

/// One rotation as listed.
pub(crate) struct RotationRow {
    pub(crate) scenario: String,
    /// The application whose schedule holds it; empty: the global one.
    pub(crate) application: String,
    pub(crate) name: String,
    pub(crate) role: String,
    pub(crate) participants: String,
    /// "1 week · handoff Mon 09:00 · Europe/Berlin"
    pub(crate) turn: String,
    pub(crate) start: String,
}

/// Who is on call now for every role of every scenario (at most 50
/// pairs), each asked of the API.
pub(crate) async fn on_call_now(s: &AppState, v: &Visitor, scenarios: &[Value]) -> Vec<NowRow> {
    let mut out = Vec::new();
    for sc in scenarios {
        for role in sc["roles"].as_array().into_iter().flatten().map(text) {
            if out.len() >= 50 {
                return out;
            }
            let uri = format!(
                "/api/v1/oncall/who?scenario={}&role={}",
                urlencode(&text(&sc["id"])),
                urlencode(&role)
            );
            let people = api(s, v, Method::GET, &uri, None)
                .await
                .map(|x| {
                    x["on_call"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(text)
                        .collect()
                })
                .unwrap_or_default();
            out.push(NowRow {
                link: format!(
                    "/console/oncall/calendar?scenario={}&role={}",
                    urlencode(&text(&sc["name"])),
                    urlencode(&role)
                ),
                scenario: text(&sc["name"]),
                role,
                people,
            });
        }
    }
    out
}

fn rotation_rows(scenarios: &[Value]) -> Vec<RotationRow> {
    let mut out = Vec::new();
    for sc in scenarios {
        // The global schedule, then each application's (for every region).
        let apps = sc["applications"].as_array().into_iter().flatten();
        let schedules = std::iter::once((String::new(), &sc["schedule"])).chain(
            apps.filter(|a| a["regions"].as_array().is_none_or(|r| r.is_empty()))
                .map(|a| (text(&a["application"]), &a["schedule"])),
        );
        for (application, r) in schedules.flat_map(|(app, schedule)| {
            let rs = schedule["rotations"].as_array().into_iter().flatten();
            rs.map(move |r| (app.clone(), (r, schedule)))
        }) {
            let (r, schedule) = r;
            let n = r["length"].as_i64().unwrap_or(1);
            let unit = match (text(&r["unit"]).as_str(), n) {
                ("weeks", 1) => "week".to_string(),
                ("days", 1) => "day".to_string(),
                (u, _) => u.to_string(),
            };
            let time = text(&r["handoff_time"]);
            let mut turn = format!(
                "{n} {unit} · handoff {}{}",
                r["handoff_day"]
                    .as_str()
                    .map(|d| format!("{d} "))
                    .unwrap_or_default(),
                time.get(..5).unwrap_or(&time)
            );
            if let Some(w) = r["window"].as_object() {
                let t = |k: &str| text(&w[k]).get(..5).unwrap_or_default().to_string();
                turn.push_str(&format!(" · {}–{} only", t("start"), t("end")));
            }
            if r["temporary"].as_bool() == Some(true) {
                turn.push_str(" · temporary");
            }
            turn.push_str(&format!(" · {}", text(&schedule["tz"])));
            out.push(RotationRow {
                scenario: text(&sc["name"]),
                application,
                name: text(&r["name"]),
                role: text(&r["role"]),
                participants: r["participants"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(text)
                    .collect::<Vec<_>>()
                    .join(" → "),
                turn,
                start: match r["until"].as_str() {
                    Some(u) => format!("{} to {u}", text(&r["start"])),
                    None => text(&r["start"]),
                },
            });
        }
    }
    out
}

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
    /// The tenant's applications, offered for `application`.
    pub(crate) applications: Vec<String>,
    pub(crate) region: String,
    /// (instant, people) once asked.
    pub(crate) answer: Option<(String, Vec<String>)>,
    pub(crate) error: Option<String>,
    /// Who is on call now, per scenario and role.
    pub(crate) now: Vec<NowRow>,
    pub(crate) rotations: Vec<RotationRow>,
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
    let status = form_status(&error);
    let now = on_call_now(&s, &v, &all).await;
    let page = OnCall {
        now,
        rotations: rotation_rows(&all),
        user: v.user.clone(),
        csrf: v.csrf.clone(),
        flash: None,
        scenarios: all.iter().map(|x| text(&x["name"])).collect(),
        roles,
        scenario: q.scenario,
        role: q.role,
        at: q.at,
        application: q.application,
        applications: rotation::application_names(&s, &v).await,
        region: q.region,
        answer,
        error,
    };
    (status, page).into_response()
}
