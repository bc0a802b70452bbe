//! Generic console pages for the modules without a page of their own yet:
//! a list (search, column choice, paging) and a detail view of any record,
//! both read from the module's API. Each entry of [`MODULES`] is one
//! section of the navigation.

use std::net::SocketAddr;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{ConnectInfo, Form, Path, Query, State};
use axum::http::Method;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::Value;

use super::{
    Problem, api, error_page, form_visitor, items, page_data, text, urlencode, visitor, when,
};
use crate::AppState;

/// One console section backed by an API list.
pub struct Module {
    /// Path segment under `/console`.
    pub slug: &'static str,
    /// Heading.
    pub title: &'static str,
    /// The API list (`GET`).
    pub list: &'static str,
    /// The API detail with `{id}`, if records have one.
    pub detail: Option<&'static str>,
    /// The key that identifies a record in the list.
    pub key: &'static str,
    /// Default columns: (JSON key or dotted path, label).
    pub columns: &'static [(&'static str, &'static str)],
    /// An example definition for the "New" form; `None`: no form (the
    /// module's records are not created here).
    pub example: Option<&'static str>,
    /// Records can be modified here (`PUT` on the detail path with the
    /// record minus [`BOOKKEEPING`]).
    pub modify: bool,
}

/// Fields a record shows but a modification does not take.
pub const BOOKKEEPING: &[&str] = &[
    "id",
    "enabled",
    "version",
    "created_at",
    "updated_at",
    "created_by",
    "modified_by",
    "review",
    "review_status",
    "reviewed_by",
    "system",
    "high_risk_findings",
    "next_run_at",
];

