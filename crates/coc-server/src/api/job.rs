//! Jobs and job tickets API (X3, X4; ref. 5.2, 10.1.2).

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Extension, Json, Router};
use coc_domain::job::{JobAction, JobSpec};
use coc_store::Paged;
use coc_store::access::Principal;
use coc_store::job::Job;
use coc_store::jobticket::{JobTicket, JobTicketDetail, NewJobTicket};
use serde::Deserialize;

use super::PageQuery;
use super::catalog::{RouteDoc, route};
use super::script::ReviewBody;
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath, ApiQuery};

/// Query of `GET /api/v1/jobs`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobQuery {
    /// Case-insensitive name substring.
    pub name: Option<String>,
    /// `key` or `key=value`.
    pub tag: Option<String>,
}

/// Body of `POST /api/v1/jobs/{id}/clone`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloneBody {
    /// Name of the new job.
    pub name: String,
}

/// Body of `PUT /api/v1/jobs/{id}/tags`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagsBody {
    /// Tags, key → value (≤ 20).
    pub tags: BTreeMap<String, String>,
}

/// Query of `GET /api/v1/job-tickets`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = JobTicketQuery)]
#[serde(deny_unknown_fields)]
pub struct TicketQuery {
    /// Status filter.
    pub status: Option<String>,
    /// Job id or name.
    pub job: Option<String>,
    /// Page size.
    pub limit: Option<u32>,
    /// Cursor.
    pub cursor: Option<String>,
}

/// Body of `POST /api/v1/job-tickets/{id}/actions`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = JobTicketAction)]
#[serde(deny_unknown_fields)]
pub struct ActionBody {
    /// `pause`, `continue`, `forcibly_end`, `terminate_all` or
    /// `retry_failed`.
    pub action: JobAction,
}

