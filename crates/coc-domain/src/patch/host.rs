//! A host's patches (P2, P3; ref. 4.2.2–4.2.4): what the latest scan or
//! repair of a host leaves stored per package, which baseline the host
//! follows, what a repair installs and what a rollback puts back.
//!
//! Only the latest report counts: each scan or repair replaces the host's
//! rows. What a report cannot say is carried over from the rows before it:
//! when a version was first offered (apt gives no release date, so that
//! is the release date's stand-in: the version is at least that old; dnf
//! dates its advisories, and their date is taken), and
//! what an installed package was while it was offered (a security update
//! once installed is still a security patch).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{
    BaselineSpec, Classification, HostCompliance, MAX_SCANNED, Patch, PatchState, Severity,
};
use crate::error::{DomainError, invalid};

/// One package of a host as its latest scan or repair left it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HostPatch {
    /// Package name (`name:arch` for a foreign architecture).
    pub name: String,
    /// The version installed; `None`: not installed.
    pub installed: Option<String>,
    /// The newer version offered; `None`: none.
    pub available: Option<String>,
    /// What it fixes (for an installed package that was never offered:
    /// [`Classification::Bugfix`]).
    pub classification: Classification,
    /// How severe.
    pub severity: Severity,
    /// When its offered version (else its installed one) was first seen
    /// offered, Unix ms; `None`: never seen offered.
    pub first_offered_at: Option<i64>,
    /// The latest repair tried to install it and failed.
    pub failed: bool,
    /// Installed by a repair, waiting for a reboot to take effect.
    pub pending_reboot: bool,
}

impl HostPatch {
    /// It as a baseline judges it: released when first offered.
    pub fn patch(&self) -> Patch {
        Patch {
            name: self.name.clone(),
            installed: self.installed.clone(),
            available: self.available.clone(),
            classification: self.classification,
            severity: self.severity,
            released_at: self.first_offered_at,
        }
    }
}

/// What one scan or repair found on a host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Found {
    /// The updates offered (parsed from the manager's answer).
    pub offered: Vec<Patch>,
    /// Every installed package and its version.
    pub installed: BTreeMap<String, String>,
    /// Packages a repair meant to install that did not reach their
    /// version (empty for a scan or a successful repair).
    pub failed: BTreeSet<String>,
    /// Packages waiting for a reboot (only when the host needs one).
    pub pending_reboot: BTreeSet<String>,
}

/// Package managers whose answers COC reads.
pub const MANAGERS: &[&str] = &["apt", "dnf"];

/// What an agent's patch report says, for [`merge`]: the updates offered
/// (apt's simulation parsed), every installed version, the packages of
/// `planned` (a repair's `(name, version)` plan; empty otherwise) that did
/// not reach their version, and the packages waiting for a reboot.
///
/// Errors: [`DomainError::Validation`] when the host's package manager
/// is none COC reads ([`MANAGERS`]).
pub fn found(
    report: &coc_proto::PatchReport,
    planned: &[(String, String)],
) -> Result<Found, DomainError> {
    if !MANAGERS.contains(&report.manager.as_str()) {
        return Err(invalid(if report.manager.is_empty() {
            "the host has no package manager COC knows (apt, dnf)".to_string()
        } else {
            format!(
                "COC does not read {}'s answers; apt and dnf hosts are scanned",
                report.manager
            )
        }));
    }
    let installed: BTreeMap<String, String> = report
        .installed
        .iter()
        .take(coc_proto::MAX_PATCH_INSTALLED)
        .filter_map(|p| p.version.clone().map(|v| (p.name.clone(), v)))
        .collect();
    let failed = missed(planned, &installed);
    let pending_reboot = if report.reboot_required {
        report.reboot_packages.iter().cloned().collect()
    } else {
        BTreeSet::new()
    };
    Ok(Found {
        offered: match report.manager.as_str() {
            "dnf" => super::dnf::parse_dnf(&report.offered),
            _ => super::parse_apt_simulation(&report.offered),
        },
        installed,
        failed,
        pending_reboot,
    })
}

