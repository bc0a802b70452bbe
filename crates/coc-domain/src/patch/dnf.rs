//! dnf's answers (P2, ref. 4.2.2): what a dnf host's agent reports as
//! offered — three sections of dnf's own output with `LANG=C`:
//! `== upgrades` (`dnf -q list --upgrades`: `NAME.ARCH  [EPOCH:]VERSION-RELEASE
//! REPO`), `== advisories` (`dnf -q updateinfo list --updates`: `ID
//! TYPE NEVRA`, the type `Severity/Sec.` for a security advisory) and
//! `== advisory info` (`dnf -q updateinfo info --updates`: each
//! advisory's `Update ID`, `Type`, `Updated` date and `Severity`).
//!
//! Every upgrade is a patch; one an advisory names takes the advisory's
//! classification, severity and date (the most severe advisory when
//! several name it); one no advisory names is a Bugfix without a date.

use std::collections::BTreeMap;

use super::{Classification, MAX_SCANNED, Patch, Severity};

/// Architectures a `NAME.ARCH` ends with.
const ARCHES: &[&str] = &[
    "noarch", "x86_64", "i686", "i386", "aarch64", "ppc64le", "s390x", "armv7hl", "src",
];

/// `name.arch` without its architecture.
fn without_arch(s: &str) -> &str {
    match s.rsplit_once('.') {
        Some((n, a)) if ARCHES.contains(&a) => n,
        _ => s,
    }
}

/// A NEVRA (`coc-alpha-1:1.1-1.noarch`) as its name.
fn nevra_name(nevra: &str) -> Option<&str> {
    let nvr = without_arch(nevra);
    let (nv, _release) = nvr.rsplit_once('-')?;
    let (name, _version) = nv.rsplit_once('-')?;
    Some(name)
}

/// An advisory's type as dnf lists it: (classification, severity).
fn advisory_type(t: &str) -> (Classification, Severity) {
    if let Some(sev) = t.strip_suffix("/Sec.") {
        return (Classification::Security, severity(sev));
    }
    match t {
        "security" => (Classification::Security, Severity::None),
        "enhancement" => (Classification::Enhancement, Severity::None),
        "newpackage" => (Classification::Newpackage, Severity::None),
        _ => (Classification::Bugfix, Severity::None),
    }
}

fn severity(s: &str) -> Severity {
    match s.trim().to_ascii_lowercase().as_str() {
        "critical" => Severity::Critical,
        "important" => Severity::Important,
        "moderate" => Severity::Moderate,
        "low" => Severity::Low,
        _ => Severity::None,
    }
}

/// How much a classification weighs when several advisories name a
/// package (a security fix outweighs a bug fix).
fn weight(c: Classification) -> u8 {
    match c {
        Classification::Security => 4,
        Classification::Bugfix => 3,
        Classification::Recommended => 2,
        Classification::Enhancement => 1,
        Classification::Newpackage => 0,
    }
}

fn severity_rank(s: Severity) -> u8 {
    match s {
        Severity::Critical => 4,
        Severity::Important => 3,
        Severity::Moderate => 2,
        Severity::Low => 1,
        Severity::None => 0,
    }
}

