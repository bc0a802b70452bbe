//! Cloud accounts' synchronization (R2): a [`Provider`] lists an
//! account's servers; [`sync`] asks it and hands what it found to the
//! store, which applies it to the inventory in one transaction. A
//! provider that fails changes nothing (no server vanishes because a
//! region did not answer); the failure is recorded on the account.
//!
//! Power operations on cloud servers (P4): [`operate`].
//!
//! Providers: [`openstack`] (Keystone v3, Nova, Glance).

use std::time::Duration;

use coc_domain::cloud::{CloudAccountSpec, CloudServer, Provider as Kind};
use coc_domain::resource_op::power::{self, CloudServerRef, PowerAction, Progress, ServerState};
use coc_domain::ticket::TaskStatus;
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

/// What a rebuild installs: the image (name or id) and the key pair the
/// server takes, if chosen.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rebuild<'a> {
    /// The image; none for other actions.
    pub image: Option<&'a str>,
    /// The key pair.
    pub key_pair: Option<&'a str>,
}

/// How often a power operation reads the server's state while waiting.
pub const POLL: Duration = Duration::from_secs(2);

/// Does a power operation (P4) on a cloud server: signs in to its
/// account, finds the rebuild's image, asks for the action unless the
/// server is already in the wanted state, and waits up to `wait_s`
/// seconds for it to get there ([`coc_domain::resource_op::power::judge`]).
/// Returns the run's `(status, output, error)`; the output tells each
/// step and the states seen.
pub async fn operate(
    state: &AppState,
    tenant: &str,
    action: PowerAction,
    server: &CloudServerRef,
    rebuild: Rebuild<'_>,
    wait_s: u32,
) -> (TaskStatus, String, Option<String>) {
    let mut out = String::new();
    let failed = |out: String, why: String| (TaskStatus::Failed, out, Some(why));
    let spec = match state.store.cloud_credentials(tenant, &server.account).await {
        Ok(s) => s,
        Err(e) => return failed(out, format!("cloud account '{}': {e}", server.account)),
    };
    let Kind::Openstack = spec.provider;
    let os = openstack::OpenStack::new(&spec, &state.outbound, &state.egress);
    let instance = server.instance_id.as_str();
    let session = match os.session(server.region.as_deref()).await {
        Ok(s) => s,
        Err(e) => return failed(out, e),
    };
    let image_id = match rebuild.image {
        Some(i) => match os.image_id(&session, i).await {
            Ok(id) => {
                out.push_str(&format!("image {i}: {id}\n"));
                Some(id)
            }
            Err(e) => return failed(out, e),
        },
        None => None,
    };
    let before = match os.server_state(&session, instance).await {
        Ok(st) => st,
        Err(e) => return failed(out, e),
    };
    out.push_str(&format!(
        "server {instance} in {}: {}\n",
        spec.name,
        show(&before)
    ));
    if power::already_done(action, &before) {
        out.push_str(&format!("already {}: nothing to do\n", before.status));
        return (TaskStatus::Successful, out, None);
    }
    if let Some(k) = rebuild.key_pair {
        out.push_str(&format!("key pair {k}\n"));
    }
    if let Err(e) = os
        .act(
            &session,
            instance,
            action,
            image_id.as_deref(),
            rebuild.key_pair,
        )
        .await
    {
        return failed(out, e);
    }
    out.push_str(&format!("{} asked\n", action.as_str().replace('_', " ")));
    let started = std::time::Instant::now();
    let mut last = String::new();
    loop {
        tokio::time::sleep(POLL).await;
        let st = match os.server_state(&session, instance).await {
            Ok(st) => st,
            Err(e) => return failed(out, e),
        };
        let shown = show(&st);
        if shown != last {
            out.push_str(&format!("{} s: {shown}\n", started.elapsed().as_secs()));
            last = shown;
        }
        match power::judge(action, &st) {
            Progress::Done => return (TaskStatus::Successful, out, None),
            Progress::Failed(why) => return failed(out, why),
            Progress::Waiting if started.elapsed() >= Duration::from_secs(u64::from(wait_s)) => {
                return failed(
                    out,
                    format!(
                        "the server did not reach {} within {wait_s} s",
                        action.final_state()
                    ),
                );
            }
            Progress::Waiting => {}
        }
    }
}

/// A server's state in a few words: `ACTIVE`, `ACTIVE (rebooting)`.
fn show(s: &ServerState) -> String {
    match &s.task {
        Some(t) => format!("{} ({t})", s.status),
        None => s.status.clone(),
    }
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
