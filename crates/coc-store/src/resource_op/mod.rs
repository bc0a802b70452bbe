//! Batch resource operations (P4): on hosts, [`power`]; here, starting,
//! stopping and restarting databases as a script ticket of the common script
//! [`coc_domain::resource_op::SCRIPT_NAME`] — one task per host the
//! databases run on, with that host's services as its own parameter
//! values. Which services on which host is
//! [`coc_domain::resource_op::plan`]'s.

use std::collections::BTreeMap;

mod power;
pub(crate) use power::cloud_server_in;

use coc_domain::resource_op::{
    ACTION_PARAM, OperationSpec, SCRIPT_NAME, SERVICE_ATTRIBUTE, Target, UNITS_PARAM, plan,
};
use coc_domain::ticket::Threshold;

use crate::jobticket::Delegation;
use crate::ticket::{NewTicket, Ticket};
use crate::{Result, Store};

/// Longest run of one host's services, seconds.
const TIMEOUT_S: u32 = 600;

impl Store {
    /// Starts, stops or restarts databases (ids or names): a script
    /// ticket with one task per host they run on, in batches of
    /// `batch_size` hosts under the suspension threshold.
    ///
    /// Errors: `Domain(Validation)` ([`OperationSpec::normalized`], or a
    /// resource that is no database, runs on no host or names no
    /// service), `NotFound` (a resource).
    pub async fn start_resource_operation(
        &self,
        tenant: &str,
        spec: &OperationSpec,
        interval_ms: i64,
        actor: &str,
    ) -> Result<Ticket> {
        let spec = spec.normalized()?;
        let mut targets = Vec::with_capacity(spec.resources.len());
        for key in &spec.resources {
            let r = self.get_resource(tenant, key, interval_ms).await?;
            targets.push(Target {
                name: r.name.clone(),
                resource_type: r.resource_type.as_str().to_string(),
                host_id: r.host_id.clone(),
                service: r.attributes.get(SERVICE_ATTRIBUTE).cloned(),
            });
        }
        let per_host = plan(&targets)?;
        self.ensure_system_scripts(tenant).await?;
        let script = self.get_script(tenant, SCRIPT_NAME).await?;
        let hosts: Vec<String> = per_host.keys().cloned().collect();
        let (batch_policy, batches) = coc_domain::ticket::batches_of(&hosts, spec.batch_size);
        let req = NewTicket {
            script_id: script.id.clone(),
            params: BTreeMap::from([(ACTION_PARAM.to_string(), spec.action.as_str().to_string())]),
            hosts,
            run_as: None,
            timeout_s: Some(TIMEOUT_S),
            batch_policy,
            batches,
            threshold: spec
                .success_rate_threshold
                .map(Threshold::from_percent)
                .transpose()?,
            incident_id: None,
            created_by: actor.to_string(),
            param_refs: BTreeMap::new(),
        };
        let delegation = Delegation {
            runs_on: None,
            params: per_host
                .into_iter()
                .map(|(h, units)| {
                    (
                        h,
                        BTreeMap::from([(UNITS_PARAM.to_string(), units.join(" "))]),
                    )
                })
                .collect(),
        };
        let mut tx = self.begin().await?;
        let ticket = crate::ticket::insert_ticket(
            &mut tx,
            &self.keyring,
            tenant,
            &req,
            self.now(),
            Some(&delegation),
        )
        .await?;
        tx.commit().await?;
        self.work.notify_one();
        Ok(ticket)
    }
}
