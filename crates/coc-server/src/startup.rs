//! Start-up: bootstrap, bind, start the engine and serve until shut down.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use coc_store::Store;

use crate::{AppState, ServerConfig, engine, metrics, router, tls};

/// Serves `app` on `listener` until `stop` completes, with the peer's
/// address as connect info.
async fn serve_on<L>(listener: L, app: Router, stop: impl Future<Output = ()> + Send + 'static)
where
    L: axum::serve::Listener<Addr = SocketAddr>,
{
    use axum::serve::ListenerExt;
    let r = axum::serve(
        listener.tap_io(|_| {}),
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(stop)
    .await;
    if let Err(e) = r {
        tracing::error!(error = %e, "server stopped");
    }
}

/// A running server.
pub struct Running {
    /// The bound address.
    pub addr: SocketAddr,
    /// Shared state (for tests).
    pub state: AppState,
    /// What the first start created (the generated admin password, once).
    pub bootstrap: coc_store::access::Bootstrap,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Base URL, `http://addr` (`https://` with TLS).
    pub fn url(&self) -> String {
        let scheme = if self.state.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// Stops accepting, finishes in-flight requests (≤ 5 s), stops workers.
    pub async fn shutdown(mut self) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
        let _ = self.state.close_tx.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.task).await;
        self.task.abort();
    }

    /// Waits until the server stops (it runs until shut down).
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

/// Bootstraps the default tenant (admin user, system policies, the admin
/// token as admin's API token), binds `cfg.listen` and serves until shut
/// down; the ticket executor runs alongside.
///
/// Errors: the address cannot be bound, or the bootstrap failed.
pub async fn start(cfg: ServerConfig, store: Store) -> std::io::Result<Running> {
    let bootstrap = store
        .bootstrap(
            coc_domain::DEFAULT_TENANT,
            &cfg.admin_token,
            cfg.admin_password.as_deref(),
        )
        .await
        .map_err(|e| std::io::Error::other(format!("bootstrap failed: {e}")))?;
    let listener = tokio::net::TcpListener::bind(cfg.listen).await?;
    let addr = listener.local_addr()?;
    let mut cfg = cfg;
    cfg.listen = addr;
    let state = AppState::new(store, &cfg);
    metrics::handle();
    let app = router(state.clone());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    state
        .store
        .listen()
        .await
        .map_err(|e| std::io::Error::other(format!("cannot listen for other replicas: {e}")))?;
    let engine = engine::start(&state).map_err(std::io::Error::other)?;
    let stop = async move {
        let _ = rx.await;
    };
    let served = match cfg.tls.clone() {
        Some(t) => tokio::spawn(serve_on(tls::TlsListener::new(listener, t)?, app, stop)),
        None => tokio::spawn(serve_on(listener, app, stop)),
    };
    let task = tokio::spawn(async move {
        let _ = served.await;
        for t in engine {
            t.abort();
        }
    });
    Ok(Running {
        addr,
        state,
        bootstrap,
        shutdown: Some(tx),
        task,
    })
}
