//! The resource catalogue (issue 18, R1) through the API and the console:
//! a database registered from the console's form as a browser sends it
//! (host and application picked, fields as `key=value` lines with CRLF),
//! changed from its Modify form, found in the list by the filters and the
//! search the API applies, and refusals that change nothing.

use serde_json::{Value, json};

use crate::harness::{Harness, refusal};

/// Sets `name` to `value` in a form's fields, adding it when absent.
fn set(fields: &mut Vec<(String, String)>, name: &str, value: &str) {
    crate::console::set_fields(fields, &[(name, value)]);
}

#[tokio::test]
async fn a_database_is_registered_and_changed_from_the_console_and_found_by_the_lists_filters() {
    let h = Harness::start(1).await;
    let host = h.wait_hosts(1).await.remove(0);
    let hostname = h.hostname(&host).await;
    h.client
        .post(
            "/api/v1/applications",
            &json!({"name": "shop", "modules": [{"name": "db"}, {"name": "web"}]}),
        )
        .await
        .unwrap();
    let cookie = crate::console::login(&h).await;
    // The resource list offers registering one.
    let (_, list) = crate::console::page(&cookie, &format!("{}/console/resources", h.url())).await;
    assert!(
        list.contains("href=\"/console/catalog/new\" id=\"new\""),
        "{list}"
    );
    let url = format!("{}/console/catalog/new", h.url());
    let (st, form) = crate::console::page(&cookie, &url).await;
    assert_eq!(st, 200);
    assert!(
        form.contains(&format!("<option value=\"{hostname}\"")),
        "host picker: {form}"
    );
    assert!(form.contains("<option value=\"shop\""), "{form}");
    // A port out of range: refused with the reason, nothing made.
    let mut fields = crate::console::form_values(&form);
    for (name, value) in [
        ("f.type", "database"),
        ("f.name", "orders-db"),
        ("f.host", hostname.as_str()),
        ("f.application", "shop"),
        ("f.module", "DB"),
        ("f.region", ""),
        ("f.enterprise_project", ""),
        ("f.attributes", "engine=postgresql\r\nport=99999\r\n"),
        ("f.tags", ""),
    ] {
        set(&mut fields, name, value);
    }
    let (st, _, text) = crate::console::post_form(&cookie, &url, &fields).await;
    assert_eq!(st, 422, "{text}");
    assert!(text.contains("not 1 to 65535"), "{text}");
    assert!(
        refusal(h.client.get("/api/v1/resources/orders-db", &[]).await).0 == 404,
        "nothing was made"
    );
    set(
        &mut fields,
        "f.attributes",
        "engine=postgresql\r\nport=5432\r\nendpoint=10.0.0.5:5432\r\n",
    );
    let (st, loc, text) = crate::console::post_form(&cookie, &url, &fields).await;
    assert_eq!(st, 303, "{text}");
    let loc = loc.unwrap();
    assert!(loc.starts_with("/console/catalog/"), "{loc}");
    let db: Value = h
        .client
        .get("/api/v1/resources/orders-db", &[])
        .await
        .unwrap();
    assert_eq!(
        (
            &db["type"],
            &db["host_id"],
            &db["application"],
            &db["module"]
        ),
        (
            &json!("database"),
            &json!(host),
            &json!("shop"),
            &json!("db")
        ),
        "{db}"
    );
    assert_eq!(
        db["attributes"],
        json!({"engine": "postgresql", "port": "5432", "endpoint": "10.0.0.5:5432"})
    );
    assert_eq!(db["origin"], "manual");
    assert_eq!(db["status"], "running", "its host's agent runs: {db}");
    let id = db["id"].as_str().unwrap().to_string();

    // Its page offers Modify; the form comes back filled; a field added.
    let (_, record) = crate::console::page(&cookie, &format!("{}{loc}", h.url())).await;
    assert!(
        record.contains("orders-db") && record.contains("Modify"),
        "{record}"
    );
    let edit = format!("{}/console/catalog/{id}/edit", h.url());
    let (_, form) = crate::console::page(&cookie, &edit).await;
    let mut fields = crate::console::form_values(&form);
    let attrs = fields
        .iter()
        .find(|(n, _)| n == "f.attributes")
        .map(|(_, v)| v.clone())
        .unwrap();
    assert!(attrs.contains("engine=postgresql"), "{form}");
    set(
        &mut fields,
        "f.attributes",
        &format!("{}\r\nversion=16", attrs.replace('\n', "\r\n")),
    );
    set(&mut fields, "f.region", "eu-west");
    let (st, _, text) = crate::console::post_form(&cookie, &edit, &fields).await;
    assert_eq!(st, 303, "{text}");
    let db: Value = h
        .client
        .get(&format!("/api/v1/resources/{id}"), &[])
        .await
        .unwrap();
    assert_eq!(db["attributes"]["version"], "16", "{db}");
    assert_eq!(db["attributes"]["engine"], "postgresql", "{db}");
    assert_eq!(db["region"], "eu-west");

    // The list filters on the server: by type, by search, by region.
    let (_, only) = crate::console::page(
        &cookie,
        &format!("{}/console/resources?is.type=database&q=orders", h.url()),
    )
    .await;
    assert!(
        only.contains(&format!("href=\"/console/catalog/{id}\"")),
        "{only}"
    );
    assert!(
        !only.contains(&format!("href=\"/console/resources/{host}\"")),
        "the host is filtered out: {only}"
    );
    assert!(
        only.contains("href=\"/api/v1/resources/export?type=database&#38;q=orders\""),
        "the export takes the filters: {only}"
    );
    let (_, hosts) = crate::console::page(
        &cookie,
        &format!("{}/console/resources?is.type=host", h.url()),
    )
    .await;
    assert!(
        hosts.contains(&format!("href=\"/console/resources/{host}\"")),
        "{hosts}"
    );
    assert!(!hosts.contains("orders-db"), "{hosts}");
    let by_region = h
        .client
        .get("/api/v1/resources", &[("region", "EU-WEST".into())])
        .await
        .unwrap();
    assert_eq!(by_region["items"].as_array().unwrap().len(), 1);
    // Groups: counts of what the filters select, each a link that adds
    // its filter.
    let g = h
        .client
        .get(
            "/api/v1/resources/groups",
            &[("by", "application".into()), ("type", "database".into())],
        )
        .await
        .unwrap();
    assert!(
        g["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["value"] == "shop" && x["count"] == 1),
        "{g}"
    );
    assert_eq!(
        refusal(
            h.client
                .get("/api/v1/resources/groups", &[("by", "colour".into())])
                .await
        ),
        (422, "validation_failed".into())
    );
    let (_, grouped) = crate::console::page(
        &cookie,
        &format!("{}/console/resources?is.type=database", h.url()),
    )
    .await;
    assert!(grouped.contains("By application:"), "{grouped}");
    assert!(
        grouped.contains(
            "href=\"/console/resources?is.application=shop&#38;is.type=database\">shop</a> (1)"
        ),
        "{grouped}"
    );
    // The host's page lists what runs on it.
    let (_, page) =
        crate::console::page(&cookie, &format!("{}/console/resources/{host}", h.url())).await;
    assert!(
        page.contains("Resources on it") && page.contains("orders-db"),
        "{page}"
    );

    // Refusals with stable codes, nothing changed.
    assert_eq!(
        refusal(
            h.client
                .get("/api/v1/resources", &[("type", "vm".into())])
                .await
        ),
        (422, "validation_failed".into())
    );
    assert_eq!(
        refusal(
            h.client
                .get("/api/v1/resources", &[("sort", "colour".into())])
                .await
        ),
        (422, "validation_failed".into())
    );
    assert_eq!(
        refusal(
            h.client
                .get("/api/v1/resources", &[("cursor", "zz".into())])
                .await
        ),
        (422, "validation_failed".into())
    );
    assert_eq!(
        refusal(
            h.client
                .put(
                    &format!("/api/v1/resources/{host}"),
                    &json!({"type": "cache", "name": "x"}),
                )
                .await
        ),
        (422, "validation_failed".into())
    );
    assert_eq!(
        refusal(
            h.client
                .post("/api/v1/resources", &json!({"type": "host", "name": "x"}))
                .await
        ),
        (422, "validation_failed".into())
    );
    assert_eq!(
        refusal(
            h.client
                .post(
                    "/api/v1/resources",
                    &json!({"type": "database", "name": "orders-db"})
                )
                .await
        )
        .0,
        409
    );
    let types = h.client.get("/api/v1/resource-types", &[]).await.unwrap();
    assert_eq!(types["items"].as_array().unwrap().len(), 8);

    // Keyset paging walks every resource once, in order.
    for i in 0..5 {
        h.client
            .post(
                "/api/v1/resources",
                &json!({"type": "load_balancer", "name": format!("lb-{i}"), "attributes": {"backends": "2"}}),
            )
            .await
            .unwrap();
    }
    let mut seen: Vec<String> = vec![];
    let mut cursor: Option<String> = None;
    loop {
        let mut q = vec![("limit", "2".to_string()), ("sort", "-name".into())];
        if let Some(c) = &cursor {
            q.push(("cursor", c.clone()));
        }
        let page = h.client.get("/api/v1/resources", &q).await.unwrap();
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["name"].as_str().unwrap().to_string()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let all = h
        .client
        .get(
            "/api/v1/resources",
            &[("limit", "1000".into()), ("sort", "-name".into())],
        )
        .await
        .unwrap();
    let expected: Vec<String> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(seen, expected);
    assert!(seen.len() >= 7, "{seen:?}");
    assert!(
        seen.iter().position(|n| n == "lb-4") < seen.iter().position(|n| n == "lb-0"),
        "{seen:?}"
    );

    // The console sorts through the API: newest first.
    let cookie = crate::console::login(&h).await;
    let (_, newest) = crate::console::page(
        &cookie,
        &format!("{}/console/resources?sort=-created_at", h.url()),
    )
    .await;
    let first = newest.find(">lb-4<").expect("lb-4 listed");
    assert!(
        newest.find(">lb-3<").is_some_and(|i| i > first),
        "newest first: {newest}"
    );
    assert!(
        newest.contains("<option value=\"-created_at\" selected>"),
        "{newest}"
    );
    // Deleted by name from the API.
    h.client.delete("/api/v1/resources/lb-0").await.unwrap();
    assert_eq!(
        refusal(h.client.get("/api/v1/resources/lb-0", &[]).await).0,
        404
    );
}

/// An inventory file imported (R2, static sync): CSV as a spreadsheet
/// saves it (CRLF) and YAML, a dry run first — from the API and from the
/// console's form, whose dry-run button answers the form as typed with
/// what each row would do — then for real; a refused row imports nothing.
#[tokio::test]
async fn an_inventory_file_is_imported_after_a_dry_run() {
    let h = Harness::start(0).await;
    let csv = "type,name,region,tags,engine,port,endpoint\r\n\
               database,orders-db,eu-west-1,tier=gold,postgresql,5432,10.0.0.5:5432\r\n\
               cache,sessions,eu-west-1,,redis,6379,10.0.0.6:6379\r\n";
    let dry = h
        .client
        .post(
            "/api/v1/resources/import",
            &json!({"format": "csv", "content": csv, "dry_run": true}),
        )
        .await
        .unwrap();
    assert_eq!(
        (&dry["applied"], &dry["created"], &dry["refused"]),
        (&json!(false), &json!(2), &json!(0)),
        "{dry}"
    );
    assert_eq!(dry["rows"][0]["row"], 2);
    assert_eq!(
        refusal(h.client.get("/api/v1/resources/orders-db", &[]).await).0,
        404
    );

    // The console's import form: the dry run answers the form as typed.
    let cookie = crate::console::login(&h).await;
    let (_, list) = crate::console::page(&cookie, &format!("{}/console/resources", h.url())).await;
    assert!(
        list.contains("href=\"/console/catalog-import/new\""),
        "{list}"
    );
    let url = format!("{}/console/catalog-import/new", h.url());
    let (_, form) = crate::console::page(&cookie, &url).await;
    assert!(form.contains("Dry run"), "{form}");
    let mut fields = crate::console::form_values(&form);
    set(&mut fields, "f.format", "csv");
    set(&mut fields, "f.content", csv);
    let mut trial = fields.clone();
    trial.push(("replay".into(), "1".into()));
    let (st, _, page) = crate::console::post_form(&cookie, &url, &trial).await;
    assert_eq!(st, 200, "{page}");
    assert!(
        page.contains("Importing would create 2, change 0 and leave 0 unchanged."),
        "{page}"
    );
    assert!(
        page.contains("orders-db") && page.contains("create"),
        "{page}"
    );
    assert!(page.contains("Nothing was saved"), "{page}");
    assert_eq!(
        refusal(h.client.get("/api/v1/resources/orders-db", &[]).await).0,
        404
    );
    let (st, loc, text) = crate::console::post_form(&cookie, &url, &fields).await;
    assert_eq!(st, 303, "{text}");
    assert_eq!(loc.as_deref(), Some("/console/resources"));
    let db = h
        .client
        .get("/api/v1/resources/orders-db", &[])
        .await
        .unwrap();
    assert_eq!(
        (
            &db["region"],
            &db["tags"]["tier"],
            &db["attributes"]["port"]
        ),
        (&json!("eu-west-1"), &json!("gold"), &json!("5432"))
    );

    // YAML: one unchanged, one changed, one new.
    let yaml = "resources:\n\
                - {type: database, name: orders-db, region: eu-west-1, tags: {tier: gold}, attributes: {engine: postgresql, port: 5432, endpoint: '10.0.0.5:5432'}}\n\
                - {type: cache, name: sessions, region: eu-west-1, attributes: {engine: redis, port: 6380, endpoint: '10.0.0.6:6380'}}\n\
                - {type: container_cluster, name: k8s-prod, attributes: {platform: kubernetes, nodes: 12}}\n";
    let done = h
        .client
        .post(
            "/api/v1/resources/import",
            &json!({"format": "yaml", "content": yaml}),
        )
        .await
        .unwrap();
    assert_eq!(
        (
            &done["applied"],
            &done["created"],
            &done["updated"],
            &done["unchanged"]
        ),
        (&json!(true), &json!(1), &json!(1), &json!(1)),
        "{done}"
    );
    let k8s = h
        .client
        .get("/api/v1/resources/k8s-prod", &[])
        .await
        .unwrap();
    assert_eq!(k8s["attributes"]["nodes"], "12");

    // A refused row: nothing imported, the row and its reason named.
    let bad = "type,name,host,engine\nqueue,jobs,,rabbitmq\ndatabase,x,nowhere,postgresql\n";
    let e = h
        .client
        .post(
            "/api/v1/resources/import",
            &json!({"format": "csv", "content": bad}),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("nothing imported") && e.contains("row 3 (x): host 'nowhere' does not exist"),
        "{e}"
    );
    assert_eq!(
        refusal(h.client.get("/api/v1/resources/jobs", &[]).await).0,
        404
    );
    assert_eq!(
        refusal(
            h.client
                .post(
                    "/api/v1/resources/import",
                    &json!({"format": "xml", "content": "<a/>"})
                )
                .await
        ),
        (422, "validation_failed".into())
    );
}