/// The generic sections.
pub const MODULES: &[Module] = &[
    Module {
        slug: "resources",
        title: "Resources",
        list: "/api/v1/resources?limit=500",
        detail: Some("/api/v1/resources/{id}"),
        key: "id",
        columns: &[
            ("hostname", "Host name"),
            ("agent_status", "Agent"),
            ("os", "OS"),
            ("ips", "Addresses"),
            ("enterprise_project", "Enterprise project"),
            ("last_heartbeat", "Last heartbeat"),
        ],
        example: None,
        modify: false,
    },
    Module {
        slug: "jobs",
        title: "Jobs",
        list: "/api/v1/jobs",
        detail: Some("/api/v1/jobs/{id}"),
        key: "id",
        columns: &[
            ("name", "Name"),
            ("version", "Version"),
            ("risk_level", "Risk"),
            ("review.status", "Review"),
            ("system", "Common"),
            ("updated_at", "Modified"),
        ],
        example: Some(
            r#"{"name": "restart-web", "risk_level": "low", "steps": [{"name": "restart", "tasks": [{"name": "diagnose", "atom": {"type": "script", "script": "OS-DIAGNOSE"}}]}]}"#,
        ),
        modify: true,
    },
    Module {
        slug: "scheduled-tasks",
        title: "Scheduled tasks",
        list: "/api/v1/scheduled-tasks",
        detail: Some("/api/v1/scheduled-tasks/{id}"),
        key: "id",
        columns: &[
            ("name", "Name"),
            ("enabled", "Enabled"),
            ("review_status", "Review"),
            ("next_run_at", "Next run"),
            ("script", "Script"),
            ("job", "Job"),
        ],
        example: Some(
            r#"{"name": "nightly-diagnose", "script": "OS-DIAGNOSE", "select": {"running_only": true}, "timing": {"tz": "UTC", "trigger": {"type": "cron", "expr": "0 3 * * *"}}, "reviewers": [{"type": "individual", "users": ["lead"]}]}"#,
        ),
        modify: true,
    },
    Module {
        slug: "parameters",
        title: "Parameters",
        list: "/api/v1/parameters",
        detail: Some("/api/v1/parameters/{id}"),
        key: "id",
        columns: &[
            ("name", "Name"),
            ("region", "Region"),
            ("type", "Type"),
            ("value", "Value"),
            ("version", "Version"),
            ("updated_at", "Modified"),
        ],
        example: Some(
            r#"{"name": "db/host", "region": "default", "type": "text", "value": "10.0.0.5"}"#,
        ),
        modify: false,
    },
    Module {
        slug: "forwarding-rules",
        title: "Forwarding rules",
        list: "/api/v1/forwarding-rules",
        detail: Some("/api/v1/forwarding-rules/{id}"),
        key: "id",
        columns: &[
            ("name", "Name"),
            ("enabled", "Enabled"),
            ("incident_level", "Level"),
            ("assignee", "Owner"),
            ("updated_at", "Modified"),
        ],
        example: Some(
            r#"{"name": "disk-full", "incident_level": "P2", "assignee": "admin", "conditions": [{"field": "alarmName", "op": "equals", "value": "DiskFull"}]}"#,
        ),
        modify: true,
    },
    Module {
        slug: "integrations",
        title: "Integrations",
        list: "/api/v1/integrations",
        detail: Some("/api/v1/integrations/{id}"),
        key: "id",
        columns: &[
            ("name", "Name"),
            ("type", "Type"),
            ("enabled", "Enabled"),
            ("created_at", "Created"),
        ],
        example: Some(r#"{"name": "prometheus", "type": "alertmanager"}"#),
        modify: false,
    },
    Module {
        slug: "plans",
        title: "Emergency plans",
        list: "/api/v1/plans",
        detail: Some("/api/v1/plans/{id}"),
        key: "id",
        columns: &[
            ("name", "Name"),
            ("enabled", "Enabled"),
            ("body.type", "Kind"),
            ("recovery_minutes", "Recovery (min)"),
        ],
        example: Some(
            r#"{"name": "db-failover", "body": {"type": "automation", "action": {"script": "OS-DIAGNOSE"}}}"#,
        ),
        modify: true,
    },
    Module {
        slug: "engineers",
        title: "Engineers",
        list: "/api/v1/engineers",
        detail: Some("/api/v1/engineers/{id}"),
        key: "user",
        columns: &[
            ("user", "User"),
            ("alias", "Alias"),
            ("contacts", "Contacts"),
        ],
        example: None,
        modify: false,
    },
    Module {
        slug: "shifts",
        title: "Shifts",
        list: "/api/v1/oncall/scenarios",
        detail: Some("/api/v1/oncall/scenarios/{id}"),
        key: "id",
        columns: &[("name", "Scenario"), ("kind", "Kind"), ("timezone", "Zone")],
        example: None,
        modify: false,
    },
    Module {
        slug: "notification-rules",
        title: "Notification rules",
        list: "/api/v1/notification-rules",
        detail: Some("/api/v1/notification-rules/{id}"),
        key: "id",
        columns: &[
            ("name", "Name"),
            ("enabled", "Enabled"),
            ("templates", "Templates"),
            ("channels", "Channels"),
        ],
        example: Some(
            r#"{"name": "p1-owner", "templates": ["incident_created"], "recipients": [{"type": "owner"}], "channels": ["email"]}"#,
        ),
        modify: true,
    },
    Module {
        slug: "escalation-policies",
        title: "Escalation policies",
        list: "/api/v1/escalation-policies",
        detail: Some("/api/v1/escalation-policies/{id}"),
        key: "id",
        columns: &[
            ("name", "Name"),
            ("enabled", "Enabled"),
            ("repeat", "Repeat"),
        ],
        example: Some(
            r#"{"name": "default", "levels": [{"after_seconds": 600, "recipients": [{"type": "individual", "users": ["lead"]}], "channels": ["email"]}]}"#,
        ),
        modify: true,
    },
    Module {
        slug: "slas",
        title: "SLA",
        list: "/api/v1/slas",
        detail: Some("/api/v1/slas/{id}"),
        key: "id",
        columns: &[
            ("name", "Name"),
            ("enabled", "Enabled"),
            ("trigger", "Trigger"),
            ("levels", "Levels"),
        ],
        example: Some(
            r#"{"name": "p1-response", "trigger": "incident", "levels": ["P1"], "rules": [{"status": "unaccepted", "target_minutes": 15}]}"#,
        ),
        modify: true,
    },
    Module {
        slug: "audit",
        title: "Audit",
        list: "/api/v1/audit?limit=200",
        detail: None,
        key: "id",
        columns: &[
            ("at", "When"),
            ("user_name", "User"),
            ("trace", "Operation"),
            ("resource_type", "Resource"),
            ("resource_id", "Id"),
            ("result", "Result"),
        ],
        example: None,
        modify: false,
    },
];

fn module(slug: &str) -> Option<&'static Module> {
    MODULES.iter().find(|m| m.slug == slug)
}

