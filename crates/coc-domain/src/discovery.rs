//! Discovery (R2, R4; the landscape document's "current network status
//! synchronization"): what a host's agent saw — the TCP ports it listens
//! on and the connections its processes hold — becomes the services the
//! host runs (PostgreSQL, Redis … as database, cache … resources of it)
//! and the dependencies it has on services of its own or of other hosts.
//!
//! The agent reports raw sockets with their process names; which service
//! a port is, and which host a remote address is, is decided here.

use serde::{Deserialize, Serialize};

pub use coc_proto::{Connection, Listener, MAX_DISCOVERED};

/// A kind of service recognised on a listening port.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ServiceKind {
    /// PostgreSQL.
    Postgresql,
    /// MySQL.
    Mysql,
    /// MariaDB.
    Mariadb,
    /// MongoDB.
    Mongodb,
    /// Redis.
    Redis,
    /// Memcached.
    Memcached,
    /// Elasticsearch.
    Elasticsearch,
    /// RabbitMQ (AMQP).
    Rabbitmq,
    /// NATS.
    Nats,
    /// Kafka.
    Kafka,
    /// nginx.
    Nginx,
    /// Apache httpd.
    Apache,
    /// SSH.
    Ssh,
}

impl ServiceKind {
    /// Its name (`postgresql`).
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceKind::Postgresql => "postgresql",
            ServiceKind::Mysql => "mysql",
            ServiceKind::Mariadb => "mariadb",
            ServiceKind::Mongodb => "mongodb",
            ServiceKind::Redis => "redis",
            ServiceKind::Memcached => "memcached",
            ServiceKind::Elasticsearch => "elasticsearch",
            ServiceKind::Rabbitmq => "rabbitmq",
            ServiceKind::Nats => "nats",
            ServiceKind::Kafka => "kafka",
            ServiceKind::Nginx => "nginx",
            ServiceKind::Apache => "apache",
            ServiceKind::Ssh => "ssh",
        }
    }

    /// The resource type it is (ref. 3.1: database, cache …; R1).
    pub fn resource_type(self) -> ServiceRole {
        match self {
            ServiceKind::Postgresql
            | ServiceKind::Mysql
            | ServiceKind::Mariadb
            | ServiceKind::Mongodb
            | ServiceKind::Elasticsearch => ServiceRole::Database,
            ServiceKind::Redis | ServiceKind::Memcached => ServiceRole::Cache,
            ServiceKind::Rabbitmq | ServiceKind::Nats | ServiceKind::Kafka => ServiceRole::Queue,
            ServiceKind::Nginx | ServiceKind::Apache => ServiceRole::WebServer,
            ServiceKind::Ssh => ServiceRole::RemoteAccess,
        }
    }
}

/// The role a discovered service plays (which inventory type it becomes:
/// [`crate::resource::catalog::ResourceType::of_role`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ServiceRole {
    /// A database.
    Database,
    /// A cache.
    Cache,
    /// A message queue or broker.
    Queue,
    /// A web server or reverse proxy.
    WebServer,
    /// Remote access (SSH).
    RemoteAccess,
}

/// The service on `port`, from the name of the process that listens
/// (when the agent could read it) or else the port's well-known use.
/// `None`: nothing COC recognises.
pub fn classify(process: Option<&str>, port: u16) -> Option<ServiceKind> {
    let by_process = process.and_then(|p| {
        Some(match p {
            "postgres" | "postmaster" => ServiceKind::Postgresql,
            "mysqld" => ServiceKind::Mysql,
            "mariadbd" | "mariadb" => ServiceKind::Mariadb,
            "mongod" | "mongos" => ServiceKind::Mongodb,
            "redis-server" => ServiceKind::Redis,
            "memcached" => ServiceKind::Memcached,
            "nats-server" => ServiceKind::Nats,
            "nginx" => ServiceKind::Nginx,
            "apache2" | "httpd" => ServiceKind::Apache,
            "sshd" => ServiceKind::Ssh,
            // The Erlang VM serves RabbitMQ's AMQP port and its own
            // distribution port; only AMQP is the broker.
            "beam.smp" if matches!(port, 5671 | 5672) => ServiceKind::Rabbitmq,
            _ => return None,
        })
    });
    by_process.or(match (process, port) {
        // A known process on another port is what it is, not the port's
        // usual service (a proxy on 5432 is not PostgreSQL).
        (Some(p), _) if !p.is_empty() && !is_generic(p) => None,
        (_, 5432) => Some(ServiceKind::Postgresql),
        (_, 3306) => Some(ServiceKind::Mysql),
        (_, 27017) => Some(ServiceKind::Mongodb),
        (_, 6379) => Some(ServiceKind::Redis),
        (_, 11211) => Some(ServiceKind::Memcached),
        (_, 9200) => Some(ServiceKind::Elasticsearch),
        (_, 5672) => Some(ServiceKind::Rabbitmq),
        (_, 4222) => Some(ServiceKind::Nats),
        (_, 9092) => Some(ServiceKind::Kafka),
        (_, 22) => Some(ServiceKind::Ssh),
        _ => None,
    })
}

