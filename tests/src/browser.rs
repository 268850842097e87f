//! Real browsers for end-to-end tests, in three engines: Chromium (chromedriver), Firefox
//! (geckodriver, `firefox-esr`) and WebKit, Safari's engine (`WebKitWebDriver` and
//! `MiniBrowser` under `xvfb-run`). Each `Session` is one browser with a fresh profile and its
//! own driver in its own process group, so a sender and a recipient share no cookies or
//! storage, and every engine can keep its downloads apart. A session gets exactly what a user's
//! browser has: a downloads folder (the user's choice of where files go) and nothing else — no
//! automatic downloads, no granted permissions. Dropping a session kills its driver's group and
//! then every process whose command line still names its profile or its downloads.

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
/// Where Debian's WebKitGTK keeps its browser.
const MINIBROWSER: &str = "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser";

/// A browser engine the suite drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Chromium,
    Firefox,
    WebKit,
}

impl Engine {
    pub const ALL: [Engine; 3] = [Engine::Chromium, Engine::Firefox, Engine::WebKit];

    /// The engines named in `E2E_ENGINES` (e.g. `firefox,webkit`; all three when unset), in
    /// the order of `all`.
    pub fn selected(all: &[Engine]) -> Vec<Engine> {
        all.iter()
            .copied()
            .filter(|engine| {
                std::env::var("E2E_ENGINES").map_or(true, |only| {
                    only.to_lowercase().contains(&engine.name().to_lowercase())
                })
            })
            .collect()
    }

    pub fn name(self) -> &'static str {
        match self {
            Engine::Chromium => "Chromium",
            Engine::Firefox => "Firefox",
            Engine::WebKit => "WebKit",
        }
    }
}

/// Profiles and downloads of the sessions of one engine.
#[derive(Debug)]
pub struct Browser {
    engine: Engine,
    profiles: tempfile::TempDir,
    next_profile: AtomicUsize,
}

impl Browser {
    /// Chromium, the engine most tests use.
    pub async fn start() -> anyhow::Result<Self> {
        Self::of(Engine::Chromium).await
    }

    /// Sessions of `engine`.
    pub async fn of(engine: Engine) -> anyhow::Result<Self> {
        let profiles = tempfile::Builder::new()
            .prefix("sealpost-e2e-profiles-")
            .tempdir()
            .context("while creating the profiles folder")?;
        Ok(Self {
            engine,
            profiles,
            next_profile: AtomicUsize::new(0),
        })
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Opens a new, independent browser with a fresh profile and its own driver.
    pub async fn session(&self) -> anyhow::Result<Session> {
        let index = self.next_profile.fetch_add(1, Ordering::Relaxed);
        let profile = self.profiles.path().join(format!("profile-{index}"));
        let downloads = self.profiles.path().join(format!("downloads-{index}"));
        std::fs::create_dir_all(&profile)?;
        std::fs::create_dir_all(&downloads)?;
        let port = free_port()?;
        let (mut command, capabilities) = match self.engine {
            Engine::Chromium => chromium(port, &profile, &downloads),
            Engine::Firefox => firefox(port, &profile, &downloads),
            Engine::WebKit => webkit(port, &profile, &downloads)?,
        };
        // `E2E_DRIVER_LOG=<folder>` keeps each driver's output (with Firefox's console) there.
        let log = match std::env::var_os("E2E_DRIVER_LOG") {
            Some(folder) => {
                let path = PathBuf::from(folder).join(format!("driver-{port}.log"));
                let file = std::fs::File::create(&path)?;
                (Stdio::from(file.try_clone()?), Stdio::from(file))
            }
            None => (Stdio::null(), Stdio::null()),
        };
        let driver = command
            .stdin(Stdio::null())
            .stdout(log.0)
            .stderr(log.1)
            .process_group(0)
            .spawn()
            .with_context(|| {
                format!(
                    "while starting the {} driver (run .ci/test once to install it)",
                    self.engine.name()
                )
            })?;
        let mut driver = DriverProcess {
            child: driver,
            profile: profile.clone(),
            downloads: downloads.clone(),
        };
        let webdriver_url = format!("http://127.0.0.1:{port}");
        wait_until_ready(&webdriver_url, &mut driver.child).await?;
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&webdriver_url)
            .await
            .with_context(|| format!("while starting a {} session", self.engine.name()))?;
        Ok(Session {
            client,
            engine: self.engine,
            profile,
            downloads,
            driver,
        })
    }
}

