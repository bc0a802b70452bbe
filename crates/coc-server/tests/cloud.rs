//! Cloud accounts (R2) against an HTTP server speaking OpenStack's wire
//! format as its public API reference gives it (OpenStack cannot run
//! here): Keystone v3 password sign-in with the token in
//! `X-Subject-Token` and the catalog in the body; Nova's
//! `flavors/detail` and `servers/detail` paged by `servers_links`, one
//! region embedding flavors as microversion 2.47 does; Glance's
//! `/v2/images` paged by `next`. Servers become cloud servers of the
//! inventory, change, vanish; a refused sign-in changes nothing and the
//! password is never answered; the engine synchronizes a due account by
//! itself; the console's form and record page work as a browser uses
//! them.

use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::harness::{ADMIN, Harness, request};

/// What the fake cloud serves: its servers per region, what it counted.
#[derive(Clone, Default)]
pub(crate) struct Cloud {
    pub(crate) base: String,
    pub(crate) one: Arc<Mutex<Vec<Value>>>,
    two: Arc<Mutex<Vec<Value>>>,
    /// Requests that came without the token.
    unauthorized: Arc<Mutex<usize>>,
    /// Server actions asked (P4): `<action> <server name>`.
    pub(crate) actions: Arc<Mutex<Vec<String>>>,
}

const TOKEN: &str = "gAAAAABkZ1-fake-token";

fn authorized(c: &Cloud, h: &HeaderMap) -> bool {
    let ok = h.get("x-auth-token").and_then(|v| v.to_str().ok()) == Some(TOKEN);
    if !ok {
        *c.unauthorized.lock().unwrap() += 1;
    }
    ok
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({"error": {"code": 401, "title": "Unauthorized",
            "message": "The request you have made requires authentication."}})),
    )
        .into_response()
}

async fn tokens(State(c): State<Cloud>, Json(b): Json<Value>) -> Response {
    let user = &b["auth"]["identity"]["password"]["user"];
    let scope = &b["auth"]["scope"]["project"];
    if b["auth"]["identity"]["methods"] != json!(["password"])
        || user["name"] != "coc"
        || user["password"] != "s3cret"
        || user["domain"]["name"] != "Default"
        || scope["name"] != "ops"
    {
        return unauthorized();
    }
    let ep = |region: &str, url: String, interface: &str| {
        json!({"id": format!("{region}-{interface}"), "interface": interface,
               "region": region, "region_id": region, "url": url})
    };
    let base = &c.base;
    let body = json!({"token": {
    "methods": ["password"], "expires_at": "2026-11-30T12:00:00.000000Z",
    "issued_at": "2026-11-29T12:00:00.000000Z", "audit_ids": ["3T2dc1CGQxyJsHdDu1xkcw"],
    "user": {"id": "ee4dfb6e5540447cb3741905149d9b6e", "name": "coc",
             "domain": {"id": "default", "name": "Default"}, "password_expires_at": null},
    "project": {"id": "a6944d763bf64ee6a275f1263fae0352", "name": "ops",
                "domain": {"id": "default", "name": "Default"}},
    "roles": [{"id": "51cc68287d524c759f47c811e6463340", "name": "reader"}],
    "catalog": [
        {"type": "identity", "name": "keystone", "id": "a1",
         "endpoints": [ep("RegionOne", format!("{base}/identity"), "public")]},
        {"type": "compute", "name": "nova", "id": "a2", "endpoints": [
            ep("RegionOne", format!("{base}/compute/v2.1"), "public"),
            ep("RegionOne", "http://192.0.2.1:8774/v2.1".into(), "internal"),
            ep("RegionTwo", format!("{base}/compute2/v2.1/"), "public")]},
        {"type": "image", "name": "glance", "id": "a3",
         "endpoints": [ep("RegionOne", format!("{base}/image"), "public")]}
    ]}});
    (
        StatusCode::CREATED,
        [("X-Subject-Token", TOKEN)],
        Json(body),
    )
        .into_response()
}