/// Process names that run many kinds of server (a JVM, an interpreter):
/// their port says more than their name.
fn is_generic(process: &str) -> bool {
    matches!(
        process,
        "java" | "python3" | "python" | "node" | "docker-proxy"
    )
}

/// Whether `addr` is a loopback address (`127.0.0.0/8`, `::1`).
fn loopback(addr: &str) -> bool {
    addr.parse::<std::net::IpAddr>()
        .is_ok_and(|a| a.is_loopback())
}

/// A service a host runs, found on a listening port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Service {
    /// What it is.
    pub kind: ServiceKind,
    /// The resource type it is.
    pub resource_type: ServiceRole,
    /// Port.
    pub port: u16,
    /// Addresses it listens on (`127.0.0.1`, `::1`, `0.0.0.0`).
    pub addresses: Vec<String>,
    /// Reachable only from the host itself (every address loopback).
    pub local_only: bool,
    /// The process, when the agent could read it.
    pub process: Option<String>,
}

/// The services among a host's listening ports: one per port (its IPv4
/// and IPv6 sockets together), recognised ports only, by port.
pub fn services(listeners: &[Listener]) -> Vec<Service> {
    let mut out: Vec<Service> = vec![];
    for l in listeners {
        if let Some(s) = out.iter_mut().find(|s| s.port == l.port) {
            if !s.addresses.contains(&l.address) {
                s.addresses.push(l.address.clone());
            }
            s.local_only &= loopback(&l.address);
            if s.process.is_none() {
                s.process = l.process.clone();
            }
            continue;
        }
        let Some(kind) = classify(l.process.as_deref(), l.port) else {
            continue;
        };
        out.push(Service {
            kind,
            resource_type: kind.resource_type(),
            port: l.port,
            addresses: vec![l.address.clone()],
            local_only: loopback(&l.address),
            process: l.process.clone(),
        });
    }
    out.sort_by_key(|s| s.port);
    out
}

/// A host as discovery sees it: its addresses and what it listens on.
#[derive(Debug, Clone)]
pub struct SeenHost<'a> {
    /// Resource id.
    pub id: &'a str,
    /// Host name.
    pub hostname: &'a str,
    /// Its IP addresses.
    pub ips: &'a [String],
    /// Its listening ports (empty when its agent reported none yet).
    pub listeners: &'a [Listener],
}

/// A dependency observed on a host: a local process talks to a port of
/// this host or of another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Dependency {
    /// The local process, when the agent could read it.
    pub process: Option<String>,
    /// The host it talks to, when COC knows it (its resource id).
    pub host_id: Option<String>,
    /// That host's name, or the remote address for a host COC does not
    /// know.
    pub host: String,
    /// The remote port.
    pub port: u16,
    /// The service there, when recognised.
    pub service: Option<ServiceKind>,
    /// Its resource type, when recognised.
    pub resource_type: Option<ServiceRole>,
    /// On the host itself (loopback or one of its own addresses).
    pub local: bool,
}

