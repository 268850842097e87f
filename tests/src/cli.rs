//! The `sealpost` command line as the interoperation tests run it: the binary `cargo build`
//! made (or `CLI_BIN`), with its own configuration file in a fresh folder, so no test reads the
//! machine's or another test's settings. Secrets go in as files or environment, as a script's
//! would.

use std::path::{Path, PathBuf};
use std::process::Output;

use anyhow::{Context as _, bail};

/// The command-line binary: `CLI_BIN`, else `target/{debug,release}/sealpost`.
pub fn cli_binary() -> anyhow::Result<PathBuf> {
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target");
    let path = match std::env::var_os("CLI_BIN") {
        Some(path) => PathBuf::from(path),
        None => ["debug", "release"]
            .iter()
            .map(|profile| target.join(profile).join("sealpost"))
            .find(|path| path.is_file())
            .unwrap_or_else(|| target.join("debug/sealpost")),
    };
    if !path.is_file() {
        bail!(
            "no sealpost binary at {} (build it with `cargo build -p cli`, or name one in CLI_BIN)",
            path.display()
        );
    }
    Ok(path)
}

/// One user's command line: a configuration of its own and, when set, an API key in the
/// environment.
#[derive(Debug)]
pub struct CommandLine {
    binary: PathBuf,
    home: tempfile::TempDir,
    api_key: Option<String>,
    url: Option<String>,
}

impl CommandLine {
    pub fn new() -> anyhow::Result<Self> {
        Ok(Self {
            binary: cli_binary()?,
            home: tempfile::tempdir()?,
            api_key: None,
            url: None,
        })
    }

    /// Uses `key` on relay `url` through `SEALPOST_API_KEY` and `SEALPOST_URL`.
    pub fn with_api_key(mut self, url: &str, key: &str) -> Self {
        self.url = Some(url.to_owned());
        self.api_key = Some(key.to_owned());
        self
    }

    /// The folder this command line keeps its configuration in.
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// Writes `secret` to a file of this command line's folder (for `--otp-file` and the
    /// like); its path.
    pub fn secret_file(&self, name: &str, secret: &str) -> anyhow::Result<PathBuf> {
        let path = self.home.path().join(name);
        std::fs::write(&path, format!("{secret}\n"))?;
        Ok(path)
    }

    /// The command, ready to run.
    pub fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(&self.binary);
        command
            .args(args)
            .env("SEALPOST_CONFIG", self.home.path().join("config.json"))
            .env_remove("SEALPOST_API_KEY")
            .env_remove("SEALPOST_URL")
            .env_remove("SEALPOST_EMAIL")
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        if let Some(key) = &self.api_key {
            command.env("SEALPOST_API_KEY", key);
        }
        if let Some(url) = &self.url {
            command.env("SEALPOST_URL", url);
        }
        command
    }

    /// Runs `args` to the end: what it printed, whatever its exit.
    pub async fn output(&self, args: &[&str]) -> anyhow::Result<Output> {
        self.command(args)
            .output()
            .await
            .with_context(|| format!("running sealpost {args:?}"))
    }

    /// Runs `args`, which must succeed; its standard output.
    pub async fn run(&self, args: &[&str]) -> anyhow::Result<String> {
        let output = self.output(args).await?;
        if !output.status.success() {
            bail!(
                "sealpost {args:?} failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(String::from_utf8(output.stdout)?)
    }

    /// Runs `args` with `--json`, which must succeed; the JSON it printed.
    pub async fn json(&self, args: &[&str]) -> anyhow::Result<serde_json::Value> {
        let mut with_json = vec!["--json"];
        with_json.extend_from_slice(args);
        let text = self.run(&with_json).await?;
        serde_json::from_str(&text).with_context(|| format!("sealpost printed {text}"))
    }
}
