//! The long-running roles: `coc server`, `coc agent` and `coc dev`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// Reads `<dir>/<name>` or creates it with 32 random bytes (hex), mode 0600.
pub fn token_file(dir: &Path, name: &str) -> anyhow::Result<String> {
    let p = dir.join(name);
    if let Ok(t) = std::fs::read_to_string(&p) {
        let t = t.trim().to_string();
        if !t.is_empty() {
            return Ok(t);
        }
    }
    let t = hex::encode(rand::random::<[u8; 32]>());
    std::fs::write(&p, &t).with_context(|| format!("cannot write {}", p.display()))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))?;
    Ok(t)
}

/// Log line format.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// `2026-11-28T10:00:00Z  INFO message key=value`.
    Text,
    /// `{"timestamp":…,"level":"INFO","fields":{"message":…,…}}`.
    Json,
}

/// The log format chosen on the command line (set once in `main`).
pub static LOG_FORMAT: std::sync::OnceLock<LogFormat> = std::sync::OnceLock::new();

/// Prints a line for the operator; a closed standard output (`coc dev |
/// head`, a reader that went away) is not a reason to stop the server.
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let _ = match LOG_FORMAT.get() {
        Some(LogFormat::Json) => b.json().flatten_event(true).try_init(),
        _ => b.try_init(),
    };
}

/// How the server speaks TLS.
pub enum Tls {
    /// Plain HTTP.
    Off,
    /// A certificate and key from PEM files.
    Files { cert: PathBuf, key: PathBuf },
    /// `coc dev --tls`: a CA of its own in `<data-dir>/tls`, with these
    /// extra names in the server certificate.
    Dev(Vec<String>),
}

/// Options shared by `server` and `dev`.
pub struct ServerOpts {
    pub tls: Tls,
    /// Where COC's own HTTP calls may go.
    pub egress: coc_domain::egress::Egress,
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub admin_token: Option<String>,
    pub heartbeat_ms: u64,
    /// Days an `ok` alarm is kept after it was last seen (0: forever).
    pub alarm_retention_days: u32,
    pub with_agent: bool,
    /// Key-encryption key for sensitive values (64 hex); default: `<data-dir>/secret.key`.
    pub secret_key: Option<String>,
    /// Password of the first `admin` user (generated and printed once if absent).
    pub admin_password: Option<String>,
    /// Channel settings (SMTP, SMS gateway, public URL).
    pub notify: coc_server::NotifyConfig,
}

/// Opens the store of a data dir: the database (`database_url`, or SQLite
/// in the dir) with the secret key (`secret_key`, or `<dir>/secret.key`,
/// created on first use). Returns the store and the canonical dir.
pub async fn open_store(
    data_dir: &Path,
    database_url: Option<&str>,
    secret_key: Option<&str>,
) -> anyhow::Result<(coc_store::Store, PathBuf)> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create data dir {}", data_dir.display()))?;
    let data_dir = data_dir.canonicalize()?;
    // Tokens, keys and the database: only the server's user (0700).
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot make {} private", data_dir.display()))?;
    }
    let url = match database_url {
        Some(u) => u.to_string(),
        None => format!("sqlite://{}", data_dir.join("coc.db").display()),
    };
    let keyring = match secret_key {
        Some(k) => coc_store::secret::Keyring::from_hex(k).context("COC_SECRET_KEY")?,
        None => {
            let p = data_dir.join("secret.key");
            match std::fs::read_to_string(&p) {
                Ok(k) => coc_store::secret::Keyring::from_hex(&k)
                    .with_context(|| format!("{}", p.display()))?,
                Err(_) => {
                    let k = coc_store::secret::Keyring::random();
                    std::fs::write(&p, k.to_hex())
                        .with_context(|| format!("cannot write {}", p.display()))?;
                    use std::os::unix::fs::PermissionsExt;
                    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))?;
                    k
                }
            }
        }
    };
    let store = coc_store::Store::open(&url, keyring)
        .await
        .with_context(|| format!("cannot open the database {}", coc_store::redact_url(&url)))?;
    Ok((store, data_dir))
}

