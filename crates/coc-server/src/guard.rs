//! The one place every `/api/v1` call passes (A1–A5): authentication,
//! authorization against the caller's policies, and the audit record.
//!
//! For each request: the bearer token is resolved to a [`Principal`]
//! (401 if unknown, expired or revoked); the route's catalog action is
//! looked up in the route table ([`crate::api::routes`]) by its matched path (for `…/actions`
//! routes the verb is the body's `action`); the request is evaluated
//! against every policy attached to the user and the user's groups, with
//! the resource `<type>:<id>` and the context keys `coc:UserName`,
//! `coc:Groups`, `coc:SourceIp`, `coc:CurrentTime`, `coc:SecureTransport`
//! (403 `forbidden` naming the decision if denied). Every mutating call —
//! allowed or not — then leaves exactly one audit record with its trace
//! name, caller, address, resource, redacted request summary and status.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use coc_domain::access::{
    Action, Decision, NamedPolicy, camel, evaluate, may_allow_with_resource_attributes, trace_for,
};
use coc_store::access::Principal;
use coc_store::audit::NewAudit;

use crate::api::catalog::{Check, RouteDoc};
use crate::{API_BODY_LIMIT, ApiError, AppState, bearer};

/// Header by which a support user picks the tenant that granted them access.
pub const TENANT_HEADER: &str = "x-coc-tenant";

/// What the guard decided for a request (attached to the request for
/// handlers that need it).
#[derive(Debug, Clone)]
pub struct Checked {
    /// The catalog action.
    pub action: String,
    /// The resource, `<type>:<id>`.
    pub resource: String,
    /// The caller's policies.
    pub policies: std::sync::Arc<Vec<NamedPolicy>>,
    /// The caller's context keys.
    pub context: BTreeMap<String, Vec<String>>,
}

impl Checked {
    /// Whether `action` on `resource` is allowed once the record's
    /// attributes (`coc:Region`, `coc:Application`, …) are known (A3).
    pub fn permits(&self, action: &str, resource: &str, attrs: &[(&str, Option<&str>)]) -> bool {
        self.decide(action, resource, attrs).allowed()
    }

    fn decide(&self, action: &str, resource: &str, attrs: &[(&str, Option<&str>)]) -> Decision {
        let mut context = self.context.clone();
        for (k, v) in attrs {
            if let Some(v) = v {
                context.insert((*k).to_string(), vec![(*v).to_string()]);
            }
        }
        evaluate(
            &self.policies,
            &coc_domain::access::Request {
                action: action.into(),
                resource: resource.into(),
                context,
            },
        )
    }

    /// Like [`Checked::permits`] for this request's action.
    ///
    /// Errors: `forbidden` naming the deciding statement.
    pub fn require(&self, resource: &str, attrs: &[(&str, Option<&str>)]) -> Result<(), ApiError> {
        match self.decide(&self.action, resource, attrs) {
            Decision::Allow { .. } => Ok(()),
            d => Err(ApiError::new(
                crate::error::ErrorCode::Forbidden,
                format!("may not {} on {resource}: {}", self.action, why(&d)),
            )),
        }
    }
}

fn why(d: &Decision) -> String {
    match d {
        Decision::ExplicitDeny { policy, statement } => {
            format!("denied by statement {statement} of policy '{policy}'")
        }
        _ => "no policy allows it".to_string(),
    }
}

fn resource_of(pattern: &str, path: &str, tag: &str) -> (String, Option<String>) {
    let id = pattern
        .split('/')
        .zip(path.split('/'))
        .find(|(p, _)| *p == "{id}")
        .map(|(_, v)| v.to_string());
    (format!("{tag}:{}", id.as_deref().unwrap_or("*")), id)
}

/// Builds the evaluation context of a principal at `now_ms` (Unix ms);
/// `secure`: the request came over TLS (`coc:SecureTransport`).
pub fn context(
    p: &Principal,
    ip: Option<&str>,
    secure: bool,
    now_ms: i64,
) -> BTreeMap<String, Vec<String>> {
    let mut c = BTreeMap::new();
    c.insert("coc:UserName".into(), vec![p.user_name.clone()]);
    c.insert("coc:Groups".into(), p.groups.clone());
    if let Some(ip) = ip {
        c.insert("coc:SourceIp".into(), vec![ip.to_string()]);
    }
    let now = chrono::DateTime::from_timestamp_millis(now_ms).unwrap_or_default();
    c.insert("coc:CurrentTime".into(), vec![now.to_rfc3339()]);
    c.insert("coc:SecureTransport".into(), vec![secure.to_string()]);
    c
}

