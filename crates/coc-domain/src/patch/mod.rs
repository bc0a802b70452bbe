//! Patch baselines and compliance (P1, P3; ref. 4.2.1 and 4.2.4): which
//! patches a baseline approves, and the compliance state of each patch on
//! a host from what its latest scan or repair found.
//!
//! A *patch* is an update of one package a host's package manager offers
//! (apt's candidate version, dnf's `updateinfo` advisory), or a package
//! the host has installed. A *baseline* decides which of them are to be
//! installed:
//! - an **installation rule** baseline approves by classification,
//!   severity and age: a patch released at least N days ago (0–365), or
//!   before a date; non-security patches only when it says so;
//! - a **custom** baseline approves the listed packages at the listed
//!   versions (up to [`MAX_CUSTOM_PATCHES`]).
//!
//! Either way, *rejected* exceptions are never installed and *approved*
//! exceptions always are; an exception is a package name, possibly with
//! one `*` wildcard (`openssl*`, `kernel-*.x86_64`).

use serde::{Deserialize, Serialize};

pub mod dnf;
pub mod host;

use crate::error::{DomainError, invalid};

/// Most patches a custom baseline lists.
pub const MAX_CUSTOM_PATCHES: usize = 1000;
/// Most approved or rejected exceptions of a baseline.
pub const MAX_EXCEPTIONS: usize = 200;
/// Longest package name or pattern, characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest version (or release) of a listed patch, characters.
pub const MAX_VERSION_CHARS: usize = 50;
/// Longest automatic approval delay, days.
pub const MAX_APPROVE_AFTER_DAYS: u16 = 365;

/// The common job of a patch scan.
pub const SCAN_JOB: &str = "COC-Patch-Scan";
/// The common job of a repair.
pub const REPAIR_JOB: &str = "COC-Patch-Repair";
/// The common job of a repair that reboots the hosts needing it.
pub const REPAIR_REBOOT_JOB: &str = "COC-Patch-Repair-Reboot";
/// The common job of a rollback.
pub const ROLLBACK_JOB: &str = "COC-Patch-Rollback";
/// The repair jobs' global parameter naming the baseline.
pub const BASELINE_PARAM: &str = "BASELINE";

/// Default timeout of a patch scan, repair or rollback, seconds.
pub const DEFAULT_TIMEOUT_S: u32 = 1800;
/// Longest timeout of a patch task, seconds (6 h).
pub const MAX_TIMEOUT_S: u32 = 21_600;

/// Checks a patch task's timeout: 60 to [`MAX_TIMEOUT_S`] seconds.
///
/// Errors: [`DomainError::Validation`].
pub fn validate_timeout(t: u32) -> Result<(), DomainError> {
    if (60..=MAX_TIMEOUT_S).contains(&t) {
        Ok(())
    } else {
        Err(invalid(format!(
            "a patch task's timeout is 60 to {MAX_TIMEOUT_S} seconds"
        )))
    }
}

/// One day, ms.
const DAY_MS: i64 = 86_400_000;

/// An enum of this module's API: named in snake_case on the wire and in
/// the OpenAPI document alike (`stored_enum!`'s renames do not reach the
/// document), with its stored names.
macro_rules! api_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vm])* $v),+
        }
        impl $name {
            /// Every value.
            pub const ALL: &'static [$name] = &[$($name::$v),+];
            /// Its name (as serialized).
            pub fn as_str(self) -> &'static str {
                match self { $($name::$v => $s),+ }
            }
        }
    };
}

api_enum! {
    /// What a patch fixes (ref. 4.2.1 "Category").
    Classification {
        /// Fixes a vulnerability (apt: from a `…-security` suite).
        Security = "security",
        /// Fixes a bug.
        Bugfix = "bugfix",
        /// Adds or improves a function.
        Enhancement = "enhancement",
        /// Recommended by the vendor.
        Recommended = "recommended",
        /// A package the host does not have yet.
        Newpackage = "newpackage",
    }
}

api_enum! {
    /// How severe the problem a patch fixes is (ref. 4.2.1 "Severity").
    Severity {
        /// Critical.
        Critical = "critical",
        /// Important.
        Important = "important",
        /// Moderate.
        Moderate = "moderate",
        /// Low.
        Low = "low",
        /// Not rated.
        None = "none",
    }
}

api_enum! {
    /// The level a patch the baseline approves is reported at in
    /// compliance (ref. 4.2.1 "Compliance Reporting").
    ComplianceLevel {
        /// Not set.
        Unspecified = "unspecified",
        /// Critical.
        Critical = "critical",
        /// High.
        High = "high",
        /// Medium.
        Medium = "medium",
        /// Low.
        Low = "low",
        /// A suggestion.
        Suggestion = "suggestion",
    }
}

