//! The resource list (R1, ref. 3.1.1): hosts and every other resource in
//! one list, filtered on the server, sorted, and keyset-paged like the
//! alarm list.

use coc_domain::resource::catalog::{
    GroupBy, ResourceStatus, ResourceType, Sort, SortKey, merge_groups, module_group,
};
use coc_domain::resource::status_bounds;
use serde::Serialize;
use sqlx::Row;

use super::Host;
use super::catalog::{RCOLS, RFROM, Resource, resource_row};
use crate::{Arg, Filter, Page, Paged, Result, Store, StoreError};

/// Which resources the list shows (every field optional; all given must
/// hold).
#[derive(Debug, Clone, Default)]
pub struct ResourceFilter {
    /// Of this type.
    pub resource_type: Option<ResourceType>,
    /// Belongs to this application (id or name): its own, or its host's.
    pub application: Option<String>,
    /// In this module of its application (any case).
    pub module: Option<String>,
    /// In this region (any case).
    pub region: Option<String>,
    /// In this enterprise project.
    pub enterprise_project: Option<String>,
    /// With this status.
    pub status: Option<ResourceStatus>,
    /// On this host (id or host name).
    pub host: Option<String>,
    /// Name, address or a field contains this (any case; `%` and `_`
    /// literally).
    pub q: Option<String>,
}

/// One row of the resource list: a host, or another resource.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Listed {
    /// A host with its agent.
    Host(Box<Host>),
    /// A database, cache, queue, web server, container cluster or load
    /// balancer.
    Other(Box<Resource>),
}

impl Listed {
    /// Its id.
    pub fn id(&self) -> &str {
        match self {
            Listed::Host(h) => &h.id,
            Listed::Other(r) => &r.id,
        }
    }

    /// Its value for grouping `by` (what [`Store::resource_groups`]
    /// counts).
    pub fn group_value(&self, by: GroupBy) -> Option<String> {
        let (t, status, app, module, region, project) = match self {
            Listed::Host(h) => (
                h.kind.clone(),
                h.status,
                h.application.clone(),
                h.module.clone(),
                h.region.clone(),
                h.enterprise_project.clone(),
            ),
            Listed::Other(r) => (
                r.resource_type.as_str().to_string(),
                r.status,
                r.application.clone(),
                r.module.clone(),
                r.region.clone(),
                r.enterprise_project.clone(),
            ),
        };
        match by {
            GroupBy::Type => Some(t),
            GroupBy::Status => Some(status.as_str().to_string()),
            GroupBy::Application => app,
            GroupBy::Module => module_group(app.as_deref(), module.as_deref()),
            GroupBy::Region => region,
            GroupBy::Project => project,
        }
    }

    /// Its enterprise project and tags (its ABAC attributes).
    pub fn project_and_tags(&self) -> (Option<&str>, &std::collections::BTreeMap<String, String>) {
        match self {
            Listed::Host(h) => (h.enterprise_project.as_deref(), &h.tags),
            Listed::Other(r) => (r.enterprise_project.as_deref(), &r.tags),
        }
    }
}

/// The position after a row in a sorted list: its key and id.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Cursor(serde_json::Value, String);

fn encode(c: &Cursor) -> String {
    hex::encode(serde_json::to_vec(c).unwrap_or_default())
}

fn decode(s: &str) -> Result<Cursor> {
    hex::decode(s)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| {
            StoreError::Domain(coc_domain::error::invalid(
                "cursor is not one this list gave",
            ))
        })
}

/// A growing argument list: each call adds one and answers its `$n`.
struct Args(Vec<Arg>);

impl Args {
    fn s(&mut self, v: &str) -> String {
        self.0.push(Arg::S(v.to_string()));
        format!("${}", self.0.len())
    }
    fn i(&mut self, v: i64) -> String {
        self.0.push(Arg::I(v));
        format!("${}", self.0.len())
    }
}