/// The routes this module serves, with what the guard checks and what
/// the OpenAPI document says of them.
pub const ROUTES: &[RouteDoc] = &[
    route!(
        "GET",
        "/api/v1/jobs",
        "job",
        "List jobs, custom then common (?name=, ?tag=key[=value]) (ref. 5.2)",
        JobList,
        query = JobQuery,
        list = coc_store::job::Job
    ),
    route!(
        "POST",
        "/api/v1/jobs",
        "job",
        "Create a job (ref. 5.2.2)",
        JobCreate,
        body = coc_domain::job::JobSpec,
        created = coc_store::job::Job
    ),
    route!(
        "GET",
        "/api/v1/jobs/templates",
        "job",
        "Job templates: Reboot_and_Verify, Routine_Scan, Custom_Action",
        JobList,
        list = coc_domain::job::JobSpec
    ),
    route!(
        "GET",
        "/api/v1/jobs/{id}",
        "job",
        "Show a job",
        JobGet,
        ok = coc_store::job::Job
    ),
    route!(
        "PUT",
        "/api/v1/jobs/{id}",
        "job",
        "Modify a job (new version, ref. 5.2.3)",
        JobUpdate,
        body = coc_domain::job::JobSpec,
        ok = coc_store::job::Job
    ),
    route!(
        "DELETE",
        "/api/v1/jobs/{id}",
        "job",
        "Delete a job",
        JobDelete,
        no_content
    ),
    route!(
        "GET",
        "/api/v1/jobs/{id}/versions",
        "job",
        "Every version of a job, newest first",
        JobGet,
        list = coc_store::job::JobVersion
    ),
    route!(
        "POST",
        "/api/v1/jobs/{id}/clone",
        "job",
        "Clone a job under a new name",
        JobClone,
        body = CloneBody,
        created = coc_store::job::Job
    ),
    route!(
        "PUT",
        "/api/v1/jobs/{id}/tags",
        "job",
        "Replace a job's tags (ref. 5.2.5)",
        JobTag,
        body = TagsBody,
        ok = coc_store::job::Job
    ),
    route!(
        "POST",
        "/api/v1/jobs/{id}/review",
        "job",
        "Approve or reject the current version of a job",
        JobReview,
        body = ReviewBody,
        ok = coc_store::job::Job
    ),
    route!(
        "POST",
        "/api/v1/jobs/{id}/execute",
        "job",
        "Execute a job on hosts: a job ticket (ref. 5.2.4)",
        JobExecute,
        body = NewJobTicket,
        created = coc_store::jobticket::JobTicketDetail
    ),
    route!(
        "GET",
        "/api/v1/job-tickets",
        "jobticket",
        "List job tickets (ref. 10.1.2)",
        JobticketList,
        query = TicketQuery,
        list = coc_store::jobticket::JobTicket
    ),
    route!(
        "GET",
        "/api/v1/job-tickets/{id}",
        "jobticket",
        "Show a job ticket: steps, batches, hosts, runs, approvals",
        JobticketGet,
        ok = coc_store::jobticket::JobTicketDetail
    ),
    route!(
        "POST",
        "/api/v1/job-tickets/{id}/actions",
        "jobticket",
        "Pause, continue, forcibly end, terminate all or retry failed; checked as coc:jobticket:<action>",
        actions_of "coc:jobticket:*",
        body = ActionBody,
        ok = coc_store::jobticket::JobTicketDetail
    ),
    route!(
        "POST",
        "/api/v1/job-tickets/{id}/hosts/{host}/cancel",
        "jobticket",
        "Cancel one host of the current step",
        JobticketCancelHost,
        ok = coc_store::jobticket::JobTicketDetail
    ),
    route!(
        "POST",
        "/api/v1/job-tickets/{id}/clone",
        "jobticket",
        "Run a job ticket's request again as a new ticket",
        JobticketClone,
        created = coc_store::jobticket::JobTicketDetail
    ),
    route!(
        "POST",
        "/api/v1/job-tickets/{id}/approvals/{step}/{task}",
        "jobticket",
        "Approve or reject an approval task the ticket waits at",
        JobticketApprove,
        body = ReviewBody,
        ok = coc_store::jobticket::JobTicketDetail
    ),
    route!(
        "GET",
        "/api/v1/job-tickets/{id}/events",
        "jobticket",
        "Live output of a job ticket's runs (server-sent events)",
        JobticketGet,
        media = "text/event-stream"
    ),
];

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/jobs", get(list).post(create))
        .route("/api/v1/jobs/templates", get(templates))
        .route("/api/v1/jobs/{id}", get(show).put(update).delete(remove))
        .route("/api/v1/jobs/{id}/versions", get(versions))
        .route("/api/v1/jobs/{id}/clone", post(clone_job))
        .route("/api/v1/jobs/{id}/tags", put(tags))
        .route("/api/v1/jobs/{id}/review", post(review))
        .route("/api/v1/jobs/{id}/execute", post(execute))
        .route("/api/v1/job-tickets", get(tickets))
        .route("/api/v1/job-tickets/{id}", get(ticket))
        .route("/api/v1/job-tickets/{id}/actions", post(action))
        .route("/api/v1/job-tickets/{id}/events", get(events))
        .route("/api/v1/job-tickets/{id}/hosts/{host}/cancel", post(cancel))
        .route("/api/v1/job-tickets/{id}/clone", post(clone_ticket))
        .route(
            "/api/v1/job-tickets/{id}/approvals/{step}/{task}",
            post(approve),
        )
}

async fn list(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiQuery(q): ApiQuery<JobQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(super::listing(
        s.store
            .list_jobs(&p.tenant, q.name.as_deref(), q.tag.as_deref())
            .await?,
    )))
}

async fn templates() -> Json<serde_json::Value> {
    Json(super::listing(coc_domain::job::templates()))
}

async fn create(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiJson(b): ApiJson<JobSpec>,
) -> ApiResult<(StatusCode, Json<Job>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.store.create_job(&p.tenant, &b, &p.user_name).await?),
    ))
}

