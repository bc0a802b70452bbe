//! The resource catalogue (R1, R2; ref. 3.1.1 "Synchronizing Resources"):
//! the types of resource COC keeps (hosts, databases, caches, queues, web
//! servers, container clusters, load balancers), the fields each type
//! has, what a valid resource is, what a host's discovered services
//! become in the inventory, and how the resource list is sorted.
//!
//! Hosts join the inventory through their agent; the other types are
//! either discovered on a host (its agent saw the service listening) or
//! registered by hand or by an import.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::discovery::{Service, ServiceRole};
use crate::error::{DomainError, invalid};
use crate::resource::AgentStatus;

/// Most characters in a resource's name.
pub const MAX_NAME: usize = 128;
/// Most characters in a field's value or a region's name.
pub const MAX_VALUE: usize = 255;

/// A type of resource in the inventory.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ResourceType {
    /// A server running the COC agent.
    Host,
    /// A database (PostgreSQL, MySQL, MariaDB, MongoDB, Elasticsearch …).
    Database,
    /// A cache (Redis, Memcached).
    Cache,
    /// A message queue or broker (RabbitMQ, NATS, Kafka).
    Queue,
    /// A web server or reverse proxy (nginx, Apache).
    WebServer,
    /// A container cluster (Kubernetes …).
    ContainerCluster,
    /// A load balancer.
    LoadBalancer,
    /// A server of a cloud account (an ECS, an OpenStack instance),
    /// synchronized from its provider (R2) or registered by hand.
    CloudServer,
}

impl ResourceType {
    /// Every type, in the order the console offers them.
    pub const ALL: [ResourceType; 8] = [
        ResourceType::Host,
        ResourceType::Database,
        ResourceType::Cache,
        ResourceType::Queue,
        ResourceType::WebServer,
        ResourceType::ContainerCluster,
        ResourceType::LoadBalancer,
        ResourceType::CloudServer,
    ];

