//! Operator actions (ref. 10.1.2): pause, continue, forcibly end, terminate all, retry, cancel one host, and approval decisions.

use super::*;

impl Store {
    /// An operator action on a job ticket (ref. 10.1.2), decided by
    /// [`coc_domain::jobticket::action`]. Returns the ticket after it and
    /// the agent runs to stop.
    ///
    /// Errors: `NotFound`, `Domain(InvalidTransition)` (not allowed in
    /// the ticket's state).
    pub async fn job_ticket_action(
        &self,
        tenant: &str,
        id: &str,
        action: JobAction,
        actor: &str,
    ) -> Result<(JobTicketDetail, Vec<JobCommand>)> {
        self.operate(tenant, id, |st| {
            jt::action(&st.engine(), action, actor).map_err(Into::into)
        })
        .await
    }

    /// Cancels one host of the current step (ref. 10.1.2 "Cancel"), by
    /// its job-host id or host id. Returns the ticket and the agent run to
    /// stop, if one was running.
    ///
    /// Errors: `NotFound`, `Domain(InvalidTransition)` when the host or
    /// the ticket is already finished.
    pub async fn cancel_job_host(
        &self,
        tenant: &str,
        id: &str,
        host: &str,
        actor: &str,
    ) -> Result<(JobTicketDetail, Vec<JobCommand>)> {
        self.operate(tenant, id, |st| {
            let engine = st.engine();
            let h = engine
                .current_host(host)
                .ok_or_else(|| StoreError::not_found("host in the current step", host))?;
            Ok(jt::cancel_host(&engine, &h.id, actor)?)
        })
        .await
    }

    /// An operator's change to ticket `id`: locks it, lets `decide` (a
    /// domain decision) say what changes, applies that in one transaction
    /// (the ticket's `updated_at` too), and returns the ticket after it and
    /// the agent runs to stop.
    async fn operate(
        &self,
        tenant: &str,
        id: &str,
        decide: impl FnOnce(&State) -> Result<Vec<Change>>,
    ) -> Result<(JobTicketDetail, Vec<JobCommand>)> {
        let cur = self.get_job_ticket(tenant, id).await?;
        let tid = cur.ticket.id.clone();
        let now = self.now();
        let mut tx = self.begin().await?;
        lock_ticket(&mut tx, &tid).await?;
        let st = self.load_state(&mut tx, &tid, Outputs::All).await?;
        let changes = decide(&st)?;
        let mut applied = self
            .apply_changes(&mut tx, &st, changes, &HostFacts::default(), now)
            .await?;
        sqlx::query("UPDATE job_tickets SET updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(&tid)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        applied.wake = true;
        let cmds = self.after_changes(&st, applied).await;
        Ok((self.get_job_ticket(tenant, &tid).await?, cmds))
    }

    /// Approves or rejects the approval a job ticket waits for at step
    /// `step`, task `task` (0-based). The decider must be one of the
    /// task's reviewers (by name, or on call for a listed shift role now).
    ///
    /// Errors: `NotFound` (ticket or approval), `Domain(InvalidTransition)`
    /// (already decided), `Domain(Validation)` (not a reviewer).
    #[allow(clippy::too_many_arguments)]
    pub async fn decide_job_approval(
        &self,
        tenant: &str,
        id: &str,
        step: i64,
        task: i64,
        reviewer: &str,
        approve: bool,
        comment: Option<&str>,
    ) -> Result<JobTicketDetail> {
        let cur = self.get_job_ticket(tenant, id).await?;
        let a = cur
            .approvals
            .iter()
            .find(|a| a.step == step && a.task == task)
            .ok_or_else(|| {
                StoreError::not_found("approval", &format!("step {step} task {task}"))
            })?;
        if a.status != "pending" {
            return Err(coc_domain::DomainError::InvalidTransition(format!(
                "the approval of task '{}' is already {}",
                a.task_name, a.status
            ))
            .into());
        }
        let Some(Atom::Approval { reviewers, .. }) = cur
            .job
            .steps
            .get(step as usize)
            .and_then(|s| s.tasks.get(task as usize))
            .map(|t| &t.atom)
        else {
            return Err(StoreError::not_found("approval task", &task.to_string()));
        };
        if comment.is_some_and(|c| c.chars().count() > 1000) {
            return Err(
                coc_domain::error::invalid("the comment is longer than 1000 characters").into(),
            );
        }
        let facts = coc_domain::notify::IncidentFacts::not_an_incident("");
        let allowed = self
            .resolve_people(tenant, reviewers, &facts, self.now_utc())
            .await?;
        if !allowed.iter().any(|p| p == reviewer) {
            return Err(coc_domain::error::invalid(format!(
                "{reviewer} is not a reviewer of task '{}' (reviewers now: {})",
                a.task_name,
                if allowed.is_empty() {
                    "nobody".to_string()
                } else {
                    allowed.join(", ")
                }
            ))
            .into());
        }
        let mut tx = self.begin().await?;
        lock_ticket(&mut tx, &cur.ticket.id).await?;
        let n = sqlx::query(dynsql!(
            "UPDATE job_approvals SET status=$1, decided_by=$2, decided_at=$3, comment=$4 \
             WHERE ticket_id=$5 AND step=$6 AND task_idx=$7 AND status={}",
            sql_lit(Approval::Pending.as_str())
        ))
        .bind(
            if approve {
                Approval::Approved
            } else {
                Approval::Rejected
            }
            .as_str(),
        )
        .bind(reviewer)
        .bind(self.now())
        .bind(comment)
        .bind(&cur.ticket.id)
        .bind(step)
        .bind(task)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::Conflict(
                "the approval was decided meanwhile; reload".into(),
            ));
        }
        tx.commit().await?;
        self.work.notify_one();
        self.get_job_ticket(tenant, &cur.ticket.id).await
    }
}
