//! Drift (R5; ref. 3.1's configuration management, the landscape
//! document's "current network status"): a host's desired state —
//! packages at versions, services running, files with their content
//! hashes — against the actual state its agent reports.
//!
//! The agent is told only what to watch ([`DesiredState::watch`]); it
//! reports what it found ([`Observed`]) and the comparison is made here
//! ([`assess`]). A file put under watch without a hash takes the first
//! hash its agent reports as its baseline. A host that drifted raises one
//! alarm, `ConfigurationDrift`, through the normal pipeline; it resolves
//! when the host is back in its desired state ([`alarm_change`]).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::alarm::{AlarmLevel, AlarmStatus, NormalizedAlarm};
use crate::error::{DomainError, invalid};

pub use coc_proto::{FileSeen, MAX_WATCHED, PackageSeen, ServiceSeen, Watch};

/// The alarm name a drifted host raises.
pub const ALARM_NAME: &str = "ConfigurationDrift";
/// The alarm source of drift alarms.
pub const ALARM_SOURCE: &str = "COC agent";
/// Shortest full-check interval, seconds.
pub const MIN_INTERVAL_S: u64 = 10;
/// Longest full-check interval, seconds (a day).
pub const MAX_INTERVAL_S: u64 = 86_400;
/// Full-check interval when none is given, seconds (5 minutes).
pub const DEFAULT_INTERVAL_S: u64 = 300;

/// A package that should be installed, at `version` when given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PackageWant {
    /// Package name (`openssl`).
    pub name: String,
    /// Exact version (`3.0.15-1~deb12u1`); `None`: any version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// A file under watch, with the SHA-256 its content should have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FileWant {
    /// Absolute path.
    pub path: String,
    /// 64 lower-case hex characters; `None`: the first hash the agent
    /// reports becomes the baseline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

fn default_interval() -> u64 {
    DEFAULT_INTERVAL_S
}

fn default_level() -> AlarmLevel {
    AlarmLevel::Major
}

/// A host's desired state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DesiredState {
    /// Packages that should be installed.
    #[serde(default)]
    pub packages: Vec<PackageWant>,
    /// Services that should run (systemd units, else process names).
    #[serde(default)]
    pub services: Vec<String>,
    /// Files under watch.
    #[serde(default)]
    pub files: Vec<FileWant>,
    /// The agent checks everything at least this often, seconds
    /// ([`MIN_INTERVAL_S`]..=[`MAX_INTERVAL_S`], default 300); files and
    /// the package database are looked at every few seconds besides.
    #[serde(default = "default_interval")]
    pub interval_s: u64,
    /// Level of the drift alarm (default `Major`).
    #[serde(default = "default_level")]
    pub alarm_level: AlarmLevel,
    /// Differences are listed, no alarm is raised.
    #[serde(default)]
    pub no_alarm: bool,
}

impl Default for DesiredState {
    fn default() -> Self {
        DesiredState {
            packages: Vec::new(),
            services: Vec::new(),
            files: Vec::new(),
            interval_s: DEFAULT_INTERVAL_S,
            alarm_level: default_level(),
            no_alarm: false,
        }
    }
}

fn trimmed_opt(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn plain(what: &str, v: &str, max: usize) -> Result<(), DomainError> {
    if v.is_empty() || v.chars().count() > max {
        return Err(invalid(format!("{what} must be 1..={max} characters")));
    }
    if v.starts_with('-') || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(format!(
            "{what} '{v}' must not start with '-' or hold spaces or control characters"
        )));
    }
    Ok(())
}

