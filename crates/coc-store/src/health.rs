//! Health checks (M7): a check is a ticket of the common job
//! [`coc_domain::health::JOB_NAME`] (its id is the ticket's); this
//! module starts one, measures COC itself, and reads the report — the
//! ticket's probe outputs, the hosts' patch compliance and agent
//! versions, judged by [`coc_domain::health`].

use std::collections::BTreeMap;
use std::time::Instant;

use coc_domain::health::{
    CocFacts, HealthCheckSpec, HostInput, JOB_NAME, PatchSummary, Report, Thresholds, host_items,
    judge_coc,
};
use coc_domain::notify::DeliveryStatus;
use coc_domain::resource::AgentStatus;
use sqlx::Row;

use crate::jobticket::{CommonRun, JobTicket, JobTicketDetail};
use crate::{Backend, Page, Paged, Result, Store, StoreError, sql_lit};

impl Store {
    /// Starts a health check of hosts (ids or names): a ticket of the
    /// common job, in batches of `batch_size` under the suspension
    /// threshold; COC is measured now. Answers the check's report (its
    /// hosts waiting).
    ///
    /// Errors: `Domain(Validation)` ([`HealthCheckSpec::normalized`]),
    /// `NotFound` (a host).
    pub async fn start_health_check(
        &self,
        tenant: &str,
        spec: &HealthCheckSpec,
        interval_ms: i64,
        server_version: &str,
        actor: &str,
    ) -> Result<Report> {
        let spec = spec.normalized()?;
        let hosts = self
            .distinct_refs(&spec.hosts, |h| self.host_ref(tenant, h))
            .await?;
        let run = CommonRun {
            job: JOB_NAME,
            description: format!("health check of {} host(s)", hosts.len()),
            hosts,
            params: BTreeMap::new(),
            batch_size: spec.batch_size,
            success_rate_threshold: spec.success_rate_threshold,
        };
        let t = self.start_common_job(tenant, run, actor).await?;
        self.measure(
            tenant,
            &t.ticket.id,
            &spec.thresholds.unwrap_or_default(),
            interval_ms,
        )
        .await?;
        self.health_report(tenant, &t.ticket.id, interval_ms, server_version)
            .await
    }

    /// The tenant's health checks (tickets of the common job, whoever
    /// started them: a person, or a scheduled task), newest first.
    ///
    /// Errors: a store error.
    pub async fn list_health_checks(&self, tenant: &str, page: &Page) -> Result<Paged<JobTicket>> {
        self.list_job_tickets(tenant, None, Some(JOB_NAME), page)
            .await
    }

    /// The report of health check `id` (its ticket's id or number). A
    /// check made by a schedule is measured (with the default
    /// thresholds) the first time it is read.
    ///
    /// Errors: `NotFound` (no such check).
    pub async fn health_report(
        &self,
        tenant: &str,
        id: &str,
        interval_ms: i64,
        server_version: &str,
    ) -> Result<Report> {
        let t = match self.get_job_ticket(tenant, id).await {
            Ok(t) if t.ticket.job_name == JOB_NAME => t,
            Ok(_) | Err(StoreError::NotFound { .. }) => {
                return Err(StoreError::not_found("health check", id));
            }
            Err(e) => return Err(e),
        };
        let (thresholds, facts) = match self.measured(&t.ticket.id).await? {
            Some(m) => m,
            None => {
                let th = Thresholds::default();
                self.measure(tenant, &t.ticket.id, &th, interval_ms).await?;
                self.measured(&t.ticket.id)
                    .await?
                    .ok_or_else(|| StoreError::not_found("health check", id))?
            }
        };
        let hosts = self.health_hosts(tenant, &t, interval_ms).await?;
        let now = self.now();
        let judged = hosts
            .iter()
            .map(|h| host_items(h, server_version, &thresholds, now))
            .collect();
        let tk = &t.ticket;
        Ok(Report::new(
            &tk.id,
            &tk.number,
            tk.status.as_str(),
            &tk.created_by,
            tk.created_at,
            tk.finished_at,
            judged,
            judge_coc(&facts, &thresholds),
            thresholds,
        ))
    }

