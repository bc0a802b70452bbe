//! Topology (R4): an application's graph from its hosts, what their
//! agents discovered and their active alarms; the graph itself is
//! [`coc_domain::topology`]'s.

use coc_domain::resource::{HostIdentity, resource_is_host};
use coc_domain::topology::{Graph, Member, application_graph};
use sqlx::Row;

use crate::discovery::Known;
use crate::{Result, Store};

/// Firing alarms looked at for the alarm counts on a graph's hosts (the
/// newest; an application's page does not read a storm whole).
const ALARMS_LOOKED_AT: i64 = 5000;

impl Store {
    /// The topology of application `app` (id or name): its hosts with
    /// their module and active alarms, the services they run and the
    /// services they were observed talking to.
    ///
    /// Errors: `NotFound` for the application.
    pub async fn application_topology(&self, tenant: &str, app: &str) -> Result<Graph> {
        let a = self.get_application(tenant, app).await?;
        let known = self.known_hosts(tenant).await?;
        let members: Vec<&Known> = known
            .iter()
            .filter(|k| k.application_id.as_deref() == Some(a.id.as_str()))
            .collect();
        let firing = sqlx::query(dynsql!(
            "SELECT resource_id, resource_name FROM alarms WHERE tenant_id = $1 AND status = {} \
             ORDER BY id DESC LIMIT {ALARMS_LOOKED_AT}",
            crate::sql_lit(coc_domain::alarm::AlarmStatus::Alarm.as_str())
        ))
        .bind(tenant)
        .fetch_all(self.reader())
        .await?;
        let mut firing_on: Vec<(Option<String>, Option<String>)> = Vec::with_capacity(firing.len());
        for r in &firing {
            firing_on.push((r.try_get("resource_id")?, r.try_get("resource_name")?));
        }
        let counted: Vec<Member<'_>> = members
            .iter()
            .map(|k| {
                let id = HostIdentity {
                    id: k.id.clone(),
                    hostname: k.hostname.clone(),
                    ips: k.ips.clone(),
                };
                Member {
                    host: k.seen(),
                    module: k.module.as_deref(),
                    alarms: firing_on
                        .iter()
                        .filter(|(rid, rname)| {
                            resource_is_host(rid.as_deref(), rname.as_deref(), &id)
                        })
                        .count(),
                    connections: &k.connections,
                }
            })
            .collect();
        let seen: Vec<_> = known.iter().map(Known::seen).collect();
        Ok(application_graph(&a.spec.name, &counted, &seen))
    }
}
