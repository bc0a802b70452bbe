//! Resources API (R1 inventory: hosts and the other types; A4 enterprise
//! projects). Agent identity and enrollment tokens: [`super::agent`].

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Extension, Json, Router};
use coc_domain::resource::catalog::{
    GroupBy, ResourceSpec, ResourceStatus, ResourceType, Sort, group_counts,
};
use coc_store::access::Principal;
use coc_store::resource::catalog::Resource;
use coc_store::resource::list::{Listed, ResourceFilter};
use coc_store::resource::{EnterpriseProject, Host};
use serde::Deserialize;

mod import;

use super::attributes;
use super::catalog::{RouteDoc, route};
use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::extract::{ApiJson, ApiQuery};
use crate::guard::Checked;

/// Body of `POST /api/v1/enterprise-projects`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProject {
    /// Name.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
}

/// Body of `PUT /api/v1/resources/{id}/enterprise-project`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignProject {
    /// Project name; `null` removes the host from its project.
    pub name: Option<String>,
}

/// Query of `GET /api/v1/resources`: every filter optional, all given
/// must hold.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceQuery {
    /// Of this type: host, database, cache, queue, web_server,
    /// container_cluster, load_balancer or cloud_server.
    #[serde(rename = "type")]
    pub resource_type: Option<String>,
    /// Belongs to this application (id or name): its own, or its host's.
    pub application: Option<String>,
    /// In this module of its application (any case).
    pub module: Option<String>,
    /// In this region (any case).
    pub region: Option<String>,
    /// In this enterprise project.
    pub project: Option<String>,
    /// Status: running, abnormal, offline, vanished or unmonitored.
    pub status: Option<String>,
    /// On this host (id or host name).
    pub host: Option<String>,
    /// Name, address or a field contains this (any case).
    pub q: Option<String>,
    /// Order: name (default), type, status or created_at; a leading `-`
    /// reverses.
    pub sort: Option<String>,
    /// Rows per page, 1 to 1000 (default 100).
    pub limit: Option<u32>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// Query of `GET /api/v1/resources/groups`: the grouping and the list's
/// filters.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupQuery {
    /// type (default), status, application, module (application /
    /// module), region or project.
    pub by: Option<String>,
    /// Of this type.
    #[serde(rename = "type")]
    pub resource_type: Option<String>,
    /// Belongs to this application (id or name).
    pub application: Option<String>,
    /// In this module of its application (any case).
    pub module: Option<String>,
    /// In this region (any case).
    pub region: Option<String>,
    /// In this enterprise project.
    pub project: Option<String>,
    /// Status.
    pub status: Option<String>,
    /// On this host (id or host name).
    pub host: Option<String>,
    /// Name, address or a field contains this.
    pub q: Option<String>,
}

/// One group of the resource list.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ResourceGroup {
    /// The value (`null`: the resources without one).
    pub value: Option<String>,
    /// How many resources have it.
    pub count: u64,
}

/// Body of `PUT /api/v1/resources/{id}/region`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRegion {
    /// Region; `null` or empty clears it.
    pub region: Option<String>,
}

/// Body of `PUT /api/v1/resources/{id}/application`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignApplication {
    /// Application id or name; `null` takes the host out of any.
    pub application: Option<String>,
    /// One of the application's modules, if any.
    #[serde(default)]
    pub module: Option<String>,
}

