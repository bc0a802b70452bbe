//! The command tree. Client verbs talk to the REST API through
//! [`coc_client::Client`]; every one accepts `-o json`.

mod access;
mod agent;
mod agent_install;
mod agent_upgrade;
mod alarm;
mod application;
mod cloud;
mod drift;
mod health;
mod incident;
mod inhibition;
mod integration;
mod job;
mod notify;
mod oncall;
mod output;
mod parameter;
mod patch;
mod resource;
mod resource_op;
mod rule;
mod schedule;
mod script;
mod silence;
mod ticket;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};

/// COC — self-hosted Cloud Operations Center.
#[derive(Parser, Debug)]
#[command(name = "coc", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub conn: Conn,
    #[command(subcommand)]
    pub command: Command,
}

/// Output format of client commands.
#[derive(Copy, Clone, Debug, ValueEnum, PartialEq, Eq, Default)]
pub enum Format {
    /// Human-readable text.
    #[default]
    Text,
    /// The API's JSON.
    Json,
}

/// Connection flags of client commands.
#[derive(Args, Debug, Clone)]
pub struct Conn {
    /// Server URL.
    #[arg(
        long,
        env = "COC_SERVER",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub server: String,
    /// API token; default: the contents of --token-file, else of
    /// ./coc-data/admin.token.
    #[arg(long, env = "COC_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
    /// A file holding the API token (keeps it out of the environment and
    /// of shell history), e.g. the data dir's admin.token.
    #[arg(long = "api-token-file", env = "COC_TOKEN_FILE", global = true)]
    pub token_path: Option<PathBuf>,
    /// PEM file of the CA that signed an `https://` server's certificate
    /// (`coc dev --tls`: <data-dir>/tls/ca.pem); default: ./coc-data/tls/ca.pem
    /// when it exists, else the system's roots.
    #[arg(long, env = "COC_CA_CERT", global = true)]
    pub ca_cert: Option<PathBuf>,
    /// Act in another tenant through an O&M authorization it granted you.
    #[arg(long, env = "COC_TENANT", global = true)]
    pub tenant: Option<String>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Text, global = true)]
    pub output: Format,
    /// Log format of `server`, `dev` and `agent`: human text, or one JSON
    /// object per line (for Loki, Elasticsearch, journald forwarders).
    #[arg(long, value_enum, env = "COC_LOG_FORMAT", default_value_t = crate::run::LogFormat::Text, global = true)]
    pub log_format: crate::run::LogFormat,
}