async fn flavors(State(c): State<Cloud>, h: HeaderMap) -> Response {
    if !authorized(&c, &h) {
        return unauthorized();
    }
    Json(json!({"flavors": [
        {"id": "1", "name": "m1.tiny", "ram": 512, "vcpus": 1, "disk": 1, "swap": "",
         "OS-FLV-EXT-DATA:ephemeral": 0, "os-flavor-access:is_public": true, "rxtx_factor": 1.0,
         "links": [{"href": format!("{}/compute/v2.1/flavors/1", c.base), "rel": "self"}]},
        {"id": "2", "name": "m1.small", "ram": 2048, "vcpus": 1, "disk": 20, "swap": "",
         "OS-FLV-EXT-DATA:ephemeral": 0, "os-flavor-access:is_public": true, "rxtx_factor": 1.0,
         "links": [{"href": format!("{}/compute/v2.1/flavors/2", c.base), "rel": "self"}]}
    ]}))
    .into_response()
}

async fn no_flavors(State(c): State<Cloud>, h: HeaderMap) -> Response {
    if !authorized(&c, &h) {
        return unauthorized();
    }
    Json(json!({"flavors": []})).into_response()
}

/// A page of `all` after `marker`, two at a time, with a `next` link.
fn page(all: &[Value], q: &std::collections::HashMap<String, String>, link: &str) -> Value {
    let start = q
        .get("marker")
        .and_then(|m| {
            all.iter()
                .position(|s| s["id"] == m.as_str())
                .map(|i| i + 1)
        })
        .unwrap_or(0);
    let items: Vec<Value> = all.iter().skip(start).take(2).cloned().collect();
    let mut v = json!({"servers": items});
    if start + 2 < all.len() {
        v["servers_links"] = json!([{"href": format!("{link}?limit=1000&marker={}",
            all[start + 1]["id"].as_str().unwrap()), "rel": "next"}]);
    }
    v
}

/// `GET /{compute}/v2.1/servers/detail`: RegionOne's servers under
/// `compute`, RegionTwo's under `compute2`.
async fn servers(
    State(c): State<Cloud>,
    Path(compute): Path<String>,
    h: HeaderMap,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    if !authorized(&c, &h) {
        return unauthorized();
    }
    let all = if compute == "compute" { &c.one } else { &c.two };
    let all = all.lock().unwrap().clone();
    let link = format!("{}/{compute}/v2.1/servers/detail", c.base);
    Json(page(&all, &q, &link)).into_response()
}

async fn images(
    State(c): State<Cloud>,
    h: HeaderMap,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    if !authorized(&c, &h) {
        return unauthorized();
    }
    let img = |id: &str, name: &str| {
        json!({"id": id, "name": name, "status": "active", "visibility": "public",
               "disk_format": "qcow2", "container_format": "bare", "size": 21692416,
               "self": format!("/v2/images/{id}"), "file": format!("/v2/images/{id}/file"),
               "schema": "/v2/schemas/image"})
    };
    if let Some(name) = q.get("name") {
        let all = [
            img("70a599e0-31e7-49b7-b260-868f441e862b", "cirros-0.6.2"),
            img("f3b0b3a2-9c1e-4f0e-8a57-5d1a8a7c2e11", "ubuntu-24.04"),
        ];
        let named: Vec<&Value> = all.iter().filter(|i| i["name"] == name.as_str()).collect();
        return Json(
            json!({"images": named, "first": "/v2/images", "schema": "/v2/schemas/images"}),
        )
        .into_response();
    }
    Json(match q.get("marker").map(String::as_str) {
        None => json!({"images": [img("70a599e0-31e7-49b7-b260-868f441e862b", "cirros-0.6.2")],
                       "first": "/v2/images", "schema": "/v2/schemas/images",
                       "next": "/v2/images?marker=70a599e0-31e7-49b7-b260-868f441e862b&limit=1000"}),
        Some(_) => json!({"images": [img("f3b0b3a2-9c1e-4f0e-8a57-5d1a8a7c2e11", "ubuntu-24.04")],
                          "first": "/v2/images", "schema": "/v2/schemas/images"}),
    })
    .into_response()
}

