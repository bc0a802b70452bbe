//! Topology (R4): an application drawn as a graph — the application, the
//! hosts that belong to it (with their module), the services they run,
//! and the services they were **observed** talking to (on their own host,
//! on another host COC knows, or outside the inventory), from the
//! agents' discovery ([`crate::discovery`]), not drawn by hand.

use serde::{Deserialize, Serialize};

use crate::discovery::{Connection, SeenHost, dependencies, services};

/// What a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    /// The application.
    Application,
    /// A host of the application.
    Host,
    /// A service on a host (its own or another's).
    Service,
    /// An address outside COC's inventory.
    External,
}

/// A node of the graph.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Node {
    /// Unique within the graph (`app`, `host:<id>`, `svc:<host id>:<port>`,
    /// `ext:<address>:<port>`).
    pub id: String,
    /// What it is.
    pub kind: NodeKind,
    /// Its label (`payments`, `web-1 (web)`, `postgresql :5432 @ db-1`).
    pub label: String,
    /// The host resource it is or runs on, if COC knows it.
    pub resource_id: Option<String>,
    /// Active alarms on that host (hosts only).
    pub alarms: usize,
    /// Column when drawn left to right: 0 application, 1 hosts, 2
    /// services and outside addresses.
    pub layer: u8,
}

/// What an edge means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    /// The application has the host.
    Has,
    /// The host runs the service.
    Runs,
    /// A process on the host talks to the service (observed).
    DependsOn,
}

/// An edge of the graph.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Edge {
    /// From node id.
    pub from: String,
    /// To node id.
    pub to: String,
    /// What it means.
    pub kind: EdgeKind,
    /// The module (`Has`) or the processes (`DependsOn`), if any.
    pub label: Option<String>,
}

/// An application's topology.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Graph {
    /// Nodes, in drawing order within each layer.
    pub nodes: Vec<Node>,
    /// Edges.
    pub edges: Vec<Edge>,
}

/// A host of the application, as the graph needs it.
#[derive(Debug, Clone)]
pub struct Member<'a> {
    /// The host and its listening ports.
    pub host: SeenHost<'a>,
    /// Its module within the application.
    pub module: Option<&'a str>,
    /// Its active alarms.
    pub alarms: usize,
    /// Its processes' outbound connections.
    pub connections: &'a [Connection],
}

impl Graph {
    fn node(&mut self, n: Node) {
        if !self.nodes.iter().any(|x| x.id == n.id) {
            self.nodes.push(n);
        }
    }

    fn edge(&mut self, e: Edge) {
        match self
            .edges
            .iter_mut()
            .find(|x| x.from == e.from && x.to == e.to && x.kind == e.kind)
        {
            // Several processes on one edge: named together.
            Some(x) => {
                if let Some(l) = e.label
                    && !x.label.as_deref().unwrap_or("").split(", ").any(|p| p == l)
                {
                    x.label = Some(match x.label.take() {
                        Some(old) => format!("{old}, {l}"),
                        None => l,
                    });
                }
            }
            None => self.edges.push(e),
        }
    }
}

