//! COC's own outbound HTTP — job HTTP atoms, webhooks and chat robots, the
//! SMS gateway — under the egress policy ([`coc_domain::egress`]): every
//! connection is judged after DNS by the client's resolver (so a name that
//! resolves to a metadata address is refused too), address literals
//! before the request ([`check_url`]) and on every redirect, and no proxy
//! is used (it would resolve names where the policy cannot see).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use coc_domain::egress::Egress;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Most redirects followed.
pub const MAX_REDIRECTS: usize = 5;

/// The resolver that applies the policy to what a name resolves to.
struct Guard(Arc<Egress>);

impl Resolve for Guard {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.0.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let ips: Vec<IpAddr> = addrs.iter().map(SocketAddr::ip).collect();
            policy.decide(&host, &ips)?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// Checks a URL whose host is an address literal (a name is checked when
/// it resolves); `Err` says why it is refused.
pub fn check_url(policy: &Egress, url: &reqwest::Url) -> Result<(), String> {
    let host = url.host_str().ok_or("the URL has no host")?;
    match host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        Ok(ip) => policy.decide(host, &[ip]),
        Err(_) => Ok(()),
    }
}

/// An HTTP client whose every connection obeys `policy`, with `timeout`
/// for each whole request.
///
/// Errors: the HTTP stack cannot start.
pub fn client(policy: Arc<Egress>, timeout: Option<Duration>) -> reqwest::Result<reqwest::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let on_redirect = policy.clone();
    let b = reqwest::Client::builder()
        .no_proxy()
        .dns_resolver(Guard(policy))
        .redirect(reqwest::redirect::Policy::custom(move |a| {
            if a.previous().len() >= MAX_REDIRECTS {
                return a.error(format!("more than {MAX_REDIRECTS} redirects"));
            }
            match check_url(&on_redirect, a.url()) {
                Ok(()) => a.follow(),
                Err(e) => a.error(e),
            }
        }));
    match timeout {
        Some(t) => b.timeout(t).build(),
        None => b.build(),
    }
}

/// An HTTP error with its causes (connection refused, TLS, a destination
/// the policy refuses, timeout), on one line.
pub fn describe(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cur = c.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn denied_destinations_are_never_connected() {
        let policy = Arc::new(Egress::default());
        let c = client(policy.clone(), Some(Duration::from_secs(2))).unwrap();
        // A literal: refused before any connection.
        let url: reqwest::Url = "http://169.254.169.254/latest/meta-data/".parse().unwrap();
        assert!(check_url(&policy, &url).is_err());
        // A name that resolves to a link-local address: refused after DNS.
        let deny = Arc::new(Egress::new(&[], &["127.0.0.0/8".to_string()]).unwrap());
        let c2 = client(deny, Some(Duration::from_secs(2))).unwrap();
        let e = c2.get("http://localhost:9/").send().await.unwrap_err();
        let chain = describe(&e);
        assert!(
            chain.contains("denied by the egress rule 127.0.0.0/8"),
            "{chain}"
        );
        drop(c);
    }
}
