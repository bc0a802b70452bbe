//! Agent installation (R3, ref. 3.1.2 and table 3-1): installing the COC
//! agent on hosts over SSH from an *installation host* — a host whose
//! agent runs the common script [`SCRIPT_NAME`] once per target, copying
//! its own agent binary, writing the new agent's state (its agent id and
//! a one-time enrollment token) and starting it (a systemd unit where
//! systemd runs, else a detached process).
//!
//! Each target becomes a host before it is installed (its agent id is
//! chosen here and bound at its first connection), so an installation is
//! an ordinary script ticket of the one engine: targets in batches, with a
//! suspension threshold, each target's task delegated to the installation
//! host with the target's own parameters.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{DomainError, invalid};

/// Most targets of one installation.
pub const MAX_TARGETS: usize = 200;
/// The common script an installation runs.
pub const SCRIPT_NAME: &str = "COC-AGENT-INSTALL";
/// The common script that removes an agent installed by [`SCRIPT_NAME`]
/// (run on the host by that agent itself).
pub const UNINSTALL_SCRIPT_NAME: &str = "COC-AGENT-UNINSTALL";
/// Where the agent is installed when no directory is given.
pub const DEFAULT_INSTALL_DIR: &str = "/opt/coc-agent";
/// Longest private key, bytes.
pub const MAX_KEY_BYTES: usize = 16 * 1024;

/// How the installation host signs in to a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SshAuth {
    /// A password (`password`).
    #[default]
    Password,
    /// A private key in OpenSSH or PEM form (`private_key`).
    Key,
}

impl SshAuth {
    /// `password` or `key`.
    pub fn as_str(self) -> &'static str {
        match self {
            SshAuth::Password => "password",
            SshAuth::Key => "key",
        }
    }
}

fn default_port() -> u16 {
    22
}

fn default_login() -> String {
    "root".into()
}

/// A host to install on ("Hosts About to Accommodate UniAgent").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstallTarget {
    /// IP address or DNS name the installation host reaches it at.
    pub address: String,
    /// SSH port (default 22).
    #[serde(default = "default_port")]
    pub port: u16,
    /// Login account (default `root`; another account needs `sudo`-free
    /// write access to the install directory).
    #[serde(default = "default_login")]
    pub login: String,
    /// Password or key.
    #[serde(default)]
    pub auth: SshAuth,
    /// The password (`auth: password`); never answered or logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// The private key (`auth: key`); never answered or logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key: Option<String>,
}

/// An installation request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstallSpec {
    /// The host (id or name) whose agent signs in to the targets.
    pub installation_host: String,
    /// The hosts to install on (1..=[`MAX_TARGETS`]).
    pub targets: Vec<InstallTarget>,
    /// The server URL the new agents dial (default: this server's public
    /// URL).
    #[serde(default)]
    pub server: Option<String>,
    /// A proxy agent (`host:port`) the new agents reach the server
    /// through ("Proxy access").
    #[serde(default)]
    pub proxy: Option<String>,
    /// Where the agent is installed (default [`DEFAULT_INSTALL_DIR`]);
    /// its state is kept in `state/` under it.
    #[serde(default)]
    pub install_dir: Option<String>,
    /// Targets per batch (default: all in one).
    #[serde(default)]
    pub batch_size: Option<u32>,
    /// Suspension threshold: the success rate in % below which the
    /// installation stops before the next batch.
    #[serde(default)]
    pub success_rate_threshold: Option<f64>,
}

/// Characters allowed in values that go into the script's commands.
fn safe(what: &str, v: &str, extra: &str, max: usize) -> Result<(), DomainError> {
    if v.is_empty()
        || v.len() > max
        || !v
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
    {
        return Err(invalid(format!(
            "{what} '{v}' must be 1..={max} characters of letters, digits and {extra}"
        )));
    }
    Ok(())
}

