//! The engine step of a ticket: load its state, let [`coc_domain::jobticket::step`] decide, apply the changes in one transaction, and create the runs that start.

use super::*;

impl Store {
    /// The host a job host's tasks run on when delegated (R3), and its own
    /// parameter values (decrypted).
    ///
    /// Errors: a store error; stored values that do not decrypt.
    async fn delegation_of(
        &self,
        tx: &mut Transaction<'static, Any>,
        job_host: &str,
    ) -> Result<(Option<String>, BTreeMap<String, String>)> {
        let r = sqlx::query("SELECT runs_on, target_params FROM job_hosts WHERE id = $1")
            .bind(job_host)
            .fetch_one(&mut **tx)
            .await?;
        let own: Option<String> = r.try_get("target_params")?;
        let own = match own {
            Some(x) => serde_json::from_str(&self.keyring.decrypt(&x)?).unwrap_or_default(),
            None => BTreeMap::new(),
        };
        Ok((r.try_get("runs_on")?, own))
    }

    /// The state of ticket `id` as the domain sees it, read in `tx`;
    /// `outputs` says whether the runs' output is read.
    ///
    /// Errors: `NotFound`; a stored document that does not parse.
    pub(super) async fn load_state(
        &self,
        tx: &mut Transaction<'static, Any>,
        id: &str,
        outputs: Outputs,
    ) -> Result<State> {
        let r = sqlx::query(dynsql!(
            "SELECT tenant_id, kind, spec, scripts, steps, params, param_refs, {COLS} FROM job_tickets WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| StoreError::not_found("job ticket", id))?;
        let t = ticket_row(&r, HostCounts::default())?;
        let params: BTreeMap<String, String> =
            serde_json::from_str(&self.keyring.decrypt(&r.try_get::<String, _>("params")?)?)
                .map_err(unreadable("job ticket parameters"))?;
        let refs: Option<String> = r.try_get("param_refs")?;
        let hosts = sqlx::query(dynsql!(
            "SELECT {HOST_COLS} FROM job_hosts WHERE ticket_id = $1 ORDER BY step, seq"
        ))
        .bind(id)
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(host_row)
        .collect::<Result<Vec<_>>>()?;
        let spec: JobSpec = serde_json::from_str(&r.try_get::<String, _>("spec")?)
            .map_err(unreadable("job ticket"))?;
        let decisive = spec.steps.iter().any(|s| {
            s.tasks
                .iter()
                .any(|t| matches!(t.atom, coc_domain::job::Atom::Condition { .. }))
        });
        let cols = match outputs {
            Outputs::All => RUN_COLS,
            Outputs::IfDecisive if decisive => RUN_COLS,
            Outputs::IfDecisive | Outputs::None => RUN_COLS_LEAN,
        };
        let runs = sqlx::query(dynsql!(
            "SELECT {cols} FROM job_runs WHERE ticket_id = $1 ORDER BY step, task_idx, attempt"
        ))
        .bind(id)
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(run_row)
        .collect::<Result<Vec<_>>>()?;
        Ok(State {
            tenant: r.try_get("tenant_id")?,
            kind: r.try_get("kind")?,
            id: t.id,
            number: t.number,
            status: t.status,
            current_step: t.current_step as usize,
            mode: t.target_mode,
            spec,
            scripts: serde_json::from_str(&r.try_get::<String, _>("scripts")?)
                .map_err(unreadable("job ticket scripts"))?,
            steps: serde_json::from_str(&r.try_get::<String, _>("steps")?)
                .map_err(unreadable("job ticket steps"))?,
            params,
            param_refs: refs
                .and_then(|x| serde_json::from_str(&x).ok())
                .unwrap_or_default(),
            incident_id: t.incident_id,
            hosts,
            runs,
        })
    }

    /// Ids of job tickets that are not finished, oldest first.
    pub async fn active_job_ticket_ids(&self) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(dynsql!(
            "SELECT id FROM job_tickets WHERE status IN {} ORDER BY id",
            sql_set(&TicketStatus::ACTIVE.map(TicketStatus::as_str))
        ))
        .fetch_all(self.reader())
        .await?)
    }

