//! The agent's connection to the server: a WebSocket over TCP, or over
//! TLS for `https://` servers (rustls with the ring provider), verified
//! against a CA file given to the agent (`--ca-cert`, e.g. the CA of
//! `coc dev --tls`) or else the system's trusted roots.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// A byte stream the WebSocket runs over: TCP or TLS.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// An open link.
pub type Link = WebSocketStream<Box<dyn Io>>;

/// Longest time to open a link (TCP, TLS and WebSocket handshakes).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

type BoxErr = Box<dyn std::error::Error + Send + Sync>;

/// The TLS settings of `https://` servers: trust the certificates in
/// `ca_cert` (PEM) only, or the system's roots when it is `None`.
///
/// Errors: the file cannot be read or holds no certificate.
pub fn tls_config(ca_cert: Option<&Path>) -> std::io::Result<Arc<ClientConfig>> {
    let mut roots = RootCertStore::empty();
    match ca_cert {
        Some(p) => {
            let certs = CertificateDer::pem_file_iter(p)
                .map_err(|e| std::io::Error::other(format!("{}: {e}", p.display())))?;
            for c in certs {
                let c = c.map_err(|e| std::io::Error::other(format!("{}: {e}", p.display())))?;
                roots
                    .add(c)
                    .map_err(|e| std::io::Error::other(format!("{}: {e}", p.display())))?;
            }
            if roots.is_empty() {
                return Err(std::io::Error::other(format!(
                    "{} holds no certificate",
                    p.display()
                )));
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for c in found.certs {
                let _ = roots.add(c);
            }
        }
    }
    let cfg =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(std::io::Error::other)?
            .with_root_certificates(roots)
            .with_no_client_auth();
    Ok(Arc::new(cfg))
}

/// The gateway URL of a server base URL: `http(s)://host:port` becomes
/// `ws(s)://host:port/api/v1/agent/connect`.
pub fn ws_url(server: &str) -> String {
    let base = server.trim_end_matches('/');
    let base = if let Some(r) = base.strip_prefix("https://") {
        format!("wss://{r}")
    } else if let Some(r) = base.strip_prefix("http://") {
        format!("ws://{r}")
    } else {
        base.to_string()
    };
    format!("{base}/api/v1/agent/connect")
}

/// The host and port a server URL is dialed at (`https://` defaults to
/// 443, `http://` to 80).
///
/// Errors: a URL without a host.
pub fn endpoint(server: &str) -> Result<(String, u16), BoxErr> {
    let uri = ws_url(server).into_client_request()?.uri().clone();
    let secure = uri.scheme_str() == Some("wss");
    let host = uri
        .host()
        .ok_or("the server URL has no host")?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    Ok((
        host,
        uri.port_u16().unwrap_or(if secure { 443 } else { 80 }),
    ))
}

/// Opens the link to `server`, sending `token` (an enrollment token) as a
/// bearer token when given. `tls` is needed for `https://` servers.
/// `proxy` (`host:port` of a proxy agent, [`crate::relay`]): the TCP
/// connection goes there; TLS and the WebSocket are still the server's.
///
/// Errors: unreachable, TLS refused (an unknown CA, a wrong name),
/// WebSocket refused, or [`CONNECT_TIMEOUT`] passed.
pub async fn connect(
    server: &str,
    token: Option<&str>,
    tls: Option<&Arc<ClientConfig>>,
    proxy: Option<&str>,
) -> Result<Link, BoxErr> {
    let mut req = ws_url(server).into_client_request()?;
    if let Some(t) = token {
        req.headers_mut()
            .insert("authorization", format!("Bearer {t}").parse()?);
    }
    let secure = req.uri().scheme_str() == Some("wss");
    let (host, port) = endpoint(server)?;
    let open = async {
        let tcp = match proxy {
            Some(p) => TcpStream::connect(p).await?,
            None => TcpStream::connect((host.as_str(), port)).await?,
        };
        tcp.set_nodelay(true)?;
        let io: Box<dyn Io> = if secure {
            let cfg = tls.ok_or("an https:// server needs TLS settings")?;
            let name = ServerName::try_from(host.clone())?;
            let s = tokio_rustls::TlsConnector::from(cfg.clone())
                .connect(name, tcp)
                .await?;
            Box::new(s)
        } else {
            Box::new(tcp)
        };
        // Small buffers: an idle agent keeps little memory.
        let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            .read_buffer_size(4 * 1024)
            .write_buffer_size(0);
        let (ws, _) = tokio_tungstenite::client_async_with_config(req, io, Some(config)).await?;
        Ok::<_, BoxErr>(ws)
    };
    tokio::time::timeout(CONNECT_TIMEOUT, open)
        .await
        .map_err(|_| format!("no connection to {server} within {CONNECT_TIMEOUT:?}"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ws_url_forms() {
        assert_eq!(
            ws_url("http://127.0.0.1:8080/"),
            "ws://127.0.0.1:8080/api/v1/agent/connect"
        );
        assert_eq!(
            ws_url("https://coc.example"),
            "wss://coc.example/api/v1/agent/connect"
        );
    }

    #[test]
    fn a_ca_file_without_certificates_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("ca.pem");
        std::fs::write(&p, "not a certificate").unwrap();
        assert!(tls_config(Some(&p)).is_err());
        assert!(tls_config(Some(&d.path().join("missing.pem"))).is_err());
    }
}