/// The routes this module serves, with what the guard checks and what
/// the OpenAPI document says of them.
pub const ROUTES: &[RouteDoc] = &[
    route!(
        "GET",
        "/api/v1/resources",
        "resource",
        "The resource list (ref. 3.1.1): hosts, databases, caches, queues, web servers, container clusters and load balancers; filters type, application, module, region, project, status, host, q; sort; keyset-paged (limit, cursor)",
        ResourceList,
        query = ResourceQuery,
        list = coc_store::resource::list::Listed
    ),
    route!(
        "POST",
        "/api/v1/resources",
        "resource",
        "Register a database, cache, queue, web server, container cluster or load balancer by hand (hosts join through their agent)",
        ResourceCreate,
        body = coc_domain::resource::catalog::ResourceSpec,
        created = coc_store::resource::catalog::Resource
    ),
    route!(
        "POST",
        "/api/v1/resources/import",
        "resource",
        "Import an inventory file (CSV or YAML): every row checked first; a dry run answers what each row would do; with a refused row nothing is written (422, the rows named), else all rows in one transaction",
        ResourceCreate,
        body = import::ImportFile,
        ok = coc_store::resource::catalog::ImportReport
    ),
    route!(
        "GET",
        "/api/v1/resource-types",
        "resource",
        "The resource types and the fields each has",
        ResourceList,
        list = ResourceTypeDoc
    ),
    route!(
        "GET",
        "/api/v1/resources/groups",
        "resource",
        "How many resources the list's filters select per type, status, application, module, region or project (by), the largest group first",
        ResourceList,
        query = GroupQuery,
        list = ResourceGroup
    ),
    route!(
        "GET",
        "/api/v1/resources/export",
        "resource",
        "The resources the list would show (same filters and order, every page) as CSV, a header row first",
        ResourceList,
        query = ResourceQuery,
        media = "text/csv"
    ),
    route!(
        "GET",
        "/api/v1/resources/{id}",
        "resource",
        "Show a resource (a host, or another type) by id or name",
        ResourceGet,
        ok = coc_store::resource::list::Listed
    ),
    route!(
        "PUT",
        "/api/v1/resources/{id}",
        "resource",
        "Change a resource other than a host (for a discovered one: application, module, region, project and tags)",
        ResourceUpdate,
        body = coc_domain::resource::catalog::ResourceSpec,
        ok = coc_store::resource::catalog::Resource
    ),
    route!(
        "PUT",
        "/api/v1/resources/{id}/region",
        "resource",
        "Set a host's region (or clear it)",
        ResourceUpdate,
        body = AssignRegion,
        ok = coc_store::resource::Host
    ),
    route!(
        "PUT",
        "/api/v1/resources/{id}/enterprise-project",
        "resource",
        "Move a host into an enterprise project (or out)",
        ResourceUpdate,
        body = AssignProject,
        ok = coc_store::resource::Host
    ),
    route!(
        "GET",
        "/api/v1/enterprise-projects",
        "project",
        "List enterprise projects",
        ProjectList,
        list = coc_store::resource::EnterpriseProject
    ),
    route!(
        "POST",
        "/api/v1/enterprise-projects",
        "project",
        "Create an enterprise project",
        ProjectCreate,
        body = CreateProject,
        created = coc_store::resource::EnterpriseProject
    ),
    route!(
        "DELETE",
        "/api/v1/resources/{id}",
        "resource",
        "Delete a resource; a host's agent is cut off and refused, and what it discovered goes with it",
        ResourceDelete,
        no_content
    ),
    route!(
        "GET",
        "/api/v1/resources/{id}/services",
        "resource",
        "The services a host runs, found by its agent on its listening ports (PostgreSQL, Redis … as database, cache … resources)",
        ResourceGet,
        list = coc_domain::discovery::Service
    ),
    route!(
        "GET",
        "/api/v1/resources/{id}/dependencies",
        "resource",
        "The dependencies observed on a host: which of its processes talk to which service, on this host or another",
        ResourceGet,
        list = coc_domain::discovery::Dependency
    ),
    route!(
        "PUT",
        "/api/v1/resources/{id}/application",
        "resource",
        "Put a host into an application and one of its modules (R6), or out",
        ResourceUpdate,
        body = AssignApplication,
        ok = coc_store::resource::Host
    ),
    route!(
        "PUT",
        "/api/v1/resources/{id}/tags",
        "resource",
        "Replace a host's tags (at most 20)",
        ResourceUpdate,
        body = Tags,
        ok = coc_store::resource::Host
    ),
];

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/resources", get(list).post(create))
        .route("/api/v1/resource-types", get(types))
        .route(
            "/api/v1/resources/import",
            axum::routing::post(import::import),
        )
        .route("/api/v1/resources/export", get(export))
        .route("/api/v1/resources/groups", get(groups))
        .route(
            "/api/v1/resources/{id}",
            get(show).put(update).delete(delete),
        )
        .route("/api/v1/resources/{id}/region", put(assign_region))
        .route("/api/v1/resources/{id}/enterprise-project", put(assign))
        .route("/api/v1/resources/{id}/tags", put(set_tags))
        .route(
            "/api/v1/resources/{id}/application",
            put(assign_application),
        )
        .route("/api/v1/resources/{id}/services", get(host_services))
        .route(
            "/api/v1/resources/{id}/dependencies",
            get(host_dependencies),
        )
        .route(
            "/api/v1/enterprise-projects",
            get(list_projects).post(create_project),
        )
}

