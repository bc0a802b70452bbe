//! Agent upgrade (R3, ref. 3.1.2 and table 3-1): replacing the agent on
//! hosts with another *agent build* — a binary uploaded to COC under a
//! version label, known by its SHA-256.
//!
//! An upgrade is a job ticket of the common job [`JOB_NAME`], whose one
//! task is the [`crate::job::Atom::Upgrade`] atom: the host's agent pulls
//! the build over its own link, checks its size and SHA-256, swaps its
//! executable and restarts into the new build; a watcher started from the
//! old build puts it back when the new one has not connected within the
//! rollback deadline. The task succeeds when the host's agent reports the
//! wanted build, connected; it fails on a checksum mismatch or a rollback.
//! Batches and the suspension threshold are the ticket's.

use serde::{Deserialize, Serialize};

use crate::error::{DomainError, invalid};

/// The common job an upgrade runs.
pub const JOB_NAME: &str = "COC-Agent-Upgrade";
/// Its global parameter naming the build (id or version).
pub const BUILD_PARAM: &str = "BUILD";
/// Its global parameter holding the rollback deadline, seconds.
pub const ROLLBACK_PARAM: &str = "ROLLBACK_AFTER_S";
/// Largest agent build, bytes (256 MiB).
pub const MAX_BUILD_BYTES: u64 = 256 * 1024 * 1024;
/// Most builds a tenant keeps.
pub const MAX_BUILDS: usize = 50;
/// Longest note on a build, characters.
pub const MAX_NOTE_CHARS: usize = 500;
/// Default time the new build has to connect, seconds.
pub const DEFAULT_ROLLBACK_AFTER_S: u32 = 120;
/// The range of the rollback deadline, seconds.
pub const ROLLBACK_RANGE_S: std::ops::RangeInclusive<u32> = 10..=3600;
/// Time allowed for the transfer before the rollback deadline starts,
/// seconds: a run without a result after both fails.
pub const TRANSFER_ALLOWANCE_S: i64 = 900;
/// Size of the pieces a build is stored and sent in, bytes.
pub const CHUNK_BYTES: u64 = coc_proto::UPGRADE_CHUNK_BYTES;
/// Most hosts of one upgrade.
pub const MAX_HOSTS: usize = 1000;

/// Checks a build's version label: 1 to 64 letters, digits and `._+-`
/// (it is how operators name the build: `1.4.2`, `1.5.0-rc1`).
///
/// Errors: [`DomainError::Validation`].
pub fn validate_version(v: &str) -> Result<(), DomainError> {
    let ok = !v.is_empty()
        && v.len() <= 64
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._+-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "version '{v}' must be 1 to 64 letters, digits and ._+-"
        )))
    }
}

/// Checks an uploaded build: its size (1..=[`MAX_BUILD_BYTES`]) and that
/// it is an executable a host can start: an ELF binary or a `#!` script.
///
/// Errors: [`DomainError::Validation`].
pub fn validate_build(bytes: &[u8]) -> Result<(), DomainError> {
    if bytes.is_empty() || bytes.len() as u64 > MAX_BUILD_BYTES {
        return Err(invalid(format!(
            "an agent build is 1 to {} MiB",
            MAX_BUILD_BYTES / 1024 / 1024
        )));
    }
    if !(bytes.starts_with(b"\x7fELF") || bytes.starts_with(b"#!")) {
        return Err(invalid(
            "an agent build must be an executable (an ELF binary such as coc-agent, or a #! script)",
        ));
    }
    Ok(())
}

/// The rollback deadline a task's `rollback_after_s` gives once its
/// `{{…}}` parameters are substituted.
///
/// Errors: [`DomainError::Validation`] when it is not a whole number in
/// [`ROLLBACK_RANGE_S`].
pub fn rollback_after(v: &str) -> Result<u32, DomainError> {
    v.trim()
        .parse::<u32>()
        .ok()
        .filter(|s| ROLLBACK_RANGE_S.contains(s))
        .ok_or_else(|| {
            invalid(format!(
                "the rollback deadline '{v}' is not {} to {} seconds",
                ROLLBACK_RANGE_S.start(),
                ROLLBACK_RANGE_S.end()
            ))
        })
}

/// An upgrade request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpgradeSpec {
    /// The hosts (ids or names) whose agents are replaced
    /// (1..=[`MAX_HOSTS`]).
    pub hosts: Vec<String>,
    /// The build (id or version) they get.
    pub build: String,
    /// Seconds the new build has to connect before it is rolled back
    /// (default [`DEFAULT_ROLLBACK_AFTER_S`]).
    #[serde(default)]
    pub rollback_after_s: Option<u32>,
    /// Hosts per batch (default: all in one).
    #[serde(default)]
    pub batch_size: Option<u32>,
    /// Suspension threshold: the success rate in % below which the
    /// upgrade stops before the next batch.
    #[serde(default)]
    pub success_rate_threshold: Option<f64>,
}