/// The graph of application `name`: its hosts (by module, then name), the
/// services each runs, and each observed dependency of theirs on a
/// recognised service or an outside address; `known` are every host of
/// the tenant (to name the other end of a connection).
pub fn application_graph(name: &str, members: &[Member<'_>], known: &[SeenHost<'_>]) -> Graph {
    let mut g = Graph::default();
    g.node(Node {
        id: "app".into(),
        kind: NodeKind::Application,
        label: name.into(),
        resource_id: None,
        alarms: 0,
        layer: 0,
    });
    let mut members: Vec<&Member<'_>> = members.iter().collect();
    members.sort_by_key(|m| (m.module, m.host.hostname));
    for m in &members {
        let hid = format!("host:{}", m.host.id);
        g.node(Node {
            id: hid.clone(),
            kind: NodeKind::Host,
            label: match m.module {
                Some(module) => format!("{} ({module})", m.host.hostname),
                None => m.host.hostname.to_string(),
            },
            resource_id: Some(m.host.id.to_string()),
            alarms: m.alarms,
            layer: 1,
        });
        g.edge(Edge {
            from: "app".into(),
            to: hid.clone(),
            kind: EdgeKind::Has,
            label: m.module.map(String::from),
        });
        for s in services(m.host.listeners) {
            let sid = format!("svc:{}:{}", m.host.id, s.port);
            g.node(Node {
                id: sid.clone(),
                kind: NodeKind::Service,
                label: format!("{} :{} @ {}", s.kind.as_str(), s.port, m.host.hostname),
                resource_id: Some(m.host.id.to_string()),
                alarms: 0,
                layer: 2,
            });
            g.edge(Edge {
                from: hid.clone(),
                to: sid,
                kind: EdgeKind::Runs,
                label: None,
            });
        }
    }
    for m in &members {
        let hid = format!("host:{}", m.host.id);
        for d in dependencies(&m.host, known, m.connections) {
            let (to, node) = match (&d.host_id, d.service) {
                (Some(h), Some(kind)) => {
                    let id = format!("svc:{h}:{}", d.port);
                    (
                        id.clone(),
                        Node {
                            id,
                            kind: NodeKind::Service,
                            label: format!("{} :{} @ {}", kind.as_str(), d.port, d.host),
                            resource_id: Some(h.clone()),
                            alarms: 0,
                            layer: 2,
                        },
                    )
                }
                _ => {
                    let id = format!("ext:{}:{}", d.host, d.port);
                    let label = match d.service {
                        Some(kind) => format!("{} :{} @ {}", kind.as_str(), d.port, d.host),
                        None => format!("{}:{}", d.host, d.port),
                    };
                    (
                        id.clone(),
                        Node {
                            id,
                            kind: NodeKind::External,
                            label,
                            resource_id: d.host_id.clone(),
                            alarms: 0,
                            layer: 2,
                        },
                    )
                }
            };
            g.node(node);
            g.edge(Edge {
                from: hid.clone(),
                to,
                kind: EdgeKind::DependsOn,
                label: d.process.clone(),
            });
        }
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::Listener;

    fn l(port: u16, process: &str) -> Listener {
        Listener {
            port,
            address: "0.0.0.0".into(),
            process: Some(process.into()),
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
    fn an_application_is_drawn_from_what_its_hosts_run_and_talk_to() {
        let (web_ips, db_ips) = (vec!["10.0.0.5".to_string()], vec!["10.0.0.9".to_string()]);
        let web_l = vec![l(443, "nginx"), l(6379, "redis-server")];
        let db_l = vec![l(5432, "postgres")];
        let web = SeenHost {
            id: "h1",
            hostname: "web-1",
            ips: &web_ips,
            listeners: &web_l,
        };
        let db = SeenHost {
            id: "h2",
            hostname: "db-1",
            ips: &db_ips,
            listeners: &db_l,
        };
        let web_c = vec![
            c("api", "10.0.0.9", 5432),
            c("worker", "10.0.0.9", 5432),
            c("api", "127.0.0.1", 6379),
            c("curl", "203.0.113.7", 443),
        ];
        let g = application_graph(
            "payments",
            &[Member {
                host: web.clone(),
                module: Some("web"),
                alarms: 2,
                connections: &web_c,
            }],
            &[web.clone(), db.clone()],
        );
        let labels: Vec<(&str, u8)> = g
            .nodes
            .iter()
            .map(|n| (n.label.as_str(), n.layer))
            .collect();
        assert_eq!(
            labels,
            vec![
                ("payments", 0),
                ("web-1 (web)", 1),
                ("nginx :443 @ web-1", 2),
                ("redis :6379 @ web-1", 2),
                ("203.0.113.7:443", 2),
                ("postgresql :5432 @ db-1", 2),
            ]
        );
        assert_eq!(g.nodes[1].alarms, 2);
        let pg = g
            .edges
            .iter()
            .find(|e| e.to == "svc:h2:5432")
            .expect("web-1 depends on db-1's PostgreSQL");
        assert_eq!(pg.kind, EdgeKind::DependsOn);
        assert_eq!(pg.label.as_deref(), Some("api, worker"));
        assert!(
            g.edges
                .iter()
                .any(|e| e.from == "host:h1" && e.to == "svc:h1:6379" && e.kind == EdgeKind::Runs)
        );
        assert!(g.edges.iter().any(|e| e.from == "host:h1"
            && e.to == "svc:h1:6379"
            && e.kind == EdgeKind::DependsOn));
    }
}
