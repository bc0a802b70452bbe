//! Scripts (X1, ref. 5.1.1): types, risk levels and typed input parameters.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{DomainError, invalid};

stored_enum! {
    /// Review state of a script, job or scheduled task version (ref.
    /// 5.1.1, 5.2.2, 5.3): only `not_required` and `approved` versions
    /// run.
    ReviewStatus {
        /// No review asked (low risk, no manual review).
        NotRequired = "not_required",
        /// Waiting for a reviewer.
        Pending = "pending",
        /// Approved by a reviewer.
        Approved = "approved",
        /// Rejected by a reviewer.
        Rejected = "rejected",
    }
}

impl ReviewStatus {
    /// Whether a version in this state may run.
    pub fn runnable(self) -> bool {
        matches!(self, ReviewStatus::NotRequired | ReviewStatus::Approved)
    }
}

/// Script language, ref. 5.1.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ScriptType {
    /// Run by `/bin/sh` (or `bash` when present).
    Shell,
    /// Run by `python3`.
    Python,
    /// Windows batch; runs only on Windows agents.
    Bat,
}

impl ScriptType {
    /// `shell`, `python` or `bat`.
    pub fn as_str(self) -> &'static str {
        match self {
            ScriptType::Shell => "shell",
            ScriptType::Python => "python",
            ScriptType::Bat => "bat",
        }
    }
    /// Parses a stored name. Errors: [`DomainError::Validation`].
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        serde_json::from_value(serde_json::Value::String(s.to_string())).map_err(|_| {
            invalid(format!(
                "unknown script type '{s}': expected shell, python or bat"
            ))
        })
    }
}

/// Risk level of a script, ref. 5.1.1 ("confirm the risk level").
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum RiskLevel {
    /// Read-only or harmless.
    Low,
    /// Changes state, recoverable.
    Medium,
    /// May cause outage or data loss.
    High,
}

impl RiskLevel {
    /// `low`, `medium` or `high`.
    pub fn as_str(self) -> &'static str {
        match self {
            RiskLevel::Low => "low",
            RiskLevel::Medium => "medium",
            RiskLevel::High => "high",
        }
    }
    /// Parses a stored name. Errors: [`DomainError::Validation`].
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        serde_json::from_value(serde_json::Value::String(s.to_string())).map_err(|_| {
            invalid(format!(
                "unknown risk level '{s}': expected low, medium or high"
            ))
        })
    }
}

/// Type of an input parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    /// Any text.
    #[default]
    String,
    /// A decimal number (integer or fraction).
    Number,
    /// `true` or `false`.
    Boolean,
}

/// One declared input parameter of a script.
///
/// At run time each parameter is passed to the script as an environment
/// variable of the same name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScriptParam {
    /// Name: `[A-Za-z_][A-Za-z0-9_]{0,63}` (a valid environment variable).
    pub name: String,
    /// What it means.
    #[serde(default)]
    pub description: String,
    /// Value type.
    #[serde(default, rename = "type")]
    pub kind: ParamType,
    /// Default value, used when the execution gives none.
    #[serde(default)]
    pub default: Option<String>,
    /// Must the execution supply a value (or a default exist)?
    #[serde(default)]
    pub required: bool,
    /// Sensitive values are masked in tickets and API responses.
    #[serde(default)]
    pub sensitive: bool,
}

/// The editable body of a script, as posted to the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScriptSpec {
    /// Name, 1..=64 of `[A-Za-z0-9_.-]`.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Language.
    #[serde(rename = "type")]
    pub script_type: ScriptType,
    /// Script text (≤ [`MAX_CONTENT_BYTES`]).
    pub content: String,
    /// Declared risk.
    pub risk_level: RiskLevel,
    /// Input parameters (≤ 20).
    #[serde(default)]
    pub params: Vec<ScriptParam>,
    /// Ask for a manual review before the script can run; always on for a
    /// high-risk script (declared high, or matching a high-risk rule).
    #[serde(default)]
    pub manual_review: bool,
    /// Who may review: named users or the people on call for shift roles
    /// (at review time).
    #[serde(default)]
    pub reviewers: Vec<crate::notify::Recipient>,
}