impl DesiredState {
    /// The state trimmed, hashes in lower case, each list sorted; what a
    /// store keeps.
    ///
    /// Errors: [`DomainError::Validation`] naming the first problem — an
    /// empty state, more than [`MAX_WATCHED`] of a kind, a repeat, a
    /// package or service name or version with spaces or over 128 (256)
    /// characters, a path that is not absolute or holds `..`, a hash that
    /// is not 64 hex characters, an interval out of range.
    pub fn normalized(&self) -> Result<DesiredState, DomainError> {
        let mut packages = Vec::new();
        for p in &self.packages {
            let name = p.name.trim().to_string();
            plain("a package name", &name, 128)?;
            let version = trimmed_opt(&p.version);
            if let Some(v) = &version {
                plain("a package version", v, 128)?;
            }
            packages.push(PackageWant { name, version });
        }
        let mut services = Vec::new();
        for s in &self.services {
            let s = s.trim().to_string();
            plain("a service name", &s, 256)?;
            services.push(s);
        }
        let mut files = Vec::new();
        for f in &self.files {
            let path = f.path.trim().to_string();
            if !path.starts_with('/') || path.len() > 4096 {
                return Err(invalid(format!(
                    "file '{path}' must be an absolute path of at most 4096 bytes"
                )));
            }
            if path.split('/').any(|c| c == "..") || path.chars().any(char::is_control) {
                return Err(invalid(format!(
                    "file '{path}' must not hold '..' or control characters"
                )));
            }
            let sha256 = trimmed_opt(&f.sha256).map(|h| h.to_ascii_lowercase());
            if let Some(h) = &sha256
                && (h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()))
            {
                return Err(invalid(format!(
                    "the SHA-256 of '{path}' must be 64 hex characters"
                )));
            }
            files.push(FileWant { path, sha256 });
        }
        if packages.is_empty() && services.is_empty() && files.is_empty() {
            return Err(invalid(
                "a desired state names at least one package, service or file",
            ));
        }
        for (what, n) in [
            ("packages", packages.len()),
            ("services", services.len()),
            ("files", files.len()),
        ] {
            if n > MAX_WATCHED {
                return Err(invalid(format!("at most {MAX_WATCHED} {what}")));
            }
        }
        packages.sort_by(|a, b| a.name.cmp(&b.name));
        services.sort();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        repeat("package", packages.iter().map(|p| p.name.as_str()))?;
        repeat("service", services.iter().map(String::as_str))?;
        repeat("file", files.iter().map(|f| f.path.as_str()))?;
        if !(MIN_INTERVAL_S..=MAX_INTERVAL_S).contains(&self.interval_s) {
            return Err(invalid(format!(
                "interval_s must be {MIN_INTERVAL_S}..={MAX_INTERVAL_S} seconds"
            )));
        }
        Ok(DesiredState {
            packages,
            services,
            files,
            interval_s: self.interval_s,
            alarm_level: self.alarm_level,
            no_alarm: self.no_alarm,
        })
    }

    /// The level drift is raised at; `None` with [`DesiredState::no_alarm`].
    pub fn alarm(&self) -> Option<AlarmLevel> {
        (!self.no_alarm).then_some(self.alarm_level)
    }

    /// What the agent is told to watch: the names and paths, no values.
    pub fn watch(&self) -> Watch {
        Watch {
            packages: self.packages.iter().map(|p| p.name.clone()).collect(),
            services: self.services.clone(),
            files: self.files.iter().map(|f| f.path.clone()).collect(),
            interval_s: self.interval_s,
        }
    }
}

fn repeat<'a>(what: &str, sorted: impl Iterator<Item = &'a str>) -> Result<(), DomainError> {
    let mut last: Option<&str> = None;
    for v in sorted {
        if last == Some(v) {
            return Err(invalid(format!("{what} '{v}' is listed twice")));
        }
        last = Some(v);
    }
    Ok(())
}

/// What a host's agent reported (its `state` message).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observed {
    /// Watched packages.
    #[serde(default)]
    pub packages: Vec<PackageSeen>,
    /// Watched services.
    #[serde(default)]
    pub services: Vec<ServiceSeen>,
    /// Watched files.
    #[serde(default)]
    pub files: Vec<FileSeen>,
}

impl Observed {
    /// The report cut to [`MAX_WATCHED`] of each kind (an agent's input).
    pub fn capped(mut self) -> Observed {
        self.packages.truncate(MAX_WATCHED);
        self.services.truncate(MAX_WATCHED);
        self.files.truncate(MAX_WATCHED);
        self
    }
}

/// The kind of a watched item.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// A package.
    Package,
    /// A service.
    Service,
    /// A file.
    File,
}

/// One way the host differs from its desired state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Difference {
    /// Package, service or file.
    pub kind: ItemKind,
    /// Its name or path.
    pub item: String,
    /// What the desired state says (`3.0.15-1`, `running`, `sha256 ab12…`).
    pub expected: String,
    /// What the agent found (`3.0.11-1`, `not installed`, `stopped`,
    /// `missing`, `sha256 cd34…`).
    pub actual: String,
}

impl Difference {
    /// One line: `package openssl: 3.0.15-1 expected, 3.0.11-1 found`.
    pub fn line(&self) -> String {
        let kind = match self.kind {
            ItemKind::Package => "package",
            ItemKind::Service => "service",
            ItemKind::File => "file",
        };
        format!(
            "{kind} {}: {} expected, {} found",
            self.item, self.expected, self.actual
        )
    }
}

