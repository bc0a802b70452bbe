//! Patch work (P2, ref. 4.2.2–4.2.3): the server's `patch` task runs as a
//! shell task of the host's package manager — refreshing the package lists
//! for a scan, installing packages at versions for a repair or rollback —
//! and ends with a [`PatchReport`]: what the manager would update now
//! (apt's simulation, verbatim: the server parses it), every installed
//! package, what an installation replaced, and whether a reboot is
//! pending. Only apt is driven today; a host without it gets a clear
//! error.

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

/// Whether `s` is safe as a package name or version on a command line:
/// Debian's characters only, so nothing reaches a shell as syntax.
fn plain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 200
        && !s.starts_with('-')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || ".+:~_-".contains(c))
}

/// The package manager of this host: `apt` when `apt-get` runs here.
pub fn manager() -> Option<&'static str> {
    let found = |bin: &str| {
        std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()))
    };
    found("apt-get").then_some("apt")
}

/// The script of `action`, checked.
///
/// Errors: why it cannot run here (no apt; a package name or version
/// that is not plain; too many packages).
pub fn prepare(action: &PatchAction) -> Result<Prepared, String> {
    if manager().is_none() {
        return Err("this host has no package manager COC drives (apt-get)".into());
    }
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
        PatchAction::Install { packages } => {
            if packages.is_empty() || packages.len() > MAX_PATCH_PACKAGES {
                return Err(format!(
                    "an installation names 1 to {MAX_PATCH_PACKAGES} packages"
                ));
            }
            let mut args = Vec::with_capacity(packages.len());
            for p in packages {
                let ok = plain(&p.name) && p.version.as_deref().is_none_or(plain);
                if !ok {
                    return Err(format!(
                        "'{}' is not a package name and version apt takes",
                        p.name
                    ));
                }
                args.push(match &p.version {
                    Some(v) => format!("{}={v}", p.name),
                    None => format!("{}-", p.name),
                });
            }
            let before = installed_map();
            let replaced = packages
                .iter()
                .map(|p| PackageSeen {
                    name: p.name.clone(),
                    version: before.get(&p.name).cloned(),
                })
                .collect();
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

/// What the host looks like now, after a patch task (`replaced`: what an
/// installation replaced). Blocking: run it off the runtime.
pub fn report(replaced: Vec<PackageSeen>) -> PatchReport {
    let (os_id, os_version) =
        os_release(&std::fs::read_to_string("/etc/os-release").unwrap_or_default());
    let offered = match Command::new("apt-get")
        .args(["-s", "-q", "dist-upgrade"])
        .env("LANG", "C")
        .env("LC_ALL", "C")
        .output()
    {
        Ok(o) => {
            let mut t = String::from_utf8_lossy(&o.stdout).into_owned();
            if t.len() > MAX_PATCH_TEXT {
                let mut cut = MAX_PATCH_TEXT;
                while !t.is_char_boundary(cut) {
                    cut -= 1;
                }
                t.truncate(cut);
            }
            t
        }
        Err(_) => String::new(),
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
        manager: manager().unwrap_or_default().to_string(),
        os_id,
        os_version,
        offered,
        installed: installed_map()
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
        if manager().is_none() {
            return;
        }
        let bad = PatchAction::Install {
            packages: vec![PackageSeen {
                name: "openssl;reboot".into(),
                version: Some("1".into()),
            }],
        };
        assert!(prepare(&bad).unwrap_err().contains("openssl;reboot"));
        let opt = PatchAction::Install {
            packages: vec![PackageSeen {
                name: "-oAPT::x".into(),
                version: None,
            }],
        };
        assert!(prepare(&opt).is_err());
        let ok = prepare(&PatchAction::Install {
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
        })
        .unwrap();
        assert_eq!(ok.env[PACKAGES_ENV], "coreutils=9.1-1 not-installed-here-");
        // What it replaces is read from dpkg before it runs.
        assert!(ok.replaced[0].version.is_some());
        assert_eq!(ok.replaced[1].version, None);
    }

    #[test]
    fn this_host_reports_its_packages() {
        if manager().is_none() {
            return;
        }
        let r = report(vec![]);
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