impl Store {
    /// One page of the resource list: the resources `f` selects, sorted by
    /// `sort` (ties by id), `page.limit` at most; `next_cursor` continues
    /// after the last one. Statuses are computed with the agents'
    /// heartbeat interval `interval_ms`.
    ///
    /// Errors: `Domain(Validation)` for a cursor this list did not give.
    pub async fn resource_page(
        &self,
        tenant: &str,
        interval_ms: i64,
        f: &ResourceFilter,
        sort: Sort,
        page: &Page,
    ) -> Result<Paged<Listed>> {
        let now = self.now();
        let (running, abnormal) = status_bounds(now, interval_ms);
        let mut a = Args(vec![Arg::S(tenant.to_string())]);
        // Each arm (hosts; the other resources) is filtered, sorted and
        // cut to a page on its own — so it reads its own name or age
        // index from the cursor on — and the two pages are merged.
        let selects = self.list_selects(&mut a, f, now, (running, abnormal));
        // A search reads every row anyway: then the key is an expression,
        // so that the rows are read in table order and the few found
        // sorted (walking a name index would fetch every row by it).
        let searching = f.q.is_some();
        let key = match (sort.key, searching) {
            (SortKey::Name, false) => "u.name",
            (SortKey::Name, true) => "(u.name || '')",
            (SortKey::Type, _) => "u.type || ' ' || u.name",
            (SortKey::Status, _) => "u.status || ' ' || u.name",
            (SortKey::CreatedAt, false) => "u.created_at",
            (SortKey::CreatedAt, true) => "(u.created_at + 0)",
        };
        let (cmp, dir) = if sort.descending {
            ("<", "DESC")
        } else {
            (">", "ASC")
        };
        let cursor = page.cursor.as_deref().map(decode).transpose()?;
        let limit = page.limit();
        let mut arms = vec![];
        for select in selects {
            let mut w = self.filter_clauses(&mut a, f);
            if let Some(Cursor(v, id)) = &cursor {
                let v = match (sort.key, v) {
                    (SortKey::CreatedAt, serde_json::Value::Number(n)) => {
                        a.i(n.as_i64().unwrap_or_default())
                    }
                    (SortKey::CreatedAt, _) | (_, serde_json::Value::Number(_)) => {
                        return Err(decode("-").unwrap_err());
                    }
                    (_, serde_json::Value::String(s)) => a.s(s),
                    _ => return Err(decode("-").unwrap_err()),
                };
                let id = a.s(id);
                w.push(format!("({key}, u.id) {cmp} ({v}, {id})"));
            }
            arms.push(format!(
                "SELECT * FROM (SELECT u.id, u.type, {key} AS k FROM ({select}) u{} \
                 ORDER BY k {dir}, u.id {dir} LIMIT {}) AS arm{}",
                if w.is_empty() {
                    String::new()
                } else {
                    format!(" WHERE {}", w.join(" AND "))
                },
                limit + 1,
                arms.len()
            ));
        }
        let sql = format!(
            "SELECT v.id, v.type, v.k FROM ({}) v ORDER BY v.k {dir}, v.id {dir} LIMIT {}",
            arms.join(" UNION ALL "),
            limit + 1
        );
        let q = Filter {
            sql: String::new(),
            args: a.0,
        };
        let rows = q.query(sql).fetch_all(self.reader()).await?;
        let mut keys: Vec<(String, String, serde_json::Value)> = Vec::with_capacity(rows.len());
        for r in &rows {
            let k = if sort.key == SortKey::CreatedAt {
                serde_json::Value::from(r.try_get::<i64, _>("k")?)
            } else {
                serde_json::Value::from(r.try_get::<String, _>("k")?)
            };
            keys.push((r.try_get("id")?, r.try_get("type")?, k));
        }
        let more = keys.len() as i64 > limit;
        keys.truncate(limit as usize);
        let next_cursor = more
            .then(|| keys.last())
            .flatten()
            .map(|(id, _, k)| encode(&Cursor(k.clone(), id.clone())));
        let items = self.hydrate(tenant, interval_ms, now, &keys).await?;
        Ok(Paged { items, next_cursor })
    }

