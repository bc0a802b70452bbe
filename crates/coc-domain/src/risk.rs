//! High-risk command check of scripts (X1, ref. 5.1.1 "Verify High-Risk
//! Command"): a viewable list of regular-expression rules per script type,
//! and the verification that reports which lines match which rule.
//!
//! The result is advice for grading a script's risk level (the reference
//! does not force the declared level to agree); a script that is declared
//! high-risk *or* matches a rule needs a manual review before it runs.

use std::sync::OnceLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::script::{RiskLevel, ScriptSpec, ScriptType};

/// One high-risk command rule.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HighRiskRule {
    /// Stable id (`HR-SH-001`).
    pub id: &'static str,
    /// What it catches.
    pub name: &'static str,
    /// Script types it applies to.
    pub types: &'static [ScriptType],
    /// The regular expression, matched against each line (comments
    /// removed).
    pub pattern: &'static str,
}

use ScriptType::{Bat, Python, Shell};

/// The built-in rules.
pub const RULES: &[HighRiskRule] = &[
    HighRiskRule {
        id: "HR-SH-001",
        name: "recursive delete of the root or a top-level system directory",
        types: &[Shell],
        pattern: r"\brm\s+(-{1,2}[a-zA-Z-]+\s+)*(-[a-zA-Z]*[rR][a-zA-Z]*|--recursive)\s+(-{1,2}[a-zA-Z-]+\s+)*[\x22']?/(\*|bin|boot|dev|etc|home|lib|lib64|opt|root|sbin|srv|usr|var)?/?[\x22']?(\s|;|&|\||$)",
    },
    HighRiskRule {
        id: "HR-SH-002",
        name: "create a file system (mkfs)",
        types: &[Shell],
        pattern: r"\bmkfs(\.[a-z0-9]+)?\b",
    },
    HighRiskRule {
        id: "HR-SH-003",
        name: "dd writing to a block device",
        types: &[Shell],
        pattern: r"\bdd\b.*\bof=/dev/(sd|hd|vd|xvd|nvme|mmcblk|disk|mapper)",
    },
    HighRiskRule {
        id: "HR-SH-004",
        name: "shut down, halt, power off or reboot the host",
        types: &[Shell, Python],
        pattern: r"\b(shutdown|halt|poweroff|reboot)\b|\binit\s+[06]\b|\bsystemctl\s+(poweroff|reboot|halt)\b",
    },
    HighRiskRule {
        id: "HR-SH-005",
        name: "world-writable permissions on the root, recursively",
        types: &[Shell],
        pattern: r"\bchmod\s+(-[a-zA-Z]*R[a-zA-Z]*\s+|--recursive\s+)0?777\s+/(\s|$|\*)",
    },
    HighRiskRule {
        id: "HR-SH-006",
        name: "fork bomb",
        types: &[Shell],
        pattern: r":\s*\(\s*\)\s*\{\s*:\s*\|\s*:\s*&\s*\}\s*;\s*:",
    },
    HighRiskRule {
        id: "HR-SH-007",
        name: "flush or drop all firewall rules",
        types: &[Shell],
        pattern: r"\b(iptables|ip6tables)\s+(-[a-zA-Z]*\s+)*(-F|--flush|-X)\b|\bnft\s+flush\s+ruleset\b|\bufw\s+(disable|reset)\b",
    },
    HighRiskRule {
        id: "HR-SH-008",
        name: "overwrite a disk or a system file by redirection",
        types: &[Shell],
        pattern: r">\s*/dev/(sd|hd|vd|xvd|nvme)[a-z0-9]*\b|>\s*/etc/(passwd|shadow|fstab|sudoers)\b",
    },
    HighRiskRule {
        id: "HR-SH-009",
        name: "wipe a disk or its partition table",
        types: &[Shell],
        pattern: r"\b(wipefs\s+-a|shred\b.*\s/dev/|fdisk\s+/dev/|parted\s+/dev/\S+\s+(mklabel|rm)|sgdisk\s+(-Z|--zap-all))",
    },
    HighRiskRule {
        id: "HR-SH-010",
        name: "kill every process",
        types: &[Shell],
        pattern: r"\bkill(all)?\s+(-9\s+|-KILL\s+|-s\s+KILL\s+)?-1\b|\bkillall5\b",
    },
    HighRiskRule {
        id: "HR-PY-001",
        name: "recursive delete of the root from Python",
        types: &[Python],
        pattern: r#"shutil\.rmtree\(\s*['"]/['"]"#,
    },
    HighRiskRule {
        id: "HR-PY-002",
        name: "a high-risk shell command run from Python",
        types: &[Python],
        pattern: r#"(os\.system|subprocess\.\w+|os\.popen)\(.*\b(rm\s+-[a-zA-Z]*r[a-zA-Z]*\s+/|mkfs|dd\s+.*of=/dev/|shutdown|reboot|halt|poweroff|iptables\s+-F)"#,
    },
    HighRiskRule {
        id: "HR-PY-003",
        name: "fork bomb from Python",
        types: &[Python],
        pattern: r"while\s+True\s*:\s*os\.fork\(\)",
    },
    HighRiskRule {
        id: "HR-BAT-001",
        name: "format a volume",
        types: &[Bat],
        pattern: r"(?i)\bformat\s+[a-z]:",
    },
    HighRiskRule {
        id: "HR-BAT-002",
        name: "delete a whole drive or the Windows directory",
        types: &[Bat],
        pattern: r"(?i)\b(rd|rmdir)\s+(/s\s+/q|/q\s+/s)\s+[a-z]:\\?(windows)?\s*$|\bdel\s+(/[fsq]\s+)+[a-z]:\\\*",
    },
    HighRiskRule {
        id: "HR-BAT-003",
        name: "shut down or restart the host",
        types: &[Bat],
        pattern: r"(?i)\bshutdown(\.exe)?\s+/[srp]\b",
    },
    HighRiskRule {
        id: "HR-BAT-004",
        name: "clean a disk or delete partitions (diskpart)",
        types: &[Bat],
        pattern: r"(?i)\bdiskpart\b|\bclean\s+all\b",
    },
    HighRiskRule {
        id: "HR-BAT-005",
        name: "turn the firewall off",
        types: &[Bat],
        pattern: r"(?i)\bnetsh\s+(adv)?firewall\s+set\s+\w+\s+state\s+off\b",
    },
];

