//! The web console (T2, T3; ref. chapter 2): server-rendered pages
//! (askama) under `/console`, our own small CSS and JavaScript embedded in
//! the binary, usable without JavaScript for reading and forms.
//!
//! Pages read and write through the REST API itself: each page calls the
//! API router in-process with the visitor's session token as the bearer,
//! so the access guard, attribute filters and the audit trail apply to the
//! console exactly as to any API client (one enforcement point). Forms
//! carry the CSRF value of the session (double submit) and answer with a
//! redirect (post/redirect/get).

use std::net::SocketAddr;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Form, Path, Query, State};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::AppState;
use crate::session::{SESSION_COOKIE, cookie, csrf_of};

pub mod chart;
pub mod forms;
pub mod modules;

/// Largest API answer a page reads, bytes.
const MAX_API_BODY: usize = 16 * 1024 * 1024;

/// The console routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/console") }))
        .route("/console", get(overview))
        .route("/console/login", get(login_page).post(login))
        .route("/console/logout", post(logout))
        .route("/console/incidents", get(incidents))
        .route("/console/incidents/{id}", get(incident))
        .route("/console/incidents/{id}/actions", post(incident_action))
        .route("/console/alarms", get(alarms))
        .route("/console/scripts", get(scripts))
        .route("/console/scripts/new", own_new("scripts"))
        .route("/console/incidents/new", own_new("incidents"))
        .route("/console/alarms/act", post(alarm_act))
        .route("/console/oncall", get(oncall))
        .route("/console/scripts/{id}", get(script))
        .route("/console/scripts/{id}/run", post(run_script))
        .route("/console/tickets", get(tickets))
        .route("/console/tickets/{id}", get(ticket))
        .route("/console/tickets/{id}/actions", post(ticket_action))
        .route("/console/job-tickets/{id}/actions", post(job_ticket_action))
        .route("/console/job-tickets", get(job_tickets))
        .route("/console/job-tickets/{id}", get(job_ticket))
        .route("/console/{module}", get(modules::list))
        .route("/console/{module}/{id}", get(modules::detail))
        .route("/console/{module}/{id}/do", post(modules::operate))
        .route(
            "/console/{module}/{id}/op/{op}",
            get(modules::op_form).post(modules::op_submit),
        )
        .route(
            "/console/{module}/{id}/edit",
            get(modules::edit_form).post(modules::save),
        )
        .route(
            "/console/{module}/new",
            get(modules::new_form).post(modules::create),
        )
        .route("/console/assets/app.css", get(css))
        .route("/console/assets/app.js", get(js))
        .layer(axum::middleware::map_response(no_store))
}

/// Pages carry the visitor's data, a CSRF value and sometimes a secret
/// shown once: no cache keeps them (`Cache-Control: no-store`), unless
/// the handler said otherwise (the assets).
async fn no_store(mut r: Response) -> Response {
    if !r.headers().contains_key(header::CACHE_CONTROL) {
        r.headers_mut().insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        );
    }
    r
}

async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        include_str!("../../assets/app.css"),
    )
}

async fn js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        include_str!("../../assets/app.js"),
    )
}

/// The visitor of a page: their session token, user name and CSRF value.
pub(super) struct Visitor {
    token: String,
    user: String,
    csrf: String,
    ip: SocketAddr,
}

/// An API answer that is not a success: status and problem detail.
struct Problem {
    status: StatusCode,
    detail: String,
}

/// Calls the API in-process as the visitor.
async fn api(
    s: &AppState,
    v: &Visitor,
    method: Method,
    uri: &str,
    body: Option<Value>,
) -> Result<Value, Problem> {
    call(
        s,
        Some(&v.token),
        v.ip,
        method,
        uri,
        body,
        &HeaderMap::new(),
    )
    .await
    .map(|(_, b)| b)
}

async fn call(
    s: &AppState,
    token: Option<&str>,
    ip: SocketAddr,
    method: Method,
    uri: &str,
    body: Option<Value>,
    extra: &HeaderMap,
) -> Result<(HeaderMap, Value), Problem> {
    let mut rb = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        rb = rb.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    for (k, v) in extra {
        rb = rb.header(k, v);
    }
    let req = match body {
        Some(b) => rb
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(b.to_string())),
        None => rb.body(Body::empty()),
    };
    let mut req = req.map_err(|e| Problem {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        detail: e.to_string(),
    })?;
    req.extensions_mut().insert(ConnectInfo(ip));
    let resp = crate::router(s.clone())
        .oneshot(req)
        .await
        .map_err(|e| Problem {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            detail: e.to_string(),
        })?;
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), MAX_API_BODY)
        .await
        .map_err(|e| Problem {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            detail: e.to_string(),
        })?;
    let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if status.is_success() {
        Ok((headers, v))
    } else {
        Err(Problem {
            status,
            detail: v["detail"]
                .as_str()
                .unwrap_or("the request failed")
                .to_string(),
        })
    }
}