    /// The two arms of the list — hosts; the other resources — as rows of
    /// the same columns (status computed at `now` from the heartbeat
    /// bounds); only the arm `f`'s type needs.
    fn list_selects(
        &self,
        a: &mut Args,
        f: &ResourceFilter,
        now: i64,
        (running, abnormal): (i64, i64),
    ) -> Vec<String> {
        let agent = |a: &mut Args, col: &str| {
            format!(
                "CASE WHEN {col} >= {} THEN {} WHEN {col} >= {} THEN {} ELSE {} END",
                a.i(running),
                a.s(ResourceStatus::Running.as_str()),
                a.i(abnormal),
                a.s(ResourceStatus::Abnormal.as_str()),
                a.s(ResourceStatus::Offline.as_str())
            )
        };
        let mut selects = vec![];
        if f.resource_type.is_none_or(|t| t == ResourceType::Host) {
            let t = a.s(ResourceType::Host.as_str());
            // Before its agent ever reported: its latest installation task
            // (R3; coc_domain::resource::host_status).
            use coc_domain::ticket::TaskStatus as T;
            let (pending, executing, failed, cancelled, successful) = (
                a.s(T::Pending.as_str()),
                a.s(T::Executing.as_str()),
                a.s(T::Failed.as_str()),
                a.s(T::Cancelled.as_str()),
                a.s(T::Successful.as_str()),
            );
            // A started agent has a while to connect.
            let grace = a.i(now - coc_domain::resource::CONNECT_GRACE_MS);
            let (upgrading, executing_run) = (
                a.s(ResourceStatus::Upgrading.as_str()),
                a.s(coc_domain::jobticket::RunStatus::Executing.as_str()),
            );
            let (installing, install_failed, offline) = (
                a.s(ResourceStatus::Installing.as_str()),
                a.s(ResourceStatus::InstallFailed.as_str()),
                a.s(ResourceStatus::Offline.as_str()),
            );
            let heartbeat = agent(a, "last_heartbeat");
            let status = format!(
                "CASE WHEN EXISTS (SELECT 1 FROM job_runs jr WHERE jr.host_id = hosts.id \
                 AND jr.status = {executing_run} AND jr.kind = 'upgrade') THEN {upgrading} \
                 WHEN last_heartbeat IS NULL THEN COALESCE((SELECT CASE \
                 WHEN jh.status IN ({pending}, {executing}) THEN {installing} \
                 WHEN jh.status = {successful} AND jh.finished_at >= {grace} THEN {installing} \
                 WHEN jh.status IN ({failed}, {cancelled}, {successful}) THEN {install_failed} END \
                 FROM job_hosts jh WHERE jh.host_id = hosts.id AND jh.runs_on IS NOT NULL \
                 ORDER BY jh.id DESC LIMIT 1), {offline}) ELSE {heartbeat} END"
            );
            selects.push(format!(
                "SELECT id, {t} AS type, hostname AS name, {status} AS status, created_at, \
                 application_id, module, region, enterprise_project, NULL AS host_id, \
                 LOWER(hostname || ' ' || ips) AS search FROM hosts WHERE tenant_id = $1"
            ));
        }
        if f.resource_type != Some(ResourceType::Host) {
            let vanished = a.s(ResourceStatus::Vanished.as_str());
            let unmonitored = a.s(ResourceStatus::Unmonitored.as_str());
            let status = agent(a, "h.last_heartbeat");
            selects.push(format!(
                "SELECT r.id, r.type, r.name, CASE WHEN r.vanished_at IS NOT NULL THEN {vanished} \
                 WHEN r.host_id IS NULL THEN {unmonitored} ELSE {status} END AS status, r.created_at, \
                 COALESCE(r.application_id, h.application_id) AS application_id, \
                 CASE WHEN r.application_id IS NULL THEN h.module ELSE r.module END AS module, \
                 COALESCE(r.region, h.region) AS region, \
                 COALESCE(r.enterprise_project, h.enterprise_project) AS enterprise_project, \
                 r.host_id, LOWER(r.name || ' ' || r.attributes) AS search \
                 FROM resources r LEFT JOIN hosts h ON h.id = r.host_id WHERE r.tenant_id = $1"
            ));
        }
        selects
    }

