//! Creating job tickets (X4; ref. 5.2.4): validation against the chosen job version, a copy of the job and its scripts, global parameters, and every step's batches.

use super::*;

/// Everything a new ticket's rows hold, validated by the caller.
pub(crate) struct NewRows<'a> {
    pub tenant: &'a str,
    /// [`KIND_JOB`] or [`crate::ticket::KIND`].
    pub kind: &'static str,
    pub number: String,
    /// The job (or, for a script ticket, the script) it runs.
    pub job_id: &'a str,
    pub job_name: &'a str,
    pub job_version: i64,
    pub mode: TargetMode,
    pub description: &'a str,
    pub tags: &'a BTreeMap<String, String>,
    pub incident_id: Option<&'a str>,
    pub cloned_from: Option<&'a str>,
    pub actor: &'a str,
    pub now: i64,
    pub spec: &'a JobSpec,
    pub scripts: &'a BTreeMap<String, ScriptCopy>,
    /// The request as JSON (a clone runs it again).
    pub request: &'a str,
    /// Global parameter values (stored encrypted, whole).
    pub params: &'a BTreeMap<String, String>,
    /// Parameter-center references read again at each use.
    pub latest: &'a BTreeMap<String, coc_domain::parameter::ParamRef>,
    pub plans: &'a [StepPlan],
    /// The hosts its targets' tasks run on instead, with their own
    /// parameter values ([`Delegation`]).
    pub delegation: Option<&'a Delegation>,
}

/// Targets whose tasks run on another host's agent (an agent
/// installation runs on the installation host, R3): that host, and per
/// target its own parameter values, which override the ticket's.
#[derive(Debug, Clone, Default)]
pub(crate) struct Delegation {
    /// The host whose agent runs every target's tasks; `None`: each
    /// target's own agent (only the parameters are the target's).
    pub runs_on: Option<String>,
    /// Per target host id, parameter values (stored encrypted).
    pub params: BTreeMap<String, BTreeMap<String, String>>,
}

/// Inserts a ticket, `executing`, with its hosts per step, pending, in
/// `tx`; returns its id. Every host (or agentless cloud server) must
/// exist in the tenant.
///
/// Errors: `NotFound` for a host; a store error.
pub(crate) async fn insert_rows(
    tx: &mut Transaction<'static, Any>,
    keyring: &crate::secret::Keyring,
    n: &NewRows<'_>,
) -> Result<String> {
    let runs_on = n.delegation.and_then(|d| d.runs_on.as_deref());
    for h in n
        .plans
        .iter()
        .flat_map(|p| p.batches.iter().flatten())
        .map(String::as_str)
        .chain(runs_on)
    {
        // A cloud server without an agent is a target too (P4: its
        // provider does the work; the API lets only power operations
        // name one).
        let ok: Option<String> = sqlx::query_scalar(
            "SELECT id FROM hosts WHERE tenant_id = $1 AND id = $2 \
             UNION ALL SELECT id FROM resources WHERE tenant_id = $1 AND id = $2 AND type = $3",
        )
        .bind(n.tenant)
        .bind(h)
        .bind(coc_domain::resource::catalog::ResourceType::CloudServer.as_str())
        .fetch_optional(&mut **tx)
        .await?;
        if ok.is_none() {
            return Err(StoreError::not_found("host", h));
        }
    }
    let id = crate::new_id();
    sqlx::query(dynsql!(
        "INSERT INTO job_tickets ({COLS}, tenant_id, spec, scripts, request, params, param_refs, steps, kind) VALUES \
         ($1,$2,$3,$4,$5,$6,{},0,$7,$8,$9,$10,NULL,$11,$12,$12,NULL,$13,$14,$15,$16,$17,$18,$19,$20)",
        sql_lit(TicketStatus::Executing.as_str())
    ))
    .bind(&id)
    .bind(&n.number)
    .bind(n.job_id)
    .bind(n.job_name)
    .bind(n.job_version)
    .bind(mode_str(n.mode))
    .bind(n.description)
    .bind(serde_json::to_string(n.tags).unwrap_or_default())
    .bind(n.incident_id)
    .bind(n.cloned_from)
    .bind(n.actor)
    .bind(n.now)
    .bind(n.tenant)
    .bind(serde_json::to_string(n.spec).unwrap_or_default())
    .bind(serde_json::to_string(n.scripts).unwrap_or_default())
    .bind(n.request)
    // Parameter values may be secret or come from encrypted parameters:
    // the whole map is stored encrypted.
    .bind(keyring.encrypt(&serde_json::to_string(n.params).unwrap_or_default()))
    .bind((!n.latest.is_empty()).then(|| serde_json::to_string(n.latest).unwrap_or_default()))
    .bind(serde_json::to_string(n.plans).unwrap_or_default())
    .bind(n.kind)
    .execute(&mut **tx)
    .await?;
    for (si, p) in n.plans.iter().enumerate() {
        let mut seq = 0i64;
        for (b, hosts) in p.batches.iter().enumerate() {
            for h in hosts {
                let own = n
                    .delegation
                    .and_then(|d| d.params.get(h))
                    .map(|p| keyring.encrypt(&serde_json::to_string(p).unwrap_or_default()));
                sqlx::query(dynsql!(
                    "INSERT INTO job_hosts (id, tenant_id, ticket_id, step, host_id, batch, seq, status, task_idx, \
                     had_failure, held, runs_on, target_params) VALUES ($1,$2,$3,$4,$5,$6,$7,{},0,0,0,$8,$9)",
                    sql_lit(TaskStatus::Pending.as_str())
                ))
                .bind(crate::new_id())
                .bind(n.tenant)
                .bind(&id)
                .bind(si as i64)
                .bind(h)
                .bind(b as i64)
                .bind(seq)
                .bind(runs_on)
                .bind(own)
                .execute(&mut **tx)
                .await?;
                seq += 1;
            }
        }
    }
    Ok(id)
}