/// The host's rows after a report at `now` (Unix ms): one per package
/// offered or installed, in name order, at most [`MAX_SCANNED`];
/// `previous` are the rows before it.
pub fn merge(previous: &[HostPatch], found: Found, now: i64) -> Vec<HostPatch> {
    let before: BTreeMap<&str, &HostPatch> =
        previous.iter().map(|p| (p.name.as_str(), p)).collect();
    let mut out: BTreeMap<String, HostPatch> = BTreeMap::new();
    for p in found.offered {
        let prev = before.get(p.name.as_str());
        // dnf dates its advisories; apt's stand-in is the first sight.
        let first_offered_at = p.released_at.or(match prev {
            Some(q) if q.available == p.available => q.first_offered_at,
            _ => Some(now),
        });
        let installed = p
            .installed
            .clone()
            .or_else(|| found.installed.get(&p.name).cloned());
        out.insert(
            p.name.clone(),
            HostPatch {
                failed: found.failed.contains(&p.name),
                pending_reboot: false,
                name: p.name,
                installed,
                available: p.available,
                classification: p.classification,
                severity: p.severity,
                first_offered_at,
            },
        );
    }
    for (name, version) in found.installed {
        if out.contains_key(&name) {
            continue;
        }
        let prev = before.get(name.as_str());
        // It was offered at this version: it keeps what it was.
        let offered_as = prev.filter(|q| {
            q.available.as_deref() == Some(version.as_str())
                || (q.available.is_none() && q.installed.as_deref() == Some(version.as_str()))
        });
        out.insert(
            name.clone(),
            HostPatch {
                pending_reboot: found.pending_reboot.contains(&name),
                installed: Some(version),
                available: None,
                classification: prev.map_or(Classification::Bugfix, |q| q.classification),
                severity: prev.map_or(Severity::None, |q| q.severity),
                first_offered_at: offered_as.and_then(|q| q.first_offered_at),
                failed: false,
                name,
            },
        );
    }
    out.into_values().take(MAX_SCANNED).collect()
}

/// The baseline a host follows among `baselines` (enabled ones): of those
/// for its OS `os` at `version` that apply to its application (id) and
/// tags, the most specific — naming applications or tags counts most,
/// then products — and between equals a tenant's own before a `COC-`
/// default, then by name.
pub fn baseline_for<'a>(
    baselines: impl IntoIterator<Item = &'a BaselineSpec>,
    os: &str,
    version: &str,
    application: Option<&str>,
    tags: &BTreeMap<String, String>,
) -> Option<&'a BaselineSpec> {
    baselines
        .into_iter()
        .filter(|b| b.fits(os, version) && b.applies(application, tags))
        .max_by(|a, b| {
            let rank = |x: &BaselineSpec| {
                (
                    2 * u8::from(!x.applications.is_empty())
                        + 2 * u8::from(!x.host_tags.is_empty())
                        + u8::from(!x.products.is_empty()),
                    !x.name.starts_with("COC-"),
                )
            };
            rank(a).cmp(&rank(b)).then_with(|| b.name.cmp(&a.name))
        })
}

/// Each reported row of a host with its state under `baseline` at `now`
/// (rows neither installed nor approved are not reported).
pub fn states<'a>(
    baseline: &BaselineSpec,
    rows: &'a [HostPatch],
    now: i64,
) -> Vec<(&'a HostPatch, PatchState)> {
    rows.iter()
        .filter_map(|r| {
            baseline
                .state(&r.patch(), now, r.failed, r.pending_reboot)
                .map(|s| (r, s))
        })
        .collect()
}

/// A host's compliance from its rows under `baseline` at `now`.
pub fn compliance(baseline: &BaselineSpec, rows: &[HostPatch], now: i64) -> HostCompliance {
    let patches: Vec<(Patch, PatchState)> = states(baseline, rows, now)
        .into_iter()
        .map(|(r, s)| (r.patch(), s))
        .collect();
    super::host_compliance(patches.iter().map(|(p, s)| (p, *s)))
}

/// A host's compliance from only its rows with an update offered, and
/// how many of its other rows there are (`settled`): a row without an
/// update offered is installed (it would not be stored otherwise) and
/// never missing or failed, so it only counts towards the total. Equal to
/// [`compliance`] over all rows; the compliance report reads far fewer.
pub fn compliance_of_offered(
    baseline: &BaselineSpec,
    offered: &[HostPatch],
    settled: u32,
    now: i64,
) -> HostCompliance {
    let mut c = compliance(baseline, offered, now);
    c.total += settled;
    c
}

