//! Outbound destinations (issue 14): where COC's own HTTP calls — job HTTP
//! atoms, webhooks and chat robots, the SMS gateway — may go. An operator
//! sets ALLOW and DENY lists of networks (`10.0.0.0/8`, `2001:db8::/32`,
//! an address) and host names (`hooks.example.com`, `*.example.com`);
//! link-local addresses and cloud metadata endpoints are denied unless
//! allowed explicitly, so a job or a webhook cannot read a cloud host's
//! instance credentials.
//!
//! [`Egress::decide`] judges a destination by its name and every address it
//! resolved to; the server applies it when it connects (after DNS, so a
//! name that resolves to a denied address is refused too).

use std::net::IpAddr;

use ipnet::IpNet;

use crate::error::{DomainError, invalid};

/// Denied unless allowed explicitly: link-local networks (IPv4 and IPv6,
/// where AWS, GCP, Azure and OpenStack serve instance metadata at
/// 169.254.169.254), AWS's IPv6 metadata address, Alibaba Cloud's metadata
/// address and GCP's metadata names.
pub const BUILT_IN_DENY: &[&str] = &[
    "169.254.0.0/16",
    "fe80::/10",
    "fd00:ec2::254/128",
    "100.100.100.200/32",
    "metadata.google.internal",
    "metadata.goog",
];

/// One entry of a list: a network or a host name (`*.` matches any
/// subdomain).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// A network (an address is a /32 or /128).
    Net(IpNet),
    /// A host name, lower case; a leading `*.` matches subdomains.
    Host(String),
}

impl Rule {
    /// Parses `10.0.0.0/8`, `192.0.2.7`, `::1`, `hooks.example.com` or
    /// `*.example.com`.
    ///
    /// Errors: `Validation` for an empty entry or a malformed network.
    pub fn parse(s: &str) -> Result<Rule, DomainError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(invalid("an egress rule is empty"));
        }
        if let Ok(n) = s.parse::<IpNet>() {
            return Ok(Rule::Net(n.trunc()));
        }
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(Rule::Net(IpNet::from(ip)));
        }
        let host = s.to_ascii_lowercase();
        let name = host.strip_prefix("*.").unwrap_or(&host);
        let ok = !name.is_empty()
            && !name.contains('/')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        if !ok {
            return Err(invalid(format!(
                "'{s}' is neither a network (10.0.0.0/8), an address nor a host name"
            )));
        }
        Ok(Rule::Host(host))
    }

    fn matches(&self, host: &str, ip: Option<IpAddr>) -> bool {
        match self {
            Rule::Net(n) => ip.is_some_and(|ip| n.contains(&ip.to_canonical())),
            Rule::Host(h) => {
                let host = host.trim_end_matches('.').to_ascii_lowercase();
                match h.strip_prefix("*.") {
                    Some(suffix) => host.ends_with(&format!(".{suffix}")),
                    None => host == *h,
                }
            }
        }
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rule::Net(n) => write!(f, "{n}"),
            Rule::Host(h) => f.write_str(h),
        }
    }
}

/// The outbound policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Egress {
    /// When not empty, only these destinations.
    pub allow: Vec<Rule>,
    /// Never these (wins over `allow`).
    pub deny: Vec<Rule>,
    /// [`BUILT_IN_DENY`], parsed.
    built_in: Vec<Rule>,
}

impl Default for Egress {
    fn default() -> Self {
        Egress::new(&[], &[]).unwrap_or_else(|_| Egress {
            allow: vec![],
            deny: vec![],
            built_in: vec![],
        })
    }
}