    /// Stored name (`container_cluster`).
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceType::Host => "host",
            ResourceType::Database => "database",
            ResourceType::Cache => "cache",
            ResourceType::Queue => "queue",
            ResourceType::WebServer => "web_server",
            ResourceType::ContainerCluster => "container_cluster",
            ResourceType::LoadBalancer => "load_balancer",
            ResourceType::CloudServer => "cloud_server",
        }
    }

    /// The type called `name` (stored name, any case).
    pub fn parse(name: &str) -> Option<Self> {
        let n = name.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        Self::ALL.into_iter().find(|t| t.as_str() == n)
    }

    /// What a person calls it (`Container cluster`).
    pub fn label(self) -> &'static str {
        match self {
            ResourceType::Host => "Host",
            ResourceType::Database => "Database",
            ResourceType::Cache => "Cache",
            ResourceType::Queue => "Message queue",
            ResourceType::WebServer => "Web server",
            ResourceType::ContainerCluster => "Container cluster",
            ResourceType::LoadBalancer => "Load balancer",
            ResourceType::CloudServer => "Cloud server",
        }
    }

    /// The inventory type a discovered service of `role` becomes; `None`
    /// for remote access (every host has SSH; it is not a resource).
    pub fn of_role(role: ServiceRole) -> Option<Self> {
        match role {
            ServiceRole::Database => Some(ResourceType::Database),
            ServiceRole::Cache => Some(ResourceType::Cache),
            ServiceRole::Queue => Some(ResourceType::Queue),
            ServiceRole::WebServer => Some(ResourceType::WebServer),
            ServiceRole::RemoteAccess => None,
        }
    }

    /// The type-specific fields of this type.
    pub fn fields(self) -> &'static [Field] {
        const ENGINE: Field = Field {
            name: "engine",
            label: "Engine",
            kind: FieldKind::Text,
        };
        const VERSION: Field = Field {
            name: "version",
            label: "Version",
            kind: FieldKind::Text,
        };
        const ENDPOINT: Field = Field {
            name: "endpoint",
            label: "Endpoint (address:port or URL)",
            kind: FieldKind::Text,
        };
        const PORT: Field = Field {
            name: "port",
            label: "Port",
            kind: FieldKind::Port,
        };
        const PROCESS: Field = Field {
            name: "process",
            label: "Process",
            kind: FieldKind::Text,
        };
        const SERVICE: Field = Field {
            name: crate::resource_op::SERVICE_ATTRIBUTE,
            label: "Service (postgresql@15-main, mariadb): started, stopped and restarted on its host",
            kind: FieldKind::Text,
        };
        match self {
            ResourceType::Host => &[],
            ResourceType::Database => &[ENGINE, VERSION, ENDPOINT, PORT, PROCESS, SERVICE],
            ResourceType::Cache | ResourceType::Queue | ResourceType::WebServer => {
                &[ENGINE, VERSION, ENDPOINT, PORT, PROCESS]
            }
            ResourceType::ContainerCluster => &[
                Field {
                    name: "platform",
                    label: "Platform (kubernetes, openshift …)",
                    kind: FieldKind::Text,
                },
                VERSION,
                Field {
                    name: "endpoint",
                    label: "API endpoint (URL)",
                    kind: FieldKind::Text,
                },
                Field {
                    name: "nodes",
                    label: "Nodes",
                    kind: FieldKind::Count,
                },
            ],
            ResourceType::LoadBalancer => &[
                Field {
                    name: "address",
                    label: "Virtual address",
                    kind: FieldKind::Text,
                },
                Field {
                    name: "listeners",
                    label: "Listeners (ports, e.g. 80,443)",
                    kind: FieldKind::Text,
                },
                Field {
                    name: "algorithm",
                    label: "Algorithm (round_robin, least_connections …)",
                    kind: FieldKind::Text,
                },
                Field {
                    name: "backends",
                    label: "Backend members",
                    kind: FieldKind::Count,
                },
            ],
            ResourceType::CloudServer => &[
                Field {
                    name: "account",
                    label: "Cloud account",
                    kind: FieldKind::Text,
                },
                Field {
                    name: "instance_id",
                    label: "Instance id",
                    kind: FieldKind::Text,
                },
                Field {
                    name: "state",
                    label: "State at the provider (ACTIVE, SHUTOFF …)",
                    kind: FieldKind::Text,
                },
                Field {
                    name: "flavor",
                    label: "Flavor",
                    kind: FieldKind::Text,
                },
                Field {
                    name: "vcpus",
                    label: "vCPUs",
                    kind: FieldKind::Count,
                },
                Field {
                    name: "ram_mb",
                    label: "Memory (MB)",
                    kind: FieldKind::Count,
                },
                Field {
                    name: "disk_gb",
                    label: "Disk (GB)",
                    kind: FieldKind::Count,
                },
                Field {
                    name: "image",
                    label: "Image",
                    kind: FieldKind::Text,
                },
                Field {
                    name: "addresses",
                    label: "Addresses",
                    kind: FieldKind::Text,
                },
                Field {
                    name: "availability_zone",
                    label: "Availability zone",
                    kind: FieldKind::Text,
                },
            ],
        }
    }
}

/// What a type-specific field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// Free text, at most [`MAX_VALUE`] characters.
    Text,
    /// A TCP port, 1 to 65535.
    Port,
    /// A count, 0 to 1,000,000.
    Count,
}

/// A type-specific field of a resource type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Field {
    /// Its key in `attributes` (`engine`).
    pub name: &'static str,
    /// What the console calls it.
    pub label: &'static str,
    /// What it holds.
    pub kind: FieldKind,
}

/// A resource other than a host, as given to create or change it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceSpec {
    /// Its type (not `host`: hosts join through their agent).
    #[serde(rename = "type")]
    pub resource_type: ResourceType,
    /// Name, unique per tenant and type, 1 to 128 characters.
    pub name: String,
    /// The host it runs on (id or host name), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The application it belongs to (id or name), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application: Option<String>,
    /// Its module within that application, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// The region it runs in, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Its enterprise project (A4), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enterprise_project: Option<String>,
    /// Tags (≤ 20).
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// The type's own fields ([`ResourceType::fields`]), by name; values
    /// are text (`"port": "5432"`).
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

/// An optional short value: trimmed, empty is none, no control
/// characters, at most [`MAX_VALUE`] characters.
pub fn short_value(what: &str, v: Option<&str>) -> Result<Option<String>, DomainError> {
    let Some(t) = v.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if t.chars().count() > MAX_VALUE {
        return Err(invalid(format!(
            "{what} is longer than {MAX_VALUE} characters"
        )));
    }
    if t.chars().any(char::is_control) {
        return Err(invalid(format!("{what} has a control character")));
    }
    Ok(Some(t.to_string()))
}

