//! `coc cloud …`: cloud accounts (R2) by name — add an OpenStack account,
//! list them with their last synchronization, synchronize one now.

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
    /// The identity service (Keystone) URL, e.g. https://keystone.example.com:5000.
    #[arg(long)]
    auth_url: Option<String>,
    /// The user COC signs in as.
    #[arg(long)]
    username: Option<String>,
    /// Read the password from this environment variable (never from a
    /// command-line value, which other users of the machine could see).
    #[arg(long, value_name = "VAR", default_value = "COC_CLOUD_PASSWORD")]
    password_env: String,
    /// The project whose servers are read.
    #[arg(long)]
    project: Option<String>,
    /// The user's domain (default: Default).
    #[arg(long)]
    user_domain: Option<String>,
    /// The project's domain (default: Default).
    #[arg(long)]
    project_domain: Option<String>,
    /// A region to limit it to (repeat or comma-separate; on update: the
    /// whole list). None: every region of the catalog.
    #[arg(long = "region", value_delimiter = ',')]
    regions: Vec<String>,
    /// Minutes between synchronizations (0: only when asked; default 60).
    #[arg(long)]
    sync_minutes: Option<u32>,
}

#[derive(Subcommand, Debug)]
enum Verb {
    /// Add an OpenStack account, e.g. `COC_CLOUD_PASSWORD=… coc cloud add
    /// lab --auth-url https://keystone.lab:5000 --username coc --project ops`.
    Add {
        /// Name.
        name: String,
        #[command(flatten)]
        fields: Fields,
    },
    /// List cloud accounts with their last synchronization.
    List,
    /// Show a cloud account (by name or id).
    Show { name: String },
    /// Change a cloud account (by name or id): only what is given changes;
    /// the password only when its variable is set.
    Update {
        /// Name or id.
        name: String,
        /// New name.
        #[arg(long)]
        rename: Option<String>,
        #[command(flatten)]
        fields: Fields,
    },
    /// Synchronize a cloud account now: what was added, changed, vanished.
    Sync { name: String },
    /// Delete a cloud account and the cloud servers it brought in.
    Delete { name: String },
}

const COLS: &[&str] = &[
    "name",
    "auth_url",
    "project",
    "regions",
    "sync_minutes",
    "servers",
    "last_outcome",
];

/// Sets what `f` gives on the definition `d`.
fn apply(d: &mut Value, f: Fields) {
    for (k, v) in [
        ("auth_url", f.auth_url),
        ("username", f.username),
        ("project", f.project),
        ("user_domain", f.user_domain),
        ("project_domain", f.project_domain),
    ] {
        if let Some(v) = v {
            d[k] = json!(v);
        }
    }
    if let Ok(p) = std::env::var(&f.password_env) {
        d["password"] = json!(p);
    }
    if !f.regions.is_empty() {
        d["regions"] = json!(f.regions);
    }
    if let Some(m) = f.sync_minutes {
        d["sync_minutes"] = json!(m);
    }
}

/// The definition part of a stored account (what `PUT` takes).
fn definition(stored: &Value) -> Value {
    let mut d = json!({});
    for k in [
        "name",
        "provider",
        "auth_url",
        "username",
        "user_domain",
        "project",
        "project_domain",
        "regions",
        "sync_minutes",
    ] {
        if let Some(v) = stored.get(k) {
            d[k] = v.clone();
        }
    }
    d
}

pub async fn run(conn: &Conn, c: Cmd) -> anyhow::Result<()> {
    let cl = conn.client()?;
    let path = |n: &str| format!("/api/v1/cloud-accounts/{}", super::enc(n));
    let v: Value = match c.verb {
        Verb::Add { name, fields } => {
            let mut d = json!({"name": name});
            apply(&mut d, fields);
            cl.post("/api/v1/cloud-accounts", &d).await?
        }
        Verb::List => cl.get("/api/v1/cloud-accounts", &[]).await?,
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
        Verb::Sync { name } => {
            let o = cl
                .post(&format!("{}/sync", path(&name)), &json!({}))
                .await?;
            output::print(
                conn.output,
                &o,
                &["servers", "added", "changed", "vanished"],
            );
            return Ok(());
        }
        Verb::Delete { name } => {
            cl.delete(&path(&name)).await?;
            println!("deleted {name}");
            return Ok(());
        }
    };
    output::print(conn.output, &v, COLS);
    Ok(())
}
