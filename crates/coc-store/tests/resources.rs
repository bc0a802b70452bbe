//! The resource inventory (R1, R2) on both backends: what a host's agent
//! reports becomes database/cache/… resources of the host (inserted,
//! vanished, revived), resources registered by hand, and the one list of
//! all of them — filtered, sorted and keyset-paged.

use coc_domain::DEFAULT_TENANT as T;
use coc_domain::application::{AppModule, ApplicationSpec};
use coc_domain::discovery::Listener;
use coc_domain::resource::catalog::{
    GroupBy, Origin, ResourceSpec, ResourceStatus, ResourceType, Sort,
};
use coc_store::resource::HostFacts;
use coc_store::resource::list::{Listed, ResourceFilter};
use coc_store::{Page, StoreError};

use crate::each_store;

/// A heartbeat interval long enough that every host here is running.
const MS: i64 = 3_600_000;

fn facts(agent: &str, hostname: &str, ip: &str) -> HostFacts {
    HostFacts {
        agent_id: agent.into(),
        hostname: hostname.into(),
        ips: vec![ip.into()],
        os: "Debian 12".into(),
        arch: "x86_64".into(),
        cpu_cores: 2,
        memory_bytes: 1 << 30,
        agent_version: "0.1.0".into(),
        boot_id: String::new(),
        proxy: None,
        proxy_listen: None,
        agent_sha256: String::new(),
    }
}

fn listener(port: u16, address: &str, process: &str) -> Listener {
    Listener {
        port,
        address: address.into(),
        process: Some(process.into()),
    }
}

fn spec(t: ResourceType, name: &str) -> ResourceSpec {
    ResourceSpec {
        resource_type: t,
        name: name.into(),
        host: None,
        application: None,
        module: None,
        region: None,
        enterprise_project: None,
        tags: Default::default(),
        attributes: Default::default(),
    }
}

/// Application `shop` with one module, `db`.
fn shop(owner: Option<&str>) -> ApplicationSpec {
    ApplicationSpec {
        name: "shop".into(),
        description: None,
        owner: owner.map(String::from),
        enterprise_project: None,
        modules: vec![AppModule {
            name: "db".into(),
            description: None,
        }],
        regions: vec![],
    }
}

fn names(items: &[Listed]) -> Vec<String> {
    items
        .iter()
        .map(|l| match l {
            Listed::Host(h) => h.name.clone(),
            Listed::Other(r) => r.name.clone(),
        })
        .collect()
}

#[tokio::test]
async fn what_an_agent_finds_becomes_resources_of_its_host() {
    each_store!(|s| {
        let host = s
            .upsert_host(T, &facts("a-1", "db-01", "10.0.0.5"))
            .await
            .unwrap();
        let pg = listener(5432, "0.0.0.0", "postgres");
        let redis = listener(6379, "127.0.0.1", "redis-server");
        let ssh = listener(22, "0.0.0.0", "sshd");
        s.record_discovery(&host, &[pg.clone(), redis.clone(), ssh.clone()], &[])
            .await
            .unwrap();
        let on = s.resources_on_host(T, &host, MS).await.unwrap();
        let found: Vec<(&str, ResourceType, ResourceStatus)> = on
            .iter()
            .map(|r| (r.name.as_str(), r.resource_type, r.status))
            .collect();
        assert_eq!(
            found,
            [
                (
                    "postgresql@db-01:5432",
                    ResourceType::Database,
                    ResourceStatus::Running
                ),
                (
                    "redis@db-01:6379",
                    ResourceType::Cache,
                    ResourceStatus::Running
                ),
            ]
        );
        let pg_id = on[0].id.clone();
        let redis_id = on[1].id.clone();
        assert_eq!(on[0].origin, Origin::Discovered);
        assert_eq!(on[0].attributes["endpoint"], "10.0.0.5:5432");
        assert_eq!(on[1].attributes["endpoint"], "127.0.0.1:6379");
        assert_eq!(on[0].host.as_deref(), Some("db-01"));

        // Redis stops: kept, vanished. A seen one cannot be deleted.
        s.record_discovery(&host, &[pg.clone(), ssh.clone()], &[])
            .await
            .unwrap();
        let r = s.get_resource(T, &redis_id, MS).await.unwrap();
        assert_eq!(r.status, ResourceStatus::Vanished);
        assert!(r.vanished_at.is_some());
        assert!(matches!(
            s.delete_resource(T, &pg_id, MS).await,
            Err(StoreError::Conflict(m)) if m.contains("still seen by the agent of db-01")
        ));
        // It comes back under the same id; MariaDB is new.
        s.record_discovery(
            &host,
            &[pg.clone(), redis, listener(3306, "0.0.0.0", "mariadbd")],
            &[],
        )
        .await
        .unwrap();
        let on = s.resources_on_host(T, &host, MS).await.unwrap();
        assert_eq!(on.len(), 3);
        let back = on.iter().find(|r| r.id == redis_id).unwrap();
        assert_eq!(back.status, ResourceStatus::Running);
        assert!(on.iter().any(|r| r.name == "mariadb@db-01:3306"));

        // One registered by hand on the host.
        let mut manual = spec(ResourceType::Database, "orders-db");
        manual.host = Some("db-01".into());
        let manual = s.create_resource(T, &manual, MS).await.unwrap();
        assert_eq!(manual.host_id.as_deref(), Some(host.as_str()));
        // The host goes: what its agent found goes with it; what was
        // registered stays, on no host.
        s.delete_host(T, &host).await.unwrap();
        assert!(matches!(
            s.get_resource(T, &pg_id, MS).await,
            Err(StoreError::NotFound { .. })
        ));
        let kept = s.get_resource(T, "orders-db", MS).await.unwrap();
        assert_eq!(kept.host_id, None);
        assert_eq!(kept.status, ResourceStatus::Unmonitored);
    });
}