/// What a feature's common job runs on, and how (patch work, agent
/// upgrades, host operations, health checks).
pub(crate) struct CommonRun<'a> {
    /// The common job's name.
    pub job: &'a str,
    /// The ticket's description.
    pub description: String,
    /// Host ids (or agentless cloud servers), each once.
    pub hosts: Vec<String>,
    /// Global parameter values.
    pub params: BTreeMap<String, String>,
    /// Hosts per batch; none: all at once.
    pub batch_size: Option<u32>,
    /// Suspension threshold, %.
    pub success_rate_threshold: Option<f64>,
}

impl Store {
    /// The ids of `keys` (host ids or names, each resolved by `resolve`),
    /// each once, in the order given.
    ///
    /// Errors: `resolve`'s (`NotFound` for a host).
    pub(crate) async fn distinct_refs<'k, F, Fut>(
        &self,
        keys: impl IntoIterator<Item = &'k String>,
        resolve: F,
    ) -> Result<Vec<String>>
    where
        F: Fn(&'k str) -> Fut,
        Fut: std::future::Future<Output = Result<String>>,
    {
        let mut out = Vec::new();
        for k in keys {
            let id = resolve(k.as_str()).await?;
            if !out.contains(&id) {
                out.push(id);
            }
        }
        Ok(out)
    }

    /// Starts a ticket of a common job on `r.hosts` in batches of
    /// `r.batch_size` under the suspension threshold, the shipped jobs
    /// and scripts made sure of first.
    ///
    /// Errors: as [`Store::create_job_ticket`].
    pub(crate) async fn start_common_job(
        &self,
        tenant: &str,
        r: CommonRun<'_>,
        actor: &str,
    ) -> Result<JobTicketDetail> {
        self.ensure_system_scripts(tenant).await?;
        self.ensure_system_jobs(tenant).await?;
        let (batch_policy, batches) = coc_domain::ticket::batches_of(&r.hosts, r.batch_size);
        let req = NewJobTicket {
            version: None,
            description: r.description,
            tags: BTreeMap::new(),
            target_mode: Default::default(),
            hosts: r.hosts,
            batch_policy,
            batches,
            success_rate_threshold: r.success_rate_threshold,
            steps: vec![],
            params: r.params,
            incident_id: None,
        };
        self.create_job_ticket(tenant, r.job, &req, actor).await
    }

    /// Runs a job: validates the request against the chosen version, keeps
    /// a copy of the job and its scripts, resolves global parameters
    /// (parameter-center values at creation, or again at each use for
    /// `latest`), plans every step's batches, and creates the ticket
    /// `executing`. The executor starts it at once.
    ///
    /// Errors: `NotFound` (job, version, script, host, incident),
    /// `Domain(Validation)` (targets, batches, threshold, parameters,
    /// tags), `Domain(InvalidTransition)` (a job or script waiting for
    /// review or rejected).
    pub async fn create_job_ticket(
        &self,
        tenant: &str,
        job: &str,
        req: &NewJobTicket,
        actor: &str,
    ) -> Result<JobTicketDetail> {
        self.insert_job_ticket(tenant, job, req, actor, None).await
    }

    pub(super) async fn insert_job_ticket(
        &self,
        tenant: &str,
        job: &str,
        req: &NewJobTicket,
        actor: &str,
        cloned_from: Option<&str>,
    ) -> Result<JobTicketDetail> {
        let id = self
            .insert_job_ticket_within(tenant, job, req, actor, cloned_from, |_, _| {
                Box::pin(async { Ok(true) })
            })
            .await?
            .ok_or_else(|| StoreError::Conflict("the ticket was not created".into()))?;
        self.get_job_ticket(tenant, &id).await
    }

    /// As [`Store::create_job_ticket`], and `within` runs in the ticket's
    /// own transaction with the new ticket's id: it answers whether the
    /// ticket stands (`false` rolls everything back, and `None` is
    /// returned). A scheduled task's firing claims its due time this way,
    /// so the claim, the ticket and the run record commit together.
    ///
    /// Errors: as [`Store::create_job_ticket`], and `within`'s.
    pub(crate) async fn insert_job_ticket_within(
        &self,
        tenant: &str,
        job: &str,
        req: &NewJobTicket,
        actor: &str,
        cloned_from: Option<&str>,
        within: impl for<'t> FnOnce(&'t mut Transaction<'static, Any>, &'t str) -> crate::InTx<'t, bool>,
    ) -> Result<Option<String>> {
        let cur = self.get_job(tenant, job).await?;
        let (version, spec) = match req.version {
            None | Some(0) => {
                cur.ensure_runnable()?;
                (cur.version, cur.spec.clone())
            }
            Some(v) if v == cur.version => {
                cur.ensure_runnable()?;
                (v, cur.spec.clone())
            }
            Some(v) => {
                // An older version runs only if it needs no review (its
                // review is not kept once a newer version exists).
                let old = self
                    .job_versions(tenant, &cur.id)
                    .await?
                    .into_iter()
                    .find(|x| x.version == v)
                    .ok_or_else(|| StoreError::not_found("job version", &v.to_string()))?;
                if old.spec.review_required() {
                    return Err(coc_domain::DomainError::InvalidTransition(format!(
                        "version {v} of job '{}' needs a review; only the current version can be approved and run",
                        cur.spec.name
                    ))
                    .into());
                }
                (v, old.spec)
            }
        };
        if req.description.chars().count() > 500 {
            return Err(coc_domain::error::invalid(
                "the execution description is longer than 500 characters",
            )
            .into());
        }
        validate_tags(&req.tags)?;
        // Steps: targets, batches, thresholds.
        if req.steps.len() > spec.steps.len() {
            return Err(coc_domain::error::invalid(format!(
                "the job has {} step(s); settings for {} were given",
                spec.steps.len(),
                req.steps.len()
            ))
            .into());
        }
        let mut plans = Vec::new();
        for (i, _) in spec.steps.iter().enumerate() {
            let s = req.steps.get(i).cloned().unwrap_or_default();
            let hosts = match req.target_mode {
                TargetMode::Consistent => {
                    if s.hosts.is_some() {
                        return Err(coc_domain::error::invalid(format!(
                            "step {}: hosts per step need the target mode unique_per_step",
                            i + 1
                        ))
                        .into());
                    }
                    req.hosts.clone()
                }
                TargetMode::UniquePerStep => s.hosts.clone().ok_or_else(|| {
                    coc_domain::error::invalid(format!(
                        "step {}: choose its hosts (target mode unique_per_step)",
                        i + 1
                    ))
                })?,
            };
            let policy = s.batch_policy.unwrap_or(req.batch_policy);
            let manual = s.batches.as_deref().or(
                if req.target_mode == TargetMode::Consistent && s.batch_policy.is_none() {
                    req.batches.as_deref()
                } else {
                    None
                },
            );
            let batches = plan_batches(policy, &hosts, manual)
                .map_err(|e| coc_domain::error::invalid(format!("step {}: {e}", i + 1)))?;
            let threshold = s
                .success_rate_threshold
                .or(req.success_rate_threshold)
                .map(Threshold::from_percent)
                .transpose()?;
            plans.push(StepPlan {
                batch_policy: policy,
                batches,
                threshold: threshold.map(|t| t.0),
            });
        }
        // Scripts: the version at creation, each runnable.
        let mut scripts = BTreeMap::new();
        for name in spec.scripts() {
            if scripts.contains_key(name) {
                continue;
            }
            let s = self.get_script(tenant, name).await?;
            s.ensure_runnable()?;
            scripts.insert(
                name.to_string(),
                ScriptCopy {
                    id: s.id,
                    name: s.spec.name,
                    version: s.version,
                    script_type: s.spec.script_type.as_str().to_string(),
                    content: s.spec.content,
                    params: s.spec.params,
                },
            );
        }
        // Task settings that depend on the scripts.
        for (si, step) in spec.steps.iter().enumerate() {
            for t in &step.tasks {
                if let Atom::Script {
                    script,
                    params,
                    run_as,
                    ..
                } = &t.atom
                {
                    let c = &scripts[script.as_str()];
                    if let Some(k) = params
                        .keys()
                        .find(|k| !c.params.iter().any(|p| &p.name == *k))
                    {
                        return Err(coc_domain::error::invalid(format!(
                            "step {}, task '{}': script '{}' has no parameter '{k}'",
                            si + 1,
                            t.name,
                            c.name
                        ))
                        .into());
                    }
                    validate_run_as(run_as.as_deref().unwrap_or(DEFAULT_RUN_AS))?;
                }
            }
        }
        // Global parameters.
        let mut center = BTreeMap::new();
        let mut latest = BTreeMap::new();
        for p in &spec.params {
            if let Some(r) = &p.from
                && !req.params.contains_key(&p.name)
            {
                center.insert(p.name.clone(), self.resolve_param_ref(tenant, r).await?);
                if r.mode == coc_domain::parameter::RefMode::Latest {
                    latest.insert(p.name.clone(), r.clone());
                }
            }
        }
        let params = resolve_globals(&spec.params, &req.params, &center)?;
        if let Some(i) = &req.incident_id {
            self.get_incident(tenant, i).await?;
        }
        let now = self.now();
        let mut tx = self.begin().await?;
        let id = insert_rows(
            &mut tx,
            &self.keyring,
            &NewRows {
                tenant,
                kind: KIND_JOB,
                number: coc_domain::id::ticket_number("JOB", now, crate::next_seq()),
                job_id: &cur.id,
                job_name: &spec.name,
                job_version: version,
                mode: req.target_mode,
                description: &req.description,
                tags: &req.tags,
                incident_id: req.incident_id.as_deref(),
                cloned_from,
                actor,
                now,
                spec: &spec,
                scripts: &scripts,
                request: &serde_json::to_string(req).unwrap_or_default(),
                params: &params,
                latest: &latest,
                plans: &plans,
                delegation: None,
            },
        )
        .await?;
        if !within(&mut tx, &id).await? {
            tx.rollback().await?;
            return Ok(None);
        }
        tx.commit().await?;
        self.work.notify_one();
        Ok(Some(id))
    }

    /// Runs a job ticket's request again as a new ticket (ref. 10.1.2
    /// "Clone"), with the job's current version unless the request named
    /// one. Errors: as [`Store::create_job_ticket`].
    pub async fn clone_job_ticket(
        &self,
        tenant: &str,
        id: &str,
        actor: &str,
    ) -> Result<JobTicketDetail> {
        let r = sqlx::query(
            "SELECT id, job_id, request FROM job_tickets WHERE tenant_id = $1 AND (id = $2 OR number = $2)",
        )
        .bind(tenant)
        .bind(id)
        .fetch_optional(self.reader())
        .await?
        .ok_or_else(|| StoreError::not_found("job ticket", id))?;
        let req: NewJobTicket = serde_json::from_str(&r.try_get::<String, _>("request")?)
            .map_err(unreadable("job ticket request"))?;
        let from: String = r.try_get("id")?;
        let job: String = r.try_get("job_id")?;
        self.insert_job_ticket(tenant, &job, &req, actor, Some(&from))
            .await
    }
}
