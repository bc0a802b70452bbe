//! The agent's command line, the same for `coc agent` and for the slim
//! `coc-agent` binary (which carries only the agent: R3's small footprint
//! on every host).

use std::path::PathBuf;

use crate::AgentConfig;

/// The agent's options.
#[derive(clap::Args, Debug)]
pub struct AgentArgs {
    /// Server URL; repeat it (or separate with commas) for the replicas of
    /// one server: the agent connects to the first and fails over to the
    /// next at its first reconnect.
    #[arg(long, env = "COC_SERVER", value_delimiter = ',', required = true)]
    pub server: Vec<String>,
    /// Agent enrollment token (`coc enrollment create`): needed on the first
    /// start only; afterwards the agent's own key identifies its host.
    #[arg(long, env = "COC_AGENT_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// File holding the enrollment token (instead of --token, so that it
    /// does not show in the process list).
    #[arg(long, env = "COC_AGENT_TOKEN_FILE", conflicts_with = "token")]
    pub token_file: Option<PathBuf>,
    /// PEM file of the CA that signed the server's TLS certificate
    /// (e.g. <data-dir>/tls/ca.pem of `coc dev --tls`); default: the
    /// system's trusted roots.
    #[arg(long, env = "COC_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
    /// Where the agent keeps its id, key, task markers and results.
    #[arg(
        long,
        env = "COC_AGENT_STATE_DIR",
        default_value = "/var/lib/coc-agent"
    )]
    pub state_dir: PathBuf,
    /// Seconds between looks at the ports this host listens on and the
    /// connections its processes hold (reported when they change); 0
    /// turns discovery off.
    #[arg(long, env = "COC_DISCOVERY_INTERVAL", default_value_t = 60)]
    pub discovery_interval: u64,
    /// Proxy access: reach the server through the proxy agent at
    /// HOST:PORT (its --proxy-listen), for a host that cannot reach the
    /// server. TLS and the agent's identity stay end to end with the
    /// server; --server still names the server (its certificate's name).
    #[arg(long, env = "COC_AGENT_PROXY", value_name = "HOST:PORT")]
    pub proxy: Option<String>,
    /// Proxy mode: also relay other agents' connections to the server from
    /// ADDRESS:PORT (a TCP relay for hosts that cannot reach the server).
    #[arg(long, env = "COC_AGENT_PROXY_LISTEN", value_name = "ADDRESS:PORT")]
    pub proxy_listen: Option<std::net::SocketAddr>,
    /// The package manager patch work drives: apt or dnf (default: apt
    /// where apt-get runs, else dnf).
    #[arg(long, env = "COC_PACKAGE_MANAGER", value_name = "apt|dnf")]
    pub package_manager: Option<String>,
    /// An option given to every dnf call of patch work
    /// (`--setopt=proxy=http://…`, `--installroot=DIR`); repeatable.
    #[arg(
        long = "dnf-option",
        value_name = "--NAME=VALUE",
        allow_hyphen_values = true
    )]
    pub dnf_options: Vec<String>,
}

impl AgentArgs {
    /// The agent's configuration: the enrollment token read from
    /// `--token-file` when given; discovery every `--discovery-interval`
    /// seconds (0: off).
    ///
    /// Errors: an unreadable token file; no server URL.
    pub fn config(self) -> Result<AgentConfig, String> {
        let token = match self.token_file {
            Some(p) => Some(
                std::fs::read_to_string(&p)
                    .map_err(|e| format!("cannot read {}: {e}", p.display()))?
                    .trim()
                    .to_string(),
            ),
            None => self.token,
        };
        let mut servers = self.server.into_iter();
        Ok(AgentConfig {
            server: servers
                .next()
                .ok_or("give the server's URL with --server")?,
            fallback_servers: servers.collect(),
            token,
            ca_cert: self.ca_cert,
            state_dir: self.state_dir,
            run_as_self: false,
            simulate_reboot: false,
            recorded_patches: None,
            discovery: (self.discovery_interval > 0)
                .then(|| std::time::Duration::from_secs(self.discovery_interval)),
            proxy: self.proxy,
            proxy_listen: self.proxy_listen,
            upgradable: true,
            patching: {
                let p = crate::patch::Patching {
                    manager: self.package_manager,
                    dnf_options: self.dnf_options,
                };
                p.check()?;
                p
            },
        })
    }
}

/// The `coc-agent` binary's command line.
#[derive(clap::Parser, Debug)]
#[command(name = "coc-agent", version, about = "The COC host agent")]
struct Cli {
    #[command(flatten)]
    agent: AgentArgs,
    /// Log lines as `text` or `json`.
    #[arg(long, env = "COC_LOG_FORMAT", default_value = "text")]
    log_format: String,
}

/// The `coc-agent` binary: parses its command line, logs, runs the agent
/// on one thread until killed.
pub fn main() -> std::process::ExitCode {
    // `coc-agent agent …` is `coc-agent …`: the command line of `coc
    // agent` works for both binaries, so an agent upgrades from one to the
    // other with its arguments unchanged.
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == "agent") {
        args.remove(1);
    }
    let cli = <Cli as clap::Parser>::parse_from(args);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let _ = if cli.log_format == "json" {
        logs.json().flatten_event(true).try_init()
    } else {
        logs.try_init()
    };
    let cfg = match cli.agent.config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    // One thread keeps the agent's idle memory low.
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(crate::run(cfg)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: the agent cannot start (state directory, key or CA file): {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
