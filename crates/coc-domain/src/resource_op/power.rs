//! Power operations on hosts (P4, ref. 4.3 "Batch Operations on ECSs"):
//! start, stop, restart, reinstall the OS and change the OS. A host that
//! is a cloud server (a synchronized server of a cloud account, linked to
//! the host or chosen as itself) is operated through its provider; any
//! other host only restarts (its agent reboots it and the run waits for
//! it to come back) or stops (its agent shuts it down).
//!
//! An operation is a ticket of the common job [`JOB_NAME`], whose one
//! task is the `host_power` atom: each host's route is decided when its
//! run starts ([`route`]); a provider's progress is judged by
//! [`judge`] from the server's state as the provider reports it.

use serde::{Deserialize, Serialize};

use crate::error::{DomainError, invalid};

/// The common job an operation runs.
pub const JOB_NAME: &str = "COC-Host-Power";
/// Its global parameter naming the action.
pub const ACTION_PARAM: &str = "ACTION";
/// Its global parameter naming the image of a change of OS.
pub const IMAGE_PARAM: &str = "IMAGE";
/// Its global parameter naming the key pair of a rebuilt server.
pub const KEY_PAIR_PARAM: &str = "KEY_PAIR";
/// Default longest wait for a server to reach its state, seconds.
pub const DEFAULT_WAIT_S: u32 = 600;
/// Longest image name or id, characters.
pub const MAX_IMAGE_CHARS: usize = 255;

/// What an operation does to a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PowerAction {
    /// Power it on (provider only; a running one stays running).
    Start,
    /// Shut it down (a stopped one stays stopped).
    Stop,
    /// Reboot it and wait until it runs again.
    Restart,
    /// Rebuild it from the image it runs (provider only): its disk is
    /// wiped.
    ReinstallOs,
    /// Rebuild it from another image (provider only): its disk is wiped.
    ChangeOs,
}

impl PowerAction {
    /// Every action, in the order forms offer them.
    pub const ALL: [PowerAction; 5] = [
        PowerAction::Start,
        PowerAction::Stop,
        PowerAction::Restart,
        PowerAction::ReinstallOs,
        PowerAction::ChangeOs,
    ];

    /// Its name in the API, the CLI and the job's parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            PowerAction::Start => "start",
            PowerAction::Stop => "stop",
            PowerAction::Restart => "restart",
            PowerAction::ReinstallOs => "reinstall_os",
            PowerAction::ChangeOs => "change_os",
        }
    }

    /// The action named `s` (as [`PowerAction::as_str`]; `-` for `_`).
    ///
    /// Errors: [`DomainError::Validation`] listing the actions.
    pub fn parse(s: &str) -> Result<PowerAction, DomainError> {
        let s = s.trim().replace('-', "_");
        PowerAction::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| {
                invalid(format!(
                    "'{s}' is no host operation: start, stop, restart, reinstall_os or change_os"
                ))
            })
    }

    /// Whether it rebuilds the server (reinstall or change of OS).
    pub fn rebuilds(self) -> bool {
        matches!(self, PowerAction::ReinstallOs | PowerAction::ChangeOs)
    }

    /// Whether only a cloud provider can do it.
    pub fn needs_provider(self) -> bool {
        matches!(
            self,
            PowerAction::Start | PowerAction::ReinstallOs | PowerAction::ChangeOs
        )
    }

    /// The provider state the server is in once it is done (`ACTIVE`,
    /// `SHUTOFF`: the compute API's server statuses).
    pub fn final_state(self) -> &'static str {
        match self {
            PowerAction::Stop => SHUTOFF,
            _ => ACTIVE,
        }
    }
}

/// The compute API's status of a running server.
pub const ACTIVE: &str = "ACTIVE";
/// The compute API's status of a stopped server.
pub const SHUTOFF: &str = "SHUTOFF";
/// The compute API's status of a broken server.
pub const ERROR: &str = "ERROR";