/// The type-specific fields of a `t` resource checked: only the type's
/// fields, values trimmed (empty ones dropped), ports 1 to 65535 and
/// counts 0 to 1,000,000 written as plain numbers.
///
/// Errors: [`DomainError::Validation`] naming the field, or the fields
/// the type has for an unknown one.
pub fn attributes(
    t: ResourceType,
    given: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, DomainError> {
    let mut out = BTreeMap::new();
    for (k, v) in given {
        let key = k.trim().to_ascii_lowercase();
        let Some(f) = t.fields().iter().find(|f| f.name == key) else {
            let names: Vec<&str> = t.fields().iter().map(|f| f.name).collect();
            return Err(invalid(format!(
                "a {} has no field '{k}'; its fields are {}",
                t.as_str(),
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            )));
        };
        let Some(v) = short_value(f.name, Some(v))? else {
            continue;
        };
        let v = match f.kind {
            FieldKind::Text => v,
            FieldKind::Port => match v.parse::<u16>() {
                Ok(p) if p > 0 => p.to_string(),
                _ => return Err(invalid(format!("port '{v}' is not 1 to 65535"))),
            },
            FieldKind::Count => match v.parse::<u32>() {
                Ok(n) if n <= 1_000_000 => n.to_string(),
                _ => {
                    return Err(invalid(format!(
                        "{} '{v}' is not a count from 0 to 1000000",
                        f.name
                    )));
                }
            },
        };
        out.insert(key, v);
    }
    Ok(out)
}

impl ResourceSpec {
    /// The spec checked and tidied: name trimmed (1 to [`MAX_NAME`]
    /// characters), empty optional values dropped, fields as
    /// [`attributes`] checks them, tags as [`crate::resource::validate_tags`].
    ///
    /// Errors: [`DomainError::Validation`], e.g. for a `host` (hosts join
    /// through their agent) or a field the type lacks.
    pub fn normalized(&self) -> Result<Self, DomainError> {
        if self.resource_type == ResourceType::Host {
            return Err(invalid(
                "hosts join the inventory through their agent (coc agent --enroll), not by hand",
            ));
        }
        let name = self.name.trim();
        let n = name.chars().count();
        if n == 0 || n > MAX_NAME {
            return Err(invalid(format!(
                "a resource name has 1 to {MAX_NAME} characters"
            )));
        }
        if name.chars().any(char::is_control) {
            return Err(invalid("a resource name has no control characters"));
        }
        crate::resource::validate_tags(&self.tags)?;
        let module = short_value("module", self.module.as_deref())?;
        let application = short_value("application", self.application.as_deref())?;
        if module.is_some() && application.is_none() {
            return Err(invalid("a module is given with its application"));
        }
        Ok(ResourceSpec {
            resource_type: self.resource_type,
            name: name.to_string(),
            host: short_value("host", self.host.as_deref())?,
            application,
            module,
            region: short_value("region", self.region.as_deref())?,
            enterprise_project: short_value(
                "enterprise project",
                self.enterprise_project.as_deref(),
            )?,
            tags: self.tags.clone(),
            attributes: attributes(self.resource_type, &self.attributes)?,
        })
    }
}

/// What a resource sets itself (`own`), what its host has (`host`) and
/// what a change gives (`new`): the value to store. A value given back
/// that the resource only showed because its host has it stays its
/// host's (`None`: it keeps following the host).
pub fn kept_own(own: Option<&str>, host: Option<&str>, new: Option<&str>) -> Option<String> {
    if own.is_none() && new.is_some() && new == host {
        None
    } else {
        new.map(str::to_string)
    }
}

/// Whether a change of a discovered resource is allowed: its type, name,
/// host and fields are what its agent reports; application, module,
/// region, project and tags are the person's.
///
/// Errors: [`DomainError::Validation`] naming the resource.
pub fn check_discovered_change(
    name: &str,
    old: (ResourceType, &str, Option<&str>, &BTreeMap<String, String>),
    new: (ResourceType, &str, Option<&str>, &BTreeMap<String, String>),
) -> Result<(), DomainError> {
    if old == new {
        Ok(())
    } else {
        Err(invalid(format!(
            "{name} was discovered by its host's agent or synchronized from its cloud account: its type, name, host and fields follow what its source reports"
        )))
    }
}

/// What an import does with one row of its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportAction {
    /// A new resource.
    Create,
    /// An existing one (same type and name) changes.
    Update,
    /// An existing one is already so.
    Unchanged,
    /// The row is refused (its reason given); nothing is imported.
    Refused,
}

