//! A host's health probe (M7): what it reports, and each item judged
//! against its threshold as pass, warn or fail.
//!
//! The probe is a shell script ([`PROBE`]) the host's agent runs like any
//! script; it prints sections (`== df`, `== meminfo`, …) of standard
//! tools' output with `LANG=C`, which [`parse_probe`] reads. Judging is
//! [`judge`]: disk and inode use per file system, memory and swap use,
//! load per CPU, time synchronization, failed services, TLS certificates
//! of listening ports that expire soon, a pending reboot.

use serde::{Deserialize, Serialize};

/// The probe a host runs (about 2 s: certificates are fetched from every
/// listening TCP port at once, 2 s each at most).
pub const PROBE: &str = r#"export LANG=C LC_ALL=C
echo "== df"; df -P -x tmpfs -x devtmpfs -x squashfs 2>/dev/null
echo "== inodes"; df -Pi -x tmpfs -x devtmpfs -x squashfs 2>/dev/null
echo "== meminfo"; grep -E '^(MemTotal|MemAvailable|SwapTotal|SwapFree):' /proc/meminfo
echo "== loadavg"; cat /proc/loadavg
echo "== cpus"; getconf _NPROCESSORS_ONLN 2>/dev/null || nproc
echo "== timesync"
if [ -d /run/systemd/system ] && command -v timedatectl >/dev/null 2>&1; then timedatectl show -p NTPSynchronized --value
elif command -v chronyc >/dev/null 2>&1; then chronyc -n tracking 2>/dev/null | sed -n 's/^Leap status *: *//p'
else echo unknown; fi
echo "== failed"
if [ -d /run/systemd/system ]; then systemctl --failed --no-legend --plain 2>/dev/null | awk '{print $1}'; fi
echo "== reboot"; if [ -f /run/reboot-required ]; then echo yes; else echo no; fi
echo "== certs"
if command -v openssl >/dev/null 2>&1 && command -v ss >/dev/null 2>&1; then
  for port in $(ss -Htln 2>/dev/null | awk '{n=split($4,a,":"); print a[n]}' | sort -un | head -50); do
    ( end=$(echo | timeout 2 openssl s_client -connect "127.0.0.1:$port" 2>/dev/null | openssl x509 -noout -enddate -subject 2>/dev/null | tr '\n' '|')
      [ -n "$end" ] && echo "$port|$end" ) &
  done
  wait
fi
echo "== end"
"#;

/// A file system's use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FsUse {
    /// Mount point.
    pub mount: String,
    /// Used, % (as `df` rounds it).
    pub used_pct: f64,
}

/// A TLS certificate a listening port presents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cert {
    /// The port.
    pub port: u16,
    /// Its subject (`CN = web.example.com`).
    pub subject: String,
    /// When it expires, Unix ms (UTC).
    pub not_after: i64,
}

/// What a host's probe reported.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    /// Block use per file system.
    pub disks: Vec<FsUse>,
    /// Inode use per file system.
    pub inodes: Vec<FsUse>,
    /// Memory in use (total less available), %; `None`: not read.
    pub memory_used_pct: Option<f64>,
    /// Swap in use, %; `None`: no swap.
    pub swap_used_pct: Option<f64>,
    /// 5-minute load average.
    pub load5: Option<f64>,
    /// Online CPUs.
    pub cpus: Option<u32>,
    /// The clock is synchronized (NTP); `None`: unknown.
    pub time_synced: Option<bool>,
    /// Failed systemd units.
    pub failed_services: Vec<String>,
    /// A reboot is pending.
    pub reboot_required: bool,
    /// Certificates of listening ports.
    pub certs: Vec<Cert>,
    /// The probe ran to its end (`== end`).
    pub complete: bool,
}

/// The sections of a probe's output: `(name, lines)`.
fn sections(text: &str) -> Vec<(&str, Vec<&str>)> {
    let mut out: Vec<(&str, Vec<&str>)> = Vec::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("== ") {
            out.push((name.trim(), Vec::new()));
        } else if let Some((_, lines)) = out.last_mut()
            && !line.trim().is_empty()
        {
            lines.push(line);
        }
    }
    out
}

