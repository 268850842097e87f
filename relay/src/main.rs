//! `sealpost-relay`: parses flags, builds the configuration, sets up logging, opens the store
//! and serves until SIGTERM or Ctrl-C. All behaviour lives in the library (`relay::app`).

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use relay::config::{FlagOverrides, LogFormat};
use relay::{AppState, Config, Store};
use tracing_subscriber::EnvFilter;

/// Sealpost relay: serves the end-to-end encrypted document exchange (web app and API).
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// TOML configuration file (see sealpost.example.toml).
    #[arg(long, env = "SEALPOST_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on, e.g. 127.0.0.1:8080 (port 0 picks a free port).
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    /// Folder for the database.
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let flags = FlagOverrides {
        listen: cli.listen,
        data_dir: cli.data_dir,
    };
    let config = Config::load(cli.config.as_deref(), &flags)
        .map_err(|error| anyhow::anyhow!("{error}"))
        .context("while reading the configuration")?;
    init_logging(&config)?;

    let store = Store::open(&config.data_dir)?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("while binding {}", config.listen))?;
    let address = listener
        .local_addr()
        .context("while reading the bound address")?;
    tracing::info!(
        data_dir = %config.data_dir.display(),
        client_sha256 = relay::client_sha256(),
        version = env!("CARGO_PKG_VERSION"),
        "Sealpost relay listening on http://{address}"
    );
    relay::serve(listener, AppState::new(config, store), shutdown_signal()).await
}

fn init_logging(config: &Config) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(&config.log.filter)
        .with_context(|| format!("while parsing the log filter {:?}", config.log.filter))?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match config.log.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Pretty => builder.init(),
    }
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM, whichever comes first.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received, finishing in-flight requests");
}