async fn list(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,
    ApiQuery(q): ApiQuery<ResourceQuery>,
) -> ApiResult<Json<coc_store::Paged<Listed>>> {
    let page = super::PageQuery {
        limit: q.limit,
        cursor: q.cursor.clone(),
    }
    .page()?;
    let (filter, sort) = filter_of(q)?;
    let mut out = s
        .store
        .resource_page(&p.tenant, s.heartbeat_ms as i64, &filter, sort, &page)
        .await?;
    // Only what the caller may read (A3): per-record attributes decide
    // (a page may then hold fewer rows; the cursor still goes on).
    out.items.retain(|r| readable(&c, r));
    Ok(Json(out))
}

/// Whether the caller may do the route's action on listed resource `r`.
fn readable(c: &Checked, r: &Listed) -> bool {
    let (project, tags) = r.project_and_tags();
    c.permits(
        &c.action,
        &format!("resource:{}", r.id()),
        &attributes::as_refs(&attributes::tagged(project, tags)),
    )
}

/// The store's filter and order from the query.
///
/// Errors: `validation_failed` naming the bad value.
fn filter_of(q: ResourceQuery) -> ApiResult<(ResourceFilter, Sort)> {
    let bad = |m: String| ApiError::new(ErrorCode::ValidationFailed, m);
    let status = q
        .status
        .as_deref()
        .map(|v| {
            ResourceStatus::parse(v).ok_or_else(|| {
                bad(format!(
                    "status '{v}': use running, abnormal, offline, vanished or unmonitored"
                ))
            })
        })
        .transpose()?;
    let resource_type = q
        .resource_type
        .as_deref()
        .map(|v| {
            ResourceType::parse(v).ok_or_else(|| {
                let names: Vec<&str> = ResourceType::ALL.iter().map(|t| t.as_str()).collect();
                bad(format!("type '{v}': use {}", names.join(", ")))
            })
        })
        .transpose()?;
    let sort = q
        .sort
        .as_deref()
        .map(Sort::parse)
        .transpose()
        .map_err(|e| bad(e.to_string()))?
        .unwrap_or_default();
    let given = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
    Ok((
        ResourceFilter {
            resource_type,
            application: given(q.application),
            module: given(q.module),
            region: given(q.region),
            enterprise_project: given(q.project),
            status,
            host: given(q.host),
            q: given(q.q),
        },
        sort,
    ))
}

async fn groups(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,
    ApiQuery(g): ApiQuery<GroupQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let by = GroupBy::parse(g.by.as_deref().unwrap_or("type"))
        .map_err(|e| ApiError::new(ErrorCode::ValidationFailed, e.to_string()))?;
    let (filter, _) = filter_of(ResourceQuery {
        resource_type: g.resource_type,
        application: g.application,
        module: g.module,
        region: g.region,
        project: g.project,
        status: g.status,
        host: g.host,
        q: g.q,
        sort: None,
        limit: None,
        cursor: None,
    })?;
    let ms = s.heartbeat_ms as i64;
    // Counted in the database when one decision holds for every
    // resource; else over the resources the caller may read (A3).
    let counts = if coc_domain::access::decides_for_all(&c.policies, &c.action, "resource") {
        s.store.resource_groups(&p.tenant, ms, &filter, by).await?
    } else {
        let mut all = s
            .store
            .all_resources(&p.tenant, ms, &filter, Sort::default())
            .await?;
        all.retain(|r| readable(&c, r));
        group_counts(all.iter().map(|r| r.group_value(by)))
    };
    let items: Vec<ResourceGroup> = counts
        .into_iter()
        .map(|(value, count)| ResourceGroup { value, count })
        .collect();
    Ok(Json(super::listing(items)))
}

