//! Patch work (P2, ref. 4.2.2–4.2.3): the server's `patch` task runs as a
//! shell task of the host's package manager — refreshing the package lists
//! for a scan, installing packages at versions for a repair or rollback —
//! and ends with a [`PatchReport`]: what the manager would update now
//! (verbatim: the server parses it — apt's simulation; dnf's upgrades and
//! `updateinfo` list and info), every installed package, what an
//! installation replaced, and whether a reboot is pending. apt and dnf
//! are driven; a host with neither gets a clear error.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use coc_proto::{
    MAX_PATCH_INSTALLED, MAX_PATCH_PACKAGES, MAX_PATCH_TEXT, PackageSeen, PatchAction, PatchReport,
};

use crate::drift::{DPKG_STATUS, dpkg_installed};

/// The environment variable an installation's script reads its packages
/// from (`name=version` or `name-` for a removal, space-separated).
const PACKAGES_ENV: &str = "COC_PATCH_PACKAGES";

/// The script and environment a patch task runs, and what it is about to
/// replace (the named packages' versions now).
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    /// Shell script.
    pub content: String,
    /// Its environment.
    pub env: BTreeMap<String, String>,
    /// For an installation: each named package's version before it.
    pub replaced: Vec<PackageSeen>,
}

/// The environment variable a dnf script reads its options from.
const DNF_OPTIONS_ENV: &str = "COC_DNF_OPTIONS";
/// The environment variable a dnf installation reads its removals from.
const REMOVALS_ENV: &str = "COC_PATCH_REMOVALS";

/// Which package manager patch work drives, and how.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Patching {
    /// `apt` or `dnf`; none: apt where `apt-get` runs, else dnf.
    pub manager: Option<String>,
    /// Options given to every dnf call (`--setopt=proxy=…`,
    /// `--installroot=DIR`, which rpm then reads too).
    pub dnf_options: Vec<String>,
}

impl Patching {
    /// Checks the options: each `--name[=value]` of plain characters.
    ///
    /// Errors: the first that is not.
    pub fn check(&self) -> Result<(), String> {
        if let Some(m) = &self.manager
            && m != "apt"
            && m != "dnf"
        {
            return Err(format!("'{m}' is no package manager COC drives (apt, dnf)"));
        }
        for o in &self.dnf_options {
            let ok = o.starts_with("--")
                && o.len() <= 300
                && o.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "=/_.:,@+-".contains(c));
            if !ok {
                return Err(format!(
                    "'{o}' is not a dnf option COC passes (--name=value)"
                ));
            }
        }
        Ok(())
    }

    /// The root dnf and rpm work in (`--installroot=DIR`), if set.
    fn root(&self) -> Option<&str> {
        self.dnf_options
            .iter()
            .find_map(|o| o.strip_prefix("--installroot="))
    }
}

/// Whether `s` is safe as a package name or version on a command line:
/// Debian's and rpm's characters only, so nothing reaches a shell as
/// syntax.
fn plain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 200
        && !s.starts_with('-')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || ".+:~_-".contains(c))
}

/// The package manager of this host: the one `p` names, if it runs
/// here; else `apt` when `apt-get` runs here, else `dnf` when dnf does.
pub fn manager(p: &Patching) -> Option<&'static str> {
    let found = |bin: &str| {
        std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()))
    };
    match p.manager.as_deref() {
        Some("apt") => found("apt-get").then_some("apt"),
        Some("dnf") => found("dnf").then_some("dnf"),
        Some(_) => None,
        None if found("apt-get") => Some("apt"),
        None => found("dnf").then_some("dnf"),
    }
}

/// The script of `action` for the host's manager, checked.
///
/// Errors: why it cannot run here (no apt or dnf; a package name or
/// version that is not plain; too many packages).
pub fn prepare(action: &PatchAction, p: &Patching) -> Result<Prepared, String> {
    p.check()?;
    match manager(p) {
        Some("apt") => prepare_apt(action),
        Some(_) => prepare_dnf(action, p),
        None => Err("this host has no package manager COC drives (apt-get, dnf)".into()),
    }
}