impl Conn {
    pub fn client(&self) -> anyhow::Result<coc_client::Client> {
        let token = match (&self.token, &self.token_path) {
            (Some(t), _) => t.clone(),
            (None, Some(p)) => std::fs::read_to_string(p)
                .map(|s| s.trim().to_string())
                .with_context(|| format!("cannot read the token file {}", p.display()))?,
            (None, None) => std::fs::read_to_string("coc-data/admin.token")
                .map(|s| s.trim().to_string())
                .context(
                    "no token: pass --token or set COC_TOKEN or COC_TOKEN_FILE (or run next to ./coc-data)",
                )?,
        };
        // Next to a `coc dev --tls` data dir, its CA is the default.
        let dev_ca = PathBuf::from("coc-data/tls/ca.pem");
        let ca = self
            .ca_cert
            .clone()
            .or_else(|| (self.server.starts_with("https://") && dev_ca.exists()).then_some(dev_ca));
        let client = match &ca {
            Some(p) => {
                let pem =
                    std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?;
                coc_client::Client::with_ca(&self.server, &token, &pem)
                    .with_context(|| format!("{} holds no CA certificate", p.display()))?
            }
            None => coc_client::Client::new(&self.server, &token)?,
        };
        Ok(client.with_tenant(self.tenant.clone()))
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Server + local agent + embedded SQLite in a data dir.
    Dev(DevArgs),
    /// The control plane (REST API, ingest, agent gateway, engine).
    Server(ServerArgs),
    /// The host agent: dials the server and runs scripts.
    Agent(coc_agent::cli::AgentArgs),
    // Feature M1.
    /// Monitoring integrations.
    Integration(integration::Cmd),
    // Feature I1.
    /// Alarm center.
    Alarm(alarm::Cmd),
    // Feature I2.
    /// Forwarding rules.
    Rule(rule::Cmd),
    // Feature M3.
    /// Silences and maintenance windows: mute alarms by label matchers.
    Silence(silence::Cmd),
    /// Inhibition rules: a firing alarm mutes related ones.
    Inhibition(inhibition::Cmd),
    // Feature I3.
    /// Incidents.
    Incident(incident::Cmd),
    // Feature R1.
    /// Hosts and their agent identity: show, delete, revoke, re-enroll.
    Resource(resource::Cmd),
    // Feature R6.
    /// Applications: owner, modules and regions, by name.
    Application(application::Cmd),
    // Feature R2.
    /// Cloud accounts (OpenStack) whose servers are synchronized into the
    /// inventory, by name.
    Cloud(cloud::Cmd),
    // Feature R5.
    /// A host's desired state (packages, services, files under watch) and
    /// its drift from it, by host name.
    Drift(drift::Cmd),
    // Feature R3.
    /// Agent enrollment tokens: limited uses, an expiry.
    Enrollment(agent::Cmd),
    /// Install the agent on hosts over SSH from an installation host, in
    /// batches with a suspension threshold.
    AgentInstall(agent_install::Cmd),
    /// Remove agents installed by agent-install (each host's own agent
    /// removes itself).
    AgentUninstall(agent_install::UninstallCmd),
    /// Agent builds (uploaded executables, by version) to upgrade to.
    AgentBuild(agent_upgrade::BuildCmd),
    /// Upgrade hosts' agents to a build, in batches with a suspension
    /// threshold; each rolls back when the new build does not connect.
    AgentUpgrade(agent_upgrade::UpgradeCmd),
    // Feature X1, X2.
    /// Scripts.
    Script(script::Cmd),
    // Feature X7.
    /// Script tickets.
    Ticket(ticket::Cmd),
    // Feature X3, X4.
    /// Jobs: steps of tasks run on hosts.
    Job(job::Cmd),
    // Feature ref. 10.1.2.
    /// Job tickets.
    JobTicket(job::TicketCmd),
    // Feature A1.
    /// Users.
    User(access::UserCmd),
    // Feature A1.
    /// Groups.
    Group(access::GroupCmd),
    // Feature A2, A3.
    /// IAM-style policies and the simulator.
    Policy(access::PolicyCmd),
    // Feature A1.
    /// Personal API tokens.
    Token(access::TokenCmd),
    // Feature A5.
    /// The audit trail.
    Audit(access::AuditCmd),
    // Feature A6.
    /// O&M authorization and log sharing.
    Grant(access::GrantCmd),
    // Feature O2.
    /// On call: schedules, rotations, overrides, who is on call, the calendar and its feeds.
    Oncall(oncall::Cmd),
    // Feature O1.
    /// O&M engineers: alias, contact channels, subscriptions.
    Engineer(notify::EngineerCmd),
    // Feature O3, O4.
    /// Notification rules, the delivery log, test messages.
    Notification(notify::NotificationCmd),
    // Feature I7.
    /// Escalation policies.
    #[command(subcommand)]
    Escalation(notify::DocVerb),
    // Feature X5.
    /// Scheduled O&M tasks.
    Schedule(schedule::Cmd),
    // Feature X6.
    /// The parameter center.
    Parameter(parameter::Cmd),
    // Feature S4.
    /// Emergency plans: automation and document plans.
    #[command(subcommand)]
    Plan(notify::DocVerb),
    // Feature P1.
    /// Patch baselines: which patches scans report and repairs install
    /// (one per OS family is there from the start), by name.
    #[command(subcommand)]
    PatchBaseline(notify::DocVerb),
    // Feature P2, P3.
    /// Patches: scan, repair and roll back hosts, in batches with a
    /// suspension threshold; the compliance report.
    Patch(patch::Cmd),
    // Feature M7.
    /// Health checks: check hosts and COC against thresholds, read and
    /// export the report (HTML, CSV, JSON).
    HealthCheck(health::Cmd),
    // Feature P4.
    /// Start, stop or restart databases through their hosts' service
    /// managers, in batches with a suspension threshold.
    ResourceOp(resource_op::Cmd),
    /// Start, stop, restart, reinstall or change the OS of hosts: through
    /// the cloud provider for cloud servers, a restart or stop through
    /// the agent otherwise; in batches with a suspension threshold.
    HostOp(resource_op::HostCmd),
    // Feature O5.
    /// SLAs and SLA records.
    #[command(subcommand)]
    Sla(notify::SlaVerb),
    // Feature A4.
    /// Tenants, administered on the server's own data dir or database.
    Tenant(TenantArgs),
}

#[derive(Args, Debug)]
pub struct DevArgs {
    /// Data directory (SQLite file, tokens, agent state).
    #[arg(long, env = "COC_DATA_DIR", default_value = "./coc-data")]
    pub data_dir: PathBuf,
    /// Listen address.
    #[arg(long, env = "COC_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Agent heartbeat interval, ms.
    #[arg(long, default_value_t = 5000)]
    pub heartbeat_ms: u64,
    /// Days an alarm that turned ok is kept after it was last seen; firing
    /// alarms and alarms of an incident are always kept. 0 keeps alarms
    /// forever.
    #[arg(long, env = "COC_ALARM_RETENTION_DAYS", default_value_t = 90)]
    pub alarm_retention_days: u32,
    /// Serve HTTPS with a certificate from a CA of its own, made on first
    /// use in <data-dir>/tls (agents and the CLI trust it with
    /// `--ca-cert <data-dir>/tls/ca.pem`).
    #[arg(long)]
    pub tls: bool,
    /// More names for that certificate (DNS names or IP addresses agents
    /// reach this machine by); localhost, 127.0.0.1, ::1, the listen
    /// address and the host name are always in.
    #[arg(long = "tls-name", requires = "tls")]
    pub tls_names: Vec<String>,
    #[command(flatten)]
    pub egress: EgressArgs,
    #[command(flatten)]
    pub notify: NotifyArgs,
}

/// Where COC's own HTTP calls (job HTTP atoms, webhooks, robots, the SMS
/// gateway) may go.
#[derive(Args, Debug, Clone)]
pub struct EgressArgs {
    /// Only these destinations: networks (10.0.0.0/8), addresses or host
    /// names (*.example.com); repeat or separate with commas. Also admits
    /// link-local and metadata addresses that are denied by default.
    #[arg(long = "egress-allow", env = "COC_EGRESS_ALLOW", value_delimiter = ',')]
    pub allow: Vec<String>,
    /// Never these destinations (wins over --egress-allow).
    #[arg(long = "egress-deny", env = "COC_EGRESS_DENY", value_delimiter = ',')]
    pub deny: Vec<String>,
}

impl EgressArgs {
    /// The policy. Errors: a malformed entry.
    pub fn policy(&self) -> anyhow::Result<coc_domain::egress::Egress> {
        Ok(coc_domain::egress::Egress::new(&self.allow, &self.deny)?)
    }
}

/// Channel settings of `coc server` and `coc dev` (ref. 11.3).
#[derive(Args, Debug, Clone)]
pub struct NotifyArgs {
    /// Base URL people reach COC at, used in subscription confirmation
    /// links (default: http://<listen>).
    #[arg(long, env = "COC_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// SMTP server for email: smtp://host:25, smtp://user:pass@host:587?tls=required
    /// (STARTTLS) or smtps://user:pass@host:465.
    #[arg(long, env = "COC_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// Sender of email.
    #[arg(long, env = "COC_SMTP_FROM", default_value = "COC <coc@localhost>")]
    pub smtp_from: String,
    /// SMS and voice gateway speaking the Twilio REST API (https://api.twilio.com or compatible).
    #[arg(long, env = "COC_SMS_GATEWAY_URL")]
    pub sms_gateway_url: Option<String>,
    /// Account SID of the gateway.
    #[arg(long, env = "COC_SMS_ACCOUNT_SID", default_value = "")]
    pub sms_account_sid: String,
    /// Auth token of the gateway.
    #[arg(
        long,
        env = "COC_SMS_AUTH_TOKEN",
        hide_env_values = true,
        default_value = ""
    )]
    pub sms_auth_token: String,
    /// Sender number (E.164) for SMS and voice.
    #[arg(long, env = "COC_SMS_FROM", default_value = "")]
    pub sms_from: String,
    /// Bound on one send on any channel, seconds (1–25: it ends inside
    /// the 30 s delivery lease, so a message is never sent by two senders
    /// at once).
    #[arg(long, env = "COC_SEND_TIMEOUT", default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=25))]
    pub send_timeout: u64,
}