api_enum! {
    /// A patch's compliance state on a host (ref. 4.2.4).
    PatchState {
        /// Approved, installed, no newer approved version.
        Installed = "installed",
        /// Installed, but not approved by the baseline.
        InstalledOther = "installed_other",
        /// Installed by a repair; takes effect after a reboot.
        InstalledPendingReboot = "installed_pending_reboot",
        /// A rejected exception: never repaired.
        InstalledRejected = "installed_rejected",
        /// Approved but not installed (or an older version is).
        Missing = "missing",
        /// The last repair of it failed.
        Failed = "failed",
    }
}

impl PatchState {
    /// Whether a host with a patch in this state is compliant.
    pub fn compliant(self) -> bool {
        !matches!(self, PatchState::Missing | PatchState::Failed)
    }
}

api_enum! {
    /// Patch work on hosts (P2): what a patch ticket does.
    PatchWorkKind {
        /// Find the patches offered ([`SCAN_JOB`]).
        Scan = "scan",
        /// Install what the baseline approves ([`REPAIR_JOB`], or
        /// [`REPAIR_REBOOT_JOB`] with `reboot`).
        Repair = "repair",
        /// Put back what the latest repair replaced ([`ROLLBACK_JOB`]).
        Rollback = "rollback",
    }
}

impl PatchWorkKind {
    /// The common job it runs.
    pub fn job(self, reboot: bool) -> &'static str {
        match self {
            PatchWorkKind::Scan => SCAN_JOB,
            PatchWorkKind::Repair if reboot => REPAIR_REBOOT_JOB,
            PatchWorkKind::Repair => REPAIR_JOB,
            PatchWorkKind::Rollback => ROLLBACK_JOB,
        }
    }
}

/// Most hosts of one patch ticket.
pub const MAX_WORK_HOSTS: usize = 1000;

/// A request to scan, repair or roll back hosts (P2): a ticket of the
/// work's common job, with batches and a suspension threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchWork {
    /// The hosts (ids or names; 1..=[`MAX_WORK_HOSTS`]).
    pub hosts: Vec<String>,
    /// A repair's baseline (name or id); none: the one each host follows.
    #[serde(default)]
    pub baseline: Option<String>,
    /// A repair reboots the hosts that need it afterwards and waits for
    /// them.
    #[serde(default)]
    pub reboot: bool,
    /// Hosts per batch (default: all in one).
    #[serde(default)]
    pub batch_size: Option<u32>,
    /// Suspension threshold: the success rate in % below which the work
    /// stops before the next batch.
    #[serde(default)]
    pub success_rate_threshold: Option<f64>,
}

impl PatchWork {
    /// The request trimmed, without repeated hosts, and checked.
    ///
    /// Errors: [`DomainError::Validation`]: no host or more than
    /// [`MAX_WORK_HOSTS`], batch size 0, a threshold outside 0–100, a
    /// baseline or reboot asked of a scan or rollback.
    pub fn normalized(&self, kind: PatchWorkKind) -> Result<PatchWork, DomainError> {
        let hosts = crate::ticket::distinct_trimmed(&self.hosts);
        if hosts.is_empty() || hosts.len() > MAX_WORK_HOSTS {
            return Err(invalid(format!(
                "choose 1 to {MAX_WORK_HOSTS} hosts to {}",
                kind.as_str()
            )));
        }
        crate::ticket::check_batching(self.batch_size, self.success_rate_threshold)?;
        let baseline = self
            .baseline
            .as_deref()
            .map(str::trim)
            .filter(|b| !b.is_empty())
            .map(str::to_string);
        if kind != PatchWorkKind::Repair && (baseline.is_some() || self.reboot) {
            return Err(invalid("only a repair takes a baseline or a reboot"));
        }
        Ok(PatchWork {
            hosts,
            baseline,
            reboot: self.reboot,
            batch_size: self.batch_size,
            success_rate_threshold: self.success_rate_threshold,
        })
    }
}

/// When an installation rule baseline approves a patch by itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AutoApproval {
    /// This many days (0..=365) after its release.
    AfterDays {
        /// Days.
        days: u16,
    },
    /// When it was released before this day (`YYYY-MM-DD`, UTC).
    ReleasedBefore {
        /// The day.
        date: String,
    },
}

/// A package at a version a custom baseline lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListedPatch {
    /// Package name; one `*` allowed.
    pub name: String,
    /// `version-release` (rpm) or the Debian version.
    pub version: String,
}