    /// One engine step of a job ticket at `now` (Unix ms): loads the
    /// ticket, asks [`coc_domain::jobticket::step`] what changes, and
    /// applies the changes in one transaction; the returned commands are
    /// carried out after the commit. `connected` tells whether a host's
    /// agent is connected (a reboot is over only then).
    ///
    /// Errors: a store error; nothing is committed and the next step
    /// retries.
    pub async fn advance_job_ticket(
        &self,
        id: &str,
        now: i64,
        connected: &(dyn Fn(&str) -> bool + Sync),
    ) -> Result<Vec<JobCommand>> {
        let mut tx = self.begin().await?;
        if !try_lock_ticket(&mut tx, self.backend, id).await? {
            return Ok(Vec::new());
        }
        let st = self.load_state(&mut tx, id, Outputs::IfDecisive).await?;
        if st.status.is_terminal() {
            return Ok(Vec::new());
        }
        let facts = self.host_facts(&mut tx, &st, connected).await?;
        let changes = jt::step(&st.engine(), now, &facts);
        let applied = self
            .apply_changes(&mut tx, &st, changes, &facts, now)
            .await?;
        tx.commit().await?;
        Ok(self.after_changes(&st, applied).await)
    }

    /// What the engine knows of the current step's hosts: connected
    /// agents, boot ids and the step's approvals.
    pub(super) async fn host_facts(
        &self,
        tx: &mut Transaction<'static, Any>,
        st: &State,
        connected: &(dyn Fn(&str) -> bool + Sync),
    ) -> Result<HostFacts> {
        let step = st.current_step as i64;
        let boots = sqlx::query(
            "SELECT id, boot_id FROM hosts WHERE id IN \
             (SELECT host_id FROM job_hosts WHERE ticket_id = $1 AND step = $2)",
        )
        .bind(&st.id)
        .bind(step)
        .fetch_all(&mut **tx)
        .await?;
        let mut facts = HostFacts::default();
        for b in &boots {
            let host: String = b.try_get("id")?;
            if connected(&host) {
                facts.connected.insert(host.clone());
            }
            if let Some(boot) = b.try_get::<Option<String>, _>("boot_id")? {
                facts.boot_ids.insert(host, boot);
            }
        }
        let approvals = sqlx::query(
            "SELECT task_idx, status FROM job_approvals WHERE ticket_id = $1 AND step = $2",
        )
        .bind(&st.id)
        .bind(step)
        .fetch_all(&mut **tx)
        .await?;
        for a in &approvals {
            let decision = Approval::parse(&a.try_get::<String, _>("status")?)?;
            facts
                .approvals
                .insert(a.try_get::<i64, _>("task_idx")? as usize, decision);
        }
        Ok(facts)
    }

    /// Applies the engine's changes, in order, inside `tx`.
    pub(super) async fn apply_changes(
        &self,
        tx: &mut Transaction<'static, Any>,
        st: &State,
        changes: Vec<Change>,
        facts: &HostFacts,
        now: i64,
    ) -> Result<Applied> {
        let mut a = Applied::default();
        for c in changes {
            match c {
                Change::EndRun { run, status, error } => {
                    end_run(tx, &run, status, error.as_deref(), now).await?;
                }
                Change::StopAgentRun { run, host_id } => {
                    a.cmds.push(JobCommand::Cancel {
                        run_id: run,
                        host_id,
                    });
                }
                Change::RetireRuns { host, from } => {
                    sqlx::query(
                        "UPDATE job_runs SET phase = $1 WHERE job_host_id = $2 AND task_idx >= $3 \
                         AND status <> $4",
                    )
                    .bind(jt::RETRIED)
                    .bind(&host)
                    .bind(from as i64)
                    .bind(RunStatus::Executing.as_str())
                    .execute(&mut **tx)
                    .await?;
                }
                Change::Host(h) => {
                    let old = st.hosts.iter().find(|x| x.id == h.id);
                    let started = old.and_then(|o| o.started_at);
                    let finished = old.and_then(|o| o.finished_at);
                    sqlx::query(
                        "UPDATE job_hosts SET status=$1, task_idx=$2, had_failure=$3, held=$4, error=$5, \
                         started_at=$6, finished_at=$7 WHERE id=$8",
                    )
                    .bind(h.status.as_str())
                    .bind(h.task_idx as i64)
                    .bind(i64::from(h.had_failure))
                    .bind(i64::from(h.held))
                    .bind(h.error.as_deref())
                    .bind(started.or((h.status != TaskStatus::Pending).then_some(now)))
                    .bind(h.status.is_done().then(|| finished.unwrap_or(now)))
                    .bind(&h.id)
                    .execute(&mut **tx)
                    .await?;
                }
                Change::Start {
                    host,
                    task_idx,
                    attempt,
                    immediate,
                } => {
                    let Some(h) = st.hosts.iter().find(|x| x.id == host) else {
                        continue;
                    };
                    let wake = self
                        .start_run(tx, st, h, task_idx, attempt, immediate, facts, now, &mut a)
                        .await?;
                    a.wake |= wake;
                }
                Change::Ticket {
                    status,
                    step,
                    reason,
                } => {
                    set_ticket(tx, &st.id, status, step, reason.as_deref(), now).await?;
                    a.wake |= !status.is_terminal() && step != st.current_step;
                }
                Change::Finished {
                    status,
                    successful,
                    total,
                } => a.finished = Some((status, successful, total)),
            }
        }
        Ok(a)
    }