/// A request to operate hosts (ids or names of hosts or cloud servers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PowerSpec {
    /// What to do.
    pub action: PowerAction,
    /// The hosts: host ids or names, or cloud server ids or names
    /// (with `cloud_servers`, 1..=[`super::MAX_RESOURCES`]).
    #[serde(default)]
    pub hosts: Vec<String>,
    /// More targets: cloud server ids or names (a form's second picker;
    /// taken as `hosts` are).
    #[serde(default)]
    pub cloud_servers: Vec<String>,
    /// The image a change of OS installs (name or id at the provider).
    #[serde(default)]
    pub image: Option<String>,
    /// The key pair (its name at the provider) a rebuilt server takes for
    /// logins (reinstall_os, change_os; ref. 4.3.4 "login mode"); none:
    /// it keeps what its image gives (configuration after creation).
    #[serde(default)]
    pub key_pair: Option<String>,
    /// Hosts per batch (default: all at once).
    #[serde(default)]
    pub batch_size: Option<u32>,
    /// Suspension threshold: the success rate in % below which the
    /// operation stops before the next batch.
    #[serde(default)]
    pub success_rate_threshold: Option<f64>,
}

impl PowerSpec {
    /// The request trimmed, without repeated hosts, and checked.
    ///
    /// Errors: [`DomainError::Validation`]: no host or too many, a change
    /// of OS without an image (or an image given to another action), an
    /// image name a request could not carry, batch size 0, a threshold
    /// outside 0–100.
    pub fn normalized(&self) -> Result<PowerSpec, DomainError> {
        let all: Vec<String> = self
            .hosts
            .iter()
            .chain(&self.cloud_servers)
            .cloned()
            .collect();
        let hosts = crate::ticket::distinct_trimmed(&all);
        if hosts.is_empty() || hosts.len() > super::MAX_RESOURCES {
            return Err(invalid(format!(
                "choose 1 to {} hosts to {}",
                super::MAX_RESOURCES,
                self.action.as_str().replace('_', " ")
            )));
        }
        let image = self
            .image
            .as_deref()
            .map(str::trim)
            .filter(|i| !i.is_empty())
            .map(str::to_string);
        match (self.action, &image) {
            (PowerAction::ChangeOs, None) => {
                return Err(invalid("choose the image the hosts change to"));
            }
            (PowerAction::ChangeOs, Some(i)) => validate_image(i)?,
            (_, Some(_)) => {
                return Err(invalid("an image is chosen only to change the OS"));
            }
            _ => {}
        }
        let key_pair = self
            .key_pair
            .as_deref()
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(str::to_string);
        if let Some(k) = &key_pair {
            if !self.action.rebuilds() {
                return Err(invalid(
                    "a key pair is chosen only to reinstall or change the OS",
                ));
            }
            validate_key_pair(k)?;
        }
        crate::ticket::check_batching(self.batch_size, self.success_rate_threshold)?;
        Ok(PowerSpec {
            hosts,
            cloud_servers: vec![],
            image,
            key_pair,
            ..self.clone()
        })
    }
}

/// Checks an image name or id: printable, no control characters, at
/// most [`MAX_IMAGE_CHARS`].
///
/// Errors: [`DomainError::Validation`] naming it.
pub fn validate_image(image: &str) -> Result<(), DomainError> {
    if image.is_empty()
        || image.chars().count() > MAX_IMAGE_CHARS
        || image.chars().any(char::is_control)
    {
        return Err(invalid(format!(
            "'{}' is not an image name (1 to {MAX_IMAGE_CHARS} printable characters)",
            image.escape_debug()
        )));
    }
    Ok(())
}

/// Checks a key pair's name: 1 to 255 letters, digits, spaces and
/// `-_.@` (the compute API's rule).
///
/// Errors: [`DomainError::Validation`] naming it.
pub fn validate_key_pair(name: &str) -> Result<(), DomainError> {
    let ok = !name.is_empty()
        && name.chars().count() <= 255
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || " -_.@".contains(c));
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "'{}' is not a key pair name (letters, digits, spaces and -_.@)",
            name.escape_debug()
        )))
    }
}

/// A host's cloud server, as a run needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudServerRef {
    /// The cloud server's resource id.
    pub resource_id: String,
    /// The cloud account (its name, as the server's `account` attribute
    /// keeps it, or its id).
    pub account: String,
    /// The provider's id of the instance.
    pub instance_id: String,
    /// The region it was listed in.
    pub region: Option<String>,
    /// Its image at the last synchronization (name or id).
    pub image: Option<String>,
}

/// How one host's operation is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Through the cloud provider: the action on the server, then waiting
    /// for [`PowerAction::final_state`]. `image` is the one a rebuild
    /// uses (a change of OS: the chosen one; a reinstall: the server's).
    Cloud {
        /// The server.
        server: CloudServerRef,
        /// The image of a rebuild.
        image: Option<String>,
    },
    /// The agent reboots the host; the run waits for a new boot.
    AgentReboot,
    /// The agent shuts the host down.
    AgentShutdown,
}