fn compiled() -> &'static Vec<Regex> {
    static C: OnceLock<Vec<Regex>> = OnceLock::new();
    C.get_or_init(|| {
        RULES
            .iter()
            .map(|r| Regex::new(r.pattern).expect("built-in rules compile"))
            .collect()
    })
}

/// One line that matches a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Finding {
    /// Line number, 1-based.
    pub line: usize,
    /// Rule id.
    pub rule: String,
    /// Rule name.
    pub name: String,
    /// The line, trimmed.
    pub text: String,
}

/// The code of a line without its comment (`#` for Shell and Python, `REM`
/// or `::` for Bat). A `#` inside quotes is kept.
fn code(t: ScriptType, line: &str) -> &str {
    let l = line.trim();
    match t {
        Bat => {
            let u = l.to_ascii_uppercase();
            if u.starts_with("REM ") || u == "REM" || l.starts_with("::") {
                ""
            } else {
                l
            }
        }
        _ => {
            let (mut single, mut double) = (false, false);
            for (i, c) in l.char_indices() {
                match c {
                    '\'' if !double => single = !single,
                    '"' if !single => double = !double,
                    '#' if !single && !double => {
                        // `$#`, `${#x}` are shell syntax, not comments.
                        let prev = l[..i].chars().last();
                        if !matches!(prev, Some('$') | Some('{')) {
                            return &l[..i];
                        }
                    }
                    _ => {}
                }
            }
            l
        }
    }
}

/// Every line of `content` that matches a rule for its type, in order.
pub fn verify(t: ScriptType, content: &str) -> Vec<Finding> {
    let re = compiled();
    let mut out = vec![];
    for (n, line) in content.lines().enumerate() {
        let c = code(t, line);
        if c.is_empty() {
            continue;
        }
        for (rule, r) in RULES.iter().zip(re.iter()) {
            if rule.types.contains(&t) && r.is_match(c) {
                out.push(Finding {
                    line: n + 1,
                    rule: rule.id.into(),
                    name: rule.name.into(),
                    text: line.trim().chars().take(200).collect(),
                });
            }
        }
    }
    out
}