/// `2026-11-21 10:00:00` (UTC) as Unix ms.
fn date_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
        .ok()
        .or_else(|| {
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
        .map(|t| t.and_utc().timestamp_millis())
}

/// The patches of a dnf host's report (see the module).
pub fn parse_dnf(text: &str) -> Vec<Patch> {
    let mut section = "";
    let mut upgrades: Vec<(String, String)> = Vec::new();
    let mut advisories: Vec<(String, Classification, Severity, String)> = Vec::new();
    let mut dates: BTreeMap<String, i64> = BTreeMap::new();
    let mut info_id: Option<String> = None;
    // dnf wraps a long NAME.ARCH onto a line of its own.
    let mut wrapped: Option<String> = None;
    for line in text.lines() {
        if let Some(s) = line.strip_prefix("== ") {
            section = match s.trim() {
                "upgrades" => "upgrades",
                "advisories" => "advisories",
                "advisory info" => "info",
                _ => "",
            };
            continue;
        }
        let cols: Vec<&str> = line.split_whitespace().collect();
        match section {
            "upgrades" => {
                let cols: Vec<String> = match (wrapped.take(), cols.as_slice()) {
                    (_, ["Available", "Upgrades"] | ["Last", "metadata", ..]) => continue,
                    (None, [one]) => {
                        wrapped = Some(one.to_string());
                        continue;
                    }
                    (Some(name), [v, r]) => vec![name, v.to_string(), r.to_string()],
                    (_, c) => c.iter().map(|x| x.to_string()).collect(),
                };
                if let [name_arch, version, _repo] = cols.as_slice() {
                    upgrades.push((without_arch(name_arch).to_string(), version.clone()));
                }
            }
            "advisories" => {
                if let [id, kind, nevra] = cols.as_slice()
                    && let Some(name) = nevra_name(nevra)
                {
                    let (c, s) = advisory_type(kind);
                    advisories.push((name.to_string(), c, s, id.to_string()));
                }
            }
            "info" => {
                let Some((key, value)) = line.split_once(':') else {
                    continue;
                };
                match key.trim() {
                    "Update ID" => info_id = Some(value.trim().to_string()),
                    "Updated" | "Issued" => {
                        if let (Some(id), Some(ms)) = (&info_id, date_ms(value)) {
                            // The later of issued and updated.
                            let e = dates.entry(id.clone()).or_insert(ms);
                            *e = (*e).max(ms);
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    let mut best: BTreeMap<&str, (Classification, Severity, Option<i64>)> = BTreeMap::new();
    for (name, c, s, id) in &advisories {
        let date = dates.get(id).copied();
        let e = best.entry(name.as_str()).or_insert((*c, *s, date));
        if (weight(*c), severity_rank(*s)) > (weight(e.0), severity_rank(e.1)) {
            *e = (*c, *s, date.or(e.2));
        }
    }
    upgrades
        .into_iter()
        .take(MAX_SCANNED)
        .map(|(name, version)| {
            let (classification, severity, released_at) = best
                .get(name.as_str())
                .copied()
                .unwrap_or((Classification::Bugfix, Severity::None, None));
            Patch {
                name,
                installed: None,
                available: Some(version),
                classification,
                severity,
                released_at,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Produced by dnf 4.14.0 itself (Debian 12's `dnf`, no RHEL-family
    /// system can run here): a repository made by the test's method —
    /// `rpmbuild` of coc-alpha, coc-beta and coc-gamma 1.0 and 1.1,
    /// `createrepo_c`, an `updateinfo.xml` with a security advisory
    /// (Important) for coc-alpha and a bugfix advisory for coc-beta added
    /// by `modifyrepo_c` — the 1.0 versions installed with
    /// `dnf --installroot`, then the three commands of the module's
    /// report, verbatim.
    const DNF_4_14: &str = include_str!("../../fixtures/dnf-offered-4.14.txt");

    fn ms(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn real_dnf_answers_are_read() {
        let p = parse_dnf(DNF_4_14);
        let names: Vec<&str> = p.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(names, ["coc-alpha", "coc-beta", "coc-gamma"]);
        let alpha = &p[0];
        assert_eq!(alpha.available.as_deref(), Some("1.1-1"));
        assert_eq!(
            (alpha.classification, alpha.severity),
            (Classification::Security, Severity::Important)
        );
        assert_eq!(alpha.released_at, Some(ms("2026-11-21T10:00:00Z")));
        let beta = &p[1];
        assert_eq!(beta.classification, Classification::Bugfix);
        assert_eq!(beta.released_at, Some(ms("2026-10-02T08:30:00Z")));
        let gamma = &p[2];
        assert_eq!(
            (gamma.classification, gamma.severity, gamma.released_at),
            (Classification::Bugfix, Severity::None, None),
            "no advisory names it"
        );
    }

    #[test]
    fn epochs_wrapped_names_and_several_advisories_are_read() {
        let text = "== upgrades\nAvailable Upgrades\n\
            NetworkManager.x86_64   1:1.40.16-15.el9   baseos\n\
            a-package-with-a-very-long-name-indeed.noarch\n                 2.0-3.el9   appstream\n\
            == advisories\n\
            RHBA-2024:1000 bugfix NetworkManager-1:1.40.16-15.el9.x86_64\n\
            RHSA-2024:2000 Moderate/Sec. NetworkManager-1:1.40.16-15.el9.x86_64\n\
            RHEA-2024:3000 enhancement a-package-with-a-very-long-name-indeed-2.0-3.el9.noarch\n\
            == advisory info\n  Update ID: RHSA-2024:2000\n       Type: security\n    Updated: 2024-05-01\n";
        let p = parse_dnf(text);
        assert_eq!(p.len(), 2, "{p:?}");
        assert_eq!(p[0].name, "NetworkManager");
        assert_eq!(p[0].available.as_deref(), Some("1:1.40.16-15.el9"));
        assert_eq!(
            (p[0].classification, p[0].severity),
            (Classification::Security, Severity::Moderate)
        );
        assert_eq!(p[0].released_at, Some(ms("2024-05-01T00:00:00Z")));
        assert_eq!(p[1].name, "a-package-with-a-very-long-name-indeed");
        assert_eq!(p[1].classification, Classification::Enhancement);
        assert!(parse_dnf("").is_empty());
    }
}