/// `GET /v2/images/{id}`: the image of that id.
async fn image(State(c): State<Cloud>, h: HeaderMap, Path(id): Path<String>) -> Response {
    if !authorized(&c, &h) {
        return unauthorized();
    }
    if [
        "70a599e0-31e7-49b7-b260-868f441e862b",
        "f3b0b3a2-9c1e-4f0e-8a57-5d1a8a7c2e11",
    ]
    .contains(&id.as_str())
    {
        Json(json!({"id": id, "status": "active"})).into_response()
    } else {
        (
            StatusCode::NOT_FOUND,
            "404 Not Found\n\nNo image found with ID x\n\n   ",
        )
            .into_response()
    }
}

/// The servers of `compute`'s region.
fn region_of<'a>(c: &'a Cloud, compute: &str) -> &'a Arc<Mutex<Vec<Value>>> {
    if compute == "compute" { &c.one } else { &c.two }
}

fn not_found(id: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"itemNotFound": {"code": 404, "message": format!("Instance {id} could not be found.")}})),
    )
        .into_response()
}

/// `GET /servers/{id}`: the server; a task asked of it is over after one
/// read that shows it (its end state, or `ERROR` for a server named
/// `*-broken`).
async fn server_show(
    State(c): State<Cloud>,
    h: HeaderMap,
    Path((compute, id)): Path<(String, String)>,
) -> Response {
    if !authorized(&c, &h) {
        return unauthorized();
    }
    let mut all = region_of(&c, &compute).lock().unwrap();
    let Some(s) = all.iter_mut().find(|s| s["id"] == id.as_str()) else {
        return not_found(&id);
    };
    let shown = s.clone();
    if let Some(end) = s.get("_ends_as").cloned() {
        let broken = s["name"].as_str().is_some_and(|n| n.ends_with("-broken"));
        s["status"] = if broken { json!("ERROR") } else { end };
        s["OS-EXT-STS:task_state"] = Value::Null;
        s.as_object_mut().unwrap().remove("_ends_as");
    }
    let mut shown = shown;
    shown.as_object_mut().unwrap().remove("_ends_as");
    Json(json!({"server": shown})).into_response()
}

/// `POST /servers/{id}/action`: `os-start`, `os-stop`, `reboot`,
/// `rebuild` as the compute API takes them: 202 with the task marked, 409
/// when the server's state does not allow it, 400 for an unknown image.
async fn server_action(
    State(c): State<Cloud>,
    h: HeaderMap,
    Path((compute, id)): Path<(String, String)>,
    Json(b): Json<Value>,
) -> Response {
    if !authorized(&c, &h) {
        return unauthorized();
    }
    let mut all = region_of(&c, &compute).lock().unwrap();
    let Some(s) = all.iter_mut().find(|s| s["id"] == id.as_str()) else {
        return not_found(&id);
    };
    let status = s["status"].as_str().unwrap_or_default().to_string();
    let conflict = |what: &str| {
        (
            StatusCode::CONFLICT,
            Json(json!({"conflictingRequest": {"code": 409, "message":
                format!("Cannot '{what}' instance {id} while it is in vm_state {}", status.to_lowercase())}})),
        )
            .into_response()
    };
    let (name, task, mid, end) = match b
        .as_object()
        .and_then(|o| o.keys().next())
        .map(String::as_str)
    {
        Some("os-start") if status == "SHUTOFF" => ("os-start", "powering-on", "SHUTOFF", "ACTIVE"),
        Some("os-start") => return conflict("start"),
        Some("os-stop") if status == "ACTIVE" => ("os-stop", "powering-off", "ACTIVE", "SHUTOFF"),
        Some("os-stop") => return conflict("stop"),
        Some("reboot") if b["reboot"]["type"] == "SOFT" => {
            ("reboot", "reboot_started", "REBOOT", "ACTIVE")
        }
        Some("rebuild") => {
            let image = b["rebuild"]["imageRef"].as_str().unwrap_or_default();
            if ![
                "70a599e0-31e7-49b7-b260-868f441e862b",
                "f3b0b3a2-9c1e-4f0e-8a57-5d1a8a7c2e11",
            ]
            .contains(&image)
            {
                return (
                    StatusCode::BAD_REQUEST,
                    Json(json!({"badRequest": {"code": 400, "message": format!("Image {image} could not be found.")}})),
                )
                    .into_response();
            }
            // `key_name` exists from microversion 2.54 on.
            if let Some(k) = b["rebuild"]["key_name"].as_str() {
                let v = h
                    .get("x-openstack-nova-api-version")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.split_once('.'))
                    .and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?)));
                if v.is_none_or(|v| v < (2, 54)) {
                    return (
                        StatusCode::BAD_REQUEST,
                        Json(json!({"badRequest": {"code": 400, "message":
                            "Invalid input for field/attribute rebuild. Value: Additional properties are not allowed ('key_name' was unexpected)"}})),
                    )
                        .into_response();
                }
                s["key_name"] = json!(k);
            }
            s["image"]["id"] = json!(image);
            ("rebuild", "rebuilding", "REBUILD", "ACTIVE")
        }
        _ => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"badRequest": {"code": 400, "message": "Invalid action"}})),
            )
                .into_response();
        }
    };
    s["status"] = json!(mid);
    s["OS-EXT-STS:task_state"] = json!(task);
    s["_ends_as"] = json!(end);
    let mut who = s["name"].as_str().unwrap_or_default().to_string();
    if name == "rebuild"
        && let Some(k) = b["rebuild"]["key_name"].as_str()
    {
        who.push_str(&format!(" key={k}"));
    }
    c.actions.lock().unwrap().push(format!("{name} {who}"));
    StatusCode::ACCEPTED.into_response()
}

