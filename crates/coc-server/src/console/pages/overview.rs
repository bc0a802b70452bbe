//! The overview: incidents waiting for me, active alarms, hosts by region, recent tickets, security events; and the list rows other pages share.

use crate::console::*;

pub(crate) struct IncidentRow {
    pub(crate) id: String,
    pub(crate) description: String,
    pub(crate) number: String,
    pub(crate) level: String,
    pub(crate) title: String,
    pub(crate) status: String,
    pub(crate) assignee: String,
    pub(crate) created: String,
}

pub(crate) fn incident_row(i: &Value) -> IncidentRow {
    IncidentRow {
        id: text(&i["id"]),
        description: text(&i["description"]),
        number: text(&i["number"]),
        level: text(&i["level"]),
        title: text(&i["title"]),
        status: text(&i["status"]),
        assignee: text(&i["assignee"]),
        created: when(&i["created_at"]),
    }
}

pub(crate) struct AlarmRow {
    pub(crate) id: String,
    pub(crate) level: String,
    pub(crate) name: String,
    pub(crate) resource: String,
    pub(crate) status: String,
    pub(crate) occurrences: String,
    pub(crate) last_seen: String,
    /// The incident it is linked to: (id, number), if any.
    pub(crate) incident: Option<(String, String)>,
    /// The registered host it is about (resource id), when one matches.
    pub(crate) host: Option<String>,
    /// The silence that muted it, if any.
    pub(crate) silenced_by: Option<String>,
    /// The inhibition rule that muted it, if any.
    pub(crate) inhibited_by: Option<String>,
}

pub(crate) fn alarm_row(a: &Value) -> AlarmRow {
    AlarmRow {
        id: text(&a["id"]),
        level: text(&a["level"]),
        name: text(&a["name"]),
        resource: a["resource_name"]
            .as_str()
            .filter(|n| !n.is_empty())
            .map(String::from)
            .unwrap_or_else(|| text(&a["resource_id"])),
        status: text(&a["status"]),
        occurrences: text(&a["occurrences"]),
        last_seen: when(&a["last_seen"]),
        incident: a["incident"]["id"]
            .as_str()
            .map(|id| (id.to_string(), text(&a["incident"]["number"]))),
        host: None,
        silenced_by: a["silenced_by"].as_str().map(String::from),
        inhibited_by: a["inhibited_by"].as_str().map(String::from),
    }
}

pub(crate) struct TicketRow {
    pub(crate) id: String,
    pub(crate) number: String,
    pub(crate) name: String,
    pub(crate) status: String,
    pub(crate) total: String,
    pub(crate) ok: String,
    pub(crate) failed: String,
    pub(crate) created: String,
}

pub(crate) fn ticket_row(t: &Value, name_key: &str) -> TicketRow {
    TicketRow {
        id: text(&t["id"]),
        number: text(&t["number"]),
        name: text(&t[name_key]),
        status: text(&t["status"]),
        total: text(&t["counts"]["total"]),
        ok: text(&t["counts"]["successful"]),
        failed: text(&t["counts"]["failed"]),
        created: when(&t["created_at"]),
    }
}

pub(crate) fn items(v: &Value) -> Vec<Value> {
    v["items"].as_array().cloned().unwrap_or_default()
}

#[derive(Template, WebTemplate)]
#[template(path = "overview.html")]
pub(crate) struct Overview {
    pub(crate) user: String,
    pub(crate) csrf: String,
    pub(crate) flash: Option<String>,
    pub(crate) mine: Vec<IncidentRow>,
    pub(crate) alarms: Vec<AlarmRow>,
    pub(crate) resources: Vec<ResourceRow>,
    /// Hosts with active alarms: (host id, host name, alarm names).
    pub(crate) alarmed: Vec<(String, String, String)>,
    /// To-dos waiting for the visitor: (link, kind, name, what).
    pub(crate) todos: Vec<(String, String, String, String)>,
    /// The security panel, when the visitor may read the audit trail.
    pub(crate) security: Option<Security>,
    /// Who is on call now, per scenario and role (ref. 11.2).
    pub(crate) oncall: Vec<super::oncall::NowRow>,
    /// Recent script and job tickets, newest first: (link, row).
    pub(crate) recent: Vec<(String, TicketRow)>,
    /// The first-run steps while any is left: (done, what, link).
    pub(crate) setup: Vec<(bool, &'static str, &'static str)>,
    /// Scripts and jobs by name, for "Run a script" and "Execute a job".
    pub(crate) scripts: Vec<String>,
    pub(crate) jobs: Vec<String>,
}

