//! Discovery (R2, R4): the TCP ports this host listens on and the
//! connections its processes hold to ports elsewhere, read from the
//! kernel's socket tables (`/proc/net/tcp`, `/proc/net/tcp6`), with the
//! owning process found through `/proc/<pid>/fd` (only for the processes
//! the agent may read: all of them as root). What a port *is* (PostgreSQL,
//! Redis …) is decided by the server ([`coc_domain`'s discovery]); the
//! agent reports what it sees. Linux only: elsewhere it finds nothing.

use std::collections::{BTreeSet, HashMap};

use coc_proto::{Connection, Listener, MAX_DISCOVERED};

/// TCP states in the kernel's tables.
const ESTABLISHED: &str = "01";
const LISTEN: &str = "0A";

/// One row of `/proc/net/tcp[6]`.
#[derive(Debug, PartialEq)]
struct Socket {
    local: (String, u16),
    remote: (String, u16),
    state: String,
    inode: u64,
}

/// An address of the kernel's table (`0100007F`, or 32 hex digits for
/// IPv6, each 32-bit word in host byte order) as text.
fn address(hex: &str) -> Option<String> {
    match hex.len() {
        8 => {
            let v = u32::from_str_radix(hex, 16).ok()?;
            Some(std::net::Ipv4Addr::from(v.to_le_bytes()).to_string())
        }
        32 => {
            let mut bytes = [0u8; 16];
            for w in 0..4 {
                let v = u32::from_str_radix(&hex[w * 8..w * 8 + 8], 16).ok()?;
                bytes[w * 4..w * 4 + 4].copy_from_slice(&v.to_le_bytes());
            }
            let a = std::net::Ipv6Addr::from(bytes);
            Some(match a.to_ipv4_mapped() {
                Some(v4) => v4.to_string(),
                None => a.to_string(),
            })
        }
        _ => None,
    }
}

/// `ADDR:PORT` of the table.
fn endpoint(s: &str) -> Option<(String, u16)> {
    let (a, p) = s.split_once(':')?;
    Some((address(a)?, u16::from_str_radix(p, 16).ok()?))
}

/// The rows of one table's text (the header line skipped, bad rows too).
fn parse_table(text: &str) -> Vec<Socket> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Some(Socket {
                local: endpoint(f.get(1)?)?,
                remote: endpoint(f.get(2)?)?,
                state: f.get(3)?.to_string(),
                inode: f.get(9)?.parse().ok()?,
            })
        })
        .collect()
}

/// Socket inode → the name of a process holding it.
fn owners() -> HashMap<u64, String> {
    let mut out = HashMap::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return out;
    };
    for p in procs.flatten() {
        let pid = p.file_name();
        if !pid.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else {
            continue;
        };
        let mut name: Option<String> = None;
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let t = target.to_string_lossy();
            let Some(inode) = t
                .strip_prefix("socket:[")
                .and_then(|r| r.strip_suffix(']'))
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            let n = name.get_or_insert_with(|| {
                std::fs::read_to_string(p.path().join("comm"))
                    .map(|c| c.trim().to_string())
                    .unwrap_or_default()
            });
            if !n.is_empty() {
                out.entry(inode).or_insert_with(|| n.clone());
            }
        }
    }
    out
}

/// What the tables say: listening ports and outbound connections, each
/// once, sorted, at most [`MAX_DISCOVERED`] of each. A connection is
/// outbound when its local port is not one the host listens on.
fn found(sockets: &[Socket], owners: &HashMap<u64, String>) -> (Vec<Listener>, Vec<Connection>) {
    let mut listeners: BTreeSet<Listener> = BTreeSet::new();
    for s in sockets.iter().filter(|s| s.state == LISTEN) {
        listeners.insert(Listener {
            port: s.local.1,
            address: s.local.0.clone(),
            process: owners.get(&s.inode).cloned(),
        });
    }
    let served: BTreeSet<u16> = listeners.iter().map(|l| l.port).collect();
    let mut connections: BTreeSet<Connection> = BTreeSet::new();
    for s in sockets
        .iter()
        .filter(|s| s.state == ESTABLISHED && !served.contains(&s.local.1))
    {
        connections.insert(Connection {
            process: owners.get(&s.inode).cloned(),
            remote_address: s.remote.0.clone(),
            remote_port: s.remote.1,
        });
    }
    (
        listeners.into_iter().take(MAX_DISCOVERED).collect(),
        connections.into_iter().take(MAX_DISCOVERED).collect(),
    )
}

