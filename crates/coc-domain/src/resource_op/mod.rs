//! Batch resource operations (P4, ref. 4.3–4.4): on hosts, [`power`];
//! here, on databases (ref. 4.4 "Batch Operations on RDS
//! Instances"): starting, stopping and restarting them through the
//! service manager of the host they run on. An operation is a script
//! ticket of the common script [`SCRIPT_NAME`]: one run per host, each
//! with its own services ([`plan`]), in batches under the suspension
//! threshold of the one engine.
//!
//! A database names its service in its `service` attribute: a systemd
//! unit (`postgresql@15-main`, `mariadb`); where systemd does not run,
//! a `postgresql@VERSION-CLUSTER` service is handled by `pg_ctlcluster`
//! and any other by `service`. The script checks the state afterwards:
//! a start or restart that leaves the service inactive fails.

use std::collections::BTreeMap;

pub mod power;

use serde::{Deserialize, Serialize};

use crate::error::{DomainError, invalid};

/// The common script an operation runs.
pub const SCRIPT_NAME: &str = "COC-SERVICE";
/// Its parameter naming the services (space-separated).
pub const UNITS_PARAM: &str = "UNITS";
/// Its parameter naming the action.
pub const ACTION_PARAM: &str = "ACTION";
/// The resource attribute naming a database's service.
pub const SERVICE_ATTRIBUTE: &str = "service";
/// Most resources of one operation.
pub const MAX_RESOURCES: usize = 1000;
/// Longest service name, characters.
pub const MAX_UNIT_CHARS: usize = 200;

/// What an operation does to a database's service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ServiceAction {
    /// Start it (a running one stays running).
    Start,
    /// Stop it (a stopped one stays stopped).
    Stop,
    /// Restart it.
    Restart,
}

impl ServiceAction {
    /// Its name, as the script takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceAction::Start => "start",
            ServiceAction::Stop => "stop",
            ServiceAction::Restart => "restart",
        }
    }
}

/// A request to start, stop or restart databases (ids or names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OperationSpec {
    /// What to do.
    pub action: ServiceAction,
    /// The databases (resource ids or names; 1..=[`MAX_RESOURCES`]).
    pub resources: Vec<String>,
    /// Hosts per batch (default: all at once).
    #[serde(default)]
    pub batch_size: Option<u32>,
    /// Suspension threshold: the success rate in % below which the
    /// operation stops before the next batch.
    #[serde(default)]
    pub success_rate_threshold: Option<f64>,
}

impl OperationSpec {
    /// The request trimmed, without repeated resources, and checked.
    ///
    /// Errors: [`DomainError::Validation`]: no resource or too many,
    /// batch size 0, a threshold outside 0–100.
    pub fn normalized(&self) -> Result<OperationSpec, DomainError> {
        let resources = crate::ticket::distinct_trimmed(&self.resources);
        if resources.is_empty() || resources.len() > MAX_RESOURCES {
            return Err(invalid(format!(
                "choose 1 to {MAX_RESOURCES} databases to {}",
                self.action.as_str()
            )));
        }
        crate::ticket::check_batching(self.batch_size, self.success_rate_threshold)?;
        Ok(OperationSpec {
            resources,
            ..self.clone()
        })
    }
}

/// Checks a service name: letters, digits and `@._:-`, not starting with
/// `-` (it reaches a command line).
///
/// Errors: [`DomainError::Validation`] naming it.
pub fn validate_unit(unit: &str) -> Result<(), DomainError> {
    let ok = !unit.is_empty()
        && unit.chars().count() <= MAX_UNIT_CHARS
        && !unit.starts_with('-')
        && unit
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "@._:-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "'{unit}' is not a service name (letters, digits and @._:-)"
        )))
    }
}

/// A database as an operation needs it: its name, the host it runs on
/// and its `service` attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Resource name (for messages).
    pub name: String,
    /// Its type (`database`, …).
    pub resource_type: String,
    /// The host it runs on.
    pub host_id: Option<String>,
    /// Its service.
    pub service: Option<String>,
}

/// Per host, the services an operation works on (each once, in the
/// order given).
///
/// Errors: [`DomainError::Validation`] naming the first resource that is
/// not a database, runs on no host, or names no (valid) service.
pub fn plan(targets: &[Target]) -> Result<BTreeMap<String, Vec<String>>, DomainError> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for t in targets {
        if t.resource_type != "database" {
            return Err(invalid(format!(
                "{} is a {}: only databases are started, stopped and restarted here",
                t.name, t.resource_type
            )));
        }
        let Some(host) = &t.host_id else {
            return Err(invalid(format!(
                "database {} runs on no host COC knows: set its host",
                t.name
            )));
        };
        let Some(unit) = t
            .service
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
        else {
            return Err(invalid(format!(
                "database {} names no service: set its '{SERVICE_ATTRIBUTE}' attribute (postgresql@15-main, mariadb)",
                t.name
            )));
        };
        validate_unit(unit)?;
        let units = out.entry(host.clone()).or_default();
        if !units.iter().any(|u| u == unit) {
            units.push(unit.to_string());
        }
    }
    Ok(out)
}