/// The first-run checklist: what a new team sets up to close the loop,
/// each step done when its list holds a record — (API list, what, where
/// to do it). Shown until every step is done.
const SETUP: &[(&str, &str, &str)] = &[
    (
        "/api/v1/resources?limit=1",
        "Connect a host: start an agent with an enrollment token",
        "/console/agent-enrollments/new",
    ),
    (
        "/api/v1/integrations",
        "Send alarms in: add a monitoring integration",
        "/console/integrations/new",
    ),
    (
        "/api/v1/forwarding-rules",
        "Turn alarms into incidents: add a forwarding rule",
        "/console/forwarding-rules/new",
    ),
    (
        "/api/v1/oncall/scenarios",
        "Say who is on call: set up a rotation",
        "/console/oncall/rotations/new",
    ),
    (
        "/api/v1/engineers",
        "Be reachable: add an engineer with a contact",
        "/console/engineers/new",
    ),
    (
        "/api/v1/notification-rules",
        "Get told: add a notification rule",
        "/console/notification-rules/new",
    ),
    (
        "/api/v1/tickets?limit=1",
        "Repair a host: run a script on it",
        "/console/scripts",
    ),
];

/// The names of an API list's records.
fn names(list: &Option<Value>) -> Vec<String> {
    let mut out: Vec<String> = list
        .as_ref()
        .map(items)
        .unwrap_or_default()
        .iter()
        .map(|r| text(&r["name"]))
        .collect();
    out.sort();
    out
}

/// `GET /console/open?kind=script|job&name=…`: the run form of a script
/// or the Execute form of a job chosen on the overview.
pub(crate) async fn open(Query(q): Query<Vec<(String, String)>>) -> Response {
    let get = |k: &str| {
        q.iter()
            .find(|(n, _)| n == k)
            .map(|(_, x)| x.clone())
            .unwrap_or_default()
    };
    let name = urlencode(&get("name"));
    match (get("kind").as_str(), name.is_empty()) {
        ("script", false) => Redirect::to(&format!("/console/scripts/{name}#run")).into_response(),
        ("job", false) => Redirect::to(&format!("/console/jobs/{name}/op/execute")).into_response(),
        ("job", true) => Redirect::to("/console/jobs").into_response(),
        _ => Redirect::to("/console/scripts").into_response(),
    }
}

/// The overview's security panel (ref. 2.5): what the audit trail of the
/// last 24 hours says about refused access.
pub(crate) struct Security {
    /// Sign-ins refused (HTTP 401).
    pub(crate) failed_logins: usize,
    /// Requests refused by policy (HTTP 403).
    pub(crate) denied: usize,
    /// API tokens used from an address not seen before.
    pub(crate) new_addresses: usize,
    /// The latest refusals: (when, user, operation, source address, status).
    pub(crate) recent: Vec<(String, String, String, String, String)>,
}

/// The security panel over audit records (newest first).
pub(crate) fn security_of(records: &[Value]) -> Security {
    let status = |r: &Value| r["status"].as_i64().unwrap_or(0);
    let refused: Vec<&Value> = records
        .iter()
        .filter(|r| matches!(status(r), 401 | 403))
        .collect();
    Security {
        failed_logins: refused.iter().filter(|r| status(r) == 401).count(),
        denied: refused.iter().filter(|r| status(r) == 403).count(),
        new_addresses: records
            .iter()
            .filter(|r| r["trace"] == "useTokenFromNewIp")
            .count(),
        recent: refused
            .iter()
            .take(5)
            .map(|r| {
                (
                    when(&r["at"]),
                    text(&r["user_name"]),
                    text(&r["trace"]),
                    text(&r["source_ip"]),
                    text(&r["status"]),
                )
            })
            .collect(),
    }
}

/// The active alarms on a host: those whose resource is the host's name
/// or one of its addresses (with or without a port).
pub(crate) fn alarms_of<'a>(h: &Value, active: &'a [Value]) -> Vec<&'a Value> {
    let mut names = vec![text(&h["hostname"])];
    names.extend(h["ips"].as_array().into_iter().flatten().map(text));
    active
        .iter()
        .filter(|a| {
            [text(&a["resource_name"]), text(&a["resource_id"])]
                .iter()
                .map(|r| r.split(':').next().unwrap_or("").to_string())
                .any(|r| !r.is_empty() && names.contains(&r))
        })
        .collect()
}

/// A to-do (`GET /api/v1/todos` item) as the overview lists it.
pub(crate) fn todo_row(t: &Value) -> (String, String, String, String) {
    let id = urlencode(&text(&t["id"]));
    let (page, kind) = match t["kind"].as_str() {
        Some("script_review") => ("scripts", "Review script"),
        Some("job_review") => ("jobs", "Review job"),
        Some("task_review") => ("scheduled-tasks", "Review scheduled task"),
        _ => ("job-tickets", "Approve"),
    };
    (
        format!("/console/{page}/{id}"),
        kind.to_string(),
        text(&t["name"]),
        text(&t["what"]),
    )
}

/// Hosts of one region on the overview.
pub(crate) struct ResourceRow {
    pub(crate) region: String,
    pub(crate) hosts: usize,
    pub(crate) running: usize,
    pub(crate) alarmed: usize,
}

