//! Reading tickets: one with its steps, hosts, runs and approvals; lists with host counts.

use super::*;

impl Store {
    /// One job ticket (by id or number) with steps, hosts, runs and
    /// approvals. Errors: `NotFound`.
    pub async fn get_job_ticket(&self, tenant: &str, id: &str) -> Result<JobTicketDetail> {
        let tid: String = sqlx::query_scalar(
            "SELECT id FROM job_tickets WHERE tenant_id = $1 AND (id = $2 OR number = $2)",
        )
        .bind(tenant)
        .bind(id)
        .fetch_optional(self.reader())
        .await?
        .ok_or_else(|| StoreError::not_found("job ticket", id))?;
        let mut tx = self.begin().await?;
        let st = self.load_state(&mut tx, &tid, Outputs::All).await?;
        let r = sqlx::query(dynsql!("SELECT {COLS} FROM job_tickets WHERE id = $1"))
            .bind(&tid)
            .fetch_one(&mut *tx)
            .await?;
        let approvals = sqlx::query(
            "SELECT step, task_idx, status, requested_at, decided_by, decided_at, comment FROM job_approvals \
             WHERE ticket_id = $1 ORDER BY step, task_idx",
        )
        .bind(&tid)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let task_name = |s: i64, t: i64| {
            st.spec
                .steps
                .get(s as usize)
                .and_then(|x| x.tasks.get(t as usize))
                .map(|x| x.name.clone())
                .unwrap_or_default()
        };
        let counts = counts_of(
            st.hosts
                .iter()
                .filter(|h| h.step as usize == st.current_step),
        );
        let ticket = ticket_row(&r, counts)?;
        let mut steps = Vec::new();
        for (i, s) in st.spec.steps.iter().enumerate() {
            let hs: Vec<&HostRow> = st.hosts.iter().filter(|h| h.step as usize == i).collect();
            let c = counts_of(hs.iter().copied());
            let status = if i > st.current_step {
                if st.status.is_terminal() {
                    "cancelled"
                } else {
                    "pending"
                }
            } else if i == st.current_step && !st.status.is_terminal() {
                if st.status == TicketStatus::Abnormal {
                    "abnormal"
                } else {
                    "executing"
                }
            } else if c.failed > 0 {
                "failed"
            } else if c.successful == 0 && c.cancelled > 0 {
                "cancelled"
            } else {
                "successful"
            };
            let plan = &st.steps[i];
            steps.push(JobStepView {
                index: i as i64,
                name: s.name.clone(),
                status: status.into(),
                batch_policy: plan.batch_policy,
                batches: plan.batches.len() as i64,
                success_rate_threshold: plan.threshold.map(|t| f64::from(t) / 10.0),
                counts: c,
                hosts: hs
                    .iter()
                    .map(|h| JobHost {
                        id: h.id.clone(),
                        host_id: h.host_id.clone(),
                        batch: h.batch,
                        status: h.status,
                        task: h.task_idx,
                        held: h.held,
                        error: h.error.clone(),
                        started_at: h.started_at,
                        finished_at: h.finished_at,
                        runs: st
                            .runs
                            .iter()
                            .filter(|r| r.job_host_id == h.id)
                            .map(|r| JobRun {
                                id: r.id.clone(),
                                task: r.task_idx,
                                task_name: task_name(i as i64, r.task_idx),
                                attempt: r.attempt,
                                kind: r.kind.clone(),
                                status: r.status.clone(),
                                phase: r.phase.clone(),
                                exit_code: r.exit_code,
                                output: r.output.clone(),
                                error: r.error.clone(),
                                started_at: r.started_at,
                                finished_at: r.finished_at,
                            })
                            .collect(),
                    })
                    .collect(),
            });
        }
        let from_center: Vec<&str> = st
            .spec
            .params
            .iter()
            .filter(|p| p.from.is_some())
            .map(|p| p.name.as_str())
            .collect();
        let params = st
            .params
            .iter()
            .map(|(k, v)| {
                let shown = if from_center.contains(&k.as_str()) {
                    "******".to_string()
                } else {
                    v.clone()
                };
                (k.clone(), shown)
            })
            .collect();
        let approvals = approvals
            .iter()
            .map(|a| {
                let (s, t): (i64, i64) = (a.try_get("step")?, a.try_get("task_idx")?);
                Ok(JobApproval {
                    step: s,
                    task: t,
                    task_name: task_name(s, t),
                    status: a.try_get("status")?,
                    requested_at: a.try_get("requested_at")?,
                    decided_by: a.try_get("decided_by")?,
                    decided_at: a.try_get("decided_at")?,
                    comment: a.try_get("comment")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(JobTicketDetail {
            ticket,
            params,
            job: st.spec.clone(),
            scripts: st.scripts.values().cloned().collect(),
            steps,
            approvals,
        })
    }

    /// Job tickets, newest first, keyset-paged; optional status and job
    /// filters. Counts are those of each ticket's current step.
    pub async fn list_job_tickets(
        &self,
        tenant: &str,
        status: Option<&str>,
        job: Option<&str>,
        page: &Page,
    ) -> Result<Paged<JobTicket>> {
        let mut w = Filter::new(tenant);
        w.push("kind = ?", Arg::S(KIND_JOB.to_string()));
        if let Some(s) = status {
            w.push("status = ?", Arg::S(s.to_string()));
        }
        if let Some(j) = job {
            // Both placeholders take the same value.
            w.push("(job_id = ? OR job_name = ?)", Arg::S(j.to_string()));
        }
        let mut out = self
            .fetch_page(
                COLS,
                "job_tickets",
                w,
                page,
                |r| ticket_row(r, HostCounts::default()),
                |t| t.id.clone(),
            )
            .await?;
        for t in &mut out.items {
            t.counts = self.job_host_counts(&t.id, t.current_step).await?;
        }
        Ok(out)
    }

    /// Host counts of step `step` of a ticket by state (one grouped query).
    pub(crate) async fn job_host_counts(&self, ticket_id: &str, step: i64) -> Result<HostCounts> {
        let rows = sqlx::query(
            "SELECT status, COUNT(*) AS n FROM job_hosts WHERE ticket_id = $1 AND step = $2 GROUP BY status",
        )
        .bind(ticket_id)
        .bind(step)
        .fetch_all(self.reader())
        .await?;
        let mut c = HostCounts::default();
        for r in &rows {
            let n: i64 = r.try_get("n")?;
            c.total += n;
            match TaskStatus::parse(&r.try_get::<String, _>("status")?)? {
                TaskStatus::Pending => c.pending += n,
                TaskStatus::Executing => c.executing += n,
                TaskStatus::Successful => c.successful += n,
                TaskStatus::Failed => c.failed += n,
                TaskStatus::Cancelled => c.cancelled += n,
            }
        }
        Ok(c)
    }
}
