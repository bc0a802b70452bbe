//! Group commit of what agents report (X8, fan-out): heartbeats, output
//! chunks and task results from every connected agent are queued to one writer,
//! which stores whatever has queued up in a single transaction (one fsync
//! for many agents). Each report is answered only after its transaction
//! commits, so an agent's result is acknowledged only once it is durable,
//! and a session that awaits each answer keeps its own reports in order.

use coc_domain::ticket::TaskStatus;
use tokio::sync::{mpsc, oneshot};

use crate::{Result, Store, StoreError};

/// Most reports stored in one transaction.
const MAX_GROUP: usize = 2000;

/// Something an agent reported about a script-ticket task or a job run
/// (the id tells which).
#[derive(Debug, Clone)]
pub enum Report {
    /// A heartbeat of a host's agent.
    Heartbeat {
        /// The host.
        host_id: String,
    },
    /// A piece of output.
    Output {
        /// Task or run id.
        task_id: String,
        /// The reporting host (only its own tasks change).
        host_id: String,
        /// Text.
        data: String,
    },
    /// The end of a task.
    Result {
        /// Task or run id.
        task_id: String,
        /// The reporting host.
        host_id: String,
        /// Outcome.
        status: TaskStatus,
        /// Exit code.
        exit_code: Option<i64>,
        /// Why, when not by exit code.
        error: Option<String>,
        /// A patch task's report (P2).
        patches: Option<Box<coc_proto::PatchReport>>,
    },
}

struct Req {
    report: Report,
    reply: oneshot::Sender<Result<Option<String>>>,
}

/// Sender side of the report writer.
#[derive(Clone)]
pub(crate) struct ReportHandle(Option<mpsc::Sender<Req>>);

impl ReportHandle {
    pub(crate) fn detached() -> Self {
        ReportHandle(None)
    }
}

pub(crate) fn spawn_report_writer(store: Store) -> ReportHandle {
    let (tx, mut rx) = mpsc::channel::<Req>(4096);
    tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut group = vec![first];
            while group.len() < MAX_GROUP {
                match rx.try_recv() {
                    Ok(r) => group.push(r),
                    Err(_) => break,
                }
            }
            match store.store_reports(&group).await {
                Ok(out) => {
                    if out.iter().any(|(result, t)| *result && t.is_some()) {
                        store.work.notify_one();
                    }
                    for (req, (_, t)) in group.into_iter().zip(out) {
                        let _ = req.reply.send(Ok(t));
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, reports = group.len(), "agent reports not stored");
                    let msg = e.to_string();
                    for req in group {
                        let _ = req.reply.send(Err(StoreError::Conflict(msg.clone())));
                    }
                }
            }
        }
    });
    ReportHandle(Some(tx))
}

impl Store {
    /// Stores an agent's report (with others in one transaction) and
    /// returns the id of the ticket (script or job) it changed, if any.
    ///
    /// Errors: the group's transaction failed (nothing of it is stored;
    /// the agent re-sends unacknowledged results), `WriterGone` at
    /// shutdown.
    pub async fn report(&self, report: Report) -> Result<Option<String>> {
        let Some(tx) = &self.reports.0 else {
            return Err(StoreError::WriterGone);
        };
        let (reply, rx) = oneshot::channel();
        tx.send(Req { report, reply })
            .await
            .map_err(|_| StoreError::WriterGone)?;
        rx.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Applies a group of reports in one transaction: `(is a result,
    /// changed ticket)` per report.
    async fn store_reports(&self, group: &[Req]) -> Result<Vec<(bool, Option<String>)>> {
        let mut tx = self.begin().await?;
        let mut out = Vec::with_capacity(group.len());
        for r in group {
            out.push(match &r.report {
                Report::Heartbeat { host_id } => {
                    sqlx::query("UPDATE hosts SET last_heartbeat = $1 WHERE id = $2")
                        .bind(self.now())
                        .bind(host_id)
                        .execute(&mut *tx)
                        .await?;
                    (false, None)
                }
                Report::Output {
                    task_id,
                    host_id,
                    data,
                } => {
                    let t = crate::jobticket::append_job_output_in(&mut tx, task_id, host_id, data)
                        .await?;
                    (false, t)
                }
                Report::Result {
                    task_id,
                    host_id,
                    status,
                    exit_code,
                    error,
                    patches,
                } => {
                    let t = crate::jobticket::finish_job_run_in(
                        &mut tx,
                        task_id,
                        Some(host_id),
                        *status,
                        *exit_code,
                        error.as_deref(),
                        None,
                        patches.as_deref(),
                        self.now(),
                    )
                    .await?;
                    (true, t)
                }
            });
        }
        tx.commit().await?;
        Ok(out)
    }
}