/// A server as `GET /servers/detail` lists it (before microversion 2.47:
/// the flavor by id).
pub(crate) fn server(
    id: &str,
    name: &str,
    status: &str,
    flavor: &str,
    image: &str,
    ip: &str,
) -> Value {
    json!({"id": id, "name": name, "status": status, "tenant_id": "a6944d763bf64ee6a275f1263fae0352",
        "user_id": "ee4dfb6e5540447cb3741905149d9b6e", "hostId": "60c988a84401fa15888a32833e5848e9caa99a45778310ba7b363165",
        "created": "2026-11-01T13:26:51Z", "updated": "2026-11-01T13:27:05Z", "progress": 0,
        "accessIPv4": "", "accessIPv6": "", "metadata": {"My Server Name": name},
        "OS-EXT-AZ:availability_zone": "nova", "OS-EXT-STS:power_state": 1,
        "OS-EXT-STS:vm_state": "active", "OS-EXT-STS:task_state": null,
        "addresses": {"private": [{"addr": ip, "version": 4, "OS-EXT-IPS:type": "fixed",
            "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:4c:2c:30"}]},
        "flavor": {"id": flavor, "links": [{"href": "http://openstack.example.com/flavors/1", "rel": "bookmark"}]},
        "image": {"id": image, "links": [{"href": "http://openstack.example.com/images/x", "rel": "bookmark"}]},
        "links": [{"href": format!("http://openstack.example.com/v2.1/servers/{id}"), "rel": "self"}]})
}

