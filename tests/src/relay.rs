//! A relay for one test: the real `relay::serve` on an ephemeral loopback port, with its own
//! temporary data directory (and, if asked, a manual clock), stopped gracefully (and its store
//! flushed) on drop. Every relay of a test binary logs, at debug level and in JSON, into one
//! file (`log_file`), so tests can search what an operator's logs would hold.

use std::net::SocketAddr;

use anyhow::Context as _;
use tokio::sync::oneshot;

/// A running relay. `url` has no trailing slash.
#[derive(Debug)]
pub struct TestRelay {
    pub url: String,
    pub address: SocketAddr,
    data_dir: Option<tempfile::TempDir>,
    state: relay::AppState,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestRelay {
    /// Starts a relay with default configuration on `127.0.0.1:0`.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(|_| {}).await
    }

    /// Starts a relay after `adjust` changed its configuration (e.g. to send mail).
    pub async fn start_with(adjust: impl FnOnce(&mut relay::Config)) -> anyhow::Result<Self> {
        Self::start_with_clock(adjust, relay::Clock::system()).await
    }

    /// Starts a relay whose time is `clock` (a `Clock::manual` lets a test jump ahead).
    pub async fn start_with_clock(
        adjust: impl FnOnce(&mut relay::Config),
        clock: relay::Clock,
    ) -> anyhow::Result<Self> {
        capture_logs();
        let data_dir = tempfile::tempdir().context("while creating the data directory")?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("while binding an ephemeral port")?;
        let address = listener.local_addr()?;
        let mut config = relay::Config {
            listen: address,
            data_dir: data_dir.path().to_path_buf(),
            public_url: format!("http://{address}"),
            ..relay::Config::default()
        };
        adjust(&mut config);
        if crate::s3::everywhere() && config.blobs.backend == relay::config::BlobBackend::Files {
            config.blobs = crate::s3::bucket()?;
        }
        config.check().map_err(|problem| anyhow::anyhow!(problem))?;
        let store = relay::Store::open_with(&config.data_dir, &config.blobs)?;
        let (stop, stopped) = oneshot::channel::<()>();
        let mailer = relay::mail::Mailer::from_config(&config.smtp, &config.public_url)?;
        let state = relay::AppState::with_clock(config, store, clock).with_mailer(mailer);
        let task = tokio::spawn(relay::serve(listener, state.clone(), async {
            let _ = stopped.await;
        }));
        Ok(Self {
            url: format!("http://{address}"),
            address,
            data_dir: Some(data_dir),
            state,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The relay's data directory (for tests that inspect what the operator could see).
    pub fn data_dir(&self) -> &std::path::Path {
        self.data_dir
            .as_ref()
            .map_or(std::path::Path::new("/nonexistent"), |dir| dir.path())
    }

    /// The running relay's state (its store, clock and configuration), for tests that drive
    /// its sweeps directly.
    pub fn state(&self) -> &relay::AppState {
        &self.state
    }

    /// Stops the relay gracefully (its store flushed to disk) and hands over its data
    /// directory, for tests that search everything the operator keeps.
    pub async fn stop_keeping_data(mut self) -> anyhow::Result<tempfile::TempDir> {
        let data_dir = self
            .data_dir
            .take()
            .context("the data directory was already taken")?;
        self.stop().await?;
        Ok(data_dir)
    }

    /// Stops the relay gracefully and waits until its store is flushed.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.context("the relay task panicked")?,
            None => Ok(()),
        }
    }
}

impl Drop for TestRelay {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The log file every relay of this test binary writes to.
pub fn log_file() -> &'static std::path::Path {
    &LOGS.get_or_init(open_log).0
}

static LOGS: std::sync::OnceLock<(std::path::PathBuf, tempfile::TempDir)> =
    std::sync::OnceLock::new();

fn open_log() -> (std::path::PathBuf, tempfile::TempDir) {
    let dir = tempfile::Builder::new()
        .prefix("sealpost-e2e-logs-")
        .tempdir()
        .unwrap_or_else(|error| panic!("cannot create the log folder: {error}"));
    (dir.path().join("relay.log"), dir)
}

fn capture_logs() {
    let path = log_file().to_path_buf();
    let Ok(file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
    else {
        return;
    };
    // The relay's own logger (one event, one line), in JSON, at debug.
    let config = relay::config::LogConfig {
        format: relay::config::LogFormat::Json,
        filter: "debug,hyper=info,h2=info,sled=info".to_owned(),
    };
    // Only the first relay of the binary installs it; later calls find one in place.
    if let Ok(dispatch) = relay::logging::dispatch(&config, std::sync::Mutex::new(file), false) {
        let _ = tracing::dispatcher::set_global_default(dispatch);
    }
}
