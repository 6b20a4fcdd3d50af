//! Wiring: open storage, start the writer and background tasks, serve HTTP,
//! and shut down in order (stop accepting, finish in-flight requests, stop
//! background tasks, commit the writer's queue, close the database).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::audit::CheckpointFile;
use crate::config::Config;
use crate::http::{self, AppState};
use crate::metrics::Metrics;
use crate::store::writer::{Writer, WriterThread};
use crate::store::{Storage, Store, now_ms};
use crate::{Error, Result};

/// An opened service: storage, writer and router state, without a listener.
/// Tests drive [`App::router`] in-process; [`serve`] puts it on a socket.
#[derive(Debug)]
pub struct App {
    /// The router's state.
    pub state: AppState,
    storage: Storage,
    writer_thread: Option<WriterThread>,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl App {
    /// Opens storage for `config` (master key required, or `dev`) and starts
    /// the writer and the background tasks.
    pub async fn open(config: Arc<Config>) -> Result<App> {
        let state = AppState::new(config, Arc::new(Metrics::default()));
        App::open_into(state).await
    }

    /// Like [`App::open`], marking an existing state ready when storage is open.
    pub async fn open_into(state: AppState) -> Result<App> {
        let config = state.config.clone();
        let (master, dev) = config.master_key_or_dev()?;
        if dev {
            tracing::warn!(
                path = %config.data_dir.join(crate::config::DEV_MASTER_KEY_FILE).display(),
                "DEV MODE: using a generated master key stored next to the data. Anyone who can read the data dir can decrypt it. Never use dev mode for real customers."
            );
        }
        let dir = config.data_dir.clone();
        let started = std::time::Instant::now();
        let store = tokio::task::spawn_blocking(move || Store::open(&dir, Some(master)))
            .await
            .map_err(|_| Error::ShuttingDown)??;
        let store = Arc::new(store);
        let cp_path = config.audit.checkpoint_file.clone();
        if let Some(parent) = cp_path.parent().filter(|p| !p.as_os_str().is_empty()) {
            crate::store::ensure_dir(parent)?;
        }
        let checkpoints = tokio::task::spawn_blocking(move || CheckpointFile::open(&cp_path))
            .await
            .map_err(|_| Error::ShuttingDown)??;
        let (writer, writer_thread) =
            Writer::start(store.clone(), config.commit.clone(), state.metrics.clone());
        let ecfg = config.embedder.clone();
        let embedder = tokio::task::spawn_blocking(move || crate::kb::load_embedder(&ecfg))
            .await
            .map_err(|_| Error::ShuttingDown)??;
        let storage = Storage::new(store, writer)
            .with_checkpoints(Arc::new(checkpoints))
            .with_embedder(embedder);
        state.set_storage(storage.clone());
        tracing::info!(data_dir = %config.data_dir.display(), ms = started.elapsed().as_millis() as u64, "storage open; ready");

        let (stop, stop_rx) = watch::channel(false);
        // Tenant deletions a stop interrupted: their keys are already gone;
        // their rows go now, a batch at a time, while the service serves.
        tokio::spawn({
            let storage = storage.clone();
            async move {
                if let Err(e) = storage.finish_deletions().await {
                    tracing::warn!(error = %e, "unfinished tenant deletions not resumed");
                }
                // Tenants from before the visitor index: indexed once.
                if let Err(e) = storage.index_visitors().await {
                    tracing::warn!(error = %e, "visitor index not built; erasure and copies scan meanwhile");
                }
            }
        });
        let tasks = vec![
            tokio::spawn(retention_task(
                storage.clone(),
                config.clone(),
                stop_rx.clone(),
            )),
            tokio::spawn(queue_task(
                storage.clone(),
                state.console.clone(),
                stop_rx.clone(),
            )),
            tokio::spawn(checkpoint_task(storage.clone(), config.clone(), stop_rx)),
        ];
        Ok(App {
            state,
            storage,
            writer_thread: Some(writer_thread),
            stop,
            tasks,
        })
    }

    /// The router over this app's state.
    pub fn router(&self) -> Router {
        http::router(self.state.clone())
    }

    /// The public widget API over this app (the in-process edge); needs an
    /// edge key in the config ([`crate::public::with_edge_key`]).
    pub fn public_router(&self) -> Result<Router> {
        Ok(crate::public::router(crate::public::edge(&self.state)?))
    }

    /// The storage handle.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// Stops background tasks, commits what the writer has queued and closes
    /// the database.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
        self.storage.writer().close().await;
        if let Some(w) = self.writer_thread.take() {
            let _ = tokio::task::spawn_blocking(move || w.join()).await;
        }
        // The writer has committed its last batch: checkpoint the final heads.
        match self.storage.checkpoint_all().await {
            Ok(bad) if bad.is_empty() => {}
            Ok(bad) => tracing::error!(
                chains = bad.len(),
                "audit chains failed verification at shutdown"
            ),
            Err(e) => tracing::error!(error = %e, "final audit checkpoint failed"),
        }
        tracing::info!("storage closed");
    }
}

async fn retention_task(storage: Storage, config: Arc<Config>, mut stop: watch::Receiver<bool>) {
    let every = config.retention.sweep_interval;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
        let started = std::time::Instant::now();
        let swept = storage
            .purge_expired(config.retention.default_days, now_ms())
            .await;
        tracing::debug!(
            ms = started.elapsed().as_millis() as u64,
            "retention sweep done"
        );
        match swept {
            Ok((0, _)) => {}
            Ok((c, m)) => tracing::info!(conversations = c, messages = m, "retention sweep purged"),
            Err(e) => tracing::warn!(error = %e, "retention sweep failed"),
        }
    }
}

