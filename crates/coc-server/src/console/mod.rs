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
pub mod generic;
pub mod modules;
pub mod pages;
pub mod topology;

use pages::{alarm::*, incident::*, oncall::*, overview::*, script::*, session::*, ticket::*};

/// Largest API answer a page reads, bytes.
const MAX_API_BODY: usize = 16 * 1024 * 1024;

/// The console routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/console") }))
        .route("/console", get(overview))
        .route("/console/open", get(pages::overview::open))
        .route("/console/login", get(login_page).post(login))
        .route("/console/logout", post(logout))
        .route(
            "/console/act",
            get(pages::action_link::act_page).post(pages::action_link::act),
        )
        .route("/console/incidents", get(incidents))
        .route("/console/incidents/{id}", get(incident))
        .route("/console/incidents/{id}/actions", post(incident_action))
        .route("/console/alarms", get(alarms))
        .route("/console/scripts", get(scripts))
        .route("/console/scripts/new", own_new("scripts"))
        .route("/console/incidents/new", own_new("incidents"))
        .route("/console/alarms/act", post(alarm_act))
        .route("/console/oncall", get(oncall))
        .route(
            "/console/oncall/rotations/new",
            get(new_rotation).post(save_rotation),
        )
        .route("/console/oncall/rotations/remove", post(remove_rotation))
        .route(
            "/console/oncall/rotations/change",
            get(pages::oncall::change_form).post(pages::oncall::save_change),
        )
        .route(
            "/console/oncall/overrides/new",
            get(new_override).post(save_override),
        )
        .route("/console/oncall/calendar", get(calendar))
        .route("/console/oncall/feeds", post(create_feed))
        .route("/console/scripts/{id}", get(script))
        .route("/console/scripts/{id}/run", post(run_script))
        .route("/console/tickets", get(tickets))
        .route("/console/tickets/{id}", get(ticket))
        .route("/console/tickets/{id}/actions", post(ticket_action))
        .route("/console/job-tickets/{id}/actions", post(job_ticket_action))
        .route("/console/job-tickets", get(job_tickets))
        .route("/console/job-tickets/{id}", get(job_ticket))
        .route("/console/health-checks/new", own_new("health-checks"))
        .route(
            "/console/health-checks/{id}",
            get(pages::health::health_check),
        )
        .route("/console/{module}", get(generic::list))
        .route("/console/{module}/{id}", get(generic::detail))
        .route("/console/{module}/{id}/do", post(generic::operate))
        .route(
            "/console/{module}/{id}/op/{op}",
            get(generic::op_form).post(generic::op_submit),
        )
        .route(
            "/console/{module}/{id}/edit",
            get(generic::edit_form).post(generic::save),
        )
        .route(
            "/console/{module}/new",
            get(generic::new_form).post(generic::create),
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
    let resp = s.console_api().oneshot(req).await.map_err(|e| Problem {
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

/// The status of a form page: 422 when it comes back refused, else 200.
pub(crate) fn form_status(error: &Option<String>) -> StatusCode {
    if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
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
