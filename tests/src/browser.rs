//! chromedriver and headless Chromium for end-to-end tests. One `Browser` owns one chromedriver
//! process (in its own process group) and a temporary folder of Chromium profiles; each
//! `Session` is an independent Chromium with a fresh profile, so a sender and a recipient share
//! no cookies or storage. Dropping the `Browser` kills the driver's group and then every process
//! whose command line still names one of its profiles.

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use fantoccini::elements::Element;
use fantoccini::wd::{Capabilities, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder, Locator};
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use serde_json::{Value, json};

use crate::CHROMIUM_FLAGS;

/// How long a test waits for something to appear before it fails.
pub const WAIT: Duration = Duration::from_secs(20);
/// How long a downloads folder must stay unchanged before its files count as finished.
const SETTLED: Duration = Duration::from_millis(400);

/// A running chromedriver and the profiles of the browsers it started.
#[derive(Debug)]
pub struct Browser {
    driver: Child,
    webdriver_url: String,
    profiles: tempfile::TempDir,
    next_profile: AtomicUsize,
}

impl Browser {
    /// Starts chromedriver (`$CHROMEDRIVER`, default `/usr/bin/chromedriver`) on a free port.
    pub async fn start() -> anyhow::Result<Self> {
        let driver_path =
            std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".to_owned());
        let port = free_port()?;
        let profiles = tempfile::Builder::new()
            .prefix("sealpost-e2e-profiles-")
            .tempdir()
            .context("while creating the profiles folder")?;
        let driver = Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .with_context(|| format!("while starting {driver_path} (install chromium-driver)"))?;
        let browser = Self {
            driver,
            webdriver_url: format!("http://127.0.0.1:{port}"),
            profiles,
            next_profile: AtomicUsize::new(0),
        };
        browser.wait_until_ready().await?;
        Ok(browser)
    }