/// Every second: waiting conversations past their tenant's queue timeout
/// are asked to leave a message, and automatic assignment gives waiting
/// conversations to online agents.
async fn queue_task(
    storage: Storage,
    console: Arc<crate::console::Console>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            _ = stop.changed() => return,
        }
        match storage.sweep_queue().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(conversations = n, "queue timeout: asked to leave a message"),
            Err(e) => tracing::warn!(error = %e, "queue sweep failed"),
        }
        if let Err(e) = crate::console::assign_waiting(&storage, &console).await {
            tracing::warn!(error = %e, "automatic assignment failed");
        }
    }
}

/// Verifies the audit chains and appends checkpoints: once shortly after
/// start (catching tampering done while the service was down), then every
/// `audit.checkpoint_interval`.
async fn checkpoint_task(storage: Storage, config: Arc<Config>, mut stop: watch::Receiver<bool>) {
    let mut wait = Duration::from_millis(100);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
        wait = config.audit.checkpoint_interval;
        match storage.checkpoint_all().await {
            Ok(bad) if bad.is_empty() => tracing::debug!("audit checkpoint written"),
            Ok(bad) => tracing::error!(
                chains = bad.len(),
                "audit chains failed verification; not checkpointed"
            ),
            Err(e) => tracing::warn!(error = %e, "audit checkpoint failed"),
        }
    }
}

/// Serves on `listener` until `shutdown` resolves, then shuts down in order.
/// `/healthz` answers at once; `/readyz` only after storage is open.
pub async fn serve(
    config: Arc<Config>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    serve_with_public(config, listener, None, shutdown).await
}

fn spawn_server(
    listener: TcpListener,
    router: Router,
    mut stop_rx: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<std::io::Result<()>> {
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = stop_rx.wait_for(|s| *s).await;
        })
        .await
    })
}

/// Like [`serve`], and with `public`, also serves the public widget API
/// there through the in-process edge ([`crate::public`]); an edge key is
/// generated for the process if none is configured. Both listeners stop
/// accepting on shutdown and finish their in-flight requests (long polls
/// included) before storage closes.
pub async fn serve_with_public(
    config: Arc<Config>,
    listener: TcpListener,
    public: Option<TcpListener>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let (_, no_reloads) = tokio::sync::mpsc::channel(1);
    serve_reloading(config, listener, public, shutdown, no_reloads).await
}

/// Like [`serve_with_public`], and each configuration received on
/// `reloads` (the binary sends one per SIGHUP) switches the model backends
/// to its `[llm]` section, as `PUT /admin/v1/llm` does: in-flight answers
/// finish on the old ones, the switch is audited (`llm.reload`). Other
/// settings take effect at the next start.
pub async fn serve_reloading(
    config: Arc<Config>,
    listener: TcpListener,
    public: Option<TcpListener>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    mut reloads: tokio::sync::mpsc::Receiver<Arc<Config>>,
) -> Result<()> {
    let config = if public.is_some() {
        crate::public::with_edge_key(config)
    } else {
        config
    };
    let state = AppState::new(config.clone(), Arc::new(Metrics::default()));
    let router = http::router(state.clone());
    let addr = listener
        .local_addr()
        .map_err(|e| Error::io("listener", e))?;
    let (stop_tx, mut stop_rx) = watch::channel(false);
    let stop_tx = Arc::new(stop_tx);
    let mut servers = vec![("api", spawn_server(listener, router, stop_rx.clone()))];
    tracing::info!(%addr, "listening");
    if let Some(public) = public {
        let paddr = public
            .local_addr()
            .map_err(|e| Error::io("public listener", e))?;
        let edge = crate::public::edge(&state)?;
        servers.push((
            "public",
            spawn_server(public, crate::public::router(edge), stop_rx.clone()),
        ));
        tracing::info!(addr = %paddr, "public widget API (in-process edge) listening");
    }
    {
        let stop_tx = stop_tx.clone();
        tokio::spawn(async move {
            shutdown.await;
            tracing::info!("shutdown requested: no new connections; finishing in-flight requests");
            let _ = stop_tx.send(true);
        });
    }
    let app = match App::open_into(state).await {
        Ok(app) => app,
        Err(e) => {
            let _ = stop_tx.send(true);
            for (_, s) in servers {
                let _ = s.await;
            }
            return Err(e);
        }
    };
    let reloader = {
        let (state, storage) = (app.state.clone(), app.storage().clone());
        tokio::spawn(async move {
            while let Some(new) = reloads.recv().await {
                let actor = crate::store::audit_hook::Actor {
                    who: "operator".into(),
                    source: "signal".into(),
                };
                match crate::http::llm_admin::switch(
                    &state,
                    &storage,
                    actor,
                    "llm.reload",
                    new.llm.clone(),
                )
                .await
                {
                    Ok(names) => tracing::info!(
                        backends = ?names,
                        "configuration reloaded: [llm] switched; other settings take effect at the next start"
                    ),
                    Err(e) => {
                        tracing::error!(error = %e, "configuration reload failed; the backends in service are kept")
                    }
                }
            }
        })
    };
    let _ = stop_rx.wait_for(|s| *s).await;
    reloader.abort();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    for (name, server) in servers {
        match tokio::time::timeout_at(deadline, server).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::error!(listener = name, error = %e, "server error"),
            Ok(Err(_)) => tracing::error!(listener = name, "server task failed"),
            Err(_) => tracing::warn!(
                listener = name,
                "in-flight requests did not finish within 30 s"
            ),
        }
    }
    app.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