/// What a report means for a host ([`assess`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    /// The desired state with baselines taken from this report, when a
    /// file without a hash got one.
    pub adopted: Option<DesiredState>,
    /// The differences, packages then services then files, each by name.
    pub differences: Vec<Difference>,
    /// The report does not cover the current watch (the agent watched an
    /// older one): the agent should be sent the watch again. Items it did
    /// not report are not counted as differences.
    pub stale: bool,
}

fn short(h: &str) -> String {
    format!("sha256 {}", &h[..h.len().min(12)])
}

/// Compares a report with the desired state.
pub fn assess(desired: &DesiredState, seen: &Observed) -> Assessment {
    let packages: BTreeMap<&str, &PackageSeen> =
        seen.packages.iter().map(|p| (p.name.as_str(), p)).collect();
    let services: BTreeMap<&str, bool> = seen
        .services
        .iter()
        .map(|s| (s.name.as_str(), s.running))
        .collect();
    let files: BTreeMap<&str, &FileSeen> =
        seen.files.iter().map(|f| (f.path.as_str(), f)).collect();
    let mut differences = Vec::new();
    let mut stale = false;
    let mut diff = |kind, item: &str, expected: String, actual: String| {
        differences.push(Difference {
            kind,
            item: item.to_string(),
            expected,
            actual,
        })
    };
    for p in &desired.packages {
        let Some(s) = packages.get(p.name.as_str()) else {
            stale = true;
            continue;
        };
        match (&p.version, &s.version) {
            (_, None) => diff(
                ItemKind::Package,
                &p.name,
                p.version.clone().unwrap_or_else(|| "installed".into()),
                "not installed".into(),
            ),
            (Some(want), Some(got)) if want != got => {
                diff(ItemKind::Package, &p.name, want.clone(), got.clone())
            }
            _ => {}
        }
    }
    for name in &desired.services {
        match services.get(name.as_str()) {
            None => stale = true,
            Some(false) => diff(ItemKind::Service, name, "running".into(), "stopped".into()),
            Some(true) => {}
        }
    }
    let mut adopted = desired.clone();
    let mut took = false;
    for f in adopted.files.iter_mut() {
        let Some(s) = files.get(f.path.as_str()) else {
            stale = true;
            continue;
        };
        match (&f.sha256, &s.sha256) {
            (want, None) => diff(
                ItemKind::File,
                &f.path,
                want.as_deref().map_or("present".into(), short),
                s.error.clone().unwrap_or_else(|| "unreadable".into()),
            ),
            (None, Some(got)) => {
                f.sha256 = Some(got.clone());
                took = true;
            }
            (Some(want), Some(got)) if want != got => {
                diff(ItemKind::File, &f.path, short(want), short(got))
            }
            _ => {}
        }
    }
    Assessment {
        adopted: took.then_some(adopted),
        differences,
        stale,
    }
}

/// "Accept the current state": the desired state with the versions and
/// hashes the agent last reported. Packages not installed, services
/// stopped and files missing stay as they are (and stay differences):
/// take them out of the desired state if that is what is meant.
pub fn accept(desired: &DesiredState, seen: &Observed) -> DesiredState {
    let versions: BTreeMap<&str, &str> = seen
        .packages
        .iter()
        .filter_map(|p| Some((p.name.as_str(), p.version.as_deref()?)))
        .collect();
    let hashes: BTreeMap<&str, &str> = seen
        .files
        .iter()
        .filter_map(|f| Some((f.path.as_str(), f.sha256.as_deref()?)))
        .collect();
    let mut out = desired.clone();
    for p in out.packages.iter_mut() {
        if let Some(v) = versions.get(p.name.as_str()) {
            p.version = Some(v.to_string());
        }
    }
    for f in out.files.iter_mut() {
        if let Some(h) = hashes.get(f.path.as_str()) {
            f.sha256 = Some(h.to_string());
        }
    }
    out
}

/// Whether the host's drift alarm should change: `Alarm` when it drifted
/// (or its differences changed while raised, so the alarm shows them),
/// `Ok` when it is back in its desired state or alarms were turned off
/// while raised, `None` otherwise.
pub fn alarm_change(
    raised: bool,
    level: Option<AlarmLevel>,
    before: &[Difference],
    now: &[Difference],
) -> Option<AlarmStatus> {
    match (raised, level.is_some() && !now.is_empty()) {
        (false, true) => Some(AlarmStatus::Alarm),
        (true, false) => Some(AlarmStatus::Ok),
        (true, true) if before != now => Some(AlarmStatus::Alarm),
        _ => None,
    }
}