    /// Opens a new, independent headless Chromium with a fresh profile.
    pub async fn session(&self) -> anyhow::Result<Session> {
        let index = self.next_profile.fetch_add(1, Ordering::Relaxed);
        let profile = self.profiles.path().join(format!("profile-{index}"));
        let downloads = self.profiles.path().join(format!("downloads-{index}"));
        std::fs::create_dir_all(&profile)?;
        std::fs::create_dir_all(&downloads)?;
        let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
        let mut args: Vec<String> = CHROMIUM_FLAGS
            .iter()
            .map(|flag| (*flag).to_owned())
            .collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        let mut capabilities = Capabilities::new();
        capabilities.insert(
            "goog:chromeOptions".to_owned(),
            json!({
                "binary": chromium,
                "args": args,
                "prefs": {
                    "download.default_directory": downloads,
                    "download.prompt_for_download": false,
                    "profile.default_content_setting_values.automatic_downloads": 1,
                },
            }),
        );
        capabilities.insert("goog:loggingPrefs".to_owned(), json!({ "browser": "ALL" }));
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.webdriver_url)
            .await
            .context("while starting a Chromium session")?;
        Ok(Session {
            client,
            profile,
            downloads,
        })
    }

    async fn wait_until_ready(&self) -> anyhow::Result<()> {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + WAIT;
        loop {
            let status = http
                .get(format!("{}/status", self.webdriver_url))
                .send()
                .await;
            if let Ok(response) = status {
                let body: Value = response.json().await.unwrap_or_default();
                if body["value"]["ready"] == json!(true) {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                bail!("chromedriver did not become ready within {WAIT:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.driver.id()) {
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        kill_processes_naming(self.profiles.path());
    }
}

/// One headless Chromium controlled through WebDriver.
#[derive(Debug)]
pub struct Session {
    pub client: Client,
    profile: PathBuf,
    downloads: PathBuf,
}

impl Session {
    /// Navigates to `url` and waits for the document to load.
    pub async fn goto(&self, url: &str) -> anyhow::Result<()> {
        self.client
            .goto(url)
            .await
            .with_context(|| format!("while opening {url}"))
    }

    /// Waits for an element matching a CSS selector (polling every 20 ms, so that even a
    /// short-lived element such as a progress line is seen).
    pub async fn find(&self, css: &str) -> anyhow::Result<Element> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(element) = self.client.find(Locator::Css(css)).await {
                return Ok(element);
            }
            if Instant::now() > deadline {
                bail!("waiting for `{css}`: not there after {WAIT:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits for an element and returns its text.
    pub async fn text(&self, css: &str) -> anyhow::Result<String> {
        Ok(self.find(css).await?.text().await?)
    }

    /// Types `text` into the field matching `css`.
    pub async fn fill(&self, css: &str, text: &str) -> anyhow::Result<()> {
        self.find(css)
            .await?
            .send_keys(text)
            .await
            .with_context(|| format!("typing into `{css}`"))
    }

    /// Empties the field matching `css`, then types `text` (for fields the app prefills).
    pub async fn replace(&self, css: &str, text: &str) -> anyhow::Result<()> {
        let field = self.find(css).await?;
        field
            .clear()
            .await
            .with_context(|| format!("clearing `{css}`"))?;
        field
            .send_keys(text)
            .await
            .with_context(|| format!("typing into `{css}`"))
    }

    /// Clicks the element matching `css`.
    pub async fn click(&self, css: &str) -> anyhow::Result<()> {
        self.find(css)
            .await?
            .click()
            .await
            .with_context(|| format!("clicking `{css}`"))
    }

    /// Waits until the element matching `css` exists and its text contains `needle`; returns
    /// the text.
    pub async fn wait_for_text(&self, css: &str, needle: &str) -> anyhow::Result<String> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(element) = self.client.find(Locator::Css(css)).await
                && let Ok(text) = element.text().await
                && text.contains(needle)
            {
                return Ok(text);
            }
            if Instant::now() > deadline {
                let seen = match self.client.find(Locator::Css(css)).await {
                    Ok(element) => element.text().await.unwrap_or_default(),
                    Err(_) => "(no such element)".to_owned(),
                };
                bail!("`{css}` never contained {needle:?} within {WAIT:?}; it shows {seen:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until no element matches `css`.
    pub async fn wait_until_gone(&self, css: &str) -> anyhow::Result<()> {
        let deadline = Instant::now() + WAIT;
        while self.client.find(Locator::Css(css)).await.is_ok() {
            if Instant::now() > deadline {
                bail!("`{css}` was still there after {WAIT:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    /// Runs a script in the page and returns its JSON result.
    pub async fn eval(&self, script: &str) -> anyhow::Result<Value> {
        Ok(self.client.execute(script, Vec::new()).await?)
    }

    /// Every console message of level SEVERE since the last call (errors, CSP violations,
    /// failed loads).
    pub async fn console_errors(&self) -> anyhow::Result<Vec<String>> {
        let logs = self.client.issue_cmd(BrowserLog).await?;
        let entries = logs.as_array().cloned().unwrap_or_default();
        Ok(entries
            .into_iter()
            .filter(|entry| entry["level"] == json!("SEVERE"))
            .map(|entry| entry["message"].as_str().unwrap_or_default().to_owned())
            .collect())
    }

    /// Where this session's downloads land (no prompt).
    pub fn downloads(&self) -> &Path {
        &self.downloads
    }

    /// Waits until `count` downloads are complete (no partial `.crdownload` left) and returns
    /// their paths, sorted.
    pub async fn wait_for_downloads(&self, count: usize) -> anyhow::Result<Vec<PathBuf>> {
        let deadline = Instant::now() + WAIT;
        // Chromium reserves a download's final name with an empty file before it writes the
        // `.crdownload` beside it, so a listing is trusted only once it has stayed the same
        // (names and lengths, nothing partial) for a while.
        let mut last: Option<(Vec<(PathBuf, u64)>, Instant)> = None;
        loop {
            let mut files: Vec<(PathBuf, u64)> = std::fs::read_dir(&self.downloads)?
                .filter_map(|entry| entry.ok())
                .map(|entry| {
                    let length = entry.metadata().map_or(0, |meta| meta.len());
                    (entry.path(), length)
                })
                .collect();
            files.sort();
            let partial = files.iter().any(|(path, _)| {
                path.extension()
                    .is_some_and(|extension| extension == "crdownload" || extension == "tmp")
            });
            let ready = files.len() >= count && !partial;
            match &last {
                Some((seen, since)) if ready && *seen == files && since.elapsed() >= SETTLED => {
                    return Ok(files.into_iter().map(|(path, _)| path).collect());
                }
                Some((seen, _)) if *seen == files => {}
                _ => last = Some((files.clone(), Instant::now())),
            }
            if Instant::now() > deadline {
                bail!("expected {count} finished downloads, found {files:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The folder of this session's Chromium profile.
    pub fn profile(&self) -> &Path {
        &self.profile
    }
}

/// chromedriver's log endpoint (not in the W3C protocol, so fantoccini has no method for it).
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.to_owned()))
    }
}

/// Process ids whose command line mentions `needle` (used to find Chromium processes by
/// their profile folder).
pub fn processes_naming(needle: &Path) -> Vec<i32> {
    let needle = needle.to_string_lossy().into_owned();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|cmdline| String::from_utf8_lossy(&cmdline).contains(&needle))
                .unwrap_or(false)
        })
        .collect()
}

fn kill_processes_naming(needle: &Path) {
    for _ in 0..50 {
        let pids = processes_naming(needle);
        if pids.is_empty() {
            return;
        }
        for pid in pids {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn free_port() -> anyhow::Result<u16> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").context("while finding a free port")?;
    Ok(listener.local_addr()?.port())
}
