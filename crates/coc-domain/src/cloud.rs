//! Cloud accounts (R2; ref. 3.1.1 "Synchronizing Resources"): where COC
//! reads a cloud's servers from — an OpenStack-compatible compute API
//! reached through its identity service (Keystone v3) — and what those
//! servers become in the resource inventory.
//!
//! This module decides what a valid account is, when it is synchronized
//! next, and what each server found becomes ([`found`]); matching what
//! was found with what the inventory holds is
//! [`crate::resource::catalog::reconcile`], as for a host's discovered
//! services. Talking to the provider is the server's.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{DomainError, invalid};
use crate::resource::catalog::{Found, MAX_NAME, MAX_VALUE, ResourceType, short_value};

/// Longest account name (characters).
pub const MAX_ACCOUNT_NAME: usize = 64;
/// Longest identity URL (characters).
pub const MAX_URL: usize = 500;
/// Most regions an account is limited to.
pub const MAX_REGIONS: usize = 20;
/// Longest interval between two synchronizations: a week, in minutes.
pub const MAX_SYNC_MINUTES: u32 = 10_080;
/// Synchronization interval when none is given, minutes.
pub const DEFAULT_SYNC_MINUTES: u32 = 60;
/// Most servers one synchronization takes in; more is refused whole.
pub const MAX_SERVERS: usize = 50_000;

/// A cloud provider COC can read servers from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// An OpenStack-compatible cloud: Keystone v3 password
    /// authentication, then the compute (Nova) and image (Glance)
    /// services of its catalog.
    #[default]
    Openstack,
}

impl Provider {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Openstack => "openstack",
        }
    }
}

fn default_domain() -> String {
    "Default".into()
}

fn default_minutes() -> u32 {
    DEFAULT_SYNC_MINUTES
}

/// A cloud account as given and as stored (its password apart).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloudAccountSpec {
    /// Name, unique per tenant, 1 to 64 characters.
    pub name: String,
    /// The provider (`openstack`).
    #[serde(default)]
    pub provider: Provider,
    /// The identity service's URL (`https://keystone.example.com:5000`,
    /// with or without `/v3`).
    pub auth_url: String,
    /// The user COC signs in as.
    pub username: String,
    /// Its password: given on create (and on change, to replace it);
    /// never answered, encrypted at rest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// The user's domain (`Default`).
    #[serde(default = "default_domain")]
    pub user_domain: String,
    /// The project whose servers are read.
    pub project: String,
    /// The project's domain (`Default`).
    #[serde(default = "default_domain")]
    pub project_domain: String,
    /// Only these regions of the catalog; empty: every region.
    #[serde(default)]
    pub regions: Vec<String>,
    /// Minutes between synchronizations, 1 to 10,080; 0: only when asked.
    #[serde(default = "default_minutes")]
    pub sync_minutes: u32,
}

/// A required short value: trimmed, 1 to [`MAX_VALUE`] characters.
fn required(what: &str, v: &str) -> Result<String, DomainError> {
    short_value(what, Some(v))?.ok_or_else(|| invalid(format!("{what} is required")))
}

impl CloudAccountSpec {
    /// The account checked and tidied: name 1 to 64 characters, the URL
    /// `http(s)://host[:port][/path]` without credentials in it, user,
    /// project and domains given, regions each once (at most 20), the
    /// interval at most a week.
    ///
    /// Errors: [`DomainError::Validation`] naming what is wrong.
    pub fn normalized(&self) -> Result<Self, DomainError> {
        let name = self.name.trim();
        let n = name.chars().count();
        if n == 0 || n > MAX_ACCOUNT_NAME || name.chars().any(char::is_control) {
            return Err(invalid(format!(
                "a cloud account name has 1 to {MAX_ACCOUNT_NAME} characters"
            )));
        }
        let given = self.auth_url.trim();
        let (scheme, rest) = ["https://", "http://"]
            .into_iter()
            .find_map(|p| given.strip_prefix(p).map(|r| (p, r)))
            .ok_or_else(|| invalid("auth_url must start with http:// or https://"))?;
        let rest = rest.trim_end_matches('/');
        let url = format!("{scheme}{rest}");
        let authority = rest.split('/').next().unwrap_or_default();
        if url.chars().count() > MAX_URL
            || authority.is_empty()
            || url.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(invalid(format!(
                "auth_url must be a URL of at most {MAX_URL} characters with a host"
            )));
        }
        if authority.contains('@') {
            return Err(invalid(
                "auth_url must not carry credentials; give username and password",
            ));
        }
        let mut regions: Vec<String> = Vec::new();
        for r in &self.regions {
            if let Some(r) = short_value("region", Some(r))?
                && !regions.contains(&r)
            {
                regions.push(r);
            }
        }
        if regions.len() > MAX_REGIONS {
            return Err(invalid(format!("at most {MAX_REGIONS} regions")));
        }
        if self.sync_minutes > MAX_SYNC_MINUTES {
            return Err(invalid(format!(
                "sync_minutes is 0 (only when asked) to {MAX_SYNC_MINUTES} (a week)"
            )));
        }
        let password = self.password.as_ref().filter(|p| !p.is_empty()).cloned();
        if password.as_ref().is_some_and(|p| p.len() > 1024) {
            return Err(invalid("password is longer than 1024 bytes"));
        }
        Ok(Self {
            name: name.to_string(),
            provider: self.provider,
            auth_url: url,
            username: required("username", &self.username)?,
            password,
            user_domain: required("user_domain", &self.user_domain)?,
            project: required("project", &self.project)?,
            project_domain: required("project_domain", &self.project_domain)?,
            regions,
            sync_minutes: self.sync_minutes,
        })
    }

    /// When an account synchronized (or created) at `at` (Unix ms) is due
    /// next; `None` when it synchronizes only when asked.
    pub fn next_sync(&self, at: i64) -> Option<i64> {
        (self.sync_minutes > 0).then(|| at + i64::from(self.sync_minutes) * 60_000)
    }
}