impl InstallSpec {
    /// The request trimmed and checked; secrets kept as given.
    ///
    /// Errors: [`DomainError::Validation`] naming the first problem: no
    /// target or more than [`MAX_TARGETS`], an address, login, directory,
    /// server URL or proxy with characters a shell would read, port 0, a
    /// target without its password or key (or a key that is not one), the
    /// same address and port twice, a threshold outside 0–100.
    pub fn normalized(&self) -> Result<InstallSpec, DomainError> {
        if self.targets.is_empty() || self.targets.len() > MAX_TARGETS {
            return Err(invalid(format!(
                "an installation has 1..={MAX_TARGETS} targets"
            )));
        }
        let mut targets = Vec::with_capacity(self.targets.len());
        let mut seen = std::collections::BTreeSet::new();
        for t in &self.targets {
            let address = t.address.trim().to_string();
            safe("address", &address, ".-:[]_", 255)?;
            if t.port == 0 {
                return Err(invalid(format!(
                    "the SSH port of {address} must be 1-65535"
                )));
            }
            let login = t.login.trim().to_string();
            safe("login", &login, "._-", 32)?;
            let (password, private_key) = match t.auth {
                SshAuth::Password => {
                    let p = t
                        .password
                        .clone()
                        .filter(|p| !p.is_empty())
                        .ok_or_else(|| {
                            invalid(format!("the password of {login}@{address} is required"))
                        })?;
                    if p.len() > 256 || p.contains(['\n', '\r', '\0']) {
                        return Err(invalid(format!(
                            "the password of {login}@{address} must be one line of at most 256 bytes"
                        )));
                    }
                    (Some(p), None)
                }
                SshAuth::Key => {
                    let k = t
                        .private_key
                        .as_deref()
                        .map(|k| k.replace("\r\n", "\n").trim().to_string())
                        .filter(|k| !k.is_empty())
                        .ok_or_else(|| {
                            invalid(format!("the private key of {login}@{address} is required"))
                        })?;
                    if k.len() > MAX_KEY_BYTES || !k.starts_with("-----BEGIN ") {
                        return Err(invalid(format!(
                            "the private key of {login}@{address} must be a PEM or OpenSSH key (-----BEGIN …) of at most {MAX_KEY_BYTES} bytes"
                        )));
                    }
                    (None, Some(format!("{k}\n")))
                }
            };
            if !seen.insert((address.clone(), t.port)) {
                return Err(invalid(format!("{address}:{} is listed twice", t.port)));
            }
            targets.push(InstallTarget {
                address,
                port: t.port,
                login,
                auth: t.auth,
                password,
                private_key,
            });
        }
        let install_dir = self
            .install_dir
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .unwrap_or(DEFAULT_INSTALL_DIR)
            .trim_end_matches('/')
            .to_string();
        safe("install_dir", &install_dir, "/._-", 255)?;
        if !install_dir.starts_with('/')
            || install_dir.split('/').any(|c| c == "..")
            || install_dir == "/"
        {
            return Err(invalid(format!(
                "install_dir '{install_dir}' must be an absolute directory without '..'"
            )));
        }
        let server = self
            .server
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        if let Some(s) = &server {
            safe("server", s, ":/._-[],", 512)?;
            if !s
                .split(',')
                .all(|u| u.starts_with("http://") || u.starts_with("https://"))
            {
                return Err(invalid(format!(
                    "server '{s}' must be http:// or https:// URLs"
                )));
            }
        }
        let proxy = self
            .proxy
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        if let Some(p) = &proxy {
            safe("proxy", p, ".-:[]_", 255)?;
        }
        crate::ticket::check_batching(self.batch_size, self.success_rate_threshold)?;
        Ok(InstallSpec {
            installation_host: self.installation_host.trim().to_string(),
            targets,
            server,
            proxy,
            install_dir: Some(install_dir),
            batch_size: self.batch_size,
            success_rate_threshold: self.success_rate_threshold,
        })
    }
}

/// Where [`systemd_unit`]'s command goes: the script puts the command it
/// built for the target in its place.
pub const UNIT_COMMAND: &str = "@COMMAND@";