/// Largest script body accepted, in bytes (64 KiB).
pub const MAX_CONTENT_BYTES: usize = 64 * 1024;
/// Most input parameters per script.
pub const MAX_PARAMS: usize = 20;
/// Default execution timeout (ref. 5.1.3), seconds.
pub const DEFAULT_TIMEOUT_S: u32 = 300;
/// Longest execution timeout accepted, seconds (24 h).
pub const MAX_TIMEOUT_S: u32 = 86_400;
/// Default executing user (ref. 5.1.3).
pub const DEFAULT_RUN_AS: &str = "root";

fn is_ident(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(ch) if ch.is_ascii_alphabetic() || ch == '_')
        && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
        && s.len() <= 64
}

/// Script text with LF line ends: CRLF (what a browser's textarea sends,
/// what Windows editors save) and a lone CR become LF. Scripts are stored
/// this way (issue 16): `head -n 6\r` is no number to a shell.
pub fn with_lf(content: &str) -> String {
    if content.contains('\r') {
        content.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        content.to_string()
    }
}

/// The 1-based numbers of the lines of `content` that hold a carriage
/// return (`\r`), for `script verify`'s warning.
pub fn lines_with_cr(content: &str) -> Vec<usize> {
    content
        .split('\n')
        .enumerate()
        .filter(|(_, l)| l.contains('\r'))
        .map(|(i, _)| i + 1)
        .collect()
}

impl ScriptSpec {
    /// The spec as it is stored: its content with LF line ends
    /// ([`with_lf`]).
    pub fn normalized(&self) -> ScriptSpec {
        ScriptSpec {
            content: with_lf(&self.content),
            ..self.clone()
        }
    }

    /// Validates name, content size, parameter names and defaults.
    ///
    /// Errors: [`DomainError::Validation`] with the first problem.
    pub fn validate(&self) -> Result<(), DomainError> {
        if self.name.is_empty()
            || self.name.len() > 64
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        {
            return Err(invalid(
                "script name must be 1 to 64 of letters, digits, '_', '.', '-'",
            ));
        }
        if self.content.trim().is_empty() {
            return Err(invalid("script content is empty"));
        }
        if self.content.len() > MAX_CONTENT_BYTES {
            return Err(invalid(format!(
                "script content is {} bytes; at most {MAX_CONTENT_BYTES} are allowed",
                self.content.len()
            )));
        }
        if self.params.len() > MAX_PARAMS {
            return Err(invalid(format!(
                "at most {MAX_PARAMS} parameters per script"
            )));
        }
        let mut seen = std::collections::HashSet::new();
        for p in &self.params {
            if !is_ident(&p.name) {
                return Err(invalid(format!(
                    "parameter name '{}' must match [A-Za-z_][A-Za-z0-9_]* (≤ 64)",
                    p.name
                )));
            }
            if !seen.insert(p.name.as_str()) {
                return Err(invalid(format!("parameter '{}' is declared twice", p.name)));
            }
            if let Some(d) = &p.default {
                if p.sensitive {
                    return Err(invalid(format!(
                        "sensitive parameter '{}' cannot have a default value; give it at execution",
                        p.name
                    )));
                }
                check_type(p, d)?;
            }
        }
        if self.review_required() {
            if self.reviewers.is_empty() {
                return Err(invalid(
                    "this script needs a manual review (high risk or high-risk commands): name its reviewers",
                ));
            }
            crate::notify::validate_recipients(&self.reviewers)?;
            if self.reviewers.contains(&crate::notify::Recipient::Owner) {
                return Err(invalid(
                    "reviewers are users or shift roles; the author cannot review their own script",
                ));
            }
        }
        Ok(())
    }
}

fn check_type(p: &ScriptParam, v: &str) -> Result<(), DomainError> {
    let ok = match p.kind {
        ParamType::String => true,
        ParamType::Number => v.trim().parse::<f64>().is_ok_and(f64::is_finite),
        ParamType::Boolean => v == "true" || v == "false",
    };
    if v.len() > 4096 {
        return Err(invalid(format!(
            "value of parameter '{}' is longer than 4096 bytes",
            p.name
        )));
    }
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "parameter '{}' must be a {}",
            p.name,
            match p.kind {
                ParamType::Number => "number",
                ParamType::Boolean => "boolean (true or false)",
                ParamType::String => "string",
            }
        )))
    }
}

