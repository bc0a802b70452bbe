//! Drift watch (R5, ref. 3.1): the actual state of what the server asked
//! to watch — package versions (dpkg's status database, else `rpm -q`),
//! services (systemd's `is-active` where systemd runs, else a process of
//! that name) and files (SHA-256 of their content). The server holds the
//! desired state and compares; the agent only reports.
//!
//! Cost: a full [`check`] reads the package database once and hashes each
//! watched file; between full checks the agent only `stat`s the watched
//! files and the package database ([`Stamp`]) and checks again when one
//! changed.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, Read};
use std::path::Path;
use std::process::Command;

use coc_proto::{FileSeen, MAX_WATCHED_FILE, PackageSeen, ServiceSeen, Watch};

/// dpkg's status database.
pub const DPKG_STATUS: &str = "/var/lib/dpkg/status";

/// What a cheap look at the watched files and the package database saw:
/// per path its size, modification time (ns) and inode; equal stamps mean
/// nothing needs a full check.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stamp(Vec<Option<(u64, i128, u64)>>);

/// Stats the watched files and the package database.
pub fn stamp(w: &Watch) -> Stamp {
    use std::os::unix::fs::MetadataExt;
    let paths = w
        .files
        .iter()
        .map(String::as_str)
        .chain((!w.packages.is_empty()).then_some(DPKG_STATUS));
    Stamp(
        paths
            .map(|p| {
                std::fs::metadata(p).ok().map(|m| {
                    let ns = i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec());
                    (m.size(), ns, m.ino())
                })
            })
            .collect(),
    )
}

/// The actual state of everything `w` names, each list in the watch's
/// order. Never fails: what cannot be read is reported as not installed,
/// not running, or a file with an `error`.
pub fn check(w: &Watch) -> (Vec<PackageSeen>, Vec<ServiceSeen>, Vec<FileSeen>) {
    let versions = if w.packages.is_empty() {
        BTreeMap::new()
    } else {
        installed(&w.packages)
    };
    let packages = w
        .packages
        .iter()
        .map(|n| PackageSeen {
            name: n.clone(),
            version: versions.get(n).cloned(),
        })
        .collect();
    let services = running(&w.services);
    let files = w.files.iter().map(|p| hash_file(Path::new(p))).collect();
    (packages, services, files)
}

/// Installed versions of `names`: from dpkg's status database when there
/// is one, else from `rpm -q`.
fn installed(names: &[String]) -> BTreeMap<String, String> {
    let wanted: BTreeSet<&str> = names.iter().map(String::as_str).collect();
    match std::fs::File::open(DPKG_STATUS) {
        Ok(f) => dpkg_versions(std::io::BufReader::new(f), &wanted),
        Err(_) => rpm_versions(names),
    }
}

/// Reads dpkg's status database (stanzas of `Field: value` lines) for the
/// wanted packages that are installed (`Status: … installed`).
fn dpkg_versions(r: impl BufRead, wanted: &BTreeSet<&str>) -> BTreeMap<String, String> {
    dpkg_installed(r)
        .into_iter()
        .filter(|p| wanted.contains(p.name.as_str()))
        .map(|p| (p.name, p.version))
        .collect()
}

/// An installed package in dpkg's status database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpkgPackage {
    /// `Package:`.
    pub name: String,
    /// `Architecture:` (`amd64`, `all`, …).
    pub arch: String,
    /// `Version:`.
    pub version: String,
}

/// Every installed package (`Status: … installed`) of dpkg's status
/// database (stanzas of `Field: value` lines), in file order.
pub fn dpkg_installed(r: impl BufRead) -> Vec<DpkgPackage> {
    let mut out = Vec::new();
    let mut cur = DpkgPackage {
        name: String::new(),
        arch: String::new(),
        version: String::new(),
    };
    let mut ok = false;
    let mut flush = |cur: &mut DpkgPackage, ok: &mut bool| {
        let p = std::mem::replace(
            cur,
            DpkgPackage {
                name: String::new(),
                arch: String::new(),
                version: String::new(),
            },
        );
        if *ok && !p.version.is_empty() && !p.name.is_empty() {
            out.push(p);
        }
        *ok = false;
    };
    for line in r.lines().map_while(Result::ok) {
        if line.is_empty() {
            flush(&mut cur, &mut ok);
        } else if let Some(v) = line.strip_prefix("Package: ") {
            cur.name = v.trim().to_string();
        } else if let Some(v) = line.strip_prefix("Version: ") {
            cur.version = v.trim().to_string();
        } else if let Some(v) = line.strip_prefix("Architecture: ") {
            cur.arch = v.trim().to_string();
        } else if let Some(v) = line.strip_prefix("Status: ") {
            ok = v.trim().ends_with(" installed");
        }
    }
    flush(&mut cur, &mut ok);
    out
}

