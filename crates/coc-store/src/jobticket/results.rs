//! Results from agents and the server's own HTTP calls, output, and re-sending the runs an agent should be running (after a reconnect, or relayed from another replica).

use super::*;

impl Store {
    /// Records the end of a run reported by an agent or by the server's
    /// HTTP call, if the run is still executing. A successful reboot run
    /// only starts waiting for the host to come back. Returns the ticket
    /// id when something changed (a late or repeated result changes
    /// nothing); `host_id`, when given, must be the run's host.
    ///
    /// Errors: a store error (the agent re-sends the result).
    pub async fn finish_job_run(
        &self,
        run_id: &str,
        host_id: Option<&str>,
        status: TaskStatus,
        exit_code: Option<i64>,
        error: Option<&str>,
        output: Option<&str>,
    ) -> Result<Option<String>> {
        let mut tx = self.begin().await?;
        let t = finish_job_run_in(
            &mut tx,
            run_id,
            host_id,
            status,
            exit_code,
            error,
            output,
            None,
            self.now(),
        )
        .await?;
        tx.commit().await?;
        if t.is_some() {
            self.work.notify_one();
        }
        Ok(t)
    }

    /// Appends agent output to an executing run of `host_id` (up to
    /// [`crate::ticket::MAX_OUTPUT_BYTES`]); returns the ticket id when
    /// the run exists.
    pub async fn append_job_output(
        &self,
        run_id: &str,
        host_id: &str,
        chunk: &str,
    ) -> Result<Option<String>> {
        let mut tx = self.begin().await?;
        let t = append_job_output_in(&mut tx, run_id, host_id, chunk).await?;
        tx.commit().await?;
        Ok(t)
    }

    /// What a host's agent should be running: the runs of every ticket
    /// (scripts, reboots) still waiting for the agent.
    /// Sent again when the agent (re)connects, so a dispatch lost in a
    /// server crash is not lost (X8); the agent ignores ids it knows and
    /// re-sends the results it holds.
    ///
    /// Errors: a store error.
    pub async fn redispatch(&self, host_id: &str) -> Result<Vec<JobCommand>> {
        self.redispatch_many(&[host_id.to_string()]).await
    }