/// A server as a provider lists it, provider-neutral.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CloudServer {
    /// The provider's id of the instance.
    pub id: String,
    /// Its name there.
    pub name: String,
    /// Its state there (`ACTIVE`, `SHUTOFF`, `ERROR` …).
    pub state: String,
    /// The region it was listed in.
    pub region: String,
    /// Its availability zone, if said.
    pub zone: Option<String>,
    /// Its flavor's name, if known.
    pub flavor: Option<String>,
    /// vCPUs of its flavor.
    pub vcpus: Option<u32>,
    /// Memory of its flavor, MB.
    pub ram_mb: Option<u32>,
    /// Root disk of its flavor, GB.
    pub disk_gb: Option<u32>,
    /// Its image's name (or id when the image is not listed); none when
    /// it boots from a volume.
    pub image: Option<String>,
    /// Its addresses, fixed and floating.
    pub addresses: Vec<String>,
}

/// `v` without control characters, at most `max` characters.
fn clip(v: &str, max: usize) -> String {
    v.chars()
        .filter(|c| !c.is_control())
        .take(max)
        .collect::<String>()
        .trim()
        .to_string()
}

/// What the servers of account `account` become in the inventory: one
/// cloud server each, keyed by instance id, named as at the provider (its
/// id when it has no name), in its region, with its flavor, image,
/// addresses, zone and state as fields.
///
/// Errors: [`DomainError::Validation`] for more than [`MAX_SERVERS`]
/// servers, or a server without an id.
pub fn found(account: &str, servers: &[CloudServer]) -> Result<Vec<Found>, DomainError> {
    if servers.len() > MAX_SERVERS {
        return Err(invalid(format!(
            "the account lists {} servers; at most {MAX_SERVERS} are taken in",
            servers.len()
        )));
    }
    let mut out = Vec::with_capacity(servers.len());
    let mut seen = std::collections::HashSet::new();
    for s in servers {
        let id = clip(&s.id, MAX_VALUE);
        if id.is_empty() {
            return Err(invalid("the provider listed a server without an id"));
        }
        if !seen.insert(id.clone()) {
            continue;
        }
        let name = match clip(&s.name, MAX_NAME) {
            n if n.is_empty() => clip(&id, MAX_NAME),
            n => n,
        };
        let mut attributes = BTreeMap::from([
            ("account".to_string(), clip(account, MAX_VALUE)),
            ("instance_id".to_string(), id.clone()),
        ]);
        let mut put = |k: &str, v: Option<String>| {
            if let Some(v) = v.map(|v| clip(&v, MAX_VALUE)).filter(|v| !v.is_empty()) {
                attributes.insert(k.to_string(), v);
            }
        };
        put("state", Some(s.state.clone()));
        put("flavor", s.flavor.clone());
        put("vcpus", s.vcpus.map(|n| n.min(1_000_000).to_string()));
        put("ram_mb", s.ram_mb.map(|n| n.min(1_000_000).to_string()));
        put("disk_gb", s.disk_gb.map(|n| n.min(1_000_000).to_string()));
        put("image", s.image.clone());
        put("addresses", Some(s.addresses.join(", ")));
        put("availability_zone", s.zone.clone());
        let region = clip(&s.region, MAX_VALUE);
        out.push(Found {
            resource_type: ResourceType::CloudServer,
            name,
            key: id,
            port: None,
            region: (!region.is_empty()).then_some(region),
            attributes,
        });
    }
    Ok(out)
}

