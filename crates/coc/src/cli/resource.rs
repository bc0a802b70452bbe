//! `coc resource …` — the inventory (R1): hosts and their agent identity
//! (R3), and the other resource types.

/// `key` as one path segment (names may hold `@`, `:` or spaces): every
/// byte but RFC 3986's unreserved ones percent-encoded.
fn path_part(key: &str) -> String {
    key.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

use anyhow::bail;
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::{Conn, output};

#[derive(Args, Debug)]
pub struct Cmd {
    #[command(subcommand)]
    verb: Verb,
}

#[derive(Subcommand, Debug)]
enum Verb {
    /// List resources — hosts, databases, caches, queues, web servers,
    /// container clusters, load balancers — e.g. `coc resource list
    /// --type database --application payments`, `--status offline`.
    List {
        /// Of this type (host, database, cache, queue, web_server,
        /// container_cluster, load_balancer).
        #[arg(long = "type")]
        resource_type: Option<String>,
        /// Belonging to this application.
        #[arg(long)]
        application: Option<String>,
        /// In this module of it.
        #[arg(long)]
        module: Option<String>,
        /// In this region.
        #[arg(long)]
        region: Option<String>,
        /// In this enterprise project.
        #[arg(long)]
        project: Option<String>,
        /// running, abnormal, offline, vanished or unmonitored.
        #[arg(long)]
        status: Option<String>,
        /// On this host (name or id).
        #[arg(long)]
        host: Option<String>,
        /// Name, address or a field contains.
        #[arg(long)]
        search: Option<String>,
        /// Order: name, type, status or created_at; a leading - reverses.
        #[arg(long, allow_hyphen_values = true)]
        sort: Option<String>,
        /// Rows per page (1 to 1000).
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Every page, not only the first.
        #[arg(long, conflicts_with = "cursor")]
        all: bool,
        /// Go on after an earlier page (the cursor it printed).
        #[arg(long)]
        cursor: Option<String>,
    },
    /// The resource types and the fields each has.
    Types,
    /// Register a resource that is not a host, e.g. `coc resource add
    /// database orders-db --host db-1 --field engine=postgresql --field
    /// port=5432 --application shop --module db`.
    Add {
        /// Type: database, cache, queue, web_server, container_cluster or
        /// load_balancer.
        #[arg(value_name = "TYPE")]
        resource_type: String,
        /// Its name.
        name: String,
        #[command(flatten)]
        set: Settings,
    },
    /// Change a resource that is not a host (by name or id): only what is
    /// given changes, e.g. `coc resource update orders-db --region
    /// eu-west --field version=16`.
    Update {
        resource: String,
        /// A new name.
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        set: Settings,
    },
    /// Import an inventory file, e.g. `coc resource import inventory.csv
    /// --dry-run`: CSV with a header row (type, name, and host,
    /// application, module, region, enterprise_project, tags, or any field
    /// of the type) or YAML (a list of resources). A row of a type and name
    /// that exists changes it; with a refused row nothing is imported.
    Import {
        file: std::path::PathBuf,
        /// csv or yaml (default: from the file's extension).
        #[arg(long)]
        format: Option<String>,
        /// Only show what each row would do.
        #[arg(long)]
        dry_run: bool,
    },
    /// Set a host's region, e.g. `coc resource region web-1 eu-west`;
    /// `--none` clears it.
    Region {
        host: String,
        #[arg(required_unless_present = "none")]
        region: Option<String>,
        #[arg(long, conflicts_with = "region")]
        none: bool,
    },
    /// Show a resource (by name or id).
    Show { resource: String },
    /// Delete a resource (by name or id). A host's agent is cut off and
    /// refused (it may enroll again with a new enrollment token).
    Delete { resource: String },
    /// Revoke a host's agent identity: its agent is cut off and refused
    /// until re-enrollment is allowed.
    Revoke { host: String },
    /// Allow re-enrollment (24 h): the next agent with this host's agent id
    /// and a valid enrollment token binds its new key (a re-installed
    /// agent, a replaced key).
    Reenroll { host: String },
    /// Put a host into an application and one of its modules, e.g. `coc
    /// resource assign web-1 --application payments --module web`.
    Assign {
        host: String,
        /// Application (name or id).
        #[arg(long, required_unless_present = "none")]
        application: Option<String>,
        /// One of the application's modules.
        #[arg(long, requires = "application")]
        module: Option<String>,
        /// Take the host out of its application instead.
        #[arg(long, conflicts_with = "application")]
        none: bool,
    },
    /// The services found on a host (PostgreSQL, Redis …), by its agent.
    Services { host: String },
    /// The dependencies observed on a host: which of its processes talk to
    /// which service, on this host or another.
    Dependencies { host: String },
}

/// What `add` and `update` set (each optional).
#[derive(Args, Debug)]
struct Settings {
    /// The host it runs on (name or id).
    #[arg(long)]
    host: Option<String>,
    /// Its application (name or id).
    #[arg(long)]
    application: Option<String>,
    /// A module of that application.
    #[arg(long)]
    module: Option<String>,
    /// Its region.
    #[arg(long)]
    region: Option<String>,
    /// Its enterprise project.
    #[arg(long)]
    project: Option<String>,
    /// A field of its type, `key=value` (repeat; `coc resource types`
    /// lists them); `key=` removes it.
    #[arg(long = "field", value_name = "KEY=VALUE")]
    fields: Vec<String>,
    /// A tag, `key=value` (repeat); `key=` removes it.
    #[arg(long = "tag", value_name = "KEY=VALUE")]
    tags: Vec<String>,
}

impl Settings {
    /// Applies what is given to a resource definition.
    fn apply(self, spec: &mut Value) -> anyhow::Result<()> {
        for (k, v) in [
            ("host", self.host),
            ("application", self.application),
            ("module", self.module),
            ("region", self.region),
            ("enterprise_project", self.project),
        ] {
            if let Some(v) = v {
                spec[k] = json!(v);
            }
        }
        for (key, given) in [("attributes", self.fields), ("tags", self.tags)] {
            for kv in given {
                let Some((k, v)) = kv.split_once('=') else {
                    bail!("'{kv}' is not key=value");
                };
                if !spec[key].is_object() {
                    spec[key] = json!({});
                }
                if v.is_empty() {
                    spec[key].as_object_mut().map(|m| m.remove(k.trim()));
                } else {
                    spec[key][k.trim()] = json!(v);
                }
            }
        }
        Ok(())
    }
}

const COLS: &[&str] = &[
    "id",
    "type",
    "name",
    "status",
    "host",
    "application",
    "module",
    "region",
    "ips",
    "attributes",
];

/// The definition (`PUT` body) of a listed resource that is not a host.
fn spec_of(r: &Value) -> Value {
    let mut spec = json!({
        "type": r["type"],
        "name": r["name"],
        "tags": r["tags"],
        "attributes": r["attributes"],
    });
    for k in ["application", "module", "region", "enterprise_project"] {
        if !r[k].is_null() {
            spec[k] = r[k].clone();
        }
    }
    if !r["host_id"].is_null() {
        spec["host"] = r["host_id"].clone();
    }
    spec
}

/// The id of the host called `host` (a host name or a resource id).
///
/// Errors: no such host, or the name is shared by several hosts (their
/// ids are listed).
pub async fn resolve_host(cl: &coc_client::Client, host: &str) -> anyhow::Result<String> {
    let v = cl
        .get(
            "/api/v1/resources",
            &[
                ("type", "host".to_string()),
                ("q", host.to_string()),
                ("limit", "1000".to_string()),
            ],
        )
        .await?;
    let items = v["items"].as_array().cloned().unwrap_or_default();
    if items.iter().any(|h| h["id"] == host) {
        return Ok(host.to_string());
    }
    // An id is not searched for: ask for it.
    if items.is_empty()
        && let Ok(r) = cl
            .get(&format!("/api/v1/resources/{}", path_part(host)), &[])
            .await
        && r["type"] == "host"
    {
        return Ok(r["id"].as_str().unwrap_or_default().to_string());
    }
    let named: Vec<&Value> = items
        .iter()
        .filter(|h| {
            h["hostname"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(host))
        })
        .collect();
    match named.as_slice() {
        [one] => Ok(one["id"].as_str().unwrap_or_default().to_string()),
        [] => bail!("no host is called '{host}' (coc resource list)"),
        many => bail!(
            "{} hosts are called '{host}'; give one of their ids: {}",
            many.len(),
            many.iter()
                .filter_map(|h| h["id"].as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

pub async fn run(conn: &Conn, c: Cmd) -> anyhow::Result<()> {
    let cl = conn.client()?;
    let v = match c.verb {
        Verb::List {
            resource_type,
            application,
            module,
            region,
            project,
            status,
            host,
            search,
            sort,
            limit,
            all,
            cursor,
        } => {
            let mut q: Vec<(&str, String)> = [
                ("type", resource_type),
                ("application", application),
                ("module", module),
                ("region", region),
                ("project", project),
                ("status", status),
                ("host", host),
                ("q", search),
                ("sort", sort),
                ("cursor", cursor),
            ]
            .into_iter()
            .filter_map(|(k, v)| Some((k, v?)))
            .collect();
            q.push(("limit", limit.to_string()));
            let mut v = cl.get("/api/v1/resources", &q).await?;
            while all && v["next_cursor"].is_string() {
                let mut more = q.clone();
                more.push(("cursor", v["next_cursor"].as_str().unwrap_or("").into()));
                let next = cl.get("/api/v1/resources", &more).await?;
                let items = next["items"].as_array().cloned().unwrap_or_default();
                if let Some(a) = v["items"].as_array_mut() {
                    a.extend(items);
                }
                v["next_cursor"] = next["next_cursor"].clone();
            }
            v
        }
        Verb::Types => {
            let v = cl.get("/api/v1/resource-types", &[]).await?;
            let rows: Vec<Value> = v["items"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|t| {
                    let fields: Vec<&str> = t["fields"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|f| f["name"].as_str())
                        .collect();
                    json!({"name": t["name"], "label": t["label"], "fields": fields.join(", ")})
                })
                .collect();
            output::print(
                conn.output,
                &json!({ "items": rows }),
                &["name", "label", "fields"],
            );
            return Ok(());
        }
        Verb::Add {
            resource_type,
            name,
            set,
        } => {
            let mut spec = json!({"type": resource_type, "name": name});
            set.apply(&mut spec)?;
            cl.post("/api/v1/resources", &spec).await?
        }
        Verb::Update {
            resource,
            name,
            set,
        } => {
            let r = cl
                .get(&format!("/api/v1/resources/{}", path_part(&resource)), &[])
                .await?;
            if r["type"] == "host" {
                bail!(
                    "{resource} is a host: use coc resource assign, region or the tags of the host"
                );
            }
            let mut spec = spec_of(&r);
            if let Some(n) = name {
                spec["name"] = json!(n);
            }
            set.apply(&mut spec)?;
            let id = r["id"].as_str().unwrap_or_default();
            cl.put(&format!("/api/v1/resources/{id}"), &spec).await?
        }
        Verb::Import {
            file,
            format,
            dry_run,
        } => {
            let content = std::fs::read_to_string(&file)
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let format = format.unwrap_or_else(|| {
                match file.extension().and_then(|e| e.to_str()) {
                    Some("yaml" | "yml") => "yaml",
                    _ => "csv",
                }
                .to_string()
            });
            let v = cl
                .post(
                    "/api/v1/resources/import",
                    &json!({"format": format, "content": content, "dry_run": dry_run}),
                )
                .await?;
            if conn.output == super::Format::Json {
                output::print(conn.output, &v, &[]);
                return Ok(());
            }
            let rows = json!({"items": v["rows"]});
            output::print(
                conn.output,
                &rows,
                &["row", "type", "name", "action", "reason"],
            );
            println!(
                "{}: {} created, {} changed, {} unchanged, {} refused",
                if v["applied"] == true {
                    "imported"
                } else {
                    "dry run, nothing imported"
                },
                v["created"],
                v["updated"],
                v["unchanged"],
                v["refused"]
            );
            return Ok(());
        }
        Verb::Region { host, region, none } => {
            let id = resolve_host(&cl, &host).await?;
            let region = if none { None } else { region };
            cl.put(
                &format!("/api/v1/resources/{id}/region"),
                &json!({ "region": region }),
            )
            .await?
        }
        Verb::Show { resource } => {
            cl.get(&format!("/api/v1/resources/{}", path_part(&resource)), &[])
                .await?
        }
        Verb::Delete { resource } => {
            let r = cl
                .get(&format!("/api/v1/resources/{}", path_part(&resource)), &[])
                .await?;
            let id = r["id"].as_str().unwrap_or_default();
            cl.delete(&format!("/api/v1/resources/{id}")).await?;
            println!(
                "deleted {} {} ({id})",
                r["type"].as_str().unwrap_or("resource"),
                r["name"].as_str().unwrap_or(&resource)
            );
            return Ok(());
        }
        Verb::Revoke { host } => {
            let id = resolve_host(&cl, &host).await?;
            cl.post(&format!("/api/v1/resources/{id}/agent/revoke"), &json!({}))
                .await?
        }
        Verb::Reenroll { host } => {
            let id = resolve_host(&cl, &host).await?;
            cl.post(
                &format!("/api/v1/resources/{id}/agent/reenroll"),
                &json!({}),
            )
            .await?
        }
        Verb::Assign {
            host,
            application,
            module,
            none: _,
        } => {
            let id = resolve_host(&cl, &host).await?;
            cl.put(
                &format!("/api/v1/resources/{id}/application"),
                &json!({"application": application, "module": module}),
            )
            .await?
        }
        Verb::Services { host } => {
            let id = resolve_host(&cl, &host).await?;
            let v = cl
                .get(&format!("/api/v1/resources/{id}/services"), &[])
                .await?;
            output::print(
                conn.output,
                &v,
                &[
                    "kind",
                    "resource_type",
                    "port",
                    "addresses",
                    "process",
                    "local_only",
                ],
            );
            return Ok(());
        }
        Verb::Dependencies { host } => {
            let id = resolve_host(&cl, &host).await?;
            let v = cl
                .get(&format!("/api/v1/resources/{id}/dependencies"), &[])
                .await?;
            output::print(
                conn.output,
                &v,
                &[
                    "process",
                    "host",
                    "port",
                    "service",
                    "resource_type",
                    "local",
                ],
            );
            return Ok(());
        }
    };
    let mut cols = COLS.to_vec();
    if v.get("items").is_none() {
        cols.extend([
            "port",
            "origin",
            "enterprise_project",
            "tags",
            "os",
            "agent_identity",
            "agent_key_fingerprint",
            "agent_identity_until",
        ]);
    }
    output::print(conn.output, &v, &cols);
    Ok(())
}