/// How `action` is done on host `name`, which is `server` at a provider
/// or none; `image` is the operation's (a change of OS).
///
/// Errors: why it cannot be done (a provider-only action on a host that
/// is no cloud server; a reinstall of a server whose image is unknown, as
/// when it boots from a volume).
pub fn route(
    action: PowerAction,
    name: &str,
    server: Option<&CloudServerRef>,
    image: Option<&str>,
) -> Result<Route, String> {
    let Some(server) = server else {
        return match action {
            PowerAction::Restart => Ok(Route::AgentReboot),
            PowerAction::Stop => Ok(Route::AgentShutdown),
            a => Err(format!(
                "{name} is no cloud server: only a cloud provider can {} it (its agent can restart or stop it)",
                a.as_str().replace('_', " ")
            )),
        };
    };
    let image = match action {
        PowerAction::ChangeOs => match image.map(str::trim).filter(|i| !i.is_empty()) {
            Some(i) => Some(i.to_string()),
            None => return Err("no image was chosen for the change of OS".into()),
        },
        PowerAction::ReinstallOs => match &server.image {
            Some(i) => Some(i.clone()),
            None => {
                return Err(format!(
                    "{name} has no image to reinstall (it boots from a volume): change its OS to a chosen image instead"
                ));
            }
        },
        _ => None,
    };
    Ok(Route::Cloud {
        server: server.clone(),
        image,
    })
}

/// A server's state as the provider reports it: its status (`ACTIVE`,
/// `SHUTOFF`, `REBOOT`, `ERROR` …) and the task it is busy with, if any
/// (`powering-off`, `rebooting`, `rebuilding` …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerState {
    /// Status.
    pub status: String,
    /// Task state; none when idle.
    pub task: Option<String>,
}

/// Whether `action` is already done on a server in `state` before it is
/// asked: a start of a running server, a stop of a stopped one. A restart
/// or rebuild is never already done.
pub fn already_done(action: PowerAction, state: &ServerState) -> bool {
    matches!(action, PowerAction::Start | PowerAction::Stop)
        && state.task.is_none()
        && state.status.eq_ignore_ascii_case(action.final_state())
}

/// Where a server is after `action` was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Done: it is idle in the action's final state.
    Done,
    /// Still going.
    Waiting,
    /// It failed: the provider put it in `ERROR`.
    Failed(String),
}

/// Judges a server's `state` after `action` was asked (the provider marks
/// a task before it answers the request, so an idle server in the final
/// state is done).
pub fn judge(action: PowerAction, state: &ServerState) -> Progress {
    if state.status.eq_ignore_ascii_case(ERROR) {
        return Progress::Failed(format!(
            "the provider put the server in ERROR during the {}",
            action.as_str().replace('_', " ")
        ));
    }
    if state.task.is_none() && state.status.eq_ignore_ascii_case(action.final_state()) {
        Progress::Done
    } else {
        Progress::Waiting
    }
}

/// The script the agent runs to shut its host down (POSIX sh): it answers
/// at once and powers off 3 s later, after the agent has reported. An
/// agent started to simulate reboots (`COC_AGENT_SIMULATED_POWER=1` in
/// its tasks) only says what it would do.
pub const SHUTDOWN_SCRIPT: &str = r#"if [ "${COC_AGENT_SIMULATED_POWER:-}" = 1 ]; then
  echo "simulated: the host would shut down now"; exit 0
