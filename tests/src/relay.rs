//! A relay for one test: the real `relay::serve` on an ephemeral loopback port, with its own
//! temporary data directory, stopped gracefully (and its store flushed) on drop.

use std::net::SocketAddr;

use anyhow::Context as _;
use tokio::sync::oneshot;

/// A running relay. `url` has no trailing slash.
#[derive(Debug)]
pub struct TestRelay {
    pub url: String,
    pub address: SocketAddr,
    data_dir: tempfile::TempDir,
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
        let data_dir = tempfile::tempdir().context("while creating the data directory")?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("while binding an ephemeral port")?;
        let address = listener.local_addr()?;
        let mut config = relay::Config {
            listen: address,
            data_dir: data_dir.path().to_path_buf(),
            ..relay::Config::default()
        };
        adjust(&mut config);
        let store = relay::Store::open(&config.data_dir)?;
        let (stop, stopped) = oneshot::channel::<()>();
        let mailer = relay::mail::Mailer::from_config(&config.smtp)?;
        let state = relay::AppState::new(config, store).with_mailer(mailer);
        let task = tokio::spawn(relay::serve(listener, state, async {
            let _ = stopped.await;
        }));
        Ok(Self {
            url: format!("http://{address}"),
            address,
            data_dir,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The relay's data directory (for tests that inspect what the operator could see).
    pub fn data_dir(&self) -> &std::path::Path {
        self.data_dir.path()
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
