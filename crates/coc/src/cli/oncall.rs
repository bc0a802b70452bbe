//! `coc oncall …` — scheduling scenarios and "who is on call" (O2).

use clap::{Args, Subcommand};
use serde_json::json;

use super::{Conn, output, read_json};

#[derive(Args, Debug)]
pub struct Cmd {
    #[command(subcommand)]
    verb: Verb,
}

#[derive(Subcommand, Debug)]
enum Verb {
    /// List scenarios.
    List,
    /// Show a scenario (JSON).
    Show { scenario: String },
    /// Create a scenario from a JSON file (`-` for stdin).
    Create {
        #[arg(long, short)]
        file: String,
    },
    /// Replace a scenario from a JSON file.
    Update {
        scenario: String,
        #[arg(long, short)]
        file: String,
    },
    /// Delete a scenario.
    Delete { scenario: String },
    /// Clear local dates FROM..=TO (YYYY-MM-DD); past dates stay.
    Clear {
        scenario: String,
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
    },
    /// On-call rotations: add or replace one (one command sets up a
    /// weekly rotation), remove one.
    #[command(subcommand)]
    Rotation(RotationVerb),
    /// Calendar subscriptions (iCalendar URLs for calendar apps).
    #[command(subcommand)]
    Feed(FeedVerb),
    /// Someone covers a role (or a person) for a span.
    Override {
        #[arg(long)]
        scenario: String,
        #[arg(long)]
        role: String,
        /// The user who covers.
        #[arg(long)]
        person: String,
        /// The user covered; none: PERSON joins whoever is on call.
        #[arg(long)]
        covering: Option<String>,
        /// Start (RFC 3339, or YYYY-MM-DDTHH:MM in the scenario's zone).
        #[arg(long)]
        from: String,
        /// End (exclusive), as --from.
        #[arg(long)]
        until: String,
        /// The application whose schedule it changes; none: the global one.
        #[arg(long)]
        application: Option<String>,
    },
    /// Who is on call for a role, slot by slot, in the scenario's zone.
    Calendar {
        #[arg(long)]
        scenario: String,
        #[arg(long)]
        role: String,
        /// First instant (RFC 3339); default now.
        #[arg(long)]
        from: Option<String>,
        /// Days covered (1..=366).
        #[arg(long, default_value_t = 28)]
        days: i64,
        /// Application (its schedule); none: the global one.
        #[arg(long)]
        application: Option<String>,
        /// Region (application-dimension scenarios).
        #[arg(long)]
        region: Option<String>,
    },
    /// Who is on call for a role (now, or --at an RFC 3339 time).
    Who {
        #[arg(long)]
        scenario: String,
        #[arg(long)]
        role: String,
        /// Application (application-dimension scenarios).
        #[arg(long)]
        application: Option<String>,
        /// Region (application-dimension scenarios).
        #[arg(long)]
        region: Option<String>,
        #[arg(long)]
        at: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
enum FeedVerb {
    /// A new subscription URL (shown once): my shifts, or --scenario's.
    Create {
        #[arg(long)]
        scenario: Option<String>,
        #[arg(long)]
        role: Option<String>,
    },
    /// My subscriptions.
    List,
    /// Revoke one: its URL stops working.
    Revoke { id: String },
}

#[derive(Subcommand, Debug)]
enum RotationVerb {
    /// Add a rotation to a scenario (created when new), or replace the
    /// one of the same name.
    Add(Box<AddRotation>),
    /// Remove a rotation.
    Remove {
        scenario: String,
        name: String,
        /// The application whose schedule holds it; none: the global one.
        #[arg(long)]
        application: Option<String>,
    },
    /// Change a rotation's participants from a date on: someone joins,
    /// leaves or the order changes; the turn running then is kept.
    Change {
        /// Scenario name.
        scenario: String,
        /// Rotation name.
        name: String,
        /// First local date of the new list, YYYY-MM-DD (today or later).
        #[arg(long)]
        from: String,
        /// Participants in order, comma-separated user names.
        #[arg(long, value_delimiter = ',', required = true)]
        participants: Vec<String>,
        /// The application whose schedule holds it; none: the global one.
        #[arg(long)]
        application: Option<String>,
    },
}

/// `coc oncall rotation add`'s options.
#[derive(Args, Debug)]
struct AddRotation {
    /// Scenario name (a new one is created in --timezone).
    #[arg(long)]
    scenario: String,
    /// The role it staffs.
    #[arg(long, default_value = "oncall")]
    role: String,
    /// Rotation name.
    #[arg(long, default_value = "primary")]
    name: String,
    /// Participants in order, comma-separated user names.
    #[arg(long, value_delimiter = ',', required = true)]
    participants: Vec<String>,
    /// Turn length, in --unit.
    #[arg(long, default_value_t = 1)]
    length: u32,
    /// days or weeks.
    #[arg(long, default_value = "weeks")]
    unit: String,
    /// Weekday of the handoff (weekly turns): mon, tue, …
    #[arg(long)]
    handoff_day: Option<String>,
    /// Local time of the handoff, HH:MM.
    #[arg(long, default_value = "09:00")]
    handoff_time: String,
    /// First local date, YYYY-MM-DD.
    #[arg(long)]
    start: String,
    /// Local date it stops (at the handoff time), YYYY-MM-DD.
    #[arg(long)]
    until: Option<String>,
    /// Daily hours it covers, HH:MM-HH:MM (a layer over others).
    #[arg(long)]
    hours: Option<String>,
    /// Replaces the normal rotations for its span (a holiday week).
    #[arg(long)]
    temporary: bool,
    /// IANA zone of a new scenario (e.g. Europe/Berlin).
    #[arg(long)]
    timezone: Option<String>,
    /// The application whose schedule it staffs (the scenario then has the
    /// application dimension); none: the global schedule.
    #[arg(long)]
    application: Option<String>,
}

/// `HH:MM` as the API's `HH:MM:SS`.
fn hms(t: &str) -> String {
    if t.matches(':').count() == 1 {
        format!("{t}:00")
    } else {
        t.to_string()
    }
}

/// The query naming an application's schedule (`?application=…`), or
/// nothing for the global one.
fn of_application(application: &Option<String>) -> String {
    application
        .as_deref()
        .map(|a| format!("?application={}", super::enc(a)))
        .unwrap_or_default()
}

/// An instant as RFC 3339: given so, or a local `YYYY-MM-DDTHH:MM` in `tz`.
fn instant(t: &str, tz: &str) -> anyhow::Result<String> {
    if chrono::DateTime::parse_from_rfc3339(t).is_ok() {
        return Ok(t.to_string());
    }
    let zone: coc_domain::oncall::Tz = tz
        .parse()
        .map_err(|_| anyhow::anyhow!("unknown zone {tz}"))?;
    let local = chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M")
        .map_err(|_| anyhow::anyhow!("'{t}' is neither RFC 3339 nor YYYY-MM-DDTHH:MM"))?;
    Ok(coc_domain::oncall::resolve(zone, local).to_rfc3339())
}

/// A list of user names as shown: "ann, bob", or "(nobody)".
fn people(v: &serde_json::Value) -> String {
    let p: Vec<&str> = v
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p.as_str())
        .collect();
    if p.is_empty() {
        "(nobody)".to_string()
    } else {
        p.join(", ")
    }
}

/// Prints a calendar answer as `FROM  UNTIL  WHO` in its zone.
fn print_calendar(v: &serde_json::Value) {
    let zone: coc_domain::oncall::Tz = v["timezone"]
        .as_str()
        .unwrap_or("UTC")
        .parse()
        .unwrap_or_default();
    let show = |x: &serde_json::Value| {
        x.as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| {
                t.with_timezone(&zone)
                    .format("%a %Y-%m-%d %H:%M")
                    .to_string()
            })
            .unwrap_or_default()
    };
    println!(
        "{} · {} ({})",
        v["scenario"].as_str().unwrap_or(""),
        v["role"].as_str().unwrap_or(""),
        zone.name()
    );
    println!("{:<22}{:<22}ON CALL", "FROM", "UNTIL");
    for s in v["slots"].as_array().into_iter().flatten() {
        println!(
            "{:<22}{:<22}{}",
            show(&s["start"]),
            show(&s["end"]),
            people(&s["people"])
        );
    }
}