/// 405 `method_not_allowed` naming the methods the route has (`Allow`).
pub fn method_not_allowed(method: &Method, allowed: &[&str]) -> Response {
    let list = allowed.join(", ");
    let mut r = ApiError::new(
        crate::error::ErrorCode::MethodNotAllowed,
        format!("{method} is not defined here; this route answers {list}"),
    )
    .into_response();
    if let Ok(v) = axum::http::HeaderValue::from_str(&list) {
        r.headers_mut().insert(axum::http::header::ALLOW, v);
    }
    r
}

/// The middleware. Installed with `route_layer` so the matched path is known.
/// The guard's state: the application and the route table it checks
/// against (given by the wiring, so the guard imports no API module).
#[derive(Clone)]
pub struct Guard {
    /// The application.
    pub app: AppState,
    /// Every guarded and public route.
    pub routes: &'static [RouteDoc],
}

/// The middleware (see the module doc).
pub async fn guard(State(g): State<Guard>, req: Request, next: Next) -> Response {
    // No COC id, name or filter holds a NUL character, and PostgreSQL
    // cannot store or compare one: refuse it in the path or query at once.
    if let Some(pq) = req.uri().path_and_query()
        && pq.as_str().to_ascii_lowercase().contains("%00")
    {
        return ApiError::new(
            crate::error::ErrorCode::BadQuery,
            "the address contains a NUL character (%00)",
        )
        .into_response();
    }
    let s = g.app;
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    // A bearer token, or the console's session cookie (then writes need
    // the CSRF header).
    let (token, via_cookie) = match bearer(req.headers()) {
        Some(t) => (t.to_string(), false),
        None => match crate::session::cookie(req.headers(), crate::session::SESSION_COOKIE) {
            Some(c) => (c.to_string(), true),
            None => {
                return ApiError::new(
                    crate::error::ErrorCode::Unauthorized,
                    "send 'Authorization: Bearer <token>' or log in",
                )
                .into_response();
            }
        },
    };
    if via_cookie && req.method() != Method::GET {
        let sent = req
            .headers()
            .get(crate::session::CSRF_HEADER)
            .and_then(|v| v.to_str().ok());
        if sent != Some(crate::session::csrf_of(&token).as_str()) {
            return ApiError::new(
                crate::error::ErrorCode::CsrfFailed,
                "send the coc_csrf cookie's value in the X-CSRF-Token header",
            )
            .into_response();
        }
    }
    let principal = match s.store.authenticate_token(&token, ip.as_deref()).await {
        Ok(Some(p)) => p,
        Ok(None) => {
            return ApiError::new(
                crate::error::ErrorCode::Unauthorized,
                "the token is not valid, expired or revoked",
            )
            .into_response();
        }
        Err(e) => return ApiError::from(e).into_response(),
    };
    // A token used from an address it never came from: audited with the
    // answer the request got (a refused request is recorded as refused).
    let new_ip = principal.new_ip.then(|| NewAudit {
        trace: "useTokenFromNewIp".into(),
        action: "coc:token:use".into(),
        user_name: principal.user_name.clone(),
        source_ip: ip.clone(),
        method: req.method().to_string(),
        path: req.uri().path().to_string(),
        resource_type: "token".into(),
        resource_id: principal.token_id.clone(),
        request: serde_json::Value::Null,
        status: 0,
    });
    let tenant = principal.tenant.clone();
    let response = authorize(&s, g.routes, req, next, principal, ip).await;
    if let Some(mut a) = new_ip {
        a.status = i64::from(response.status().as_u16());
        if let Err(e) = s.store.append_audit(&tenant, &a).await {
            tracing::error!(error = %e, "audit record not written");
        }
    }
    response
}