fn chromium(port: u16, profile: &Path, downloads: &Path) -> (Command, Capabilities) {
    let driver =
        std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".to_owned());
    let mut command = Command::new(driver);
    command.arg(format!("--port={port}"));
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
            // Where downloads go, as a user sets it; Chromium's default is not to ask.
            "prefs": { "download.default_directory": downloads },
        }),
    );
    capabilities.insert("goog:loggingPrefs".to_owned(), json!({ "browser": "ALL" }));
    (command, capabilities)
}

fn firefox(port: u16, profile: &Path, downloads: &Path) -> (Command, Capabilities) {
    let driver = std::env::var("GECKODRIVER").unwrap_or_else(|_| "geckodriver".to_owned());
    let mut command = Command::new(driver);
    command.arg(format!("--port={port}"));
    let mut capabilities = Capabilities::new();
    capabilities.insert("browserName".to_owned(), json!("firefox"));
    capabilities.insert(
        "moz:firefoxOptions".to_owned(),
        json!({
            "binary": std::env::var("FIREFOX").unwrap_or_else(|_| "/usr/bin/firefox-esr".to_owned()),
            "args": ["-headless", "-profile", profile, "-width", "1280", "-height", "900"],
            // Where downloads go, as a user sets it (Firefox saves without asking by default).
            "prefs": {
                "browser.download.dir": downloads,
                "browser.download.folderList": 2,
                "devtools.console.stdout.content": std::env::var_os("E2E_DRIVER_LOG").is_some(),
            },
        }),
    );
    (command, capabilities)
}

/// WebKit needs a display (`xvfb-run`); it saves downloads in the XDG download folder, which a
/// per-session `XDG_CONFIG_HOME` points at this session's folder.
fn webkit(port: u16, profile: &Path, downloads: &Path) -> anyhow::Result<(Command, Capabilities)> {
    let config = profile.join("config");
    std::fs::create_dir_all(&config)?;
    std::fs::write(
        config.join("user-dirs.dirs"),
        format!("XDG_DOWNLOAD_DIR=\"{}\"\n", downloads.display()),
    )?;
    let mut command = Command::new("xvfb-run");
    command
        .args(["-a", "-s", "-screen 0 1280x900x24"])
        .arg(std::env::var("WEBKIT_WEBDRIVER").unwrap_or_else(|_| "WebKitWebDriver".to_owned()))
        .arg(format!("--port={port}"))
        .env("XDG_CONFIG_HOME", &config)
        .env("XDG_DATA_HOME", profile.join("data"))
        .env("XDG_CACHE_HOME", profile.join("cache"));
    let mut capabilities = Capabilities::new();
    capabilities.insert("browserName".to_owned(), json!("MiniBrowser"));
    capabilities.insert(
        "webkitgtk:browserOptions".to_owned(),
        json!({
            "binary": std::env::var("MINIBROWSER").unwrap_or_else(|_| MINIBROWSER.to_owned()),
            "args": ["--automation"],
        }),
    );
    Ok((command, capabilities))
}

