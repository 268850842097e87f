//! An SMTP sink for tests: a real SMTP server on `127.0.0.1:0` that accepts every message
//! (EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT, per RFC 5321) and keeps it for the test to read.
//! It delivers nothing anywhere.

use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use anyhow::bail;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpListener;

/// A running sink; messages are the raw DATA of each mail, dot-unstuffed.
#[derive(Debug, Clone)]
pub struct SmtpSink {
    pub port: u16,
    messages: Arc<Mutex<Vec<String>>>,
}

/// Every sink of this test binary, so helpers that only know a relay's address (signing up,
/// accepting an invitation) can find the link a relay mailed.
static SINKS: Mutex<Vec<Weak<Mutex<Vec<String>>>>> = Mutex::new(Vec::new());

/// The tokens of every `/<page>#<token>` link mailed to `to` through any sink of this test
/// binary, newest first (several tests may use the same address; a token works only at the
/// relay that made it).
pub fn mailed_tokens(to: &str, page: &str) -> Vec<String> {
    let sinks = SINKS.lock().map(|all| all.clone()).unwrap_or_default();
    let mut tokens = Vec::new();
    let header = format!("To: {to}\n");
    let marker = format!("/{page}#");
    for sink in sinks.iter().filter_map(Weak::upgrade) {
        let messages = sink.lock().map(|all| all.clone()).unwrap_or_default();
        for message in messages.iter().rev() {
            if !message.contains(&header) {
                continue;
            }
            // The bodies are quoted-printable: join soft line breaks.
            let body = message.replace("=\n", "").replace("=3D", "=");
            if let Some((_, rest)) = body.split_once(&marker) {
                let token: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
                    .collect();
                tokens.push(token);
            }
        }
    }
    tokens
}

impl SmtpSink {
    pub async fn start() -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let messages = Arc::new(Mutex::new(Vec::new()));
        if let Ok(mut sinks) = SINKS.lock() {
            sinks.retain(|sink| sink.strong_count() > 0);
            sinks.push(Arc::downgrade(&messages));
        }
        let store = messages.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let store = store.clone();
                tokio::spawn(async move {
                    let _ = converse(stream, store).await;
                });
            }
        });
        Ok(Self { port, messages })
    }

    /// `smtp://127.0.0.1:<port>` for the relay's `[smtp] url`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far.
    pub fn messages(&self) -> Vec<String> {
        self.messages
            .lock()
            .map(|all| all.clone())
            .unwrap_or_default()
    }

    /// Waits for the `n`-th message (1-based) and returns it.
    pub async fn message(&self, n: usize) -> anyhow::Result<String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(message) = self
                .messages
                .lock()
                .ok()
                .and_then(|all| all.get(n - 1).cloned())
            {
                return Ok(message);
            }
            if Instant::now() > deadline {
                bail!("no message {n} arrived at the SMTP sink");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn converse(
    stream: tokio::net::TcpStream,
    store: Arc<Mutex<Vec<String>>>,
) -> anyhow::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    write
        .write_all(b"220 sink.test ESMTP sealpost test sink\r\n")
        .await?;
    while let Some(line) = lines.next_line().await? {
        let verb = line
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" => {
                write
                    .write_all(b"250-sink.test\r\n250 8BITMIME\r\n")
                    .await?
            }
            "HELO" | "MAIL" | "RCPT" | "RSET" | "NOOP" => write.write_all(b"250 OK\r\n").await?,
            "DATA" => {
                write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
                let mut message = String::new();
                while let Some(data) = lines.next_line().await? {
                    if data == "." {
                        break;
                    }
                    let data = data.strip_prefix('.').unwrap_or(&data);
                    message.push_str(data);
                    message.push('\n');
                }
                if let Ok(mut all) = store.lock() {
                    all.push(message);
                }
                write.write_all(b"250 queued\r\n").await?;
            }
            "QUIT" => {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            _ => write.write_all(b"502 not implemented\r\n").await?,
        }
    }
    Ok(())
}
