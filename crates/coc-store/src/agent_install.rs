//! Agent installation (R3): in one transaction, each target becomes a
//! host (its agent id chosen now, its identity open for the agent's first
//! connection), gets a one-time enrollment token, and an ordinary script
//! ticket of [`coc_domain::agent_install::SCRIPT_NAME`] is created whose
//! targets' tasks run on the installation host with each target's own
//! parameters ([`crate::jobticket::Delegation`]). What a valid request is
//! and what each target is given is [`coc_domain::agent_install`]'s.

use std::collections::BTreeMap;

use coc_domain::agent::{IdentityState, REENROLL_WINDOW_MS};
use coc_domain::agent_install::{InstallSpec, SCRIPT_NAME, target_params};
use coc_domain::ticket::Threshold;
use serde::{Deserialize, Serialize};

use crate::jobticket::Delegation;
use crate::ticket::{NewTicket, Ticket};
use crate::{Result, Store};

/// Longest an installation task runs, seconds.
pub const INSTALL_TIMEOUT_S: u32 = 900;
/// How long a target's one-time token and open identity wait for its
/// agent, hours.
pub const TOKEN_HOURS: i64 = 24;

/// A started installation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct AgentInstall {
    /// The script ticket that runs it (follow it like any ticket).
    pub ticket: Ticket,
    /// The hosts made for the targets, in the request's order.
    pub hosts: Vec<InstallHost>,
}

/// A target's host.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct InstallHost {
    /// Host resource id (its agent binds to it when it first connects).
    pub host_id: String,
    /// The address it is installed at.
    pub address: String,
}

impl Store {
    /// Starts an installation: `server` is the URL new agents dial unless
    /// the request names one; `actor` is who asked.
    ///
    /// Errors: `Domain(Validation)` (see [`InstallSpec::normalized`]);
    /// `NotFound` for the installation host.
    pub async fn start_agent_install(
        &self,
        tenant: &str,
        spec: &InstallSpec,
        server: &str,
        actor: &str,
    ) -> Result<AgentInstall> {
        let spec = spec.normalized()?;
        let runs_on = self.host_ref(tenant, &spec.installation_host).await?;
        self.ensure_system_scripts(tenant).await?;
        let script = self.get_script(tenant, SCRIPT_NAME).await?;
        let threshold = spec
            .success_rate_threshold
            .map(Threshold::from_percent)
            .transpose()?;
        let now = self.now();
        let mut tx = self.begin().await?;
        let mut hosts = Vec::with_capacity(spec.targets.len());
        let mut params = BTreeMap::new();
        for t in &spec.targets {
            let host_id = crate::new_id();
            let agent_id = format!("{:032x}", rand::random::<u128>());
            sqlx::query(
                "INSERT INTO hosts (id, tenant_id, agent_id, hostname, ips, os, arch, cpu_cores, memory_bytes, \
                 agent_version, last_heartbeat, created_at, updated_at, boot_id, agent_key, identity, \
                 identity_changed_at, identity_until) \
                 VALUES ($1,$2,$3,$4,$5,'','',0,0,'',NULL,$6,$6,'',NULL,$7,$6,$8)",
            )
            .bind(&host_id)
            .bind(tenant)
            .bind(&agent_id)
            .bind(&t.address)
            .bind(serde_json::to_string(&[&t.address]).unwrap_or_default())
            .bind(now)
            .bind(IdentityState::Open.as_str())
            .bind(now + REENROLL_WINDOW_MS)
            .execute(&mut *tx)
            .await?;
            let name = format!(
                "install {}:{} ({})",
                t.address,
                t.port,
                &host_id[host_id.len() - 6..]
            );
            let (_, token) = crate::agent::insert_enrollment(
                &mut tx,
                tenant,
                &name,
                1,
                now,
                now + TOKEN_HOURS * 3_600_000,
            )
            .await?;
            params.insert(
                host_id.clone(),
                target_params(&spec, t, &agent_id, &token, server),
            );
            hosts.push(InstallHost {
                host_id,
                address: t.address.clone(),
            });
        }
        let ids: Vec<String> = hosts.iter().map(|h| h.host_id.clone()).collect();
        let (batch_policy, batches) = coc_domain::ticket::batches_of(&ids, spec.batch_size);
        let req = NewTicket {
            script_id: script.id.clone(),
            params: BTreeMap::new(),
            hosts: ids,
            run_as: None,
            timeout_s: Some(INSTALL_TIMEOUT_S),
            batch_policy,
            batches,
            threshold,
            incident_id: None,
            created_by: actor.to_string(),
            param_refs: BTreeMap::new(),
        };
        let delegation = Delegation {
            runs_on: Some(runs_on),
            params,
        };
        let ticket = crate::ticket::insert_ticket(
            &mut tx,
            &self.keyring,
            tenant,
            &req,
            now,
            Some(&delegation),
        )
        .await?;
        tx.commit().await?;
        self.work.notify_one();
        Ok(AgentInstall { ticket, hosts })
    }
}