/// `df -P` rows: mount point and the use column (`31%`).
fn df_rows(lines: &[&str]) -> Vec<FsUse> {
    lines
        .iter()
        .skip(1)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            if cols.len() < 6 {
                return None;
            }
            let pct = cols[4].strip_suffix('%')?.parse().ok()?;
            Some(FsUse {
                mount: cols[5..].join(" "),
                used_pct: pct,
            })
        })
        .collect()
}

/// `Month Day HH:MM:SS YYYY GMT` (openssl's `notAfter=`) as Unix ms.
fn openssl_time(s: &str) -> Option<i64> {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    chrono::NaiveDateTime::parse_from_str(s.trim_end_matches(" GMT"), "%b %d %H:%M:%S %Y")
        .ok()
        .map(|t| t.and_utc().timestamp_millis())
}

/// Reads a probe's output ([`PROBE`]); what a section lacks stays
/// unknown.
pub fn parse_probe(text: &str) -> Probe {
    let mut p = Probe::default();
    let (mut mem_total, mut mem_avail, mut swap_total, mut swap_free) = (None, None, None, None);
    for (name, lines) in sections(text) {
        match name {
            "df" => p.disks = df_rows(&lines),
            "inodes" => p.inodes = df_rows(&lines),
            "meminfo" => {
                for l in &lines {
                    let mut it = l.split_whitespace();
                    let (Some(k), Some(v)) =
                        (it.next(), it.next().and_then(|v| v.parse::<f64>().ok()))
                    else {
                        continue;
                    };
                    match k {
                        "MemTotal:" => mem_total = Some(v),
                        "MemAvailable:" => mem_avail = Some(v),
                        "SwapTotal:" => swap_total = Some(v),
                        "SwapFree:" => swap_free = Some(v),
                        _ => {}
                    }
                }
            }
            "loadavg" => {
                p.load5 = lines
                    .first()
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse().ok());
            }
            "cpus" => p.cpus = lines.first().and_then(|l| l.trim().parse().ok()),
            "timesync" => {
                p.time_synced = match lines.first().map(|l| l.trim()) {
                    Some("yes" | "Normal") => Some(true),
                    Some("no" | "Not synchronised") => Some(false),
                    _ => None,
                }
            }
            "failed" => {
                p.failed_services = lines.iter().map(|l| l.trim().to_string()).collect();
            }
            "reboot" => p.reboot_required = lines.first().is_some_and(|l| l.trim() == "yes"),
            "certs" => {
                for l in &lines {
                    let parts: Vec<&str> = l.split('|').collect();
                    let Some(port) = parts.first().and_then(|x| x.parse().ok()) else {
                        continue;
                    };
                    let field = |k: &str| parts.iter().find_map(|x| x.strip_prefix(k));
                    if let Some(t) = field("notAfter=").and_then(openssl_time) {
                        p.certs.push(Cert {
                            port,
                            subject: field("subject=").unwrap_or_default().trim().to_string(),
                            not_after: t,
                        });
                    }
                }
            }
            "end" => p.complete = true,
            _ => {}
        }
    }
    if let (Some(t), Some(a)) = (mem_total, mem_avail)
        && t > 0.0
    {
        p.memory_used_pct = Some(((t - a) / t * 1000.0).round() / 10.0);
    }
    if let (Some(t), Some(f)) = (swap_total, swap_free)
        && t > 0.0
    {
        p.swap_used_pct = Some(((t - f) / t * 1000.0).round() / 10.0);
    }
    p
}

/// An item's result.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Within its threshold.
    Pass,
    /// Past the warning threshold.
    Warn,
    /// Past the failure threshold.
    Fail,
}

impl std::fmt::Display for Verdict {
    /// `pass`, `warn` or `fail`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(super::verdict_name(*self))
    }
}