/// Most rows an import file may have.
pub const MAX_IMPORT_ROWS: usize = 10_000;

/// Rows of an import file that name the same type and name as an earlier
/// row: (row number, the earlier row's number). Rows are numbered from 1.
pub fn repeated_rows(rows: &[(ResourceType, String)]) -> Vec<(usize, usize)> {
    let mut seen: std::collections::HashMap<(ResourceType, String), usize> =
        std::collections::HashMap::with_capacity(rows.len());
    let mut out = vec![];
    for (i, (t, n)) in rows.iter().enumerate() {
        match seen.get(&(*t, n.clone())) {
            Some(first) => out.push((i + 1, *first)),
            None => {
                seen.insert((*t, n.clone()), i + 1);
            }
        }
    }
    out
}

/// Where a resource came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// Its host's agent saw it listening (R2).
    Discovered,
    /// Registered by hand (console, CLI, API).
    Manual,
    /// Synchronized from a cloud account (R2).
    Cloud,
}

impl Origin {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Discovered => "discovered",
            Origin::Manual => "manual",
            Origin::Cloud => "cloud",
        }
    }

    /// The origin stored as `name` (manual for anything else).
    pub fn parse(name: &str) -> Self {
        [Origin::Discovered, Origin::Cloud]
            .into_iter()
            .find(|o| o.as_str() == name)
            .unwrap_or(Origin::Manual)
    }
}

/// The status the resource list shows: a host's agent status; for a
/// resource on a host, its host's, or `vanished` once its host's agent no
/// longer sees it; `unmonitored` for a resource on no host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResourceStatus {
    /// Its (host's) agent's heartbeats arrive on time.
    Running,
    /// Heartbeats are late.
    Abnormal,
    /// No heartbeat for too long.
    Offline,
    /// Discovered earlier; its host's agent no longer sees it.
    Vanished,
    /// Not watched by an agent (registered on no host).
    Unmonitored,
    /// A host whose agent is being installed (R3).
    Installing,
    /// A host whose agent's installation failed (R3).
    InstallFailed,
    /// Its agent is being replaced with another build (R3).
    Upgrading,
}

impl ResourceStatus {
    /// Every status.
    pub const ALL: [ResourceStatus; 8] = [
        ResourceStatus::Running,
        ResourceStatus::Abnormal,
        ResourceStatus::Offline,
        ResourceStatus::Vanished,
        ResourceStatus::Unmonitored,
        ResourceStatus::Installing,
        ResourceStatus::InstallFailed,
        ResourceStatus::Upgrading,
    ];

    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceStatus::Running => "running",
            ResourceStatus::Abnormal => "abnormal",
            ResourceStatus::Offline => "offline",
            ResourceStatus::Vanished => "vanished",
            ResourceStatus::Unmonitored => "unmonitored",
            ResourceStatus::Installing => "installing",
            ResourceStatus::InstallFailed => "install_failed",
            ResourceStatus::Upgrading => "upgrading",
        }
    }

    /// The status called `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name.trim())
    }

    /// The agent status it shows as.
    pub fn of_agent(s: AgentStatus) -> Self {
        match s {
            AgentStatus::Running => ResourceStatus::Running,
            AgentStatus::Abnormal => ResourceStatus::Abnormal,
            AgentStatus::Offline => ResourceStatus::Offline,
            AgentStatus::Installing => ResourceStatus::Installing,
            AgentStatus::InstallFailed => ResourceStatus::InstallFailed,
            AgentStatus::Upgrading => ResourceStatus::Upgrading,
        }
    }

    /// A resource's status from its host's agent status (`None`: on no
    /// host) and whether its host's agent stopped seeing it.
    pub fn of_resource(host: Option<AgentStatus>, vanished: bool) -> Self {
        match (host, vanished) {
            (_, true) => ResourceStatus::Vanished,
            (Some(s), false) => Self::of_agent(s),
            (None, false) => ResourceStatus::Unmonitored,
        }
    }
}