/// The visitor, or a redirect to the login page.
async fn visitor(
    s: &AppState,
    headers: &HeaderMap,
    ip: SocketAddr,
    here: &str,
) -> Result<Visitor, Response> {
    let to_login =
        || Redirect::to(&format!("/console/login?next={}", urlencode(here))).into_response();
    let Some(token) = cookie(headers, SESSION_COOKIE) else {
        return Err(to_login());
    };
    let me = match s
        .store
        .authenticate_token(token, Some(&ip.ip().to_string()))
        .await
    {
        Ok(Some(p)) => p,
        _ => return Err(to_login()),
    };
    Ok(Visitor {
        token: token.to_string(),
        user: me.user_name,
        csrf: csrf_of(token),
        ip,
    })
}

fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The visitor of a form post whose `csrf` field must be the session's
/// CSRF value; otherwise the login redirect or a 403 page.
async fn form_visitor(
    s: &AppState,
    headers: &HeaderMap,
    ip: SocketAddr,
    here: &str,
    csrf: &str,
) -> Result<Visitor, Response> {
    let v = visitor(s, headers, ip, here).await?;
    if csrf != v.csrf {
        return Err(error_page(
            &v,
            Problem {
                status: StatusCode::FORBIDDEN,
                detail: "the form is stale; reload the page and try again".into(),
            },
        ));
    }
    Ok(v)
}

/// The visitor and one API answer (GET `uri`) for the page at `here`; the
/// login redirect or an error page when there is none.
async fn page_data(
    s: &AppState,
    headers: &HeaderMap,
    ip: SocketAddr,
    here: &str,
    uri: &str,
) -> Result<(Visitor, Value), Response> {
    let v = visitor(s, headers, ip, here).await?;
    match api(s, &v, Method::GET, uri, None).await {
        Ok(d) => Ok((v, d)),
        Err(p) => Err(error_page(&v, p)),
    }
}

/// A time for people: UTC, to the second.
fn when(ms: &Value) -> String {
    ms.as_i64()
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
struct ErrorPage {
    user: String,
    csrf: String,
    flash: Option<String>,
    title: String,
    detail: String,
}

fn error_page(v: &Visitor, p: Problem) -> Response {
    let title = match p.status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::FORBIDDEN => "Not allowed",
        _ => "Something went wrong",
    };
    (
        p.status,
        ErrorPage {
            user: v.user.clone(),
            csrf: v.csrf.clone(),
            flash: None,
            title: title.into(),
            detail: p.detail,
        },
    )
        .into_response()
}

// ---------------------------------------------------------------- login

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
struct LoginPage {
    error: Option<String>,
    next: String,
    username: String,
    /// The form's CSRF value, also in the `coc_login` cookie.
    csrf: String,
}

/// Cookie holding the login form's CSRF value (double submit: a form
/// posted from another site carries neither, SameSite=Strict).
const LOGIN_COOKIE: &str = "coc_login";