/// The systemd unit `coc-agent.service` an installation writes where
/// systemd runs: the agent started at boot and restarted 2 s after it
/// ended (an upgrade's rollback relies on that), `command` its
/// `ExecStart`.
pub fn systemd_unit(command: &str) -> String {
    format!(
        "[Unit]\nDescription=COC agent\nWants=network-online.target\nAfter=network-online.target\n\n\
         [Service]\nExecStart={command}\nRestart=always\nRestartSec=2\n\n\
         [Install]\nWantedBy=multi-user.target\n"
    )
}

/// The parameters of [`SCRIPT_NAME`] for one target of a normalized
/// request: where and how to sign in, the new agent's id and one-time
/// token, and what it dials.
pub fn target_params(
    spec: &InstallSpec,
    t: &InstallTarget,
    agent_id: &str,
    token: &str,
    server: &str,
) -> BTreeMap<String, String> {
    let mut p = BTreeMap::from([
        ("TARGET".to_string(), t.address.clone()),
        ("PORT".to_string(), t.port.to_string()),
        ("LOGIN".to_string(), t.login.clone()),
        ("AUTH".to_string(), t.auth.as_str().to_string()),
        ("AGENT_ID".to_string(), agent_id.to_string()),
        ("TOKEN".to_string(), token.to_string()),
        (
            "SERVER".to_string(),
            spec.server.clone().unwrap_or_else(|| server.to_string()),
        ),
        (
            "INSTALL_DIR".to_string(),
            spec.install_dir
                .clone()
                .unwrap_or_else(|| DEFAULT_INSTALL_DIR.into()),
        ),
        ("PROXY".to_string(), spec.proxy.clone().unwrap_or_default()),
        ("UNIT".to_string(), systemd_unit(UNIT_COMMAND)),
    ]);
    if let Some(pw) = &t.password {
        p.insert("PASSWORD".into(), pw.clone());
    }
    if let Some(k) = &t.private_key {
        p.insert("PRIVATE_KEY".into(), k.clone());
    }
    p
}

/// The script [`SCRIPT_NAME`] runs on the installation host (POSIX sh;
/// needs `ssh` there; the target needs `sh`; the binary goes through the
/// SSH channel, so no scp or SFTP is needed). Password sign-in
/// goes through `SSH_ASKPASS` (OpenSSH 8.4 or later), so no password is
/// ever on a command line; the target's host key is accepted on first
/// sight into a file of this run only.
pub const SCRIPT: &str = r#"#!/bin/sh
# Installs the COC agent on $LOGIN@$TARGET:$PORT over SSH (R3).
set -eu
BIN="${AGENT_BINARY:-${COC_AGENT_EXE:-}}"
if [ -z "$BIN" ] || [ ! -x "$BIN" ]; then
  echo "no agent binary to copy: this agent's own is not readable" >&2; exit 2