/// `coc tenant create NAME`: a new tenant with its system policies and an
/// `admin` user; prints the admin's password and an API token once.
pub async fn tenant_create(
    name: &str,
    data_dir: &Path,
    database_url: Option<&str>,
    secret_key: Option<&str>,
) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    anyhow::ensure!(
        ok,
        "tenant name must be 1 to 64 of letters, digits, '-', '_'"
    );
    let (store, _) = open_store(data_dir, database_url, secret_key).await?;
    anyhow::ensure!(
        !store.list_tenants().await?.iter().any(|t| t == name),
        "tenant '{name}' already exists"
    );
    let token = format!("coc_{}", hex::encode(rand::random::<[u8; 24]>()));
    let b = store.bootstrap(name, &token, None).await?;
    println!("tenant '{name}' created");
    println!(
        "admin password: {}",
        b.generated_password.unwrap_or_default()
    );
    println!("admin API token: {token}");
    println!("(both shown once)");
    Ok(())
}

/// `coc tenant list`.
pub async fn tenant_list(
    data_dir: &Path,
    database_url: Option<&str>,
    secret_key: Option<&str>,
) -> anyhow::Result<()> {
    let (store, _) = open_store(data_dir, database_url, secret_key).await?;
    for t in store.list_tenants().await? {
        println!("{t}");
    }
    Ok(())
}

/// Runs the server (and, for `dev`, a local agent) until Ctrl-C.
pub async fn server(o: ServerOpts) -> anyhow::Result<()> {
    init_logs();
    let (store, data_dir) = open_store(
        &o.data_dir,
        o.database_url.as_deref(),
        o.secret_key.as_deref(),
    )
    .await?;
    let admin = match o.admin_token {
        Some(t) => t,
        None => token_file(&data_dir, "admin.token")?,
    };
    let mut dev_ca = None;
    let tls = match &o.tls {
        Tls::Off => None,
        Tls::Files { cert, key } => Some(coc_server::tls::load(cert, key)?),
        Tls::Dev(extra) => {
            let mut names = extra.clone();
            if !o.listen.ip().is_unspecified() {
                names.push(o.listen.ip().to_string());
            }
            if let Ok(h) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
                names.push(h.trim().to_string());
            }
            names.retain(|n| !n.is_empty());
            let c = coc_server::tls::dev_certificates(&data_dir.join("tls"), &names)?;
            let t = coc_server::tls::load(&c.cert, &c.key)?;
            dev_ca = Some(c.ca);
            Some(t)
        }
    };
    let cfg = coc_server::ServerConfig {
        tls,
        egress: o.egress.clone(),
        listen: o.listen,
        admin_token: admin.clone(),
        heartbeat_ms: o.heartbeat_ms,
        alarm_retention_days: o.alarm_retention_days,
        admin_password: o.admin_password.clone(),
        notify: o.notify.clone(),
    };
    // `coc dev` enrolls its own agent with a one-time token when its key
    // is not bound to a host yet.
    let local_agent = if o.with_agent {
        Some(local_enrollment(&store, &data_dir.join("agent")).await?)
    } else {
        None
    };
    let running = coc_server::start(cfg, store)
        .await
        .with_context(|| format!("cannot listen on {}", o.listen))?;
    let url = running.url();
    say!("COC is running: console {url}/  API {url}/api/v1  (OpenAPI {url}/api/v1/openapi.json)");
    if let Some(ca) = &dev_ca {
        say!(
            "TLS with a CA of its own: agents and the CLI trust it with --ca-cert {}",
            ca.display()
        );
    }
    say!(
        "admin API token: {}",
        data_dir.join("admin.token").display()
    );
    // The CLI from any directory (the token stays in its file, out of
    // this output and of shell history).
    let token_path = std::fs::canonicalize(data_dir.join("admin.token"))
        .unwrap_or_else(|_| data_dir.join("admin.token"));
    say!("use the CLI from any directory:");
    say!(
        "  export COC_SERVER={url} COC_TOKEN_FILE={}",
        token_path.display()
    );
    if let Some(pw) = &running.bootstrap.generated_password {
        // Never on stdout: it would end up in logs.
        let p = data_dir.join("admin.password");
        private_file(&p, pw)?;
        say!(
            "created user 'admin'; its password is in {} (set COC_ADMIN_PASSWORD to choose it)",
            p.display()
        );
    }
    say!("agents enroll with a token from `coc enrollment create NAME --uses N`");
    if let Some(token) = local_agent {
        let is_root = unsafe { libc::geteuid() } == 0;
        // The local agent dials loopback when the server listens on every
        // address (the certificate names 127.0.0.1, not 0.0.0.0).
        let mut local = running.addr;
        if local.ip().is_unspecified() {
            local.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        let scheme = if dev_ca.is_some() { "https" } else { "http" };
        let acfg = coc_agent::AgentConfig {
            server: format!("{scheme}://{local}"),
            fallback_servers: vec![],
            token,
            ca_cert: dev_ca.clone(),
            state_dir: data_dir.join("agent"),
            run_as_self: !is_root,
            simulate_reboot: true,
            recorded_patches: None,
            patching: Default::default(),
            proxy: None,
            proxy_listen: None,
            upgradable: false,
            discovery: Some(std::time::Duration::from_secs(60)),
        };
        if !is_root {
            say!("dev agent: not root, so scripts run as the current user");
        }
        tokio::spawn(async move {
            if let Err(e) = coc_agent::run(acfg).await {
                tracing::error!(error = %e, "local agent stopped");
            }
        });
    }
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = sigterm() => {}
    }
    say!("shutting down");
    running.shutdown().await;
    Ok(())
}