/// Starts the fake cloud on a loopback port.
pub(crate) async fn fake_cloud() -> Cloud {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let cirros = "70a599e0-31e7-49b7-b260-868f441e862b";
    let cloud = Cloud {
        base,
        one: Arc::new(Mutex::new(vec![
            server(
                "3dbf5b00-0001",
                "web-01",
                "ACTIVE",
                "2",
                cirros,
                "10.0.0.11",
            ),
            server(
                "3dbf5b00-0002",
                "web-02",
                "ACTIVE",
                "2",
                cirros,
                "10.0.0.12",
            ),
            server(
                "3dbf5b00-0003",
                "db-01",
                "ACTIVE",
                "1",
                "f3b0b3a2-9c1e-4f0e-8a57-5d1a8a7c2e11",
                "10.0.0.13",
            ),
        ])),
        two: Arc::new(Mutex::new(vec![{
            // Microversion 2.47 and later: the flavor embedded, the image
            // empty when the server boots from a volume.
            let mut s = server(
                "9a1b2c3d-0001",
                "batch-01",
                "SHUTOFF",
                "x",
                cirros,
                "10.1.0.5",
            );
            s["flavor"] = json!({"original_name": "m1.large", "vcpus": 4, "ram": 8192, "disk": 80,
                                 "ephemeral": 0, "swap": 0, "extra_specs": {}});
            s["image"] = json!("");
            s
        }])),
        unauthorized: Arc::default(),
        actions: Arc::default(),
    };
    let app = Router::new()
        .route("/identity/v3/auth/tokens", post(tokens))
        .route("/compute/v2.1/flavors/detail", get(flavors))
        .route("/{compute}/v2.1/servers/detail", get(servers))
        .route("/compute2/v2.1/flavors/detail", get(no_flavors))
        .route("/image/v2/images", get(images))
        .route("/image/v2/images/{id}", get(image))
        .route("/{compute}/v2.1/servers/{id}", get(server_show))
        .route("/{compute}/v2.1/servers/{id}/action", post(server_action))
        .with_state(cloud.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    cloud
}

pub(crate) fn account(cloud: &Cloud, name: &str, password: &str, minutes: u32) -> Value {
    json!({"name": name, "auth_url": format!("{}/identity/v3", cloud.base), "username": "coc",
           "password": password, "project": "ops", "sync_minutes": minutes})
}

/// The inventory's cloud servers: name → the resource.
async fn cloud_servers(h: &Harness) -> std::collections::BTreeMap<String, Value> {
    let v = h
        .client
        .get("/api/v1/resources?type=cloud_server&limit=100", &[])
        .await
        .unwrap();
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["name"].as_str().unwrap().to_string(), r.clone()))
        .collect()
}

/// Synchronizes account `lab` now: what it did.
pub(crate) async fn sync(h: &Harness) -> Value {
    h.client
        .post("/api/v1/cloud-accounts/lab/sync", &json!({}))
        .await
        .unwrap()
}

