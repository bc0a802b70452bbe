//! Script tickets API (X7, ref. 10.1.1): list, detail, operator actions,
//! cancel one host, and live output as server-sent events.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use coc_domain::ticket::TicketAction;
use coc_store::Paged;
use coc_store::ticket::{Task, Ticket, TicketDetail};
use futures_util::Stream;
use serde::Deserialize;

use super::PageQuery;
use super::catalog::{RouteDoc, route};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiQuery};
use coc_store::access::Principal;

/// Query of `GET /api/v1/tickets`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = TicketQuery)]
#[serde(deny_unknown_fields)]
pub struct TicketQuery {
    /// Status filter.
    pub status: Option<String>,
    /// Page size.
    pub limit: Option<u32>,
    /// Cursor.
    pub cursor: Option<String>,
}

/// Body of `POST /api/v1/tickets/{id}/actions`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = ScriptTicketAction)]
#[serde(deny_unknown_fields)]
pub struct ActionBody {
    /// `pause`, `continue` or `forcibly_end`.
    pub action: TicketAction,
}

/// The routes this module serves, with what the guard checks and what
/// the OpenAPI document says of them.
pub const ROUTES: &[RouteDoc] = &[
    route!(
        "GET",
        "/api/v1/tickets",
        "ticket",
        "List script tickets (ref. 10.1.1)",
        TicketList,
        query = TicketQuery,
        list = coc_store::ticket::Ticket
    ),
    route!(
        "GET",
        "/api/v1/tickets/{id}",
        "ticket",
        "Show a ticket with per-host status, exit code and output",
        TicketGet,
        ok = coc_store::ticket::TicketDetail
    ),
    route!(
        "POST",
        "/api/v1/tickets/{id}/actions",
        "ticket",
        "Pause, continue or forcibly end a ticket; checked as coc:ticket:<action>",
        actions_of "coc:ticket:*",
        body = ActionBody,
        ok = coc_store::ticket::TicketDetail
    ),
    route!(
        "POST",
        "/api/v1/tickets/{id}/tasks/{task_id}/cancel",
        "ticket",
        "Cancel one host of a ticket",
        TicketCancelHost,
        ok = coc_store::ticket::Task
    ),
    route!(
        "GET",
        "/api/v1/tickets/{id}/events",
        "ticket",
        "Live output of a ticket (server-sent events)",
        TicketGet,
        media = "text/event-stream"
    ),
];

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/tickets", get(list))
        .route("/api/v1/tickets/{id}", get(show))
        .route("/api/v1/tickets/{id}/actions", post(action))
        .route("/api/v1/tickets/{id}/tasks/{task_id}/cancel", post(cancel))
        .route("/api/v1/tickets/{id}/events", get(events))
}

async fn list(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiQuery(q): ApiQuery<TicketQuery>,
) -> ApiResult<Json<Paged<Ticket>>> {
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
            .list_tickets(&p.tenant, q.status.as_deref(), &page)
            .await?,
    ))
}

async fn show(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<TicketDetail>> {
    Ok(Json(s.store.get_ticket(&p.tenant, &id).await?))
}

async fn action(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,

    Path(id): Path<String>,
    ApiJson(b): ApiJson<ActionBody>,
) -> ApiResult<Json<TicketDetail>> {
    let (detail, stop) = s
        .store
        .ticket_action(&p.tenant, &id, b.action, &p.user_name)
        .await?;
    crate::engine::jobticket::carry_out(&s, stop).await;
    if b.action == TicketAction::ForciblyEnd
        && let Some(inc) = &detail.ticket.incident_id
    {
        let summary = format!(
            "repair ticket {} forcibly ended by {}",
            detail.ticket.number,
            p.user_name.clone()
        );
        s.store
            .record_ticket_outcome(&p.tenant, inc, &detail.ticket.id, &summary)
            .await?;
    }
    Ok(Json(detail))
}

async fn cancel(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,

    Path((id, task_id)): Path<(String, String)>,
) -> ApiResult<Json<Task>> {
    let (task, stop) = s
        .store
        .cancel_task(&p.tenant, &id, &task_id, &p.user_name)
        .await?;
    crate::engine::jobticket::carry_out(&s, stop).await;
    Ok(Json(task))
}

/// `GET /api/v1/tickets/{id}/events`: first a `snapshot` event with the
/// ticket, then `output` events (`{"task_id","host_id","data"}`) and
/// `task_done` events (`{"task_id","host_id"}`) as they happen, and a final `snapshot` when the ticket is
/// finished.
async fn events(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    // Listen before reading the snapshot: output in between is not lost.
    let rx = s.live.subscribe();
    let first = s.store.get_ticket(&p.tenant, &id).await?;
    let done = first.ticket.status.is_terminal();
    let tid = first.ticket.id.clone();
    let tenant = p.tenant.clone();
    Ok(live(s, rx, tid, snapshot(&first), done, move |s, tid| {
        let tenant = tenant.clone();
        async move {
            let d = s.store.get_ticket(&tenant, &tid).await.ok()?;
            Some((snapshot(&d), d.ticket.status.is_terminal()))
        }
    }))
}

/// A `snapshot` event of a ticket (script or job ticket detail).
pub(super) fn snapshot(d: &impl serde::Serialize) -> Event {
    Event::default()
        .event("snapshot")
        .json_data(d)
        .unwrap_or_default()
}

/// The live view of ticket `tid` as server-sent events: `first` (a
/// snapshot), then `output` (`{"task_id","host_id","data"}`) and
/// `task_done` (`{"task_id","host_id"}`) events of its tasks or job runs as the agents report
/// them, and — once `load` (the stored ticket: its snapshot, whether it
/// is finished; checked every 2 s and after a lag) says it is finished —
/// a last snapshot. `done`: the ticket is already finished (only `first`).
/// `rx` was subscribed before `first` was read, so nothing falls between.
pub(super) fn live<F, Fut>(
    s: AppState,
    rx: tokio::sync::broadcast::Receiver<crate::LiveEvent>,
    tid: String,
    first: Event,
    done: bool,
    load: F,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>>
where
    F: Fn(AppState, String) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Option<(Event, bool)>> + Send,
{
    let st = futures_util::stream::unfold(
        (Some(first), rx, s, tid, done),
        move |(first, mut rx, s, tid, finished)| {
            let load = load.clone();
            async move {
                if let Some(ev) = first {
                    return Some((Ok(ev), (None, rx, s, tid, finished)));
                }
                if finished {
                    return None;
                }
                loop {
                    match tokio::time::timeout(Duration::from_secs(2), rx.recv()).await {
                        Ok(Ok(e)) if e.ticket_id == tid => {
                            let ev = if e.done {
                                Event::default()
                                    .event("task_done")
                                    .json_data(serde_json::json!({"task_id": e.task_id, "host_id": e.host_id}))
                                    .unwrap_or_default()
                            } else {
                                Event::default()
                                    .event("output")
                                    .json_data(
                                        serde_json::json!({"task_id": e.task_id, "host_id": e.host_id, "data": e.data}),
                                    )
                                    .unwrap_or_default()
                            };
                            return Some((Ok(ev), (None, rx, s, tid, false)));
                        }
                        Ok(Ok(_)) => continue,
                        Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) | Err(_) => {
                            // Periodically (and after lag) re-check the stored state.
                            if let Some((ev, true)) = load(s.clone(), tid.clone()).await {
                                return Some((Ok(ev), (None, rx, s, tid, true)));
                            }
                        }
                        Ok(Err(_)) => return None,
                    }
                }
            }
        },
    );
    Sse::new(st).keep_alive(KeepAlive::default())
}