async fn wait_until_ready(webdriver_url: &str, driver: &mut Child) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + WAIT;
    loop {
        let status = http.get(format!("{webdriver_url}/status")).send().await;
        if let Ok(response) = status {
            let body: Value = response.json().await.unwrap_or_default();
            if body["value"]["ready"] == json!(true) {
                return Ok(());
            }
        }
        if let Ok(Some(exit)) = driver.try_wait() {
            bail!("the WebDriver server exited: {exit}");
        }
        if Instant::now() > deadline {
            bail!("the WebDriver server did not become ready within {WAIT:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A driver and the browser it started; killed, with everything it left, on drop.
#[derive(Debug)]
struct DriverProcess {
    child: Child,
    profile: PathBuf,
    downloads: PathBuf,
}

impl Drop for DriverProcess {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        kill_processes_naming(&self.profile);
        kill_processes_naming(&self.downloads);
    }
}

/// One browser controlled through WebDriver.
#[derive(Debug)]
pub struct Session {
    pub client: Client,
    engine: Engine,
    profile: PathBuf,
    downloads: PathBuf,
    driver: DriverProcess,
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

    /// Waits until the text of the element matching `css` starts with one of `outcomes` (the
    /// first that matches wins: list "not saved" before "saved"); returns that outcome.
    pub async fn wait_for_text_among(
        &self,
        css: &str,
        outcomes: &[&'static str],
    ) -> anyhow::Result<&'static str> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(element) = self.client.find(Locator::Css(css)).await
                && let Ok(text) = element.text().await
                && let Some(outcome) = outcomes
                    .iter()
                    .find(|outcome| text.trim().starts_with(**outcome))
            {
                return Ok(outcome);
            }
            if Instant::now() > deadline {
                let page = self
                    .eval("return document.body.innerText;")
                    .await
                    .unwrap_or_default();
                bail!("`{css}` never showed one of {outcomes:?} within {WAIT:?}; the page: {page}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Reloads the page as a user does (F5): WebDriver's own refresh is a forced reload in
    /// Firefox, which sends the page's frames past service workers, as Shift+Reload does.
    pub async fn reload(&self) -> anyhow::Result<()> {
        self.eval("window.sealpostBeforeReload = true; setTimeout(() => location.reload(), 0); return null;")
            .await?;
        let deadline = Instant::now() + WAIT;
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let fresh = self
                .eval("return window.sealpostBeforeReload === undefined && document.readyState === 'complete';")
                .await
                .unwrap_or_default();
            if fresh == json!(true) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the page did not reload within {WAIT:?}");
            }
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

    /// Runs an asynchronous script (an `async` function body: it may `await` and `return`)
    /// and returns its JSON result; a thrown error is returned as `{"error": message}`.
    pub async fn eval_async(&self, body: &str) -> anyhow::Result<Value> {
        let script = format!(
            "const done = arguments[arguments.length - 1];
             (async () => {{ {body} }})().then(done, (error) => done({{ error: String(error) }}));"
        );
        Ok(self.client.execute_async(&script, Vec::new()).await?)
    }

    /// Every console message since the last call, of any level (Chromium only: see
    /// `console_errors`).
    pub async fn console_messages(&self) -> anyhow::Result<Vec<String>> {
        if self.engine != Engine::Chromium {
            return Ok(Vec::new());
        }
        let logs = self
            .client
            .issue_cmd(Chromedriver {
                endpoint: "se/log",
                body: json!({ "type": "browser" }),
            })
            .await?;
        Ok(logs
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|entry| {
                format!(
                    "{}: {}",
                    entry["level"].as_str().unwrap_or_default(),
                    entry["message"].as_str().unwrap_or_default()
                )
            })
            .collect())
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Process ids of this session's driver and everything it started (the browser's
    /// processes, and for WebKit the virtual display).
    pub fn processes(&self) -> Vec<i32> {
        let root = i32::try_from(self.driver.child.id()).unwrap_or(0);
        descendants(root)
    }

    /// Every console message of level SEVERE since the last call (errors, CSP violations,
    /// failed loads). Only chromedriver hands the console over WebDriver: for the other engines
    /// this is always empty.
    pub async fn console_errors(&self) -> anyhow::Result<Vec<String>> {
        Ok(self
            .console_messages()
            .await?
            .into_iter()
            .filter_map(|message| message.strip_prefix("SEVERE: ").map(str::to_owned))
            .collect())
    }

    /// Renders the page as with the system's dark (or light) appearance: `prefers-color-scheme`
    /// emulated through the DevTools protocol, so Chromium only.
    pub async fn prefer_dark(&self, dark: bool) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.engine == Engine::Chromium,
            "colour-scheme emulation needs Chromium's DevTools protocol"
        );
        let scheme = if dark { "dark" } else { "light" };
        self.client
            .issue_cmd(Chromedriver {
                endpoint: "goog/cdp/execute",
                body: json!({
                    "cmd": "Emulation.setEmulatedMedia",
                    "params": { "features": [{ "name": "prefers-color-scheme", "value": scheme }] },
                }),
            })
            .await?;
        let applied = self
            .eval(&format!(
                "return matchMedia('(prefers-color-scheme: {scheme})').matches;"
            ))
            .await?;
        anyhow::ensure!(applied == json!(true), "the {scheme} scheme did not apply");
        Ok(())
    }

    /// The serious and critical accessibility violations axe-core finds on the page as it is
    /// now (WCAG 2.1 A and AA and axe's best practices), one line each with the elements
    /// concerned. axe-core comes from npm (`.ci/lib.sh ensure_axe`); WebDriver's scripts run
    /// outside the page's CSP, which stays as strict as users get it.
    pub async fn accessibility_violations(&self) -> anyhow::Result<Vec<String>> {
        let loaded = self.eval("return typeof window.axe === 'object';").await?;
        if loaded != json!(true) {
            let path =
                Path::new(env!("CARGO_MANIFEST_DIR")).join("axe/node_modules/axe-core/axe.min.js");
            let source = std::fs::read_to_string(&path).with_context(|| {
                format!(
                    "reading {} (installed by `.ci/lib.sh ensure_axe`)",
                    path.display()
                )
            })?;
            self.eval(&format!("{source}\n;return null;")).await?;
        }
        let found = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];\
                 axe.run(document, { \
                   runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] }, \
                   resultTypes: ['violations'] \
                 }).then((result) => done(result.violations \
                   .filter((v) => v.impact === 'serious' || v.impact === 'critical') \
                   .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.length}x: ` + \
                     v.nodes.slice(0, 3).map((n) => n.target.join(' ') + ' -- ' + \
                       (n.failureSummary || '').replace(/\\s+/g, ' ')).join(' | ') + ')')), \
                   (error) => done(['axe failed: ' + error]));",
                Vec::new(),
            )
            .await?;
        Ok(serde_json::from_value(found)?)
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
            let partial = files.iter().any(|(path, _)| is_partial(path));
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

    /// The folder of this session's browser profile.
    pub fn profile(&self) -> &Path {
        &self.profile
    }
}

/// A POST to one of chromedriver's own endpoints under the session (not in the W3C protocol,
/// so fantoccini has no method for them): `se/log` (the console), `goog/cdp/execute` (a
/// DevTools protocol command).
#[derive(Debug)]
struct Chromedriver {
    endpoint: &'static str,
    body: Value,
}

impl WebDriverCompatibleCommand for Chromedriver {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/{}",
            session_id.unwrap_or_default(),
            self.endpoint
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.body.to_string()))
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

/// Whether `path` is a download still being written: Chromium's `.crdownload`, Firefox's
/// `.part`, WebKit's `.download`.
pub(crate) fn is_partial(path: &Path) -> bool {
    path.extension().is_some_and(|extension| {
        ["crdownload", "part", "tmp", "download", "wkdownload"]
            .iter()
            .any(|partial| extension == *partial)
    })
}

/// `root` and every process below it.
pub(crate) fn descendants(root: i32) -> Vec<i32> {
    let parents: Vec<(i32, i32)> = std::fs::read_dir("/proc")
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
                .filter_map(|pid| {
                    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
                    // The command name in parentheses may hold spaces: the parent follows it.
                    let after = stat.rsplit_once(')')?.1;
                    let parent = after.split_whitespace().nth(1)?.parse().ok()?;
                    Some((pid, parent))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut found = vec![root];
    let mut index = 0;
    while index < found.len() {
        let parent = found[index];
        found.extend(
            parents
                .iter()
                .filter(|(_, of)| *of == parent)
                .map(|(pid, _)| *pid),
        );
        index += 1;
    }
    found
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