/// What a host's services become in the inventory (R2): one resource per
/// service whose role has an inventory type (SSH does not). The endpoint
/// is the host's first address on the port, or the loopback address it
/// listens on when it serves only the host itself.
pub fn found_on_host(hostname: &str, ips: &[String], services: &[Service]) -> Vec<Found> {
    services
        .iter()
        .filter_map(|s| {
            let t = ResourceType::of_role(s.resource_type)?;
            let address = if s.local_only {
                s.addresses.first().cloned().unwrap_or_default()
            } else {
                ips.first().cloned().unwrap_or_else(|| hostname.to_string())
            };
            let endpoint = if address.contains(':') {
                format!("[{address}]:{}", s.port)
            } else {
                format!("{address}:{}", s.port)
            };
            let mut attributes = BTreeMap::from([
                ("engine".to_string(), s.kind.as_str().to_string()),
                ("endpoint".to_string(), endpoint),
                ("port".to_string(), s.port.to_string()),
            ]);
            if let Some(p) = &s.process {
                attributes.insert("process".into(), p.clone());
            }
            Some(Found {
                resource_type: t,
                name: format!("{}@{}:{}", s.kind.as_str(), hostname, s.port),
                key: s.port.to_string(),
                port: Some(s.port),
                region: None,
                attributes,
            })
        })
        .collect()
}

/// A resource found by a source: a host's agent (one per recognised
/// service port) or a cloud account's sync (one per server).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Its type.
    pub resource_type: ResourceType,
    /// Its name: `<service>@<host>:<port>` (`postgresql@db-01:5432`), or
    /// the cloud server's name.
    pub name: String,
    /// What identifies it in its source: its port on the host (as text),
    /// or its instance id in the cloud account.
    pub key: String,
    /// The port it listens on, for a service on a host.
    pub port: Option<u16>,
    /// The region it runs in, when the source says (a cloud server's).
    pub region: Option<String>,
    /// Its fields ([`ResourceType::fields`]).
    pub attributes: BTreeMap<String, String>,
}

/// A resource of a source (a host, a cloud account) as the inventory
/// holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// Resource id.
    pub id: String,
    /// What identifies it in its source (see [`Found::key`]).
    pub key: String,
    /// Its type.
    pub resource_type: ResourceType,
    /// Its name.
    pub name: String,
    /// Its region as its source last said.
    pub region: Option<String>,
    /// Its fields.
    pub attributes: BTreeMap<String, String>,
    /// Whether it is marked vanished.
    pub vanished: bool,
}

/// What to change in the inventory after a host's agent reported.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncPlan {
    /// New resources.
    pub insert: Vec<Found>,
    /// Resources seen again that changed (type, name or fields) or were
    /// vanished: by id, with what was found.
    pub update: Vec<(String, Found)>,
    /// Resources no longer seen, by id (kept, marked vanished: their
    /// history and links stay).
    pub vanish: Vec<String>,
}

impl SyncPlan {
    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.insert.is_empty() && self.update.is_empty() && self.vanish.is_empty()
    }
}

/// Matches what a source found (a host's agent, a cloud account's sync)
/// with what the inventory holds for it, by key (port, instance id): new
/// keys are inserted, changed or returning ones updated, missing ones
/// marked vanished (a vanished one stays so). A held name that is the
/// found one with a suffix (` (…)`, given when the name was taken) counts
/// as unchanged.
pub fn reconcile(held: &[Held], found: Vec<Found>) -> SyncPlan {
    let mut plan = SyncPlan::default();
    for f in &found {
        match held.iter().find(|h| h.key == f.key) {
            None => plan.insert.push(f.clone()),
            Some(h) => {
                // A name another resource had is kept with a suffix
                // (`name (1a2b3c)`): that is still the same name.
                let same_name = h.name == f.name || h.name.starts_with(&format!("{} (", f.name));
                let same = !h.vanished
                    && h.resource_type == f.resource_type
                    && same_name
                    && h.region == f.region
                    && h.attributes == f.attributes;
                if !same {
                    plan.update.push((h.id.clone(), f.clone()));
                }
            }
        }
    }
    for h in held {
        if !h.vanished && !found.iter().any(|f| f.key == h.key) {
            plan.vanish.push(h.id.clone());
        }
    }
    plan
}