/// `rpm -q --qf` for each name (absent packages print nothing we keep).
fn rpm_versions(names: &[String]) -> BTreeMap<String, String> {
    let Ok(out) = Command::new("rpm")
        .arg("-q")
        .arg("--qf")
        .arg("%{NAME}\\t%{VERSION}-%{RELEASE}\\n")
        .args(names)
        .output()
    else {
        return BTreeMap::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// Whether each service runs: `systemctl is-active` where systemd is the
/// init system, else a process whose name (`comm`) is the service's.
fn running(names: &[String]) -> Vec<ServiceSeen> {
    if names.is_empty() {
        return Vec::new();
    }
    let active: BTreeSet<String> = if Path::new("/run/systemd/system").exists() {
        let out = Command::new("systemctl")
            .arg("is-active")
            .arg("--")
            .args(names)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        names
            .iter()
            .zip(out.lines())
            .filter(|(_, state)| state.trim() == "active")
            .map(|(n, _)| n.clone())
            .collect()
    } else {
        processes()
    };
    names
        .iter()
        .map(|n| ServiceSeen {
            name: n.clone(),
            running: active.contains(n) || active.contains(n.trim_end_matches(".service")),
        })
        .collect()
}

/// Names (`comm`) of the running processes.
fn processes() -> BTreeSet<String> {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return BTreeSet::new();
    };
    procs
        .flatten()
        .filter(|p| {
            p.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|p| std::fs::read_to_string(p.path().join("comm")).ok())
        .map(|c| c.trim().to_string())
        .collect()
}

/// SHA-256 of a file's content, streamed; files over
/// [`MAX_WATCHED_FILE`] bytes are reported `too large`.
pub fn hash_file(p: &Path) -> FileSeen {
    let (sha256, error) = match sha256(p, MAX_WATCHED_FILE) {
        Ok(h) => (Some(h), None),
        Err(e) => (None, Some(e)),
    };
    FileSeen {
        path: p.to_string_lossy().into_owned(),
        sha256,
        error,
    }
}

/// SHA-256 of a file of at most `max` bytes, 64 hex characters.
///
/// Errors: `missing`, `a directory`, `too large`, or the read error.
pub fn sha256(p: &Path, max: u64) -> Result<String, String> {
    let f = match std::fs::File::open(p) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err("missing".into()),
        Err(e) => return Err(e.to_string()),
    };
    match f.metadata() {
        Ok(m) if m.is_dir() => return Err("a directory".into()),
        Ok(m) if m.len() > max => return Err("too large".into()),
        _ => {}
    }
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let mut r = f.take(max.saturating_add(1));
    let mut buf = [0u8; 16 * 1024];
    loop {
        match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => ctx.update(&buf[..n]),
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(hex::encode(ctx.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpkg_status_gives_installed_versions_only() {
        let db = "Package: bash\nStatus: install ok installed\nVersion: 5.2.15-2\n\n\
                  Package: gone\nStatus: deinstall ok config-files\nVersion: 1.0\n\n\
                  Package: other\nStatus: install ok installed\nVersion: 9\n";
        let wanted = BTreeSet::from(["bash", "gone", "absent"]);
        let v = dpkg_versions(db.as_bytes(), &wanted);
        assert_eq!(v.get("bash").map(String::as_str), Some("5.2.15-2"));
        assert!(!v.contains_key("gone"), "removed, config files left");
        assert!(!v.contains_key("other"), "not watched");
        assert_eq!(v.len(), 1);
    }

    #[test]
    fn a_file_is_hashed_and_its_change_stamped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("app.conf");
        std::fs::write(&p, "abc").unwrap();
        let w = Watch {
            files: vec![
                p.to_string_lossy().into(),
                dir.path().join("none").to_string_lossy().into(),
            ],
            interval_s: 60,
            ..Default::default()
        };
        let (_, _, files) = check(&w);
        assert_eq!(
            files[0].sha256.as_deref(),
            Some("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        assert_eq!(files[1].error.as_deref(), Some("missing"));
        let before = stamp(&w);
        std::fs::write(&p, "abcd").unwrap();
        assert_ne!(stamp(&w), before);
    }

    #[test]
    fn this_machine_reports_an_installed_package_and_a_running_process() {
        let me = std::fs::read_to_string("/proc/self/comm").unwrap();
        let w = Watch {
            packages: vec!["coreutils".into(), "no-such-package-coc".into()],
            services: vec![me.trim().into(), "no-such-service-coc".into()],
            interval_s: 60,
            ..Default::default()
        };
        let (packages, services, _) = check(&w);
        if Path::new(DPKG_STATUS).exists() {
            assert!(packages[0].version.is_some(), "{packages:?}");
        }
        assert_eq!(packages[1].version, None);
        if !Path::new("/run/systemd/system").exists() {
            assert!(services[0].running, "{services:?}");
        }
        assert!(!services[1].running);
    }
}
