//! Tickets (X2, X4): script and job ticket lists and pages with live output, and the operator actions.

use crate::console::*;

#[derive(Template, WebTemplate)]
#[template(path = "tickets.html")]
pub(crate) struct Tickets {
    pub(crate) user: String,
    pub(crate) csrf: String,
    pub(crate) flash: Option<String>,
    pub(crate) heading: String,
    pub(crate) base: String,
    pub(crate) chart: String,
    pub(crate) rows: Vec<TicketRow>,
}

pub(crate) async fn tickets(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    list_tickets(
        s,
        ip,
        headers,
        "/console/tickets",
        "/api/v1/tickets?limit=100",
        "script_name",
        "Script tickets",
    )
    .await
}

pub(crate) async fn job_tickets(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    list_tickets(
        s,
        ip,
        headers,
        "/console/job-tickets",
        "/api/v1/job-tickets?limit=100",
        "job_name",
        "Job tickets",
    )
    .await
}

pub(crate) async fn list_tickets(
    s: AppState,
    ip: SocketAddr,
    headers: HeaderMap,
    base: &str,
    uri: &str,
    name_key: &str,
    heading: &str,
) -> Response {
    let (v, list) = match page_data(&s, &headers, ip, base, uri).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    Tickets {
        user: v.user.clone(),
        csrf: v.csrf.clone(),
        flash: None,
        heading: heading.into(),
        base: base.into(),
        chart: chart::outcomes(
            &items(&list)
                .iter()
                .map(|t| text(&t["status"]))
                .collect::<Vec<_>>(),
        ),
        rows: items(&list)
            .iter()
            .map(|t| ticket_row(t, name_key))
            .collect(),
    }
    .into_response()
}

pub(crate) struct TaskRow {
    pub(crate) id: String,
    pub(crate) host: String,
    pub(crate) batch: String,
    pub(crate) status: String,
    pub(crate) exit: String,
    pub(crate) output: String,
    /// A script ticket's host id: the row stays the host's while its run
    /// id changes (none before the run exists, a new one on retry).
    pub(crate) host_key: Option<String>,
    /// What "Cancel" names while the host has not finished (the script
    /// ticket's task id, the job ticket's host id); none once it has.
    pub(crate) cancel: Option<String>,
}

/// Whether a ticket (script or job) in this status has ended.
pub(crate) fn finished(status: &Value) -> bool {
    coc_domain::ticket::TicketStatus::parse(status.as_str().unwrap_or(""))
        .is_ok_and(|st| st.is_terminal())
}

/// Whether a host's run can still be cancelled.
pub(crate) fn unfinished(status: &Value) -> bool {
    matches!(status.as_str(), Some("pending" | "executing"))
}

/// A job ticket's approval task (ref. 10.1.2), as shown.
pub(crate) struct ApprovalRow {
    pub(crate) step: i64,
    pub(crate) task: i64,
    /// "step 2 · approve-restart"
    pub(crate) name: String,
    pub(crate) status: String,
    /// "by ann at … — comment", once decided.
    pub(crate) decided: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "ticket.html")]
pub(crate) struct TicketPage {
    pub(crate) user: String,
    pub(crate) csrf: String,
    pub(crate) flash: Option<String>,
    pub(crate) t: TicketRow,
    pub(crate) events: Option<String>,
    pub(crate) tasks: Vec<TaskRow>,
    /// (action, label) allowed in the ticket's state.
    pub(crate) actions: Vec<(String, String)>,
    pub(crate) action_url: String,
    /// A job ticket's steps.
    pub(crate) steps: Vec<StepRow>,
    /// A job ticket's approval tasks.
    pub(crate) approvals: Vec<ApprovalRow>,
}

/// One step of a job ticket as shown.
pub(crate) struct StepRow {
    pub(crate) name: String,
    pub(crate) status: String,
    pub(crate) done: i64,
    pub(crate) total: i64,
    pub(crate) ok: i64,
    pub(crate) failed: i64,
}