async fn show(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Job>> {
    Ok(Json(s.store.get_job(&p.tenant, &id).await?))
}

async fn update(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<JobSpec>,
) -> ApiResult<Json<Job>> {
    Ok(Json(
        s.store.update_job(&p.tenant, &id, &b, &p.user_name).await?,
    ))
}

async fn remove(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.store.delete_job(&p.tenant, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn versions(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(super::listing(
        s.store.job_versions(&p.tenant, &id).await?,
    )))
}

async fn clone_job(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<CloneBody>,
) -> ApiResult<(StatusCode, Json<Job>)> {
    Ok((
        StatusCode::CREATED,
        Json(
            s.store
                .clone_job(&p.tenant, &id, &b.name, &p.user_name)
                .await?,
        ),
    ))
}

async fn tags(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<TagsBody>,
) -> ApiResult<Json<Job>> {
    Ok(Json(s.store.tag_job(&p.tenant, &id, &b.tags).await?))
}

async fn review(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ReviewBody>,
) -> ApiResult<Json<Job>> {
    Ok(Json(
        s.store
            .review_job(
                &p.tenant,
                &id,
                &p.user_name,
                b.approve,
                b.comment.as_deref(),
            )
            .await?,
    ))
}

async fn execute(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<NewJobTicket>,
) -> ApiResult<(StatusCode, Json<JobTicketDetail>)> {
    Ok((
        StatusCode::CREATED,
        Json(
            s.store
                .create_job_ticket(&p.tenant, &id, &b, &p.user_name)
                .await?,
        ),
    ))
}

async fn tickets(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiQuery(q): ApiQuery<TicketQuery>,
) -> ApiResult<Json<Paged<JobTicket>>> {
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor.clone(),
    }
    .page()?;
    if let Some(st) = &q.status {
        coc_domain::ticket::TicketStatus::parse(st)
            .map_err(|e| crate::ApiError::new(crate::error::ErrorCode::BadQuery, e.to_string()))?;
    }
    Ok(Json(
        s.store
            .list_job_tickets(&p.tenant, q.status.as_deref(), q.job.as_deref(), &page)
            .await?,
    ))
}

/// `GET /api/v1/job-tickets/{id}/events`: the job ticket's live view as
/// server-sent events, as for script tickets (ref. 10.1.2): a `snapshot`
/// (the ticket detail), then `output` and `task_done` events of its runs
/// (`task_id` is the run id), and a last `snapshot` once it is finished.
async fn events(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<
    axum::response::sse::Sse<
        impl futures_util::Stream<Item = Result<axum::response::sse::Event, std::convert::Infallible>>,
    >,
> {
    // Listen before reading the snapshot: output in between is not lost.
    let rx = s.live.subscribe();
    let first = s.store.get_job_ticket(&p.tenant, &id).await?;
    let done = first.ticket.status.is_terminal();
    let tid = first.ticket.id.clone();
    let tenant = p.tenant.clone();
    let snapshot = super::ticket::snapshot;
    Ok(super::ticket::live(
        s,
        rx,
        tid,
        snapshot(&first),
        done,
        move |s, tid| {
            let tenant = tenant.clone();
            async move {
                let d = s.store.get_job_ticket(&tenant, &tid).await.ok()?;
                Some((snapshot(&d), d.ticket.status.is_terminal()))
            }
        },
    ))
}

async fn ticket(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<JobTicketDetail>> {
    Ok(Json(s.store.get_job_ticket(&p.tenant, &id).await?))
}

async fn action(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ActionBody>,
) -> ApiResult<Json<JobTicketDetail>> {
    let (d, cmds) = s
        .store
        .job_ticket_action(&p.tenant, &id, b.action, &p.user_name)
        .await?;
    crate::engine::jobticket::carry_out(&s, cmds).await;
    if b.action == JobAction::ForciblyEnd
        && let Some(inc) = &d.ticket.incident_id
    {
        let summary = format!(
            "job ticket {} forcibly ended by {}",
            d.ticket.number, p.user_name
        );
        s.store
            .record_ticket_outcome(&p.tenant, inc, &d.ticket.id, &summary)
            .await?;
    }
    Ok(Json(d))
}

async fn cancel(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path((id, host)): Path<(String, String)>,
) -> ApiResult<Json<JobTicketDetail>> {
    let (d, cmds) = s
        .store
        .cancel_job_host(&p.tenant, &id, &host, &p.user_name)
        .await?;
    crate::engine::jobticket::carry_out(&s, cmds).await;
    Ok(Json(d))
}

async fn clone_ticket(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<JobTicketDetail>)> {
    Ok((
        StatusCode::CREATED,
        Json(
            s.store
                .clone_job_ticket(&p.tenant, &id, &p.user_name)
                .await?,
        ),
    ))
}

async fn approve(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath((id, step, task)): ApiPath<(String, i64, i64)>,
    ApiJson(b): ApiJson<ReviewBody>,
) -> ApiResult<Json<JobTicketDetail>> {
    Ok(Json(
        s.store
            .decide_job_approval(
                &p.tenant,
                &id,
                step,
                task,
                &p.user_name,
                b.approve,
                b.comment.as_deref(),
            )
            .await?,
    ))
}