/// What a baseline approves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Rules {
    /// Installation rules (ref. table 4-3).
    Installation {
        /// Classifications approved; empty: all.
        #[serde(default)]
        classifications: Vec<Classification>,
        /// Severities approved; empty: all.
        #[serde(default)]
        severities: Vec<Severity>,
        /// When a matching patch is approved.
        approval: AutoApproval,
        /// Also install patches that are not security fixes.
        #[serde(default)]
        install_non_security: bool,
    },
    /// A custom list (ref. table 4-4).
    Custom {
        /// The packages and versions to install (1..=1000).
        patches: Vec<ListedPatch>,
    },
}

/// A patch baseline (ref. 4.2.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BaselineSpec {
    /// Name, unique in the tenant.
    pub name: String,
    /// Description (≤ 500 characters).
    #[serde(default)]
    pub description: String,
    /// The OS family it is for (`debian`, `ubuntu`, `centos`, `rocky`,
    /// `euleros`, …; as hosts report it, lowercase).
    pub os: String,
    /// Products (OS versions: `12`, `22.04`, `8.2`); empty: all.
    #[serde(default)]
    pub products: Vec<String>,
    /// What it approves.
    pub rules: Rules,
    /// The level its approved patches are reported at.
    #[serde(default = "unspecified")]
    pub compliance_level: ComplianceLevel,
    /// Always installed (names, one `*` each).
    #[serde(default)]
    pub approved: Vec<String>,
    /// Never installed (names, one `*` each).
    #[serde(default)]
    pub rejected: Vec<String>,
    /// It applies to hosts of these applications (names as given and
    /// answered, ids as stored); empty: any.
    #[serde(default)]
    pub applications: Vec<String>,
    /// It applies to hosts with all of these tags; empty: any.
    #[serde(default)]
    pub host_tags: std::collections::BTreeMap<String, String>,
}

impl crate::application::refs::AppRefs for BaselineSpec {
    fn app_refs(&mut self) -> Vec<&mut String> {
        self.applications.iter_mut().collect()
    }
}

fn unspecified() -> ComplianceLevel {
    ComplianceLevel::Unspecified
}

/// A patch as a scan found it on a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Patch {
    /// Package name (with its architecture where the manager gives one).
    pub name: String,
    /// The version installed; `None`: not installed.
    #[serde(default)]
    pub installed: Option<String>,
    /// The newer version offered; `None`: none.
    #[serde(default)]
    pub available: Option<String>,
    /// What it fixes.
    pub classification: Classification,
    /// How severe.
    pub severity: Severity,
    /// When the offered version was released, Unix ms; `None`: unknown
    /// (apt does not say: the store passes when a scan first saw this
    /// version offered, which it is at least as old as).
    #[serde(default)]
    pub released_at: Option<i64>,
}

/// The patches `apt-get --simulate upgrade` (or `dist-upgrade`) would
/// install, from its `Inst` lines (`LANG=C`): `Inst NAME [INSTALLED]
/// (CANDIDATE ORIGIN:VERSION/SUITE[, …] [ARCH])`, without `[INSTALLED]`
/// for a package the host does not have. A candidate from a `…-security`
/// suite is a Security patch; a new package is a Newpackage; any other a
/// Bugfix. apt rates no severity and gives no release date.
pub fn parse_apt_simulation(text: &str) -> Vec<Patch> {
    text.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("Inst ")?;
            let (name, rest) = rest.split_once(' ')?;
            let rest = rest.trim_start();
            let (installed, rest) = match rest.strip_prefix('[') {
                Some(r) => {
                    let (v, r) = r.split_once(']')?;
                    (Some(v.to_string()), r.trim_start())
                }
                None => (None, rest),
            };
            let (candidate, origins) = rest.strip_prefix('(')?.split_once(' ')?;
            let origins = origins.split(')').next().unwrap_or_default();
            let security = origins.split(", ").any(|o| {
                o.split_whitespace()
                    .next()
                    .is_some_and(|o| o.ends_with("-security"))
            });
            let classification = if security {
                Classification::Security
            } else if installed.is_none() {
                Classification::Newpackage
            } else {
                Classification::Bugfix
            };
            Some(Patch {
                name: name.to_string(),
                installed,
                available: Some(candidate.to_string()),
                classification,
                severity: Severity::None,
                released_at: None,
            })
        })
        .take(MAX_SCANNED)
        .collect()
}

/// Most patches one scan of a host keeps.
pub const MAX_SCANNED: usize = 20_000;

/// A baseline's decision on one patch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Approval {
    /// To be installed.
    Approved,
    /// Never to be installed (a rejected exception).
    Rejected,
    /// Not for this baseline.
    NotApproved,
}

