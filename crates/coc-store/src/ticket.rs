//! Script tickets (X2, X7; ref. 5.1.3, 10.1.1): creation with batches and
//! suspension threshold, per-host tasks, the executor's state changes
//! (each persisted before it is acted on), and operator actions.

use std::collections::BTreeMap;

use coc_domain::error::invalid;
use coc_domain::script::{
    DEFAULT_RUN_AS, DEFAULT_TIMEOUT_S, ScriptParam, mask_params, resolve_params, secret_env,
    validate_run_as, validate_timeout,
};
use coc_domain::ticket::{
    BatchPolicy, TaskStatus, Threshold, TicketAction, TicketStatus, apply_action, plan_batches,
};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::{Arg, Filter, Page, Paged, Result, Store, StoreError, now_ms, paged};

/// Most output kept per host task, bytes; later output is dropped with a note.
pub const MAX_OUTPUT_BYTES: usize = 1024 * 1024;

/// A request to run a script (`POST /api/v1/scripts/{id}/execute`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewTicket {
    /// Script to run.
    pub script_id: String,
    /// Parameter values by name.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// Target host resource ids.
    pub hosts: Vec<String>,
    /// Executing user (default root).
    #[serde(default)]
    pub run_as: Option<String>,
    /// Timeout per host, seconds (default 300).
    #[serde(default)]
    pub timeout_s: Option<u32>,
    /// Batch policy (default automatic).
    #[serde(default)]
    pub batch_policy: BatchPolicy,
    /// Host ids per batch, for the manual policy.
    #[serde(default)]
    pub batches: Option<Vec<Vec<String>>>,
    /// Suspension threshold (success rate, tenths of a percent).
    #[serde(default)]
    pub threshold: Option<Threshold>,
    /// Incident this ticket repairs.
    #[serde(default)]
    pub incident_id: Option<String>,
    /// Who asked.
    #[serde(default)]
    pub created_by: String,
    /// Script parameters taken from the parameter center (X6), by name:
    /// resolved now (`at_creation`) or again at each dispatch (`latest`).
    /// Their values are always stored encrypted.
    #[serde(default)]
    pub param_refs: BTreeMap<String, coc_domain::parameter::ParamRef>,
}

/// Host counts by task state.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Counts {
    /// All hosts.
    pub total: i64,
    /// Waiting.
    pub pending: i64,
    /// Running.
    pub executing: i64,
    /// Exit 0.
    pub successful: i64,
    /// Failed.
    pub failed: i64,
    /// Cancelled.
    pub cancelled: i64,
}

/// A ticket as listed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Ticket {
    /// Record id.
    pub id: String,
    /// Human number `SCT…`.
    pub number: String,
    /// `script`.
    pub kind: String,
    /// Script id.
    pub script_id: String,
    /// Script name at execution.
    pub script_name: String,
    /// Script version executed.
    pub script_version: i64,
    /// shell / python / bat.
    pub script_type: String,
    /// Parameters, sensitive ones masked.
    pub params: BTreeMap<String, String>,
    /// Executing user.
    pub run_as: String,
    /// Timeout per host, seconds.
    pub timeout_s: i64,
    /// auto / manual / none.
    pub batch_policy: String,
    /// Suspension threshold as a percentage (e.g. 95.5), if set.
    pub success_rate_threshold: Option<f64>,
    /// State.
    pub status: TicketStatus,
    /// Linked incident.
    pub incident_id: Option<String>,
    /// Creator.
    pub created_by: String,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Last change, Unix ms.
    pub updated_at: i64,
    /// Finished, Unix ms.
    pub finished_at: Option<i64>,
    /// Host counts.
    pub counts: Counts,
}

/// One host task.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Task {
    /// Task id (also the dispatch id sent to the agent).
    pub id: String,
    /// Host resource id.
    pub host_id: String,
    /// Batch, 0-based.
    pub batch: i64,
    /// Order in the ticket.
    pub seq: i64,
    /// State.
    pub status: TaskStatus,
    /// Exit code once finished.
    pub exit_code: Option<i64>,
    /// Combined stdout/stderr (≤ 1 MiB).
    pub output: String,
    /// Why it failed or was cancelled, if not by exit code.
    pub error: Option<String>,
    /// Dispatch attempts.
    pub attempt: i64,
    /// Started, Unix ms.
    pub started_at: Option<i64>,
    /// Finished, Unix ms.
    pub finished_at: Option<i64>,
}

