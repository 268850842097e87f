//! The real binary as an operator runs it: flags and environment layer into the configuration,
//! logs are structured JSON when asked, the database lands in `--data-dir`, and SIGTERM stops
//! it gracefully (in-flight work finished, store flushed, exit status 0).

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// The relay's process, killed if a test fails before stopping it, so no relay outlives its
/// test.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn sigterm_stops_the_relay_gracefully_and_flushes_the_store() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let mut child = Running(
        Command::new(env!("CARGO_BIN_EXE_sealpost-relay"))
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir.path())
            .env("SEALPOST_LOG__FORMAT", "json")
            .env("SEALPOST_LOG__FILTER", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the relay starts"),
    );
    let stdout = child.0.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();

    // The first line announces the address (port 0 picked a free one).
    let first = lines.next().expect("a log line").expect("utf-8");
    let entry: serde_json::Value = serde_json::from_str(&first).expect("JSON logs");
    let message = entry["fields"]["message"]
        .as_str()
        .expect("a message")
        .to_owned();
    let url = message
        .split_whitespace()
        .find(|word| word.starts_with("http://"))
        .expect("the URL is logged")
        .to_owned();
    assert!(entry["fields"]["client_sha256"].is_string());

    let address = url.trim_start_matches("http://");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut stream = loop {
        match std::net::TcpStream::connect(address) {
            Ok(stream) => break stream,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Err(error) => panic!("cannot connect to {address}: {error}"),
        }
    };
    use std::io::{Read as _, Write as _};
    stream
        .write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"status\":\"ok\""));

    let pid = Pid::from_raw(i32::try_from(child.0.id()).expect("pid fits"));
    kill(pid, Signal::SIGTERM).expect("signal");
    let status = child.0.wait().expect("exits");
    assert!(status.success(), "graceful exit, got {status}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(
        rest.iter().any(|line| line.contains("store flushed")),
        "the store was flushed: {rest:#?}"
    );
    assert!(
        data_dir.path().join("db").is_dir(),
        "the database lives in --data-dir"
    );
}

fn admin(data_dir: &std::path::Path, args: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_sealpost-relay"))
        .arg("--data-dir")
        .arg(data_dir)
        .arg("admin")
        .args(args)
        .output()
        .expect("the admin command runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

#[test]
fn audit_verify_works_through_the_running_relay_and_offline_and_names_a_broken_entry() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let mut child = Running(
        Command::new(env!("CARGO_BIN_EXE_sealpost-relay"))
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the relay starts"),
    );
    let stdout = child.0.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let _listening = lines.next().expect("the start line").expect("utf-8");
    let socket = data_dir.path().join("admin").join("admin.sock");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !socket.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&socket)
            .expect("the admin socket exists")
            .permissions(),
    );
    assert_eq!(
        mode & 0o777,
        0o600,
        "only the owner may talk to the admin socket"
    );

    // Through the running relay (it holds the database lock).
    let (ok, text) = admin(data_dir.path(), &["audit", "verify"]);
    assert!(ok, "{text}");
    assert!(text.contains("intact: 0 entries"), "{text}");
    let (ok, text) = admin(data_dir.path(), &["audit", "verify"]);
    assert!(
        ok && text.contains("intact: 1 entries"),
        "the first check was audited: {text}"
    );

    let pid = Pid::from_raw(i32::try_from(child.0.id()).expect("pid fits"));
    kill(pid, Signal::SIGTERM).expect("signal");
    assert!(child.0.wait().expect("exits").success());
    assert!(!socket.exists(), "the socket is removed at shutdown");

    // Offline, the command opens the store itself.
    let (ok, text) = admin(data_dir.path(), &["--json", "audit", "verify"]);
    assert!(ok, "{text}");
    let answer: serde_json::Value = serde_json::from_str(&text).expect("JSON answer");
    assert_eq!(answer["data"]["entries"], 2);

    // Edit entry 1 behind the relay's back: the check names it and fails.
    {
        let db = sled::open(data_dir.path().join("db")).expect("raw open");
        let tree = db.open_tree("audit").expect("audit tree");
        let raw = tree
            .get(1_u64.to_be_bytes())
            .expect("read")
            .expect("entry 1");
        let mut entry: serde_json::Value = serde_json::from_slice(&raw).expect("JSON entry");
        entry["outcome"] = serde_json::json!("failure");
        tree.insert(
            1_u64.to_be_bytes(),
            serde_json::to_vec(&entry).expect("encode"),
        )
        .expect("write");
        db.flush().expect("flush");
    }
    let (ok, text) = admin(data_dir.path(), &["audit", "verify"]);
    assert!(!ok, "a broken chain fails the command");
    assert!(text.contains("entry 1"), "{text}");
}