/// The drift alarm of host `host` (id `host_id`): labels `alertname` and
/// `host` (one alarm per host), source [`ALARM_SOURCE`], the differences
/// in its description (the first ten) and as `additional.differences`.
pub fn alarm(
    host: &str,
    host_id: &str,
    level: AlarmLevel,
    differences: &[Difference],
    status: AlarmStatus,
    now: i64,
) -> NormalizedAlarm {
    let labels = BTreeMap::from([
        ("alertname".to_string(), ALARM_NAME.to_string()),
        ("host".to_string(), host.to_string()),
    ]);
    let mut desc = match status {
        AlarmStatus::Ok => format!("{host} is back in its desired state"),
        _ => format!(
            "{host} differs from its desired state in {} item(s): ",
            differences.len()
        ),
    };
    if status != AlarmStatus::Ok {
        let lines: Vec<String> = differences.iter().take(10).map(Difference::line).collect();
        desc.push_str(&lines.join("; "));
        if differences.len() > 10 {
            desc.push_str(&format!("; and {} more", differences.len() - 10));
        }
    }
    let kinds: BTreeSet<&str> = differences
        .iter()
        .map(|d| match d.kind {
            ItemKind::Package => "package",
            ItemKind::Service => "service",
            ItemKind::File => "file",
        })
        .collect();
    NormalizedAlarm {
        alarm_id: None,
        alarm_name: ALARM_NAME.into(),
        alarm_level: level,
        time: now,
        namespace: None,
        region: None,
        application: None,
        resource_name: Some(host.to_string()),
        resource_id: Some(host_id.to_string()),
        alarm_desc: Some(desc),
        url: None,
        alarm_status: status,
        alarm_source: ALARM_SOURCE.into(),
        additional: BTreeMap::from([
            ("differences".to_string(), differences.len().to_string()),
            (
                "kinds".to_string(),
                kinds.into_iter().collect::<Vec<_>>().join(","),
            ),
        ]),
        labels,
        annotations: BTreeMap::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(c: char) -> String {
        std::iter::repeat_n(c, 64).collect()
    }

    fn desired() -> DesiredState {
        DesiredState {
            packages: vec![
                PackageWant {
                    name: " openssl ".into(),
                    version: Some("3.0.15".into()),
                },
                PackageWant {
                    name: "curl".into(),
                    version: Some(" ".into()),
                },
            ],
            services: vec!["nginx".into()],
            files: vec![
                FileWant {
                    path: "/etc/app.conf".into(),
                    sha256: Some(h('A')),
                },
                FileWant {
                    path: "/etc/new.conf".into(),
                    sha256: None,
                },
            ],
            ..Default::default()
        }
    }

    fn seen() -> Observed {
        Observed {
            packages: vec![
                PackageSeen {
                    name: "openssl".into(),
                    version: Some("3.0.11".into()),
                },
                PackageSeen {
                    name: "curl".into(),
                    version: None,
                },
            ],
            services: vec![ServiceSeen {
                name: "nginx".into(),
                running: false,
            }],
            files: vec![
                FileSeen {
                    path: "/etc/app.conf".into(),
                    sha256: Some(h('b')),
                    error: None,
                },
                FileSeen {
                    path: "/etc/new.conf".into(),
                    sha256: Some(h('c')),
                    error: None,
                },
            ],
        }
    }

    #[test]
    fn normalized_sorts_trims_and_refuses() {
        let d = desired().normalized().unwrap();
        assert_eq!(d.packages[0].name, "curl");
        assert_eq!(d.packages[0].version, None, "blank version: any");
        assert_eq!(d.packages[1].name, "openssl");
        assert_eq!(d.files[0].sha256.as_deref(), Some(h('a').as_str()));
        let bad = |f: fn(&mut DesiredState)| {
            let mut d = desired();
            f(&mut d);
            d.normalized().unwrap_err().to_string()
        };
        assert!(bad(|d| d.files[0].path = "etc/x".into()).contains("absolute"));
        assert!(bad(|d| d.files[0].path = "/etc/../x".into()).contains(".."));
        assert!(bad(|d| d.files[0].sha256 = Some("abc".into())).contains("64 hex"));
        assert!(bad(|d| d.services.push("nginx".into())).contains("twice"));
        assert!(bad(|d| d.services.push("a b".into())).contains("spaces"));
        assert!(bad(|d| d.packages[0].name = "-rf".into()).contains("'-'"));
        assert!(bad(|d| d.interval_s = 1).contains("interval_s"));
        assert!(
            DesiredState::default()
                .normalized()
                .unwrap_err()
                .to_string()
                .contains("at least one")
        );
        let w = d.watch();
        assert_eq!(w.packages, vec!["curl", "openssl"]);
        assert_eq!(w.files, vec!["/etc/app.conf", "/etc/new.conf"]);
        assert_eq!(w.interval_s, DEFAULT_INTERVAL_S);
    }

    #[test]
    fn differences_and_baselines() {
        let d = desired().normalized().unwrap();
        let a = assess(&d, &seen());
        let lines: Vec<String> = a.differences.iter().map(Difference::line).collect();
        assert_eq!(
            lines,
            vec![
                "package curl: installed expected, not installed found",
                "package openssl: 3.0.15 expected, 3.0.11 found",
                "service nginx: running expected, stopped found",
                "file /etc/app.conf: sha256 aaaaaaaaaaaa expected, sha256 bbbbbbbbbbbb found",
            ]
        );
        assert!(!a.stale);
        let adopted = a.adopted.expect("the new file's baseline");
        assert_eq!(adopted.files[1].sha256.as_deref(), Some(h('c').as_str()));
        // The baseline is kept: a later change of that file is drift.
        let mut later = seen();
        later.files[1].sha256 = Some(h('d'));
        let b = assess(&adopted, &later);
        assert!(b.adopted.is_none());
        assert!(b.differences.iter().any(|x| x.item == "/etc/new.conf"));
        // A report of an older watch: missing items are not differences.
        let mut old = seen();
        old.files.clear();
        let c = assess(&adopted, &old);
        assert!(c.stale);
        assert!(c.differences.iter().all(|x| x.kind != ItemKind::File));
        // A missing file says so.
        let mut gone = seen();
        gone.files[0].sha256 = None;
        gone.files[0].error = Some("missing".into());
        let g = assess(&d, &gone);
        assert!(g.differences.iter().any(|x| x.actual == "missing"));
    }

    #[test]
    fn accept_takes_versions_and_hashes_not_absence() {
        let d = desired().normalized().unwrap();
        let acc = accept(&d, &seen());
        let a = assess(&acc, &seen());
        let lines: Vec<String> = a.differences.iter().map(Difference::line).collect();
        assert_eq!(
            lines,
            vec![
                "package curl: installed expected, not installed found",
                "service nginx: running expected, stopped found",
            ]
        );
    }

    #[test]
    fn the_alarm_is_one_per_host_and_follows_the_differences() {
        let d = desired().normalized().unwrap();
        let diffs = assess(&d, &seen()).differences;
        let lvl = Some(AlarmLevel::Major);
        assert_eq!(
            alarm_change(false, lvl, &[], &diffs),
            Some(AlarmStatus::Alarm)
        );
        assert_eq!(alarm_change(true, lvl, &diffs, &diffs), None);
        assert_eq!(
            alarm_change(true, lvl, &diffs, &diffs[..1]),
            Some(AlarmStatus::Alarm)
        );
        assert_eq!(alarm_change(true, lvl, &diffs, &[]), Some(AlarmStatus::Ok));
        assert_eq!(alarm_change(false, lvl, &[], &[]), None);
        assert_eq!(alarm_change(false, None, &[], &diffs), None, "alarm off");
        assert_eq!(
            alarm_change(true, None, &diffs, &diffs),
            Some(AlarmStatus::Ok)
        );
        let a = alarm(
            "web-1",
            "h1",
            AlarmLevel::Major,
            &diffs,
            AlarmStatus::Alarm,
            5,
        );
        let ok = alarm("web-1", "h1", AlarmLevel::Major, &[], AlarmStatus::Ok, 9);
        assert_eq!(a.fingerprint(), ok.fingerprint());
        assert_ne!(
            a.fingerprint(),
            alarm(
                "web-2",
                "h2",
                AlarmLevel::Major,
                &diffs,
                AlarmStatus::Alarm,
                5
            )
            .fingerprint()
        );
        let desc = a.alarm_desc.unwrap();
        assert!(desc.contains("4 item(s)"), "{desc}");
        assert!(desc.contains("service nginx"), "{desc}");
        assert_eq!(a.additional["kinds"], "file,package,service");
    }
}