/// A ticket with its tasks.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TicketDetail {
    /// The ticket.
    #[serde(flatten)]
    pub ticket: Ticket,
    /// Tasks in order.
    pub tasks: Vec<Task>,
}

/// What the executor needs to run a ticket's tasks (unmasked parameters).
#[derive(Debug, Clone)]
pub struct Dispatchable {
    /// Tenant.
    pub tenant: String,
    /// Ticket id.
    pub id: String,
    /// Number.
    pub number: String,
    /// State.
    pub status: TicketStatus,
    /// shell / python / bat.
    pub script_type: String,
    /// Script text.
    pub content: String,
    /// Parameter values.
    pub params: BTreeMap<String, String>,
    /// Parameters whose values the agent redacts from the output
    /// ([`secret_env`]).
    pub secret_env: Vec<String>,
    /// Executing user.
    pub run_as: String,
    /// Timeout, seconds.
    pub timeout_s: i64,
    /// Suspension threshold.
    pub threshold: Option<Threshold>,
    /// Linked incident.
    pub incident_id: Option<String>,
    /// Tasks in order.
    pub tasks: Vec<Task>,
}

/// A ticket as the executor plans it ([`Store::ticket_progress`]).
#[derive(Debug, Clone)]
pub struct Progress {
    /// Tenant.
    pub tenant: String,
    /// Ticket id.
    pub id: String,
    /// Number.
    pub number: String,
    /// State.
    pub status: TicketStatus,
    /// Timeout per host, seconds.
    pub timeout_s: i64,
    /// Suspension threshold.
    pub threshold: Option<Threshold>,
    /// Linked incident.
    pub incident_id: Option<String>,
    /// Tasks in order.
    pub tasks: Vec<TaskProgress>,
}

/// One task as the executor plans it.
#[derive(Debug, Clone)]
pub struct TaskProgress {
    /// Task id.
    pub id: String,
    /// Host.
    pub host_id: String,
    /// Batch, 0-based.
    pub batch: i64,
    /// State.
    pub status: TaskStatus,
    /// Started, Unix ms.
    pub started_at: Option<i64>,
}

const COLS: &str = "id, number, kind, script_id, script_name, script_version, script_type, content, param_decl, \
    params, run_as, timeout_s, batch_policy, threshold, status, incident_id, created_by, created_at, updated_at, finished_at";

fn row(r: &AnyRow, counts: Counts) -> Result<Ticket> {
    let decl: Vec<ScriptParam> =
        serde_json::from_str(&r.try_get::<String, _>("param_decl")?).unwrap_or_default();
    let params: BTreeMap<String, String> =
        serde_json::from_str(&r.try_get::<String, _>("params")?).unwrap_or_default();
    let threshold: Option<i64> = r.try_get("threshold")?;
    Ok(Ticket {
        id: r.try_get("id")?,
        number: r.try_get("number")?,
        kind: r.try_get("kind")?,
        script_id: r.try_get("script_id")?,
        script_name: r.try_get("script_name")?,
        script_version: r.try_get("script_version")?,
        script_type: r.try_get("script_type")?,
        // Sensitive values and parameter-center values are stored
        // encrypted: none is shown, not even as ciphertext.
        params: mask_params(&decl, &params)
            .into_iter()
            .map(|(k, v)| {
                if crate::secret::is_encrypted(&v) {
                    (k, crate::secret::MASK.to_string())
                } else {
                    (k, v)
                }
            })
            .collect(),
        run_as: r.try_get("run_as")?,
        timeout_s: r.try_get("timeout_s")?,
        batch_policy: r.try_get("batch_policy")?,
        success_rate_threshold: threshold.map(|t| t as f64 / 10.0),
        status: TicketStatus::parse(&r.try_get::<String, _>("status")?)?,
        incident_id: r.try_get("incident_id")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        finished_at: r.try_get("finished_at")?,
        counts,
    })
}

const TASK_COLS: &str =
    "id, host_id, batch, seq, status, exit_code, output, error, attempt, started_at, finished_at";