/// What the resource list is grouped by (R1: by application → module,
/// region, enterprise project, and by type and status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// Its type.
    Type,
    /// Its status.
    Status,
    /// Its application (its own, else its host's).
    Application,
    /// Its application and module, as `application / module`.
    Module,
    /// Its region.
    Region,
    /// Its enterprise project.
    Project,
}

impl GroupBy {
    /// Every grouping, as the API names them.
    pub const ALL: [(GroupBy, &'static str); 6] = [
        (GroupBy::Type, "type"),
        (GroupBy::Status, "status"),
        (GroupBy::Application, "application"),
        (GroupBy::Module, "module"),
        (GroupBy::Region, "region"),
        (GroupBy::Project, "project"),
    ];

    /// The grouping called `name`.
    ///
    /// Errors: [`DomainError::Validation`] naming the groupings.
    pub fn parse(name: &str) -> Result<Self, DomainError> {
        Self::ALL
            .iter()
            .find(|(_, n)| *n == name.trim())
            .map(|(g, _)| *g)
            .ok_or_else(|| {
                invalid(format!(
                    "by '{name}': use type, status, application, module, region or project"
                ))
            })
    }
}

/// The value an application and module group under: `application /
/// module`, the application alone without a module, none without one.
pub fn module_group(application: Option<&str>, module: Option<&str>) -> Option<String> {
    match (application, module) {
        (Some(a), Some(m)) => Some(format!("{a} / {m}")),
        (Some(a), None) => Some(a.to_string()),
        (None, _) => None,
    }
}

/// Counts per value (`None`: resources without one), the largest group
/// first, then by value.
pub fn group_counts(
    values: impl IntoIterator<Item = Option<String>>,
) -> Vec<(Option<String>, u64)> {
    merge_groups(values.into_iter().map(|v| (v, 1)))
}

/// Counts per value added up (the same value counted in parts), the
/// largest group first, then by value.
pub fn merge_groups(
    parts: impl IntoIterator<Item = (Option<String>, u64)>,
) -> Vec<(Option<String>, u64)> {
    let mut counts: BTreeMap<Option<String>, u64> = BTreeMap::new();
    for (v, n) in parts {
        *counts.entry(v).or_default() += n;
    }
    let mut out: Vec<(Option<String>, u64)> = counts.into_iter().collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out
}

/// What the resource list is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// Name (host name for hosts).
    Name,
    /// Type, then name.
    Type,
    /// Status, then name.
    Status,
    /// When it joined the inventory.
    CreatedAt,
}

/// The order of the resource list: a key, rising or falling; ties are
/// broken by id in the same direction, so keyset paging is stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    /// The key.
    pub key: SortKey,
    /// Falling (`-name`).
    pub descending: bool,
}

impl Default for Sort {
    fn default() -> Self {
        Sort {
            key: SortKey::Name,
            descending: false,
        }
    }
}

