//! `coc alarm …`

use clap::{Args, Subcommand};
use serde_json::json;

use super::{Conn, output};

#[derive(Args, Debug)]
pub struct Cmd {
    #[command(subcommand)]
    verb: Verb,
}

#[derive(Subcommand, Debug)]
enum Verb {
    /// List alarms (newest first).
    List {
        /// alarm or ok.
        #[arg(long)]
        status: Option<String>,
        /// Critical, Major, Minor, Suggestion.
        #[arg(long)]
        level: Option<String>,
        /// Name contains.
        #[arg(long)]
        name: Option<String>,
        /// Alarm source.
        #[arg(long)]
        source: Option<String>,
        /// The resource's name or id contains.
        #[arg(long)]
        resource: Option<String>,
        /// Label key=value, exactly (repeat: all must match).
        #[arg(long = "label")]
        labels: Vec<String>,
        /// Only alarms muted by a silence (true) or only the others (false).
        #[arg(long)]
        silenced: Option<bool>,
        /// last_seen ≥ since (Unix ms).
        #[arg(long)]
        since: Option<i64>,
        /// last_seen < until (Unix ms).
        #[arg(long)]
        until: Option<i64>,
        /// Page size (≤ 1000).
        #[arg(long)]
        limit: Option<u32>,
        /// Cursor from the previous page.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Show an alarm.
    Show { id: String },
    /// An alarm's history.
    History { id: String },
    /// Original alarms: an alarm's latest occurrences as received (≤ 20).
    Occurrences { id: String },
    /// Clear alarms with a remark (≤ 100 characters).
    Clear {
        /// Alarm ids.
        #[arg(required = true)]
        ids: Vec<String>,
        /// Remark.
        #[arg(long)]
        remark: String,
    },
    /// Handle an alarm: run a script or a job (by name) on its host.
    Handle {
        /// Alarm id.
        id: String,
        /// The script to run (name or id).
        #[arg(long, conflicts_with = "job", required_unless_present = "job")]
        script: Option<String>,
        /// The job to run (name or id).
        #[arg(long)]
        job: Option<String>,
        /// Parameter NAME=value (repeat).
        #[arg(long = "param")]
        params: Vec<String>,
        /// A script's user on the host.
        #[arg(long)]
        run_as: Option<String>,
    },
    /// Convert alarms of one region to an incident.
    Convert {
        /// Alarm ids.
        #[arg(required = true)]
        ids: Vec<String>,
        /// Incident title.
        #[arg(long)]
        title: String,
        /// P1..P5.
        #[arg(long, default_value = "P3")]
        level: String,
        /// Owner.
        #[arg(long)]
        assignee: String,
        /// Description.
        #[arg(long, default_value = "")]
        description: String,
    },
}

const COLS: &[&str] = &[
    "id",
    "name",
    "level",
    "status",
    "occurrences",
    "source",
    "resource_name",
    "region",
    "incident.number",
    "silenced_by",
];

pub async fn run(conn: &Conn, c: Cmd) -> anyhow::Result<()> {
    let cl = conn.client()?;
    match c.verb {
        Verb::List {
            status,
            level,
            name,
            source,
            resource,
            labels,
            silenced,
            since,
            until,
            limit,
            cursor,
        } => {
            let mut q = Vec::new();
            let labels = (!labels.is_empty()).then(|| labels.join(","));
            let silenced = silenced.map(|b| b.to_string());
            for (k, v) in [
                ("status", status),
                ("level", level),
                ("name", name),
                ("source", source),
                ("resource", resource),
                ("labels", labels),
                ("silenced", silenced),
                ("cursor", cursor),
            ] {
                if let Some(v) = v {
                    q.push((k, v));
                }
            }
            for (k, v) in [("since", since), ("until", until)] {
                if let Some(v) = v {
                    q.push((k, v.to_string()));
                }
            }
            if let Some(l) = limit {
                q.push(("limit", l.to_string()));
            }
            output::print(conn.output, &cl.get("/api/v1/alarms", &q).await?, COLS);
        }
        Verb::Show { id } => output::print(
            conn.output,
            &cl.get(&format!("/api/v1/alarms/{id}"), &[]).await?,
            &[
                "id",
                "fingerprint",
                "name",
                "level",
                "status",
                "occurrences",
                "first_seen",
                "last_seen",
                "source",
                "resource_id",
                "resource_name",
                "region",
                "application",
                "description",
                "url",
                "labels",
                "silenced_by",
            ],
        ),
        Verb::History { id } => output::print(
            conn.output,
            &cl.get(&format!("/api/v1/alarms/{id}/history"), &[]).await?,
            &["at", "kind", "status", "actor", "detail"],
        ),
        Verb::Occurrences { id } => output::print(
            conn.output,
            &cl.get(&format!("/api/v1/alarms/{id}/occurrences"), &[])
                .await?,
            &[
                "number",
                "received_at",
                "occurred_at",
                "status",
                "level",
                "description",
            ],
        ),
        Verb::Clear { ids, remark } => output::print(
            conn.output,
            &cl.post(
                "/api/v1/alarms/clear",
                &json!({"ids": ids, "remark": remark}),
            )
            .await?,
            COLS,
        ),
        Verb::Handle {
            id,
            script,
            job,
            params,
            run_as,
        } => {
            let mut p = serde_json::Map::new();
            for kv in &params {
                let (k, v) = kv
                    .split_once('=')
                    .ok_or_else(|| anyhow::anyhow!("--param '{kv}' must be NAME=value"))?;
                p.insert(k.to_string(), json!(v));
            }
            let mut body = json!({"params": p});
            if let Some(s) = script {
                body["script"] = json!(s);
            }
            if let Some(j) = job {
                body["job"] = json!(j);
            }
            if let Some(r) = run_as {
                body["run_as"] = json!(r);
            }
            output::print(
                conn.output,
                &cl.post(&format!("/api/v1/alarms/{id}/handle"), &body)
                    .await?,
                &["kind", "number", "ticket_id", "hosts"],
            );
        }
        Verb::Convert {
            ids,
            title,
            level,
            assignee,
            description,
        } => {
            let body = json!({"alarm_ids": ids, "incident": {"title": title, "level": level, "assignee": assignee, "description": description}});
            output::print(
                conn.output,
                &cl.post("/api/v1/alarms/convert", &body).await?,
                super::incident::DETAIL,
            );
        }
    }
    Ok(())
}