    /// [`Store::redispatch`] for several hosts at once: each ticket's
    /// state and parameters are read once, however many of its runs wait.
    ///
    /// Errors: a store error.
    pub async fn redispatch_many(&self, hosts: &[String]) -> Result<Vec<JobCommand>> {
        let mut out = Vec::new();
        // Per ticket: its state, its parameters and the secret values.
        type Loaded = (State, BTreeMap<String, String>, Vec<String>);
        let mut tickets: BTreeMap<String, Loaded> = BTreeMap::new();
        for host_id in hosts {
            let rows = sqlx::query(dynsql!(
                "SELECT id, ticket_id, step, task_idx, kind, detail, tenant_id FROM job_runs \
                 WHERE host_id = $1 AND status = {} AND phase = 'agent'",
                sql_lit(RunStatus::Executing.as_str())
            ))
            .bind(host_id)
            .fetch_all(self.reader())
            .await?;
            for r in &rows {
                let run_id: String = r.try_get("id")?;
                if r.try_get::<String, _>("kind")? == "reboot" {
                    out.push(JobCommand::Reboot {
                        run_id,
                        host_id: host_id.clone(),
                    });
                    continue;
                }
                if r.try_get::<String, _>("kind")?.starts_with("patch_") {
                    let detail: Option<String> = r.try_get("detail")?;
                    if let Some(d) = detail.and_then(|d| {
                        serde_json::from_str::<crate::patch::host::PatchDetail>(&d).ok()
                    }) {
                        out.push(JobCommand::Patch {
                            run_id,
                            host_id: host_id.clone(),
                            action: d.action,
                            timeout_s: d.timeout_s,
                        });
                    }
                    continue;
                }
                if r.try_get::<String, _>("kind")? == "upgrade" {
                    let detail: Option<String> = r.try_get("detail")?;
                    let tenant: String = r.try_get("tenant_id")?;
                    let Some(d) = detail.and_then(|d| {
                        serde_json::from_str::<crate::agent_upgrade::UpgradeDetail>(&d).ok()
                    }) else {
                        continue;
                    };
                    let mut c = self.reader().acquire().await?;
                    if let Some(b) =
                        crate::agent_upgrade::build_in(&mut c, &tenant, &d.build).await?
                    {
                        out.push(JobCommand::Upgrade {
                            run_id,
                            host_id: host_id.clone(),
                            version: b.version,
                            sha256: b.sha256,
                            size_bytes: b.size_bytes as u64,
                            rollback_after_s: u64::from(d.rollback_after_s),
                        });
                    }
                    continue;
                }
                // A script run: rebuild the command from the ticket's copy.
                let ticket: String = r.try_get("ticket_id")?;
                if !tickets.contains_key(&ticket) {
                    let mut tx = self.begin().await?;
                    let st = self.load_state(&mut tx, &ticket, Outputs::None).await?;
                    tx.commit().await?;
                    let (params, secrets) = self.job_params(&st).await;
                    tickets.insert(ticket.clone(), (st, params, secrets));
                }
                let (st, params, secret_values) = &tickets[&ticket];
                let (step, ti): (i64, i64) = (r.try_get("step")?, r.try_get("task_idx")?);
                let Some(task) = st
                    .spec
                    .steps
                    .get(step as usize)
                    .and_then(|s| s.tasks.get(ti as usize))
                else {
                    continue;
                };
                if let Atom::Script {
                    script,
                    params: values,
                    run_as,
                    timeout_s,
                } = &task.atom
                {
                    let c = &st.scripts[script.as_str()];
                    let kinds = st
                        .spec
                        .params
                        .iter()
                        .map(|p| (p.name.clone(), p.kind))
                        .collect();
                    let mut tx = self.begin().await?;
                    let vars = self.host_vars(&mut tx, host_id).await?;
                    tx.commit().await?;
                    let given: BTreeMap<String, String> = values
                        .iter()
                        .map(|(k, v)| (k.clone(), substitute(v, params, &kinds, &vars)))
                        .collect();
                    if let Ok(env) = resolve_params(&c.params, &given) {
                        out.push(JobCommand::Exec {
                            run_id,
                            host_id: host_id.clone(),
                            script_type: c.script_type.clone(),
                            content: c.content.clone(),
                            secret_env: secret_env(&c.params, &env, secret_values),
                            env,
                            run_as: run_as.clone().unwrap_or_else(|| DEFAULT_RUN_AS.into()),
                            timeout_s: u64::from(timeout_s.unwrap_or(DEFAULT_TIMEOUT_S)),
                        });
                    }
                }
            }
        }
        Ok(out)
    }

    /// Marks HTTP runs and cloud operations (P4) left executing by a
    /// previous server process as failed: the call may or may not have
    /// been made, and it is not repeated (X8). Returns how many.
    pub async fn fail_interrupted_http_runs(&self) -> Result<u64> {
        let mut tx = self.begin().await?;
        let n = sqlx::query(dynsql!(
            "UPDATE job_runs SET status = {}, phase = NULL, finished_at = $1, \
             error = CASE WHEN kind = 'http' \
             THEN 'interrupted by a server restart; the HTTP call is not repeated' \
             ELSE 'interrupted by a server restart; the cloud operation is not followed: check the server and run it again' END \
             WHERE (kind = 'http' OR phase = {}) AND status = {}",
            sql_lit(RunStatus::Failed.as_str()),
            sql_lit(jt::CLOUD),
            sql_lit(RunStatus::Executing.as_str())
        ))
        .bind(self.now())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        if n > 0 {
            self.work.notify_one();
        }
        Ok(n)
    }
}

