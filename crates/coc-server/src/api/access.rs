//! Access API (A1, A2, A5): users, groups, policies and attachments, API
//! tokens, the policy simulator, and the audit trail.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};
use coc_domain::access::{Decision, evaluate};
use coc_store::Paged;
use coc_store::access::{ApiToken, Group, NewToken, Policy, Principal, User};
use coc_store::audit::{AuditFilter, AuditRecord};
use serde::Deserialize;

use super::PageQuery;
use super::catalog::{RouteDoc, route};
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery};

/// Body of `POST /api/v1/users`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// Login name.
    pub name: String,
    /// Display name.
    #[serde(default)]
    pub display_name: String,
    /// Password (≥ 8 characters); none: token-only user.
    #[serde(default)]
    pub password: Option<String>,
}

/// Body of `POST /api/v1/groups`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGroup {
    /// Name.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
}

/// Body of `POST /api/v1/groups/{id}/members`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// User name or id.
    pub user: String,
}

/// Body of `POST /api/v1/policies` and `PUT /api/v1/policies/{id}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyBody {
    /// Name (create only).
    #[serde(default)]
    pub name: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// The policy document, as a JSON object or as JSON text.
    pub document: serde_json::Value,
}

/// Body of `POST /api/v1/policies/{id}/attach` and `…/detach`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Attachment {
    /// `user` or `group`.
    #[serde(rename = "type")]
    pub kind: String,
    /// User or group name (or id).
    pub name: String,
}

/// Body of `POST /api/v1/tokens`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// Name.
    pub name: String,
    /// Owner (default: the caller).
    #[serde(default)]
    pub user: Option<String>,
    /// Expiry, Unix ms.
    #[serde(default)]
    pub expires_at: Option<i64>,
}

/// Body of `POST /api/v1/policies/simulate`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Simulate {
    /// User name (default: the caller).
    #[serde(default)]
    pub user: Option<String>,
    /// Catalog action.
    pub action: String,
    /// Resource `<type>:<id>` (default `*`).
    #[serde(default)]
    pub resource: Option<String>,
    /// Extra context keys (`coc:Region`, `coc:SourceIp`, …) → values.
    #[serde(default)]
    pub context: std::collections::BTreeMap<String, Vec<String>>,
}

/// Answer of `POST /api/v1/policies/simulate`: what the guard would
/// decide, and why.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Simulation {
    /// The user evaluated.
    pub user: String,
    /// The action asked.
    pub action: String,
    /// The resource `<type>:<id>` evaluated.
    pub resource: String,
    /// Whether it is allowed.
    pub allowed: bool,
    /// The decision with the policy and statement that made it.
    pub decision: Decision,
    /// The decision in words.
    pub explanation: String,
    /// The record attributes it was evaluated with (key → value or null).
    pub attributes: std::collections::BTreeMap<String, Option<String>>,
    /// A remark (e.g. evaluated without record attributes).
    pub note: Option<String>,
    /// Names of the policies evaluated.
    pub policies: Vec<String>,
}

/// Query of `GET /api/v1/audit`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// User name.
    pub user: Option<String>,
    /// Trace name.
    pub trace: Option<String>,
    /// Resource type.
    pub resource_type: Option<String>,
    /// Resource id.
    pub resource_id: Option<String>,
    /// at ≥ since (Unix ms).
    pub since: Option<i64>,
    /// at < until (Unix ms).
    pub until: Option<i64>,
    /// Page size.
    pub limit: Option<u32>,
    /// Cursor.
    pub cursor: Option<String>,
}

