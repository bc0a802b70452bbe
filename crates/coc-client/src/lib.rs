//! # coc-client — REST client for the COC API
//!
//! A thin JSON client used by the `coc` CLI and by tests. Errors from the
//! server (`application/problem+json`) become [`ClientError::Api`] with the
//! stable `code`, so callers can match on it.

#![warn(missing_docs)]

use serde::Serialize;
use serde_json::Value;

/// A client error.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with a problem document.
    #[error("{detail} ({code}, HTTP {status})")]
    Api {
        /// HTTP status.
        status: u16,
        /// Stable code (`not_found`, `invalid_transition`, …).
        code: String,
        /// Explanation.
        detail: String,
    },
    /// The server could not be reached or answered garbage.
    #[error("cannot reach the COC server: {0}")]
    Http(#[from] reqwest::Error),
}

/// Installs the process-wide TLS crypto provider (ring) once; safe to call
/// repeatedly. Call before building a [`Client`].
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A COC API client: base URL plus bearer token.
#[derive(Clone, Debug)]
pub struct Client {
    base: String,
    token: String,
    tenant: Option<String>,
    http: reqwest::Client,
}

impl Client {
    /// A client for `base` (`http://127.0.0.1:8080`) with `token`.
    ///
    /// Errors: [`ClientError::Http`] when the HTTP stack cannot start.
    pub fn new(base: &str, token: &str) -> Result<Self, ClientError> {
        Client::build(base, token, reqwest::Client::builder())
    }

    fn build(
        base: &str,
        token: &str,
        builder: reqwest::ClientBuilder,
    ) -> Result<Self, ClientError> {
        install_crypto();
        let http = builder
            .timeout(std::time::Duration::from_secs(60))
            .build()?;
        Ok(Client {
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
            tenant: None,
            http,
        })
    }

    /// A client for an `https://` server whose certificate is signed by
    /// the CA(s) in `ca_pem` (PEM; e.g. `coc dev --tls`'s `tls/ca.pem`):
    /// only those are trusted, not the system's roots.
    ///
    /// Errors: [`ClientError::Http`] when the PEM holds no certificate or
    /// the HTTP stack cannot start.
    pub fn with_ca(base: &str, token: &str, ca_pem: &[u8]) -> Result<Self, ClientError> {
        install_crypto();
        let certs = reqwest::Certificate::from_pem_bundle(ca_pem)?;
        Client::build(
            base,
            token,
            reqwest::Client::builder().tls_certs_only(certs),
        )
    }

    /// Acts in `tenant` through an O&M authorization (header `X-COC-Tenant`).
    pub fn with_tenant(mut self, tenant: Option<String>) -> Self {
        self.tenant = tenant;
        self
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    async fn send(&self, rb: reqwest::RequestBuilder) -> Result<Value, ClientError> {
        let rb = match &self.tenant {
            Some(t) => rb.header("x-coc-tenant", t),
            None => rb,
        };
        let resp = rb.bearer_auth(&self.token).send().await?;
        let status = resp.status();
        let bytes = resp.bytes().await?;
        if status.is_success() {
            if bytes.is_empty() {
                return Ok(Value::Null);
            }
            return Ok(serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into())));
        }
        let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Err(ClientError::Api {
            status: status.as_u16(),
            code: v["code"].as_str().unwrap_or("http_error").to_string(),
            detail: v["detail"]
                .as_str()
                .map(String::from)
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into()),
        })
    }

    /// `GET path` with query pairs.
    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Value, ClientError> {
        self.send(self.http.get(format!("{}{path}", self.base)).query(query))
            .await
    }

    /// `POST path` with a JSON body.
    pub async fn post<B: Serialize + ?Sized>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<Value, ClientError> {
        self.send(self.http.post(format!("{}{path}", self.base)).json(body))
            .await
    }

    /// `PUT path` with a JSON body.
    pub async fn put<B: Serialize + ?Sized>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<Value, ClientError> {
        self.send(self.http.put(format!("{}{path}", self.base)).json(body))
            .await
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str) -> Result<Value, ClientError> {
        self.send(self.http.delete(format!("{}{path}", self.base)))
            .await
    }

    /// `POST path` with query pairs and a binary body
    /// (`application/octet-stream`), e.g. an agent build.
    pub async fn post_bytes(
        &self,
        path: &str,
        query: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<Value, ClientError> {
        self.send(
            self.http
                .post(format!("{}{path}", self.base))
                .query(query)
                .header("content-type", "application/octet-stream")
                .body(body),
        )
        .await
    }

    /// `POST path` with a raw body (ingest), no bearer token needed.
    pub async fn post_raw(&self, path: &str, body: Vec<u8>) -> Result<Value, ClientError> {
        self.send(
            self.http
                .post(format!("{}{path}", self.base))
                .header("content-type", "application/json")
                .body(body),
        )
        .await
    }
}