/// Whether `name` matches `pattern`: equal, or with the pattern's one `*`
/// standing for any run of characters.
pub fn matches(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((head, tail)) => {
            name.len() >= head.len() + tail.len() && name.starts_with(head) && name.ends_with(tail)
        }
    }
}

fn check_pattern(what: &str, p: &str) -> Result<(), DomainError> {
    let ok = !p.is_empty()
        && p.chars().count() <= MAX_NAME_CHARS
        && p.matches('*').count() <= 1
        && p.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.+*:".contains(c));
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "{what} '{p}' must be 1 to {MAX_NAME_CHARS} letters, digits and _-.+: with at most one *"
        )))
    }
}

/// Parses `YYYY-MM-DD` as the start of that day, Unix ms (UTC).
fn day_start(date: &str) -> Option<i64> {
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_millis())
}

impl BaselineSpec {
    /// The baseline trimmed, lowercase OS, exceptions without repeats,
    /// and checked.
    ///
    /// Errors: [`DomainError::Validation`] naming the first problem: no
    /// name or OS, a description over 500 characters, an approval delay
    /// over 365 days or a date that is no `YYYY-MM-DD`, a custom list
    /// empty or over [`MAX_CUSTOM_PATCHES`], a name or version with other
    /// characters or too long, a pattern with two `*`, more than
    /// [`MAX_EXCEPTIONS`] exceptions, a name both approved and rejected.
    pub fn normalized(&self) -> Result<BaselineSpec, DomainError> {
        let name = self.name.trim().to_string();
        if name.is_empty() || name.chars().count() > 64 {
            return Err(invalid("a baseline's name is 1 to 64 characters"));
        }
        let description = self.description.trim().to_string();
        if description.chars().count() > 500 {
            return Err(invalid("the description is longer than 500 characters"));
        }
        let os = self.os.trim().to_lowercase();
        if os.is_empty() || os.len() > 64 {
            return Err(invalid("choose the OS the baseline is for"));
        }
        let mut products: Vec<String> = self
            .products
            .iter()
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect();
        products.dedup();
        let rules = match &self.rules {
            Rules::Installation {
                classifications,
                severities,
                approval,
                install_non_security,
            } => {
                match approval {
                    AutoApproval::AfterDays { days } if *days > MAX_APPROVE_AFTER_DAYS => {
                        return Err(invalid(format!(
                            "patches are approved 0 to {MAX_APPROVE_AFTER_DAYS} days after their release"
                        )));
                    }
                    AutoApproval::ReleasedBefore { date } if day_start(date.trim()).is_none() => {
                        return Err(invalid(format!(
                            "the approval date '{date}' must be YYYY-MM-DD"
                        )));
                    }
                    _ => {}
                }
                let approval = match approval {
                    AutoApproval::ReleasedBefore { date } => AutoApproval::ReleasedBefore {
                        date: date.trim().to_string(),
                    },
                    a => a.clone(),
                };
                let mut classifications = classifications.clone();
                classifications.sort_by_key(|c| c.as_str());
                classifications.dedup();
                let mut severities = severities.clone();
                severities.sort_by_key(|s| s.as_str());
                severities.dedup();
                Rules::Installation {
                    classifications,
                    severities,
                    approval,
                    install_non_security: *install_non_security,
                }
            }
            Rules::Custom { patches } => {
                if patches.is_empty() || patches.len() > MAX_CUSTOM_PATCHES {
                    return Err(invalid(format!(
                        "a custom baseline lists 1 to {MAX_CUSTOM_PATCHES} patches"
                    )));
                }
                let mut out = Vec::with_capacity(patches.len());
                for p in patches {
                    let name = p.name.trim().to_string();
                    check_pattern("patch name", &name)?;
                    let version = p.version.trim().to_string();
                    let ok = !version.is_empty()
                        && version.split('-').all(|part| {
                            !part.is_empty() && part.chars().count() <= MAX_VERSION_CHARS
                        })
                        && version
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || "_.:~+-".contains(c));
                    if !ok {
                        return Err(invalid(format!(
                            "the version '{version}' of {name} must be VERSION[-RELEASE], each at most {MAX_VERSION_CHARS} letters, digits and _.:~+"
                        )));
                    }
                    out.push(ListedPatch { name, version });
                }
                Rules::Custom { patches: out }
            }
        };
        let exceptions = |what: &str, list: &[String]| -> Result<Vec<String>, DomainError> {
            if list.len() > MAX_EXCEPTIONS {
                return Err(invalid(format!("at most {MAX_EXCEPTIONS} {what} patches")));
            }
            let mut out: Vec<String> = Vec::new();
            for p in list {
                let p = p.trim().to_string();
                if p.is_empty() {
                    continue;
                }
                check_pattern(&format!("{what} patch"), &p)?;
                if !out.contains(&p) {
                    out.push(p);
                }
            }
            Ok(out)
        };
        let approved = exceptions("approved", &self.approved)?;
        let rejected = exceptions("rejected", &self.rejected)?;
        if let Some(both) = approved.iter().find(|p| rejected.contains(p)) {
            return Err(invalid(format!("'{both}' is both approved and rejected")));
        }
        crate::resource::validate_tags(&self.host_tags)?;
        let mut applications: Vec<String> = Vec::new();
        for a in &self.applications {
            let a = a.trim().to_string();
            if !a.is_empty() && !applications.contains(&a) {
                applications.push(a);
            }
        }
        Ok(BaselineSpec {
            name,
            description,
            os,
            products,
            rules,
            compliance_level: self.compliance_level,
            approved,
            rejected,
            applications,
            host_tags: self.host_tags.clone(),
        })
    }

    /// Whether it is meant for a host of OS family `os` at version
    /// `version` (empty products: every version).
    pub fn fits(&self, os: &str, version: &str) -> bool {
        self.os.eq_ignore_ascii_case(os.trim())
            && (self.products.is_empty() || self.products.iter().any(|p| p == version.trim()))
    }

    /// Whether it applies to a host of application `application` (its
    /// id, as stored) with `tags`, beyond its OS ([`Self::fits`]).
    pub fn applies(
        &self,
        application: Option<&str>,
        tags: &std::collections::BTreeMap<String, String>,
    ) -> bool {
        (self.applications.is_empty()
            || application.is_some_and(|a| self.applications.iter().any(|x| x == a)))
            && self.host_tags.iter().all(|(k, v)| tags.get(k) == Some(v))
    }

    /// What it decides on `patch` at `now` (Unix ms): a rejected exception
    /// first, then an approved one, then its rules.
    pub fn approval(&self, patch: &Patch, now: i64) -> Approval {
        if self.rejected.iter().any(|p| matches(p, &patch.name)) {
            return Approval::Rejected;
        }
        if self.approved.iter().any(|p| matches(p, &patch.name)) {
            return Approval::Approved;
        }
        let yes = match &self.rules {
            Rules::Installation {
                classifications,
                severities,
                approval,
                install_non_security,
            } => {
                let class =
                    classifications.is_empty() || classifications.contains(&patch.classification);
                let severity = severities.is_empty() || severities.contains(&patch.severity);
                let security =
                    *install_non_security || patch.classification == Classification::Security;
                // A patch of unknown age is old enough only when no delay
                // is asked.
                let aged = match approval {
                    AutoApproval::AfterDays { days } => match patch.released_at {
                        Some(at) => now - at >= i64::from(*days) * DAY_MS,
                        None => *days == 0,
                    },
                    AutoApproval::ReleasedBefore { date } => {
                        match (patch.released_at, day_start(date)) {
                            (Some(at), Some(before)) => at < before,
                            _ => false,
                        }
                    }
                };
                class && severity && security && aged
            }
            Rules::Custom { patches } => patches.iter().any(|l| {
                matches(&l.name, &patch.name)
                    && (patch.available.as_deref() == Some(l.version.as_str())
                        || patch.installed.as_deref() == Some(l.version.as_str()))
            }),
        };
        if yes {
            Approval::Approved
        } else {
            Approval::NotApproved
        }
    }

    /// The compliance state of `patch` on a host (ref. 4.2.4), or `None`
    /// when it is neither installed nor approved (not reported). `failed`:
    /// the last repair of it failed; `pending_reboot`: the last repair
    /// installed it and the host has not rebooted since.
    pub fn state(
        &self,
        patch: &Patch,
        now: i64,
        failed: bool,
        pending_reboot: bool,
    ) -> Option<PatchState> {
        let approval = self.approval(patch, now);
        let installed = patch.installed.is_some();
        Some(match approval {
            _ if failed && approval == Approval::Approved => PatchState::Failed,
            Approval::Rejected if installed => PatchState::InstalledRejected,
            Approval::Rejected => return None,
            Approval::Approved if patch.available.is_some() || !installed => PatchState::Missing,
            Approval::Approved if pending_reboot => PatchState::InstalledPendingReboot,
            Approval::Approved => PatchState::Installed,
            Approval::NotApproved if installed => PatchState::InstalledOther,
            Approval::NotApproved => return None,
        })
    }
}