/// The packages of a repair's `plan` that did not reach their planned
/// version, by what is `installed` after it.
pub fn missed(plan: &[(String, String)], installed: &BTreeMap<String, String>) -> BTreeSet<String> {
    plan.iter()
        .filter(|(n, v)| installed.get(n) != Some(v))
        .map(|(n, _)| n.clone())
        .collect()
}

/// What a rollback does from the versions the latest repair `replaced`
/// and what is `installed` now: each package back to its old version
/// (`None`: removed, it was new), leaving out those already there.
pub fn rollback_plan(
    replaced: &[(String, Option<String>)],
    installed: &BTreeMap<String, String>,
) -> Vec<(String, Option<String>)> {
    replaced
        .iter()
        .filter(|(n, v)| installed.get(n) != v.as_ref())
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::{AutoApproval, Rules, default_baselines};
    use super::*;

    const NOW: i64 = 1_800_000_000_000;
    const DAY: i64 = 86_400_000;

    fn offered(name: &str, from: &str, to: &str, class: Classification) -> Patch {
        Patch {
            name: name.into(),
            installed: Some(from.into()),
            available: Some(to.into()),
            classification: class,
            severity: Severity::None,
            released_at: None,
        }
    }

    fn installed(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_report_keeps_first_sight_and_what_an_installed_patch_was() {
        let first = merge(
            &[],
            Found {
                offered: vec![
                    offered("openssl", "3.0.1", "3.0.2", Classification::Security),
                    offered("bash", "5.1", "5.2", Classification::Bugfix),
                ],
                installed: installed(&[("openssl", "3.0.1"), ("bash", "5.1"), ("zlib", "1.2")]),
                ..Found::default()
            },
            NOW,
        );
        assert_eq!(
            first.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            ["bash", "openssl", "zlib"]
        );
        assert_eq!(first[1].first_offered_at, Some(NOW));
        assert_eq!(first[2].first_offered_at, None);
        assert_eq!(first[2].classification, Classification::Bugfix);
        // Ten days on: openssl still offered at the same version keeps
        // its first sight; bash is offered at a newer one.
        let later = NOW + 10 * DAY;
        let second = merge(
            &first,
            Found {
                offered: vec![
                    offered("openssl", "3.0.1", "3.0.2", Classification::Security),
                    offered("bash", "5.1", "5.3", Classification::Bugfix),
                ],
                installed: installed(&[("openssl", "3.0.1"), ("bash", "5.1"), ("zlib", "1.2")]),
                ..Found::default()
            },
            later,
        );
        assert_eq!(second[1].first_offered_at, Some(NOW));
        assert_eq!(second[0].first_offered_at, Some(later));
        // A repair installed openssl 3.0.2 and failed on bash; a reboot
        // is pending for openssl.
        let third = merge(
            &second,
            Found {
                offered: vec![offered("bash", "5.1", "5.3", Classification::Bugfix)],
                installed: installed(&[("openssl", "3.0.2"), ("bash", "5.1"), ("zlib", "1.2")]),
                failed: ["bash".to_string()].into(),
                pending_reboot: ["openssl".to_string()].into(),
            },
            later,
        );
        let o = third.iter().find(|r| r.name == "openssl").unwrap();
        assert_eq!(
            (
                o.installed.as_deref(),
                o.available.as_deref(),
                o.classification
            ),
            (Some("3.0.2"), None, Classification::Security)
        );
        assert_eq!(o.first_offered_at, Some(NOW));
        assert!(o.pending_reboot);
        assert!(third.iter().find(|r| r.name == "bash").unwrap().failed);
        // A package gone from the host is gone from its rows.
        let fourth = merge(
            &third,
            Found {
                installed: installed(&[("openssl", "3.0.2")]),
                ..Found::default()
            },
            later,
        );
        assert_eq!(fourth.len(), 1);
        // The next report without the reboot pending clears it.
        assert!(!fourth[0].pending_reboot);
    }

    #[test]
    fn states_follow_the_baseline_and_the_latest_report() {
        let mut b = default_baselines().remove(0);
        b.rules = Rules::Installation {
            classifications: vec![Classification::Security],
            severities: vec![],
            approval: AutoApproval::AfterDays { days: 0 },
            install_non_security: false,
        };
        b.rejected = vec!["telnet*".into()];
        let rows = merge(
            &[],
            Found {
                offered: vec![
                    offered("openssl", "3.0.1", "3.0.2", Classification::Security),
                    offered("libssl3", "3.0.1", "3.0.2", Classification::Security),
                    offered("bash", "5.1", "5.2", Classification::Bugfix),
                ],
                installed: installed(&[
                    ("openssl", "3.0.1"),
                    ("libssl3", "3.0.1"),
                    ("bash", "5.1"),
                    ("telnet", "0.17"),
                ]),
                failed: ["libssl3".to_string()].into(),
                ..Found::default()
            },
            NOW,
        );
        let got: BTreeMap<&str, PatchState> = states(&b, &rows, NOW)
            .into_iter()
            .map(|(r, s)| (r.name.as_str(), s))
            .collect();
        assert_eq!(got["openssl"], PatchState::Missing);
        assert_eq!(got["libssl3"], PatchState::Failed);
        assert_eq!(got["bash"], PatchState::InstalledOther);
        assert_eq!(got["telnet"], PatchState::InstalledRejected);
        let c = compliance(&b, &rows, NOW);
        assert!(!c.compliant);
        assert_eq!((c.non_compliant, c.total), (2, 4));
        assert_eq!(c.by_severity["none"], 2);
        // Once installed, openssl is Installed and the host compliant
        // when libssl3 is too.
        let after = merge(
            &rows,
            Found {
                offered: vec![offered("bash", "5.1", "5.2", Classification::Bugfix)],
                installed: installed(&[
                    ("openssl", "3.0.2"),
                    ("libssl3", "3.0.2"),
                    ("bash", "5.1"),
                    ("telnet", "0.17"),
                ]),
                ..Found::default()
            },
            NOW,
        );
        let got: BTreeMap<&str, PatchState> = states(&b, &after, NOW)
            .into_iter()
            .map(|(r, s)| (r.name.as_str(), s))
            .collect();
        assert_eq!(got["openssl"], PatchState::Installed);
        assert!(compliance(&b, &after, NOW).compliant);
        // The report's shortcut agrees with the full count.
        for set in [&rows, &after] {
            let (offered, settled): (Vec<HostPatch>, Vec<HostPatch>) =
                set.iter().cloned().partition(|r| r.available.is_some());
            assert!(settled.iter().all(|r| r.installed.is_some()));
            assert_eq!(
                compliance_of_offered(&b, &offered, settled.len() as u32, NOW),
                compliance(&b, set, NOW)
            );
        }
    }

    #[test]
    fn the_most_specific_baseline_wins() {
        let defaults = default_baselines();
        let mut web = defaults[0].clone();
        web.name = "web".into();
        web.host_tags = [("tier".to_string(), "web".to_string())].into();
        let mut twelve = defaults[0].clone();
        twelve.name = "bookworm".into();
        twelve.products = vec!["12".into()];
        let mut all = defaults.clone();
        all.extend([web, twelve]);
        let tags: BTreeMap<String, String> = [("tier".to_string(), "web".to_string())].into();
        let pick = |os: &str, v: &str, t: &BTreeMap<String, String>| {
            baseline_for(&all, os, v, None, t).map(|b| b.name.clone())
        };
        assert_eq!(pick("debian", "12", &tags).as_deref(), Some("web"));
        assert_eq!(
            pick("debian", "12", &BTreeMap::new()).as_deref(),
            Some("bookworm")
        );
        assert_eq!(
            pick("debian", "11", &BTreeMap::new()).as_deref(),
            Some("COC-Debian-Default")
        );
        assert_eq!(
            pick("ubuntu", "22.04", &tags).as_deref(),
            Some("COC-Ubuntu-Default")
        );
        assert_eq!(pick("freebsd", "14", &tags), None);
    }

    #[test]
    fn missed_and_rollback_compare_with_what_is_installed() {
        let now = installed(&[("a", "2"), ("b", "1"), ("new", "1")]);
        let plan = vec![("a".to_string(), "2".to_string()), ("b".into(), "2".into())];
        assert_eq!(missed(&plan, &now), ["b".to_string()].into());
        let replaced = vec![
            ("a".to_string(), Some("1".to_string())),
            ("b".into(), Some("1".into())),
            ("new".into(), None),
            ("gone".into(), None),
        ];
        assert_eq!(
            rollback_plan(&replaced, &now),
            vec![
                ("a".to_string(), Some("1".to_string())),
                ("new".into(), None)
            ]
        );
    }
}
