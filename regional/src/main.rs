//! The `kefu-regional` binary: parse the command line, load the config, set
//! up logging, run the command.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use kefu_regional::cli::{Cli, Command};
use kefu_regional::config::{Config, LogFormat, Sources};

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log_filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        // No colour codes: an escape sequence glued to a number would hide it
        // from the PII mask (digits next to letters are not treated as PII).
        .with_ansi(false)
        .with_writer(kefu_regional::logging::Redacting::new(std::io::stderr));
    match config.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(&Sources::from_process(cli.overrides())) {
        Ok(c) => Arc::new(c),
        Err(e) => {
            eprintln!("kefu-regional: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(&config);
    let result = match &cli.command {
        Command::Serve { .. } => serve(config, &cli),
        other => kefu_regional::cli::run_offline(&config, other).map_err(anyhow::Error::from),
    };
    match result {
        Ok(0) => ExitCode::SUCCESS,
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(e) => {
            eprintln!("kefu-regional: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Each SIGHUP re-reads the configuration (file, environment, these flags)
/// and hands it to the service; a configuration that does not load is
/// reported and the running one kept.
#[cfg(unix)]
fn reload_on_sighup(cli: &Cli) -> tokio::sync::mpsc::Receiver<Arc<Config>> {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let overrides = cli.overrides();
    // Registered before serving: from here on SIGHUP reloads, never kills.
    let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
        tracing::warn!("SIGHUP cannot be watched; reload with PUT /admin/v1/llm");
        return rx;
    };
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading the configuration");
            match Config::load(&Sources::from_process(overrides.clone())) {
                Ok(c) => {
                    if tx.send(Arc::new(c)).await.is_err() {
                        return;
                    }
                }
                Err(e) => tracing::error!(
                    error = %e,
                    "SIGHUP: the configuration does not load; keeping the running one"
                ),
            }
        }
    });
    rx
}

#[cfg(not(unix))]
fn reload_on_sighup(_cli: &Cli) -> tokio::sync::mpsc::Receiver<Arc<Config>> {
    tokio::sync::mpsc::channel(1).1
}

fn serve(config: Arc<Config>, cli: &Cli) -> anyhow::Result<i32> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    rt.block_on(async move {
        if config.master_key.is_none() && !config.dev {
            anyhow::bail!(
                "refusing to start without a master key: set KEFU_MASTER_KEY or KEFU_MASTER_KEY_FILE (32 hex digits), or use --dev / KEFU_DEV=1 for a throwaway demo"
            );
        }
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("binding {}", config.listen))?;
        let public = match config.public_listen {
            Some(addr) => Some(
                tokio::net::TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("binding the public listener {addr} (KEFU_PUBLIC_LISTEN; `off` disables it)"))?,
            ),
            None => None,
        };
        let reloads = reload_on_sighup(cli);
        kefu_regional::server::serve_reloading(
            config,
            listener,
            public,
            kefu_regional::server::shutdown_signal(),
            reloads,
        )
        .await?;
        Ok(0)
    })
}
