//! Figures for `GET /metrics` (D4): work waiting in each engine round's
//! queue and records by state, counted when Prometheus scrapes. Every
//! query is one indexed count or a grouped count over a status column.

use coc_domain::escalation::EscalationState;
use coc_domain::notify::DeliveryStatus;
use coc_domain::ticket::TaskStatus;
use sqlx::Row;

use crate::{Result, Store, sql_lit};

/// Counts at one instant.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Gauges {
    /// Work waiting per round: `incident_events` (not yet dispatched),
    /// `escalations` (levels due), `deliveries` (attempts due),
    /// `schedules` (enabled tasks due), `tickets` (script and job tickets
    /// running, paused or abnormal), `agent_tasks` (runs out on agents).
    pub queues: Vec<(&'static str, i64)>,
    /// Tickets by kind (`script`, `job`) and state.
    pub tickets: Vec<(&'static str, String, i64)>,
    /// Deliveries by state.
    pub deliveries: Vec<(String, i64)>,
}

impl Store {
    /// The gauges at `now` (Unix ms).
    ///
    /// Errors: a store error.
    pub async fn gauges(&self, now: i64) -> Result<Gauges> {
        let count = |sql: String| {
            let pool = self.reader().clone();
            async move {
                let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .bind(now)
                    .fetch_one(&pool)
                    .await?;
                Ok::<i64, crate::StoreError>(n)
            }
        };
        let executing = sql_lit(TaskStatus::Executing.as_str());
        let mut g = Gauges::default();
        g.queues.push((
            "incident_events",
            count("SELECT COUNT(*) FROM incident_events WHERE done = 0 AND at <= $1".into())
                .await?,
        ));
        g.queues.push((
            "escalations",
            count(format!(
                "SELECT COUNT(*) FROM escalations WHERE state = {} AND next_at <= $1",
                sql_lit(EscalationState::Running.as_str())
            ))
            .await?,
        ));
        g.queues.push((
            "deliveries",
            count(format!(
                "SELECT COUNT(*) FROM deliveries WHERE status = {} AND next_attempt_at <= $1",
                sql_lit(DeliveryStatus::Pending.as_str())
            ))
            .await?,
        ));
        g.queues.push((
            "schedules",
            count(
                "SELECT COUNT(*) FROM scheduled_tasks WHERE enabled = 1 AND next_run_at <= $1"
                    .into(),
            )
            .await?,
        ));
        g.queues.push((
            "agent_tasks",
            count(format!(
                "SELECT COUNT(*) FROM job_runs WHERE status = {executing} AND started_at <= $1"
            ))
            .await?,
        ));
        let rows = sqlx::query(
            "SELECT kind, status, COUNT(*) AS n FROM job_tickets GROUP BY kind, status",
        )
        .fetch_all(self.reader())
        .await?;
        let mut active = 0;
        for r in &rows {
            let kind = if r.try_get::<String, _>("kind")? == crate::ticket::KIND {
                crate::ticket::KIND
            } else {
                crate::jobticket::KIND_JOB
            };
            let status: String = r.try_get("status")?;
            let n: i64 = r.try_get("n")?;
            if coc_domain::ticket::TicketStatus::parse(&status).is_ok_and(|s| !s.is_terminal()) {
                active += n;
            }
            g.tickets.push((kind, status, n));
        }
        g.queues.push(("tickets", active));
        let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM deliveries GROUP BY status")
            .fetch_all(self.reader())
            .await?;
        for r in &rows {
            g.deliveries.push((r.try_get("status")?, r.try_get("n")?));
        }
        Ok(g)
    }
}