/// A warning and a failure threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    /// Warn from here.
    pub warn: f64,
    /// Fail from here.
    pub fail: f64,
}

impl Limit {
    const fn of(warn: f64, fail: f64) -> Limit {
        Limit { warn, fail }
    }

    /// As `(warn, fail)`.
    pub fn pair(self) -> (f64, f64) {
        (self.warn, self.fail)
    }
}

/// Thresholds of a health check (M7); a field left out takes its
/// default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// Disk use, % (default warn 80, fail 90).
    pub disk_pct: Limit,
    /// Inode use, % (80, 90).
    pub inode_pct: Limit,
    /// Memory use, % (85, 95).
    pub memory_pct: Limit,
    /// Swap use, % (50, 80).
    pub swap_pct: Limit,
    /// 5-minute load per CPU (1, 2).
    pub load_per_cpu: Limit,
    /// Days before a certificate expires: warn under `warn`, fail under
    /// `fail` (30, 7).
    pub cert_days: Limit,
    /// COC's database size, GiB (10, 50).
    pub database_gib: Limit,
    /// COC's database round trip, ms (50, 500).
    pub database_latency_ms: Limit,
    /// Depth of each of COC's queues (1000, 10000).
    pub queue_depth: Limit,
    /// Notifications given up in 24 hours (1, 10).
    pub failed_deliveries: Limit,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            disk_pct: Limit::of(80.0, 90.0),
            inode_pct: Limit::of(80.0, 90.0),
            memory_pct: Limit::of(85.0, 95.0),
            swap_pct: Limit::of(50.0, 80.0),
            load_per_cpu: Limit::of(1.0, 2.0),
            cert_days: Limit::of(30.0, 7.0),
            database_gib: Limit::of(10.0, 50.0),
            database_latency_ms: Limit::of(50.0, 500.0),
            queue_depth: Limit::of(1000.0, 10000.0),
            failed_deliveries: Limit::of(1.0, 10.0),
        }
    }
}

impl Thresholds {
    /// Checks every pair: finite, not negative, the warning before the
    /// failure (for certificates: more days before fewer), percentages at
    /// most 100.
    ///
    /// Errors: [`DomainError::Validation`] naming the pair.
    pub fn validate(&self) -> Result<(), crate::error::DomainError> {
        let pairs = [
            ("disk use", self.disk_pct, Some(100.0)),
            ("inode use", self.inode_pct, Some(100.0)),
            ("memory use", self.memory_pct, Some(100.0)),
            ("swap use", self.swap_pct, Some(100.0)),
            ("load per CPU", self.load_per_cpu, None),
            ("database size", self.database_gib, None),
            ("database latency", self.database_latency_ms, None),
            ("queue depth", self.queue_depth, None),
            ("failed notifications", self.failed_deliveries, None),
        ];
        let sane =
            |l: Limit| l.warn.is_finite() && l.fail.is_finite() && l.warn >= 0.0 && l.fail >= 0.0;
        for (name, l, max) in pairs {
            if !sane(l) || l.warn > l.fail || max.is_some_and(|m| l.fail > m) {
                return Err(crate::error::invalid(format!(
                    "the {name} thresholds need 0 ≤ warn ≤ fail{}",
                    max.map(|m| format!(" ≤ {m}")).unwrap_or_default()
                )));
            }
        }
        let c = self.cert_days;
        if !sane(c) || c.warn < c.fail {
            return Err(crate::error::invalid(
                "the certificate thresholds warn at more days left than they fail at (30 and 7)",
            ));
        }
        Ok(())
    }
}

/// One judged item of a host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Item {
    /// What (`disk /var`, `memory`, `certificate :443`).
    pub item: String,
    /// The value as shown (`91 %`, `0.4 per CPU`, `expires in 5 days`).
    pub value: String,
    /// The threshold as shown (`warn ≥ 80 %, fail ≥ 90 %`).
    pub threshold: String,
    /// Pass, warn or fail.
    pub verdict: Verdict,
}