#[tokio::test]
async fn an_openstack_accounts_servers_are_synchronized_into_the_inventory() {
    let h = Harness::start(0).await;
    let cloud = fake_cloud().await;
    // A refused sign-in: 409 naming it, nothing in the inventory, the
    // outcome recorded, the password never answered.
    let a = h
        .client
        .post(
            "/api/v1/cloud-accounts",
            &account(&cloud, "lab", "wrong", 0),
        )
        .await
        .unwrap();
    assert!(a.get("password").is_none(), "{a}");
    let (st, ct, e) = request(
        &h,
        "POST",
        "/api/v1/cloud-accounts/lab/sync",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!((st, ct.as_str()), (409, "application/problem+json"), "{e}");
    assert!(e.to_string().contains("refused (401 Unauthorized)"), "{e}");
    assert!(cloud_servers(&h).await.is_empty());
    let shown = h
        .client
        .get("/api/v1/cloud-accounts/lab", &[])
        .await
        .unwrap();
    assert!(
        shown["last_outcome"]
            .as_str()
            .unwrap()
            .starts_with("failed: signing in"),
        "{shown}"
    );
    assert!(!shown.to_string().contains("wrong"), "{shown}");
    // The right password (the rest kept), and a synchronization.
    let mut fixed = account(&cloud, "lab", "s3cret", 0);
    fixed["regions"] = json!([]);
    h.client
        .put("/api/v1/cloud-accounts/lab", &fixed)
        .await
        .unwrap();
    let o = sync(&h).await;
    assert_eq!(
        o,
        json!({"servers": 4, "added": 4, "changed": 0, "vanished": 0})
    );
    assert_eq!(
        *cloud.unauthorized.lock().unwrap(),
        0,
        "every call carried the token"
    );
    let got = cloud_servers(&h).await;
    let names: Vec<&str> = got.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["batch-01", "db-01", "web-01", "web-02"],
        "both regions, every page"
    );
    let web = &got["web-01"];
    assert_eq!(web["status"], "unmonitored", "no agent on it yet: {web}");
    assert_eq!(web["region"], "RegionOne");
    assert_eq!(web["origin"], "cloud");
    let at = &web["attributes"];
    assert_eq!(
        (
            at["flavor"].as_str(),
            at["vcpus"].as_str(),
            at["ram_mb"].as_str()
        ),
        (Some("m1.small"), Some("1"), Some("2048"))
    );
    assert_eq!(at["image"], "cirros-0.6.2");
    assert_eq!(at["addresses"], "10.0.0.11");
    assert_eq!(at["availability_zone"], "nova");
    assert_eq!(at["account"], "lab");
    assert_eq!(
        got["db-01"]["attributes"]["image"], "ubuntu-24.04",
        "image from the second page"
    );
    let batch = &got["batch-01"]["attributes"];
    assert_eq!(
        (
            batch["flavor"].as_str(),
            batch["ram_mb"].as_str(),
            batch["state"].as_str()
        ),
        (Some("m1.large"), Some("8192"), Some("SHUTOFF"))
    );
    assert!(batch.get("image").is_none(), "boots from a volume: {batch}");
    assert_eq!(got["batch-01"]["region"], "RegionTwo");
    // Synchronized again after changes at the provider.
    cloud.one.lock().unwrap().retain(|s| s["name"] != "db-01");
    cloud.one.lock().unwrap()[0]["status"] = json!("SHUTOFF");
    let o = sync(&h).await;
    assert_eq!(
        o,
        json!({"servers": 3, "added": 0, "changed": 1, "vanished": 1})
    );
    let got = cloud_servers(&h).await;
    assert_eq!(got["web-01"]["attributes"]["state"], "SHUTOFF");
    assert_eq!(got["db-01"]["status"], "vanished");
    // A synchronized server is not edited by hand, nor deleted while listed.
    let id = got["web-02"]["id"].as_str().unwrap().to_string();
    let (st, _, e) = request(
        &h,
        "DELETE",
        &format!("/api/v1/resources/{id}"),
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(st, 409, "{e}");
    // A region the catalog lacks is refused by name; nothing changes.
    fixed["regions"] = json!(["RegionNine"]);
    h.client
        .put("/api/v1/cloud-accounts/lab", &fixed)
        .await
        .unwrap();
    let (st, _, e) = request(
        &h,
        "POST",
        "/api/v1/cloud-accounts/lab/sync",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(st, 409, "{e}");
    assert!(
        e.to_string()
            .contains("'RegionNine' has no compute endpoint"),
        "{e}"
    );
    assert_eq!(cloud_servers(&h).await.len(), 4);
    // Limited to one region: the other region's server vanishes.
    fixed["regions"] = json!(["RegionOne"]);
    h.client
        .put("/api/v1/cloud-accounts/lab", &fixed)
        .await
        .unwrap();
    let o = sync(&h).await;
    assert_eq!(o["vanished"], 1, "{o}");
    // Bad definitions are refused with a stable code.
    for bad in [
        json!({"name": "x", "auth_url": "ftp://k", "username": "u", "password": "p", "project": "p"}),
        json!({"name": "x", "auth_url": "https://k", "username": "u", "project": "p"}),
    ] {
        assert_eq!(
            crate::harness::refusal(h.client.post("/api/v1/cloud-accounts", &bad).await),
            (422, "validation_failed".into()),
            "{bad}"
        );
    }
    // Deleting the account takes its servers out of the inventory.
    h.client.delete("/api/v1/cloud-accounts/lab").await.unwrap();
    assert!(cloud_servers(&h).await.is_empty());
}

/// An account that synchronizes on a schedule is synchronized by the
/// engine without being asked; its next due time follows its interval.
#[tokio::test]
async fn a_due_account_is_synchronized_by_the_engine() {
    let h = Harness::start(0).await;
    let cloud = fake_cloud().await;
    let a = h
        .client
        .post(
            "/api/v1/cloud-accounts",
            &account(&cloud, "lab", "s3cret", 30),
        )
        .await
        .unwrap();
    assert!(a["next_sync_at"].as_i64().is_some(), "due at once: {a}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(40);
    let shown = loop {
        let v = h
            .client
            .get("/api/v1/cloud-accounts/lab", &[])
            .await
            .unwrap();
        if v["last_sync_at"].as_i64().is_some() {
            break v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never synchronized: {v}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    };
    assert_eq!(shown["servers"], 4, "{shown}");
    assert_eq!(
        shown["next_sync_at"].as_i64().unwrap() - shown["last_sync_at"].as_i64().unwrap(),
        30 * 60_000
    );
    assert_eq!(cloud_servers(&h).await.len(), 4);
}

/// The console: New form as a browser posts it (the password typed, the
/// regions on lines with CRLF, the interval left empty), the record page
/// with its Synchronize now button, the password never shown.
#[tokio::test]
async fn a_cloud_account_is_added_from_the_console_form() {
    let h = Harness::start(0).await;
    let cloud = fake_cloud().await;
    let cookie = crate::console::login(&h).await;
    let url = format!("{}/console/cloud-accounts/new", h.url());
    let (st, form) = crate::console::page(&cookie, &url).await;
    assert_eq!(st, 200);
    assert!(form.contains("type=\"password\""), "{form}");
    let mut fields = crate::console::form_values(&form);
    let auth = format!("{}/identity", cloud.base);
    crate::console::set_fields(
        &mut fields,
        &[
            ("f.name", "lab"),
            ("f.provider", "openstack"),
            ("f.auth_url", auth.as_str()),
            ("f.username", "coc"),
            ("f.password", "s3cret"),
            ("f.user_domain", ""),
            ("f.project", "ops"),
            ("f.project_domain", ""),
            ("f.regions", "RegionOne\r\nRegionTwo\r\n"),
            ("f.sync_minutes", ""),
        ],
    );
    let (st, loc, text) = crate::console::post_form(&cookie, &url, &fields).await;
    assert_eq!(st, 303, "{text}");
    let a = h
        .client
        .get("/api/v1/cloud-accounts/lab", &[])
        .await
        .unwrap();
    assert_eq!(a["regions"], json!(["RegionOne", "RegionTwo"]));
    assert_eq!(a["sync_minutes"], 60);
    assert_eq!(a["user_domain"], "Default");
    let (_, record) = crate::console::page(&cookie, &format!("{}{}", h.url(), loc.unwrap())).await;
    assert!(record.contains("Synchronize now"), "{record}");
    assert!(!record.contains("s3cret"), "the password is never shown");
    let o = sync(&h).await;
    assert_eq!(
        o["added"], 4,
        "the password typed in the form signs in: {o}"
    );
}

/// A cloud server that is the machine a real agent runs on (its address
/// and name) is linked to that host once synchronized: it shows the
/// agent's status and its host.
#[tokio::test]
async fn a_cloud_server_running_the_agent_is_linked_to_its_host() {
    let h = Harness::start(1).await;
    let host = h.wait_hosts(1).await.remove(0);
    let facts = h
        .client
        .get(&format!("/api/v1/resources/{host}"), &[])
        .await
        .unwrap();
    let hostname = facts["hostname"].as_str().unwrap().to_string();
    let Some(ip) = facts["ips"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .find(|ip| !ip.starts_with("127.") && *ip != "::1" && !ip.starts_with("fe80"))
        .map(str::to_string)
    else {
        panic!("the agent's host reports no address but loopback: {facts}");
    };
    let cloud = fake_cloud().await;
    let cirros = "70a599e0-31e7-49b7-b260-868f441e862b";
    cloud.one.lock().unwrap().push(server(
        "3dbf5b00-0009",
        &hostname,
        "ACTIVE",
        "1",
        cirros,
        &ip,
    ));
    h.client
        .post(
            "/api/v1/cloud-accounts",
            &account(&cloud, "lab", "s3cret", 0),
        )
        .await
        .unwrap();
    sync(&h).await;
    let got = cloud_servers(&h).await;
    let me = &got[&hostname];
    assert_eq!(me["host_id"], host.as_str(), "{me}");
    assert_eq!(me["status"], "running", "{me}");
    assert_eq!(got["web-01"]["status"], "unmonitored");
}