fi
command -v ssh >/dev/null 2>&1 || { echo "ssh is needed on the installation host" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 700 "$work"
COMMON="-o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=$work/known_hosts -o ConnectTimeout=15 -o LogLevel=ERROR"
if [ "$AUTH" = key ]; then
  printf '%s' "$PRIVATE_KEY" > "$work/key"
  chmod 600 "$work/key"
  SIGNIN="-i $work/key -o IdentitiesOnly=yes -o BatchMode=yes -o PasswordAuthentication=no"
else
  printf '#!/bin/sh\nprintf "%%s\\n" "$COC_SSH_PASSWORD"\n' > "$work/askpass"
  chmod 700 "$work/askpass"
  COC_SSH_PASSWORD="$PASSWORD"; export COC_SSH_PASSWORD
  SSH_ASKPASS="$work/askpass"; SSH_ASKPASS_REQUIRE=force; DISPLAY=coc:0
  export SSH_ASKPASS SSH_ASKPASS_REQUIRE DISPLAY
  SIGNIN="-o PubkeyAuthentication=no -o PreferredAuthentications=password,keyboard-interactive -o NumberOfPasswordPrompts=1"
fi
on_target() {
  # shellcheck disable=SC2086
  ssh $COMMON $SIGNIN -p "$PORT" "$LOGIN@$TARGET" "$@" < /dev/null
}
echo "signing in to $LOGIN@$TARGET:$PORT ($AUTH)"
on_target "uname -sm; mkdir -p '$INSTALL_DIR/state' && chmod 700 '$INSTALL_DIR/state'"
echo "copying $(basename "$BIN") to $INSTALL_DIR"
# Through the SSH channel itself: no scp or SFTP subsystem needed.
# shellcheck disable=SC2086
ssh $COMMON $SIGNIN -p "$PORT" "$LOGIN@$TARGET" "cat > '$INSTALL_DIR/coc-agent.new'" < "$BIN"
# The new agent's id and one-time token, through stdin (never a command line).
printf '%s' "$AGENT_ID" > "$work/agent_id"
printf '%s' "$TOKEN" > "$work/enroll.token"
# shellcheck disable=SC2086
ssh $COMMON $SIGNIN -p "$PORT" "$LOGIN@$TARGET" "umask 077; cat > '$INSTALL_DIR/state/agent_id'" < "$work/agent_id"
# shellcheck disable=SC2086
ssh $COMMON $SIGNIN -p "$PORT" "$LOGIN@$TARGET" "umask 077; cat > '$INSTALL_DIR/state/enroll.token'" < "$work/enroll.token"
VIA=""
[ -n "${PROXY:-}" ] && VIA="--proxy $PROXY"
on_target "set -e; cd '$INSTALL_DIR'; mv -f coc-agent.new coc-agent; chmod 755 coc-agent
SUB=''; if ./coc-agent agent --help >/dev/null 2>&1; then SUB=agent; fi
CMD=\"$INSTALL_DIR/coc-agent \$SUB --server $SERVER --token-file $INSTALL_DIR/state/enroll.token --state-dir $INSTALL_DIR/state $VIA\"
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  printf '%s' '$UNIT' | sed \"s|@COMMAND@|\$CMD|\" > /etc/systemd/system/coc-agent.service
  systemctl daemon-reload && systemctl enable --now coc-agent.service && echo 'started: systemd unit coc-agent.service'
else
  nohup setsid \$CMD > '$INSTALL_DIR/agent.log' 2>&1 < /dev/null &
  echo \"started: process \$! (no systemd)\"
fi"
echo "installed on $TARGET: the agent enrolls with its one-time token"
"#;

/// The script [`UNINSTALL_SCRIPT_NAME`] runs on the host by its own agent
/// (POSIX sh). It removes only an agent in the layout an installation
/// makes (`<dir>/coc-agent` with its state in `<dir>/state`) and refuses
/// any other (a `coc dev` agent inside the server, one installed by
/// hand). It answers at once and acts 3 s later, after the agent has
/// reported the result: without systemd the agent is stopped, then its
/// directory removed; under systemd the unit is disabled and removed,
/// the directory goes, and the unit's stop ends the agent.
pub const UNINSTALL_SCRIPT: &str = r#"#!/bin/sh
# Removes this COC agent (R3), installed by COC-AGENT-INSTALL.
set -eu
BIN="${COC_AGENT_EXE:-}"; STATE="${COC_AGENT_STATE_DIR:-}"; PID="${COC_AGENT_PID:-}"
DIR=$(dirname "${BIN:-/}")
if [ -z "$BIN" ] || [ -z "$STATE" ] || [ -z "$PID" ] || [ "$DIR" = / ] \
   || [ "$(basename "$BIN")" != coc-agent ] || ! [ "$STATE" -ef "$DIR/state" ]; then
  echo "this agent was not installed by COC (binary ${BIN:-?}, state ${STATE:-?}): stop and remove it by hand" >&2
  exit 3
fi
UNIT=/etc/systemd/system/coc-agent.service
if [ -d /run/systemd/system ] && [ -f "$UNIT" ] && grep -qF "$BIN" "$UNIT"; then
  SYSTEMD=1; HOW="its systemd unit coc-agent.service"
else
  SYSTEMD=0; HOW="process $PID"
fi
# Detached into a session of its own, which it confirms before this task
# ends (the agent then ends the task's process group). Without systemd
# the agent is stopped first and the directory goes once it has exited
# (nothing writes into it then); under systemd the unit goes first and
# its stop, which ends this session too, comes last.
MARK="$DIR/.uninstalling"
export DIR PID MARK SYSTEMD UNIT
nohup setsid sh -c '
touch "$MARK"; sleep 3
if [ "$SYSTEMD" = 1 ]; then
  systemctl disable coc-agent.service; rm -f "$UNIT"; systemctl daemon-reload
else
  alive() { kill -0 "$PID" 2>/dev/null && ! grep -qs "^State:[[:space:]]*Z" "/proc/$PID/status"; }
  kill "$PID"; i=0
  while alive && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  kill -9 "$PID" 2>/dev/null
fi
rm -rf "$DIR" || { sleep 1; rm -rf "$DIR"; }
if [ "$SYSTEMD" = 1 ]; then systemctl stop coc-agent.service; fi
' >/dev/null 2>&1 < /dev/null &
i=0
while [ ! -e "$MARK" ] && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
echo "removing the agent in $DIR and $HOW in 3 seconds"
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> InstallSpec {
        serde_json::from_value(serde_json::json!({
            "installation_host": " jump ",
            "targets": [
                {"address": "10.0.0.5", "password": "pw"},
                {"address": "db-1.lan", "port": 2222, "login": "ops", "auth": "key",
                 "private_key": "-----BEGIN OPENSSH PRIVATE KEY-----\r\nabc\r\n-----END OPENSSH PRIVATE KEY-----\r\n"}
            ],
            "batch_size": 1,
        }))
        .unwrap()
    }

    #[test]
    fn normalized_fills_defaults_and_refuses_what_a_shell_would_read() {
        let s = spec().normalized().unwrap();
        assert_eq!(s.installation_host, "jump");
        assert_eq!(s.install_dir.as_deref(), Some(DEFAULT_INSTALL_DIR));
        assert_eq!(
            (s.targets[0].port, s.targets[0].login.as_str()),
            (22, "root")
        );
        let key = s.targets[1].private_key.as_deref().unwrap();
        assert!(!key.contains('\r') && key.ends_with("-----\n"), "{key:?}");
        let bad = |f: fn(&mut InstallSpec)| {
            let mut x = spec();
            f(&mut x);
            x.normalized().unwrap_err().to_string()
        };
        assert!(bad(|x| x.targets[0].address = "10.0.0.5;reboot".into()).contains("address"));
        assert!(bad(|x| x.targets[0].password = None).contains("password"));
        assert!(bad(|x| x.targets[1].private_key = Some("ssh-rsa AAA".into())).contains("BEGIN"));
        assert!(bad(|x| x.targets[1].login = "o'ps".into()).contains("login"));
        assert!(bad(|x| x.install_dir = Some("opt/coc".into())).contains("absolute"));
        assert!(bad(|x| x.install_dir = Some("/opt/$(id)".into())).contains("install_dir"));
        assert!(bad(|x| x.server = Some("ftp://x".into())).contains("http"));
        assert!(
            bad(|x| {
                x.targets[1].address = "10.0.0.5".into();
                x.targets[1].port = 22;
            })
            .contains("twice")
        );
        assert!(bad(|x| x.targets.clear()).contains("1..="));
        assert!(bad(|x| x.success_rate_threshold = Some(101.0)).contains("threshold"));
    }

    #[test]
    fn each_target_has_its_own_parameters() {
        let s = spec().normalized().unwrap();
        let p = target_params(&s, &s.targets[1], "a1", "coca_x", "https://coc:8080");
        assert_eq!(p["TARGET"], "db-1.lan");
        assert_eq!(p["PORT"], "2222");
        assert_eq!(p["AUTH"], "key");
        assert_eq!(p["SERVER"], "https://coc:8080");
        assert_eq!(p["TOKEN"], "coca_x");
        assert!(p.contains_key("PRIVATE_KEY") && !p.contains_key("PASSWORD"));
        assert_eq!(p["PROXY"], "");
        assert!(p["UNIT"].contains("\nExecStart=@COMMAND@\nRestart=always\n"));
    }
}