    /// After the commit: wakes the executor and the notifier as the
    /// changes ask, and records a finished ticket's outcome. Returns the
    /// agent commands to send.
    pub(super) async fn after_changes(&self, st: &State, a: Applied) -> Vec<JobCommand> {
        if a.wake {
            self.work.notify_one();
        }
        if a.deliveries {
            self.deliveries.notify_one();
        }
        if let Some((end, ok, total)) = a.finished {
            tracing::info!(ticket = %st.number, status = end.as_str(), "job ticket finished");
            if let Some(inc) = &st.incident_id {
                let summary = if st.kind == crate::ticket::KIND {
                    format!(
                        "script ticket {} ({}) {}: {ok}/{total} host(s) succeeded",
                        st.number,
                        st.spec.name,
                        end.as_str(),
                    )
                } else {
                    format!(
                        "job ticket {} ({}) {}: {ok}/{total} host step(s) succeeded",
                        st.number,
                        st.spec.name,
                        end.as_str(),
                    )
                };
                if let Err(e) = self
                    .record_ticket_outcome(&st.tenant, inc, &st.id, &summary)
                    .await
                {
                    tracing::warn!(error = %e, "job outcome not written to the incident");
                }
            }
        }
        a.cmds
    }

    /// Creates the run of task `task_idx` on host `h`: the agent command,
    /// the sleep's wake-up, the approval request, the HTTP call, or a
    /// condition's result. Returns whether the executor should step again
    /// soon.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn start_run(
        &self,
        tx: &mut Transaction<'static, Any>,
        st: &State,
        h: &HostRow,
        task_idx: usize,
        attempt: u32,
        immediate: Option<(RunStatus, String)>,
        facts: &HostFacts,
        now: i64,
        a: &mut Applied,
    ) -> Result<bool> {
        let step = st.current_step;
        let task = &st.spec.steps[step].tasks[task_idx];
        let (params, secret_values) = self.job_params(st).await;
        let kinds: BTreeMap<String, GlobalParamType> = st
            .spec
            .params
            .iter()
            .map(|p| (p.name.clone(), p.kind))
            .collect();
        let vars = self.host_vars(tx, &h.host_id).await?;
        // A delegated target (R3) runs on another host's agent, with its
        // own parameter values.
        let (runs_on, own) = self.delegation_of(tx, &h.id).await?;
        let exec_host = runs_on.unwrap_or_else(|| h.host_id.clone());
        let run_id = crate::new_id();
        let mut status = RunStatus::Executing;
        let mut phase: Option<&str> = None;
        let mut detail: Option<String> = None;
        let mut wake_at = None;
        let mut output = String::new();
        let mut error = None;
        match &task.atom {
            Atom::Script {
                script,
                params: values,
                run_as,
                timeout_s,
            } => {
                let c = &st.scripts[script.as_str()];
                let mut given: BTreeMap<String, String> = values
                    .iter()
                    .map(|(k, v)| (k.clone(), substitute(v, &params, &kinds, &vars)))
                    .collect();
                given.extend(own);
                match resolve_params(&c.params, &given) {
                    Ok(env) => {
                        phase = Some("agent");
                        a.cmds.push(JobCommand::Exec {
                            run_id: run_id.clone(),
                            host_id: exec_host.clone(),
                            script_type: c.script_type.clone(),
                            content: c.content.clone(),
                            secret_env: secret_env(&c.params, &env, &secret_values),
                            env,
                            run_as: run_as.clone().unwrap_or_else(|| DEFAULT_RUN_AS.into()),
                            timeout_s: u64::from(timeout_s.unwrap_or(DEFAULT_TIMEOUT_S)),
                        });
                    }
                    Err(e) => {
                        status = RunStatus::Failed;
                        error = Some(e.to_string());
                    }
                }
            }
            Atom::Reboot {
                if_required: true, ..
            } if !crate::patch::host::reboot_required_in(tx, &h.host_id).await? => {
                status = RunStatus::Successful;
                output = "no reboot required: the host's latest patch report found none pending\n"
                    .into();
            }
            Atom::PatchScan { .. } | Atom::PatchRepair { .. } | Atom::PatchRollback { .. } => {
                let baseline = match &task.atom {
                    Atom::PatchRepair { baseline, .. } => {
                        substitute(baseline, &params, &kinds, &vars)
                    }
                    _ => String::new(),
                };
                use crate::patch::host::Start;
                match crate::patch::host::start_in(
                    tx, &st.tenant, &h.host_id, &task.atom, &baseline, now,
                )
                .await?
                {
                    Start::Send(d) => {
                        phase = Some("agent");
                        if let PatchAction::Install { packages } = &d.action {
                            output = crate::patch::host::plan_text(packages, d.baseline.as_deref());
                        }
                        a.cmds.push(JobCommand::Patch {
                            run_id: run_id.clone(),
                            host_id: h.host_id.clone(),
                            action: d.action.clone(),
                            timeout_s: d.timeout_s,
                        });
                        detail = serde_json::to_string(&d).ok();
                    }
                    Start::Done(o) => {
                        status = RunStatus::Successful;
                        output = o;
                    }
                    Start::Fail(e) => {
                        status = RunStatus::Failed;
                        error = Some(e);
                    }
                }
            }
            Atom::HostPower {
                action,
                image,
                key_pair,
                wait_s,
            } => {
                use coc_domain::resource_op::power::{self, Route};
                let action = substitute(action, &params, &kinds, &vars);
                let image = substitute(image, &params, &kinds, &vars);
                let key_pair = substitute(key_pair, &params, &kinds, &vars);
                let server = crate::resource_op::cloud_server_in(tx, &h.host_id).await?;
                let name = if vars.name.is_empty() {
                    h.host_id.as_str()
                } else {
                    vars.name.as_str()
                };
                let routed = power::PowerAction::parse(&action)
                    .map_err(|e| e.to_string())
                    .and_then(|a| Ok((a, power::route(a, name, server.as_ref(), Some(&image))?)));
                match routed {
                    Ok((action, Route::Cloud { server, image })) => {
                        phase = Some(jt::CLOUD);
                        let key_pair = Some(key_pair.trim().to_string())
                            .filter(|k| !k.is_empty() && action.rebuilds());
                        a.cmds.push(JobCommand::Cloud {
                            run_id: run_id.clone(),
                            tenant: st.tenant.clone(),
                            action,
                            server,
                            image,
                            key_pair,
                            wait_s: *wait_s,
                        });
                    }
                    Ok((_, Route::AgentReboot)) => {
                        phase = Some(jt::REBOOT_ASKED);
                        detail = Some(facts.boot_ids.get(&h.host_id).cloned().unwrap_or_default());
                        a.cmds.push(JobCommand::Reboot {
                            run_id: run_id.clone(),
                            host_id: h.host_id.clone(),
                        });
                    }
                    Ok((_, Route::AgentShutdown)) => {
                        phase = Some("agent");
                        a.cmds.push(JobCommand::Exec {
                            run_id: run_id.clone(),
                            host_id: h.host_id.clone(),
                            script_type: "shell".into(),
                            content: power::SHUTDOWN_SCRIPT.into(),
                            env: BTreeMap::new(),
                            secret_env: vec![],
                            run_as: DEFAULT_RUN_AS.into(),
                            timeout_s: u64::from(*wait_s),
                        });
                    }
                    Err(e) => {
                        status = RunStatus::Failed;
                        error = Some(e);
                    }
                }
            }
            Atom::Reboot { .. } => {
                phase = Some("agent");
                detail = Some(facts.boot_ids.get(&h.host_id).cloned().unwrap_or_default());
                a.cmds.push(JobCommand::Reboot {
                    run_id: run_id.clone(),
                    host_id: h.host_id.clone(),
                });
            }
            Atom::Upgrade {
                build,
                rollback_after_s,
            } => {
                let b = substitute(build, &params, &kinds, &vars);
                let found = crate::agent_upgrade::build_in(tx, &st.tenant, b.trim()).await?;
                let secs = coc_domain::agent_upgrade::rollback_after(&substitute(
                    rollback_after_s,
                    &params,
                    &kinds,
                    &vars,
                ));
                match (found, secs) {
                    (Some(found), Ok(secs)) => {
                        phase = Some("agent");
                        detail = serde_json::to_string(&crate::agent_upgrade::UpgradeDetail {
                            build: found.id.clone(),
                            rollback_after_s: secs,
                        })
                        .ok();
                        let give_up = coc_domain::agent_upgrade::TRANSFER_ALLOWANCE_S
                            + i64::from(secs)
                            + jt::RESULT_GRACE_S;
                        wake_at = Some(now + give_up * 1000);
                        a.cmds.push(JobCommand::Upgrade {
                            run_id: run_id.clone(),
                            host_id: exec_host.clone(),
                            version: found.version,
                            sha256: found.sha256,
                            size_bytes: found.size_bytes as u64,
                            rollback_after_s: u64::from(secs),
                        });
                    }
                    (None, _) => {
                        status = RunStatus::Failed;
                        error = Some(format!("there is no agent build '{}'", b.trim()));
                    }
                    (_, Err(e)) => {
                        status = RunStatus::Failed;
                        error = Some(e.to_string());
                    }
                }
            }
            Atom::Sleep { seconds } => {
                phase = Some("sleep");
                wake_at = Some(now + i64::from(*seconds) * 1000);
            }
            Atom::Approval {
                reviewers,
                channels,
            } => {
                phase = Some("approval");
                let asked = sqlx::query(
                    "INSERT INTO job_approvals (ticket_id, step, task_idx, tenant_id, status, requested_at) \
                     VALUES ($1,$2,$3,$4,$6,$5) ON CONFLICT (ticket_id, step, task_idx) DO NOTHING",
                )
                .bind(&st.id)
                .bind(step as i64)
                .bind(task_idx as i64)
                .bind(&st.tenant)
                .bind(now)
                .bind(Approval::Pending.as_str())
                .execute(&mut **tx)
                .await?
                .rows_affected();
                // The first host to reach it asks the reviewers.
                if asked == 1 && !channels.is_empty() {
                    self.ask_reviewers(tx, st, task, reviewers, channels, now)
                        .await?;
                    a.deliveries = true;
                }
            }
            Atom::Http {
                method,
                url,
                body,
                expected_status,
                timeout_s,
            } => {
                phase = Some("http");
                a.cmds.push(JobCommand::Http {
                    run_id: run_id.clone(),
                    method: method.clone(),
                    url: substitute(url, &params, &kinds, &vars),
                    body: body.as_ref().map(|b| substitute(b, &params, &kinds, &vars)),
                    expected_status: *expected_status,
                    timeout_s: *timeout_s,
                });
            }
            Atom::Condition { .. } => {}
        }
        if let Some((s, o)) = immediate {
            status = s;
            output = o;
        }
        let done = status != RunStatus::Executing;
        sqlx::query(
            "INSERT INTO job_runs (id, tenant_id, ticket_id, job_host_id, host_id, step, task_idx, attempt, kind, \
             status, phase, exit_code, output, error, detail, wake_at, started_at, finished_at) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,NULL,$12,$13,$14,$15,$16,$17)",
        )
        .bind(&run_id)
        .bind(&st.tenant)
        .bind(&st.id)
        .bind(&h.id)
        .bind(&exec_host)
        .bind(step as i64)
        .bind(task_idx as i64)
        .bind(i64::from(attempt))
        .bind(task.atom.kind())
        .bind(status.as_str())
        .bind(if done { None } else { phase })
        .bind(&output)
        .bind(error.as_deref())
        .bind(detail.as_deref())
        .bind(wake_at)
        .bind(now)
        .bind(done.then_some(now))
        .execute(&mut **tx)
        .await?;
        // A sleep's wake-up is soon; an upgrade's give-up time is for the
        // engine's regular rounds.
        let upgrade = matches!(task.atom, Atom::Upgrade { .. });
        Ok(done || (wake_at.is_some() && !upgrade) || matches!(task.atom, Atom::Approval { .. }))
    }

    /// Asks an approval task's reviewers on its channels.
    pub(super) async fn ask_reviewers(
        &self,
        tx: &mut Transaction<'static, Any>,
        st: &State,
        task: &coc_domain::job::JobTask,
        reviewers: &[coc_domain::notify::Recipient],
        channels: &[String],
        now: i64,
    ) -> Result<()> {
        let step = st.current_step;
        let facts = coc_domain::notify::IncidentFacts::not_an_incident("");
        let at = chrono::DateTime::from_timestamp_millis(now).unwrap_or_default();
        let people = self
            .resolve_people(&st.tenant, reviewers, &facts, at)
            .await?;
        let pairs = coc_domain::notify::dedup(
            people
                .iter()
                .flat_map(|p| channels.iter().map(move |c| (p.clone(), c.clone()))),
        );
        let m = coc_domain::notify::Message {
            incident: None,
            event: "job_approval_requested".into(),
            subject: format!(
                "Approval needed: job ticket {} ({}), task '{}'",
                st.number, st.spec.name, task.name
            ),
            body: format!(
                "Job ticket {} of job '{}' waits at step {} task '{}' for your approval: \
                 coc job-ticket approve {} --task {}",
                st.number,
                st.spec.name,
                step + 1,
                task.name,
                st.number,
                task.name
            ),
            link: None,
            actions: vec![],
        };
        self.deliver_to_people(tx, &st.tenant, &pairs, &m, None, now, false)
            .await?;
        Ok(())
    }

    /// Global parameter values with `latest` parameter-center values read
    /// again (the value at creation is kept when the parameter is gone).
    /// The ticket's global parameters (`latest` ones read again) and the
    /// values among them that are secret: those of encrypted
    /// parameter-center parameters (kept out of output).
    pub(super) async fn job_params(&self, st: &State) -> (BTreeMap<String, String>, Vec<String>) {
        let mut p = st.params.clone();
        for (k, r) in &st.param_refs {
            match self.resolve_param_ref(&st.tenant, r).await {
                Ok(v) => {
                    p.insert(k.clone(), v);
                }
                Err(e) => tracing::warn!(ticket = %st.number, parameter = %r.name, error = %e,
                    "latest parameter value unavailable; using the value at creation"),
            }
        }
        let mut secrets = vec![];
        for g in &st.spec.params {
            let Some(r) = &g.from else { continue };
            // Unknown (deleted since): kept secret.
            let secret = self
                .resolve_param_ref_secret(&st.tenant, r)
                .await
                .map_or(true, |(_, s)| s);
            if secret && let Some(v) = p.get(&g.name) {
                secrets.push(v.clone());
            }
        }
        (p, secrets)
    }

    pub(super) async fn host_vars(
        &self,
        tx: &mut Transaction<'static, Any>,
        host: &str,
    ) -> Result<HostVars> {
        let r = sqlx::query("SELECT hostname, ips FROM hosts WHERE id = $1")
            .bind(host)
            .fetch_optional(&mut **tx)
            .await?;
        Ok(match r {
            Some(r) => HostVars {
                id: host.to_string(),
                name: r.try_get("hostname")?,
                ip: serde_json::from_str::<Vec<String>>(&r.try_get::<String, _>("ips")?)
                    .ok()
                    .and_then(|v| v.into_iter().next())
                    .unwrap_or_default(),
            },
            None => HostVars {
                id: host.to_string(),
                ..Default::default()
            },
        })
    }
}
