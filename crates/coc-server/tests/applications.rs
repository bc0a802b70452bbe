//! Applications (R6) over the API: created with an owner picked from the
//! tenant's users, found and changed by name, refused with a stable code
//! when invalid or taken, deleted; and from the console's New form as a
//! browser posts it (CRLF in the description, fields left empty).

use serde_json::{Value, json};

use crate::harness::{ADMIN, Harness, refusal, request};

#[tokio::test]
async fn applications_are_created_changed_and_deleted_by_name() {
    let h = Harness::start(0).await;
    h.users(&["ann"]).await;
    let a = h
        .client
        .post(
            "/api/v1/applications",
            &json!({"name": "payments", "description": "cards\r\nrefunds", "owner": "ann",
                    "modules": [{"name": "web"}, {"name": "db", "description": "PostgreSQL"}],
                    "regions": ["eu-west-1"]}),
        )
        .await
        .unwrap();
    assert_eq!(a["description"], "cards\nrefunds");
    assert_eq!(a["modules"][1]["description"], "PostgreSQL");
    let by_name = h
        .client
        .get("/api/v1/applications/payments", &[])
        .await
        .unwrap();
    assert_eq!(by_name["id"], a["id"]);
    assert_eq!(
        refusal(
            h.client
                .post("/api/v1/applications", &json!({"name": "payments"}))
                .await
        ),
        (409, "conflict".into())
    );
    for bad in [
        json!({"name": "billing", "owner": "nobody"}),
        json!({"name": "billing", "modules": [{"name": "web"}, {"name": "Web"}]}),
        json!({"name": ""}),
    ] {
        assert_eq!(
            refusal(h.client.post("/api/v1/applications", &bad).await),
            (422, "validation_failed".into()),
            "{bad}"
        );
    }
    let (st, ct, e) = request(
        &h,
        "POST",
        "/api/v1/applications",
        Some(ADMIN),
        Some(br#"{"name": "billing", "colour": "red"}"#.to_vec()),
    )
    .await;
    assert_eq!(st, 422, "{e}");
    assert_eq!(ct, "application/problem+json");
    let changed = h
        .client
        .put(
            "/api/v1/applications/payments",
            &json!({"name": "payments", "owner": "admin", "modules": [{"name": "web"}],
                    "regions": ["eu-west-1", "cn-north-4"]}),
        )
        .await
        .unwrap();
    assert_eq!(
        (
            changed["owner"].as_str(),
            changed["regions"].as_array().map(Vec::len)
        ),
        (Some("admin"), Some(2))
    );
    let list = h.client.get("/api/v1/applications", &[]).await.unwrap();
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
    h.client
        .delete("/api/v1/applications/payments")
        .await
        .unwrap();
    assert_eq!(
        refusal(h.client.get("/api/v1/applications/payments", &[]).await),
        (404, "not_found".into())
    );
}

/// The console's New form, posted as a browser sends it: the owner from
/// the users' select, two module rows and a third left blank, regions on
/// two lines, a description with CRLF, the enterprise project left empty.
#[tokio::test]
async fn an_application_is_made_from_the_console_form() {
    let h = Harness::start(0).await;
    h.users(&["ann"]).await;
    let cookie = crate::console::login(&h).await;
    let url = format!("{}/console/applications/new", h.url());
    let (form_status, form) = crate::console::page(&cookie, &url).await;
    assert_eq!(form_status, 200);
    assert!(
        form.contains("<option value=\"ann\""),
        "owner picker: {form}"
    );
    // What the browser sends for the blank form, with what a person typed.
    let mut fields = crate::console::form_values(&form);
    crate::console::set_fields(
        &mut fields,
        &[
            ("f.name", "payments"),
            ("f.description", "cards\r\nrefunds"),
            ("f.owner", "ann"),
            ("f.enterprise_project", ""),
            ("f.modules.0.name", "web"),
            ("f.modules.0.description", ""),
            ("f.modules.1.name", "db"),
            ("f.modules.1.description", "PostgreSQL 16"),
            ("f.regions", "eu-west-1\r\ncn-north-4"),
        ],
    );
    let (st, loc, text) = crate::console::post_form(&cookie, &url, &fields).await;
    assert_eq!(st, 303, "{text}");
    assert!(
        loc.as_deref()
            .is_some_and(|l| l.starts_with("/console/applications/")),
        "{loc:?}"
    );
    let a: Value = h
        .client
        .get("/api/v1/applications/payments", &[])
        .await
        .unwrap();
    assert_eq!(a["owner"], "ann");
    assert_eq!(a["description"], "cards\nrefunds");
    assert_eq!(a["regions"], json!(["eu-west-1", "cn-north-4"]));
    assert_eq!(
        a["modules"],
        json!([{"name": "web"}, {"name": "db", "description": "PostgreSQL 16"}])
    );
    assert!(a.get("enterprise_project").is_none(), "{a}");
    let (_, list) =
        crate::console::page(&cookie, &format!("{}/console/applications", h.url())).await;
    assert!(list.contains("web, db"), "module names in the list: {list}");
}

/// A host is put into an application and one of its modules (by name, the
/// module in any case), refused for a module the application lacks or an
/// application that does not exist; the application cannot be deleted
/// while the host belongs to it; taking the host out lets it go.
#[tokio::test]
async fn hosts_belong_to_an_application_and_a_module() {
    let h = Harness::start(1).await;
    let host = h.wait_hosts(1).await.remove(0);
    h.client
        .post(
            "/api/v1/applications",
            &json!({"name": "payments", "modules": [{"name": "web"}, {"name": "db"}]}),
        )
        .await
        .unwrap();
    let path = format!("/api/v1/resources/{host}/application");
    let r = h
        .client
        .put(&path, &json!({"application": "payments", "module": "WEB"}))
        .await
        .unwrap();
    assert_eq!(
        (r["application"].as_str(), r["module"].as_str()),
        (Some("payments"), Some("web"))
    );
    let listed = h
        .client
        .get("/api/v1/resources", &[("type", "host".into())])
        .await
        .unwrap();
    assert_eq!(listed["items"][0]["application"], "payments");
    // The list filters on the server.
    let count = |q: &'static [(&'static str, &'static str)]| {
        let c = h.client.clone();
        async move {
            let mut q: Vec<(&str, String)> = q.iter().map(|(k, v)| (*k, v.to_string())).collect();
            // The agent's discovered services are resources too.
            q.push(("type", "host".into()));
            c.get("/api/v1/resources", &q).await.unwrap()["items"]
                .as_array()
                .unwrap()
                .len()
        }
    };
    assert_eq!(
        count(&[("application", "payments"), ("module", "Web")]).await,
        1
    );
    assert_eq!(
        count(&[("application", "payments"), ("module", "db")]).await,
        0
    );
    assert_eq!(count(&[("application", "nope")]).await, 0);
    assert_eq!(count(&[("status", "running")]).await, 1);
    assert_eq!(count(&[("status", "offline")]).await, 0);
    assert_eq!(
        count(&[("q", "%")]).await,
        0,
        "a LIKE wildcard is taken literally"
    );
    assert_eq!(count(&[("limit", "1")]).await, 1);
    for bad in [("status", "down"), ("limit", "0"), ("colour", "red")] {
        assert_eq!(
            refusal(
                h.client
                    .get("/api/v1/resources", &[(bad.0, bad.1.to_string())])
                    .await
            )
            .0,
            // Paging refuses a bad limit as the alarm list does (400).
            if bad.0 == "status" { 422 } else { 400 },
            "{bad:?}"
        );
    }
    let e = h
        .client
        .put(
            &path,
            &json!({"application": "payments", "module": "cache"}),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("'cache' is not a module of payments (web, db)"),
        "{e}"
    );
    assert_eq!(
        refusal(h.client.put(&path, &json!({"application": "nope"})).await),
        (422, "validation_failed".into())
    );
    // The same list as CSV, read back with a CSV reader: a tag value with
    // a comma and quotes survives.
    h.client
        .put(
            &format!("/api/v1/resources/{host}/tags"),
            &json!({"tags": {"note": "rack 4, \"cold\" aisle"}}),
        )
        .await
        .unwrap();
    let (st, ct, body) = request(
        &h,
        "GET",
        "/api/v1/resources/export?application=payments&type=host",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(
        (st, ct.as_str()),
        (200, "text/csv; charset=utf-8"),
        "{body}"
    );
    let text = body.as_str().unwrap().to_string();
    let mut rows = csv::Reader::from_reader(text.as_bytes());
    let head: Vec<String> = rows.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        &head[..7],
        [
            "id",
            "type",
            "name",
            "status",
            "host",
            "application",
            "module"
        ]
    );
    let recs: Vec<csv::StringRecord> = rows.records().map(Result::unwrap).collect();
    assert_eq!(recs.len(), 1, "{text}");
    assert_eq!(
        (&recs[0][0], &recs[0][1], &recs[0][5], &recs[0][6]),
        (host.as_str(), "host", "payments", "web")
    );
    assert_eq!(&recs[0][14], "note=rack 4, \"cold\" aisle");
    let (_, _, none) = request(
        &h,
        "GET",
        "/api/v1/resources/export?application=nope",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(none.as_str().unwrap().lines().count(), 1, "the header only");
    let held = h
        .client
        .delete("/api/v1/applications/payments")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        held.contains("1 resource(s) belong to this application"),
        "{held}"
    );
    let out = h
        .client
        .put(&path, &json!({"application": null}))
        .await
        .unwrap();
    assert_eq!(
        (out["application"].clone(), out["module"].clone()),
        (Value::Null, Value::Null)
    );
    h.client
        .delete("/api/v1/applications/payments")
        .await
        .unwrap();
}