fn task_row(r: &AnyRow) -> Result<Task> {
    Ok(Task {
        id: r.try_get("id")?,
        host_id: r.try_get("host_id")?,
        batch: r.try_get("batch")?,
        seq: r.try_get("seq")?,
        status: TaskStatus::parse(&r.try_get::<String, _>("status")?)?,
        exit_code: r.try_get("exit_code")?,
        output: r.try_get("output")?,
        error: r.try_get("error")?,
        attempt: r.try_get("attempt")?,
        started_at: r.try_get("started_at")?,
        finished_at: r.try_get("finished_at")?,
    })
}

fn counts_of(tasks: &[Task]) -> Counts {
    let mut c = Counts {
        total: tasks.len() as i64,
        ..Default::default()
    };
    for t in tasks {
        match t.status {
            TaskStatus::Pending => c.pending += 1,
            TaskStatus::Executing => c.executing += 1,
            TaskStatus::Successful => c.successful += 1,
            TaskStatus::Failed => c.failed += 1,
            TaskStatus::Cancelled => c.cancelled += 1,
        }
    }
    c
}

/// Validates and inserts a ticket with its tasks, status `executing`.
///
/// Errors: `NotFound` (script or a host), `Domain(Validation)` (params,
/// user, timeout, batches).
pub(crate) async fn insert_ticket(
    tx: &mut Transaction<'static, Any>,
    keyring: &crate::secret::Keyring,
    tenant: &str,
    req: &NewTicket,
    now: i64,
) -> Result<Ticket> {
    let script = crate::script::get_script_tx(tx, tenant, &req.script_id).await?;
    script.ensure_runnable()?;
    let mut params = resolve_params(&script.spec.params, &req.params)?;
    // Sensitive values are stored encrypted; only the executor decrypts them.
    if let Some(k) = req
        .param_refs
        .keys()
        .find(|k| !script.spec.params.iter().any(|p| &p.name == *k))
    {
        return Err(coc_domain::error::invalid(format!(
            "script '{}' has no parameter '{k}'",
            script.spec.name
        ))
        .into());
    }
    // Sensitive values and values from the parameter center are stored
    // encrypted; only the executor decrypts them.
    for p in script
        .spec
        .params
        .iter()
        .filter(|p| p.sensitive || req.param_refs.contains_key(&p.name))
    {
        if let Some(v) = params.get_mut(&p.name) {
            *v = keyring.encrypt(v);
        }
    }
    // Every reference is kept: `latest` ones are read again at dispatch,
    // and each one's kind (encrypted or not) decides what output hides.
    let latest: BTreeMap<_, _> = req.param_refs.iter().collect();
    let run_as = req
        .run_as
        .clone()
        .unwrap_or_else(|| DEFAULT_RUN_AS.to_string());
    validate_run_as(&run_as)?;
    let timeout = req.timeout_s.unwrap_or(DEFAULT_TIMEOUT_S);
    validate_timeout(timeout)?;
    let batches = plan_batches(req.batch_policy, &req.hosts, req.batches.as_deref())?;
    for h in &req.hosts {
        let ok: Option<String> =
            sqlx::query_scalar("SELECT id FROM hosts WHERE tenant_id = $1 AND id = $2")
                .bind(tenant)
                .bind(h)
                .fetch_optional(&mut **tx)
                .await?;
        if ok.is_none() {
            return Err(StoreError::not_found("host", h));
        }
    }
    let id = crate::new_id();
    let number = coc_domain::id::ticket_number("SCT", now, crate::incident::next_seq());
    let policy = serde_json::to_value(req.batch_policy)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default();
    sqlx::query(dynsql!(
        "INSERT INTO tickets ({COLS}, tenant_id, param_refs) VALUES \
         ($1,$2,'script',$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,{},$14,$15,$16,$16,NULL,$17,$18)",
        crate::sql_lit(TicketStatus::Executing.as_str())
    ))
    .bind(&id)
    .bind(&number)
    .bind(&script.id)
    .bind(&script.spec.name)
    .bind(script.version)
    .bind(script.spec.script_type.as_str())
    .bind(&script.spec.content)
    .bind(serde_json::to_string(&script.spec.params).unwrap_or_else(|_| "[]".into()))
    .bind(serde_json::to_string(&params).unwrap_or_else(|_| "{}".into()))
    .bind(&run_as)
    .bind(i64::from(timeout))
    .bind(&policy)
    .bind(req.threshold.map(|t| i64::from(t.0)))
    .bind(req.incident_id.as_deref())
    .bind(if req.created_by.is_empty() {
        "system"
    } else {
        req.created_by.as_str()
    })
    .bind(now)
    .bind(tenant)
    .bind((!latest.is_empty()).then(|| serde_json::to_string(&latest).unwrap_or_default()))
    .execute(&mut **tx)
    .await?;
    let mut seq = 0i64;
    for (b, hosts) in batches.iter().enumerate() {
        for h in hosts {
            sqlx::query(dynsql!(
                "INSERT INTO ticket_tasks (id, tenant_id, ticket_id, host_id, batch, seq, status, output, attempt) \
                 VALUES ($1,$2,$3,$4,$5,$6,{},'',0)",
                crate::sql_lit(TaskStatus::Pending.as_str())
            ))
            .bind(crate::new_id())
            .bind(tenant)
            .bind(&id)
            .bind(h)
            .bind(b as i64)
            .bind(seq)
            .execute(&mut **tx)
            .await?;
            seq += 1;
        }
    }
    let r = sqlx::query(dynsql!("SELECT {COLS} FROM tickets WHERE id = $1"))
        .bind(&id)
        .fetch_one(&mut **tx)
        .await?;
    row(
        &r,
        Counts {
            total: seq,
            pending: seq,
            ..Default::default()
        },
    )
}