impl Sort {
    /// The sort written as `name`, `type`, `status` or `created_at`,
    /// falling with a leading `-`.
    ///
    /// Errors: [`DomainError::Validation`] naming the keys.
    pub fn parse(v: &str) -> Result<Self, DomainError> {
        let v = v.trim();
        let (descending, k) = match v.strip_prefix('-') {
            Some(k) => (true, k),
            None => (false, v),
        };
        let key = match k {
            "name" => SortKey::Name,
            "type" => SortKey::Type,
            "status" => SortKey::Status,
            "created_at" => SortKey::CreatedAt,
            _ => {
                return Err(invalid(format!(
                    "sort '{v}': use name, type, status or created_at, with a leading - to reverse"
                )));
            }
        };
        Ok(Sort { key, descending })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::{Listener, services};

    fn spec(t: ResourceType, attrs: &[(&str, &str)]) -> ResourceSpec {
        ResourceSpec {
            resource_type: t,
            name: "  orders-db ".into(),
            host: Some(" ".into()),
            application: None,
            module: None,
            region: Some("eu-west".into()),
            enterprise_project: None,
            tags: BTreeMap::new(),
            attributes: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn types_parse_by_any_spelling_and_map_roles() {
        assert_eq!(
            ResourceType::parse("Container-Cluster"),
            Some(ResourceType::ContainerCluster)
        );
        assert_eq!(
            ResourceType::parse("load balancer"),
            Some(ResourceType::LoadBalancer)
        );
        assert_eq!(ResourceType::parse("vm"), None);
        assert_eq!(
            ResourceType::of_role(ServiceRole::Cache),
            Some(ResourceType::Cache)
        );
        assert_eq!(ResourceType::of_role(ServiceRole::RemoteAccess), None);
        for t in ResourceType::ALL {
            assert_eq!(ResourceType::parse(t.as_str()), Some(t));
        }
    }

    #[test]
    fn specs_are_tidied_and_checked_per_type() {
        let s = spec(
            ResourceType::Database,
            &[
                ("Engine", " postgresql "),
                ("port", "05432"),
                ("version", ""),
            ],
        )
        .normalized()
        .unwrap();
        assert_eq!(s.name, "orders-db");
        assert_eq!(s.host, None);
        assert_eq!(s.attributes.get("engine").unwrap(), "postgresql");
        assert_eq!(s.attributes.get("port").unwrap(), "5432");
        assert!(!s.attributes.contains_key("version"));

        let e = spec(ResourceType::Database, &[("nodes", "3")])
            .normalized()
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no field 'nodes'") && e.contains("engine"),
            "{e}"
        );
        let e = spec(ResourceType::Cache, &[("port", "70000")])
            .normalized()
            .unwrap_err();
        assert!(e.to_string().contains("1 to 65535"));
        let e = spec(ResourceType::ContainerCluster, &[("nodes", "-1")])
            .normalized()
            .unwrap_err();
        assert!(e.to_string().contains("count"));
        let ok = spec(
            ResourceType::LoadBalancer,
            &[("listeners", "80,443"), ("backends", "4")],
        )
        .normalized()
        .unwrap();
        assert_eq!(ok.attributes.get("backends").unwrap(), "4");
        assert!(
            spec(ResourceType::Host, &[])
                .normalized()
                .unwrap_err()
                .to_string()
                .contains("agent")
        );
        let mut m = spec(ResourceType::Cache, &[]);
        m.module = Some("db".into());
        assert!(m.normalized().unwrap_err().to_string().contains("module"));
        let mut long = spec(ResourceType::Cache, &[]);
        long.name = "x".repeat(MAX_NAME + 1);
        assert!(long.normalized().is_err());
    }

    #[test]
    fn status_of_a_resource_follows_its_host() {
        assert_eq!(
            ResourceStatus::of_resource(Some(AgentStatus::Abnormal), false),
            ResourceStatus::Abnormal
        );
        assert_eq!(
            ResourceStatus::of_resource(Some(AgentStatus::Running), true),
            ResourceStatus::Vanished
        );
        assert_eq!(
            ResourceStatus::of_resource(None, false),
            ResourceStatus::Unmonitored
        );
        assert_eq!(
            ResourceStatus::parse("vanished"),
            Some(ResourceStatus::Vanished)
        );
    }

    fn listener(port: u16, address: &str, process: &str) -> Listener {
        Listener {
            address: address.into(),
            port,
            process: Some(process.into()),
        }
    }

    #[test]
    fn services_become_resources_but_not_ssh() {
        let s = services(&[
            listener(22, "0.0.0.0", "sshd"),
            listener(5432, "0.0.0.0", "postgres"),
            listener(6379, "127.0.0.1", "redis-server"),
            listener(80, "::", "nginx"),
        ]);
        let f = found_on_host("db-01", &["10.0.0.5".into()], &s);
        let names: Vec<&str> = f.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "nginx@db-01:80",
                "postgresql@db-01:5432",
                "redis@db-01:6379"
            ]
        );
        assert_eq!(f[1].resource_type, ResourceType::Database);
        assert_eq!(f[1].attributes["endpoint"], "10.0.0.5:5432");
        assert_eq!(f[1].attributes["process"], "postgres");
        // Serves only the host itself: its loopback address.
        assert_eq!(f[2].resource_type, ResourceType::Cache);
        assert_eq!(f[2].attributes["endpoint"], "127.0.0.1:6379");
        assert_eq!(f[0].resource_type, ResourceType::WebServer);
    }