/// Definitions name an application that exists (R6) and follow its
/// rename: a notification rule made from the console's form (the
/// applications picked as checkboxes, as a browser posts them), an SLA
/// and an incident over the API. A name that is no application is refused
/// with a stable code; the application cannot be deleted while they refer
/// to it.
#[tokio::test]
async fn definitions_refer_to_an_application_and_follow_its_rename() {
    let h = Harness::start(0).await;
    h.users(&["ann"]).await;
    for name in ["shop", "erp"] {
        h.client
            .post("/api/v1/applications", &json!({"name": name}))
            .await
            .unwrap();
    }
    let sla = |apps: Value| {
        json!({"name": "shop-todos", "trigger": "todo", "levels": ["Minor"], "applications": apps,
               "rules": [{"status": "pending", "target_minutes": 60}]})
    };
    let refused = [
        h.client.post("/api/v1/slas", &sla(json!(["nope"]))).await,
        h.client
            .post(
                "/api/v1/incidents",
                &json!({"title": "t", "level": "P3", "assignee": "ann", "application": "nope"}),
            )
            .await,
    ];
    for r in refused {
        let e = format!("{r:?}");
        assert!(
            e.contains("422") && e.contains("application 'nope' does not exist"),
            "{e}"
        );
    }
    h.client
        .post("/api/v1/slas", &sla(json!(["shop"])))
        .await
        .unwrap();
    let inc = h
        .client
        .post(
            "/api/v1/incidents",
            &json!({"title": "checkout slow", "level": "P3", "assignee": "ann", "application": "shop"}),
        )
        .await
        .unwrap();
    // The notification rule's form offers the applications to pick.
    let cookie = crate::console::login(&h).await;
    let url = format!("{}/console/notification-rules/new", h.url());
    let (_, form) = crate::console::page(&cookie, &url).await;
    assert!(
        form.contains("value=\"shop\"") && form.contains("value=\"erp\""),
        "application checkboxes: {form}"
    );
    let mut fields: Vec<(String, String)> = crate::console::form_values(&form)
        .into_iter()
        .filter(|(n, _)| !n.starts_with("f.recipients"))
        .collect();
    for (name, value) in [
        ("f.name", "shop people"),
        ("f.templates", "incident_created"),
        ("f.applications", "shop"),
        ("f.channels", "email"),
        ("f.recipients.0.type", "owner"),
        ("f.recipients.0.users", ""),
        ("f.categories", ""),
        ("f.regions", ""),
    ] {
        fields.push((name.to_string(), value.to_string()));
    }
    let (st, _, text) = crate::console::post_form(&cookie, &url, &fields).await;
    assert_eq!(st, 303, "{text}");
    // Renamed: every definition and the incident answer the new name.
    h.client
        .put("/api/v1/applications/shop", &json!({"name": "webshop"}))
        .await
        .unwrap();
    let n = h
        .client
        .get("/api/v1/notification-rules/shop%20people", &[])
        .await
        .unwrap();
    assert_eq!(n["applications"], json!(["webshop"]));
    let s = h.client.get("/api/v1/slas/shop-todos", &[]).await.unwrap();
    assert_eq!(s["applications"], json!(["webshop"]));
    let id = inc["id"].as_str().unwrap();
    let i = h
        .client
        .get(&format!("/api/v1/incidents/{id}"), &[])
        .await
        .unwrap();
    assert_eq!(i["application"], "webshop");
    let (st, _, e) = request(
        &h,
        "DELETE",
        "/api/v1/applications/webshop",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(st, 409, "{e}");
    for want in [
        "notification rule 'shop people'",
        "SLA 'shop-todos'",
        "1 incident(s)",
    ] {
        assert!(e.to_string().contains(want), "{want}: {e}");
    }
    // The other application, referred to by nothing, goes.
    h.client.delete("/api/v1/applications/erp").await.unwrap();
}