/// The routes this module serves, with what the guard checks and what
/// the OpenAPI document says of them.
pub const ROUTES: &[RouteDoc] = &[
    route!(
        "GET",
        "/api/v1/users",
        "user",
        "List users",
        UserList,
        list = coc_store::access::User
    ),
    route!(
        "POST",
        "/api/v1/users",
        "user",
        "Create a user (password hashed with argon2id)",
        UserCreate,
        body = CreateUser,
        created = coc_store::access::User
    ),
    route!(
        "GET",
        "/api/v1/users/{id}",
        "user",
        "Show a user with groups and policies",
        UserGet,
        ok = coc_store::access::User
    ),
    route!(
        "GET",
        "/api/v1/groups",
        "group",
        "List groups",
        GroupList,
        list = coc_store::access::Group
    ),
    route!(
        "POST",
        "/api/v1/groups",
        "group",
        "Create a group",
        GroupCreate,
        body = CreateGroup,
        created = coc_store::access::Group
    ),
    route!(
        "GET",
        "/api/v1/groups/{id}",
        "group",
        "Show a group",
        GroupGet,
        ok = coc_store::access::Group
    ),
    route!(
        "POST",
        "/api/v1/groups/{id}/members",
        "group",
        "Add a user to a group",
        GroupUpdate,
        body = Member,
        ok = coc_store::access::Group
    ),
    route!(
        "DELETE",
        "/api/v1/groups/{id}/members/{user}",
        "group",
        "Remove a user from a group",
        GroupUpdate,
        ok = coc_store::access::Group
    ),
    route!(
        "GET",
        "/api/v1/policies",
        "policy",
        "List policies (system and custom)",
        PolicyList,
        list = coc_store::access::Policy
    ),
    route!(
        "POST",
        "/api/v1/policies",
        "policy",
        "Create a custom policy (ref. 1.1)",
        PolicyCreate,
        body = PolicyBody,
        created = coc_store::access::Policy
    ),
    route!(
        "POST",
        "/api/v1/policies/simulate",
        "policy",
        "Simulate: would user U be allowed action A on resource R, and by which statement",
        PolicySimulate,
        body = Simulate,
        ok = Simulation
    ),
    route!(
        "GET",
        "/api/v1/policies/{id}",
        "policy",
        "Show a policy",
        PolicyGet,
        ok = coc_store::access::Policy
    ),
    route!(
        "PUT",
        "/api/v1/policies/{id}",
        "policy",
        "Replace a custom policy document",
        PolicyUpdate,
        body = PolicyBody,
        ok = coc_store::access::Policy
    ),
    route!(
        "DELETE",
        "/api/v1/policies/{id}",
        "policy",
        "Delete a custom policy",
        PolicyDelete,
        no_content
    ),
    route!(
        "POST",
        "/api/v1/policies/{id}/attach",
        "policy",
        "Attach a policy to a user or group",
        PolicyAttach,
        body = Attachment,
        ok = coc_store::access::Policy
    ),
    route!(
        "POST",
        "/api/v1/policies/{id}/detach",
        "policy",
        "Detach a policy from a user or group",
        PolicyDetach,
        body = Attachment,
        ok = coc_store::access::Policy
    ),
    route!(
        "GET",
        "/api/v1/tokens",
        "token",
        "List API tokens",
        TokenList,
        list = coc_store::access::ApiToken
    ),
    route!(
        "POST",
        "/api/v1/tokens",
        "token",
        "Create a personal API token (secret shown once)",
        TokenCreate,
        body = CreateToken,
        created = coc_store::access::NewToken
    ),
    route!(
        "DELETE",
        "/api/v1/tokens/{id}",
        "token",
        "Revoke an API token at once",
        TokenDelete,
        no_content
    ),
    route!(
        "GET",
        "/api/v1/audit",
        "audit",
        "Search the audit trail",
        AuditList,
        query = AuditQuery,
        list = coc_store::audit::AuditRecord
    ),
    route!(
        "GET",
        "/api/v1/audit/export",
        "audit",
        "Export the audit trail as JSON lines",
        AuditExport,
        query = AuditQuery,
        media = "application/x-ndjson"
    ),
    route!(
        "GET",
        "/api/v1/todos",
        "todo",
        "The caller's to-dos: reviews and job approvals waiting for their decision",
        TodoList,
        list = coc_store::todo::Todo
    ),
    route!(
        "GET",
        "/api/v1/grants",
        "grant",
        "List O&M authorizations and log shares given by this tenant",
        GrantList,
        list = coc_store::grant::Grant
    ),
    route!(
        "POST",
        "/api/v1/grants",
        "grant",
        "Grant a support user a scope (policy or log share) for a limited time",
        GrantCreate,
        body = coc_store::grant::NewGrant,
        created = coc_store::grant::Grant
    ),
    route!(
        "DELETE",
        "/api/v1/grants/{id}",
        "grant",
        "Revoke a grant at once",
        GrantDelete,
        no_content
    ),
];

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/users", get(list_users).post(create_user))
        .route("/api/v1/users/{id}", get(show_user))
        .route("/api/v1/groups", get(list_groups).post(create_group))
        .route("/api/v1/groups/{id}", get(show_group))
        .route("/api/v1/groups/{id}/members", post(add_member))
        .route("/api/v1/groups/{id}/members/{user}", delete(remove_member))
        .route("/api/v1/policies", get(list_policies).post(create_policy))
        .route("/api/v1/policies/simulate", post(simulate))
        .route(
            "/api/v1/policies/{id}",
            get(show_policy).put(update_policy).delete(delete_policy),
        )
        .route("/api/v1/policies/{id}/attach", post(attach))
        .route("/api/v1/policies/{id}/detach", post(detach))
        .route("/api/v1/tokens", get(list_tokens).post(create_token))
        .route("/api/v1/tokens/{id}", delete(revoke_token))
        .route("/api/v1/grants", get(list_grants).post(create_grant))
        .route("/api/v1/grants/{id}", delete(revoke_grant))
        .route("/api/v1/todos", get(list_todos))
        .route("/api/v1/audit", get(list_audit))
        .route("/api/v1/audit/export", get(export_audit))
}