/// Reads the host's listening ports and outbound connections now.
pub fn scan() -> (Vec<Listener>, Vec<Connection>) {
    let mut sockets = vec![];
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        if let Ok(t) = std::fs::read_to_string(table) {
            sockets.extend(parse_table(&t));
        }
    }
    found(&sockets, &owners())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows as the kernel writes them (captured on Debian 12).
    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   105        0 5963 1 0000000041522c57 100 0 0 10 0
   1: 0100007F:D2F4 0100007F:1538 01 00000000:00000000 00:00000000 00000000     0        0 7001 1 00000000ca94b57b 20 4 30 10 -1
   2: 0100007F:1538 0100007F:D2F4 01 00000000:00000000 00:00000000 00000000   105        0 7002 1 00000000ca94b57b 20 4 30 10 -1
   3: 0F02000A:C350 1002000A:18EB 01 00000000:00000000 00:00000000 00000000     0        0 7003 1 00000000ca94b57b 20 4 30 10 -1
";
    const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:18EB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000   106        0 8001 1 0000000000000000 100 0 0 10 0
   1: 0000000000000000FFFF00000100007F:0CEA 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000   107        0 8002 1 0000000000000000 100 0 0 10 0
";

    #[test]
    fn the_kernels_tables_become_listeners_and_outbound_connections() {
        let mut sockets = parse_table(TCP);
        sockets.extend(parse_table(TCP6));
        assert_eq!(sockets.len(), 6);
        assert_eq!(sockets[0].local, ("127.0.0.1".into(), 5432));
        assert_eq!(sockets[3].remote, ("10.0.2.16".into(), 6379));
        assert_eq!(sockets[4].local, ("::1".into(), 6379));
        assert_eq!(sockets[5].local, ("127.0.0.1".into(), 3306));
        let owners: HashMap<u64, String> = [
            (5963, "postgres".to_string()),
            (7001, "psql".to_string()),
            (7002, "postgres".to_string()),
        ]
        .into();
        let (listeners, connections) = found(&sockets, &owners);
        let ports: Vec<(u16, Option<&str>)> = listeners
            .iter()
            .map(|l| (l.port, l.process.as_deref()))
            .collect();
        assert_eq!(
            ports,
            vec![(3306, None), (5432, Some("postgres")), (6379, None)]
        );
        // psql → PostgreSQL is outbound; PostgreSQL's side of it is not
        // (its local port is served); the connection to 10.0.2.16:6379 is.
        assert_eq!(
            connections,
            vec![
                Connection {
                    process: None,
                    remote_address: "10.0.2.16".into(),
                    remote_port: 6379
                },
                Connection {
                    process: Some("psql".into()),
                    remote_address: "127.0.0.1".into(),
                    remote_port: 5432
                },
            ]
        );
    }

    #[test]
    fn a_live_scan_finds_a_port_this_test_listens_on_and_connects_to() {
        if !std::path::Path::new("/proc/net/tcp").exists() {
            return;
        }
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let _c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (listeners, connections) = scan();
        assert!(listeners.iter().any(|x| x.port == port), "{listeners:?}");
        let me = std::fs::read_to_string("/proc/self/comm").unwrap();
        let seen = listeners.iter().find(|x| x.port == port).unwrap();
        assert_eq!(seen.process.as_deref(), Some(me.trim()));
        assert!(
            connections.iter().any(|c| c.remote_port == port),
            "{connections:?}"
        );
    }
}