impl UpgradeSpec {
    /// The request trimmed, without repeated hosts, and checked.
    ///
    /// Errors: [`DomainError::Validation`]: no host or more than
    /// [`MAX_HOSTS`], no build, a rollback deadline outside
    /// [`ROLLBACK_RANGE_S`], batch size 0, a threshold outside 0–100.
    pub fn normalized(&self) -> Result<UpgradeSpec, DomainError> {
        let hosts = crate::ticket::distinct_trimmed(&self.hosts);
        if hosts.is_empty() || hosts.len() > MAX_HOSTS {
            return Err(invalid(format!("an upgrade has 1..={MAX_HOSTS} hosts")));
        }
        let build = self.build.trim().to_string();
        if build.is_empty() {
            return Err(invalid("choose the build to upgrade to"));
        }
        let rollback = self.rollback_after_s.unwrap_or(DEFAULT_ROLLBACK_AFTER_S);
        rollback_after(&rollback.to_string())?;
        crate::ticket::check_batching(self.batch_size, self.success_rate_threshold)?;
        Ok(UpgradeSpec {
            hosts,
            build,
            rollback_after_s: Some(rollback),
            batch_size: self.batch_size,
            success_rate_threshold: self.success_rate_threshold,
        })
    }
}

/// How an upgrade run that the agent reported successful ends, given the
/// build the host's agent now reports (`reported`, its SHA-256) and the
/// build wanted: `None` when they agree, else why it failed.
pub fn check_reported(reported: Option<&str>, wanted: &str) -> Option<String> {
    match reported {
        Some(r) if r.eq_ignore_ascii_case(wanted) => None,
        Some(r) if !r.is_empty() => Some(format!(
            "the host's agent reports build {}…, not the wanted {}…",
            &r[..r.len().min(12)],
            &wanted[..wanted.len().min(12)]
        )),
        _ => Some("the host's agent does not report its build".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_builds_are_checked() {
        assert!(validate_version("1.5.0-rc1+b2").is_ok());
        for bad in ["", "1 5", "1/5", "v;rm", &"9".repeat(65)] {
            assert!(validate_version(bad).is_err(), "{bad}");
        }
        assert!(validate_build(b"\x7fELF\x02\x01").is_ok());
        assert!(validate_build(b"#!/bin/sh\nexit 0\n").is_ok());
        let e = validate_build(b"MZ\x90\x00").unwrap_err().to_string();
        assert!(e.contains("executable"), "{e}");
        assert!(validate_build(b"").is_err());
    }

    #[test]
    fn a_request_is_normalized() {
        let s = UpgradeSpec {
            hosts: vec![" web-1 ".into(), "web-1".into(), "".into(), "db".into()],
            build: " 1.5.0 ".into(),
            rollback_after_s: None,
            batch_size: Some(1),
            success_rate_threshold: Some(50.0),
        };
        let n = s.normalized().unwrap();
        assert_eq!(n.hosts, ["web-1", "db"]);
        assert_eq!(n.build, "1.5.0");
        assert_eq!(n.rollback_after_s, Some(DEFAULT_ROLLBACK_AFTER_S));
        let bad = |f: fn(&mut UpgradeSpec)| {
            let mut x = s.clone();
            f(&mut x);
            x.normalized().unwrap_err().to_string()
        };
        assert!(bad(|x| x.hosts.clear()).contains("hosts"));
        assert!(bad(|x| x.build = " ".into()).contains("build"));
        assert!(bad(|x| x.rollback_after_s = Some(5)).contains("rollback"));
        assert!(bad(|x| x.batch_size = Some(0)).contains("batch_size"));
        assert!(bad(|x| x.success_rate_threshold = Some(-1.0)).contains("threshold"));
    }

    #[test]
    fn rollback_deadlines_and_reported_builds() {
        assert_eq!(rollback_after(" 30 ").unwrap(), 30);
        assert!(rollback_after("{{X}}").is_err());
        assert!(rollback_after("3601").is_err());
        let want = "ab".repeat(32);
        assert_eq!(check_reported(Some(&want.to_uppercase()), &want), None);
        assert!(
            check_reported(Some(&"cd".repeat(32)), &want)
                .unwrap()
                .contains("cdcdcdcdcdcd…")
        );
        assert!(check_reported(None, &want).is_some());
        assert!(check_reported(Some(""), &want).is_some());
    }
}