/// What a repair of a host installs: each patch `baseline` approves at
/// `now` that has a newer version offered, as `(name, version)`, in
/// name order; rejected and unapproved patches are left alone.
pub fn repair_plan(baseline: &BaselineSpec, patches: &[Patch], now: i64) -> Vec<(String, String)> {
    let mut plan: Vec<(String, String)> = patches
        .iter()
        .filter(|p| baseline.approval(p, now) == Approval::Approved)
        .filter_map(|p| p.available.clone().map(|v| (p.name.clone(), v)))
        .collect();
    plan.sort();
    plan.dedup_by(|a, b| a.0 == b.0);
    plan
}

/// A host's compliance from its patches' states (ref. 4.2.4): compliant
/// when no patch is missing or failed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HostCompliance {
    /// No patch missing or failed.
    pub compliant: bool,
    /// Patches not compliant (missing or failed).
    pub non_compliant: u32,
    /// Patches reported.
    pub total: u32,
    /// Non-compliant patches by severity (`critical`, `important`, …).
    pub by_severity: std::collections::BTreeMap<String, u32>,
}

/// Sums up a host's patches and their states.
pub fn host_compliance<'a>(
    states: impl IntoIterator<Item = (&'a Patch, PatchState)>,
) -> HostCompliance {
    let mut c = HostCompliance::default();
    for (p, st) in states {
        c.total += 1;
        if !st.compliant() {
            c.non_compliant += 1;
            *c.by_severity
                .entry(p.severity.as_str().to_string())
                .or_default() += 1;
        }
    }
    c.compliant = c.non_compliant == 0;
    c
}