#[tokio::test]
async fn resources_are_registered_by_hand_with_their_types_fields() {
    each_store!(|s| {
        s.create_user(T, "ann", "Ann", None).await.unwrap();
        s.create_application(T, &shop(Some("ann"))).await.unwrap();
        let mut lb = spec(ResourceType::LoadBalancer, " edge-lb ");
        lb.attributes.insert("listeners".into(), "80,443".into());
        lb.attributes.insert("backends".into(), "4".into());
        lb.application = Some("shop".into());
        lb.module = Some("DB".into());
        lb.region = Some("eu-west".into());
        let lb = s.create_resource(T, &lb, MS).await.unwrap();
        assert_eq!(lb.name, "edge-lb");
        assert_eq!(lb.application.as_deref(), Some("shop"));
        assert_eq!(lb.module.as_deref(), Some("db"));
        assert_eq!(lb.origin, Origin::Manual);
        assert_eq!(lb.status, ResourceStatus::Unmonitored);

        // Refusals change nothing.
        let mut bad = spec(ResourceType::LoadBalancer, "x");
        bad.attributes.insert("engine".into(), "haproxy".into());
        let e = s
            .create_resource(T, &bad, MS)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no field 'engine'") && e.contains("listeners"),
            "{e}"
        );
        let mut bad = spec(ResourceType::Cache, "x");
        bad.host = Some("nowhere".into());
        let e = s
            .create_resource(T, &bad, MS)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("host 'nowhere' does not exist"), "{e}");
        let mut bad = spec(ResourceType::Cache, "x");
        bad.application = Some("shop".into());
        bad.module = Some("web".into());
        let e = s
            .create_resource(T, &bad, MS)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a module of shop (db)"), "{e}");
        assert!(matches!(
            s.create_resource(T, &spec(ResourceType::LoadBalancer, "edge-lb"), MS)
                .await,
            Err(StoreError::Conflict(_))
        ));
        // Another type may share the name; the name alone is then refused.
        s.create_resource(T, &spec(ResourceType::Cache, "edge-lb"), MS)
            .await
            .unwrap();
        let e = s
            .get_resource(T, "edge-lb", MS)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("several resources are called 'edge-lb'"), "{e}");
        assert_eq!(s.get_resource(T, &lb.id, MS).await.unwrap().id, lb.id);

        let mut changed = spec(ResourceType::LoadBalancer, "edge-lb-2");
        changed.attributes.insert("backends".into(), "6".into());
        let after = s.update_resource(T, &lb.id, &changed, MS).await.unwrap();
        assert_eq!(after.name, "edge-lb-2");
        assert_eq!(after.application, None);
        assert_eq!(
            after.attributes.get("backends").map(String::as_str),
            Some("6")
        );
        assert!(!after.attributes.contains_key("listeners"));
        s.delete_resource(T, &lb.id, MS).await.unwrap();
        assert!(matches!(
            s.get_resource(T, &lb.id, MS).await,
            Err(StoreError::NotFound { .. })
        ));
    });
}

