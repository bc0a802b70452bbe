//! Cloud accounts (R2) on both backends: the password kept encrypted and
//! never answered, a synchronization applied in one transaction (added,
//! changed, vanished, revived), the due time claimed once, deletion taking
//! the account's servers with it.

use coc_domain::DEFAULT_TENANT as T;
use coc_domain::cloud::{CloudAccountSpec, CloudServer};
use serde_json::json;

use crate::each_store;

fn spec(minutes: u32) -> CloudAccountSpec {
    serde_json::from_value(
        json!({"name": "lab", "auth_url": "https://keystone.lab:5000",
        "username": "coc", "password": "s3cret", "project": "ops", "sync_minutes": minutes}),
    )
    .unwrap()
}

fn server(id: &str, name: &str, state: &str) -> CloudServer {
    CloudServer {
        id: id.into(),
        name: name.into(),
        state: state.into(),
        region: "RegionOne".into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn accounts_synchronize_their_servers_into_the_inventory() {
    each_store!(|s| {
        let a = s.create_cloud_account(T, &spec(30)).await.unwrap();
        assert_eq!(a.spec.password, None, "never answered");
        let stored: String = sqlx::query_scalar("SELECT secret FROM cloud_accounts")
            .fetch_one(s.pool())
            .await
            .unwrap();
        assert!(!stored.contains("s3cret"), "encrypted at rest");
        assert_eq!(
            s.cloud_credentials(T, "lab")
                .await
                .unwrap()
                .password
                .as_deref(),
            Some("s3cret")
        );
        let mut no_password = spec(30);
        no_password.password = None;
        no_password.name = "other".into();
        assert!(s.create_cloud_account(T, &no_password).await.is_err());
        // Changed without a password: the stored one stays.
        no_password.name = "lab".into();
        no_password.sync_minutes = 0;
        let a = s
            .update_cloud_account(T, "lab", &no_password)
            .await
            .unwrap();
        assert_eq!(a.next_sync_at, None, "only when asked");
        assert_eq!(
            s.cloud_credentials(T, "lab")
                .await
                .unwrap()
                .password
                .as_deref(),
            Some("s3cret")
        );
        let a = s.update_cloud_account(T, "lab", &spec(30)).await.unwrap();
        let due = a.next_sync_at.unwrap();
        // Claimed once.
        assert!(s.claim_cloud_sync(&a.id, due, due + 1).await.unwrap());
        assert!(!s.claim_cloud_sync(&a.id, due, due + 2).await.unwrap());
        let now = 1_000_000;
        let o = s
            .apply_cloud_sync(
                T,
                "lab",
                &[
                    server("i-1", "web-01", "ACTIVE"),
                    server("i-2", "db-01", "ACTIVE"),
                ],
                now,
            )
            .await
            .unwrap();
        assert_eq!((o.added, o.changed, o.vanished), (2, 0, 0));
        let a = s.get_cloud_account(T, "lab").await.unwrap();
        assert_eq!(a.servers, 2);
        assert_eq!(
            a.last_outcome.as_deref(),
            Some("2 servers: 2 added, 0 changed, 0 vanished")
        );
        assert_eq!(a.next_sync_at, Some(now + 30 * 60_000));
        let o = s
            .apply_cloud_sync(T, "lab", &[server("i-1", "web-01", "SHUTOFF")], now + 1)
            .await
            .unwrap();
        assert_eq!((o.added, o.changed, o.vanished), (0, 1, 1));
        let o = s
            .apply_cloud_sync(
                T,
                "lab",
                &[
                    server("i-1", "web-01", "SHUTOFF"),
                    server("i-2", "db-01", "ACTIVE"),
                ],
                now + 2,
            )
            .await
            .unwrap();
        assert_eq!((o.added, o.changed, o.vanished), (0, 1, 0), "db-01 revived");
        let r = s.get_resource(T, "db-01", 5000).await.unwrap();
        assert_eq!(r.region.as_deref(), Some("RegionOne"));
        assert_eq!(r.attributes["instance_id"], "i-2");
        s.record_cloud_failure(
            T,
            "lab",
            "signing in was refused (401 Unauthorized)",
            now + 3,
        )
        .await
        .unwrap();
        let a = s.get_cloud_account(T, "lab").await.unwrap();
        assert!(a.last_outcome.unwrap().starts_with("failed: signing in"));
        assert_eq!(a.servers, 2, "a failure changes nothing");
        s.delete_cloud_account(T, "lab").await.unwrap();
        assert!(s.get_resource(T, "db-01", 5000).await.is_err());
    });
}

/// A cloud server is linked to the agent host that has its address — when
/// the host's agent reports, or at the next synchronization — and then
/// shows its host's agent status; the link goes with the host.
#[tokio::test]
async fn a_cloud_server_is_linked_to_the_agent_host_that_has_its_address() {
    each_store!(|s| {
        s.create_cloud_account(T, &spec(0)).await.unwrap();
        let mut web = server("i-1", "web-01", "ACTIVE");
        web.addresses = vec!["10.9.9.9".into(), "172.24.4.10".into()];
        s.apply_cloud_sync(T, "lab", &[web.clone()], coc_store::now_ms())
            .await
            .unwrap();
        let r = s.get_resource(T, "web-01", 5000).await.unwrap();
        assert_eq!(
            (r.host_id.as_deref(), r.status.as_str()),
            (None, "unmonitored")
        );
        // The agent's host reports 10.9.9.9.
        let h = crate::support::host(s, "web-01").await;
        let r = s.get_resource(T, "web-01", 5000).await.unwrap();
        assert_eq!(r.host_id.as_deref(), Some(h.as_str()));
        assert_eq!(r.status.as_str(), "running");
        // Synchronized again: the link stays.
        s.apply_cloud_sync(T, "lab", &[web], coc_store::now_ms())
            .await
            .unwrap();
        let r = s.get_resource(T, "web-01", 5000).await.unwrap();
        assert_eq!(r.host_id.as_deref(), Some(h.as_str()));
        s.delete_host(T, &h).await.unwrap();
        let r = s.get_resource(T, "web-01", 5000).await.unwrap();
        assert_eq!(
            (r.host_id.as_deref(), r.status.as_str()),
            (None, "unmonitored")
        );
    });
}