impl Store {
    /// Runs a script: creates its ticket. The executor picks it up at once.
    /// Errors: as `insert_ticket`: `NotFound`, `Domain(Validation)`.
    pub async fn create_ticket(&self, tenant: &str, req: &NewTicket) -> Result<Ticket> {
        let mut req = req.clone();
        for (k, r) in &req.param_refs {
            let v = self.resolve_param_ref(tenant, r).await?;
            req.params.insert(k.clone(), v);
        }
        let mut tx = self.begin().await?;
        let t = insert_ticket(&mut tx, &self.keyring, tenant, &req, now_ms()).await?;
        tx.commit().await?;
        self.work.notify_one();
        Ok(t)
    }

    async fn tasks(&self, ticket_id: &str) -> Result<Vec<Task>> {
        let rows = sqlx::query(dynsql!(
            "SELECT {TASK_COLS} FROM ticket_tasks WHERE ticket_id = $1 ORDER BY seq"
        ))
        .bind(ticket_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(task_row).collect()
    }

    /// Host counts of a ticket by state (one grouped query).
    async fn task_counts(&self, ticket_id: &str) -> Result<Counts> {
        let rows = sqlx::query(
            "SELECT status, COUNT(*) AS n FROM ticket_tasks WHERE ticket_id = $1 GROUP BY status",
        )
        .bind(ticket_id)
        .fetch_all(&self.pool)
        .await?;
        let mut c = Counts::default();
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

    /// One ticket (by id or number) with its tasks. Errors: `NotFound`.
    pub async fn get_ticket(&self, tenant: &str, id: &str) -> Result<TicketDetail> {
        let r = sqlx::query(dynsql!(
            "SELECT {COLS} FROM tickets WHERE tenant_id = $1 AND (id = $2 OR number = $2)"
        ))
        .bind(tenant)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::not_found("ticket", id))?;
        let tid: String = r.try_get("id")?;
        let tasks = self.tasks(&tid).await?;
        Ok(TicketDetail {
            ticket: row(&r, counts_of(&tasks))?,
            tasks,
        })
    }

    /// Tickets, newest first, keyset-paged; optional status filter.
    pub async fn list_tickets(
        &self,
        tenant: &str,
        status: Option<&str>,
        page: &Page,
    ) -> Result<Paged<Ticket>> {
        let mut w = Filter::new(tenant);
        if let Some(s) = status {
            w.push("status = ?", Arg::S(s.to_string()));
        }
        if let Some(c) = &page.cursor {
            w.push("id < ?", Arg::S(c.clone()));
        }
        let limit = page.limit();
        let sql = format!(
            "SELECT {COLS} FROM tickets{} ORDER BY id DESC LIMIT {}",
            w.sql,
            limit + 1
        );
        let rows = w.query(sql).fetch_all(&self.pool).await?;
        let mut items = Vec::with_capacity(rows.len());
        for r in &rows {
            let id: String = r.try_get("id")?;
            items.push(row(r, self.task_counts(&id).await?)?);
        }
        Ok(paged(items, limit, |t| t.id.clone()))
    }

    /// Ids of tickets that are not finished, oldest first (executor input).
    pub async fn active_ticket_ids(&self) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(dynsql!(
            "SELECT id FROM tickets WHERE status IN {} ORDER BY id",
            crate::sql_set(&TicketStatus::ACTIVE.map(TicketStatus::as_str))
        ))
        .fetch_all(&self.pool)
        .await?)
    }

    /// What the executor needs to plan a ticket — its state and each
    /// task's id, host, batch, state and start — without outputs, script
    /// or parameters (cheap to read on every pass). Errors: `NotFound`.
    pub async fn ticket_progress(&self, id: &str) -> Result<Progress> {
        let r = sqlx::query(
            "SELECT tenant_id, number, status, threshold, timeout_s, incident_id FROM tickets WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::not_found("ticket", id))?;
        let threshold: Option<i64> = r.try_get("threshold")?;
        let rows = sqlx::query(
            "SELECT id, host_id, batch, status, started_at FROM ticket_tasks WHERE ticket_id = $1 ORDER BY seq",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let mut tasks = Vec::with_capacity(rows.len());
        for t in &rows {
            tasks.push(TaskProgress {
                id: t.try_get("id")?,
                host_id: t.try_get("host_id")?,
                batch: t.try_get("batch")?,
                status: TaskStatus::parse(&t.try_get::<String, _>("status")?)?,
                started_at: t.try_get("started_at")?,
            });
        }
        Ok(Progress {
            tenant: r.try_get("tenant_id")?,
            id: id.to_string(),
            number: r.try_get("number")?,
            status: TicketStatus::parse(&r.try_get::<String, _>("status")?)?,
            timeout_s: r.try_get("timeout_s")?,
            threshold: threshold.map(|t| Threshold(t.clamp(0, 1000) as u16)),
            incident_id: r.try_get("incident_id")?,
            tasks,
        })
    }

    /// A ticket with unmasked parameters for dispatch. Errors: `NotFound`.
    pub async fn dispatchable(&self, id: &str) -> Result<Dispatchable> {
        let r = sqlx::query(dynsql!(
            "SELECT tenant_id, param_refs, {COLS} FROM tickets WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::not_found("ticket", id))?;
        let threshold: Option<i64> = r.try_get("threshold")?;
        let stored: BTreeMap<String, String> =
            serde_json::from_str(&r.try_get::<String, _>("params")?).unwrap_or_default();
        let mut params = BTreeMap::new();
        for (k, v) in stored {
            params.insert(k, self.keyring.decrypt(&v)?);
        }
        // `latest` parameter-center values are read again at each dispatch.
        let refs: Option<String> = r.try_get("param_refs")?;
        let refs: BTreeMap<String, coc_domain::parameter::ParamRef> = refs
            .and_then(|x| serde_json::from_str(&x).ok())
            .unwrap_or_default();
        let tenant: String = r.try_get("tenant_id")?;
        let mut secret_values = vec![];
        for (k, pr) in &refs {
            match self.resolve_param_ref_secret(&tenant, pr).await {
                Ok((v, secret)) => {
                    if pr.mode == coc_domain::parameter::RefMode::Latest {
                        params.insert(k.clone(), v);
                    }
                    if secret && let Some(used) = params.get(k) {
                        secret_values.push(used.clone());
                    }
                }
                Err(e) => {
                    // Gone: its value at creation is kept, and kept secret.
                    if let Some(v) = params.get(k) {
                        secret_values.push(v.clone());
                    }
                    tracing::warn!(ticket = %id, parameter = %pr.name, error = %e,
                        "latest parameter value unavailable; using the value at creation")
                }
            }
        }
        let decl: Vec<ScriptParam> =
            serde_json::from_str(&r.try_get::<String, _>("param_decl")?).unwrap_or_default();
        let secret = secret_env(&decl, &params, &secret_values);
        Ok(Dispatchable {
            tenant: r.try_get("tenant_id")?,
            id: r.try_get("id")?,
            number: r.try_get("number")?,
            status: TicketStatus::parse(&r.try_get::<String, _>("status")?)?,
            script_type: r.try_get("script_type")?,
            content: r.try_get("content")?,
            params,
            secret_env: secret,
            run_as: r.try_get("run_as")?,
            timeout_s: r.try_get("timeout_s")?,
            threshold: threshold.map(|t| Threshold(t.clamp(0, 1000) as u16)),
            incident_id: r.try_get("incident_id")?,
            tasks: self.tasks(id).await?,
        })
    }

    /// Marks pending tasks executing (before they are sent to agents).
    /// Returns the ids actually moved (a task no longer pending is skipped).
    pub async fn start_tasks(&self, task_ids: &[String]) -> Result<Vec<String>> {
        let now = now_ms();
        let mut tx = self.begin().await?;
        let mut moved = Vec::new();
        for id in task_ids {
            let n = sqlx::query(dynsql!(
                "UPDATE ticket_tasks SET status = {}, attempt = attempt + 1, started_at = $1 \
                 WHERE id = $2 AND status = {}",
                crate::sql_lit(TaskStatus::Executing.as_str()),
                crate::sql_lit(TaskStatus::Pending.as_str())
            ))
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 1 {
                moved.push(id.clone());
            }
        }
        tx.commit().await?;
        Ok(moved)
    }

    /// Records a task result if the task is still executing; returns its
    /// ticket id when it changed (a late or repeated result changes nothing).
    ///
    /// `host_id`, when given, must be the task's host (an agent can only
    /// report its own tasks).
    pub async fn finish_task(
        &self,
        task_id: &str,
        host_id: Option<&str>,
        status: TaskStatus,
        exit_code: Option<i64>,
        error: Option<&str>,
    ) -> Result<Option<String>> {
        let mut tx = self.begin().await?;
        let ticket = finish_task_in(&mut tx, task_id, host_id, status, exit_code, error).await?;
        tx.commit().await?;
        if ticket.is_some() {
            self.work.notify_one();
        }
        Ok(ticket)
    }

    /// Appends output to a running task of host `host_id` (kept up to
    /// [`MAX_OUTPUT_BYTES`]). Returns the ticket id when the task exists.
    pub async fn append_output(
        &self,
        task_id: &str,
        host_id: &str,
        chunk: &str,
    ) -> Result<Option<String>> {
        let mut tx = self.begin().await?;
        let t = append_output_in(&mut tx, task_id, host_id, chunk).await?;
        tx.commit().await?;
        Ok(t)
    }

    /// Sets a ticket's status (executor); `finished_at` is set for terminal
    /// states. Only changes a ticket still in `from`.
    pub async fn set_ticket_status(
        &self,
        id: &str,
        from: TicketStatus,
        to: TicketStatus,
    ) -> Result<bool> {
        let now = now_ms();
        let mut tx = self.begin().await?;
        let n = sqlx::query("UPDATE tickets SET status = $1, updated_at = $2, finished_at = $3 WHERE id = $4 AND status = $5")
            .bind(to.as_str())
            .bind(now)
            .bind(to.is_terminal().then_some(now))
            .bind(id)
            .bind(from.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n == 1)
    }

    /// Operator action on a ticket (pause, continue, forcibly end). Forcibly
    /// ending cancels every pending and executing task; the ids of tasks that
    /// were executing are returned so the caller can stop them on the agents.
    ///
    /// Errors: `NotFound`, `Domain(InvalidTransition)`, `Conflict` on a race.
    pub async fn ticket_action(
        &self,
        tenant: &str,
        id: &str,
        action: TicketAction,
        actor: &str,
    ) -> Result<(TicketDetail, Vec<(String, String)>)> {
        let cur = self.get_ticket(tenant, id).await?;
        let next = apply_action(cur.ticket.status, action)?;
        let now = now_ms();
        let mut tx = self.begin().await?;
        let n = sqlx::query("UPDATE tickets SET status = $1, updated_at = $2, finished_at = $3 WHERE id = $4 AND status = $5")
            .bind(next.as_str())
            .bind(now)
            .bind(next.is_terminal().then_some(now))
            .bind(&cur.ticket.id)
            .bind(cur.ticket.status.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::Conflict(
                "the ticket changed meanwhile; reload and retry".into(),
            ));
        }
        let mut stop = Vec::new();
        if next == TicketStatus::Terminated {
            stop = cur
                .tasks
                .iter()
                .filter(|t| t.status == TaskStatus::Executing)
                .map(|t| (t.id.clone(), t.host_id.clone()))
                .collect();
            sqlx::query(dynsql!(
                "UPDATE ticket_tasks SET status = {}, error = $1, finished_at = $2 \
                 WHERE ticket_id = $3 AND status IN {}",
                crate::sql_lit(TaskStatus::Cancelled.as_str()),
                crate::sql_set(&[TaskStatus::Pending.as_str(), TaskStatus::Executing.as_str()])
            ))
            .bind(format!("forcibly ended by {actor}"))
            .bind(now)
            .bind(&cur.ticket.id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.work.notify_one();
        Ok((self.get_ticket(tenant, id).await?, stop))
    }

    /// Cancels one host's task (pending or executing). Returns the task
    /// and whether it was executing (so the agent must be told).
    ///
    /// Errors: `NotFound`, `Domain(InvalidTransition)` when the task or the
    /// ticket is already finished.
    pub async fn cancel_task(
        &self,
        tenant: &str,
        ticket_id: &str,
        task_id: &str,
        actor: &str,
    ) -> Result<(Task, bool)> {
        let cur = self.get_ticket(tenant, ticket_id).await?;
        let task = cur
            .tasks
            .iter()
            .find(|t| t.id == task_id || t.host_id == task_id)
            .ok_or_else(|| StoreError::not_found("task", task_id))?;
        if cur.ticket.status.is_terminal() || task.status.is_done() {
            return Err(coc_domain::DomainError::InvalidTransition(format!(
                "cannot cancel a task that is {} in a ticket that is {}",
                task.status.as_str(),
                cur.ticket.status.as_str()
            ))
            .into());
        }
        let was_running = task.status == TaskStatus::Executing;
        let mut tx = self.begin().await?;
        let n = sqlx::query(dynsql!(
            "UPDATE ticket_tasks SET status = {}, error = $1, finished_at = $2 WHERE id = $3 AND status = $4",
            crate::sql_lit(TaskStatus::Cancelled.as_str())
        ))
        .bind(format!("cancelled by {actor}"))
        .bind(now_ms())
        .bind(&task.id)
        .bind(task.status.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::Conflict(
                "the task changed meanwhile; reload and retry".into(),
            ));
        }
        tx.commit().await?;
        self.work.notify_one();
        let t = self
            .get_ticket(tenant, ticket_id)
            .await?
            .tasks
            .into_iter()
            .find(|t| t.id == task.id)
            .ok_or_else(|| StoreError::not_found("task", task_id))?;
        Ok((t, was_running))
    }
}

/// Parses the suspension threshold of an API request (a percentage with one
/// decimal). Errors: `Domain(Validation)`.
pub fn threshold_from_percent(p: Option<f64>) -> Result<Option<Threshold>> {
    p.map(Threshold::from_percent)
        .transpose()
        .map_err(Into::into)
}

/// Rejects an empty host list early with a clear message.
pub fn require_hosts(hosts: &[String]) -> Result<()> {
    if hosts.is_empty() {
        return Err(invalid("choose at least one target host").into());
    }
    Ok(())
}

/// [`Store::finish_task`] inside the caller's transaction.
pub(crate) async fn finish_task_in(
    conn: &mut sqlx::AnyConnection,
    task_id: &str,
    host_id: Option<&str>,
    status: TaskStatus,
    exit_code: Option<i64>,
    error: Option<&str>,
) -> Result<Option<String>> {
    Ok(sqlx::query_scalar(dynsql!(
        "UPDATE ticket_tasks SET status = $1, exit_code = $2, error = $3, finished_at = $4 \
         WHERE id = $5 AND status = {} AND ($6 = '' OR host_id = $6) RETURNING ticket_id",
        crate::sql_lit(TaskStatus::Executing.as_str())
    ))
    .bind(status.as_str())
    .bind(exit_code)
    .bind(error)
    .bind(now_ms())
    .bind(task_id)
    .bind(host_id.unwrap_or(""))
    .fetch_optional(&mut *conn)
    .await?)
}

/// [`Store::append_output`] inside the caller's transaction.
pub(crate) async fn append_output_in(
    conn: &mut sqlx::AnyConnection,
    task_id: &str,
    host_id: &str,
    chunk: &str,
) -> Result<Option<String>> {
    Ok(sqlx::query_scalar(dynsql!(
        "UPDATE ticket_tasks SET output = output || $1 WHERE id = $2 AND host_id = $3 \
         AND status = {} AND LENGTH(output) < $4 RETURNING ticket_id",
        crate::sql_lit(TaskStatus::Executing.as_str())
    ))
    .bind(chunk)
    .bind(task_id)
    .bind(host_id)
    .bind(MAX_OUTPUT_BYTES as i64)
    .fetch_optional(&mut *conn)
    .await?)
}