/// A JSON value at a dotted path, as text for a cell (times as UTC).
fn cell(v: &Value, path: &str) -> String {
    let mut cur = v;
    for p in path.split('.') {
        cur = &cur[p];
    }
    let leaf = path.rsplit('.').next().unwrap_or(path);
    if (leaf.ends_with("_at") || leaf == "at" || leaf == "last_heartbeat") && cur.is_i64() {
        return when(cur);
    }
    match cur {
        Value::Array(a) => a.iter().map(text).collect::<Vec<_>>().join(", "),
        Value::Bool(true) => "yes".into(),
        Value::Bool(false) => "no".into(),
        Value::Object(_) => cur.to_string(),
        other => text(other),
    }
}

pub(super) struct Row {
    cells: Vec<String>,
    link: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "table.html")]
struct Table {
    user: String,
    csrf: String,
    flash: Option<String>,
    title: String,
    base: String,
    q: String,
    /// (key, label, shown)
    all_cols: Vec<(String, String, bool)>,
    cols: Vec<String>,
    rows: Vec<Row>,
    next: Option<String>,
    can_create: bool,
}

/// `GET /console/{module}`: `q` searches the shown cells, `col` (repeat)
/// chooses the columns, `cursor` pages.
pub(super) async fn list(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(slug): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let here = format!("/console/{slug}");
    let Some(m) = module(&slug) else {
        return not_found(&s, &headers, ip, &here).await;
    };
    let get = |k: &str| {
        query
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let cursor = get("cursor");
    let uri = if cursor.is_empty() {
        m.list.to_string()
    } else {
        let sep = if m.list.contains('?') { '&' } else { '?' };
        format!("{}{sep}cursor={}", m.list, urlencode(&cursor))
    };
    let (v, d) = match page_data(&s, &headers, ip, &here, &uri).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let chosen: Vec<String> = query
        .iter()
        .filter(|(k, _)| k == "col")
        .map(|(_, c)| c.clone())
        .collect();
    let all = items(&d);
    // Every default column, then any other scalar field of the records.
    let mut all_cols: Vec<(String, String)> = m
        .columns
        .iter()
        .map(|(k, l)| (k.to_string(), l.to_string()))
        .collect();
    if let Some(Value::Object(first)) = all.first() {
        for (k, x) in first {
            if !x.is_object() && !all_cols.iter().any(|(c, _)| c == k) {
                all_cols.push((k.clone(), k.replace('_', " ")));
            }
        }
    }
    let shown: Vec<(String, String)> = if chosen.is_empty() {
        all_cols[..m.columns.len()].to_vec()
    } else {
        all_cols
            .iter()
            .filter(|(k, _)| chosen.contains(k))
            .cloned()
            .collect()
    };
    let q = get("q");
    let needle = q.to_lowercase();
    let rows: Vec<Row> = all
        .iter()
        .map(|r| Row {
            cells: shown.iter().map(|(k, _)| cell(r, k)).collect(),
            link: m
                .detail
                .map(|_| format!("/console/{}/{}", m.slug, urlencode(&text(&r[m.key])))),
        })
        .filter(|r| needle.is_empty() || r.cells.iter().any(|c| c.to_lowercase().contains(&needle)))
        .collect();
    let next = d["next_cursor"].as_str().map(|c| {
        let cols: String = chosen
            .iter()
            .map(|c| format!("&col={}", urlencode(c)))
            .collect();
        format!(
            "/console/{}?q={}{cols}&cursor={}",
            m.slug,
            urlencode(&q),
            urlencode(c)
        )
    });
    Table {
        user: v.user.clone(),
        csrf: v.csrf.clone(),
        flash: None,
        title: m.title.into(),
        base: here,
        q,
        all_cols: all_cols
            .into_iter()
            .map(|(k, l)| {
                let on = shown.iter().any(|(s, _)| *s == k);
                (k, l, on)
            })
            .collect(),
        cols: shown.into_iter().map(|(_, l)| l).collect(),
        rows,
        next,
        can_create: m.example.is_some(),
    }
    .into_response()
}

#[derive(Template, WebTemplate)]
#[template(path = "record.html")]
struct Record {
    user: String,
    csrf: String,
    flash: Option<String>,
    title: String,
    section: String,
    back: String,
    /// (field, value, preformatted)
    fields: Vec<(String, String, bool)>,
    /// (operation, button label) the module's API offers on a record.
    actions: Vec<(String, String)>,
    action_url: String,
    /// The modify form, where records can be modified here.
    edit: Option<String>,
}

/// The record operations a module's API offers, found in the route table:
/// enable, disable, review (approve or reject) and delete.
fn actions_for(m: &Module) -> Vec<(String, String)> {
    let Some(detail) = m.detail else {
        return vec![];
    };
    let has = |method: &str, path: &str| {
        crate::api::ROUTES
            .iter()
            .any(|r| r.method == method && r.path == path)
    };
    let mut out = vec![];
    for (op, label) in [("enable", "Enable"), ("disable", "Disable")] {
        if has("POST", &format!("{detail}/{op}")) {
            out.push((op.to_string(), label.to_string()));
        }
    }
    if has("POST", &format!("{detail}/review")) {
        out.push(("approve".into(), "Approve".into()));
        out.push(("reject".into(), "Reject".into()));
    }
    if has("DELETE", detail) {
        out.push(("delete".into(), "Delete".into()));
    }
    out
}

/// `GET /console/{module}/{id}`: every field of the record.
pub(super) async fn detail(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path((slug, id)): Path<(String, String)>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let id_for_url = id.clone();
    let done = q
        .iter()
        .find(|(k, _)| k == "done")
        .map(|(_, op)| format!("Done: {op}."));
    let here = format!("/console/{slug}/{id}");
    let Some((m, path)) = module(&slug).and_then(|m| Some((m, m.detail?))) else {
        return not_found(&s, &headers, ip, &here).await;
    };
    let (v, d) = match page_data(
        &s,
        &headers,
        ip,
        &here,
        &path.replace("{id}", &urlencode(&id)),
    )
    .await
    {
        Ok(x) => x,
        Err(r) => return r,
    };
    let title = ["name", "hostname", "user", "number"]
        .iter()
        .map(|k| text(&d[*k]))
        .find(|t| !t.is_empty())
        .unwrap_or(id);
    let fields = d
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, x)| {
            let pre = x.is_object() || x.as_array().is_some_and(|a| a.iter().any(Value::is_object));
            let shown = if pre {
                serde_json::to_string_pretty(x).unwrap_or_default()
            } else {
                cell(&d, k)
            };
            (k.replace('_', " "), shown, pre)
        })
        .collect();
    Record {
        user: v.user.clone(),
        csrf: v.csrf.clone(),
        flash: done,
        title,
        section: m.title.into(),
        back: format!("/console/{}", m.slug),
        fields,
        actions: actions_for(m),
        action_url: format!("/console/{}/{}/do", m.slug, urlencode(&id_for_url)),
        edit: m
            .modify
            .then(|| format!("/console/{}/{}/edit", m.slug, urlencode(&id_for_url))),
    }
    .into_response()
}