    /// The conditions of `f` on a list row `u` (its arguments added to `a`).
    fn filter_clauses(&self, a: &mut Args, f: &ResourceFilter) -> Vec<String> {
        let mut w = vec![];
        if let Some(t) = f.resource_type {
            w.push(format!("u.type = {}", a.s(t.as_str())));
        }
        if let Some(s) = f.status {
            w.push(format!("u.status = {}", a.s(s.as_str())));
        }
        if let Some(app) = &f.application {
            let n = a.s(app.trim());
            w.push(format!(
                "u.application_id IN (SELECT id FROM applications WHERE tenant_id = $1 AND (id = {n} OR name = {n}))"
            ));
        }
        if let Some(m) = &f.module {
            w.push(format!(
                "LOWER(u.module) = {}",
                a.s(&m.trim().to_lowercase())
            ));
        }
        if let Some(r) = &f.region {
            w.push(format!(
                "LOWER(u.region) = {}",
                a.s(&r.trim().to_lowercase())
            ));
        }
        if let Some(p) = &f.enterprise_project {
            w.push(format!("u.enterprise_project = {}", a.s(p.trim())));
        }
        if let Some(h) = &f.host {
            let n = a.s(h.trim());
            w.push(format!(
                "u.host_id IN (SELECT id FROM hosts WHERE tenant_id = $1 AND (id = {n} OR hostname = {n}))"
            ));
        }
        if let Some(q) = &f.q {
            w.push(format!(
                "u.search LIKE {} ESCAPE '\\'",
                a.s(&format!(
                    "%{}%",
                    crate::like_literal(&q.trim().to_lowercase())
                ))
            ));
        }
        w
    }

    /// How many resources `f` selects per value of `by`, the largest group
    /// first ([`coc_domain::resource::catalog::merge_groups`]); `None`:
    /// those without a value.
    pub async fn resource_groups(
        &self,
        tenant: &str,
        interval_ms: i64,
        f: &ResourceFilter,
        by: GroupBy,
    ) -> Result<Vec<(Option<String>, u64)>> {
        let now = self.now();
        let (running, abnormal) = status_bounds(now, interval_ms);
        let mut a = Args(vec![Arg::S(tenant.to_string())]);
        let cols = match by {
            GroupBy::Type => "u.type AS g, NULL AS m",
            GroupBy::Status => "u.status AS g, NULL AS m",
            GroupBy::Application => "u.application_id AS g, NULL AS m",
            GroupBy::Module => "u.application_id AS g, u.module AS m",
            GroupBy::Region => "u.region AS g, NULL AS m",
            GroupBy::Project => "u.enterprise_project AS g, NULL AS m",
        };
        let mut arms = vec![];
        for select in self.list_selects(&mut a, f, now, (running, abnormal)) {
            let w = self.filter_clauses(&mut a, f);
            arms.push(format!(
                "SELECT {cols} FROM ({select}) u{}",
                if w.is_empty() {
                    String::new()
                } else {
                    format!(" WHERE {}", w.join(" AND "))
                }
            ));
        }
        let sql = format!(
            "SELECT v.g, v.m, COUNT(*) AS n FROM ({}) v GROUP BY v.g, v.m",
            arms.join(" UNION ALL ")
        );
        let q = Filter {
            sql: String::new(),
            args: a.0,
        };
        let rows = q.query(sql).fetch_all(self.reader()).await?;
        let names: std::collections::HashMap<String, String> =
            if matches!(by, GroupBy::Application | GroupBy::Module) {
                sqlx::query("SELECT id, name FROM applications WHERE tenant_id = $1")
                    .bind(tenant)
                    .fetch_all(self.reader())
                    .await?
                    .iter()
                    .map(|r| Ok((r.try_get("id")?, r.try_get("name")?)))
                    .collect::<Result<_>>()?
            } else {
                Default::default()
            };
        let mut parts = Vec::with_capacity(rows.len());
        for r in &rows {
            let g: Option<String> = r.try_get("g")?;
            let m: Option<String> = r.try_get("m")?;
            let n: i64 = r.try_get("n")?;
            let value = match by {
                GroupBy::Application => g.and_then(|id| names.get(&id).cloned()),
                GroupBy::Module => {
                    let app = g.and_then(|id| names.get(&id).cloned());
                    module_group(app.as_deref(), m.as_deref())
                }
                _ => g,
            };
            parts.push((value, u64::try_from(n).unwrap_or(0)));
        }
        Ok(merge_groups(parts))
    }

