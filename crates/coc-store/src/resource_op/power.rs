//! Power operations on hosts (P4, ref. 4.3): a ticket of the common job
//! [`coc_domain::resource_op::power::JOB_NAME`] on hosts and cloud
//! servers; each run finds its host's cloud server here
//! ([`cloud_server_in`]) and the domain decides its route.

use std::collections::BTreeMap;

use coc_domain::resource::catalog::ResourceType;
use coc_domain::resource_op::power::{
    ACTION_PARAM, CloudServerRef, IMAGE_PARAM, JOB_NAME, KEY_PAIR_PARAM, PowerSpec,
};
use sqlx::{Any, Row, Transaction};

use crate::jobticket::{CommonRun, JobTicketDetail};
use crate::{Result, Store, StoreError};

/// The cloud server that `target` is (a cloud server's resource id, for
/// one without an agent) or that is linked to host `target`, in `tx`.
///
/// Errors: a store error.
pub(crate) async fn cloud_server_in(
    tx: &mut Transaction<'static, Any>,
    target: &str,
) -> Result<Option<CloudServerRef>> {
    let r = sqlx::query(
        "SELECT id, region, attributes FROM resources WHERE type = $1 AND (id = $2 OR host_id = $2) \
         AND vanished_at IS NULL ORDER BY CASE WHEN id = $2 THEN 0 ELSE 1 END, id LIMIT 1",
    )
    .bind(ResourceType::CloudServer.as_str())
    .bind(target)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(r) = r else { return Ok(None) };
    let attributes: BTreeMap<String, String> =
        serde_json::from_str(&r.try_get::<String, _>("attributes")?).unwrap_or_default();
    let (Some(account), Some(instance_id)) = (
        attributes.get("account").cloned(),
        attributes.get("instance_id").cloned(),
    ) else {
        return Ok(None);
    };
    Ok(Some(CloudServerRef {
        resource_id: r.try_get("id")?,
        account,
        instance_id,
        region: r.try_get("region")?,
        image: attributes.get("image").cloned(),
    }))
}

impl Store {
    /// What a power operation targets for `key`: the host of that id or
    /// name, else the cloud server of that id or name — its host when it
    /// is linked to one, else the server itself.
    ///
    /// Errors: `NotFound` (no such host or cloud server).
    pub async fn power_target(&self, tenant: &str, key: &str) -> Result<String> {
        match self.host_ref(tenant, key).await {
            Err(StoreError::NotFound { .. }) => {}
            found => return found,
        }
        let r = sqlx::query(
            "SELECT id, host_id FROM resources WHERE tenant_id = $1 AND type = $2 AND (id = $3 OR name = $3) \
             ORDER BY CASE WHEN id = $3 THEN 0 ELSE 1 END LIMIT 1",
        )
        .bind(tenant)
        .bind(ResourceType::CloudServer.as_str())
        .bind(key)
        .fetch_optional(self.reader())
        .await?
        .ok_or_else(|| StoreError::not_found("host or cloud server", key))?;
        Ok(r.try_get::<Option<String>, _>("host_id")?
            .map_or_else(|| r.try_get("id"), Ok)?)
    }

    /// Starts a power operation on hosts and cloud servers (ids or
    /// names): a ticket of the common job, in batches of `batch_size`
    /// under the suspension threshold. Each host's route (provider or
    /// agent) is decided when its run starts.
    ///
    /// Errors: `Domain(Validation)` ([`PowerSpec::normalized`]),
    /// `NotFound` (a host or cloud server).
    pub async fn start_power_operation(
        &self,
        tenant: &str,
        spec: &PowerSpec,
        actor: &str,
    ) -> Result<JobTicketDetail> {
        let spec = spec.normalized()?;
        let hosts = self
            .distinct_refs(&spec.hosts, |h| self.power_target(tenant, h))
            .await?;
        let what = spec.action.as_str().replace('_', " ");
        let description = match &spec.image {
            Some(i) => format!("{what} of {} host(s) to image {i}", hosts.len()),
            None => format!("{what} of {} host(s)", hosts.len()),
        };
        let run = CommonRun {
            job: JOB_NAME,
            description,
            hosts,
            params: BTreeMap::from([
                (ACTION_PARAM.to_string(), spec.action.as_str().to_string()),
                (
                    IMAGE_PARAM.to_string(),
                    spec.image.clone().unwrap_or_default(),
                ),
                (
                    KEY_PAIR_PARAM.to_string(),
                    spec.key_pair.clone().unwrap_or_default(),
                ),
            ]),
            batch_size: spec.batch_size,
            success_rate_threshold: spec.success_rate_threshold,
        };
        self.start_common_job(tenant, run, actor).await
    }
}