impl Egress {
    /// A policy from the operator's lists.
    ///
    /// Errors: `Validation` naming a malformed entry.
    pub fn new(allow: &[String], deny: &[String]) -> Result<Egress, DomainError> {
        let parse = |v: &[String]| {
            v.iter()
                .map(|s| Rule::parse(s))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(Egress {
            allow: parse(allow)?,
            deny: parse(deny)?,
            built_in: BUILT_IN_DENY
                .iter()
                .map(|s| Rule::parse(s))
                .collect::<Result<_, _>>()?,
        })
    }

    /// Whether COC may call `host` (a name or an address literal) at its
    /// resolved `ips` (every one is judged: one denied address refuses the
    /// call). Order: the DENY list; then the ALLOW list (an entry that
    /// matches the name or every address admits it; a non-empty list admits
    /// nothing else); then the built-in denials.
    ///
    /// Errors: why, naming the rule (for the caller's error message).
    pub fn decide(&self, host: &str, ips: &[IpAddr]) -> Result<(), String> {
        let literal = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .ok();
        let mut addrs: Vec<Option<IpAddr>> = ips.iter().copied().map(Some).collect();
        if let Some(ip) = literal {
            addrs.push(Some(ip));
        }
        if addrs.is_empty() {
            addrs.push(None);
        }
        let hit = |rules: &[Rule]| {
            rules
                .iter()
                .find(|r| addrs.iter().any(|ip| r.matches(host, *ip)))
                .cloned()
        };
        if let Some(r) = hit(&self.deny) {
            return Err(format!("{host} is denied by the egress rule {r}"));
        }
        let allowed = |r: &Rule| match r {
            Rule::Host(_) => r.matches(host, None),
            Rule::Net(_) => addrs.iter().all(|ip| r.matches(host, *ip)),
        };
        if self.allow.iter().any(allowed) {
            return Ok(());
        }
        if !self.allow.is_empty() {
            return Err(format!("{host} is not in the egress allow list"));
        }
        if let Some(r) = hit(&self.built_in) {
            return Err(format!(
                "{host} is a link-local or cloud metadata destination ({r}), denied unless allowed explicitly (--egress-allow)"
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn policy(allow: &[&str], deny: &[&str]) -> Egress {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        Egress::new(&v(allow), &v(deny)).unwrap()
    }

    #[test]
    fn metadata_and_link_local_are_denied_by_default() {
        let p = Egress::default();
        assert!(p.decide("169.254.169.254", &[]).is_err());
        assert!(
            p.decide("evil.example", &[ip("169.254.169.254")]).is_err(),
            "after DNS"
        );
        assert!(
            p.decide("x", &[ip("::ffff:169.254.169.254")]).is_err(),
            "v4-mapped"
        );
        assert!(p.decide("[fe80::1]", &[]).is_err());
        assert!(
            p.decide("metadata.google.internal", &[ip("10.1.2.3")])
                .is_err()
        );
        assert!(p.decide("100.100.100.200", &[]).is_err());
        assert!(p.decide("hooks.example.com", &[ip("203.0.113.5")]).is_ok());
        assert!(p.decide("127.0.0.1", &[]).is_ok());
        // One denied address among several refuses the call.
        assert!(
            p.decide("mixed.example", &[ip("203.0.113.5"), ip("169.254.1.1")])
                .is_err()
        );
    }

    #[test]
    fn operators_allow_and_deny() {
        let p = policy(&["169.254.10.0/24"], &[]);
        assert!(p.decide("169.254.10.7", &[]).is_ok(), "allowed explicitly");
        assert!(p.decide("169.254.169.254", &[]).is_err(), "not in the list");
        assert!(
            p.decide("hooks.example.com", &[ip("203.0.113.5")]).is_err(),
            "allow list mode"
        );
        let p = policy(
            &["*.example.com", "10.0.0.0/8"],
            &["secret.example.com", "10.9.0.0/16"],
        );
        assert!(p.decide("hooks.example.com", &[ip("203.0.113.5")]).is_ok());
        assert!(
            p.decide("secret.example.com", &[ip("203.0.113.5")])
                .is_err(),
            "deny wins"
        );
        assert!(p.decide("10.1.1.1", &[]).is_ok());
        assert!(p.decide("10.9.1.1", &[]).is_err());
        assert!(
            p.decide("example.com", &[ip("203.0.113.5")]).is_err(),
            "*. is for subdomains"
        );
        let e = policy(&[], &["203.0.113.0/24"]).decide("hooks.example.com", &[ip("203.0.113.5")]);
        assert!(e.unwrap_err().contains("203.0.113.0/24"));
    }

    #[test]
    fn rules_parse() {
        assert!(Rule::parse("10.0.0.1/8").is_ok());
        assert!(Rule::parse("2001:db8::/32").is_ok());
        assert!(Rule::parse("HOOKS.Example.com").is_ok());
        assert!(Rule::parse("").is_err());
        assert!(Rule::parse("10.0.0.0/99").is_err());
        assert!(Rule::parse("http://x/").is_err());
    }
}
