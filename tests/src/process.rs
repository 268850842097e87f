//! The relay binary as an operator runs it, as a child process: started on `127.0.0.1:0` over
//! a data directory that outlives it, stopped with SIGTERM, killed with SIGKILL, and started
//! again on the same data. The crash, burst and shutdown tests and the load benchmark use it;
//! in-process tests use `TestRelay` instead. Which binary runs is `RELAY_BIN` (`.ci/test` names
//! the one its test build made; `.ci/bench-load` the release one), else the release build in
//! this workspace's `target/` when there is one, else the debug build.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// A running relay process; killed if dropped while running.
#[derive(Debug)]
pub struct RelayProcess {
    child: Child,
    pub url: String,
    pub address: String,
    data_dir: PathBuf,
    /// The tail of what it printed (a thread keeps reading so it never blocks on a pipe).
    output: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

/// The relay binary the process tests run.
pub fn relay_binary() -> anyhow::Result<PathBuf> {
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target");
    let path = match std::env::var_os("RELAY_BIN") {
        Some(path) => PathBuf::from(path),
        None => ["release", "debug"]
            .iter()
            .map(|profile| target.join(profile).join("sealpost-relay"))
            .find(|path| path.is_file())
            .unwrap_or_else(|| target.join("release/sealpost-relay")),
    };
    if !path.is_file() {
        bail!(
            "no relay binary at {} (build it with `cargo build -p relay`, or name one in RELAY_BIN)",
            path.display()
        );
    }
    Ok(path)
}

impl RelayProcess {
    /// Starts the relay binary on `data_dir` with extra `SEALPOST_*` settings, and waits until
    /// it answers on its port.
    pub fn start(data_dir: &Path, env: &[(&str, &str)]) -> anyhow::Result<Self> {
        Self::start_binary(&relay_binary()?, data_dir, env)
    }

    /// `start` with a given binary (the benchmark compares two builds).
    pub fn start_binary(
        binary: &Path,
        data_dir: &Path,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let mut command = Command::new(binary);
        command
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .env("SEALPOST_LOG__FORMAT", "json")
            .env("SEALPOST_LOG__FILTER", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command
            .spawn()
            .with_context(|| format!("while starting {}", binary.display()))?;
        let stdout = child.stdout.take().context("the relay's stdout")?;
        let stderr = child.stderr.take().context("the relay's stderr")?;
        let output = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (announce, announced) = std::sync::mpsc::channel::<String>();
        {
            let output = output.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    if line.contains("listening on http") {
                        let _ = announce.send(line.clone());
                    }
                    keep_tail(&output, line);
                }
            });
        }
        {
            let output = output.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    keep_tail(&output, line);
                }
            });
        }
        let mut running = Self {
            child,
            url: String::new(),
            address: String::new(),
            data_dir: data_dir.to_path_buf(),
            output,
        };
        let line = match announced.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => line,
            Err(_) => bail!(
                "the relay did not announce its address; it printed:\n{}",
                running.output().join("\n")
            ),
        };
        // The URL follows "listening on" (other fields of the line may hold addresses too).
        let url = line
            .split("listening on ")
            .nth(1)
            .and_then(|rest| rest.split(['"', ' ']).next())
            .context("the start line names the URL")?
            .to_owned();
        running.address = url
            .trim_start_matches("http://")
            .trim_start_matches("https://")
            .to_owned();
        running.url = url;
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(&running.address).is_err() {
            if Instant::now() > deadline {
                bail!(
                    "the relay does not accept connections on {}",
                    running.address
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        // The operator's socket too (a killed relay leaves its old one behind until then).
        let socket = relay::admin::socket_path(data_dir);
        while std::os::unix::net::UnixStream::connect(&socket).is_err() {
            if Instant::now() > deadline {
                bail!("the relay does not answer on {}", socket.display());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(running)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The data directory it serves.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// What it printed lately (stdout and stderr interleaved, at most the last 2,000 lines).
    pub fn output(&self) -> Vec<String> {
        self.output
            .lock()
            .map(|lines| lines.clone())
            .unwrap_or_default()
    }

    /// Its peak resident memory so far (VmHWM), in bytes.
    pub fn peak_rss(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))?;
        let line = status
            .lines()
            .find(|line| line.starts_with("VmHWM:"))
            .context("VmHWM in /proc status")?;
        let kib: u64 = line
            .split_whitespace()
            .nth(1)
            .context("a VmHWM figure")?
            .parse()?;
        Ok(kib * 1024)
    }

    /// SIGKILL, as a power cut or the OOM killer would: nothing gets to run.
    pub fn kill(mut self) -> anyhow::Result<()> {
        let pid = Pid::from_raw(i32::try_from(self.child.id())?);
        kill(pid, Signal::SIGKILL)?;
        self.child.wait()?;
        Ok(())
    }

    /// SIGTERM, then waits for the exit at most `patience`; the exit status and how long the
    /// stop took.
    pub fn terminate(
        mut self,
        patience: Duration,
    ) -> anyhow::Result<(std::process::ExitStatus, Duration)> {
        let started = Instant::now();
        let pid = Pid::from_raw(i32::try_from(self.child.id())?);
        kill(pid, Signal::SIGTERM)?;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok((status, started.elapsed()));
            }
            if started.elapsed() > patience {
                bail!(
                    "the relay did not stop within {patience:?} of SIGTERM; it printed:\n{}",
                    self.output().join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn keep_tail(output: &std::sync::Mutex<Vec<String>>, line: String) {
    if let Ok(mut lines) = output.lock() {
        if lines.len() >= 2000 {
            lines.drain(..1000);
        }
        lines.push(line);
    }
}