/// The baselines every tenant starts with, one per OS family COC scans:
/// security patches of any severity, approved 7 days after their release.
pub fn default_baselines() -> Vec<BaselineSpec> {
    [
        ("debian", "Debian"),
        ("ubuntu", "Ubuntu"),
        ("centos", "CentOS"),
        ("rocky", "Rocky Linux"),
        ("euleros", "EulerOS"),
    ]
    .into_iter()
    .map(|(os, shown)| BaselineSpec {
        name: format!("COC-{}-Default", shown.replace(' ', "")),
        description: format!(
            "Default patch baseline for {shown}: security patches, 7 days after release"
        ),
        os: os.into(),
        products: vec![],
        rules: Rules::Installation {
            classifications: vec![Classification::Security],
            severities: vec![],
            approval: AutoApproval::AfterDays { days: 7 },
            install_non_security: false,
        },
        compliance_level: ComplianceLevel::Unspecified,
        approved: vec![],
        rejected: vec![],
        applications: vec![],
        host_tags: Default::default(),
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    fn patch(name: &str, class: Classification, days_old: i64) -> Patch {
        Patch {
            name: name.into(),
            installed: Some("1.0-1".into()),
            available: Some("1.0-2".into()),
            classification: class,
            severity: Severity::Important,
            released_at: Some(NOW - days_old * DAY_MS),
        }
    }

    fn rules(days: u16) -> BaselineSpec {
        BaselineSpec {
            name: " web ".into(),
            description: String::new(),
            os: " Debian ".into(),
            products: vec!["12".into(), " ".into()],
            rules: Rules::Installation {
                classifications: vec![],
                severities: vec![Severity::Critical, Severity::Important],
                approval: AutoApproval::AfterDays { days },
                install_non_security: false,
            },
            compliance_level: ComplianceLevel::High,
            approved: vec!["tzdata".into()],
            rejected: vec!["openssl*".into(), "openssl*".into()],
            applications: vec![" shop ".into(), "shop".into()],
            host_tags: [("tier".to_string(), "web".to_string())].into(),
        }
        .normalized()
        .unwrap()
    }

    /// `apt-get -s upgrade` as captured on a Debian 12 machine.
    const APT: &str = include_str!("../../fixtures/apt-get-simulate-upgrade-bookworm.txt");

    #[test]
    fn apt_simulation_gives_every_upgrade_and_its_security_suite() {
        let found = parse_apt_simulation(APT);
        assert_eq!(found.len(), 116);
        let security = found
            .iter()
            .filter(|p| p.classification == Classification::Security)
            .count();
        assert_eq!(security, 78);
        let p = found.iter().find(|p| p.name == "liblzma5").unwrap();
        assert_eq!(p.installed.as_deref(), Some("5.4.1-1"));
        assert_eq!(p.available.as_deref(), Some("5.4.1-1+deb12u2"));
        assert_eq!(p.classification, Classification::Security);
        // In the point release and the security suite: security.
        let both = found.iter().find(|p| p.name == "libgcrypt20").unwrap();
        assert_eq!(both.classification, Classification::Security);
        let bash = found.iter().find(|p| p.name == "bash").unwrap();
        assert_eq!(
            (bash.classification, bash.available.as_deref()),
            (Classification::Bugfix, Some("5.2.15-2+b13"))
        );
        // A package the host does not have (dist-upgrade's form).
        let new = parse_apt_simulation(
            "Inst linux-image-6.1.0-31-amd64 (6.1.128-1 Debian-Security:12/stable-security [amd64])\n\
             Inst newtool (1.2-1 Debian:12.9/stable [amd64])\nConf newtool (1.2-1 Debian:12.9/stable [amd64])",
        );
        assert_eq!(new.len(), 2);
        assert_eq!(
            (new[0].installed.as_deref(), new[0].classification),
            (None, Classification::Security)
        );
        assert_eq!(new[1].classification, Classification::Newpackage);
    }

    #[test]
    fn a_repair_installs_what_is_approved_and_a_host_sums_up() {
        let b = rules(7);
        let mut patches = parse_apt_simulation(APT);
        for p in &mut patches {
            p.released_at = Some(NOW - 30 * DAY_MS);
            p.severity = Severity::Important;
        }
        let plan = repair_plan(&b, &patches, NOW);
        // The security patches, but not the rejected openssl ones.
        let openssl = patches
            .iter()
            .filter(|p| {
                p.classification == Classification::Security && p.name.starts_with("openssl")
            })
            .count();
        assert_eq!(plan.len(), 78 - openssl);
        assert!(plan.contains(&("liblzma5".into(), "5.4.1-1+deb12u2".into())));
        assert!(
            !plan
                .iter()
                .any(|(n, _)| n == "bash" || n.starts_with("openssl"))
        );
        let states: Vec<(&Patch, PatchState)> = patches
            .iter()
            .filter_map(|p| b.state(p, NOW, false, false).map(|s| (p, s)))
            .collect();
        let c = host_compliance(states.iter().map(|(p, s)| (*p, *s)));
        assert!(!c.compliant);
        assert_eq!(c.non_compliant as usize, plan.len());
        assert_eq!(c.by_severity["important"] as usize, plan.len());
        assert_eq!(
            c.total as usize,
            patches.len(),
            "every one is installed: reported"
        );
        assert!(host_compliance(std::iter::empty()).compliant);
    }

    #[test]
    fn stored_names_are_the_wire_names() {
        fn same<T: Serialize + Copy>(all: &[T], name: fn(T) -> &'static str) {
            for v in all {
                assert_eq!(serde_json::to_value(v).unwrap(), name(*v));
            }
        }
        same(Classification::ALL, Classification::as_str);
        same(Severity::ALL, Severity::as_str);
        same(ComplianceLevel::ALL, ComplianceLevel::as_str);
        same(PatchState::ALL, PatchState::as_str);
    }

    #[test]
    fn wildcards_stand_for_one_run_of_characters() {
        assert!(matches("openssl*", "openssl"));
        assert!(matches("openssl*", "openssl-libs.x86_64"));
        assert!(matches("kernel-*.x86_64", "kernel-5.14.0.x86_64"));
        assert!(!matches("kernel-*.x86_64", "kernel-5.14.0.aarch64"));
        assert!(!matches("ab*ba", "aba"), "head and tail may not overlap");
        assert!(matches("curl", "curl") && !matches("curl", "curl-dev"));
    }

    #[test]
    fn a_baseline_is_normalized_and_refused_when_wrong() {
        let b = rules(7);
        assert_eq!((b.name.as_str(), b.os.as_str()), ("web", "debian"));
        assert_eq!(b.products, ["12"]);
        assert_eq!(b.rejected, ["openssl*"]);
        assert!(b.fits("DEBIAN", "12") && !b.fits("debian", "11") && !b.fits("ubuntu", "12"));
        assert_eq!(b.applications, ["shop"]);
        let web: std::collections::BTreeMap<String, String> = [
            ("tier".to_string(), "web".to_string()),
            ("x".to_string(), "y".to_string()),
        ]
        .into();
        assert!(b.applies(Some("shop"), &web));
        assert!(!b.applies(Some("billing"), &web) && !b.applies(None, &web));
        assert!(!b.applies(Some("shop"), &Default::default()));
        let bad = |f: fn(&mut BaselineSpec)| {
            let mut x = rules(7);
            f(&mut x);
            x.normalized().unwrap_err().to_string()
        };
        assert!(bad(|x| x.rejected = vec!["a*b*".into()]).contains("at most one *"));
        assert!(bad(|x| x.approved = vec!["openssl*".into()]).contains("both"));
        assert!(bad(|x| x.os = " ".into()).contains("OS"));
        assert!(
            bad(|x| {
                x.rules = Rules::Installation {
                    classifications: vec![],
                    severities: vec![],
                    approval: AutoApproval::AfterDays { days: 366 },
                    install_non_security: false,
                }
            })
            .contains("365")
        );
        assert!(
            bad(|x| {
                x.rules = Rules::Installation {
                    classifications: vec![],
                    severities: vec![],
                    approval: AutoApproval::ReleasedBefore {
                        date: "2026/01/01".into(),
                    },
                    install_non_security: false,
                }
            })
            .contains("YYYY-MM-DD")
        );
        assert!(bad(|x| x.rules = Rules::Custom { patches: vec![] }).contains("1 to 1000"));
        assert!(
            bad(|x| {
                x.rules = Rules::Custom {
                    patches: vec![ListedPatch {
                        name: "curl".into(),
                        version: "7.61 1".into(),
                    }],
                }
            })
            .contains("VERSION[-RELEASE]")
        );
        for b in default_baselines() {
            assert_eq!(b.normalized().unwrap(), b, "{}", b.name);
        }
    }

    #[test]
    fn installation_rules_approve_by_class_severity_and_age() {
        let b = rules(7);
        use Approval::*;
        assert_eq!(
            b.approval(&patch("curl", Classification::Security, 8), NOW),
            Approved
        );
        assert_eq!(
            b.approval(&patch("curl", Classification::Security, 6), NOW),
            NotApproved,
            "too young"
        );
        assert_eq!(
            b.approval(&patch("curl", Classification::Bugfix, 30), NOW),
            NotApproved,
            "not security"
        );
        let mut low = patch("curl", Classification::Security, 30);
        low.severity = Severity::Low;
        assert_eq!(b.approval(&low, NOW), NotApproved, "severity not chosen");
        assert_eq!(
            b.approval(&patch("openssl-libs", Classification::Security, 30), NOW),
            Rejected
        );
        assert_eq!(
            b.approval(&patch("tzdata", Classification::Bugfix, 0), NOW),
            Approved,
            "approved exception"
        );
        let mut unknown = patch("curl", Classification::Security, 0);
        unknown.released_at = None;
        assert_eq!(b.approval(&unknown, NOW), NotApproved);
        assert_eq!(rules(0).approval(&unknown, NOW), Approved, "no delay asked");
        let before = BaselineSpec {
            rules: Rules::Installation {
                classifications: vec![Classification::Security, Classification::Bugfix],
                severities: vec![],
                approval: AutoApproval::ReleasedBefore {
                    date: "2026-01-01".into(),
                },
                install_non_security: true,
            },
            ..rules(0)
        };
        let mut old = patch("bash", Classification::Bugfix, 0);
        old.released_at = day_start("2025-12-31");
        assert_eq!(before.approval(&old, NOW), Approved);
        old.released_at = day_start("2026-01-01");
        assert_eq!(before.approval(&old, NOW), NotApproved);
    }

    #[test]
    fn compliance_states_follow_the_latest_scan_or_repair() {
        let b = rules(7);
        use PatchState::*;
        let missing = patch("curl", Classification::Security, 30);
        assert_eq!(b.state(&missing, NOW, false, false), Some(Missing));
        assert_eq!(b.state(&missing, NOW, true, false), Some(Failed));
        let mut done = missing.clone();
        done.available = None;
        assert_eq!(b.state(&done, NOW, false, false), Some(Installed));
        assert_eq!(
            b.state(&done, NOW, false, true),
            Some(InstalledPendingReboot)
        );
        let other = patch("vim", Classification::Enhancement, 30);
        assert_eq!(b.state(&other, NOW, false, false), Some(InstalledOther));
        assert_eq!(
            b.state(
                &patch("openssl", Classification::Security, 30),
                NOW,
                false,
                false
            ),
            Some(InstalledRejected)
        );
        let mut absent = other.clone();
        absent.installed = None;
        assert_eq!(
            b.state(&absent, NOW, false, false),
            None,
            "neither installed nor approved"
        );
        assert!(!Missing.compliant() && !Failed.compliant() && InstalledOther.compliant());
        // A custom list: the listed version, exactly.
        let custom = BaselineSpec {
            rules: Rules::Custom {
                patches: vec![ListedPatch {
                    name: "curl*".into(),
                    version: "1.0-2".into(),
                }],
            },
            ..rules(7)
        }
        .normalized()
        .unwrap();
        assert_eq!(custom.state(&missing, NOW, false, false), Some(Missing));
        let mut newer = missing.clone();
        newer.available = Some("1.0-3".into());
        newer.installed = Some("1.0-3".into());
        assert_eq!(
            custom.state(&newer, NOW, false, false),
            Some(InstalledOther)
        );
    }
}