    /// The hosts of check `t` as its report reads them: each one's latest
    /// probe run, name, agent version and patch compliance.
    async fn health_hosts(
        &self,
        tenant: &str,
        t: &JobTicketDetail,
        interval_ms: i64,
    ) -> Result<Vec<HostInput>> {
        let known: BTreeMap<String, (String, String)> = self
            .list_hosts(tenant, interval_ms)
            .await?
            .into_iter()
            .map(|h| (h.id, (h.facts.hostname, h.facts.agent_version)))
            .collect();
        let patches: BTreeMap<String, PatchSummary> = self
            .patch_compliance(tenant)
            .await?
            .items
            .into_iter()
            .filter_map(|r| {
                let c = r.compliance?;
                Some((
                    r.host_id,
                    PatchSummary {
                        non_compliant: c.non_compliant,
                        total: c.total,
                    },
                ))
            })
            .collect();
        let Some(step) = t.steps.first() else {
            return Ok(vec![]);
        };
        Ok(step
            .hosts
            .iter()
            .map(|h| {
                let run = h.runs.last();
                let (name, version) = known
                    .get(&h.host_id)
                    .cloned()
                    .unwrap_or_else(|| (h.host_id.clone(), String::new()));
                HostInput {
                    host_id: h.host_id.clone(),
                    host: name,
                    run_status: run.map(|r| r.status.clone()),
                    output: run.map(|r| r.output.clone()).unwrap_or_default(),
                    error: run
                        .and_then(|r| r.error.clone())
                        .or_else(|| h.error.clone()),
                    agent_version: version,
                    patches: patches.get(&h.host_id).copied(),
                }
            })
            .collect())
    }

    /// The thresholds and COC's figures kept for check `ticket`.
    async fn measured(&self, ticket: &str) -> Result<Option<(Thresholds, CocFacts)>> {
        let r = sqlx::query("SELECT thresholds, coc_facts FROM health_checks WHERE ticket_id = $1")
            .bind(ticket)
            .fetch_optional(self.reader())
            .await?;
        let Some(r) = r else { return Ok(None) };
        let th = serde_json::from_str(&r.try_get::<String, _>("thresholds")?).unwrap_or_default();
        let facts = serde_json::from_str(&r.try_get::<String, _>("coc_facts")?).unwrap_or_default();
        Ok(Some((th, facts)))
    }

    /// Measures COC now and keeps it, with `thresholds`, for check
    /// `ticket` (a second measure of the same check changes nothing).
    async fn measure(
        &self,
        tenant: &str,
        ticket: &str,
        thresholds: &Thresholds,
        interval_ms: i64,
    ) -> Result<()> {
        let facts = self.coc_facts(tenant, interval_ms).await?;
        sqlx::query(
            "INSERT INTO health_checks (ticket_id, tenant_id, thresholds, coc_facts, measured_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (ticket_id) DO NOTHING",
        )
        .bind(ticket)
        .bind(tenant)
        .bind(serde_json::to_string(thresholds).unwrap_or_default())
        .bind(serde_json::to_string(&facts).unwrap_or_default())
        .bind(self.now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// What COC is like now: its database's size and round trip, the
    /// engine's queues, the tenant's offline agents and notifications
    /// given up in the last 24 hours.
    async fn coc_facts(&self, tenant: &str, interval_ms: i64) -> Result<CocFacts> {
        let started = Instant::now();
        let _: i64 = sqlx::query_scalar("SELECT 1")
            .fetch_one(self.reader())
            .await?;
        let database_latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        let size_sql = match self.backend() {
            Backend::Sqlite => {
                "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()"
            }
            Backend::Postgres => "SELECT pg_database_size(current_database())",
        };
        let database_bytes: i64 = sqlx::query_scalar(size_sql)
            .fetch_one(self.reader())
            .await?;
        let now = self.now();
        let queues = self
            .gauges(now)
            .await?
            .queues
            .into_iter()
            .map(|(name, n)| (name.to_string(), n))
            .collect();
        let offline_agents = self
            .list_hosts(tenant, interval_ms)
            .await?
            .into_iter()
            .filter(|h| h.agent_status == AgentStatus::Offline)
            .map(|h| h.facts.hostname)
            .collect();
        let failed_deliveries_24h: i64 = sqlx::query_scalar(dynsql!(
            "SELECT COUNT(*) FROM deliveries WHERE tenant_id = $1 AND status = {} AND created_at >= $2",
            sql_lit(DeliveryStatus::Failed.as_str())
        ))
        .bind(tenant)
        .bind(now - 86_400_000)
        .fetch_one(self.reader())
        .await?;
        Ok(CocFacts {
            database_bytes,
            database_latency_ms: (database_latency_ms * 10.0).round() / 10.0,
            queues,
            offline_agents,
            failed_deliveries_24h,
        })
    }
}