impl LoginPage {
    /// The page with a fresh CSRF value, and the cookie that holds it.
    fn answer(mut self, status: StatusCode) -> Response {
        self.csrf = hex::encode(rand::random::<[u8; 16]>());
        let cookie = format!(
            "{LOGIN_COOKIE}={}; HttpOnly; SameSite=Strict; Path=/console/login; Max-Age=3600",
            self.csrf
        );
        let mut r = (status, self).into_response();
        if let Ok(v) = cookie.parse() {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
        r
    }
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

/// Only a console path may be the target after login.
fn safe_next(n: Option<&str>) -> String {
    match n {
        Some(n) if n.starts_with("/console") && !n.starts_with("//") => n.to_string(),
        _ => "/console".into(),
    }
}

async fn login_page(Query(q): Query<NextQuery>) -> Response {
    LoginPage {
        error: None,
        next: safe_next(q.next.as_deref()),
        username: String::new(),
        csrf: String::new(),
    }
    .answer(StatusCode::OK)
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    #[serde(default)]
    tenant: String,
    #[serde(default)]
    next: String,
    #[serde(default)]
    csrf: String,
}

async fn login(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let sent = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if f.csrf.is_empty() || sent.len() != f.csrf.len() || sent != f.csrf {
        return LoginPage {
            error: Some(
                "The sign-in form expired or came from another site; sign in again.".into(),
            ),
            next: safe_next(Some(&f.next)),
            username: f.username,
            csrf: String::new(),
        }
        .answer(StatusCode::FORBIDDEN);
    }
    let mut body = json!({"username": f.username, "password": f.password});
    if !f.tenant.trim().is_empty() {
        body["tenant"] = json!(f.tenant.trim());
    }
    let mut extra = HeaderMap::new();
    if let Some(p) = headers.get("x-forwarded-proto") {
        extra.insert("x-forwarded-proto", p.clone());
    }
    match call(
        &s,
        None,
        ip,
        Method::POST,
        "/api/v1/login",
        Some(body),
        &extra,
    )
    .await
    {
        Ok((h, _)) => {
            let mut r = Redirect::to(&safe_next(Some(&f.next))).into_response();
            for c in h.get_all(header::SET_COOKIE) {
                r.headers_mut().append(header::SET_COOKIE, c.clone());
            }
            r
        }
        Err(p) => {
            let status = if p.status == StatusCode::TOO_MANY_REQUESTS {
                p.status
            } else {
                StatusCode::UNAUTHORIZED
            };
            LoginPage {
                error: Some(p.detail),
                next: safe_next(Some(&f.next)),
                username: f.username,
                csrf: String::new(),
            }
            .answer(status)
        }
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Some(token) = cookie(&headers, SESSION_COOKIE)
        && f.csrf == csrf_of(token)
    {
        let mut extra = HeaderMap::new();
        if let Ok(v) = format!("{SESSION_COOKIE}={token}").parse() {
            extra.insert(header::COOKIE, v);
        }
        if let Ok(v) = csrf_of(token).parse() {
            extra.insert(crate::session::CSRF_HEADER, v);
        }
        if let Ok((h, _)) = call(&s, None, ip, Method::POST, "/api/v1/logout", None, &extra).await {
            let mut r = Redirect::to("/console/login").into_response();
            for c in h.get_all(header::SET_COOKIE) {
                r.headers_mut().append(header::SET_COOKIE, c.clone());
            }
            return r;
        }
    }
    Redirect::to("/console/login").into_response()
}

// ------------------------------------------------------------- overview

struct IncidentRow {
    id: String,
    description: String,
    number: String,
    level: String,
    title: String,
    status: String,
    assignee: String,
    created: String,
}

fn incident_row(i: &Value) -> IncidentRow {
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

struct AlarmRow {
    id: String,
    level: String,
    name: String,
    resource: String,
    status: String,
    occurrences: String,
    last_seen: String,
}

fn alarm_row(a: &Value) -> AlarmRow {
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
    }
}

struct TicketRow {
    id: String,
    number: String,
    name: String,
    status: String,
    total: String,
    ok: String,
    failed: String,
    created: String,
}

fn ticket_row(t: &Value, name_key: &str) -> TicketRow {
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

fn items(v: &Value) -> Vec<Value> {
    v["items"].as_array().cloned().unwrap_or_default()
}

#[derive(Template, WebTemplate)]
#[template(path = "overview.html")]
struct Overview {
    user: String,
    csrf: String,
    flash: Option<String>,
    mine: Vec<IncidentRow>,
    alarms: Vec<AlarmRow>,
    resources: Vec<ResourceRow>,
    /// Hosts with active alarms: (host id, host name, alarm names).
    alarmed: Vec<(String, String, String)>,
    tickets: Vec<TicketRow>,
    /// To-dos waiting for the visitor: (link, kind, name, what).
    todos: Vec<(String, String, String, String)>,
    /// The security panel, when the visitor may read the audit trail.
    security: Option<Security>,
}

/// The overview's security panel (ref. 2.5): what the audit trail of the
/// last 24 hours says about refused access.
struct Security {
    /// Sign-ins refused (HTTP 401).
    failed_logins: usize,
    /// Requests refused by policy (HTTP 403).
    denied: usize,
    /// API tokens used from an address not seen before.
    new_addresses: usize,
    /// The latest refusals: (when, user, operation, source address, status).
    recent: Vec<(String, String, String, String, String)>,
}

/// The security panel over audit records (newest first).
fn security_of(records: &[Value]) -> Security {
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
fn alarms_of<'a>(h: &Value, active: &'a [Value]) -> Vec<&'a Value> {
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
fn todo_row(t: &Value) -> (String, String, String, String) {
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
struct ResourceRow {
    region: String,
    hosts: usize,
    running: usize,
    alarmed: usize,
}

/// Hosts by region (their `region` tag), with how many have an agent
/// running and how many have an active alarm — an alarm whose resource is
/// the host's name or one of its addresses (with or without a port).
fn resource_summary(hosts: &[Value], active: &[Value]) -> Vec<ResourceRow> {
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

async fn overview(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let v = match visitor(&s, &headers, ip, "/console").await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let mine = api(
        &s,
        &v,
        Method::GET,
        &format!("/api/v1/incidents?assignee={}&limit=50", urlencode(&v.user)),
        None,
    )
    .await;
    let alarms = api(
        &s,
        &v,
        Method::GET,
        "/api/v1/alarms?status=alarm&limit=200",
        None,
    )
    .await;
    let hosts = api(&s, &v, Method::GET, "/api/v1/resources?limit=1000", None).await;
    let tickets = api(&s, &v, Method::GET, "/api/v1/tickets?limit=10", None).await;
    let todos = api(&s, &v, Method::GET, "/api/v1/todos", None).await;
    let day_ago = s.store.now() - 24 * 3600 * 1000;
    let audit = api(
        &s,
        &v,
        Method::GET,
        &format!("/api/v1/audit?since={day_ago}&limit=500"),
        None,
    )
    .await;
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
        tickets: tickets
            .map(|x| items(&x))
            .unwrap_or_default()
            .iter()
            .map(|t| ticket_row(t, "script_name"))
            .collect(),
    }
    .into_response()
}

// ------------------------------------------------------------ incidents

#[derive(Template, WebTemplate)]
#[template(path = "incidents.html")]
struct Incidents {
    user: String,
    csrf: String,
    flash: Option<String>,
    statuses: Vec<String>,
    levels: Vec<String>,
    status: String,
    level: String,
    rows: Vec<IncidentRow>,
    next: Option<String>,
}

#[derive(Deserialize, Default)]
struct ListQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    level: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    cursor: String,
    #[serde(default)]
    done: Option<String>,
}

async fn incidents(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Response {
    let mut uri = "/api/v1/incidents?limit=50".to_string();
    for (k, x) in [
        ("status", &q.status),
        ("level", &q.level),
        ("cursor", &q.cursor),
    ] {
        if !x.is_empty() {
            uri.push_str(&format!("&{k}={}", urlencode(x)));
        }
    }
    let (v, list) = match page_data(&s, &headers, ip, "/console/incidents", &uri).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    Incidents {
        user: v.user.clone(),
        csrf: v.csrf.clone(),
        flash: None,
        statuses: [
            "unaccepted",
            "accepted",
            "rejected",
            "to_be_verified",
            "completed",
            "closed",
        ]
        .map(String::from)
        .to_vec(),
        levels: ["P1", "P2", "P3", "P4", "P5"].map(String::from).to_vec(),
        status: q.status,
        level: q.level,
        rows: items(&list).iter().map(incident_row).collect(),
        next: list["next_cursor"].as_str().map(String::from),
    }
    .into_response()
}

struct HistoryRow {
    at: String,
    action: String,
    actor: String,
    summary: String,
    /// The page of the ticket the entry started (script or job ticket).
    ticket: Option<String>,
}

/// One action form of the incident page.
struct ActionFormView {
    /// The API's action (also the button id).
    action: &'static str,
    label: &'static str,
    inputs: Vec<forms::Input>,
    /// The refusal of this form's last submission.
    error: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "incident.html")]
struct IncidentPage {
    user: String,
    csrf: String,
    flash: Option<String>,
    i: IncidentRow,
    history: Vec<HistoryRow>,
    /// The forms of the actions allowed in the incident's status.
    ops: Vec<ActionFormView>,
    /// "Execute response plan", while the incident is not finished.
    plan: Option<ActionFormView>,
    /// The incident's alarms: (level, name, resource, status).
    alarms: Vec<AlarmRow>,
    /// The escalation's state, if a policy escalates it.
    escalation: Option<String>,
}

/// A refused form on the incident page: which one, why, what was typed.
struct Refused {
    action: String,
    error: String,
    typed: forms::Raw,
}

async fn incident(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
) -> Response {
    let here = format!("/console/incidents/{id}");
    let v = match visitor(&s, &headers, ip, &here).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let flash = q.done.map(|a| format!("Done: {}.", a.replace('_', " ")));
    incident_page(&s, &v, &id, flash, None).await
}

/// The incident page: facts, the forms of the actions its status allows
/// (ref. 7.1.3), response plan, alarms, escalation and the history as a
/// timeline. `refused` brings one form back with its message and values.
async fn incident_page(
    s: &AppState,
    v: &Visitor,
    id: &str,
    flash: Option<String>,
    refused: Option<Refused>,
) -> Response {
    let d = match api(
        s,
        v,
        Method::GET,
        &format!("/api/v1/incidents/{}", urlencode(id)),
        None,
    )
    .await
    {
        Ok(d) => d,
        Err(p) => return error_page(v, p),
    };
    let inc = if d["incident"].is_object() {
        &d["incident"]
    } else {
        &d
    };
    let status =
        coc_domain::incident::IncidentStatus::parse(inc["status"].as_str().unwrap_or("")).ok();
    let allowed = status
        .map(coc_domain::incident::allowed_actions)
        .unwrap_or_default();
    let form = |action: &'static str, label: &'static str, fields: &[forms::Field]| {
        let (typed, error) = match &refused {
            Some(r) if r.action == action => (r.typed.clone(), Some(r.error.clone())),
            _ => (forms::Raw::new(), None),
        };
        let mut inputs = forms::inputs(fields, &typed);
        for i in &mut inputs {
            i.id = format!("{action}-{}", i.id);
        }
        ActionFormView {
            action,
            label,
            inputs,
            error,
        }
    };
    let ops = modules::INCIDENT_OPS
        .iter()
        .filter(|o| allowed.contains(&o.action))
        .map(|o| form(o.action, o.label, o.fields))
        .collect();
    let mut plan = status
        .is_some_and(|st| !st.is_terminal())
        .then(|| form("plan", "Execute response plan", modules::RUN_PLAN));
    if let Some(p) = plan.as_mut() {
        offer_hosts(s, v, &mut p.inputs).await;
    }
    let escalation = api(
        s,
        v,
        Method::GET,
        &format!("/api/v1/incidents/{}/escalation", urlencode(id)),
        None,
    )
    .await
    .ok()
    .filter(|e| e.is_object())
    .map(|e| {
        format!(
            "{}: {} level(s) notified, next level {} at {}",
            text(&e["state"]),
            text(&e["fired"]),
            e["level"].as_i64().unwrap_or(0) + 1,
            when(&e["next_at"])
        )
    });
    let mut history = vec![];
    for h in d["history"].as_array().into_iter().flatten() {
        let ticket = match h["ticket_id"].as_str() {
            // A plan starts a script or a job ticket: the one that exists.
            Some(t) => {
                let t = urlencode(t);
                let script = format!("/api/v1/tickets/{t}");
                let kind = match api(s, v, Method::GET, &script, None).await {
                    Ok(_) => "tickets",
                    Err(_) => "job-tickets",
                };
                Some(format!("/console/{kind}/{t}"))
            }
            None => None,
        };
        history.push(HistoryRow {
            at: when(&h["at"]),
            action: text(&h["action"]),
            actor: text(&h["actor"]),
            summary: text(&h["summary"]),
            ticket,
        });
    }
    let status = if refused.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = IncidentPage {
        user: v.user.clone(),
        csrf: v.csrf.clone(),
        flash,
        i: incident_row(inc),
        history,
        ops,
        plan,
        alarms: d["alarms"]
            .as_array()
            .into_iter()
            .flatten()
            .map(alarm_row)
            .collect(),
        escalation,
    };
    (status, page).into_response()
}

/// `POST /console/incidents/{id}/actions`: one action's form (`action`
/// and its `f.` fields) through the API; back to the incident, or the
/// page again with that form refused, as typed. Nothing changes on a
/// refusal.
async fn incident_action(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let here = format!("/console/incidents/{id}");
    let v = match form_visitor(&s, &headers, ip, &here, &form_value(&form, "csrf")).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let action = form_value(&form, "action");
    let typed = forms::submitted(&form);
    // What the form is: its fields, the body they go over, the API path.
    let (fields, base, path) = if action == "plan" {
        (modules::RUN_PLAN, json!({"hosts": []}), "plan")
    } else {
        let Some(op) = modules::INCIDENT_OPS.iter().find(|o| o.action == action) else {
            return error_page(
                &v,
                Problem {
                    status: StatusCode::BAD_REQUEST,
                    detail: format!("'{action}' is not an incident action"),
                },
            );
        };
        let mut base: Value = serde_json::from_str(op.base).unwrap_or_else(|_| json!({}));
        base["action"] = json!(action);
        (op.fields, base, "actions")
    };
    let outcome = match forms::build_over(fields, &typed, &base) {
        Ok(body) => {
            let uri = format!("/api/v1/incidents/{}/{path}", urlencode(&id));
            api(&s, &v, Method::POST, &uri, Some(body))
                .await
                .map(|t| match path {
                    // A plan's ticket: a script or a job ticket.
                    "plan" => {
                        let kind = if t["job_name"].is_string() {
                            "job-tickets"
                        } else {
                            "tickets"
                        };
                        format!("/console/{kind}/{}", urlencode(&text(&t["id"])))
                    }
                    _ => format!("{here}?done={}", urlencode(&action)),
                })
        }
        Err(detail) => Err(Problem {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            detail,
        }),
    };
    match outcome {
        Ok(to) => Redirect::to(&to).into_response(),
        Err(p) if p.status == StatusCode::NOT_FOUND && action != "plan" => error_page(&v, p),
        Err(p) => {
            let all: Vec<&forms::Field> = fields.iter().collect();
            let error = modules::required(&all, &p.detail).unwrap_or(p.detail);
            let refused = Refused {
                action,
                error,
                typed,
            };
            incident_page(&s, &v, &id, None, Some(refused)).await
        }
    }
}

// --------------------------------------------------------------- alarms

#[derive(Template, WebTemplate)]
#[template(path = "alarms.html")]
struct Alarms {
    user: String,
    csrf: String,
    flash: Option<String>,
    status: String,
    name: String,
    chart: String,
    rows: Vec<AlarmRow>,
    /// The fields of "Convert to incident".
    incident: Vec<forms::Input>,
    error: Option<String>,
}

async fn alarms(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Response {
    let mut uri = "/api/v1/alarms?limit=200".to_string();
    for (k, x) in [("status", &q.status), ("name", &q.name)] {
        if !x.is_empty() {
            uri.push_str(&format!("&{k}={}", urlencode(x)));
        }
    }
    let (v, list) = match page_data(&s, &headers, ip, "/console/alarms", &uri).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let flash = match q.done.as_deref() {
        Some("clear") => Some("The selected alarms are cleared.".to_string()),
        _ => None,
    };
    alarms_page(&v, &list, q, flash, None, &forms::Raw::new(), s.store.now()).into_response()
}

/// The alarms page over an API list, with the convert form as typed.
fn alarms_page(
    v: &Visitor,
    list: &Value,
    q: ListQuery,
    flash: Option<String>,
    error: Option<String>,
    typed: &forms::Raw,
    now: i64,
) -> Alarms {
    let all = items(list);
    let points: Vec<(i64, String)> = all
        .iter()
        .filter_map(|a| Some((a["last_seen"].as_i64()?, text(&a["level"]))))
        .collect();
    Alarms {
        user: v.user.clone(),
        csrf: v.csrf.clone(),
        flash,
        status: q.status,
        name: q.name,
        chart: chart::volume_by_level(&points, now, 24),
        rows: all.iter().map(alarm_row).collect(),
        incident: forms::inputs(modules::INCIDENT, typed),
        error,
    }
}

/// `POST /console/alarms/act`: clear the selected alarms (with a remark)
/// or convert them to one incident (ref. 6.2.1), through the API. A
/// refusal shows the alarms again with the API's message and the
/// incident fields as typed; nothing is changed.
async fn alarm_act(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let value = |k: &str| form_value(&form, k);
    let here = "/console/alarms";
    let v = match form_visitor(&s, &headers, ip, here, &value("csrf")).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let ids: Vec<String> = form
        .iter()
        .filter(|(n, _)| n == "ids")
        .map(|(_, x)| x.clone())
        .collect();
    let typed = forms::submitted(&form);
    let outcome = if ids.is_empty() {
        Err(Problem {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            detail: "select at least one alarm".into(),
        })
    } else if value("do") == "clear" {
        let body = serde_json::json!({"ids": ids, "remark": value("remark")});
        api(&s, &v, Method::POST, "/api/v1/alarms/clear", Some(body))
            .await
            .map(|_| "/console/alarms?done=clear".to_string())
    } else {
        match forms::build(modules::INCIDENT, &typed) {
            Ok(incident) => {
                let body = serde_json::json!({"alarm_ids": ids, "incident": incident});
                api(&s, &v, Method::POST, "/api/v1/alarms/convert", Some(body))
                    .await
                    .map(|d| format!("/console/incidents/{}", urlencode(&text(&d["id"]))))
            }
            Err(detail) => Err(Problem {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                detail,
            }),
        }
    };
    match outcome {
        Ok(to) => Redirect::to(&to).into_response(),
        Err(p) => match api(&s, &v, Method::GET, "/api/v1/alarms?limit=200", None).await {
            Ok(list) => {
                let fields: Vec<&forms::Field> = modules::INCIDENT.iter().collect();
                let msg = modules::required(&fields, &p.detail).unwrap_or(p.detail);
                let q = ListQuery::default();
                let page = alarms_page(&v, &list, q, None, Some(msg), &typed, s.store.now());
                (p.status, page).into_response()
            }
            Err(p) => error_page(&v, p),
        },
    }
}

// -------------------------------------------------------------- on call

#[derive(Template, WebTemplate)]
#[template(path = "oncall.html")]
struct OnCall {
    user: String,
    csrf: String,
    flash: Option<String>,
    /// The name of every scenario.
    scenarios: Vec<String>,
    roles: Vec<String>,
    scenario: String,
    role: String,
    at: String,
    application: String,
    region: String,
    /// (instant, people) once asked.
    answer: Option<(String, Vec<String>)>,
    error: Option<String>,
}

/// Query of the on-call page; every field as typed.
#[derive(Deserialize, Default)]
struct WhoQuery {
    #[serde(default)]
    scenario: String,
    #[serde(default)]
    role: String,
    /// `YYYY-MM-DDTHH:MM` in UTC; empty: now.
    #[serde(default)]
    at: String,
    #[serde(default)]
    application: String,
    #[serde(default)]
    region: String,
}

/// `GET /console/oncall`: who is on call for a scenario's role at an
/// instant (ref. 11.2), asked of `GET /api/v1/oncall/who`. A GET form,
/// so an answer has an address to share.
async fn oncall(
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

// -------------------------------------------------------------- tickets

#[derive(Template, WebTemplate)]
#[template(path = "tickets.html")]
struct Tickets {
    user: String,
    csrf: String,
    flash: Option<String>,
    heading: String,
    base: String,
    chart: String,
    rows: Vec<TicketRow>,
}

async fn tickets(
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

async fn job_tickets(
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

async fn list_tickets(
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

struct TaskRow {
    id: String,
    host: String,
    batch: String,
    status: String,
    exit: String,
    output: String,
    /// What "Cancel" names while the host has not finished (the script
    /// ticket's task id, the job ticket's host id); none once it has.
    cancel: Option<String>,
}

/// Whether a ticket (script or job) in this status has ended.
fn finished(status: &Value) -> bool {
    coc_domain::ticket::TicketStatus::parse(status.as_str().unwrap_or(""))
        .is_ok_and(|st| st.is_terminal())
}

/// Whether a host's run can still be cancelled.
fn unfinished(status: &Value) -> bool {
    matches!(status.as_str(), Some("pending" | "executing"))
}

/// A job ticket's approval task (ref. 10.1.2), as shown.
struct ApprovalRow {
    step: i64,
    task: i64,
    /// "step 2 · approve-restart"
    name: String,
    status: String,
    /// "by ann at … — comment", once decided.
    decided: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "ticket.html")]
struct TicketPage {
    user: String,
    csrf: String,
    flash: Option<String>,
    t: TicketRow,
    events: Option<String>,
    tasks: Vec<TaskRow>,
    /// (action, label) allowed in the ticket's state.
    actions: Vec<(String, String)>,
    action_url: String,
    /// A job ticket's steps.
    steps: Vec<StepRow>,
    /// A job ticket's approval tasks.
    approvals: Vec<ApprovalRow>,
}

/// One step of a job ticket as shown.
struct StepRow {
    name: String,
    status: String,
    done: i64,
    total: i64,
    ok: i64,
    failed: i64,
}

/// The operator actions allowed on a script ticket (`job` false) or a job
/// ticket in `status`, as (API action, button label).
fn allowed_actions(status: &str, job: bool) -> Vec<(String, String)> {
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

async fn ticket(
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
                output: text(&x["output"]),
                cancel: (running && unfinished(&x["status"])).then(|| text(&x["id"])),
            })
            .collect(),
        approvals: vec![],
    }
    .into_response()
}

async fn job_ticket(
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
                    output: text(&r["output"]),
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

// -------------------------------------------------------------- scripts

struct ScriptRow {
    id: String,
    name: String,
    kind: String,
    risk: String,
    version: String,
    review: String,
    system: String,
}

fn script_row(x: &Value) -> ScriptRow {
    ScriptRow {
        id: text(&x["id"]),
        name: text(&x["name"]),
        kind: text(&x["type"]),
        risk: text(&x["risk_level"]),
        version: text(&x["version"]),
        review: text(&x["review"]["status"]).replace('_', " "),
        system: if x["system"] == true { "yes" } else { "" }.into(),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "scripts.html")]
struct Scripts {
    user: String,
    csrf: String,
    flash: Option<String>,
    rows: Vec<ScriptRow>,
}

async fn scripts(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let v = match visitor(&s, &headers, ip, "/console/scripts").await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match api(&s, &v, Method::GET, "/api/v1/scripts", None).await {
        Ok(l) => Scripts {
            user: v.user.clone(),
            csrf: v.csrf.clone(),
            flash: None,
            rows: items(&l).iter().map(script_row).collect(),
        }
        .into_response(),
        Err(p) => error_page(&v, p),
    }
}

/// `GET` and `POST /console/{slug}/new` for a section whose list and
/// record pages are the console's own (scripts, incidents): its New form
/// is the module's, declared in [`modules::MODULES`].
fn own_new(slug: &'static str) -> axum::routing::MethodRouter<AppState> {
    get(
        move |st: State<AppState>,
              ip: ConnectInfo<SocketAddr>,
              headers: HeaderMap,
              q: Query<Vec<(String, String)>>| {
            modules::new_form(st, ip, headers, Path(slug.into()), q)
        },
    )
    .post(
        move |st: State<AppState>,
              ip: ConnectInfo<SocketAddr>,
              headers: HeaderMap,
              form: Form<Vec<(String, String)>>| {
            modules::create(st, ip, headers, Path(slug.into()), form)
        },
    )
}

#[derive(Template, WebTemplate)]
#[template(path = "script.html")]
struct ScriptPage {
    user: String,
    csrf: String,
    flash: Option<String>,
    x: ScriptRow,
    content: String,
    params: Vec<String>,
    /// (id, name, agent status)
    hosts: Vec<(String, String, String)>,
    /// High-risk commands found in the content (ref. 5.1.1): (line, rule
    /// name, the line).
    findings: Vec<(String, String, String)>,
}

async fn script(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
) -> Response {
    let here = format!("/console/scripts/{id}");
    let (v, d) = match page_data(
        &s,
        &headers,
        ip,
        &here,
        &format!("/api/v1/scripts/{}", urlencode(&id)),
    )
    .await
    {
        Ok(x) => x,
        Err(r) => return r,
    };
    let hosts = registered_hosts(&s, &v).await;
    ScriptPage {
        user: v.user.clone(),
        csrf: v.csrf.clone(),
        flash: q.done.map(|a| format!("Done: {a}.")),
        x: script_row(&d),
        content: text(&d["content"]),
        params: d["params"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| text(&p["name"]))
            .collect(),
        hosts,
        findings: d["high_risk_findings"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| (text(&f["line"]), text(&f["name"]), text(&f["text"])))
            .collect(),
    }
    .into_response()
}

/// A host's name by its resource id, for the visitor (the id itself for
/// a host no longer registered).
async fn host_names(s: &AppState, v: &Visitor) -> impl Fn(&Value) -> String + use<> {
    let names: std::collections::HashMap<String, String> = registered_hosts(s, v)
        .await
        .into_iter()
        .map(|(id, name, _)| (id, name))
        .collect();
    move |id: &Value| {
        let id = text(id);
        names.get(&id).cloned().unwrap_or(id)
    }
}

/// Offers the registered hosts — "name (agent status)" — to the host
/// pickers among `inputs` ([`forms::Kind::Hosts`]), if there are any.
pub(super) async fn offer_hosts(s: &AppState, v: &Visitor, inputs: &mut [forms::Input]) {
    if forms::picks_hosts(inputs.iter()) {
        let hosts: Vec<(String, String)> = registered_hosts(s, v)
            .await
            .into_iter()
            .map(|(id, name, status)| (id, format!("{name} ({status})")))
            .collect();
        forms::offer_hosts(inputs, &hosts);
    }
}

/// The first value of `name` in a submitted form, or empty.
pub(super) fn form_value(form: &[(String, String)], name: &str) -> String {
    form.iter()
        .find(|(n, _)| n == name)
        .map(|(_, x)| x.clone())
        .unwrap_or_default()
}

/// The hosts registered with COC, as (resource id, host name, agent
/// status), for the visitor; none when the visitor may not list them.
pub(super) async fn registered_hosts(s: &AppState, v: &Visitor) -> Vec<(String, String, String)> {
    api(s, v, Method::GET, "/api/v1/resources?limit=1000", None)
        .await
        .map(|l| items(&l))
        .unwrap_or_default()
        .iter()
        .map(|h| {
            (
                text(&h["id"]),
                text(&h["hostname"]),
                text(&h["agent_status"]),
            )
        })
        .collect()
}

async fn run_script(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let here = format!("/console/scripts/{id}");
    // Repeated fields (`host`) need the pairs, not a map.
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, x)| x.clone());
    let csrf = get("csrf").unwrap_or_default();
    let v = match form_visitor(&s, &headers, ip, &here, &csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let hosts: Vec<&String> = pairs
        .iter()
        .filter(|(k, _)| k == "host")
        .map(|(_, x)| x)
        .collect();
    let params: serde_json::Map<String, Value> = pairs
        .iter()
        .filter_map(|(k, x)| Some((k.strip_prefix("param.")?.to_string(), x)))
        .filter(|(_, x)| !x.is_empty())
        .map(|(k, x)| (k, json!(x)))
        .collect();
    let body = json!({"hosts": hosts, "params": params,
        "batch_policy": get("batch_policy").unwrap_or_else(|| "auto".into())});
    match api(
        &s,
        &v,
        Method::POST,
        &format!("/api/v1/scripts/{}/execute", urlencode(&id)),
        Some(body),
    )
    .await
    {
        Ok(t) => Redirect::to(&format!("/console/tickets/{}", text(&t["id"]))).into_response(),
        Err(p) => error_page(&v, p),
    }
}

#[derive(Deserialize)]
struct TicketActionForm {
    csrf: String,
    /// A ticket action (`pause`, …), `cancel` (one host) or, on a job
    /// ticket, `approve`/`reject` (one approval task) or `clone`.
    action: String,
    /// `cancel`: the task id (script ticket) or host id (job ticket).
    #[serde(default)]
    target: String,
    /// `approve`/`reject`: the approval's step and task index.
    #[serde(default)]
    step: i64,
    #[serde(default)]
    task: i64,
    /// `approve`/`reject`: the reviewer's comment.
    #[serde(default)]
    comment: String,
}

async fn ticket_action(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<TicketActionForm>,
) -> Response {
    act_on_ticket(s, ip, headers, "tickets", id, f).await
}

async fn job_ticket_action(
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
async fn act_on_ticket(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_security_panel_counts_refusals() {
        let records = vec![
            json!({"status": 403, "user_name": "ann", "trace": "deleteJobScript", "source_ip": "10.0.0.7", "at": 1_795_000_000_000_i64}),
            json!({"status": 200, "trace": "useTokenFromNewIp"}),
            json!({"status": 401, "user_name": "admin", "trace": "login", "source_ip": "10.0.0.8"}),
            json!({"status": 201, "trace": "createTicket"}),
        ];
        let sec = security_of(&records);
        assert_eq!(
            (sec.failed_logins, sec.denied, sec.new_addresses),
            (1, 1, 1)
        );
        assert_eq!(sec.recent.len(), 2);
        assert_eq!(
            (
                sec.recent[0].1.as_str(),
                sec.recent[0].3.as_str(),
                sec.recent[0].4.as_str()
            ),
            ("ann", "10.0.0.7", "403")
        );
    }

    #[test]
    fn hosts_by_region_with_their_alarms() {
        let hosts = vec![
            json!({"hostname": "db-1", "ips": ["10.0.0.1"], "agent_status": "running", "tags": {"region": "eu"}}),
            json!({"hostname": "web-1", "ips": ["10.0.0.2"], "agent_status": "offline", "tags": {"region": "eu"}}),
            json!({"hostname": "x", "ips": [], "agent_status": "running", "tags": {}}),
        ];
        let alarms = vec![
            json!({"resource_name": "db-1:9100"}),
            json!({"resource_id": "10.0.0.9"}),
        ];
        let r = resource_summary(&hosts, &alarms);
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].region.as_str(), r[0].hosts), ("(no region)", 1));
        let eu = &r[1];
        assert_eq!((eu.hosts, eu.running, eu.alarmed), (2, 1, 1));
    }
}