pub async fn run(conn: &Conn, c: Cmd) -> anyhow::Result<()> {
    let cl = conn.client()?;
    let cols = &["id", "name", "dimension", "roles"];
    let v = match c.verb {
        Verb::List => cl.get("/api/v1/oncall/scenarios", &[]).await?,
        Verb::Show { scenario } => {
            let v = cl
                .get(&format!("/api/v1/oncall/scenarios/{scenario}"), &[])
                .await?;
            println!("{}", serde_json::to_string_pretty(&v)?);
            return Ok(());
        }
        Verb::Create { file } => {
            cl.post("/api/v1/oncall/scenarios", &read_json(&file)?)
                .await?
        }
        Verb::Update { scenario, file } => {
            cl.put(
                &format!("/api/v1/oncall/scenarios/{scenario}"),
                &read_json(&file)?,
            )
            .await?
        }
        Verb::Delete { scenario } => {
            cl.delete(&format!("/api/v1/oncall/scenarios/{scenario}"))
                .await?;
            println!("deleted {scenario}");
            return Ok(());
        }
        Verb::Clear { scenario, from, to } => {
            cl.post(
                &format!("/api/v1/oncall/scenarios/{scenario}/clear"),
                &json!({"from": from, "to": to}),
            )
            .await?
        }
        Verb::Rotation(RotationVerb::Add(a)) => {
            let AddRotation {
                scenario,
                role,
                name,
                participants,
                length,
                unit,
                handoff_day,
                handoff_time,
                start,
                until,
                hours,
                temporary,
                timezone,
                application,
            } = *a;
            let window = match hours {
                Some(h) => {
                    let (a, b) = h
                        .split_once('-')
                        .ok_or_else(|| anyhow::anyhow!("--hours is HH:MM-HH:MM"))?;
                    json!({"start": hms(a.trim()), "end": hms(b.trim())})
                }
                None => serde_json::Value::Null,
            };
            let v = cl
                .post(
                    "/api/v1/oncall/rotations",
                    &json!({"scenario": scenario, "timezone": timezone, "name": name,
                        "role": role, "participants": participants, "length": length,
                        "unit": unit, "handoff_day": handoff_day,
                        "handoff_time": hms(&handoff_time), "start": start, "until": until,
                        "window": window, "temporary": temporary, "application": application}),
                )
                .await?;
            if conn.output == super::Format::Text {
                println!(
                    "rotation '{name}' saved in scenario '{}'",
                    v["name"].as_str().unwrap_or("")
                );
                return Ok(());
            }
            v
        }
        Verb::Rotation(RotationVerb::Remove {
            scenario,
            name,
            application,
        }) => {
            cl.delete(&format!(
                "/api/v1/oncall/scenarios/{}/rotations/{}{}",
                super::enc(&scenario),
                super::enc(&name),
                of_application(&application)
            ))
            .await?;
            println!("removed rotation '{name}' from '{scenario}'");
            return Ok(());
        }
        Verb::Rotation(RotationVerb::Change {
            scenario,
            name,
            from,
            participants,
            application,
        }) => {
            let v = cl
                .post(
                    &format!(
                        "/api/v1/oncall/scenarios/{}/rotations/{}/changes{}",
                        super::enc(&scenario),
                        super::enc(&name),
                        of_application(&application)
                    ),
                    &json!({"from": from, "participants": participants}),
                )
                .await?;
            println!(
                "rotation '{name}' of '{}' takes {} from {from} on",
                v["name"].as_str().unwrap_or(&scenario),
                participants.join(", ")
            );
            return Ok(());
        }
        Verb::Feed(FeedVerb::Create { scenario, role }) => {
            let v = cl
                .post(
                    "/api/v1/oncall/feeds",
                    &json!({"scenario": scenario, "role": role}),
                )
                .await?;
            if conn.output == super::Format::Text {
                println!("{}", v["url"].as_str().unwrap_or(""));
                eprintln!(
                    "(shown once: the URL is the secret; revoke with coc oncall feed revoke {})",
                    v["id"].as_str().unwrap_or("")
                );
                return Ok(());
            }
            v
        }
        Verb::Feed(FeedVerb::List) => {
            let v = cl.get("/api/v1/oncall/feeds", &[]).await?;
            output::print(
                conn.output,
                &v,
                &[
                    "id",
                    "scope.scenario",
                    "scope.role",
                    "scope.person",
                    "created_at",
                ],
            );
            return Ok(());
        }
        Verb::Feed(FeedVerb::Revoke { id }) => {
            cl.delete(&format!("/api/v1/oncall/feeds/{}", super::enc(&id)))
                .await?;
            println!("revoked {id}");
            return Ok(());
        }
        Verb::Override {
            scenario,
            role,
            person,
            covering,
            from,
            until,
            application,
        } => {
            let sc = cl
                .get(
                    &format!("/api/v1/oncall/scenarios/{}", super::enc(&scenario)),
                    &[],
                )
                .await?;
            let tz = sc["schedule"]["tz"].as_str().unwrap_or("UTC").to_string();
            cl.post(
                &format!(
                    "/api/v1/oncall/scenarios/{}/overrides{}",
                    super::enc(&scenario),
                    of_application(&application)
                ),
                &json!({"role": role, "person": person, "covering": covering,
                    "from": instant(&from, &tz)?, "until": instant(&until, &tz)?}),
            )
            .await?;
            println!("{person} covers {role} in '{scenario}' from {from} until {until}");
            return Ok(());
        }
        Verb::Calendar {
            scenario,
            role,
            from,
            days,
            application,
            region,
        } => {
            let mut q = vec![
                ("scenario", scenario),
                ("role", role),
                ("days", days.to_string()),
            ];
            for (k, v) in [
                ("from", from),
                ("application", application),
                ("region", region),
            ] {
                if let Some(v) = v {
                    q.push((k, v));
                }
            }
            let v = cl.get("/api/v1/oncall/calendar", &q).await?;
            if conn.output == super::Format::Text {
                print_calendar(&v);
                return Ok(());
            }
            v
        }
        Verb::Who {
            scenario,
            role,
            application,
            region,
            at,
        } => {
            let mut q = vec![("scenario", scenario), ("role", role)];
            for (k, v) in [("application", application), ("region", region), ("at", at)] {
                if let Some(v) = v {
                    q.push((k, v));
                }
            }
            let v = cl.get("/api/v1/oncall/who", &q).await?;
            if conn.output == super::Format::Text {
                println!("{}", people(&v["on_call"]));
                return Ok(());
            }
            v
        }
    };
    output::print(conn.output, &v, cols);
    Ok(())
}
