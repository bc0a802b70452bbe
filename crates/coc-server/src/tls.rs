//! TLS for everything the server answers — API, console, ingest and the
//! agent gateway — with rustls and the ring provider (ARCHITECTURE
//! "TLS"). A certificate and key come from PEM files (`coc server
//! --tls-cert --tls-key`), or `coc dev --tls` makes its own: a private CA
//! and a server certificate signed by it ([`dev_certificates`]); agents
//! and the CLI then trust that CA (`--ca-cert <data-dir>/tls/ca.pem`).
//!
//! [`TlsListener`] plugs into `axum::serve`: TLS handshakes run in their
//! own tasks (at most [`MAX_HANDSHAKES`] at once, each within
//! [`HANDSHAKE_TIMEOUT`]), so a slow or silent client never holds up the
//! others; finished connections are handed to the HTTP server.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;

/// Longest time a client has to finish its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Most TLS handshakes in progress at once; later connections wait.
pub const MAX_HANDSHAKES: usize = 512;

fn err(p: &Path, e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(format!("{}: {e}", p.display()))
}

/// The TLS settings of a certificate chain and its private key (PEM
/// files): TLS 1.2 and 1.3, HTTP/1.1.
///
/// Errors: a file cannot be read, holds no certificate or key, or the key
/// does not match the certificate.
pub fn load(cert: &Path, key: &Path) -> std::io::Result<Arc<ServerConfig>> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| err(cert, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| err(cert, e))?;
    if chain.is_empty() {
        return Err(err(cert, "no certificate in the file"));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| err(key, e))?;
    let mut cfg =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(std::io::Error::other)?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| err(cert, e))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// Paths of a dev CA and the server certificate it signed.
#[derive(Debug, Clone)]
pub struct DevCertificates {
    /// The CA certificate agents and the CLI trust (`--ca-cert`).
    pub ca: PathBuf,
    /// The server's certificate (PEM).
    pub cert: PathBuf,
    /// The server's private key (PEM, mode 0600).
    pub key: PathBuf,
}

/// The certificates of `coc dev --tls` in `dir` (`ca.pem`, `server.pem`,
/// `server.key`), made on first use: a CA (ECDSA P-256, 10 years) whose
/// key is kept beside them (`ca.key`, 0600) and a server certificate
/// (2 years) for `names` (DNS names and IP addresses; `localhost`,
/// `127.0.0.1` and `::1` are always in). Existing files are kept, so
/// agents that trust the CA keep trusting it across restarts.
///
/// Errors: the directory or files cannot be written, or a name is not a
/// valid DNS name or address.
pub fn dev_certificates(dir: &Path, names: &[String]) -> std::io::Result<DevCertificates> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    let out = DevCertificates {
        ca: dir.join("ca.pem"),
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
    };
    if out.ca.exists() && out.cert.exists() && out.key.exists() {
        return Ok(out);
    }
    std::fs::create_dir_all(dir)?;
    let bad = |e: rcgen::Error| std::io::Error::other(format!("dev certificate: {e}"));
    // Valid from yesterday (clocks differ), for 10 years (CA) and 2 (server).
    let day = |offset: i64| {
        use chrono::Datelike;
        let d = chrono::Utc::now().date_naive() + chrono::TimeDelta::days(offset);
        rcgen::date_time_ymd(d.year(), d.month() as u8, d.day() as u8)
    };
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(bad)?;
    ca.distinguished_name.push(DnType::CommonName, "COC dev CA");
    ca.distinguished_name.push(DnType::OrganizationName, "COC");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.not_before = day(-1);
    ca.not_after = day(3650);
    let ca_key = KeyPair::generate().map_err(bad)?;
    let ca_cert = ca.self_signed(&ca_key).map_err(bad)?;
    let ca_key_pem = ca_key.serialize_pem();
    let mut all: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    for n in names {
        if !all.contains(n) {
            all.push(n.clone());
        }
    }
    let mut leaf = CertificateParams::new(all).map_err(bad)?;
    leaf.distinguished_name
        .push(DnType::CommonName, "COC server");
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.not_before = day(-1);
    leaf.not_after = day(730);
    let leaf_key = KeyPair::generate().map_err(bad)?;
    let issuer = Issuer::new(ca, ca_key);
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).map_err(bad)?;
    private(&dir.join("ca.key"), &ca_key_pem)?;
    private(&out.key, &leaf_key.serialize_pem())?;
    std::fs::write(&out.cert, leaf_cert.pem())?;
    std::fs::write(&out.ca, ca_cert.pem())?;
    Ok(out)
}

fn private(p: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::remove_file(p);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(p)?;
    f.write_all(text.as_bytes())
}

/// A listener whose connections have finished their TLS handshake.
pub struct TlsListener {
    rx: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl TlsListener {
    /// Accepts on `tcp` and runs each TLS handshake with `cfg` in its own
    /// task.
    pub fn new(tcp: TcpListener, cfg: Arc<ServerConfig>) -> std::io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let (tx, rx) = mpsc::channel(64);
        let acceptor = tokio_rustls::TlsAcceptor::from(cfg);
        let slots = Arc::new(tokio::sync::Semaphore::new(MAX_HANDSHAKES));
        let accept = tokio::spawn(async move {
            loop {
                let Ok(permit) = slots.clone().acquire_owned().await else {
                    return;
                };
                let (stream, addr) = match tcp.accept().await {
                    Ok(x) => x,
                    Err(e) => {
                        // Out of descriptors and the like: wait, go on.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    let shake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream));
                    let r = shake.await;
                    drop(permit);
                    match r {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, addr)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%addr, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%addr, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener { rx, local, accept })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(x) => x,
            // The accept task ended: nothing more comes.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_certificates_are_made_once_and_load() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let d = tempfile::tempdir().unwrap();
        let c = dev_certificates(d.path(), &["coc.internal".into()]).unwrap();
        let first = std::fs::read_to_string(&c.ca).unwrap();
        assert!(first.starts_with("-----BEGIN CERTIFICATE-----"));
        let again = dev_certificates(d.path(), &[]).unwrap();
        assert_eq!(std::fs::read_to_string(&again.ca).unwrap(), first, "kept");
        load(&c.cert, &c.key).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&c.key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // A key that is not the certificate's is refused.
        let other = tempfile::tempdir().unwrap();
        let o = dev_certificates(other.path(), &[]).unwrap();
        assert!(load(&c.cert, &o.key).is_err());
        assert!(
            load(&c.key, &c.key).is_err(),
            "no certificate in a key file"
        );
    }
}