    /// Every resource `f` selects, sorted by `sort` (pages of 1,000 read
    /// in turn): for exports.
    pub async fn all_resources(
        &self,
        tenant: &str,
        interval_ms: i64,
        f: &ResourceFilter,
        sort: Sort,
    ) -> Result<Vec<Listed>> {
        let mut out = vec![];
        let mut page = Page {
            limit: 1000,
            cursor: None,
        };
        loop {
            let p = self
                .resource_page(tenant, interval_ms, f, sort, &page)
                .await?;
            out.extend(p.items);
            match p.next_cursor {
                Some(c) => page.cursor = Some(c),
                None => return Ok(out),
            }
        }
    }

    /// The full rows of a page's `(id, type)` keys, in their order.
    async fn hydrate(
        &self,
        tenant: &str,
        interval_ms: i64,
        now: i64,
        keys: &[(String, String, serde_json::Value)],
    ) -> Result<Vec<Listed>> {
        let host_type = ResourceType::Host.as_str();
        let mut hosts = vec![];
        let mut others = vec![];
        for (id, t, _) in keys {
            if t == host_type {
                hosts.push(id.as_str());
            } else {
                others.push(id.as_str());
            }
        }
        let mut found: std::collections::HashMap<String, Listed> =
            std::collections::HashMap::with_capacity(keys.len());
        if !hosts.is_empty() {
            let mut a = Args(vec![Arg::S(tenant.to_string())]);
            let list: Vec<String> = hosts.iter().map(|id| a.s(id)).collect();
            let sql = format!(
                "SELECT {} FROM hosts WHERE tenant_id = $1 AND id IN ({})",
                super::COLS,
                list.join(",")
            );
            let q = Filter {
                sql: String::new(),
                args: a.0,
            };
            for r in q.query(sql).fetch_all(self.reader()).await? {
                let h = super::row(&r, now, interval_ms)?;
                found.insert(h.id.clone(), Listed::Host(Box::new(h)));
            }
        }
        if !others.is_empty() {
            let mut a = Args(vec![Arg::S(tenant.to_string())]);
            let list: Vec<String> = others.iter().map(|id| a.s(id)).collect();
            let sql = format!(
                "SELECT {RCOLS} FROM {RFROM} WHERE r.tenant_id = $1 AND r.id IN ({})",
                list.join(",")
            );
            let q = Filter {
                sql: String::new(),
                args: a.0,
            };
            for r in q.query(sql).fetch_all(self.reader()).await? {
                let x = resource_row(&r, now, interval_ms)?;
                found.insert(x.id.clone(), Listed::Other(Box::new(x)));
            }
        }
        Ok(keys
            .iter()
            .filter_map(|(id, _, _)| found.remove(id))
            .collect())
    }
}