/// Resolves the values an execution passes: given values checked against
/// their declared type, defaults filled in, required ones enforced.
///
/// Errors: [`DomainError::Validation`] for an undeclared name, a wrong type,
/// or a missing required value.
pub fn resolve_params(
    declared: &[ScriptParam],
    given: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, DomainError> {
    for k in given.keys() {
        if !declared.iter().any(|p| &p.name == k) {
            return Err(invalid(format!("the script has no parameter '{k}'")));
        }
    }
    let mut out = BTreeMap::new();
    for p in declared {
        match given.get(&p.name).or(p.default.as_ref()) {
            Some(v) => {
                check_type(p, v)?;
                out.insert(p.name.clone(), v.clone());
            }
            None if p.required => {
                return Err(invalid(format!("parameter '{}' is required", p.name)));
            }
            None => {}
        }
    }
    Ok(out)
}

/// Replaces the values of sensitive parameters with `******`.
pub fn mask_params(
    declared: &[ScriptParam],
    values: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    values
        .iter()
        .map(|(k, v)| {
            let sensitive = declared.iter().any(|p| &p.name == k && p.sensitive);
            (
                k.clone(),
                if sensitive {
                    "******".to_string()
                } else {
                    v.clone()
                },
            )
        })
        .collect()
}

/// Shortest secret value redacted from output: shorter ones would blank
/// out ordinary words.
pub const MIN_REDACTED_LEN: usize = 4;

/// The environment variables of a run whose values must never appear in
/// its output (ref. 5.1 sensitive parameters; issue 14): the parameters
/// declared sensitive, and any whose value carries one of
/// `secret_values` (an encrypted parameter-center value substituted into
/// it). Names, sorted.
pub fn secret_env(
    declared: &[ScriptParam],
    env: &BTreeMap<String, String>,
    secret_values: &[String],
) -> Vec<String> {
    env.iter()
        .filter(|(k, v)| {
            declared.iter().any(|p| &p.name == *k && p.sensitive)
                || secret_values
                    .iter()
                    .any(|s| s.len() >= MIN_REDACTED_LEN && v.contains(s.as_str()))
        })
        .map(|(k, _)| k.clone())
        .collect()
}

/// Checks a timeout: 1..=[`MAX_TIMEOUT_S`] seconds.
///
/// Errors: [`DomainError::Validation`].
pub fn validate_timeout(t: u32) -> Result<(), DomainError> {
    if t == 0 || t > MAX_TIMEOUT_S {
        return Err(invalid(format!(
            "timeout must be 1 to {MAX_TIMEOUT_S} seconds"
        )));
    }
    Ok(())
}

/// Checks an executing user name: a POSIX login name, 1..=32 chars.
///
/// Errors: [`DomainError::Validation`].
pub fn validate_run_as(u: &str) -> Result<(), DomainError> {
    let mut c = u.chars();
    let ok = matches!(c.next(), Some(ch) if ch.is_ascii_lowercase() || ch == '_')
        && c.all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_' || ch == '-')
        && u.len() <= 32;
    if ok {
        Ok(())
    } else {
        Err(invalid(format!("'{u}' is not a valid user name")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str, kind: ParamType, required: bool, default: Option<&str>) -> ScriptParam {
        ScriptParam {
            name: name.into(),
            description: String::new(),
            kind,
            default: default.map(Into::into),
            required,
            sensitive: name == "secret",
        }
    }

    #[test]
    fn line_ends_become_lf_and_carriage_returns_are_found() {
        assert_eq!(with_lf("a\r\nb\rc\n"), "a\nb\nc\n");
        assert_eq!(with_lf("plain\n"), "plain\n");
        assert_eq!(lines_with_cr("ok\nhead -n 6\r\nx\r"), vec![2, 3]);
        assert!(lines_with_cr("no\ncarriage\n").is_empty());
    }

    #[test]
    fn params_resolution() {
        let decl = vec![
            p("count", ParamType::Number, true, None),
            p("flag", ParamType::Boolean, false, Some("false")),
            p("secret", ParamType::String, false, None),
        ];
        let mut g = BTreeMap::new();
        assert!(
            resolve_params(&decl, &g)
                .unwrap_err()
                .to_string()
                .contains("required")
        );
        g.insert("count".to_string(), "x".to_string());
        assert!(
            resolve_params(&decl, &g)
                .unwrap_err()
                .to_string()
                .contains("number")
        );
        g.insert("count".to_string(), "3.5".to_string());
        let r = resolve_params(&decl, &g).unwrap();
        assert_eq!(r["flag"], "false");
        assert!(!r.contains_key("secret"));
        g.insert("nope".to_string(), "1".to_string());
        assert!(resolve_params(&decl, &g).is_err());
        g.remove("nope");
        g.insert("secret".to_string(), "pw".to_string());
        let r = resolve_params(&decl, &g).unwrap();
        assert_eq!(mask_params(&decl, &r)["secret"], "******");
        assert_eq!(mask_params(&decl, &r)["count"], "3.5");
    }

    #[test]
    fn spec_validation() {
        let mut s = ScriptSpec {
            name: "disk-clean".into(),
            description: String::new(),
            script_type: ScriptType::Shell,
            content: "echo hi".into(),
            risk_level: RiskLevel::Low,
            params: vec![p("a", ParamType::String, false, None)],
            manual_review: false,
            reviewers: vec![],
        };
        s.validate().unwrap();
        assert!(!s.review_required());
        let mut risky = s.clone();
        risky.content = "reboot".into();
        assert!(
            risky.review_required(),
            "a high-risk command asks for review"
        );
        assert!(
            risky
                .validate()
                .unwrap_err()
                .to_string()
                .contains("reviewers")
        );
        risky.reviewers = vec![crate::notify::Recipient::Individual {
            users: vec!["lead".into()],
        }];
        risky.validate().unwrap();
        risky.reviewers = vec![crate::notify::Recipient::Owner];
        assert!(risky.validate().is_err());
        let mut high = s.clone();
        high.risk_level = RiskLevel::High;
        assert!(high.review_required());
        s.params.push(p("a", ParamType::String, false, None));
        assert!(s.validate().is_err());
        s.params.pop();
        s.params.push(p("1bad", ParamType::String, false, None));
        assert!(s.validate().is_err());
        s.params.pop();
        s.params.push(p("n", ParamType::Number, false, Some("NaN")));
        assert!(s.validate().is_err());
        s.params.pop();
        let mut secret = p("pw", ParamType::String, false, Some("x"));
        secret.sensitive = true;
        s.params.push(secret);
        assert!(s.validate().unwrap_err().to_string().contains("sensitive"));
        s.params.pop();
        s.name = "has space".into();
        assert!(s.validate().is_err());
        s.name = "ok".into();
        s.content = "x".repeat(MAX_CONTENT_BYTES + 1);
        assert!(s.validate().is_err());
    }

    #[test]
    fn run_as_and_timeout() {
        assert!(validate_run_as("root").is_ok());
        assert!(validate_run_as("svc-app_1").is_ok());
        assert!(validate_run_as("Root;rm").is_err());
        assert!(validate_timeout(0).is_err());
        assert!(validate_timeout(300).is_ok());
        assert!(validate_timeout(MAX_TIMEOUT_S + 1).is_err());
    }
}

/// The common scripts shipped with COC (ref. 5.1.4): read-only, available
/// to every tenant.
pub fn system_scripts() -> Vec<ScriptSpec> {
    let p = |name: &str, desc: &str, kind: ParamType, default: Option<&str>, sensitive: bool| {
        ScriptParam {
            name: name.into(),
            description: desc.into(),
            kind,
            default: default.map(Into::into),
            required: default.is_none(),
            sensitive,
        }
    };
    let spec =
        |name: &str, desc: &str, risk: RiskLevel, content: &str, params: Vec<ScriptParam>| {
            ScriptSpec {
                name: name.into(),
                description: desc.into(),
                script_type: ScriptType::Shell,
                content: content.into(),
                risk_level: risk,
                params,
                manual_review: false,
                reviewers: vec![],
            }
        };
    vec![
        spec(
            "OS-DIAGNOSE",
            "Operating system diagnosis: load, memory, disks, busiest processes, failed services, recent kernel errors.",
            RiskLevel::Low,
            r#"#!/bin/sh
echo "== host";    uname -a; uptime
echo "== memory";  free -m 2>/dev/null || cat /proc/meminfo | head -5
echo "== disks";   df -hP -x tmpfs -x devtmpfs 2>/dev/null || df -h
echo "== inodes";  df -iP -x tmpfs -x devtmpfs 2>/dev/null | awk 'NR==1 || $5+0 > 80'
echo "== top cpu"; ps -eo pid,user,pcpu,pmem,comm --sort=-pcpu 2>/dev/null | head -6
echo "== top mem"; ps -eo pid,user,pcpu,pmem,comm --sort=-pmem 2>/dev/null | head -6
echo "== failed services"; systemctl --failed --no-legend 2>/dev/null || echo "(no systemd)"
echo "== kernel errors";  dmesg --level=err,crit,alert,emerg 2>/dev/null | tail -20 || echo "(dmesg not readable)"
"#,
            vec![],
        ),
        spec(
            "PatchScan",
            "List pending package updates (apt, dnf or yum) without installing anything; prints pending=N.",
            RiskLevel::Low,
            r#"#!/bin/sh
if command -v apt-get >/dev/null 2>&1; then
  list=$(apt list --upgradable 2>/dev/null | grep -v '^Listing' || true)
elif command -v dnf >/dev/null 2>&1; then
  list=$(dnf -q check-update 2>/dev/null | awk 'NF==3' || true)
elif command -v yum >/dev/null 2>&1; then
  list=$(yum -q check-update 2>/dev/null | awk 'NF==3' || true)
else
  echo "no supported package manager"; echo "pending=unknown"; exit 0
fi
[ -n "$list" ] && printf '%s\n' "$list"
echo "pending=$(printf '%s' "$list" | grep -c . || true)"
"#,
            vec![],
        ),
        spec(
            "ClearingDisks",
            "Delete rotated or compressed logs older than DAYS days under LOG_DIR (DRY_RUN=true only lists them).",
            RiskLevel::High,
            r#"#!/bin/sh
set -eu
case "$LOG_DIR" in /|/bin*|/boot*|/etc*|/usr*|/lib*|/sbin*|"") echo "refusing LOG_DIR=$LOG_DIR" >&2; exit 2;; esac
before=$(du -sk "$LOG_DIR" | cut -f1)
find "$LOG_DIR" -xdev -type f \( -name '*.gz' -o -name '*.xz' -o -name '*.bz2' -o -name '*.[0-9]' -o -name '*.old' \) \
  -mtime +"$DAYS" -print > /tmp/coc-clearing-disks.$$
count=$(wc -l < /tmp/coc-clearing-disks.$$)
if [ "$DRY_RUN" = "true" ]; then
  cat /tmp/coc-clearing-disks.$$; echo "dry run: $count file(s) would be deleted"
else
  tr '\n' '\0' < /tmp/coc-clearing-disks.$$ | xargs -0 -r rm -f --
  after=$(du -sk "$LOG_DIR" | cut -f1)
  echo "deleted $count file(s), freed $((before - after)) KiB in $LOG_DIR"
fi
rm -f /tmp/coc-clearing-disks.$$
"#,
            vec![
                p(
                    "LOG_DIR",
                    "Directory to clean",
                    ParamType::String,
                    Some("/var/log"),
                    false,
                ),
                p(
                    "DAYS",
                    "Only files older than this many days",
                    ParamType::Number,
                    Some("7"),
                    false,
                ),
                p(
                    "DRY_RUN",
                    "Only list what would be deleted",
                    ParamType::Boolean,
                    Some("true"),
                    false,
                ),
            ],
        ),
        spec(
            "resettingLinuxAdmin",
            "Reset the password of a local Linux user (default root).",
            RiskLevel::High,
            r#"#!/bin/sh
set -eu
id "$USER_NAME" >/dev/null 2>&1 || { echo "no such user: $USER_NAME" >&2; exit 2; }
printf '%s:%s\n' "$USER_NAME" "$NEW_PASSWORD" | chpasswd
echo "password of $USER_NAME reset"
"#,
            vec![
                p(
                    "USER_NAME",
                    "Local user",
                    ParamType::String,
                    Some("root"),
                    false,
                ),
                p(
                    "NEW_PASSWORD",
                    "The new password",
                    ParamType::String,
                    None,
                    true,
                ),
            ],
        ),
        spec(
            "modifyingVmIpsAddr",
            "Change the IPv4 address and default gateway of a network interface (NetworkManager when present, else ip).",
            RiskLevel::High,
            r#"#!/bin/sh
set -eu
ip link show "$INTERFACE" >/dev/null || { echo "no such interface: $INTERFACE" >&2; exit 2; }
if command -v nmcli >/dev/null 2>&1 && nmcli -t -f DEVICE device status | grep -qx "$INTERFACE"; then
  con=$(nmcli -t -f GENERAL.CONNECTION device show "$INTERFACE" | cut -d: -f2)
  nmcli connection modify "$con" ipv4.method manual ipv4.addresses "$ADDRESS" ipv4.gateway "$GATEWAY"
  nmcli connection up "$con"
else
  ip addr flush dev "$INTERFACE"
  ip addr add "$ADDRESS" dev "$INTERFACE"
  ip route replace default via "$GATEWAY" dev "$INTERFACE"
fi
ip -4 addr show dev "$INTERFACE"
"#,
            vec![
                p(
                    "INTERFACE",
                    "Network interface, e.g. eth0",
                    ParamType::String,
                    None,
                    false,
                ),
                p(
                    "ADDRESS",
                    "New address with prefix, e.g. 10.0.0.5/24",
                    ParamType::String,
                    None,
                    false,
                ),
                p("GATEWAY", "Default gateway", ParamType::String, None, false),
            ],
        ),
        {
            // Given per target at dispatch: none is required of the
            // ticket, secrets have no default.
            let blank = |name: &str, desc: &str, sensitive: bool| ScriptParam {
                required: false,
                ..p(
                    name,
                    desc,
                    ParamType::String,
                    (!sensitive).then_some(""),
                    sensitive,
                )
            };
            spec(
                crate::agent_install::SCRIPT_NAME,
                "Install the COC agent on TARGET over SSH from this host (R3): copy this agent's binary, write the new agent's id and one-time token, start it. Run by an agent installation, one target per task.",
                RiskLevel::Medium,
                crate::agent_install::SCRIPT,
                vec![
                    blank("TARGET", "Address of the host to install on", false),
                    blank("PORT", "SSH port", false),
                    blank("LOGIN", "Login account", false),
                    blank("AUTH", "password or key", false),
                    blank("PASSWORD", "The login's password", true),
                    blank("PRIVATE_KEY", "The login's private key", true),
                    blank("AGENT_ID", "The new agent's id", false),
                    blank("TOKEN", "The new agent's one-time enrollment token", true),
                    blank("SERVER", "The server URL the new agent dials", false),
                    blank("INSTALL_DIR", "Where the agent is installed", false),
                    blank(
                        "PROXY",
                        "A proxy agent (host:port) to go through; empty: direct",
                        false,
                    ),
                    blank(
                        "UNIT",
                        "The systemd unit written where systemd runs (@COMMAND@: the agent's command)",
                        false,
                    ),
                ],
            )
        },
        spec(
            crate::agent_install::UNINSTALL_SCRIPT_NAME,
            "Remove this host's COC agent (R3): its directory, state and systemd unit, 3 s after reporting. Only an agent installed by COC-AGENT-INSTALL; any other is refused.",
            RiskLevel::Medium,
            crate::agent_install::UNINSTALL_SCRIPT,
            vec![],
        ),
        spec(
            crate::resource_op::SCRIPT_NAME,
            "Start, stop or restart services on this host (P4: a database's service): systemd where it runs, else pg_ctlcluster for postgresql@VERSION-CLUSTER and service for the rest; fails when a service is not in the wanted state afterwards.",
            RiskLevel::Medium,
            crate::resource_op::SCRIPT,
            vec![
                p(
                    crate::resource_op::UNITS_PARAM,
                    "The services, separated by spaces (each host its own)",
                    ParamType::String,
                    Some(""),
                    false,
                ),
                p(
                    crate::resource_op::ACTION_PARAM,
                    "start, stop or restart",
                    ParamType::String,
                    None,
                    false,
                ),
            ],
        ),
        spec(
            crate::health::SCRIPT_NAME,
            "Health probe (M7): disk and inode use, memory and swap, load, time sync, failed services, TLS certificates of listening ports, pending reboot — read-only; a health check judges its output.",
            RiskLevel::Low,
            crate::health::probe::PROBE,
            vec![],
        ),
    ]
}

#[cfg(test)]
mod system_tests {
    #[test]
    fn system_scripts_are_valid_once_reviewers_are_set() {
        for mut s in super::system_scripts() {
            s.reviewers = vec![crate::notify::Recipient::Individual {
                users: vec!["x".into()],
            }];
            s.validate().unwrap_or_else(|e| panic!("{}: {e}", s.name));
        }
    }
}