    #[test]
    fn reconcile_inserts_updates_revives_and_vanishes_by_port() {
        let s = services(&[
            listener(5432, "0.0.0.0", "postgres"),
            listener(6379, "0.0.0.0", "redis-server"),
            listener(3306, "0.0.0.0", "mariadbd"),
        ]);
        let found = found_on_host("db-01", &["10.0.0.5".into()], &s);
        let held_of = |f: &Found, id: &str, vanished: bool| Held {
            id: id.into(),
            key: f.key.clone(),
            resource_type: f.resource_type,
            name: f.name.clone(),
            region: f.region.clone(),
            attributes: f.attributes.clone(),
            vanished,
        };
        let pg = found.iter().find(|f| f.port == Some(5432)).unwrap();
        let redis = found.iter().find(|f| f.port == Some(6379)).unwrap();
        let mut renamed = held_of(pg, "r-pg", false);
        renamed.name = "postgresql@old-name:5432".into();
        let held = vec![
            renamed,
            held_of(redis, "r-redis", true),
            Held {
                id: "r-gone".into(),
                key: "11211".into(),
                resource_type: ResourceType::Cache,
                name: "memcached@db-01:11211".into(),
                region: None,
                attributes: BTreeMap::new(),
                vanished: false,
            },
            Held {
                id: "r-long-gone".into(),
                key: "27017".into(),
                resource_type: ResourceType::Database,
                name: "mongodb@db-01:27017".into(),
                region: None,
                attributes: BTreeMap::new(),
                vanished: true,
            },
        ];
        let plan = reconcile(&held, found.clone());
        assert_eq!(plan.insert.len(), 1);
        assert_eq!(plan.insert[0].port, Some(3306));
        let updated: Vec<&str> = plan.update.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(updated, ["r-pg", "r-redis"]);
        assert_eq!(plan.vanish, ["r-gone"]);

        let steady: Vec<Held> = found
            .iter()
            .enumerate()
            .map(|(i, f)| held_of(f, &format!("r{i}"), false))
            .collect();
        assert!(reconcile(&steady, found).is_empty());
    }

    #[test]
    fn inherited_values_stay_inherited_and_changes_of_discovered_ones_are_limited() {
        assert_eq!(kept_own(None, Some("eu"), Some("eu")), None);
        assert_eq!(
            kept_own(Some("eu"), Some("eu"), Some("eu")),
            Some("eu".into())
        );
        assert_eq!(kept_own(None, Some("eu"), Some("us")), Some("us".into()));
        assert_eq!(kept_own(None, None, None), None);
        let f = BTreeMap::from([("engine".to_string(), "redis".to_string())]);
        let g = BTreeMap::new();
        let old = (ResourceType::Cache, "redis@a:6379", Some("h1"), &f);
        assert!(check_discovered_change("x", old, old).is_ok());
        assert!(
            check_discovered_change(
                "x",
                old,
                (ResourceType::Cache, "redis@a:6379", Some("h1"), &g)
            )
            .unwrap_err()
            .to_string()
            .contains("discovered")
        );
        let rows = vec![
            (ResourceType::Cache, "a".to_string()),
            (ResourceType::Database, "a".to_string()),
            (ResourceType::Cache, "a".to_string()),
        ];
        assert_eq!(repeated_rows(&rows), [(3, 1)]);
    }

    #[test]
    fn groups_count_largest_first() {
        let v = ["db", "cache", "db", "x"]
            .into_iter()
            .map(|s| (s != "x").then(|| s.to_string()));
        assert_eq!(
            group_counts(v),
            [
                (Some("db".to_string()), 2),
                (None, 1),
                (Some("cache".to_string()), 1)
            ]
        );
        assert_eq!(
            module_group(Some("shop"), Some("db")).as_deref(),
            Some("shop / db")
        );
        assert_eq!(module_group(None, Some("db")), None);
        assert_eq!(GroupBy::parse("region").unwrap(), GroupBy::Region);
        assert!(GroupBy::parse("colour").is_err());
    }

    #[test]
    fn sorts_parse() {
        assert_eq!(Sort::parse("name").unwrap(), Sort::default());
        assert_eq!(
            Sort::parse("-created_at").unwrap(),
            Sort {
                key: SortKey::CreatedAt,
                descending: true
            }
        );
        assert!(
            Sort::parse("hostname")
                .unwrap_err()
                .to_string()
                .contains("created_at")
        );
    }
}