#[derive(serde::Deserialize)]
pub(super) struct OpForm {
    csrf: String,
    op: String,
}

/// `POST /console/{module}/{id}/do`: enable, disable, approve, reject or
/// delete through the API; back to the record (or the list after delete).
pub(super) async fn operate(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path((slug, id)): Path<(String, String)>,
    Form(f): Form<OpForm>,
) -> Response {
    let here = format!("/console/{slug}/{id}");
    let Some((m, detail)) = module(&slug).and_then(|m| Some((m, m.detail?))) else {
        return not_found(&s, &headers, ip, &here).await;
    };
    let v = match form_visitor(&s, &headers, ip, &here, &f.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if !actions_for(m).iter().any(|(op, _)| *op == f.op) {
        return error_page(
            &v,
            Problem {
                status: StatusCode::BAD_REQUEST,
                detail: format!("{} cannot be done here", f.op),
            },
        );
    }
    let path = detail.replace("{id}", &urlencode(&id));
    let (method, uri, body) = match f.op.as_str() {
        "approve" | "reject" => (
            Method::POST,
            format!("{path}/review"),
            Some(serde_json::json!({"approve": f.op == "approve"})),
        ),
        "delete" => (Method::DELETE, path.clone(), None),
        op => (Method::POST, format!("{path}/{op}"), None),
    };
    match api(&s, &v, method, &uri, body).await {
        Ok(_) if f.op == "delete" => Redirect::to(&format!("/console/{}", m.slug)).into_response(),
        Ok(_) => Redirect::to(&format!("{here}?done={}", urlencode(&f.op))).into_response(),
        Err(p) => error_page(&v, p),
    }
}

async fn not_found(s: &AppState, headers: &HeaderMap, ip: SocketAddr, here: &str) -> Response {
    match visitor(s, headers, ip, here).await {
        Ok(v) => error_page(
            &v,
            Problem {
                status: StatusCode::NOT_FOUND,
                detail: format!("there is no page {here}"),
            },
        ),
        Err(r) => r,
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "new.html")]
struct NewPage {
    user: String,
    csrf: String,
    flash: Option<String>,
    section: String,
    back: String,
    heading: String,
    action: String,
    button: String,
    body: String,
    error: Option<String>,
}

/// `GET /console/{module}/new`: a definition form with an example.
pub(super) async fn new_form(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(slug): Path<String>,
) -> Response {
    let here = format!("/console/{slug}/new");
    let Some((m, example)) = module(&slug).and_then(|m| Some((m, m.example?))) else {
        return not_found(&s, &headers, ip, &here).await;
    };
    let v = match visitor(&s, &headers, ip, &here).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let pretty = serde_json::from_str::<Value>(example)
        .ok()
        .and_then(|x| serde_json::to_string_pretty(&x).ok())
        .unwrap_or_else(|| example.to_string());
    NewPage {
        user: v.user.clone(),
        csrf: v.csrf.clone(),
        flash: None,
        section: m.title.into(),
        back: format!("/console/{}", m.slug),
        heading: "New".into(),
        action: format!("/console/{}/new", m.slug),
        button: "Create".into(),
        body: pretty,
        error: None,
    }
    .into_response()
}

#[derive(serde::Deserialize)]
pub(super) struct NewForm {
    csrf: String,
    body: String,
}

/// `POST /console/{module}/new`: creates through the API; on a refusal the
/// form comes back with the API's message and the text as typed.
pub(super) async fn create(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(slug): Path<String>,
    Form(f): Form<NewForm>,
) -> Response {
    let here = format!("/console/{slug}/new");
    let Some(m) = module(&slug).filter(|m| m.example.is_some()) else {
        return not_found(&s, &headers, ip, &here).await;
    };
    let v = match form_visitor(&s, &headers, ip, &here, &f.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let form = NewPage {
        user: v.user.clone(),
        csrf: v.csrf.clone(),
        flash: None,
        section: m.title.into(),
        back: format!("/console/{}", m.slug),
        heading: "New".into(),
        action: format!("/console/{}/new", m.slug),
        button: "Create".into(),
        body: f.body,
        error: None,
    };
    let list = m.list.split('?').next().unwrap_or(m.list);
    match submit(&s, &v, form, Method::POST, list).await {
        Ok(created) => {
            let id = text(&created[m.key]);
            match m.detail {
                Some(_) if !id.is_empty() => {
                    Redirect::to(&format!("/console/{}/{}", m.slug, urlencode(&id))).into_response()
                }
                _ => Redirect::to(&format!("/console/{}", m.slug)).into_response(),
            }
        }
        Err(r) => r,
    }
}

/// The editable definition of a record: everything but [`BOOKKEEPING`].
fn editable(record: &Value) -> String {
    let mut v = record.clone();
    if let Some(o) = v.as_object_mut() {
        o.retain(|k, _| !BOOKKEEPING.contains(&k.as_str()));
    }
    serde_json::to_string_pretty(&v).unwrap_or_default()
}

/// `GET /console/{module}/{id}/edit`: the record's definition to modify.
pub(super) async fn edit_form(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path((slug, id)): Path<(String, String)>,
) -> Response {
    let here = format!("/console/{slug}/{id}/edit");
    let Some((m, detail)) = module(&slug)
        .filter(|m| m.modify)
        .and_then(|m| Some((m, m.detail?)))
    else {
        return not_found(&s, &headers, ip, &here).await;
    };
    let uri = detail.replace("{id}", &urlencode(&id));
    let (v, d) = match page_data(&s, &headers, ip, &here, &uri).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    NewPage {
        user: v.user.clone(),
        csrf: v.csrf.clone(),
        flash: None,
        section: m.title.into(),
        back: format!("/console/{}/{}", m.slug, urlencode(&id)),
        heading: format!("Modify {}", text(&d["name"])),
        action: here,
        button: "Save".into(),
        body: editable(&d),
        error: None,
    }
    .into_response()
}

/// `POST /console/{module}/{id}/edit`: modifies through the API; a
/// refusal brings the form back with the API's message.
pub(super) async fn save(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path((slug, id)): Path<(String, String)>,
    Form(f): Form<NewForm>,
) -> Response {
    let here = format!("/console/{slug}/{id}/edit");
    let Some((m, detail)) = module(&slug)
        .filter(|m| m.modify)
        .and_then(|m| Some((m, m.detail?)))
    else {
        return not_found(&s, &headers, ip, &here).await;
    };
    let v = match form_visitor(&s, &headers, ip, &here, &f.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let record = format!("/console/{}/{}", m.slug, urlencode(&id));
    let form = NewPage {
        user: v.user.clone(),
        csrf: v.csrf.clone(),
        flash: None,
        section: m.title.into(),
        back: record.clone(),
        heading: "Modify".into(),
        action: here.clone(),
        button: "Save".into(),
        body: f.body,
        error: None,
    };
    let uri = detail.replace("{id}", &urlencode(&id));
    match submit(&s, &v, form, Method::PUT, &uri).await {
        Ok(_) => Redirect::to(&format!("{record}?done=modify")).into_response(),
        Err(r) => r,
    }
}

/// Sends a definition form's JSON to the API (`method` on `uri`). On a
/// refusal — not JSON, or the API's problem — the form comes back with the
/// message and the text as typed.
async fn submit(
    s: &AppState,
    v: &super::Visitor,
    mut form: NewPage,
    method: Method,
    uri: &str,
) -> Result<Value, Response> {
    let body: Value = match serde_json::from_str(&form.body) {
        Ok(b) => b,
        Err(e) => {
            form.error = Some(format!("the definition is not valid JSON: {e}"));
            return Err((StatusCode::UNPROCESSABLE_ENTITY, form).into_response());
        }
    };
    api(s, v, method, uri, Some(body)).await.map_err(|p| {
        form.error = Some(p.detail);
        (p.status, form).into_response()
    })
}