#[tokio::test]
async fn the_resource_list_filters_sorts_and_pages_hosts_and_the_rest_together() {
    each_store!(|s| {
        s.create_user(T, "ann", "Ann", None).await.unwrap();
        s.create_application(T, &shop(None)).await.unwrap();
        let h1 = s
            .upsert_host(T, &facts("a-1", "m-host", "10.0.0.1"))
            .await
            .unwrap();
        s.upsert_host(T, &facts("a-2", "z-host", "10.0.0.2"))
            .await
            .unwrap();
        s.set_host_application(T, &h1, Some(("shop", Some("db"))))
            .await
            .unwrap();
        s.set_host_region(T, &h1, Some("eu-west")).await.unwrap();
        for i in 0..23 {
            let mut r = spec(
                if i % 2 == 0 {
                    ResourceType::Database
                } else {
                    ResourceType::Cache
                },
                &format!("r-{i:02}"),
            );
            if i < 3 {
                r.host = Some("m-host".into());
            }
            r.attributes
                .insert("endpoint".into(), format!("10.1.0.{i}:5432"));
            s.create_resource(T, &r, MS).await.unwrap();
        }
        let all = |f: ResourceFilter, sort: Sort| {
            let s = s.clone();
            async move {
                let mut out = vec![];
                let mut page = Page {
                    limit: 10,
                    cursor: None,
                };
                let mut pages = 0;
                loop {
                    let p = s.resource_page(T, MS, &f, sort, &page).await.unwrap();
                    assert!(p.items.len() <= 10);
                    pages += 1;
                    out.extend(p.items);
                    match p.next_cursor {
                        Some(c) => page.cursor = Some(c),
                        None => return (out, pages),
                    }
                }
            }
        };
        let (every, pages) = all(ResourceFilter::default(), Sort::default()).await;
        assert_eq!(every.len(), 25);
        assert_eq!(pages, 3);
        let n = names(&every);
        let mut sorted = n.clone();
        sorted.sort();
        assert_eq!(n, sorted, "by name, hosts among the rest");
        assert_eq!(n[0], "m-host");
        assert_eq!(n[24], "z-host");

        let (newest, _) = all(
            ResourceFilter::default(),
            Sort::parse("-created_at").unwrap(),
        )
        .await;
        assert_eq!(names(&newest)[0], "r-22");
        assert_eq!(newest.len(), 25);
        let (by_type, _) = all(ResourceFilter::default(), Sort::parse("type").unwrap()).await;
        let types: Vec<&str> = by_type
            .iter()
            .map(|l| match l {
                Listed::Host(_) => "host",
                Listed::Other(r) => r.resource_type.as_str(),
            })
            .collect();
        let mut t = types.clone();
        t.sort();
        assert_eq!(types, t);

        // Filters: a resource on a host takes its application, module and
        // region from it.
        let f = ResourceFilter {
            application: Some("shop".into()),
            ..Default::default()
        };
        let (shop, _) = all(f, Sort::default()).await;
        assert_eq!(names(&shop), ["m-host", "r-00", "r-01", "r-02"]);
        let f = ResourceFilter {
            region: Some("EU-WEST".into()),
            resource_type: Some(ResourceType::Database),
            ..Default::default()
        };
        assert_eq!(names(&all(f, Sort::default()).await.0), ["r-00", "r-02"]);
        let f = ResourceFilter {
            status: Some(ResourceStatus::Unmonitored),
            ..Default::default()
        };
        assert_eq!(all(f, Sort::default()).await.0.len(), 20);
        let f = ResourceFilter {
            q: Some("10.1.0.17:".into()),
            ..Default::default()
        };
        assert_eq!(names(&all(f, Sort::default()).await.0), ["r-17"]);
        let f = ResourceFilter {
            q: Some("10.0.0.2".into()),
            resource_type: Some(ResourceType::Host),
            ..Default::default()
        };
        assert_eq!(names(&all(f, Sort::default()).await.0), ["z-host"]);
        let f = ResourceFilter {
            host: Some("m-host".into()),
            ..Default::default()
        };
        assert_eq!(all(f, Sort::default()).await.0.len(), 3);
        let e = s
            .resource_page(
                T,
                MS,
                &ResourceFilter::default(),
                Sort::default(),
                &Page {
                    limit: 5,
                    cursor: Some("nonsense".into()),
                },
            )
            .await
            .unwrap_err();
        assert!(e.to_string().contains("cursor"), "{e}");
        let listed = s
            .all_resources(T, MS, &ResourceFilter::default(), Sort::default())
            .await
            .unwrap();
        assert_eq!(listed.len(), 25);

        // Groups: counted per value, the largest first.
        let g = s
            .resource_groups(T, MS, &ResourceFilter::default(), GroupBy::Type)
            .await
            .unwrap();
        assert_eq!(
            g,
            [
                (Some("database".to_string()), 12),
                (Some("cache".to_string()), 11),
                (Some("host".to_string()), 2)
            ]
        );
        let g = s
            .resource_groups(T, MS, &ResourceFilter::default(), GroupBy::Module)
            .await
            .unwrap();
        assert_eq!(g, [(None, 21), (Some("shop / db".to_string()), 4)]);
        let only_db = ResourceFilter {
            resource_type: Some(ResourceType::Database),
            ..Default::default()
        };
        let g = s
            .resource_groups(T, MS, &only_db, GroupBy::Region)
            .await
            .unwrap();
        assert_eq!(g, [(None, 10), (Some("eu-west".to_string()), 2)]);
        // The same as counting the listed rows.
        let listed = s
            .all_resources(T, MS, &only_db, Sort::default())
            .await
            .unwrap();
        assert_eq!(
            coc_domain::resource::catalog::group_counts(
                listed.iter().map(|r| r.group_value(GroupBy::Region))
            ),
            g
        );

        // Saved back as shown (the console's Modify form), what it takes
        // from its host stays its host's: it follows the host.
        let r0 = s.get_resource(T, "r-00", MS).await.unwrap();
        assert_eq!(
            (r0.application.as_deref(), r0.region.as_deref()),
            (Some("shop"), Some("eu-west"))
        );
        let mut back = spec(ResourceType::Database, "r-00");
        back.host = Some("m-host".into());
        back.application = r0.application.clone();
        back.module = r0.module.clone();
        back.region = r0.region.clone();
        back.attributes = r0.attributes.clone();
        back.tags.insert("tier".into(), "gold".into());
        s.update_resource(T, &r0.id, &back, MS).await.unwrap();
        s.set_host_application(T, &h1, None).await.unwrap();
        s.set_host_region(T, &h1, Some("us-east")).await.unwrap();
        let after = s.get_resource(T, "r-00", MS).await.unwrap();
        assert_eq!(
            (
                after.application,
                after.region.as_deref(),
                after.tags.get("tier").map(String::as_str)
            ),
            (None, Some("us-east"), Some("gold"))
        );
    });
}