/// Hosts by region (their `region` tag), with how many have an agent
/// running and how many have an active alarm — an alarm whose resource is
/// the host's name or one of its addresses (with or without a port).
pub(crate) fn resource_summary(hosts: &[Value], active: &[Value]) -> Vec<ResourceRow> {
    let alarmed = |h: &Value| !alarms_of(h, active).is_empty();
    let mut out: Vec<ResourceRow> = vec![];
    for h in hosts {
        let region = h["tags"]["region"]
            .as_str()
            .filter(|r| !r.is_empty())
            .unwrap_or("(no region)")
            .to_string();
        let i = match out.iter().position(|r| r.region == region) {
            Some(i) => i,
            None => {
                out.push(ResourceRow {
                    region,
                    hosts: 0,
                    running: 0,
                    alarmed: 0,
                });
                out.len() - 1
            }
        };
        out[i].hosts += 1;
        out[i].running += usize::from(h["agent_status"] == "running");
        out[i].alarmed += usize::from(alarmed(h));
    }
    out.sort_by(|a, b| a.region.cmp(&b.region));
    out
}

pub(crate) async fn overview(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let v = match visitor(&s, &headers, ip, "/console").await {
        Ok(v) => v,
        Err(r) => return r,
    };
    // The page's reads are independent: they go to the API together.
    let mine_uri = format!("/api/v1/incidents?assignee={}&limit=50", urlencode(&v.user));
    let audit_uri = format!(
        "/api/v1/audit?since={}&limit=500",
        s.store.now() - 24 * 3600 * 1000
    );
    let (
        (mine, alarms, hosts, tickets, job_tickets),
        (scripts, jobs, todos, audit, scenarios),
        steps,
    ) = tokio::join!(
        async {
            tokio::join!(
                api(&s, &v, Method::GET, &mine_uri, None),
                api(
                    &s,
                    &v,
                    Method::GET,
                    "/api/v1/alarms?status=alarm&limit=200",
                    None
                ),
                api(
                    &s,
                    &v,
                    Method::GET,
                    "/api/v1/resources?type=host&limit=1000",
                    None
                ),
                api(&s, &v, Method::GET, "/api/v1/tickets?limit=10", None),
                api(&s, &v, Method::GET, "/api/v1/job-tickets?limit=10", None),
            )
        },
        async {
            tokio::join!(
                api(&s, &v, Method::GET, "/api/v1/scripts", None),
                api(&s, &v, Method::GET, "/api/v1/jobs", None),
                api(&s, &v, Method::GET, "/api/v1/todos", None),
                api(&s, &v, Method::GET, &audit_uri, None),
                api(&s, &v, Method::GET, "/api/v1/oncall/scenarios", None),
            )
        },
        futures_util::future::join_all(SETUP.iter().map(|(list, _, _)| api(
            &s,
            &v,
            Method::GET,
            list,
            None
        ))),
    );
    let (scripts, jobs) = (scripts.ok(), jobs.ok());
    let mut setup = vec![];
    for ((_, what, link), got) in SETUP.iter().zip(steps) {
        let done = match got {
            Ok(l) => !items(&l).is_empty(),
            // A list the visitor may not read is someone else's step.
            Err(_) => true,
        };
        setup.push((done, *what, *link));
    }
    if setup.iter().all(|x| x.0) {
        setup.clear();
    }
    let mut recent: Vec<(i64, String, TicketRow)> = vec![];
    for (list, page, name) in [
        (&tickets, "tickets", "script_name"),
        (&job_tickets, "job-tickets", "job_name"),
    ] {
        for t in list.as_ref().map(items).unwrap_or_default() {
            let link = format!("/console/{page}/{}", urlencode(&text(&t["id"])));
            let at = t["created_at"].as_i64().unwrap_or(0);
            recent.push((at, link, ticket_row(&t, name)));
        }
    }
    recent.sort_by_key(|r| std::cmp::Reverse(r.0));
    let recent: Vec<(String, TicketRow)> = recent
        .into_iter()
        .take(10)
        .map(|(_, l, r)| (l, r))
        .collect();
    let scenarios = scenarios.map(|l| items(&l)).unwrap_or_default();
    let oncall = super::oncall::on_call_now(&s, &v, &scenarios).await;
    let active: Vec<Value> = alarms.as_ref().map(items).unwrap_or_default();
    let hosts = hosts.as_ref().map(items).unwrap_or_default();
    let resources = resource_summary(&hosts, &active);
    let alarmed = hosts
        .iter()
        .filter_map(|h| {
            let on = alarms_of(h, &active);
            (!on.is_empty()).then(|| {
                let names: Vec<String> = on.iter().map(|a| text(&a["name"])).collect();
                (text(&h["id"]), text(&h["hostname"]), names.join(", "))
            })
        })
        .take(10)
        .collect();
    Overview {
        user: v.user.clone(),
        csrf: v.csrf.clone(),
        flash: None,
        mine: mine
            .map(|x| items(&x))
            .unwrap_or_default()
            .iter()
            .filter(|i| !matches!(i["status"].as_str(), Some("completed" | "closed")))
            .map(incident_row)
            .collect(),
        alarms: active.iter().take(20).map(alarm_row).collect(),
        resources,
        alarmed,
        todos: todos
            .map(|x| items(&x))
            .unwrap_or_default()
            .iter()
            .map(todo_row)
            .collect(),
        security: audit.ok().map(|a| security_of(&items(&a))),
        oncall,
        recent,
        setup,
        scripts: names(&scripts),
        jobs: names(&jobs),
    }
    .into_response()
}
