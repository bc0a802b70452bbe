//! `coc application …`: applications (R6) — owner, modules and regions —
//! by name.

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::{Conn, output};

#[derive(Args, Debug)]
pub struct Cmd {
    #[command(subcommand)]
    verb: Verb,
}

/// What `add` and `update` can set.
#[derive(Args, Debug)]
struct Fields {
    /// The owner (a user name).
    #[arg(long)]
    owner: Option<String>,
    /// What it does.
    #[arg(long)]
    description: Option<String>,
    /// Its enterprise project.
    #[arg(long)]
    project: Option<String>,
    /// A module (repeat or comma-separate; on update: the whole list).
    #[arg(long = "module", value_delimiter = ',')]
    modules: Vec<String>,
    /// A region (repeat or comma-separate; on update: the whole list).
    #[arg(long = "region", value_delimiter = ',')]
    regions: Vec<String>,
}

#[derive(Subcommand, Debug)]
enum Verb {
    /// Add an application, e.g. `coc application add payments --owner ann
    /// --module web,db --region eu-west-1`.
    Add {
        /// Name.
        name: String,
        #[command(flatten)]
        fields: Fields,
    },
    /// List applications.
    List,
    /// Show an application (by name or id).
    Show { name: String },
    /// Change an application (by name or id): only what is given changes.
    Update {
        /// Name or id.
        name: String,
        /// New name.
        #[arg(long)]
        rename: Option<String>,
        #[command(flatten)]
        fields: Fields,
    },
    /// Delete an application (by name or id).
    Delete { name: String },
}

const COLS: &[&str] = &[
    "id",
    "name",
    "owner",
    "modules",
    "regions",
    "enterprise_project",
];

/// Module names for the table.
fn texts(v: &mut Value) {
    let one = |a: &mut Value| {
        if let Some(ms) = a["modules"].as_array() {
            let names: Vec<&str> = ms.iter().filter_map(|m| m["name"].as_str()).collect();
            a["modules"] = json!(names.join(", "));
        }
    };
    match v.get_mut("items").and_then(Value::as_array_mut) {
        Some(items) => items.iter_mut().for_each(one),
        None => one(v),
    }
}

/// Sets what `f` gives on the definition `d`; modules keep the
/// description they had under the same name.
fn apply(d: &mut Value, f: Fields) {
    if let Some(o) = f.owner {
        d["owner"] = json!(o);
    }
    if let Some(t) = f.description {
        d["description"] = json!(t);
    }
    if let Some(p) = f.project {
        d["enterprise_project"] = json!(p);
    }
    if !f.modules.is_empty() {
        let old = d["modules"].as_array().cloned().unwrap_or_default();
        let modules: Vec<Value> = f
            .modules
            .iter()
            .map(|n| {
                old.iter()
                    .find(|m| m["name"].as_str() == Some(n.as_str()))
                    .cloned()
                    .unwrap_or_else(|| json!({"name": n}))
            })
            .collect();
        d["modules"] = json!(modules);
    }
    if !f.regions.is_empty() {
        d["regions"] = json!(f.regions);
    }
}

/// The definition part of a stored application (what `PUT` takes).
fn definition(stored: &Value) -> Value {
    let mut d = json!({});
    for k in [
        "name",
        "description",
        "owner",
        "enterprise_project",
        "modules",
        "regions",
    ] {
        if let Some(v) = stored.get(k) {
            d[k] = v.clone();
        }
    }
    d
}

pub async fn run(conn: &Conn, c: Cmd) -> anyhow::Result<()> {
    let cl = conn.client()?;
    let path = |n: &str| format!("/api/v1/applications/{}", super::enc(n));
    let mut v: Value = match c.verb {
        Verb::Add { name, fields } => {
            let mut d = json!({"name": name});
            apply(&mut d, fields);
            cl.post("/api/v1/applications", &d).await?
        }
        Verb::List => cl.get("/api/v1/applications", &[]).await?,
        Verb::Show { name } => cl.get(&path(&name), &[]).await?,
        Verb::Update {
            name,
            rename,
            fields,
        } => {
            let mut d = definition(&cl.get(&path(&name), &[]).await?);
            if let Some(r) = rename {
                d["name"] = json!(r);
            }
            apply(&mut d, fields);
            cl.put(&path(&name), &d).await?
        }
        Verb::Delete { name } => {
            cl.delete(&path(&name)).await?;
            println!("deleted {name}");
            return Ok(());
        }
    };
    if conn.output == super::Format::Text {
        texts(&mut v);
    }
    output::print(conn.output, &v, COLS);
    Ok(())
}