/// The common script: for each of `$UNITS`, `$ACTION` through systemd
/// where it runs, else `pg_ctlcluster` for `postgresql@V-C` and
/// `service` for the rest; a service already in the wanted state is left
/// alone; the state afterwards must be the wanted one.
pub const SCRIPT: &str = r#"set -eu
case "$ACTION" in start|stop|restart) ;; *) echo "unknown action '$ACTION'" >&2; exit 2;; esac
[ -n "$UNITS" ] || { echo "no service named" >&2; exit 2; }
want=active; [ "$ACTION" = stop ] && want=inactive
state_of() {
  if [ -d /run/systemd/system ]; then
    systemctl is-active --quiet "$1" && echo active || echo inactive
  else
    case "$1" in
      postgresql@*-*) v=${1#postgresql@}; v=${v%.service}
        pg_ctlcluster "${v%%-*}" "${v#*-}" status >/dev/null 2>&1 && echo active || echo inactive ;;
      *) service "${1%.service}" status >/dev/null 2>&1 && echo active || echo inactive ;;
    esac
  fi
}
for unit in $UNITS; do
  case "$unit" in *[!A-Za-z0-9@._:-]*|-*) echo "'$unit' is not a service name" >&2; exit 2;; esac
  if [ "$ACTION" != restart ] && [ "$(state_of "$unit")" = "$want" ]; then
    echo "$unit: already $want"; continue
  fi
  if [ -d /run/systemd/system ]; then
    echo "systemctl $ACTION $unit"; systemctl "$ACTION" "$unit"
  else
    case "$unit" in
      postgresql@*-*) v=${unit#postgresql@}; v=${v%.service}
        echo "pg_ctlcluster ${v%%-*} ${v#*-} $ACTION"; pg_ctlcluster "${v%%-*}" "${v#*-}" "$ACTION" ;;
      *) echo "service ${unit%.service} $ACTION"; service "${unit%.service}" "$ACTION" ;;
    esac
  fi
  state=$(state_of "$unit")
  echo "$unit: $state"
  [ "$state" = "$want" ] || { echo "$unit is $state after $ACTION" >&2; exit 1; }
done
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn db(name: &str, host: Option<&str>, service: Option<&str>) -> Target {
        Target {
            name: name.into(),
            resource_type: "database".into(),
            host_id: host.map(Into::into),
            service: service.map(Into::into),
        }
    }

    #[test]
    fn services_are_grouped_by_host_and_checked() {
        let p = plan(&[
            db("orders", Some("h1"), Some("postgresql@15-orders")),
            db("users", Some("h1"), Some(" postgresql@15-users ")),
            db("orders-again", Some("h1"), Some("postgresql@15-orders")),
            db("cache", Some("h2"), Some("mariadb")),
        ])
        .unwrap();
        assert_eq!(p["h1"], ["postgresql@15-orders", "postgresql@15-users"]);
        assert_eq!(p["h2"], ["mariadb"]);
        for (t, why) in [
            (db("x", None, Some("pg")), "runs on no host"),
            (db("x", Some("h"), None), "names no service"),
            (db("x", Some("h"), Some("pg; reboot")), "not a service name"),
            (db("x", Some("h"), Some("--now")), "not a service name"),
            (
                Target {
                    resource_type: "cache".into(),
                    ..db("x", Some("h"), Some("redis"))
                },
                "only databases",
            ),
        ] {
            let e = plan(&[t]).unwrap_err().to_string();
            assert!(e.contains(why), "{e}");
        }
    }

    #[test]
    fn a_request_is_trimmed_and_checked() {
        let spec = OperationSpec {
            action: ServiceAction::Restart,
            resources: vec![" a ".into(), "a".into(), "".into(), "b".into()],
            batch_size: Some(1),
            success_rate_threshold: Some(50.0),
        };
        assert_eq!(spec.normalized().unwrap().resources, ["a", "b"]);
        let none = OperationSpec {
            resources: vec![" ".into()],
            ..spec.clone()
        };
        assert!(
            none.normalized()
                .unwrap_err()
                .to_string()
                .contains("restart")
        );
        let zero = OperationSpec {
            batch_size: Some(0),
            ..spec.clone()
        };
        assert!(zero.normalized().is_err());
        let over = OperationSpec {
            success_rate_threshold: Some(100.5),
            ..spec
        };
        assert!(over.normalized().is_err());
    }
}