#[tokio::test]
async fn an_import_checks_every_row_first_and_writes_all_or_nothing() {
    each_store!(|s| {
        s.upsert_host(T, &facts("a-1", "db-01", "10.0.0.5"))
            .await
            .unwrap();
        let row = |t: ResourceType, name: &str, host: Option<&str>, port: &str| {
            let mut r = spec(t, name);
            r.host = host.map(String::from);
            r.attributes.insert("port".into(), port.into());
            r
        };
        let file = vec![
            (
                2,
                Ok(row(ResourceType::Database, "orders", Some("db-01"), "5432")),
            ),
            (3, Ok(row(ResourceType::Cache, "sessions", None, "6379"))),
        ];
        // A dry run says what would happen and writes nothing.
        let dry = s.import_resources(T, file.clone(), true, MS).await.unwrap();
        assert_eq!((dry.applied, dry.created, dry.refused), (false, 2, 0));
        assert!(matches!(
            s.get_resource(T, "orders", MS).await,
            Err(StoreError::NotFound { .. })
        ));
        let done = s
            .import_resources(T, file.clone(), false, MS)
            .await
            .unwrap();
        assert_eq!((done.applied, done.created), (true, 2));
        assert_eq!(
            s.get_resource(T, "orders", MS)
                .await
                .unwrap()
                .host
                .as_deref(),
            Some("db-01")
        );
        // Again: unchanged; one field changed: an update.
        let again = s
            .import_resources(T, file.clone(), false, MS)
            .await
            .unwrap();
        assert_eq!((again.unchanged, again.created, again.updated), (2, 0, 0));
        let mut changed = file.clone();
        changed[1] = (3, Ok(row(ResourceType::Cache, "sessions", None, "6380")));
        let upd = s.import_resources(T, changed, false, MS).await.unwrap();
        assert_eq!((upd.updated, upd.unchanged), (1, 1));
        assert_eq!(
            s.get_resource(T, "sessions", MS).await.unwrap().attributes["port"],
            "6380"
        );
        // A refused row (an unknown host, a repeated row, an unreadable
        // one): nothing is written, each reason given.
        let bad = vec![
            (2, Ok(row(ResourceType::Queue, "new-queue", None, "5672"))),
            (
                3,
                Ok(row(ResourceType::Database, "x", Some("nowhere"), "1")),
            ),
            (4, Ok(row(ResourceType::Queue, "new-queue", None, "5673"))),
            (5, Err("type 'vm': use host, database, …".to_string())),
        ];
        let r = s.import_resources(T, bad, false, MS).await.unwrap();
        assert!(!r.applied);
        assert_eq!((r.created, r.refused), (1, 3));
        assert!(
            r.rows[1]
                .reason
                .as_deref()
                .unwrap()
                .contains("host 'nowhere'")
        );
        assert!(
            r.rows[2].reason.as_deref().unwrap().contains("as row 2"),
            "{:?}",
            r.rows[2]
        );
        assert_eq!(r.rows[3].row, 5);
        assert!(matches!(
            s.get_resource(T, "new-queue", MS).await,
            Err(StoreError::NotFound { .. })
        ));
    });
}