/// `value` against `(warn, fail)` where more is worse.
pub(super) fn above(value: f64, (warn, fail): (f64, f64)) -> Verdict {
    if value >= fail {
        Verdict::Fail
    } else if value >= warn {
        Verdict::Warn
    } else {
        Verdict::Pass
    }
}

/// Each item of probe `p` judged against `t` at `now` (Unix ms), in a
/// fixed order. A probe that did not run to its end is itself a failed
/// item.
pub fn judge(p: &Probe, t: &Thresholds, now: i64) -> Vec<Item> {
    let mut out = Vec::new();
    let pct = |(w, f): (f64, f64)| format!("warn ≥ {w} %, fail ≥ {f} %");
    if !p.complete {
        out.push(Item {
            item: "probe".into(),
            value: "did not finish".into(),
            threshold: "runs to its end".into(),
            verdict: Verdict::Fail,
        });
    }
    for (what, list, th) in [
        ("disk", &p.disks, t.disk_pct.pair()),
        ("inodes", &p.inodes, t.inode_pct.pair()),
    ] {
        for fs in list {
            out.push(Item {
                item: format!("{what} {}", fs.mount),
                value: format!("{} %", fs.used_pct),
                threshold: pct(th),
                verdict: above(fs.used_pct, th),
            });
        }
    }
    if let Some(m) = p.memory_used_pct {
        out.push(Item {
            item: "memory".into(),
            value: format!("{m} %"),
            threshold: pct(t.memory_pct.pair()),
            verdict: above(m, t.memory_pct.pair()),
        });
    }
    if let Some(s) = p.swap_used_pct {
        out.push(Item {
            item: "swap".into(),
            value: format!("{s} %"),
            threshold: pct(t.swap_pct.pair()),
            verdict: above(s, t.swap_pct.pair()),
        });
    }
    if let (Some(l), Some(c)) = (p.load5, p.cpus.filter(|c| *c > 0)) {
        let per = (l / f64::from(c) * 100.0).round() / 100.0;
        let (w, f) = t.load_per_cpu.pair();
        out.push(Item {
            item: "load".into(),
            value: format!("{per} per CPU ({l} on {c})"),
            threshold: format!("warn ≥ {w}, fail ≥ {f} per CPU"),
            verdict: above(per, t.load_per_cpu.pair()),
        });
    }
    out.push(Item {
        item: "time sync".into(),
        value: match p.time_synced {
            Some(true) => "synchronized",
            Some(false) => "not synchronized",
            None => "unknown (no timedatectl or chronyc)",
        }
        .into(),
        threshold: "synchronized".into(),
        verdict: if p.time_synced == Some(true) {
            Verdict::Pass
        } else {
            Verdict::Warn
        },
    });
    out.push(Item {
        item: "failed services".into(),
        value: if p.failed_services.is_empty() {
            "none".into()
        } else {
            p.failed_services.join(", ")
        },
        threshold: "none".into(),
        verdict: if p.failed_services.is_empty() {
            Verdict::Pass
        } else {
            Verdict::Fail
        },
    });
    out.push(Item {
        item: "pending reboot".into(),
        value: if p.reboot_required { "yes" } else { "no" }.into(),
        threshold: "no".into(),
        verdict: if p.reboot_required {
            Verdict::Warn
        } else {
            Verdict::Pass
        },
    });
    for c in &p.certs {
        let days = ((c.not_after - now) as f64 / 86_400_000.0 * 10.0).floor() / 10.0;
        let (w, f) = t.cert_days.pair();
        out.push(Item {
            item: format!("certificate :{} ({})", c.port, c.subject),
            value: if days < 0.0 {
                format!("expired {} days ago", -days)
            } else {
                format!("expires in {days} days")
            },
            threshold: format!("warn < {w} days, fail < {f} days"),
            verdict: if days < f {
                Verdict::Fail
            } else if days < w {
                Verdict::Warn
            } else {
                Verdict::Pass
            },
        });
    }
    out
}

