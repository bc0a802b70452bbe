//! Cloud accounts' synchronization (R2): a [`Provider`] lists an
//! account's servers; [`sync`] asks it and hands what it found to the
//! store, which applies it to the inventory in one transaction. A
//! provider that fails changes nothing (no server vanishes because a
//! region did not answer); the failure is recorded on the account.
//!
//! Providers: [`openstack`] (Keystone v3, Nova, Glance).

use std::time::Duration;

use coc_domain::cloud::{CloudAccountSpec, CloudServer, Provider as Kind};
use coc_store::cloud::SyncOutcome;

use crate::AppState;

pub mod openstack;

/// Longest one synchronization may take talking to the provider.
pub const SYNC_TIMEOUT: Duration = Duration::from_secs(120);
/// Longest one HTTP exchange with the provider may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest provider answer read, bytes.
pub const MAX_BODY: usize = 32 << 20;

/// A cloud provider: lists the servers of an account.
pub trait Provider {
    /// Every server of the account, in the regions it is limited to.
    ///
    /// Errors: why, naming the step and the provider's status (never the
    /// password or a token).
    fn servers(&self)
    -> impl std::future::Future<Output = Result<Vec<CloudServer>, String>> + Send;
}

/// The servers of `spec`'s account, from its provider.
///
/// Errors: as [`Provider::servers`], or a timeout.
pub async fn list(state: &AppState, spec: &CloudAccountSpec) -> Result<Vec<CloudServer>, String> {
    let call = async {
        match spec.provider {
            Kind::Openstack => {
                openstack::OpenStack::new(spec, &state.outbound, &state.egress)
                    .servers()
                    .await
            }
        }
    };
    tokio::time::timeout(SYNC_TIMEOUT, call)
        .await
        .map_err(|_| format!("no answer within {} s", SYNC_TIMEOUT.as_secs()))?
}

/// Synchronizes account `id` of `tenant` now: lists its servers and
/// applies them; a failure is recorded on the account and returned.
///
/// Errors: a store error, or why the provider failed (as text in
/// `Conflict`, so the API answers 409 with it).
pub async fn sync(
    state: &AppState,
    tenant: &str,
    id: &str,
) -> Result<SyncOutcome, coc_store::StoreError> {
    let spec = state.store.cloud_credentials(tenant, id).await?;
    let account = state.store.get_cloud_account(tenant, id).await?;
    match list(state, &spec).await {
        Ok(servers) => {
            let now = coc_store::now_ms();
            match state
                .store
                .apply_cloud_sync(tenant, &account.id, &servers, now)
                .await
            {
                Ok(o) => Ok(o),
                Err(e) => {
                    let why = e.to_string();
                    state
                        .store
                        .record_cloud_failure(tenant, &account.id, &why, now)
                        .await?;
                    Err(e)
                }
            }
        }
        Err(why) => {
            tracing::warn!(account = %account.spec.name, %why, "cloud synchronization failed");
            state
                .store
                .record_cloud_failure(tenant, &account.id, &why, coc_store::now_ms())
                .await?;
            Err(coc_store::StoreError::Conflict(format!(
                "synchronizing '{}' failed: {why}",
                account.spec.name
            )))
        }
    }
}
