//! Discovery (issue 18, R2 and R4) with real parts: the in-process agent
//! reads this machine's socket tables, and the PostgreSQL, Redis and
//! MariaDB servers running here appear as database and cache services of
//! its host; a PostgreSQL connection this test holds (a real client)
//! appears as the host's dependency on its own PostgreSQL.

use serde_json::Value;
use sqlx::Connection;

use crate::harness::Harness;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_finds_the_servers_on_its_host_and_who_talks_to_them() {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let servers: Vec<(u16, &str, &str)> = [
        (5432, "postgresql", "database"),
        (6379, "redis", "cache"),
        (3306, "mariadb", "database"),
    ]
    .into_iter()
    .filter(|(port, kind, _)| {
        let up = std::net::TcpStream::connect(("127.0.0.1", *port)).is_ok();
        assert!(up || !ci, "{kind} is not running on port {port} (CI)");
        up
    })
    .collect();
    if !servers.iter().any(|s| s.0 == 5432) {
        eprintln!("skipped: no PostgreSQL on 127.0.0.1:5432");
        return;
    }
    let h = Harness::start(1).await;
    let host = h.wait_hosts(1).await.remove(0);
    let services = h
        .wait_until(
            &format!("/api/v1/resources/{host}/services"),
            "the running servers as services of the host",
            |v| {
                servers.iter().all(|(port, kind, _)| {
                    v["items"]
                        .as_array()
                        .is_some_and(|a| a.iter().any(|s| s["port"] == *port && s["kind"] == *kind))
                })
            },
        )
        .await;
    for (port, kind, rtype) in &servers {
        let s = services["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["port"] == *port)
            .unwrap();
        assert_eq!(s["resource_type"], *rtype, "{kind}: {s}");
    }
    // Each is a resource of the inventory, on the host, of its type (R2).
    let listed = h
        .client
        .get(
            "/api/v1/resources",
            &[("host", host.clone()), ("limit", "1000".into())],
        )
        .await
        .unwrap();
    for (port, kind, rtype) in &servers {
        let r = listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["port"] == *port)
            .unwrap_or_else(|| panic!("{kind} is not in the resource list: {listed}"));
        assert_eq!(
            (&r["type"], &r["origin"], &r["host_id"], &r["status"]),
            (
                &Value::from(*rtype),
                &Value::from("discovered"),
                &Value::from(host.as_str()),
                &Value::from("running")
            ),
            "{r}"
        );
        assert_eq!(r["attributes"]["engine"], *kind, "{r}");
        // Found by name too, and it cannot be deleted while seen.
        let name = r["name"].as_str().unwrap();
        let by_name = h
            .client
            .get(
                &format!("/api/v1/resources/{}", name.replace(':', "%3A")),
                &[],
            )
            .await
            .unwrap();
        assert_eq!(by_name["id"], r["id"]);
        let e = h
            .client
            .delete(&format!("/api/v1/resources/{}", r["id"].as_str().unwrap()))
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("still seen by the agent"), "{e}");
    }
    let root = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
    };
    if root {
        // As root the agent reads every process: the owner is named.
        let pg = services["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["port"] == 5432)
            .unwrap();
        assert_eq!(pg["process"], "postgres", "{pg}");
    }
    // A real PostgreSQL client held open by this process.
    let url = std::env::var("COC_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let mut pg = sqlx::postgres::PgConnection::connect(&url).await.unwrap();
    let me = std::fs::read_to_string("/proc/self/comm")
        .unwrap()
        .trim()
        .to_string();
    let deps = h
        .wait_until(
            &format!("/api/v1/resources/{host}/dependencies"),
            "this test's connection as a dependency on PostgreSQL",
            |v| {
                v["items"].as_array().is_some_and(|a| {
                    a.iter().any(|d| {
                        d["port"] == 5432
                            && d["service"] == "postgresql"
                            && d["local"] == true
                            && d["host_id"] == host.as_str()
                            && d["process"] == me.as_str()
                    })
                })
            },
        )
        .await;
    assert!(
        deps["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["port"] != 0),
        "{deps}"
    );
    sqlx::query("SELECT 1").execute(&mut pg).await.unwrap();
    pg.close().await.unwrap();
    // The host's page lists both.
    let cookie = crate::console::login(&h).await;
    let (st, page) =
        crate::console::page(&cookie, &format!("{}/console/resources/{host}", h.url())).await;
    assert_eq!(st, 200);
    assert!(
        page.contains("Services found on it") && page.contains("postgresql"),
        "{page}"
    );
    assert!(page.contains("Dependencies observed"), "{page}");
    // The resource list links its CSV export, which the signed-in person
    // downloads with the session.
    let (_, list) = crate::console::page(&cookie, &format!("{}/console/resources", h.url())).await;
    assert!(
        list.contains("href=\"/api/v1/resources/export\" id=\"export\""),
        "{list}"
    );
    let (st, csv) =
        crate::console::page(&cookie, &format!("{}/api/v1/resources/export", h.url())).await;
    assert_eq!(st, 200);
    assert!(csv.starts_with("id,type,name,status,host"), "{csv}");
    assert!(csv.contains(&host), "{csv}");
}

/// Topology (R4): an application's graph is drawn from its host, the
/// servers its agent found there, the PostgreSQL connection this test
/// holds (observed, not drawn by hand) and the host's active alarm; its
/// page shows it as SVG with the host linked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_applications_topology_comes_from_what_its_hosts_run_and_talk_to() {
    if !crate::harness::postgres_running() {
        return;
    }
    let h = Harness::start(1).await;
    let host = h.wait_hosts(1).await.remove(0);
    let hostname = h.hostname(&host).await;
    h.client
        .post(
            "/api/v1/applications",
            &serde_json::json!({"name": "payments", "modules": [{"name": "api"}]}),
        )
        .await
        .unwrap();
    h.client
        .put(
            &format!("/api/v1/resources/{host}/application"),
            &serde_json::json!({"application": "payments", "module": "api"}),
        )
        .await
        .unwrap();
    let key = h.alertmanager_key().await;
    h.client
        .post(
            &format!("/ingest/{key}/api/v2/alerts"),
            &serde_json::json!([{"labels": {"alertname": "DiskFull", "instance": format!("{hostname}:9100")}}]),
        )
        .await
        .unwrap();
    let url = std::env::var("COC_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let _pg = sqlx::postgres::PgConnection::connect(&url).await.unwrap();
    let svc = format!("svc:{host}:5432");
    let g = h
        .wait_until(
            "/api/v1/applications/payments/topology",
            "the host's dependency on its PostgreSQL",
            |g| {
                g["edges"].as_array().is_some_and(|e| {
                    e.iter()
                        .any(|e| e["kind"] == "depends_on" && e["to"] == svc.as_str())
                })
            },
        )
        .await;
    let node = |id: &str| {
        g["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["id"] == id)
            .cloned()
            .unwrap_or(Value::Null)
    };
    let host_node = node(&format!("host:{host}"));
    assert_eq!(host_node["label"], format!("{hostname} (api)"), "{g}");
    assert_eq!(host_node["alarms"], 1, "{g}");
    assert_eq!(
        node(&svc)["label"],
        format!("postgresql :5432 @ {hostname}")
    );
    assert!(
        g["edges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["from"] == "app"
                && e["to"] == format!("host:{host}")
                && e["label"] == "api"),
        "{g}"
    );
    let app = h
        .client
        .get("/api/v1/applications/payments", &[])
        .await
        .unwrap();
    let cookie = crate::console::login(&h).await;
    let (st, page) = crate::console::page(
        &cookie,
        &format!(
            "{}/console/applications/{}",
            h.url(),
            app["id"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(st, 200);
    assert!(page.contains("<svg id=\"topology\""), "{page}");
    assert!(
        page.contains(&format!("href=\"/console/resources/{host}\"")),
        "{page}"
    );
    assert!(page.contains("1 alarm<"), "{page}");
}