impl NotifyArgs {
    /// The server's channel settings.
    pub fn config(&self) -> coc_server::NotifyConfig {
        coc_server::NotifyConfig {
            public_url: self.public_url.clone(),
            smtp_url: self.smtp_url.clone(),
            smtp_from: self.smtp_from.clone(),
            sms: self
                .sms_gateway_url
                .as_ref()
                .map(|u| coc_server::SmsGateway {
                    base_url: u.clone(),
                    account_sid: self.sms_account_sid.clone(),
                    auth_token: self.sms_auth_token.clone(),
                    from: self.sms_from.clone(),
                }),
            send_timeout_ms: Some(self.send_timeout * 1000),
        }
    }
}

#[derive(Args, Debug)]
pub struct ServerArgs {
    /// Database URL: postgres://… or sqlite://PATH (default: SQLite in the data dir).
    #[arg(long, env = "COC_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Data directory for tokens (and the SQLite file by default).
    #[arg(long, env = "COC_DATA_DIR", default_value = "./coc-data")]
    pub data_dir: PathBuf,
    /// Listen address.
    #[arg(long, env = "COC_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Admin API token (default: <data-dir>/admin.token, created if missing).
    #[arg(long, env = "COC_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Key that encrypts sensitive values at rest, 64 hex characters
    /// (default: <data-dir>/secret.key, created if missing). Keep it out of
    /// the database's backups.
    #[arg(long, env = "COC_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
    /// Password of the `admin` user created at first start (default: generated and printed once).
    #[arg(long, env = "COC_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,
    /// Agent heartbeat interval, ms.
    #[arg(long, default_value_t = 5000)]
    pub heartbeat_ms: u64,
    /// Days an alarm that turned ok is kept after it was last seen; firing
    /// alarms and alarms of an incident are always kept. 0 keeps alarms
    /// forever.
    #[arg(long, env = "COC_ALARM_RETENTION_DAYS", default_value_t = 90)]
    pub alarm_retention_days: u32,
    /// Serve HTTPS: the certificate chain (PEM).
    #[arg(long, env = "COC_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, env = "COC_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    #[command(flatten)]
    pub egress: EgressArgs,
    #[command(flatten)]
    pub notify: NotifyArgs,
}