impl ScriptSpec {
    /// Whether the script must be reviewed before it runs (ref. 8.1.3):
    /// manual review asked for, declared high risk, or a high-risk command
    /// found ([`verify`]). Kept with the rules it applies, so the script
    /// module does not depend on them.
    pub fn review_required(&self) -> bool {
        self.manual_review
            || self.risk_level == RiskLevel::High
            || !verify(self.script_type, &self.content).is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(t: ScriptType, s: &str) -> Vec<String> {
        verify(t, s).into_iter().map(|f| f.rule).collect()
    }

    #[test]
    fn every_rule_compiles_and_catches_its_example() {
        let cases: &[(ScriptType, &str, &str)] = &[
            (Shell, "rm -rf /", "HR-SH-001"),
            (Shell, "sudo rm -fr /*", "HR-SH-001"),
            (Shell, "rm -r -f /etc", "HR-SH-001"),
            (Shell, "rm --recursive --no-preserve-root /", "HR-SH-001"),
            (Shell, "mkfs.ext4 /dev/sdb1", "HR-SH-002"),
            (Shell, "dd if=/dev/zero of=/dev/sda bs=1M", "HR-SH-003"),
            (Shell, "shutdown -h now", "HR-SH-004"),
            (Shell, "systemctl reboot", "HR-SH-004"),
            (Shell, "init 0", "HR-SH-004"),
            (Shell, "chmod -R 777 /", "HR-SH-005"),
            (Shell, ":(){ :|:& };:", "HR-SH-006"),
            (Shell, "iptables -F", "HR-SH-007"),
            (Shell, "nft flush ruleset", "HR-SH-007"),
            (Shell, "echo x > /dev/sda", "HR-SH-008"),
            (Shell, "cat x > /etc/passwd", "HR-SH-008"),
            (Shell, "wipefs -a /dev/sdb", "HR-SH-009"),
            (Shell, "kill -9 -1", "HR-SH-010"),
            (Python, "shutil.rmtree('/')", "HR-PY-001"),
            (Python, "os.system('rm -rf /')", "HR-PY-002"),
            (Python, "subprocess.run('reboot', shell=True)", "HR-SH-004"),
            (Python, "while True: os.fork()", "HR-PY-003"),
            (Bat, "format C: /q", "HR-BAT-001"),
            (Bat, "rd /s /q C:\\", "HR-BAT-002"),
            (Bat, "shutdown /r /t 0", "HR-BAT-003"),
            (Bat, "diskpart /s wipe.txt", "HR-BAT-004"),
            (
                Bat,
                "netsh advfirewall set allprofiles state off",
                "HR-BAT-005",
            ),
        ];
        for (t, line, rule) in cases {
            assert!(
                hits(*t, line).contains(&rule.to_string()),
                "{line} → {rule}"
            );
        }
        // Every rule has at least one example above.
        for r in RULES {
            assert!(cases.iter().any(|c| c.2 == r.id), "{} has no example", r.id);
        }
    }

    #[test]
    fn ordinary_commands_and_comments_are_not_high_risk() {
        let safe = "#!/bin/sh\n# rm -rf / is what we never do\nrm -rf /tmp/build\nrm -f /var/log/app/*.gz\n\
                    find /var/log -name '*.log' -mtime +7 -delete\nchmod 755 /opt/app/run.sh\n\
                    echo \"# not a comment: rm -rf /\" > /dev/null\nsystemctl restart nginx\n\
                    dd if=/dev/zero of=/tmp/file bs=1M count=1\niptables -L\necho $# args\n";
        assert_eq!(
            hits(Shell, safe),
            vec!["HR-SH-001".to_string()],
            "only the quoted line"
        );
        assert!(
            hits(
                Python,
                "import os\nprint(os.listdir('/'))\n# os.system('reboot')"
            )
            .is_empty()
        );
        assert!(hits(Bat, "REM format C:\n:: shutdown /s\necho done").is_empty());
        assert!(hits(Shell, "format C:").is_empty(), "rules apply per type");
    }

    #[test]
    fn findings_name_the_line() {
        let f = verify(Shell, "echo start\n\nreboot\n");
        assert_eq!(f.len(), 1);
        assert_eq!((f[0].line, f[0].text.as_str()), (3, "reboot"));
    }
}
