//! Proxy mode (R3, ref. 3.1.2 "Proxy access"): an agent that can reach
//! the server relays the connections of agents that cannot. It is a TCP
//! relay: a relayed agent's TLS session and its key-based identity run
//! end to end with the server through it, so the proxy can neither read
//! nor forge what passes (the relayed agent dials it with `--proxy`, and
//! still verifies the server's certificate by the server's name).

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};

use crate::link::CONNECT_TIMEOUT;

/// Most connections relayed at once; more wait for a free one.
pub const MAX_RELAYED: usize = 4096;

/// Binds the relay's listening address.
///
/// Errors: the address cannot be bound (in use, not local, no right).
pub async fn bind(listen: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(listen).await
}

/// Relays every connection accepted on `listener` to the first of
/// `upstreams` (`host:port` of the server and its replicas) that answers.
/// Runs until the process ends.
pub async fn serve(listener: TcpListener, upstreams: Vec<(String, u16)>) {
    let upstreams = Arc::new(upstreams);
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_RELAYED));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let (mut down, from) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "relay: accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let upstreams = upstreams.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let Some(mut up) = dial(&upstreams).await else {
                tracing::warn!(%from, "relay: no server answers");
                return;
            };
            let _ = down.set_nodelay(true);
            let _ = up.set_nodelay(true);
            match tokio::io::copy_bidirectional(&mut down, &mut up).await {
                Ok((a, b)) => tracing::debug!(%from, sent = a, received = b, "relay: closed"),
                Err(e) => tracing::debug!(%from, error = %e, "relay: ended"),
            }
        });
    }
}

/// The first upstream that accepts a TCP connection within
/// [`CONNECT_TIMEOUT`].
async fn dial(upstreams: &[(String, u16)]) -> Option<TcpStream> {
    for (host, port) in upstreams {
        let c = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((host.as_str(), *port)));
        if let Ok(Ok(s)) = c.await {
            return Some(s);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn bytes_pass_both_ways_and_a_dead_upstream_is_skipped() {
        let server = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = server.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut s, _) = server.accept().await.unwrap();
            let mut buf = [0u8; 5];
            s.read_exact(&mut buf).await.unwrap();
            s.write_all(&buf.map(|b| b.to_ascii_uppercase()))
                .await
                .unwrap();
        });
        // Port 9 (discard) is not listening here: the next one is used.
        let relay = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let at = relay.local_addr().unwrap();
        tokio::spawn(serve(
            relay,
            vec![("127.0.0.1".into(), 9), ("127.0.0.1".into(), port)],
        ));
        let mut c = TcpStream::connect(at).await.unwrap();
        c.write_all(b"hello").await.unwrap();
        let mut back = [0u8; 5];
        c.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"HELLO");
    }
}