#[derive(Args, Debug)]
pub struct TenantArgs {
    /// Database URL (default: SQLite in the data dir).
    #[arg(long, env = "COC_DATABASE_URL", hide_env_values = true, global = true)]
    pub database_url: Option<String>,
    /// The server's data directory.
    #[arg(
        long,
        env = "COC_DATA_DIR",
        default_value = "./coc-data",
        global = true
    )]
    pub data_dir: PathBuf,
    /// The server's secret key (default: <data-dir>/secret.key).
    #[arg(long, env = "COC_SECRET_KEY", hide_env_values = true, global = true)]
    pub secret_key: Option<String>,
    #[command(subcommand)]
    pub verb: TenantVerb,
}

#[derive(Subcommand, Debug)]
pub enum TenantVerb {
    /// Create a tenant with its admin user (password and token printed once).
    Create { name: String },
    /// List tenants.
    List,
}

pub async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Dev(a) => {
            crate::run::server(crate::run::ServerOpts {
                listen: a.listen,
                data_dir: a.data_dir,
                database_url: None,
                admin_token: None,
                heartbeat_ms: a.heartbeat_ms,
                alarm_retention_days: a.alarm_retention_days,
                tls: if a.tls {
                    crate::run::Tls::Dev(a.tls_names)
                } else {
                    crate::run::Tls::Off
                },
                with_agent: true,
                egress: a.egress.policy()?,
                secret_key: None,
                admin_password: std::env::var("COC_ADMIN_PASSWORD").ok(),
                notify: a.notify.config(),
            })
            .await
        }
        Command::Server(a) => {
            crate::run::server(crate::run::ServerOpts {
                listen: a.listen,
                data_dir: a.data_dir,
                database_url: a.database_url,
                admin_token: a.admin_token,
                heartbeat_ms: a.heartbeat_ms,
                alarm_retention_days: a.alarm_retention_days,
                tls: match (a.tls_cert, a.tls_key) {
                    (Some(cert), Some(key)) => crate::run::Tls::Files { cert, key },
                    _ => crate::run::Tls::Off,
                },
                with_agent: false,
                egress: a.egress.policy()?,
                secret_key: a.secret_key,
                admin_password: a.admin_password,
                notify: a.notify.config(),
            })
            .await
        }
        Command::Agent(a) => crate::run::agent(a.config()).await,
        Command::Integration(c) => integration::run(&cli.conn, c).await,
        Command::Silence(c) => silence::run(&cli.conn, c).await,
        Command::Inhibition(c) => inhibition::run(&cli.conn, c).await,
        Command::Alarm(c) => alarm::run(&cli.conn, c).await,
        Command::Rule(c) => rule::run(&cli.conn, c).await,
        Command::Incident(c) => incident::run(&cli.conn, c).await,
        Command::Engineer(c) => notify::run_engineer(&cli.conn, c).await,
        Command::Sla(v) => notify::run_sla(&cli.conn, v).await,
        Command::Plan(v) => {
            notify::run_doc(
                &cli.conn,
                "/api/v1/plans",
                &["id", "name", "application", "recovery_minutes"],
                v,
            )
            .await
        }
        Command::PatchBaseline(v) => {
            notify::run_doc(
                &cli.conn,
                "/api/v1/patch-baselines",
                &[
                    "name",
                    "os",
                    "products",
                    "rules.type",
                    "compliance_level",
                    "enabled",
                    "id",
                ],
                v,
            )
            .await
        }
        Command::Patch(c) => patch::run(&cli.conn, c).await,
        Command::HealthCheck(c) => health::run(&cli.conn, c).await,
        Command::ResourceOp(c) => resource_op::run(&cli.conn, c).await,
        Command::HostOp(c) => resource_op::run_hosts(&cli.conn, c).await,
        Command::Parameter(c) => parameter::run(&cli.conn, c).await,
        Command::Schedule(c) => schedule::run(&cli.conn, c).await,
        Command::Notification(c) => notify::run_notification(&cli.conn, c).await,
        Command::Escalation(v) => {
            notify::run_doc(
                &cli.conn,
                "/api/v1/escalation-policies",
                &["id", "name", "enabled", "applications", "repeat"],
                v,
            )
            .await
        }
        Command::Resource(c) => resource::run(&cli.conn, c).await,
        Command::Application(c) => application::run(&cli.conn, c).await,
        Command::Cloud(c) => cloud::run(&cli.conn, c).await,
        Command::AgentInstall(c) => agent_install::run(&cli.conn, c).await,
        Command::AgentUninstall(c) => agent_install::uninstall(&cli.conn, c).await,
        Command::AgentBuild(c) => agent_upgrade::build(&cli.conn, c).await,
        Command::AgentUpgrade(c) => agent_upgrade::upgrade(&cli.conn, c).await,
        Command::Drift(c) => drift::run(&cli.conn, c).await,
        Command::Enrollment(c) => agent::run(&cli.conn, c).await,
        Command::Script(c) => script::run(&cli.conn, c).await,
        Command::Ticket(c) => ticket::run(&cli.conn, c).await,
        Command::Job(c) => job::run(&cli.conn, c).await,
        Command::JobTicket(c) => job::run_ticket(&cli.conn, c).await,
        Command::User(c) => access::user(&cli.conn, c).await,
        Command::Group(c) => access::group(&cli.conn, c).await,
        Command::Policy(c) => access::policy(&cli.conn, c).await,
        Command::Token(c) => access::token(&cli.conn, c).await,
        Command::Audit(c) => access::audit(&cli.conn, c).await,
        Command::Grant(c) => access::grant(&cli.conn, c).await,
        Command::Oncall(c) => oncall::run(&cli.conn, c).await,
        Command::Tenant(t) => match t.verb {
            TenantVerb::Create { name } => {
                crate::run::tenant_create(
                    &name,
                    &t.data_dir,
                    t.database_url.as_deref(),
                    t.secret_key.as_deref(),
                )
                .await
            }
            TenantVerb::List => {
                crate::run::tenant_list(
                    &t.data_dir,
                    t.database_url.as_deref(),
                    t.secret_key.as_deref(),
                )
                .await
            }
        },
    }
}

/// Reads a JSON document from a file path or `-` (stdin).
pub fn read_json(path: &str) -> anyhow::Result<serde_json::Value> {
    let text = if path == "-" {
        std::io::read_to_string(std::io::stdin())?
    } else {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))?
    };
    serde_json::from_str(&text).with_context(|| format!("{path} is not valid JSON"))
}

/// `s` as one URL path segment: everything but unreserved characters
/// percent-encoded (a name may hold spaces or slashes).
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The id of the record of the list at `list` (an API path) whose name or
/// id is `given`; `what` names the kind in the error.
///
/// Errors: the API's, or "no {what} named '{given}'".
pub(crate) async fn id_by_name(
    cl: &coc_client::Client,
    list: &str,
    what: &str,
    given: &str,
) -> anyhow::Result<String> {
    let v = cl.get(list, &[]).await?;
    let items = v["items"]
        .as_array()
        .or(v.as_array())
        .cloned()
        .unwrap_or_default();
    items
        .iter()
        .find(|r| r["id"] == given || r["name"] == given)
        .and_then(|r| r["id"].as_str().map(str::to_string))
        .ok_or_else(|| anyhow::anyhow!("no {what} named '{given}'"))
}