/// The worst verdict of `items` (pass when there are none).
pub fn overall(items: &[Item]) -> Verdict {
    items
        .iter()
        .map(|i| i.verdict)
        .max()
        .unwrap_or(Verdict::Pass)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The probe's output on a Debian 12 machine without systemd, with a
    /// TLS server on port 18443 whose certificate expires on 2026-12-04.
    const DEBIAN12: &str = include_str!("../../fixtures/health-probe-debian12.txt");

    fn ms(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn a_real_probe_is_read() {
        let p = parse_probe(DEBIAN12);
        assert!(p.complete);
        assert_eq!(
            p.disks,
            [FsUse {
                mount: "/".into(),
                used_pct: 31.0
            }]
        );
        assert_eq!(p.inodes[0].used_pct, 3.0);
        assert_eq!(p.memory_used_pct, Some(7.9));
        assert_eq!(p.swap_used_pct, None, "no swap");
        assert_eq!((p.load5, p.cpus), (Some(2.37), Some(2)));
        assert_eq!(p.time_synced, None);
        assert!(p.failed_services.is_empty() && !p.reboot_required);
        assert_eq!(p.certs.len(), 1);
        assert_eq!(p.certs[0].port, 18443);
        assert_eq!(p.certs[0].subject, "CN = web.example.test");
        assert_eq!(p.certs[0].not_after, ms("2026-12-04T23:06:49Z"));
    }

    #[test]
    fn items_are_judged_against_their_thresholds() {
        let now = ms("2026-11-29T23:00:00Z");
        let items = judge(&parse_probe(DEBIAN12), &Thresholds::default(), now);
        let get = |name: &str| items.iter().find(|i| i.item.starts_with(name)).unwrap();
        assert_eq!(get("disk /").verdict, Verdict::Pass);
        assert_eq!(get("load").verdict, Verdict::Warn, "{:?}", get("load"));
        assert_eq!(get("load").value, "1.19 per CPU (2.37 on 2)");
        assert_eq!(get("time sync").verdict, Verdict::Warn);
        // Five days left: under the 7-day failure threshold.
        let cert = get("certificate :18443");
        assert_eq!(cert.verdict, Verdict::Fail, "{cert:?}");
        assert_eq!(cert.value, "expires in 5 days");
        assert_eq!(overall(&items), Verdict::Fail);
        // A host under pressure, with systemd.
        let busy = "== df\nFilesystem 1024-blocks Used Available Capacity Mounted on\n\
            /dev/sda1 100 91 9 91% /\n/dev/sdb1 100 85 15 85% /var/lib/mysql\n\
            == meminfo\nMemTotal: 1000 kB\nMemAvailable: 40 kB\nSwapTotal: 100 kB\nSwapFree: 60 kB\n\
            == timesync\nyes\n== failed\nnginx.service\ncron.service\n== reboot\nyes\n== end\n";
        let items = judge(&parse_probe(busy), &Thresholds::default(), now);
        let v = |name: &str| items.iter().find(|i| i.item == name).unwrap().verdict;
        assert_eq!(v("disk /"), Verdict::Fail);
        assert_eq!(v("disk /var/lib/mysql"), Verdict::Warn);
        assert_eq!(v("memory"), Verdict::Fail);
        assert_eq!(v("swap"), Verdict::Pass);
        assert_eq!(v("time sync"), Verdict::Pass);
        assert_eq!(v("failed services"), Verdict::Fail);
        assert_eq!(
            items
                .iter()
                .find(|i| i.item == "failed services")
                .unwrap()
                .value,
            "nginx.service, cron.service"
        );
        assert_eq!(v("pending reboot"), Verdict::Warn);
        // A probe cut short fails.
        let cut = judge(&parse_probe("== df\n"), &Thresholds::default(), now);
        assert_eq!(cut[0].item, "probe");
        assert_eq!(overall(&cut), Verdict::Fail);
    }
}
