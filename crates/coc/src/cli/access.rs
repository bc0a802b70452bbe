//! `coc user|group|policy|token|audit …` — access control (A1, A2, A5).

use clap::{Args, Subcommand};
use serde_json::json;

use super::{Conn, output, read_json};

#[derive(Args, Debug)]
pub struct UserCmd {
    #[command(subcommand)]
    verb: UserVerb,
}

#[derive(Subcommand, Debug)]
enum UserVerb {
    /// List users.
    List,
    /// Show a user with groups and policies.
    Show { name: String },
    /// Create a user (password from COC_NEW_PASSWORD, or none: token-only).
    Create {
        name: String,
        #[arg(long, default_value = "")]
        display_name: String,
    },
}

#[derive(Args, Debug)]
pub struct GroupCmd {
    #[command(subcommand)]
    verb: GroupVerb,
}

#[derive(Subcommand, Debug)]
enum GroupVerb {
    /// List groups.
    List,
    /// Show a group.
    Show { name: String },
    /// Create a group.
    Create {
        name: String,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Add a user.
    AddMember { group: String, user: String },
    /// Remove a user.
    RemoveMember { group: String, user: String },
}

#[derive(Args, Debug)]
pub struct PolicyCmd {
    #[command(subcommand)]
    verb: PolicyVerb,
}

#[derive(Subcommand, Debug)]
enum PolicyVerb {
    /// List policies.
    List,
    /// Show a policy document.
    Show { name: String },
    /// Create a custom policy from a JSON document file (`-` for stdin).
    Create {
        name: String,
        #[arg(long, short)]
        file: String,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Replace a custom policy's document.
    Update {
        name: String,
        #[arg(long, short)]
        file: String,
    },
    /// Delete a custom policy.
    Delete { name: String },
    /// Attach to a user (`--user`) or group (`--group`).
    Attach {
        name: String,
        #[arg(long, conflicts_with = "group")]
        user: Option<String>,
        #[arg(long)]
        group: Option<String>,
    },
    /// Detach from a user or group.
    Detach {
        name: String,
        #[arg(long, conflicts_with = "group")]
        user: Option<String>,
        #[arg(long)]
        group: Option<String>,
    },
    /// Would USER be allowed ACTION on RESOURCE? Names the deciding statement.
    Simulate {
        #[arg(long)]
        user: Option<String>,
        #[arg(long)]
        action: String,
        #[arg(long)]
        resource: Option<String>,
        /// Context key=value (repeat), e.g. coc:Region=r1.
        #[arg(long = "context")]
        context: Vec<String>,
    },
}

#[derive(Args, Debug)]
pub struct TokenCmd {
    #[command(subcommand)]
    verb: TokenVerb,
}

#[derive(Subcommand, Debug)]
enum TokenVerb {
    /// List tokens.
    List,
    /// Create a token (secret shown once).
    Create {
        name: String,
        /// Owner (default: you).
        #[arg(long)]
        user: Option<String>,
        /// Valid for this many days (default: no expiry).
        #[arg(long)]
        days: Option<i64>,
    },
    /// Revoke a token at once.
    Revoke { id: String },
}

#[derive(Args, Debug)]
pub struct AuditCmd {
    #[command(subcommand)]
    verb: AuditVerb,
}

#[derive(Subcommand, Debug)]
enum AuditVerb {
    /// Search the audit trail (newest first).
    List {
        #[arg(long)]
        user: Option<String>,
        #[arg(long)]
        trace: Option<String>,
        #[arg(long)]
        resource_type: Option<String>,
        #[arg(long)]
        since: Option<i64>,
        #[arg(long)]
        limit: Option<u32>,
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Print the whole trail as JSON lines.
    Export,
}

fn target(user: Option<String>, group: Option<String>) -> anyhow::Result<serde_json::Value> {
    match (user, group) {
        (Some(u), None) => Ok(json!({"type": "user", "name": u})),
        (None, Some(g)) => Ok(json!({"type": "group", "name": g})),
        _ => anyhow::bail!("give --user or --group"),
    }
}

fn enc(s: &str) -> String {
    s.replace(' ', "%20")
}

pub async fn user(conn: &Conn, c: UserCmd) -> anyhow::Result<()> {
    let cl = conn.client()?;
    let cols = &["name", "display_name", "enabled", "groups", "policies"];
    let v = match c.verb {
        UserVerb::List => cl.get("/api/v1/users", &[]).await?,
        UserVerb::Show { name } => {
            cl.get(&format!("/api/v1/users/{}", enc(&name)), &[])
                .await?
        }
        UserVerb::Create { name, display_name } => {
            let pw = std::env::var("COC_NEW_PASSWORD").ok();
            cl.post(
                "/api/v1/users",
                &json!({"name": name, "display_name": display_name, "password": pw}),
            )
            .await?
        }
    };
    output::print(conn.output, &v, cols);
    Ok(())
}

pub async fn group(conn: &Conn, c: GroupCmd) -> anyhow::Result<()> {
    let cl = conn.client()?;
    let v = match c.verb {
        GroupVerb::List => cl.get("/api/v1/groups", &[]).await?,
        GroupVerb::Show { name } => {
            cl.get(&format!("/api/v1/groups/{}", enc(&name)), &[])
                .await?
        }
        GroupVerb::Create { name, description } => {
            cl.post(
                "/api/v1/groups",
                &json!({"name": name, "description": description}),
            )
            .await?
        }
        GroupVerb::AddMember { group, user } => {
            cl.post(
                &format!("/api/v1/groups/{}/members", enc(&group)),
                &json!({"user": user}),
            )
            .await?
        }
        GroupVerb::RemoveMember { group, user } => {
            cl.delete(&format!(
                "/api/v1/groups/{}/members/{}",
                enc(&group),
                enc(&user)
            ))
            .await?
        }
    };
    output::print(
        conn.output,
        &v,
        &["name", "description", "members", "policies"],
    );
    Ok(())
}

pub async fn policy(conn: &Conn, c: PolicyCmd) -> anyhow::Result<()> {
    let cl = conn.client()?;
    let cols = &["name", "system", "description"];
    let v = match c.verb {
        PolicyVerb::List => cl.get("/api/v1/policies", &[]).await?,
        PolicyVerb::Show { name } => {
            let v = cl
                .get(&format!("/api/v1/policies/{}", enc(&name)), &[])
                .await?;
            if conn.output == super::Format::Text {
                println!("{}", serde_json::to_string_pretty(&v["document"])?);
                return Ok(());
            }
            v
        }
        PolicyVerb::Create {
            name,
            file,
            description,
        } => {
            cl.post(
                "/api/v1/policies",
                &json!({"name": name, "description": description, "document": read_json(&file)?}),
            )
            .await?
        }
        PolicyVerb::Update { name, file } => {
            cl.put(
                &format!("/api/v1/policies/{}", enc(&name)),
                &json!({"document": read_json(&file)?}),
            )
            .await?
        }
        PolicyVerb::Delete { name } => {
            cl.delete(&format!("/api/v1/policies/{}", enc(&name)))
                .await?;
            println!("deleted {name}");
            return Ok(());
        }
        PolicyVerb::Attach { name, user, group } => {
            cl.post(
                &format!("/api/v1/policies/{}/attach", enc(&name)),
                &target(user, group)?,
            )
            .await?
        }
        PolicyVerb::Detach { name, user, group } => {
            cl.post(
                &format!("/api/v1/policies/{}/detach", enc(&name)),
                &target(user, group)?,
            )
            .await?
        }
        PolicyVerb::Simulate {
            user,
            action,
            resource,
            context,
        } => {
            let mut ctx = serde_json::Map::new();
            for kv in context {
                let (k, v) = kv
                    .split_once('=')
                    .ok_or_else(|| anyhow::anyhow!("--context '{kv}' must be KEY=VALUE"))?;
                if let Some(a) = ctx
                    .entry(k.to_string())
                    .or_insert_with(|| json!([]))
                    .as_array_mut()
                {
                    a.push(json!(v));
                }
            }
            let v = cl
                .post(
                    "/api/v1/policies/simulate",
                    &json!({"user": user, "action": action, "resource": resource, "context": ctx}),
                )
                .await?;
            if conn.output == super::Format::Text {
                println!(
                    "{}: {}",
                    if v["allowed"] == true {
                        "ALLOW"
                    } else {
                        "DENY"
                    },
                    v["explanation"].as_str().unwrap_or("")
                );
                return Ok(());
            }
            v
        }
    };
    output::print(conn.output, &v, cols);
    Ok(())
}

pub async fn token(conn: &Conn, c: TokenCmd) -> anyhow::Result<()> {
    let cl = conn.client()?;
    let v = match c.verb {
        TokenVerb::List => cl.get("/api/v1/tokens", &[]).await?,
        TokenVerb::Create { name, user, days } => {
            let expires_at = days.map(|d| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|t| t.as_millis() as i64)
                    .unwrap_or(0)
                    + d * 86_400_000
            });
            let v = cl
                .post(
                    "/api/v1/tokens",
                    &json!({"name": name, "user": user, "expires_at": expires_at}),
                )
                .await?;
            output::print(
                conn.output,
                &v,
                &["id", "name", "user", "expires_at", "secret"],
            );
            return Ok(());
        }
        TokenVerb::Revoke { id } => {
            cl.delete(&format!("/api/v1/tokens/{id}")).await?;
            println!("revoked {id}");
            return Ok(());
        }
    };
    output::print(
        conn.output,
        &v,
        &[
            "id",
            "name",
            "user",
            "hint",
            "expires_at",
            "revoked_at",
            "last_used_at",
        ],
    );
    Ok(())
}

pub async fn audit(conn: &Conn, c: AuditCmd) -> anyhow::Result<()> {
    let cl = conn.client()?;
    match c.verb {
        AuditVerb::List {
            user,
            trace,
            resource_type,
            since,
            limit,
            cursor,
        } => {
            let mut q = Vec::new();
            for (k, v) in [
                ("user", user),
                ("trace", trace),
                ("resource_type", resource_type),
                ("cursor", cursor),
            ] {
                if let Some(v) = v {
                    q.push((k, v));
                }
            }
            if let Some(s) = since {
                q.push(("since", s.to_string()));
            }
            if let Some(l) = limit {
                q.push(("limit", l.to_string()));
            }
            let v = cl.get("/api/v1/audit", &q).await?;
            output::print(
                conn.output,
                &v,
                &[
                    "at",
                    "user_name",
                    "trace",
                    "resource_type",
                    "resource_id",
                    "status",
                    "result",
                ],
            );
        }
        AuditVerb::Export => {
            let v = cl.get("/api/v1/audit/export", &[]).await?;
            print!("{}", v.as_str().unwrap_or_default());
        }
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct GrantCmd {
    #[command(subcommand)]
    verb: GrantVerb,
}

#[derive(Subcommand, Debug)]
enum GrantVerb {
    /// List grants given by your tenant.
    List,
    /// O&M authorization: let TENANT/USER act here with POLICY for HOURS.
    Authorize {
        /// Support user as TENANT/USER.
        grantee: String,
        #[arg(long)]
        policy: String,
        #[arg(long, default_value_t = 24)]
        hours: i64,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Log sharing: let TENANT/USER read one log scope (audit or tickets).
    ShareLogs {
        grantee: String,
        #[arg(long)]
        scope: String,
        #[arg(long, default_value_t = 24)]
        hours: i64,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Revoke a grant at once.
    Revoke { id: String },
}

pub async fn grant(conn: &Conn, c: GrantCmd) -> anyhow::Result<()> {
    let cl = conn.client()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|t| t.as_millis() as i64)
        .unwrap_or(0);
    let split = |g: &str| -> anyhow::Result<(String, String)> {
        g.split_once('/')
            .map(|(t, u)| (t.to_string(), u.to_string()))
            .ok_or_else(|| anyhow::anyhow!("give the support user as TENANT/USER"))
    };
    let v = match c.verb {
        GrantVerb::List => cl.get("/api/v1/grants", &[]).await?,
        GrantVerb::Authorize {
            grantee,
            policy,
            hours,
            reason,
        } => {
            let (t, u) = split(&grantee)?;
            cl.post(
                "/api/v1/grants",
                &json!({"kind": "om_authorization", "grantee_tenant": t, "grantee_user": u,
                "policy": policy, "reason": reason, "expires_at": now + hours * 3_600_000}),
            )
            .await?
        }
        GrantVerb::ShareLogs {
            grantee,
            scope,
            hours,
            reason,
        } => {
            let (t, u) = split(&grantee)?;
            cl.post(
                "/api/v1/grants",
                &json!({"kind": "log_share", "grantee_tenant": t, "grantee_user": u,
                "scope": scope, "reason": reason, "expires_at": now + hours * 3_600_000}),
            )
            .await?
        }
        GrantVerb::Revoke { id } => {
            cl.delete(&format!("/api/v1/grants/{id}")).await?;
            println!("revoked {id}");
            return Ok(());
        }
    };
    output::print(
        conn.output,
        &v,
        &[
            "id",
            "kind",
            "grantee_tenant",
            "grantee_user",
            "scope",
            "expires_at",
            "revoked_at",
        ],
    );
    Ok(())
}