/// A resource type and its fields (`GET /api/v1/resource-types`).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ResourceTypeDoc {
    /// Stored name (`container_cluster`).
    pub name: &'static str,
    /// What a person calls it.
    pub label: &'static str,
    /// Its own fields.
    pub fields: &'static [coc_domain::resource::catalog::Field],
}

async fn types() -> Json<serde_json::Value> {
    let v: Vec<ResourceTypeDoc> = ResourceType::ALL
        .iter()
        .map(|t| ResourceTypeDoc {
            name: t.as_str(),
            label: t.label(),
            fields: t.fields(),
        })
        .collect();
    Json(super::listing(v))
}

/// Columns of the CSV export, in order.
const CSV_COLUMNS: [&str; 16] = [
    "id",
    "type",
    "name",
    "status",
    "host",
    "application",
    "module",
    "region",
    "enterprise_project",
    "addresses",
    "os",
    "cpu_cores",
    "memory_bytes",
    "last_heartbeat",
    "tags",
    "fields",
];

/// `key=value;…` of a map.
fn pairs(m: &std::collections::BTreeMap<String, String>) -> String {
    let v: Vec<String> = m.iter().map(|(k, v)| format!("{k}={v}")).collect();
    v.join(";")
}

/// The resources the list would show, every page, as CSV (RFC 4180, a
/// header row; times RFC 3339 UTC; addresses separated by spaces; tags
/// and fields as `key=value;…`).
async fn export(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,
    ApiQuery(q): ApiQuery<ResourceQuery>,
) -> ApiResult<axum::response::Response> {
    let (filter, sort) = filter_of(q)?;
    let mut all = s
        .store
        .all_resources(&p.tenant, s.heartbeat_ms as i64, &filter, sort)
        .await?;
    all.retain(|r| readable(&c, r));
    let internal = |e: &dyn std::fmt::Display| ApiError::new(ErrorCode::Internal, e.to_string());
    let mut w = csv::Writer::from_writer(vec![]);
    w.write_record(CSV_COLUMNS).map_err(|e| internal(&e))?;
    for r in &all {
        let record: [String; 16] = match r {
            Listed::Host(h) => [
                h.id.clone(),
                h.kind.clone(),
                h.name.clone(),
                h.status.as_str().into(),
                String::new(),
                h.application.clone().unwrap_or_default(),
                h.module.clone().unwrap_or_default(),
                h.region.clone().unwrap_or_default(),
                h.enterprise_project.clone().unwrap_or_default(),
                h.facts.ips.join(" "),
                h.facts.os.clone(),
                h.facts.cpu_cores.to_string(),
                h.facts.memory_bytes.to_string(),
                h.last_heartbeat
                    .and_then(chrono::DateTime::from_timestamp_millis)
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                    .unwrap_or_default(),
                pairs(&h.tags),
                String::new(),
            ],
            Listed::Other(x) => [
                x.id.clone(),
                x.resource_type.as_str().into(),
                x.name.clone(),
                x.status.as_str().into(),
                x.host.clone().unwrap_or_default(),
                x.application.clone().unwrap_or_default(),
                x.module.clone().unwrap_or_default(),
                x.region.clone().unwrap_or_default(),
                x.enterprise_project.clone().unwrap_or_default(),
                x.attributes
                    .get("endpoint")
                    .or(x.attributes.get("address"))
                    .cloned()
                    .unwrap_or_default(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                pairs(&x.tags),
                pairs(&x.attributes),
            ],
        };
        w.write_record(&record).map_err(|e| internal(&e))?;
    }
    let body = w.into_inner().map_err(|e| internal(&e))?;
    axum::response::Response::builder()
        .header(axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8")
        .header(
            axum::http::header::CONTENT_DISPOSITION,
            "attachment; filename=\"resources.csv\"",
        )
        .body(axum::body::Body::from(body))
        .map_err(|e| internal(&e))
}

/// The ids of the hosts on which the caller may do the route's action.
///
/// Errors: a store error.
pub(super) async fn readable_host_ids(
    s: &AppState,
    p: &Principal,
    c: &Checked,
) -> ApiResult<std::collections::BTreeSet<String>> {
    let hosts = s.store.list_hosts(&p.tenant, s.heartbeat_ms as i64).await?;
    Ok(hosts
        .iter()
        .filter(|h| {
            let attrs = attributes::host(h);
            c.permits(
                &c.action,
                &format!("resource:{}", h.id),
                &attributes::as_refs(&attrs),
            )
        })
        .map(|h| h.id.clone())
        .collect())
}

/// Checks that the caller may do the route's action on every host named
/// (ids or host names; blank entries are skipped).
///
/// Errors: `not_found` (a host), `forbidden`.
pub(super) async fn require_hosts(
    s: &AppState,
    p: &Principal,
    c: &Checked,
    hosts: &[String],
) -> ApiResult<()> {
    for h in hosts {
        let h = h.trim();
        if !h.is_empty() {
            let id = s.store.host_ref(&p.tenant, h).await?;
            readable_host(s, p, c, &id).await?;
        }
    }
    Ok(())
}

/// A resource other than a host, by id or name, when the caller may do
/// the route's action on it. Errors: `not_found`, `forbidden`,
/// `validation_failed` for a name two types share.
pub(super) async fn readable_resource(
    s: &AppState,
    p: &Principal,
    c: &Checked,
    id: &str,
) -> ApiResult<Resource> {
    let r = s
        .store
        .get_resource(&p.tenant, id, s.heartbeat_ms as i64)
        .await?;
    c.require(
        &format!("resource:{}", r.id),
        &attributes::as_refs(&attributes::tagged(
            r.enterprise_project.as_deref(),
            &r.tags,
        )),
    )?;
    Ok(r)
}

/// The host the path names (by id or host name), or `None` when it names
/// no host.
async fn host_named(s: &AppState, p: &Principal, id: &str) -> ApiResult<Option<Host>> {
    let ms = s.heartbeat_ms as i64;
    match s.store.get_host(&p.tenant, id, ms).await {
        Ok(h) => Ok(Some(h)),
        Err(coc_store::StoreError::NotFound { .. }) => Ok(s
            .store
            .list_hosts(&p.tenant, ms)
            .await?
            .into_iter()
            .find(|h| h.facts.hostname == id)),
        Err(e) => Err(e.into()),
    }
}

async fn create(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,
    ApiJson(b): ApiJson<ResourceSpec>,
) -> ApiResult<(StatusCode, Json<Resource>)> {
    // Creating into a project needs the right there (A3).
    c.require(
        "resource:*",
        &attributes::as_refs(&attributes::tagged(
            b.enterprise_project.as_deref(),
            &b.tags,
        )),
    )?;
    let r = s
        .store
        .create_resource(&p.tenant, &b, s.heartbeat_ms as i64)
        .await?;
    Ok((StatusCode::CREATED, Json(r)))
}

async fn update(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ResourceSpec>,
) -> ApiResult<Json<Resource>> {
    if let Some(h) = host_named(&s, &p, &id).await? {
        // The right to change it is checked first (A3).
        readable_host(&s, &p, &c, &h.id).await?;
        return Err(ApiError::new(
            ErrorCode::ValidationFailed,
            "a host is changed through its own routes (application, enterprise-project, region, tags)",
        ));
    }
    let old = readable_resource(&s, &p, &c, &id).await?;
    c.require(
        &format!("resource:{}", old.id),
        &attributes::as_refs(&attributes::tagged(
            b.enterprise_project.as_deref(),
            &b.tags,
        )),
    )?;
    Ok(Json(
        s.store
            .update_resource(&p.tenant, &old.id, &b, s.heartbeat_ms as i64)
            .await?,
    ))
}

async fn assign_region(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<AssignRegion>,
) -> ApiResult<Json<Host>> {
    let h = readable_host(&s, &p, &c, &id).await?;
    s.store
        .set_host_region(&p.tenant, &h.id, b.region.as_deref())
        .await?;
    Ok(Json(
        s.store
            .get_host(&p.tenant, &h.id, s.heartbeat_ms as i64)
            .await?,
    ))
}

async fn show(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,
    Path(id): Path<String>,
) -> ApiResult<Json<Listed>> {
    if let Some(h) = host_named(&s, &p, &id).await? {
        c.require(
            &format!("resource:{}", h.id),
            &attributes::as_refs(&attributes::host(&h)),
        )?;
        return Ok(Json(Listed::Host(Box::new(h))));
    }
    let r = readable_resource(&s, &p, &c, &id).await?;
    Ok(Json(Listed::Other(Box::new(r))))
}

/// The host named by the path, when the caller may do the route's action
/// on it (its attributes decide, A3). Errors: `not_found`, `forbidden`.
pub(super) async fn readable_host(
    s: &AppState,
    p: &Principal,
    c: &Checked,
    id: &str,
) -> ApiResult<Host> {
    let h = s
        .store
        .get_host(&p.tenant, id, s.heartbeat_ms as i64)
        .await?;
    c.require(&c.resource, &attributes::as_refs(&attributes::host(&h)))?;
    Ok(h)
}

async fn host_services(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let h = readable_host(&s, &p, &c, &id).await?;
    Ok(Json(super::listing(
        s.store.host_services(&p.tenant, &h.id).await?,
    )))
}

async fn host_dependencies(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let h = readable_host(&s, &p, &c, &id).await?;
    Ok(Json(super::listing(
        s.store.host_dependencies(&p.tenant, &h.id).await?,
    )))
}

/// Deletes a resource. A host's agent is cut off and refused from then on
/// (unless it enrolls again with a token).
async fn delete(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    if let Some(h) = host_named(&s, &p, &id).await? {
        let h = readable_host(&s, &p, &c, &h.id).await?;
        s.store.delete_host(&p.tenant, &h.id).await?;
        s.agents.refuse(&h.id, "this host was deleted");
        return Ok(StatusCode::NO_CONTENT);
    }
    let r = readable_resource(&s, &p, &c, &id).await?;
    s.store
        .delete_resource(&p.tenant, &r.id, s.heartbeat_ms as i64)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn assign(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<AssignProject>,
) -> ApiResult<Json<Host>> {
    let h = readable_host(&s, &p, &c, &id).await?;
    // Moving a host into a project needs the right there too (the host
    // keeps its tags).
    let mut there = attributes::host(&h);
    there[0].1 = b.name.clone();
    c.require(&c.resource, &attributes::as_refs(&there))?;
    s.store
        .set_host_enterprise_project(&p.tenant, &id, b.name.as_deref())
        .await?;
    Ok(Json(
        s.store
            .get_host(&p.tenant, &id, s.heartbeat_ms as i64)
            .await?,
    ))
}

async fn assign_application(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<AssignApplication>,
) -> ApiResult<Json<Host>> {
    let h = readable_host(&s, &p, &c, &id).await?;
    let app = b
        .application
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty());
    s.store
        .set_host_application(&p.tenant, &h.id, app.map(|a| (a, b.module.as_deref())))
        .await?;
    Ok(Json(
        s.store
            .get_host(&p.tenant, &h.id, s.heartbeat_ms as i64)
            .await?,
    ))
}

async fn list_projects(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<serde_json::Value>> {
    let v: Vec<EnterpriseProject> = s.store.list_enterprise_projects(&p.tenant).await?;
    Ok(Json(super::listing(v)))
}

async fn create_project(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiJson(b): ApiJson<CreateProject>,
) -> ApiResult<(StatusCode, Json<EnterpriseProject>)> {
    Ok((
        StatusCode::CREATED,
        Json(
            s.store
                .create_enterprise_project(&p.tenant, &b.name, &b.description)
                .await?,
        ),
    ))
}

/// Body of `PUT /api/v1/resources/{id}/tags`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Tags {
    /// All tags of the host (replaces the old set).
    pub tags: std::collections::BTreeMap<String, String>,
}

async fn set_tags(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<Tags>,
) -> ApiResult<Json<Host>> {
    readable_host(&s, &p, &c, &id).await?;
    s.store.set_host_tags(&p.tenant, &id, &b.tags).await?;
    Ok(Json(
        s.store
            .get_host(&p.tenant, &id, s.heartbeat_ms as i64)
            .await?,
    ))
}
