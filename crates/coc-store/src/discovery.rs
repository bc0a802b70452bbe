//! Discovery (R2, R4): each host's last report of its listening ports and
//! outbound connections, kept as reported; the services a host runs and
//! the dependencies it has are derived on reading by
//! [`coc_domain::discovery`].

use coc_domain::discovery::{
    Connection, Dependency, Listener, SeenHost, Service, dependencies, services,
};
use serde::Serialize;
use sqlx::Row;

use crate::{Result, Store, StoreError};

/// What a host's agent reported last.
struct Report {
    listeners: Vec<Listener>,
    connections: Vec<Connection>,
}

/// A host of the tenant with what its agent reported last, for matching
/// connections to hosts and drawing topologies.
pub(crate) struct Known {
    pub id: String,
    pub hostname: String,
    pub ips: Vec<String>,
    pub listeners: Vec<Listener>,
    pub connections: Vec<Connection>,
    pub application_id: Option<String>,
    pub module: Option<String>,
}

impl Known {
    /// As discovery sees it.
    pub fn seen(&self) -> SeenHost<'_> {
        SeenHost {
            id: &self.id,
            hostname: &self.hostname,
            ips: &self.ips,
            listeners: &self.listeners,
        }
    }
}

fn json<T: Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

impl Store {
    /// Keeps host `host_id`'s latest discovery report (the agent caps
    /// each list at [`coc_domain::discovery::MAX_DISCOVERED`]; longer lists are cut)
    /// and, in the same transaction, brings the host's discovered
    /// resources in line with the services it reports.
    ///
    /// Errors: `NotFound` for an unknown host.
    pub async fn record_discovery(
        &self,
        host_id: &str,
        listeners: &[Listener],
        connections: &[Connection],
    ) -> Result<()> {
        let max = coc_domain::discovery::MAX_DISCOVERED;
        let tenant: Option<String> =
            sqlx::query_scalar("SELECT tenant_id FROM hosts WHERE id = $1")
                .bind(host_id)
                .fetch_optional(self.reader())
                .await?;
        let tenant = tenant.ok_or_else(|| StoreError::not_found("host", host_id))?;
        let listeners = &listeners[..listeners.len().min(max)];
        let now = self.now();
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO host_discovery (host_id, tenant_id, listeners, connections, reported_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (host_id) DO UPDATE SET \
             listeners = excluded.listeners, connections = excluded.connections, \
             reported_at = excluded.reported_at",
        )
        .bind(host_id)
        .bind(&tenant)
        .bind(json(listeners))
        .bind(json(&connections[..connections.len().min(max)]))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        // The services it runs become resources of the inventory (R2).
        crate::resource::catalog::sync_discovered(
            &mut tx,
            &tenant,
            host_id,
            &services(listeners),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Host `host_id`'s last report; `None` before the first.
    async fn discovery_report(&self, tenant: &str, host_id: &str) -> Result<Option<Report>> {
        let r = sqlx::query(
            "SELECT listeners, connections FROM host_discovery WHERE tenant_id = $1 AND host_id = $2",
        )
        .bind(tenant)
        .bind(host_id)
        .fetch_optional(self.reader())
        .await?;
        r.map(|r| -> Result<Report> {
            let l: String = r.try_get("listeners")?;
            let c: String = r.try_get("connections")?;
            Ok(Report {
                listeners: serde_json::from_str(&l).unwrap_or_default(),
                connections: serde_json::from_str(&c).unwrap_or_default(),
            })
        })
        .transpose()
    }

    /// The services host `host_id` runs (R2), by port: empty until its
    /// agent reported. Errors: `NotFound` for an unknown host.
    pub async fn host_services(&self, tenant: &str, host_id: &str) -> Result<Vec<Service>> {
        self.require_host(tenant, host_id).await?;
        Ok(self
            .discovery_report(tenant, host_id)
            .await?
            .map(|r| services(&r.listeners))
            .unwrap_or_default())
    }

    /// The dependencies observed on host `host_id` (R4): which of its
    /// processes talk to which service, here or on another host of the
    /// tenant. Errors: `NotFound` for an unknown host.
    pub async fn host_dependencies(&self, tenant: &str, host_id: &str) -> Result<Vec<Dependency>> {
        self.require_host(tenant, host_id).await?;
        let Some(report) = self.discovery_report(tenant, host_id).await? else {
            return Ok(vec![]);
        };
        let known = self.known_hosts(tenant).await?;
        let seen: Vec<SeenHost<'_>> = known.iter().map(Known::seen).collect();
        let me = seen
            .iter()
            .find(|h| h.id == host_id)
            .cloned()
            .ok_or_else(|| StoreError::not_found("host", host_id))?;
        Ok(dependencies(&me, &seen, &report.connections))
    }

    /// Every host of the tenant with its last discovery report (empty
    /// lists before the first).
    pub(crate) async fn known_hosts(&self, tenant: &str) -> Result<Vec<Known>> {
        let rows = sqlx::query(
            "SELECT h.id, h.hostname, h.ips, h.application_id, h.module, d.listeners, d.connections \
             FROM hosts h LEFT JOIN host_discovery d ON d.host_id = h.id WHERE h.tenant_id = $1",
        )
        .bind(tenant)
        .fetch_all(self.reader())
        .await?;
        let mut known: Vec<Known> = Vec::with_capacity(rows.len());
        for r in &rows {
            let ips: String = r.try_get("ips")?;
            let listeners: Option<String> = r.try_get("listeners")?;
            let connections: Option<String> = r.try_get("connections")?;
            known.push(Known {
                id: r.try_get("id")?,
                hostname: r.try_get("hostname")?,
                ips: serde_json::from_str(&ips).unwrap_or_default(),
                listeners: listeners
                    .and_then(|l| serde_json::from_str(&l).ok())
                    .unwrap_or_default(),
                connections: connections
                    .and_then(|c| serde_json::from_str(&c).ok())
                    .unwrap_or_default(),
                application_id: r.try_get("application_id")?,
                module: r.try_get("module")?,
            });
        }
        Ok(known)
    }

    /// Errors with `NotFound` unless the tenant has host `host_id`.
    async fn require_host(&self, tenant: &str, host_id: &str) -> Result<()> {
        let found: Option<String> =
            sqlx::query_scalar("SELECT id FROM hosts WHERE tenant_id = $1 AND id = $2")
                .bind(tenant)
                .bind(host_id)
                .fetch_optional(self.reader())
                .await?;
        found
            .map(|_| ())
            .ok_or_else(|| StoreError::not_found("host", host_id))
    }
}