/// [`Store::finish_job_run`] inside the caller's transaction.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn finish_job_run_in(
    conn: &mut sqlx::AnyConnection,
    run_id: &str,
    host_id: Option<&str>,
    status: TaskStatus,
    exit_code: Option<i64>,
    error: Option<&str>,
    output: Option<&str>,
    patches: Option<&coc_proto::PatchReport>,
    now: i64,
) -> Result<Option<String>> {
    let r = sqlx::query(dynsql!(
        "SELECT ticket_id, kind, phase, detail, host_id, tenant_id FROM job_runs WHERE id = $1 AND status = {} AND ($2 = '' OR host_id = $2)",
        sql_lit(RunStatus::Executing.as_str())
    ))
    .bind(run_id)
    .bind(host_id.unwrap_or(""))
    .fetch_optional(&mut *conn)
    .await?;
    let Some(r) = r else {
        return Ok(None);
    };
    let ticket: String = r.try_get("ticket_id")?;
    sqlx::query("UPDATE job_tickets SET updated_at = updated_at WHERE id = $1")
        .bind(&ticket)
        .execute(&mut *conn)
        .await?;
    let kind: String = r.try_get("kind")?;
    let phase: Option<String> = r.try_get("phase")?;
    // An upgrade is over when the host's agent runs the wanted build.
    let mut status = status;
    let mut error = error.map(str::to_string);
    let mut exit_code = exit_code;
    if kind == "upgrade" && status == TaskStatus::Successful {
        let why = upgrade_mismatch(conn, &r).await?;
        if why.is_some() {
            (status, error, exit_code) = (TaskStatus::Failed, why, None);
        }
    }
    // A patch run's report is stored with its end, whatever its outcome.
    if kind.starts_with("patch_")
        && let Some(report) = patches
    {
        let why = crate::patch::host::record_in(
            conn,
            &r.try_get::<String, _>("tenant_id")?,
            &r.try_get::<String, _>("host_id")?,
            run_id,
            &kind,
            r.try_get::<Option<String>, _>("detail")?.as_deref(),
            status == TaskStatus::Successful,
            report,
            now,
        )
        .await?;
        if why.is_some() && status == TaskStatus::Successful {
            (status, error, exit_code) = (TaskStatus::Failed, why, None);
        }
    }
    let error = error.as_deref();
    let reboot = kind == "reboot" || phase.as_deref() == Some(jt::REBOOT_ASKED);
    let n = if reboot && status == TaskStatus::Successful {
        sqlx::query(dynsql!(
            "UPDATE job_runs SET phase = {}, output = 'reboot started; waiting for the host to come back\n' \
             WHERE id = $1 AND status = {}",
            sql_lit(jt::BOOTING),
            sql_lit(RunStatus::Executing.as_str())
        ))
        .bind(run_id)
        .execute(&mut *conn)
        .await?
        .rows_affected()
    } else {
        sqlx::query(dynsql!(
            "UPDATE job_runs SET status=$1, exit_code=$2, error=$3, finished_at=$4, phase=NULL, \
             output = output || $5 WHERE id=$6 AND status={}",
            sql_lit(RunStatus::Executing.as_str())
        ))
        .bind(RunStatus::from_result(status).as_str())
        .bind(exit_code)
        .bind(error)
        .bind(now)
        .bind(output.unwrap_or(""))
        .bind(run_id)
        .execute(&mut *conn)
        .await?
        .rows_affected()
    };
    Ok((n == 1).then_some(ticket))
}

/// Why a successful upgrade run `r` (a `job_runs` row) did not upgrade:
/// the host's agent reports another build than the run's, or none.
async fn upgrade_mismatch(conn: &mut sqlx::AnyConnection, r: &AnyRow) -> Result<Option<String>> {
    let detail: Option<String> = r.try_get("detail")?;
    let Some(d) =
        detail.and_then(|d| serde_json::from_str::<crate::agent_upgrade::UpgradeDetail>(&d).ok())
    else {
        return Ok(Some("the upgrade run lost its build".into()));
    };
    let tenant: String = r.try_get("tenant_id")?;
    let Some(b) = crate::agent_upgrade::build_in(conn, &tenant, &d.build).await? else {
        return Ok(Some("the agent build was deleted".into()));
    };
    let reported: Option<Option<String>> =
        sqlx::query_scalar("SELECT agent_sha256 FROM hosts WHERE id = $1")
            .bind(r.try_get::<String, _>("host_id")?)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(coc_domain::agent_upgrade::check_reported(
        reported.flatten().as_deref(),
        &b.sha256,
    ))
}

/// [`Store::append_job_output`] inside the caller's transaction.
pub(crate) async fn append_job_output_in(
    conn: &mut sqlx::AnyConnection,
    run_id: &str,
    host_id: &str,
    chunk: &str,
) -> Result<Option<String>> {
    Ok(sqlx::query_scalar(dynsql!(
        "UPDATE job_runs SET output = output || $1 WHERE id = $2 AND host_id = $3 \
         AND status = {} AND LENGTH(output) < $4 RETURNING ticket_id",
        sql_lit(RunStatus::Executing.as_str())
    ))
    .bind(chunk)
    .bind(run_id)
    .bind(host_id)
    .bind(crate::ticket::MAX_OUTPUT_BYTES as i64)
    .fetch_optional(&mut *conn)
    .await?)
}