/// Something with a name and addresses: a cloud server (by resource id)
/// or a host running the agent (by host id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addressed {
    /// Resource id (server) or host id.
    pub id: String,
    /// Server name or host name.
    pub name: String,
    /// Its addresses.
    pub addresses: Vec<String>,
}

/// Which agent host each cloud server is (R2 with R3): the host that has
/// one of the server's addresses. Private addresses repeat across
/// projects and networks, so an address shared with another server, or
/// several hosts having the server's addresses, decide only together
/// with the name (the host name, or its first label, is the server's,
/// ignoring case); a host that several servers would be is none of them.
/// Loopback and link-local addresses never decide. Returns, per server
/// id, its host id or none.
pub fn link_hosts(servers: &[Addressed], hosts: &[Addressed]) -> BTreeMap<String, Option<String>> {
    let usable = |a: &String| {
        a.parse::<std::net::IpAddr>().is_ok_and(|ip| match ip {
            std::net::IpAddr::V4(v) => !v.is_loopback() && !v.is_link_local(),
            std::net::IpAddr::V6(v) => !v.is_loopback() && (v.segments()[0] & 0xffc0) != 0xfe80,
        })
    };
    let same_name = |s: &Addressed, h: &Addressed| {
        let (a, b) = (s.name.to_ascii_lowercase(), h.name.to_ascii_lowercase());
        !a.is_empty() && (a == b || b.split('.').next() == Some(a.as_str()))
    };
    let mut out = BTreeMap::new();
    for s in servers {
        let mine: Vec<&String> = s.addresses.iter().filter(|a| usable(a)).collect();
        let shared = mine.iter().any(|a| {
            servers
                .iter()
                .any(|o| o.id != s.id && o.addresses.contains(a))
        });
        let candidates: Vec<&Addressed> = hosts
            .iter()
            .filter(|h| h.addresses.iter().any(|a| mine.contains(&a)))
            .collect();
        let host = match candidates.as_slice() {
            [h] if !shared || same_name(s, h) => Some(h.id.clone()),
            _ => {
                let named: Vec<&&Addressed> =
                    candidates.iter().filter(|h| same_name(s, h)).collect();
                match named.as_slice() {
                    [h] => Some(h.id.clone()),
                    _ => None,
                }
            }
        };
        out.insert(s.id.clone(), host);
    }
    // A host is one server: one chosen by several is none of them.
    let mut chosen: BTreeMap<String, usize> = BTreeMap::new();
    for h in out.values().flatten() {
        *chosen.entry(h.clone()).or_default() += 1;
    }
    for h in out.values_mut() {
        if h.as_ref().is_some_and(|h| chosen[h] > 1) {
            *h = None;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::catalog::{Held, attributes, reconcile};

    fn account(v: serde_json::Value) -> Result<CloudAccountSpec, String> {
        let a: CloudAccountSpec = serde_json::from_value(v).map_err(|e| e.to_string())?;
        a.normalized().map_err(|e| e.to_string())
    }

    #[test]
    fn accounts_are_checked_and_tidied() {
        let a = account(serde_json::json!({"name": " lab ", "auth_url": "https://keystone.lab:5000/v3/",
            "username": "coc", "password": "s3cret", "project": "ops", "regions": ["RegionOne", " RegionOne"]}))
        .unwrap();
        assert_eq!(a.name, "lab");
        assert_eq!(a.auth_url, "https://keystone.lab:5000/v3");
        assert_eq!(
            (a.user_domain.as_str(), a.project_domain.as_str()),
            ("Default", "Default")
        );
        assert_eq!(a.regions, ["RegionOne"]);
        assert_eq!(a.sync_minutes, DEFAULT_SYNC_MINUTES);
        assert_eq!(a.next_sync(1_000), Some(1_000 + 3_600_000));
        let mut manual = a.clone();
        manual.sync_minutes = 0;
        assert_eq!(manual.next_sync(1_000), None);
        for (bad, why) in [
            (
                serde_json::json!({"name": "x", "auth_url": "ftp://k", "username": "u", "project": "p"}),
                "http",
            ),
            (
                serde_json::json!({"name": "x", "auth_url": "https://u:p@k", "username": "u", "project": "p"}),
                "credentials",
            ),
            (
                serde_json::json!({"name": "x", "auth_url": "https://", "username": "u", "project": "p"}),
                "with a host",
            ),
            (
                serde_json::json!({"name": "x", "auth_url": "https://k", "username": " ", "project": "p"}),
                "username",
            ),
            (
                serde_json::json!({"name": "", "auth_url": "https://k", "username": "u", "project": "p"}),
                "name",
            ),
            (
                serde_json::json!({"name": "x", "auth_url": "https://k", "username": "u", "project": "p", "sync_minutes": 20000}),
                "sync_minutes",
            ),
        ] {
            let e = account(bad.clone()).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    fn server(id: &str, name: &str, state: &str) -> CloudServer {
        CloudServer {
            id: id.into(),
            name: name.into(),
            state: state.into(),
            region: "RegionOne".into(),
            zone: Some("nova".into()),
            flavor: Some("m1.small".into()),
            vcpus: Some(1),
            ram_mb: Some(2048),
            disk_gb: Some(20),
            image: Some("cirros".into()),
            addresses: vec!["10.0.0.5".into(), "172.24.4.10".into()],
        }
    }

    #[test]
    fn servers_become_cloud_servers_keyed_by_instance_id() {
        let f = found(
            "lab",
            &[
                server("a1", "web-01", "ACTIVE"),
                server("a1", "web-01", "ACTIVE"),
                server("b2", "", "SHUTOFF"),
            ],
        )
        .unwrap();
        assert_eq!(f.len(), 2, "a server listed twice is one");
        assert_eq!((f[0].name.as_str(), f[0].key.as_str()), ("web-01", "a1"));
        assert_eq!(f[0].region.as_deref(), Some("RegionOne"));
        assert_eq!(f[0].attributes["addresses"], "10.0.0.5, 172.24.4.10");
        assert_eq!(f[0].attributes["ram_mb"], "2048");
        assert_eq!(f[1].name, "b2", "no name: its id");
        // The fields are the type's, as a resource given by hand would be.
        assert_eq!(
            attributes(ResourceType::CloudServer, &f[0].attributes).unwrap(),
            f[0].attributes
        );
        assert!(found("lab", &[server("", "x", "ACTIVE")]).is_err());
        // Synchronized again: a changed state updates, a gone server
        // vanishes, an unchanged one is left alone.
        let held: Vec<Held> = f
            .iter()
            .enumerate()
            .map(|(i, f)| Held {
                id: format!("r{i}"),
                key: f.key.clone(),
                resource_type: f.resource_type,
                name: f.name.clone(),
                region: f.region.clone(),
                attributes: f.attributes.clone(),
                vanished: false,
            })
            .collect();
        let again = found("lab", &[server("a1", "web-01", "SHUTOFF")]).unwrap();
        let plan = reconcile(&held, again);
        assert_eq!(plan.update.len(), 1);
        assert_eq!(plan.update[0].1.attributes["state"], "SHUTOFF");
        assert_eq!(plan.vanish, ["r1"]);
        let same = found(
            "lab",
            &[
                server("a1", "web-01", "ACTIVE"),
                server("b2", "", "SHUTOFF"),
            ],
        )
        .unwrap();
        assert!(reconcile(&held, same).is_empty());
    }

    #[test]
    fn a_cloud_server_is_the_host_that_has_its_address() {
        let a = |id: &str, name: &str, addrs: &[&str]| Addressed {
            id: id.into(),
            name: name.into(),
            addresses: addrs.iter().map(|s| s.to_string()).collect(),
        };
        let servers = [
            a("s-web", "web-01", &["10.0.0.11", "172.24.4.10"]),
            a("s-db", "db-01", &["10.0.0.13"]),
            a("s-other-project", "db-01", &["10.0.0.13"]),
            a("s-lo", "lo", &["127.0.0.1"]),
            a("s-two", "app", &["10.0.9.9"]),
        ];
        let hosts = [
            a("h-web", "WEB-01.example.com", &["127.0.0.1", "10.0.0.11"]),
            a("h-db", "db-01", &["10.0.0.13"]),
            a("h-x", "x", &["10.0.9.9"]),
            a("h-y", "y", &["10.0.9.9"]),
        ];
        let l = link_hosts(&servers, &hosts);
        assert_eq!(l["s-web"].as_deref(), Some("h-web"), "by address");
        assert_eq!(
            (l["s-db"].as_deref(), l["s-other-project"].as_deref()),
            (None, None),
            "two servers of one name and address: neither is the host"
        );
        assert_eq!(l["s-lo"], None, "loopback never decides");
        assert_eq!(l["s-two"], None, "two hosts, neither named so");
        let l = link_hosts(&servers[1..2], &hosts);
        assert_eq!(l["s-db"].as_deref(), Some("h-db"), "alone, by address");
        let other = [
            a("s-db", "db-01", &["10.0.0.13"]),
            a("s-app", "app-01", &["10.0.0.13"]),
        ];
        let l = link_hosts(&other, &hosts);
        assert_eq!(
            l["s-db"].as_deref(),
            Some("h-db"),
            "a shared address decides with the name"
        );
        assert_eq!(l["s-app"], None);
        let renamed = [a("h-db", "primary", &["10.0.0.13"])];
        let l = link_hosts(&servers[1..3], &renamed);
        assert_eq!(l["s-db"], None, "shared address, another name");
    }
}