fn items<T: serde::Serialize>(v: Vec<T>) -> Json<serde_json::Value> {
    Json(super::listing(v))
}

async fn list_users(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(items(s.store.list_users(&p.tenant).await?))
}

async fn create_user(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiJson(b): ApiJson<CreateUser>,
) -> ApiResult<(StatusCode, Json<User>)> {
    let display = if b.display_name.is_empty() {
        b.name.clone()
    } else {
        b.display_name.clone()
    };
    Ok((
        StatusCode::CREATED,
        Json(
            s.store
                .create_user(&p.tenant, &b.name, &display, b.password.as_deref())
                .await?,
        ),
    ))
}

async fn show_user(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<User>> {
    Ok(Json(s.store.get_user(&p.tenant, &id).await?))
}

async fn list_groups(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(items(s.store.list_groups(&p.tenant).await?))
}

async fn create_group(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiJson(b): ApiJson<CreateGroup>,
) -> ApiResult<(StatusCode, Json<Group>)> {
    Ok((
        StatusCode::CREATED,
        Json(
            s.store
                .create_group(&p.tenant, &b.name, &b.description)
                .await?,
        ),
    ))
}

async fn show_group(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Group>> {
    Ok(Json(s.store.get_group(&p.tenant, &id).await?))
}

async fn add_member(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<Member>,
) -> ApiResult<Json<Group>> {
    Ok(Json(
        s.store
            .set_membership(&p.tenant, &id, &b.user, true)
            .await?,
    ))
}

async fn remove_member(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path((id, user)): Path<(String, String)>,
) -> ApiResult<Json<Group>> {
    Ok(Json(
        s.store.set_membership(&p.tenant, &id, &user, false).await?,
    ))
}

/// The caller's to-dos (ref. 2.1), oldest first.
async fn list_todos(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(items(s.store.todos(&p.tenant, &p.user_name).await?))
}

async fn list_policies(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(items(s.store.list_policies(&p.tenant).await?))
}

fn document_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

async fn create_policy(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiJson(b): ApiJson<PolicyBody>,
) -> ApiResult<(StatusCode, Json<Policy>)> {
    let name = b.name.clone().ok_or_else(|| {
        ApiError::new(
            crate::error::ErrorCode::ValidationFailed,
            "'name' is required",
        )
    })?;
    Ok((
        StatusCode::CREATED,
        Json(
            s.store
                .create_policy(
                    &p.tenant,
                    &name,
                    &b.description,
                    &document_text(&b.document),
                )
                .await?,
        ),
    ))
}

async fn show_policy(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Policy>> {
    Ok(Json(s.store.get_policy(&p.tenant, &id).await?))
}

async fn update_policy(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<PolicyBody>,
) -> ApiResult<Json<Policy>> {
    Ok(Json(
        s.store
            .update_policy(&p.tenant, &id, &document_text(&b.document))
            .await?,
    ))
}

async fn delete_policy(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.store.delete_policy(&p.tenant, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn attach(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<Attachment>,
) -> ApiResult<Json<Policy>> {
    s.store
        .attach_policy(&p.tenant, &id, &b.kind, &b.name)
        .await?;
    Ok(Json(s.store.get_policy(&p.tenant, &id).await?))
}

async fn detach(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<Attachment>,
) -> ApiResult<Json<Policy>> {
    s.store
        .detach_policy(&p.tenant, &id, &b.kind, &b.name)
        .await?;
    Ok(Json(s.store.get_policy(&p.tenant, &id).await?))
}

async fn list_tokens(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<serde_json::Value>> {
    let v: Vec<ApiToken> = s.store.list_tokens(&p.tenant, None).await?;
    Ok(items(v))
}

async fn create_token(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiJson(b): ApiJson<CreateToken>,
) -> ApiResult<(StatusCode, Json<NewToken>)> {
    let user = b.user.clone().unwrap_or_else(|| p.user_name.clone());
    Ok((
        StatusCode::CREATED,
        Json(
            s.store
                .create_token(&p.tenant, &user, &b.name, b.expires_at)
                .await?,
        ),
    ))
}

async fn revoke_token(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.store.revoke_token(&p.tenant, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Answers allow or deny for a user, action and resource, naming the
/// deciding statement (policy and index) or "no statement allowed it".
async fn simulate(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiJson(b): ApiJson<Simulate>,
) -> ApiResult<Json<Simulation>> {
    if coc_domain::access::Action::parse(&b.action).is_none() {
        return Err(ApiError::new(
            crate::error::ErrorCode::ValidationFailed,
            format!("'{}' is not an action of the catalog", b.action),
        ));
    }
    let user = s
        .store
        .get_user(&p.tenant, b.user.as_deref().unwrap_or(&p.user_name))
        .await?;
    let principal = Principal {
        tenant: p.tenant.clone(),
        user_id: user.id.clone(),
        user_name: user.name.clone(),
        groups: user.groups.clone(),
        token_id: None,
        new_ip: false,
    };
    // As the guard and the handlers decide: with the record's own
    // attributes (region, application, enterprise project, tags).
    let asked = b.resource.as_deref().unwrap_or("*");
    let (resource, attrs, note) = match super::attributes::of_record(&s, &p.tenant, asked).await {
        Ok((r, a)) => (r, a, None),
        Err(e) if e.code == crate::error::ErrorCode::NotFound => (
            asked.to_string(),
            vec![],
            Some(format!("{}: evaluated without record attributes", e.detail)),
        ),
        Err(e) => return Err(e),
    };
    let mut context = crate::guard::context(&principal, None, s.tls, s.store.now());
    for (k, v) in &attrs {
        if let Some(v) = v {
            context.insert(k.clone(), vec![v.clone()]);
        }
    }
    context.extend(b.context.clone());
    let policies = s.store.policies_for(&p.tenant, &user.id).await?;
    let req = coc_domain::access::Request {
        action: b.action.clone(),
        resource: resource.clone(),
        context,
    };
    let d = evaluate(&policies, &req);
    // A list of records with attributes is answered with the records the
    // caller may see: allowed, filtered.
    let filtered = matches!(d, Decision::ImplicitDeny)
        && resource.ends_with(":*")
        && b.action.ends_with(":list")
        && ["alarm:", "incident:", "resource:"]
            .iter()
            .any(|t| resource.starts_with(t))
        && coc_domain::access::may_allow_with_resource_attributes(&policies, &req);
    let explanation = match &d {
        _ if filtered => {
            "allowed, filtered: the list holds only the records whose attributes meet the conditions".to_string()
        }
        Decision::Allow { policy, statement } => {
            format!("allowed by statement {statement} of policy '{policy}'")
        }
        Decision::ExplicitDeny { policy, statement } => {
            format!("denied by statement {statement} of policy '{policy}'")
        }
        Decision::ImplicitDeny => "denied: no statement allowed it".to_string(),
    };
    Ok(Json(Simulation {
        user: user.name,
        action: b.action,
        resource,
        allowed: d.allowed() || filtered,
        decision: d,
        explanation,
        attributes: attrs.into_iter().collect(),
        note,
        policies: policies.iter().map(|p| p.name.clone()).collect(),
    }))
}

fn audit_filter(q: &AuditQuery) -> AuditFilter {
    AuditFilter {
        user: q.user.clone(),
        trace: q.trace.clone(),
        resource_type: q.resource_type.clone(),
        resource_id: q.resource_id.clone(),
        since: q.since,
        until: q.until,
    }
}

async fn list_audit(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Json<Paged<AuditRecord>>> {
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor.clone(),
    }
    .page()?;
    Ok(Json(
        s.store
            .list_audit(&p.tenant, &audit_filter(&q), &page)
            .await?,
    ))
}

/// The whole filtered trail as JSON lines (`application/x-ndjson`), newest first.
async fn export_audit(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Response> {
    let f = audit_filter(&q);
    let mut out = String::new();
    let mut cursor = None;
    loop {
        let page = s
            .store
            .list_audit(
                &p.tenant,
                &f,
                &coc_store::Page {
                    limit: 1000,
                    cursor,
                },
            )
            .await?;
        for r in &page.items {
            out.push_str(&serde_json::to_string(r).unwrap_or_default());
            out.push('\n');
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    Response::builder()
        .header(header::CONTENT_TYPE, "application/x-ndjson")
        .body(Body::from(out))
        .map_err(|e| ApiError::new(crate::error::ErrorCode::Internal, e.to_string()))
}

async fn list_grants(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(items(s.store.list_grants(&p.tenant).await?))
}

async fn create_grant(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiJson(b): ApiJson<coc_store::grant::NewGrant>,
) -> ApiResult<(StatusCode, Json<coc_store::grant::Grant>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.store.create_grant(&p.tenant, &b, &p.user_name).await?),
    ))
}

async fn revoke_grant(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.store.revoke_grant(&p.tenant, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