fi
nohup setsid sh -c 'sleep 3; systemctl poweroff 2>/dev/null || shutdown -h now 2>/dev/null || poweroff' >/dev/null 2>&1 < /dev/null &
echo "shutting the host down in 3 seconds"
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn server(image: Option<&str>) -> CloudServerRef {
        CloudServerRef {
            resource_id: "r1".into(),
            account: "lab".into(),
            instance_id: "i-1".into(),
            region: Some("RegionOne".into()),
            image: image.map(Into::into),
        }
    }

    #[test]
    fn a_request_is_trimmed_and_its_image_checked() {
        let spec = PowerSpec {
            action: PowerAction::ChangeOs,
            hosts: vec![" web-1 ".into(), "web-1".into()],
            cloud_servers: vec!["db".into(), "web-1".into()],
            image: Some(" debian-12 ".into()),
            key_pair: Some(" ops-key ".into()),
            batch_size: Some(1),
            success_rate_threshold: None,
        };
        let n = spec.normalized().unwrap();
        assert_eq!(n.hosts, ["web-1", "db"]);
        assert_eq!(n.image.as_deref(), Some("debian-12"));
        assert_eq!(n.key_pair.as_deref(), Some("ops-key"));
        let bad_key = PowerSpec {
            key_pair: Some("ops;key".into()),
            ..spec.clone()
        };
        assert!(
            bad_key
                .normalized()
                .unwrap_err()
                .to_string()
                .contains("key pair")
        );
        let no_image = PowerSpec {
            image: Some("  ".into()),
            ..spec.clone()
        };
        assert!(
            no_image
                .normalized()
                .unwrap_err()
                .to_string()
                .contains("image")
        );
        let stray = PowerSpec {
            action: PowerAction::Stop,
            key_pair: None,
            ..spec.clone()
        };
        let stray_key = PowerSpec {
            action: PowerAction::Restart,
            image: None,
            ..spec.clone()
        };
        assert!(
            stray_key
                .normalized()
                .unwrap_err()
                .to_string()
                .contains("key pair")
        );
        assert!(
            stray
                .normalized()
                .unwrap_err()
                .to_string()
                .contains("only to change")
        );
        let bad = PowerSpec {
            image: Some("deb\nian".into()),
            ..spec.clone()
        };
        assert!(bad.normalized().is_err());
        let none = PowerSpec {
            hosts: vec![],
            cloud_servers: vec![" ".into()],
            ..spec
        };
        assert!(
            none.normalized()
                .unwrap_err()
                .to_string()
                .contains("change os")
        );
        assert_eq!(
            PowerAction::parse("reinstall-os").unwrap(),
            PowerAction::ReinstallOs
        );
        assert!(PowerAction::parse("halt").is_err());
    }

    #[test]
    fn a_host_goes_through_its_provider_or_its_agent() {
        let s = server(Some("debian-12"));
        assert_eq!(
            route(PowerAction::ReinstallOs, "web", Some(&s), None),
            Ok(Route::Cloud {
                server: s.clone(),
                image: Some("debian-12".into())
            })
        );
        assert_eq!(
            route(PowerAction::ChangeOs, "web", Some(&s), Some("ubuntu-24.04")),
            Ok(Route::Cloud {
                server: s.clone(),
                image: Some("ubuntu-24.04".into())
            })
        );
        assert!(matches!(
            route(PowerAction::Stop, "web", Some(&s), None),
            Ok(Route::Cloud { image: None, .. })
        ));
        assert_eq!(
            route(PowerAction::Restart, "web", None, None),
            Ok(Route::AgentReboot)
        );
        assert_eq!(
            route(PowerAction::Stop, "web", None, None),
            Ok(Route::AgentShutdown)
        );
        for a in [
            PowerAction::Start,
            PowerAction::ReinstallOs,
            PowerAction::ChangeOs,
        ] {
            let e = route(a, "web", None, Some("x")).unwrap_err();
            assert!(e.contains("no cloud server"), "{e}");
        }
        let volume = server(None);
        let e = route(PowerAction::ReinstallOs, "db", Some(&volume), None).unwrap_err();
        assert!(e.contains("boots from a volume"), "{e}");
    }

    #[test]
    fn a_server_is_done_when_idle_in_the_final_state() {
        let st = |s: &str, t: Option<&str>| ServerState {
            status: s.into(),
            task: t.map(Into::into),
        };
        assert!(already_done(PowerAction::Stop, &st("SHUTOFF", None)));
        assert!(!already_done(PowerAction::Stop, &st("ACTIVE", None)));
        assert!(!already_done(
            PowerAction::Start,
            &st("SHUTOFF", Some("powering-on"))
        ));
        assert!(!already_done(PowerAction::Restart, &st("ACTIVE", None)));
        assert_eq!(
            judge(PowerAction::Restart, &st("ACTIVE", Some("rebooting"))),
            Progress::Waiting
        );
        assert_eq!(
            judge(PowerAction::Restart, &st("REBOOT", None)),
            Progress::Waiting
        );
        assert_eq!(
            judge(PowerAction::Restart, &st("ACTIVE", None)),
            Progress::Done
        );
        assert_eq!(
            judge(PowerAction::Stop, &st("SHUTOFF", None)),
            Progress::Done
        );
        assert_eq!(
            judge(PowerAction::ChangeOs, &st("REBUILD", Some("rebuilding"))),
            Progress::Waiting
        );
        assert!(matches!(
            judge(PowerAction::ReinstallOs, &st("ERROR", None)),
            Progress::Failed(w) if w.contains("reinstall os")
        ));
    }
}