/// The packages of an installation, checked: `(name, version)`, the
/// version none for a removal.
fn planned(action: &PatchAction) -> Result<Vec<(&str, Option<&str>)>, String> {
    let PatchAction::Install { packages } = action else {
        return Ok(vec![]);
    };
    if packages.is_empty() || packages.len() > MAX_PATCH_PACKAGES {
        return Err(format!(
            "an installation names 1 to {MAX_PATCH_PACKAGES} packages"
        ));
    }
    packages
        .iter()
        .map(|p| {
            if plain(&p.name) && p.version.as_deref().is_none_or(plain) {
                Ok((p.name.as_str(), p.version.as_deref()))
            } else {
                Err(format!(
                    "'{}' is not a package name and version a package manager takes",
                    p.name
                ))
            }
        })
        .collect()
}

/// What the named packages are now, before an installation.
fn replaced(action: &PatchAction, before: &BTreeMap<String, String>) -> Vec<PackageSeen> {
    match action {
        PatchAction::Install { packages } => packages
            .iter()
            .map(|p| PackageSeen {
                name: p.name.clone(),
                version: before.get(&p.name).cloned(),
            })
            .collect(),
        PatchAction::Scan { .. } => vec![],
    }
}

/// dnf's script: a refresh of its metadata for a scan; for an
/// installation, `dnf install NAME-VERSION…` (which also downgrades, for
/// a rollback), then `dnf remove` of what the plan removes.
fn prepare_dnf(action: &PatchAction, p: &Patching) -> Result<Prepared, String> {
    let head = "set -e\nexport LANG=C LC_ALL=C\n";
    let mut env = BTreeMap::from([(DNF_OPTIONS_ENV.to_string(), p.dnf_options.join(" "))]);
    match action {
        PatchAction::Scan { refresh } => Ok(Prepared {
            content: if *refresh {
                format!("{head}dnf ${DNF_OPTIONS_ENV} -q makecache --refresh\n")
            } else {
                format!("{head}echo 'package metadata not refreshed (refresh off)'\n")
            },
            env,
            replaced: vec![],
        }),
        PatchAction::Install { .. } => {
            let plan = planned(action)?;
            let install: Vec<String> = plan
                .iter()
                .filter_map(|(n, v)| v.map(|v| format!("{n}-{v}")))
                .collect();
            let remove: Vec<&str> = plan
                .iter()
                .filter(|(_, v)| v.is_none())
                .map(|(n, _)| *n)
                .collect();
            env.insert(PACKAGES_ENV.to_string(), install.join(" "));
            env.insert(REMOVALS_ENV.to_string(), remove.join(" "));
            Ok(Prepared {
                content: format!(
                    "{head}if [ -n \"${PACKAGES_ENV}\" ]; then dnf ${DNF_OPTIONS_ENV} -y install ${PACKAGES_ENV}; fi\n\
                     if [ -n \"${REMOVALS_ENV}\" ]; then dnf ${DNF_OPTIONS_ENV} -y remove ${REMOVALS_ENV}; fi\n"
                ),
                env,
                replaced: replaced(action, &rpm_installed(p)),
            })
        }
    }
}

/// apt's script: `apt-get update` for a scan; `apt-get install
/// NAME=VERSION… NAME-…` for an installation.
fn prepare_apt(action: &PatchAction) -> Result<Prepared, String> {
    let head = "set -e\nexport DEBIAN_FRONTEND=noninteractive LANG=C LC_ALL=C\n";
    match action {
        PatchAction::Scan { refresh } => Ok(Prepared {
            content: if *refresh {
                format!("{head}apt-get update -q\n")
            } else {
                format!("{head}echo 'package lists not refreshed (refresh off)'\n")
            },
            env: BTreeMap::new(),
            replaced: vec![],
        }),
        PatchAction::Install { .. } => {
            let args: Vec<String> = planned(action)?
                .into_iter()
                .map(|(n, v)| match v {
                    Some(v) => format!("{n}={v}"),
                    None => format!("{n}-"),
                })
                .collect();
            let replaced = replaced(action, &installed_map());
            Ok(Prepared {
                content: format!(
                    "{head}apt-get install -y -q --allow-downgrades --no-install-recommends \
                     -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold ${PACKAGES_ENV}\n"
                ),
                env: BTreeMap::from([(PACKAGES_ENV.to_string(), args.join(" "))]),
                replaced,
            })
        }
    }
}

