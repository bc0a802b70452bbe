//! `coc silence …`: silences and maintenance windows (M3).

use anyhow::Context;
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
    /// Silence alarms whose labels match, e.g.
    /// `coc silence add alertname=DiskFull 'instance=~"web-.*"' --duration 2h --comment "disk swap"`.
    Add {
        /// Matchers: name=value, name!=value, name=~regex, name!~regex.
        #[arg(required = true)]
        matchers: Vec<String>,
        /// How long: 90m, 2h, 3d (or minutes). Or give --until.
        #[arg(long)]
        duration: Option<String>,
        /// Start, RFC 3339 (2026-11-29T22:00:00+01:00); now when absent.
        #[arg(long)]
        start: Option<String>,
        /// End, RFC 3339.
        #[arg(long)]
        until: Option<String>,
        /// Why (required).
        #[arg(long)]
        comment: String,
        /// A maintenance window: in force only on these weekdays (mon,tue,…).
        #[arg(long, value_delimiter = ',')]
        weekly: Vec<String>,
        /// Window opening, HH:MM local (with --weekly).
        #[arg(long, default_value = "00:00")]
        from: String,
        /// Window closing, HH:MM local (with --weekly; before --from: past midnight).
        #[arg(long, default_value = "00:00")]
        to: String,
        /// Time zone of the window (IANA name).
        #[arg(long, default_value = "UTC")]
        tz: String,
    },
    /// List silences (not expired; --expired includes the expired).
    List {
        /// Include expired silences.
        #[arg(long)]
        expired: bool,
    },
    /// Show a silence.
    Show { id: String },
    /// End a silence now.
    Expire { id: String },
    /// What these matchers would have muted among the alarms of the last
    /// days (before adding the silence).
    Replay {
        /// Matchers, as for `add`.
        #[arg(required = true)]
        matchers: Vec<String>,
        /// Days back (1 to 30).
        #[arg(long, default_value_t = 7)]
        days: u32,
    },
}

const COLS: &[&str] = &[
    "id",
    "state",
    "in_force",
    "matchers_text",
    "starts_at",
    "ends_at",
    "created_by",
    "comment",
];

/// Minutes of `90m`, `2h`, `3d`, `45` (minutes).
fn minutes(s: &str) -> anyhow::Result<i64> {
    let s = s.trim();
    let (n, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => (&s[..i], &s[i..]),
        None => (s, "m"),
    };
    let n: i64 = n
        .parse()
        .with_context(|| format!("'{s}' is not a duration (90m, 2h, 3d)"))?;
    let per = match unit {
        "m" | "min" => 1,
        "h" => 60,
        "d" => 1440,
        "w" => 10080,
        _ => anyhow::bail!("'{s}' is not a duration (90m, 2h, 3d)"),
    };
    Ok(n * per)
}

fn time(s: &str, what: &str) -> anyhow::Result<i64> {
    chrono::DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.timestamp_millis())
        .with_context(|| format!("--{what} '{s}' is not an RFC 3339 time (2026-11-29T22:00:00Z)"))
}

pub async fn run(conn: &Conn, c: Cmd) -> anyhow::Result<()> {
    let cl = conn.client()?;
    let v: Value = match c.verb {
        Verb::Add {
            matchers,
            duration,
            start,
            until,
            comment,
            weekly,
            from,
            to,
            tz,
        } => {
            let mut body = json!({"matchers": matchers, "comment": comment});
            if let Some(s) = start {
                body["starts_at"] = json!(time(&s, "start")?);
            }
            match (duration, until) {
                (Some(d), None) => body["duration_minutes"] = json!(minutes(&d)?),
                (None, Some(u)) => body["ends_at"] = json!(time(&u, "until")?),
                _ => anyhow::bail!("give either --duration or --until"),
            }
            if !weekly.is_empty() {
                body["weekly"] = json!({"days": weekly, "start": from, "end": to, "tz": tz});
            }
            cl.post("/api/v1/silences", &body).await?
        }
        Verb::List { expired } => {
            let q: Vec<(&str, String)> = if expired {
                vec![("expired", "true".into())]
            } else {
                vec![]
            };
            cl.get("/api/v1/silences", &q).await?
        }
        Verb::Show { id } => cl.get(&format!("/api/v1/silences/{id}"), &[]).await?,
        Verb::Expire { id } => {
            cl.post(&format!("/api/v1/silences/{id}/expire"), &json!({}))
                .await?
        }
        Verb::Replay { matchers, days } => {
            let v = cl
                .post(
                    "/api/v1/silences/replay",
                    &json!({"matchers": matchers, "days": days}),
                )
                .await?;
            output::print(conn.output, &v, &["alarms", "silenced", "sample"]);
            return Ok(());
        }
    };
    output::print(conn.output, &v, COLS);
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations() {
        assert_eq!(super::minutes("90m").unwrap(), 90);
        assert_eq!(super::minutes("2h").unwrap(), 120);
        assert_eq!(super::minutes("45").unwrap(), 45);
        assert_eq!(super::minutes("1d").unwrap(), 1440);
        assert!(super::minutes("soon").is_err());
        assert!(super::minutes("3y").is_err());
    }
}