/// The dependencies of host `me` from its connections: each remote
/// address is this host (loopback or its own address), a host of `known`
/// with that address, or outside COC's inventory; the service is the one
/// that host reports on the port, else the port's well-known use.
/// Connections to unrecognised ports of the host itself are left out. One
/// dependency per (process, host, port), sorted by host then port.
pub fn dependencies(
    me: &SeenHost<'_>,
    known: &[SeenHost<'_>],
    connections: &[Connection],
) -> Vec<Dependency> {
    let mut out: Vec<Dependency> = vec![];
    for c in connections {
        let own = loopback(&c.remote_address) || me.ips.contains(&c.remote_address);
        let target = if own {
            Some(me)
        } else {
            known
                .iter()
                .find(|h| h.id != me.id && h.ips.contains(&c.remote_address))
        };
        let listener = target.and_then(|h| h.listeners.iter().find(|l| l.port == c.remote_port));
        let service = match (target, listener) {
            (_, Some(l)) => classify(l.process.as_deref(), l.port),
            (_, None) => classify(None, c.remote_port),
        };
        // A process talking to an unrecognised port of its own host (a
        // browser's driver, a test server) is no dependency worth drawing.
        if own && service.is_none() {
            continue;
        }
        let d = Dependency {
            process: c.process.clone(),
            host_id: target.map(|h| h.id.to_string()),
            host: target.map_or_else(|| c.remote_address.clone(), |h| h.hostname.to_string()),
            port: c.remote_port,
            service,
            resource_type: service.map(ServiceKind::resource_type),
            local: own,
        };
        if !out.contains(&d) {
            out.push(d);
        }
    }
    out.sort_by(|a, b| (&a.host, a.port, &a.process).cmp(&(&b.host, b.port, &b.process)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(port: u16, address: &str, process: Option<&str>) -> Listener {
        Listener {
            port,
            address: address.into(),
            process: process.map(String::from),
        }
    }

    fn c(process: &str, address: &str, port: u16) -> Connection {
        Connection {
            process: Some(process.into()),
            remote_address: address.into(),
            remote_port: port,
        }
    }

    #[test]
    fn services_are_known_by_process_then_by_port() {
        let found = services(&[
            l(5432, "127.0.0.1", Some("postgres")),
            l(6379, "127.0.0.1", Some("redis-server")),
            l(6379, "::1", Some("redis-server")),
            l(3306, "127.0.0.1", Some("mariadbd")),
            l(5672, "0.0.0.0", Some("beam.smp")),
            l(25672, "127.0.0.1", Some("beam.smp")),
            l(4369, "127.0.0.1", Some("epmd")),
            l(45123, "127.0.0.1", Some("chromium")),
            l(22, "0.0.0.0", None),
            l(5433, "0.0.0.0", Some("haproxy")),
            l(9200, "0.0.0.0", Some("java")),
        ]);
        let kinds: Vec<(u16, &str, bool)> = found
            .iter()
            .map(|s| (s.port, s.kind.as_str(), s.local_only))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (22, "ssh", false),
                (3306, "mariadb", true),
                (5432, "postgresql", true),
                (5672, "rabbitmq", false),
                (6379, "redis", true),
                (9200, "elasticsearch", false),
            ]
        );
        let redis = &found[4];
        assert_eq!(redis.addresses, vec!["127.0.0.1", "::1"]);
        assert_eq!(redis.resource_type, ServiceRole::Cache);
        assert_eq!(found[2].resource_type, ServiceRole::Database);
        // A named process on a well-known port is not guessed from it.
        assert_eq!(classify(Some("haproxy"), 5432), None);
        assert_eq!(classify(None, 5432), Some(ServiceKind::Postgresql));
    }

    #[test]
    fn connections_become_dependencies_on_this_host_and_on_others() {
        let app_ips = vec!["10.0.0.5".to_string()];
        let db_ips = vec!["10.0.0.9".to_string()];
        let app_listeners = vec![l(6379, "127.0.0.1", Some("redis-server"))];
        let db_listeners = vec![l(15432, "0.0.0.0", Some("postgres"))];
        let app = SeenHost {
            id: "h-app",
            hostname: "app-1",
            ips: &app_ips,
            listeners: &app_listeners,
        };
        let db = SeenHost {
            id: "h-db",
            hostname: "db-1",
            ips: &db_ips,
            listeners: &db_listeners,
        };
        let deps = dependencies(
            &app,
            &[app.clone(), db.clone()],
            &[
                c("api", "10.0.0.9", 15432),
                c("api", "10.0.0.9", 15432),
                c("api", "127.0.0.1", 6379),
                c("worker", "10.0.0.5", 6379),
                c("curl", "93.184.216.34", 443),
                c("api", "10.0.0.9", 3306),
                c("chromedriver", "127.0.0.1", 33139),
            ],
        );
        let got: Vec<(&str, &str, u16, Option<&str>, bool)> = deps
            .iter()
            .map(|d| {
                (
                    d.process.as_deref().unwrap(),
                    d.host.as_str(),
                    d.port,
                    d.service.map(ServiceKind::as_str),
                    d.local,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("curl", "93.184.216.34", 443, None, false),
                ("api", "app-1", 6379, Some("redis"), true),
                ("worker", "app-1", 6379, Some("redis"), true),
                ("api", "db-1", 3306, Some("mysql"), false),
                ("api", "db-1", 15432, Some("postgresql"), false),
            ]
        );
        assert_eq!(deps[3].host_id.as_deref(), Some("h-db"));
        assert_eq!(deps[0].host_id, None);
    }
}