/// The rest of [`guard`] for an authenticated principal: tenant, route,
/// policy decision, the handler, and the audit record of a mutation.
async fn authorize(
    s: &AppState,
    routes: &[RouteDoc],
    req: Request,
    next: Next,
    principal: Principal,
    ip: Option<String>,
) -> Response {
    // O&M authorization (A6): a support user acts in another tenant only
    // through an active grant, with the grant's policy alone, and is
    // audited as "user@tenant (grant id)".
    let mut principal = principal;
    let mut granted = None;
    if let Some(target) = req
        .headers()
        .get(TENANT_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        && target != principal.tenant
    {
        match s
            .store
            .active_grant(&target, &principal.tenant, &principal.user_name)
            .await
        {
            Ok(Some((g, policy))) => {
                principal.user_name = format!(
                    "{}@{} (grant {})",
                    principal.user_name, principal.tenant, g.id
                );
                principal.tenant = target;
                granted = Some(policy);
            }
            Ok(None) => {
                return ApiError::new(
                    crate::error::ErrorCode::Forbidden,
                    format!("no active O&M authorization for tenant '{target}'"),
                )
                .into_response();
            }
            Err(e) => return ApiError::from(e).into_response(),
        }
    }
    let matched = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_default();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let Some(route) = routes
        .iter()
        .find(|r| r.path == matched && r.method == method.as_str())
    else {
        // A method the route does not define (PATCH, TRACE …).
        let allowed: Vec<&str> = routes
            .iter()
            .filter(|r| r.path == matched)
            .map(|r| r.method)
            .collect();
        return method_not_allowed(&method, &allowed);
    };
    let mutating = method != Method::GET;
    let (parts, body) = req.into_parts();
    let limit = route.binary.unwrap_or(API_BODY_LIMIT);
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => {
            return ApiError::new(
                crate::error::ErrorCode::PayloadTooLarge,
                format!("this route's bodies are limited to {limit} bytes"),
            )
            .into_response();
        }
    };
    // A binary body (an agent build) is not JSON: audited as none.
    let json: serde_json::Value = match route.binary {
        Some(_) => serde_json::Value::Null,
        None => serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    };
    // The action checked: the route's, or for `…/actions` routes the one
    // the body names (a name outside the catalog keeps the wildcard: the
    // handler refuses the body, so nothing can change).
    let action = match route.check {
        Check::Action(a) => a.as_str().to_string(),
        Check::BodyAction(wildcard) => {
            let module = wildcard.trim_end_matches(":*");
            let verb = json
                .get("action")
                .and_then(|v| v.as_str())
                .map(camel)
                .unwrap_or_default();
            Action::parse(&format!("{module}:{verb}"))
                .map_or_else(|| wildcard.to_string(), |a| a.as_str().to_string())
        }
        Check::Public => String::new(),
    };
    let (resource, resource_id) = resource_of(route.path, &path, route.tag);
    let policies = match granted {
        Some(p) => std::sync::Arc::new(vec![p]),
        None => match s
            .store
            .policies_for(&principal.tenant, &principal.user_id)
            .await
        {
            Ok(p) => std::sync::Arc::new(p),
            Err(e) => return ApiError::from(e).into_response(),
        },
    };
    let ctx = context(&principal, ip.as_deref(), s.tls, s.store.now());
    let decision = if action.ends_with(":*") {
        // The body names no known action: the handler refuses it (400/422),
        // so nothing can change; let it say why.
        None
    } else {
        let r = coc_domain::access::Request {
            action: action.clone(),
            resource: resource.clone(),
            context: ctx.clone(),
        };
        match evaluate(&policies, &r) {
            // An Allow that depends on the record's attributes: the handler
            // decides per record (alarms, incidents).
            Decision::ImplicitDeny
                if matches!(route.tag, "alarm" | "incident" | "resource")
                    && may_allow_with_resource_attributes(&policies, &r) =>
            {
                None
            }
            d => Some(d),
        }
    };
    let audit = |status: u16| NewAudit {
        trace: trace_for(&action),
        action: action.clone(),
        user_name: principal.user_name.clone(),
        source_ip: ip.clone(),
        method: method.to_string(),
        path: path.clone(),
        resource_type: route.tag.to_string(),
        resource_id: resource_id.clone(),
        request: json.clone(),
        status: i64::from(status),
    };
    let response = match &decision {
        Some(d) if !d.allowed() => ApiError::new(
            crate::error::ErrorCode::Forbidden,
            format!(
                "{} may not {action} on {resource}: {}",
                principal.user_name,
                why(d)
            ),
        )
        .into_response(),
        _ => {
            let mut req = Request::from_parts(parts, Body::from(bytes));
            req.extensions_mut().insert(principal.clone());
            req.extensions_mut().insert(Checked {
                action: action.clone(),
                resource: resource.clone(),
                policies: policies.clone(),
                context: ctx.clone(),
            });
            next.run(req).await
        }
    };
    if !mutating {
        return response;
    }
    let status = response.status().as_u16();
    let mut record = audit(status);
    // A create names no record in its path: the record it made is the
    // answer's `id`.
    let response = if record.resource_id.is_none() && response.status().is_success() {
        let (parts, body) = response.into_parts();
        match axum::body::to_bytes(body, crate::INGEST_BODY_LIMIT).await {
            Ok(bytes) => {
                record.resource_id = serde_json::from_slice::<serde_json::Value>(&bytes)
                    .ok()
                    .and_then(|v| v.get("id").and_then(|x| x.as_str()).map(str::to_string));
                Response::from_parts(parts, Body::from(bytes))
            }
            Err(_) => Response::from_parts(parts, Body::empty()),
        }
    } else {
        response
    };
    if let Err(e) = s.store.append_audit(&principal.tenant, &record).await {
        tracing::error!(error = %e, "audit record not written");
    }
    response
}