async fn sigterm() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut s) => {
            s.recv().await;
        }
        Err(_) => std::future::pending::<()>().await,
    }
}

/// The enrollment token `coc dev`'s own agent needs: none when its key is
/// bound to a host already; else a one-time token (valid 1 hour). A host
/// the dev agent registered before agent keys existed is opened for
/// re-enrollment first (dev mode is its own operator).
async fn local_enrollment(
    store: &coc_store::Store,
    agent_dir: &Path,
) -> anyhow::Result<Option<String>> {
    use coc_domain::agent::{IdentityAction, IdentityState};
    let tenant = coc_domain::DEFAULT_TENANT;
    let identity = coc_agent::identity::Identity::load_or_create(agent_dir)
        .with_context(|| format!("agent state in {}", agent_dir.display()))?;
    if store
        .host_by_agent_key(identity.public_key())
        .await?
        .is_some()
    {
        return Ok(None);
    }
    let now = coc_store::now_ms();
    let agent_id = coc_agent::agent_id(agent_dir)?;
    if let Some((host, state)) = store.host_by_agent_id(tenant, &agent_id).await?
        && state != IdentityState::Active
    {
        store
            .set_agent_identity(tenant, &host, IdentityAction::Reenroll, now)
            .await?;
    }
    let (_, secret) = store
        .create_enrollment(tenant, "coc dev local agent", 1, 1, now)
        .await?;
    Ok(Some(secret))
}

/// Writes `text` into a new file only its owner can read (0600).
pub fn private_file(p: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::remove_file(p);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(p)
        .with_context(|| format!("cannot write {}", p.display()))?;
    f.write_all(text.as_bytes())?;
    Ok(())
}

/// Runs an agent until killed.
pub async fn agent(cfg: Result<coc_agent::AgentConfig, String>) -> anyhow::Result<()> {
    init_logs();
    let cfg = cfg.map_err(|e| anyhow::anyhow!(e))?;
    coc_agent::run(cfg)
        .await
        .context("the agent cannot start (state directory, key or CA file)")?;
    Ok(())
}