/// The operator actions allowed on a script ticket (`job` false) or a job
/// ticket in `status`, as (API action, button label).
pub(crate) fn allowed_actions(status: &str, job: bool) -> Vec<(String, String)> {
    use coc_domain::ticket::{TicketAction, TicketStatus, apply_action};
    let Ok(st) = TicketStatus::parse(status) else {
        return vec![];
    };
    if job {
        use coc_domain::job::{JobAction as A, apply_job_action};
        [
            (A::Pause, "pause", "Pause"),
            (A::Continue, "continue", "Continue"),
            (A::RetryFailed, "retry_failed", "Retry failed hosts"),
            (
                A::TerminateAll,
                "terminate_all",
                "Terminate all (this step)",
            ),
            (A::ForciblyEnd, "forcibly_end", "Forcibly end"),
        ]
        .into_iter()
        .filter(|(a, _, _)| apply_job_action(st, *a, true).is_ok())
        .map(|(_, v, l)| (v.to_string(), l.to_string()))
        .collect()
    } else {
        [
            (TicketAction::Pause, "pause", "Pause"),
            (TicketAction::Continue, "continue", "Continue"),
            (TicketAction::ForciblyEnd, "forcibly_end", "Forcibly end"),
        ]
        .into_iter()
        .filter(|(a, _, _)| apply_action(st, *a).is_ok())
        .map(|(_, v, l)| (v.to_string(), l.to_string()))
        .collect()
    }
}

pub(crate) async fn ticket(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let here = format!("/console/tickets/{id}");
    let (v, d) = match page_data(
        &s,
        &headers,
        ip,
        &here,
        &format!("/api/v1/tickets/{}", urlencode(&id)),
    )
    .await
    {
        Ok(x) => x,
        Err(r) => return r,
    };
    let running = !finished(&d["status"]);
    let name = host_names(&s, &v).await;
    TicketPage {
        user: v.user.clone(),
        csrf: v.csrf.clone(),
        flash: None,
        events: running.then(|| format!("/api/v1/tickets/{}/events", text(&d["id"]))),
        actions: allowed_actions(d["status"].as_str().unwrap_or(""), false),
        steps: vec![],
        action_url: format!("/console/tickets/{}/actions", text(&d["id"])),
        t: ticket_row(&d, "script_name"),
        tasks: d["tasks"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|x| TaskRow {
                id: text(&x["id"]),
                host: name(&x["host_id"]),
                batch: (x["batch"].as_i64().unwrap_or(0) + 1).to_string(),
                status: text(&x["status"]),
                exit: text(&x["exit_code"]),
                output: with_error(x),
                host_key: Some(text(&x["host_id"])),
                cancel: (running && unfinished(&x["status"])).then(|| text(&x["id"])),
            })
            .collect(),
        approvals: vec![],
    }
    .into_response()
}

/// A run's (or task's) output, and why it failed or was cancelled when
/// it says (an agent's refusal, a timeout, a rollback).
fn with_error(r: &Value) -> String {
    let out = text(&r["output"]);
    match r["error"].as_str().filter(|e| !e.is_empty()) {
        Some(e) if out.is_empty() => format!("error: {e}"),
        Some(e) => format!("{}\nerror: {e}", out.trim_end()),
        None => out,
    }
}