/// This host's dpkg architecture (`amd64`), if dpkg answers.
fn native_arch() -> Option<String> {
    let out = Command::new("dpkg")
        .arg("--print-architecture")
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Installed packages and versions, named as apt names them: `name`, or
/// `name:arch` for a foreign architecture.
fn installed_map() -> BTreeMap<String, String> {
    let Ok(f) = std::fs::File::open(DPKG_STATUS) else {
        return BTreeMap::new();
    };
    let native = native_arch().unwrap_or_default();
    dpkg_installed(std::io::BufReader::new(f))
        .into_iter()
        .take(MAX_PATCH_INSTALLED)
        .map(|p| {
            let name = if p.arch == native || p.arch == "all" || p.arch.is_empty() {
                p.name
            } else {
                format!("{}:{}", p.name, p.arch)
            };
            (name, p.version)
        })
        .collect()
}

/// `ID` and `VERSION_ID` of `/etc/os-release` (unquoted).
fn os_release(text: &str) -> (String, String) {
    let get = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .map(|v| v.trim().trim_matches('"').trim_matches('\'').to_string())
            .unwrap_or_default()
    };
    (get("ID"), get("VERSION_ID"))
}

/// Installed packages and versions as rpm knows them (`VERSION-RELEASE`,
/// `EPOCH:` first when it is not 0, as dnf shows versions), in the root
/// dnf works in.
fn rpm_installed(p: &Patching) -> BTreeMap<String, String> {
    let mut c = Command::new("rpm");
    if let Some(root) = p.root() {
        c.args(["--root", root]);
    }
    let Ok(out) = c
        .args([
            "-qa",
            "--qf",
            "%{NAME} %{EPOCHNUM} %{VERSION}-%{RELEASE}\\n",
        ])
        .output()
    else {
        return BTreeMap::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let (name, epoch, vr) = (it.next()?, it.next()?, it.next()?);
            let version = match epoch {
                "0" => vr.to_string(),
                e => format!("{e}:{vr}"),
            };
            Some((name.to_string(), version))
        })
        .take(MAX_PATCH_INSTALLED)
        .collect()
}

/// `text` cut to at most [`MAX_PATCH_TEXT`] bytes.
fn capped(mut t: String) -> String {
    if t.len() > MAX_PATCH_TEXT {
        let mut cut = MAX_PATCH_TEXT;
        while !t.is_char_boundary(cut) {
            cut -= 1;
        }
        t.truncate(cut);
    }
    t
}

