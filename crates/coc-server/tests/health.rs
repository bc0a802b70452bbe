//! Health checks (issue 19, M7) with the real in-process agent running
//! the real probe on this machine: a check is started by host name, its
//! report judges the host's items (disk, memory, load …), its patch
//! compliance and agent version, and COC's own; it exports as a
//! self-contained HTML page, CSV and JSON; a check made by running the
//! common job (as a scheduled task does) is listed and reported too; bad
//! requests change nothing.

use serde_json::{Value, json};

use crate::harness::{ADMIN, Harness, request};

/// Polls a check's report until no host is waiting (1 min at most).
pub(crate) async fn checked(h: &Harness, id: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..600 {
        last = h
            .client
            .get(&format!("/api/v1/health-checks/{id}"), &[])
            .await
            .unwrap();
        let waiting = last["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["state"] == "waiting");
        if !waiting && last["status"] != "executing" {
            return last;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("health check {id} never ended: {last:#}");
}

fn get<'a>(items: &'a Value, name: &str) -> &'a Value {
    items
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["item"] == name)
        .unwrap_or_else(|| panic!("no item {name}: {items:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_health_check_judges_hosts_and_coc_and_exports_its_report() {
    let h = Harness::start(1).await;
    let host = h.wait_hosts(1).await.remove(0);
    let name = h.hostname(&host).await;
    // Bad requests change nothing.
    let before = h.client.get("/api/v1/health-checks", &[]).await.unwrap();
    assert_eq!(before["items"].as_array().unwrap().len(), 0);
    for (body, st) in [
        (json!({"hosts": []}), 422),
        (json!({"hosts": ["no-such-host"]}), 404),
        (
            json!({"hosts": [name], "thresholds": {"disk_pct": {"warn": 95, "fail": 90}}}),
            422,
        ),
        (json!({"hosts": [name], "thresholds": {"disk": 1}}), 422),
    ] {
        let (got, _, e) = request(
            &h,
            "POST",
            "/api/v1/health-checks",
            Some(ADMIN),
            Some(serde_json::to_vec(&body).unwrap()),
        )
        .await;
        assert_eq!(got, st, "{body}: {e}");
    }
    let after = h.client.get("/api/v1/health-checks", &[]).await.unwrap();
    assert_eq!(after["items"].as_array().unwrap().len(), 0);
    // By name, with a threshold changed: disk use fails from 0 %.
    let r = h
        .client
        .post(
            "/api/v1/health-checks",
            &json!({"hosts": [format!(" {name} ")],
                    "thresholds": {"disk_pct": {"warn": 0, "fail": 0}}}),
        )
        .await
        .unwrap();
    let id = r["id"].as_str().unwrap().to_string();
    let size = get(&r["coc"], "database size")["value"].as_str().unwrap();
    assert!(size.ends_with(" MiB") || size.ends_with(" GiB"), "{size}");
    assert_eq!(get(&r["coc"], "offline agents")["value"], "none", "{r:#}");
    assert_eq!(get(&r["coc"], "queue deliveries")["verdict"], "pass");
    let r = checked(&h, &id).await;
    assert_eq!(r["status"], "successful", "{r:#}");
    let me = &r["hosts"][0];
    assert_eq!(
        (me["host"].as_str(), me["state"].as_str()),
        (Some(name.as_str()), Some("checked"))
    );
    let items = &me["items"];
    assert_eq!(get(items, "disk /")["verdict"], "fail", "{items:#}");
    assert!(
        get(items, "memory")["value"]
            .as_str()
            .unwrap()
            .ends_with('%')
    );
    assert!(
        get(items, "load")["value"]
            .as_str()
            .unwrap()
            .contains("per CPU")
    );
    assert_eq!(get(items, "patch compliance")["value"], "never scanned");
    assert_eq!(get(items, "agent version")["verdict"], "pass");
    assert_eq!(r["verdict"], "fail");
    assert_eq!(r["thresholds"]["disk_pct"]["fail"], 0.0);
    assert_eq!(r["thresholds"]["memory_pct"]["fail"], 95.0, "defaults kept");
    let counted = r["counts"]["pass"].as_u64().unwrap()
        + r["counts"]["warn"].as_u64().unwrap()
        + r["counts"]["fail"].as_u64().unwrap();
    assert_eq!(
        counted as usize,
        items.as_array().unwrap().len() + r["coc"].as_array().unwrap().len()
    );
    // By number, too; listed.
    let by_number = h
        .client
        .get(
            &format!("/api/v1/health-checks/{}", r["number"].as_str().unwrap()),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(by_number["id"], id.as_str());
    let list = h.client.get("/api/v1/health-checks", &[]).await.unwrap();
    assert_eq!(list["items"][0]["id"], id.as_str(), "{list:#}");
    // Exports.
    let export = |format: &str| {
        let url = format!(
            "{}/api/v1/health-checks/{id}/export?format={format}",
            h.url()
        );
        async move {
            let resp = reqwest::Client::new()
                .get(url)
                .bearer_auth(ADMIN)
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            let kind = resp
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            (status, kind, resp.text().await.unwrap())
        }
    };
    let (st, kind, html) = export("html").await;
    assert_eq!(st, 200);
    assert!(kind.starts_with("text/html"), "{kind}");
    assert!(html.starts_with("<!doctype html>"), "{html}");
    assert!(html.contains(&format!("Health check {}", r["number"].as_str().unwrap())));
    assert!(
        html.contains(&name) && html.contains("@media print"),
        "{html}"
    );
    assert!(
        !html.contains("<script") && !html.contains("src="),
        "self-contained: {html}"
    );
    let (st, _, csv) = export("csv").await;
    assert_eq!(st, 200);
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("scope,item,value,threshold,verdict"));
    assert_eq!(lines.count() as u64, counted);
    assert!(csv.contains(&format!("{name},disk /,")), "{csv}");
    let (st, _, json_file) = export("json").await;
    assert_eq!(st, 200);
    let parsed: Value = serde_json::from_str(&json_file).unwrap();
    assert_eq!(parsed["id"], id.as_str());
    let (st, _, e) = export("pdf").await;
    assert_eq!(st, 422, "{e}");
    // A check made by running the common job, as a scheduled task does:
    // measured when first read, with the default thresholds.
    let jobs = h
        .client
        .get("/api/v1/jobs", &[("name", "COC-Health-Check".into())])
        .await
        .unwrap();
    let job = jobs["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == "COC-Health-Check")
        .unwrap_or_else(|| panic!("{jobs:#}"))["id"]
        .as_str()
        .unwrap()
        .to_string();
    let t = h
        .client
        .post(
            &format!("/api/v1/jobs/{job}/execute"),
            &json!({"hosts": [host]}),
        )
        .await
        .unwrap();
    let r = checked(&h, t["id"].as_str().unwrap()).await;
    assert_eq!(r["thresholds"]["disk_pct"]["fail"], 90.0);
    assert_eq!(r["hosts"][0]["state"], "checked", "{r:#}");
    let list = h.client.get("/api/v1/health-checks", &[]).await.unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    // Any other ticket is no health check.
    let (st, _, _) = request(
        &h,
        "GET",
        &format!("/api/v1/health-checks/{}", "JOB-nope"),
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(st, 404);
}