pub(crate) async fn job_ticket(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let here = format!("/console/job-tickets/{id}");
    let (v, d) = match page_data(
        &s,
        &headers,
        ip,
        &here,
        &format!("/api/v1/job-tickets/{}", urlencode(&id)),
    )
    .await
    {
        Ok(x) => x,
        Err(r) => return r,
    };
    let name = host_names(&s, &v).await;
    let mut tasks = vec![];
    for st in d["steps"].as_array().into_iter().flatten() {
        for h in st["hosts"].as_array().into_iter().flatten() {
            for r in h["runs"].as_array().into_iter().flatten() {
                tasks.push(TaskRow {
                    id: text(&r["id"]),
                    host: name(&h["host_id"]),
                    batch: format!(
                        "step {} batch {} · {}",
                        st["index"].as_i64().unwrap_or(0) + 1,
                        h["batch"].as_i64().unwrap_or(0) + 1,
                        text(&r["task_name"])
                    ),
                    status: text(&r["status"]),
                    exit: text(&r["exit_code"]),
                    output: with_error(r),
                    host_key: None,
                    cancel: unfinished(&r["status"]).then(|| text(&h["host_id"])),
                });
            }
        }
    }
    TicketPage {
        user: v.user.clone(),
        csrf: v.csrf.clone(),
        flash: None,
        events: (!finished(&d["status"]))
            .then(|| format!("/api/v1/job-tickets/{}/events", text(&d["id"]))),
        actions: {
            let mut a = allowed_actions(d["status"].as_str().unwrap_or(""), true);
            // Run the same job on the same hosts again (ref. 10.1.2).
            a.push(("clone".into(), "Clone".into()));
            a
        },
        steps: d["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|st| {
                let n = |k: &str| st["counts"][k].as_i64().unwrap_or(0);
                StepRow {
                    name: format!(
                        "{}. {}",
                        st["index"].as_i64().unwrap_or(0) + 1,
                        text(&st["name"])
                    ),
                    status: text(&st["status"]),
                    done: n("successful") + n("failed") + n("cancelled"),
                    total: n("total"),
                    ok: n("successful"),
                    failed: n("failed"),
                }
            })
            .collect(),
        action_url: format!("/console/job-tickets/{}/actions", text(&d["id"])),
        t: ticket_row(&d, "job_name"),
        tasks,
        approvals: d["approvals"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| ApprovalRow {
                step: a["step"].as_i64().unwrap_or(0),
                task: a["task"].as_i64().unwrap_or(0),
                name: format!(
                    "step {} · {}",
                    a["step"].as_i64().unwrap_or(0) + 1,
                    text(&a["task_name"])
                ),
                status: text(&a["status"]),
                decided: match a["decided_by"].as_str() {
                    Some(by) => {
                        let note = text(&a["comment"]);
                        let note = if note.is_empty() {
                            note
                        } else {
                            format!(" — {note}")
                        };
                        format!("by {by} at {}{note}", when(&a["decided_at"]))
                    }
                    None => String::new(),
                },
            })
            .collect(),
    }
    .into_response()
}

#[derive(Deserialize)]
pub(crate) struct TicketActionForm {
    pub(crate) csrf: String,
    /// A ticket action (`pause`, …), `cancel` (one host) or, on a job
    /// ticket, `approve`/`reject` (one approval task) or `clone`.
    pub(crate) action: String,
    /// `cancel`: the task id (script ticket) or host id (job ticket).
    #[serde(default)]
    pub(crate) target: String,
    /// `approve`/`reject`: the approval's step and task index.
    #[serde(default)]
    pub(crate) step: i64,
    #[serde(default)]
    pub(crate) task: i64,
    /// `approve`/`reject`: the reviewer's comment.
    #[serde(default)]
    pub(crate) comment: String,
}

pub(crate) async fn ticket_action(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<TicketActionForm>,
) -> Response {
    act_on_ticket(s, ip, headers, "tickets", id, f).await
}

pub(crate) async fn job_ticket_action(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<TicketActionForm>,
) -> Response {
    act_on_ticket(s, ip, headers, "job-tickets", id, f).await
}

/// An operator action from a ticket page: through the API, then back to
/// the page.
pub(crate) async fn act_on_ticket(
    s: AppState,
    ip: SocketAddr,
    headers: HeaderMap,
    kind: &str,
    id: String,
    f: TicketActionForm,
) -> Response {
    let here = format!("/console/{kind}/{id}");
    let v = match form_visitor(&s, &headers, ip, &here, &f.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let base = format!("/api/v1/{kind}/{}", urlencode(&id));
    let (uri, body) = match (f.action.as_str(), kind) {
        ("cancel", "job-tickets") => (
            format!("{base}/hosts/{}/cancel", urlencode(&f.target)),
            None,
        ),
        ("cancel", _) => (
            format!("{base}/tasks/{}/cancel", urlencode(&f.target)),
            None,
        ),
        ("clone", "job-tickets") => (format!("{base}/clone"), None),
        ("approve" | "reject", "job-tickets") => {
            let mut b = json!({"approve": f.action == "approve"});
            if !f.comment.trim().is_empty() {
                b["comment"] = json!(f.comment.trim());
            }
            (format!("{base}/approvals/{}/{}", f.step, f.task), Some(b))
        }
        (action, _) => (format!("{base}/actions"), Some(json!({ "action": action }))),
    };
    match api(&s, &v, Method::POST, &uri, body).await {
        Ok(t) if f.action == "clone" => {
            Redirect::to(&format!("/console/{kind}/{}", urlencode(&text(&t["id"])))).into_response()
        }
        Ok(_) => Redirect::to(&here).into_response(),
        Err(p) => error_page(&v, p),
    }
}