/// The standard output of `program args` with `LANG=C`; empty when it
/// cannot run.
fn output_of(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .env("LANG", "C")
        .env("LC_ALL", "C")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// dnf's account of what it would update: its upgrades, the advisories
/// naming them and those advisories' details, each a `== ` section (the
/// server's parser reads them).
fn dnf_offered(p: &Patching) -> String {
    let mut out = String::new();
    for (section, args) in [
        ("upgrades", &["-q", "list", "--upgrades"][..]),
        ("advisories", &["-q", "updateinfo", "list", "--updates"][..]),
        (
            "advisory info",
            &["-q", "updateinfo", "info", "--updates"][..],
        ),
    ] {
        let mut all: Vec<&str> = p.dnf_options.iter().map(String::as_str).collect();
        all.extend_from_slice(args);
        out.push_str(&format!("== {section}\n"));
        out.push_str(&output_of("dnf", &all));
    }
    capped(out)
}

/// What the host looks like now, after a patch task (`replaced`: what an
/// installation replaced). Blocking: run it off the runtime.
pub fn report(replaced: Vec<PackageSeen>, p: &Patching) -> PatchReport {
    let (os_id, os_version) =
        os_release(&std::fs::read_to_string("/etc/os-release").unwrap_or_default());
    let manager = manager(p).unwrap_or_default();
    let (offered, installed) = match manager {
        "dnf" => (dnf_offered(p), rpm_installed(p)),
        _ => (
            capped(output_of("apt-get", &["-s", "-q", "dist-upgrade"])),
            installed_map(),
        ),
    };
    let reboot = Path::new("/run/reboot-required");
    let reboot_packages = std::fs::read_to_string("/run/reboot-required.pkgs")
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .take(1000)
        .collect();
    PatchReport {
        manager: manager.to_string(),
        os_id,
        os_version,
        offered,
        installed: installed
            .into_iter()
            .map(|(name, v)| PackageSeen {
                name,
                version: Some(v),
            })
            .collect(),
        replaced,
        reboot_packages,
        reboot_required: reboot.exists(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dnf_options_are_plain_and_an_installation_downgrades_too() {
        let bad = Patching {
            manager: None,
            dnf_options: vec!["--setopt=x;reboot".into()],
        };
        assert!(bad.check().unwrap_err().contains("x;reboot"));
        let not_option = Patching {
            manager: None,
            dnf_options: vec!["-y".into()],
        };
        assert!(not_option.check().is_err());
        let p = Patching {
            manager: Some("dnf".into()),
            dnf_options: vec!["--installroot=/tmp/r".into(), "--releasever=9".into()],
        };
        assert_eq!(p.root(), Some("/tmp/r"));
        let plan = PatchAction::Install {
            packages: vec![
                PackageSeen {
                    name: "NetworkManager".into(),
                    version: Some("1:1.40.16-15.el9".into()),
                },
                PackageSeen {
                    name: "added".into(),
                    version: None,
                },
            ],
        };
        let d = prepare_dnf(&plan, &p).unwrap();
        assert_eq!(d.env[PACKAGES_ENV], "NetworkManager-1:1.40.16-15.el9");
        assert_eq!(d.env[REMOVALS_ENV], "added");
        assert_eq!(
            d.env[DNF_OPTIONS_ENV],
            "--installroot=/tmp/r --releasever=9"
        );
        assert!(d.content.contains("-y install") && d.content.contains("-y remove"));
        assert!(
            Patching {
                manager: Some("zypper".into()),
                dnf_options: vec![]
            }
            .check()
            .is_err()
        );
    }

    #[test]
    fn os_release_gives_id_and_version() {
        let t = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n";
        assert_eq!(os_release(t), ("debian".into(), "12".into()));
        assert_eq!(
            os_release("ID=ubuntu\nVERSION_ID='22.04'"),
            ("ubuntu".into(), "22.04".into())
        );
    }

    #[test]
    fn an_installation_refuses_what_is_not_a_package() {
        let apt = Patching::default();
        if manager(&apt) != Some("apt") {
            return;
        }
        let bad = PatchAction::Install {
            packages: vec![PackageSeen {
                name: "openssl;reboot".into(),
                version: Some("1".into()),
            }],
        };
        assert!(prepare(&bad, &apt).unwrap_err().contains("openssl;reboot"));
        let opt = PatchAction::Install {
            packages: vec![PackageSeen {
                name: "-oAPT::x".into(),
                version: None,
            }],
        };
        assert!(prepare(&opt, &apt).is_err());
        let ok = prepare(
            &PatchAction::Install {
                packages: vec![
                    PackageSeen {
                        name: "coreutils".into(),
                        version: Some("9.1-1".into()),
                    },
                    PackageSeen {
                        name: "not-installed-here".into(),
                        version: None,
                    },
                ],
            },
            &apt,
        )
        .unwrap();
        assert_eq!(ok.env[PACKAGES_ENV], "coreutils=9.1-1 not-installed-here-");
        // What it replaces is read from dpkg before it runs.
        assert!(ok.replaced[0].version.is_some());
        assert_eq!(ok.replaced[1].version, None);
    }

    #[test]
    fn this_host_reports_its_packages() {
        let apt = Patching::default();
        if manager(&apt) != Some("apt") {
            return;
        }
        let r = report(vec![], &apt);
        assert_eq!(r.manager, "apt");
        assert!(!r.os_id.is_empty());
        assert!(
            r.installed
                .iter()
                .any(|p| p.name == "coreutils" && p.version.is_some())
        );
        // apt's summary line ends every simulation.
        assert!(r.offered.contains(" upgraded, "), "{}", r.offered);
    }
}
