//! Where the command line keeps what `sealpost login` was told: the relay's address and the
//! organisation's API key, in `<config dir>/sealpost/config.json` (XDG on Linux), readable by
//! its owner only. `SEALPOST_URL` and `SEALPOST_API_KEY` override the file, for scripts that
//! keep their secrets elsewhere.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use shared::secret::SecretString;

/// What `sealpost login` saves.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Config {
    /// The relay's address, e.g. `https://sealpost.example.com`.
    #[serde(default)]
    pub url: Option<String>,
    /// The organisation's API key (`sp_…`).
    #[serde(default)]
    pub api_key: Option<SecretString>,
}

/// The file the configuration lives in: `SEALPOST_CONFIG` if set, else the platform's
/// configuration directory.
pub fn path() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("SEALPOST_CONFIG") {
        return Ok(PathBuf::from(path));
    }
    let base = dirs::config_dir().context(
        "this system names no configuration directory: set SEALPOST_CONFIG to a file path",
    )?;
    Ok(base.join("sealpost").join("config.json"))
}

impl Config {
    /// The saved configuration (empty when there is none yet), with the environment's
    /// overrides applied.
    pub fn load() -> anyhow::Result<Self> {
        let mut config = Self::load_saved()?;
        if let Ok(url) = std::env::var("SEALPOST_URL")
            && !url.trim().is_empty()
        {
            config.url = Some(url.trim().to_owned());
        }
        if let Ok(key) = std::env::var("SEALPOST_API_KEY")
            && !key.trim().is_empty()
        {
            config.api_key = Some(SecretString::new(key.trim().to_owned()));
        }
        Ok(config)
    }

    /// The saved configuration alone (empty when there is none yet).
    pub fn load_saved() -> anyhow::Result<Self> {
        let path = path()?;
        let config = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("{} is not a Sealpost configuration", path.display()))?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Config::default(),
            Err(error) => {
                return Err(error).with_context(|| format!("reading {}", path.display()));
            }
        };
        Ok(config)
    }

    /// Saves this configuration, created readable and writable by its owner only, and
    /// replaced whole (written beside, flushed, renamed), so an interruption leaves the old one.
    pub fn save(&self) -> anyhow::Result<PathBuf> {
        let path = path()?;
        write_private(&path, &serde_json::to_vec_pretty(self)?)?;
        Ok(path)
    }

    /// The relay's address, or what to do when there is none.
    pub fn url(&self) -> anyhow::Result<&str> {
        self.url
            .as_deref()
            .context("no relay: run `sealpost login URL` or set SEALPOST_URL")
    }

    /// The API key, or what to do when there is none.
    pub fn api_key(&self) -> anyhow::Result<&SecretString> {
        self.api_key
            .as_ref()
            .context("no API key: run `sealpost login URL` or set SEALPOST_API_KEY")
    }
}

/// Writes `bytes` to `path` as a file only its owner can read (0600 on Unix), atomically.
pub fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let folder = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(folder).with_context(|| format!("creating {}", folder.display()))?;
    // A fresh name, made here (never a file or link someone left at a known name).
    let beside = folder.join(format!(
        ".{}.{:016x}.new",
        path.file_name()
            .and_then(|name| name.to_str())
            .unwrap_or("sealpost"),
        rand_core::RngCore::next_u64(&mut shared::crypto::OsRng)
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&beside)
        .with_context(|| format!("creating {}", beside.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&beside, path).with_context(|| format!("saving {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_saved_file_is_private_and_reads_back() -> anyhow::Result<()> {
        let folder = tempfile::tempdir()?;
        let path = folder.path().join("nested").join("config.json");
        write_private(
            &path,
            br#"{"url":"https://relay.example","api_key":"sp_x"}"#,
        )?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path)?.permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let config: Config = serde_json::from_slice(&std::fs::read(&path)?)?;
        assert_eq!(config.url.as_deref(), Some("https://relay.example"));
        assert_eq!(
            config
                .api_key
                .as_ref()
                .map(SecretString::dangerously_expose),
            Some("sp_x")
        );
        assert!(
            !format!("{config:?}").contains("sp_x"),
            "Debug redacts the key"
        );
        Ok(())
    }
}