#[test]
fn version_names_the_release_protocol_client_and_commit() {
    let output = Command::new(env!("CARGO_BIN_EXE_sealpost-relay"))
        .arg("--version")
        .output()
        .expect("runs");
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).expect("UTF-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some(concat!("sealpost-relay ", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    assert!(
        lines.contains(&format!("protocol {}", shared::PROTOCOL_VERSION).as_str()),
        "{text}"
    );
    let client = relay::client_sha256();
    if !client.is_empty() {
        assert!(
            lines.contains(&format!("client bundle sha256 {client}").as_str()),
            "{text}"
        );
    }
    let commit = lines
        .iter()
        .find_map(|line| line.strip_prefix("commit "))
        .expect("a commit line");
    assert!(
        commit == "unknown"
            || (commit.len() == 40 && commit.chars().all(|c| c.is_ascii_hexdigit())),
        "{commit}"
    );
}

#[test]
fn check_config_prints_the_configuration_redacted_and_every_problem() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let run = |envs: &[(&str, &str)]| {
        let output = Command::new(env!("CARGO_BIN_EXE_sealpost-relay"))
            .arg("--data-dir")
            .arg(data_dir.path())
            .arg("check-config")
            .envs(envs.iter().copied())
            .output()
            .expect("runs");
        (
            output.status.success(),
            String::from_utf8(output.stdout).expect("UTF-8"),
        )
    };
    let (ok, text) = run(&[("SEALPOST_PUBLIC_URL", "https://sealpost.example")]);
    assert!(ok, "{text}");
    assert!(
        text.contains("public_url = \"https://sealpost.example\""),
        "{text}"
    );
    assert!(text.contains("# no problems found"), "{text}");

    let (ok, text) = run(&[
        ("SEALPOST_PUBLIC_URL", "https://sealpost.example"),
        ("SEALPOST_SESSIONS__SECURE_COOKIE", "false"),
        ("SEALPOST_TLS__CERT_FILE", "/nonexistent/fullchain.pem"),
        ("SEALPOST_TLS__KEY_FILE", "/nonexistent/privkey.pem"),
        ("SEALPOST_STRIPE__SECRET_KEY", "sk_test_hunter7"),
        ("SEALPOST_STRIPE__WEBHOOK_SECRET", "whsec_hunter8"),
        ("SEALPOST_METRICS__TOKEN", "hunter9"),
    ]);
    assert!(!ok, "problems make the exit status 1: {text}");
    assert!(!text.contains("hunter"), "secrets are redacted: {text}");
    assert!(text.contains("secret_key = \"***\""), "{text}");
    for problem in [
        "secure_cookie = false",
        "/nonexistent/fullchain.pem",
        "[metrics] token must be at least 32 characters",
    ] {
        assert!(text.contains(problem), "names {problem}: {text}");
    }
    assert!(
        text.contains("# 3 problem(s):"),
        "every problem, not the first: {text}"
    );

    let (ok, text) = run(&[("SEALPOST_LIMITS__JSON_BODY_BYTES", "lots")]);
    assert!(!ok);
    assert!(text.contains("cannot be read"), "{text}");
}

#[test]
fn the_pretty_log_has_no_colour_codes_when_not_on_a_terminal() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let mut child = Running(
        Command::new(env!("CARGO_BIN_EXE_sealpost-relay"))
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir.path())
            .env("SEALPOST_LOG__FORMAT", "pretty")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the relay starts"),
    );
    let stdout = child.0.stdout.take().expect("stdout");
    let first = BufReader::new(stdout)
        .lines()
        .next()
        .expect("a log line")
        .expect("UTF-8");
    assert!(first.contains("listening on http://"), "{first}");
    assert!(first.contains("off="), "what is off is named: {first}");
    assert!(
        !first.contains('\u{1b}'),
        "no colour into a pipe: {first:?}"
    );
}

#[test]
fn backup_verify_and_restore_work_from_the_command_line() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let backups = tempfile::tempdir().expect("temp dir");
    let child = Running(
        Command::new(env!("CARGO_BIN_EXE_sealpost-relay"))
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the relay starts"),
    );
    let socket = data_dir.path().join("admin").join("admin.sock");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !socket.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let (ok, text) = admin(data_dir.path(), &["orgs", "list"]);
    assert!(ok, "{text}");
    let archive = backups.path().join("relay.tar");
    let archive_text = archive.to_str().expect("UTF-8");
    let (ok, text) = admin(data_dir.path(), &["backup", archive_text]);
    assert!(ok, "through the running relay: {text}");
    assert!(
        text.contains("backed up") && text.contains("TOTP secrets"),
        "{text}"
    );
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&archive).expect("written").permissions(),
    );
    assert_eq!(
        mode & 0o777,
        0o600,
        "a backup is readable by its owner only"
    );
    let (ok, text) = admin(data_dir.path(), &["backup", archive_text]);
    assert!(!ok && text.contains("exists"), "never overwritten: {text}");
    let (ok, text) = admin(data_dir.path(), &["backup", "verify", archive_text]);
    assert!(ok && text.contains("intact"), "{text}");
    drop(child);

    let restored = backups.path().join("restored");
    let (ok, text) = admin(&restored, &["restore", archive_text]);
    assert!(ok, "{text}");
    let (ok, text) = admin(&restored, &["audit", "verify"]);
    assert!(ok && text.contains("intact: 1 entries"), "{text}");
    let (ok, text) = admin(&restored, &["restore", archive_text]);
    assert!(!ok && text.contains("not empty"), "{text}");
}
