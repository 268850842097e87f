//! The relay's log: one event is one line, in both formats, whatever a request carried. Field
//! values often hold attacker-chosen text (a CSP report's directive, a path, an error quoting
//! input), and the pretty format prints them as they are; a newline in one would start a line
//! that looks like the relay's own. `OneLine` escapes every line break and control character
//! inside an event (`\n`, `\r`, `\u{2028}`…) before the line reaches its writer, so only the
//! formatter's final newline ends it. ANSI escapes inside field values are already escaped by
//! tracing-subscriber; the formatter's own colours pass through.

use std::io::Write;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::config::{LogConfig, LogFormat};

/// The subscriber the relay logs through, writing to `writer`, with colours in the pretty
/// format only when `colour` (never into a file or a pipe).
pub fn dispatch<W>(config: &LogConfig, writer: W, colour: bool) -> anyhow::Result<tracing::Dispatch>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(&config.filter)
        .with_context(|| format!("while parsing the log filter {:?}", config.filter))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(OneLine(writer));
    Ok(match config.format {
        LogFormat::Json => builder.json().finish().into(),
        LogFormat::Pretty => builder.finish().into(),
    })
}

/// Installs `dispatch(config, stdout)` for the whole process: in colour only when stdout is
/// a terminal and `NO_COLOR` is not set (<https://no-color.org>).
pub fn init(config: &LogConfig) -> anyhow::Result<()> {
    use std::io::IsTerminal as _;
    let colour = std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty());
    tracing::dispatcher::set_global_default(dispatch(config, std::io::stdout, colour)?)
        .context("a logger is already installed")
}

/// Wraps a `MakeWriter` so each event reaches it as one line (see the module).
#[derive(Debug, Clone)]
pub struct OneLine<W>(pub W);

impl<'a, W: MakeWriter<'a>> MakeWriter<'a> for OneLine<W> {
    type Writer = LineWriter<W::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter {
            inner: self.0.make_writer(),
            line: Vec::new(),
        }
    }
}

/// Collects one event and writes it, escaped, when the formatter is done with it.
#[derive(Debug)]
pub struct LineWriter<W: Write> {
    inner: W,
    line: Vec<u8>,
}

impl<W: Write> Write for LineWriter<W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.line.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.line.is_empty() {
            return Ok(());
        }
        let escaped = one_line(&String::from_utf8_lossy(&self.line));
        self.line.clear();
        self.inner.write_all(escaped.as_bytes())?;
        self.inner.flush()
    }
}

impl<W: Write> Drop for LineWriter<W> {
    fn drop(&mut self) {
        // A log line that cannot be written has nowhere else to go.
        let _ = self.flush();
    }
}

/// `text` with every line break and control character but tab and ESC escaped, ending in
/// exactly one newline.
pub fn one_line(text: &str) -> String {
    let body = text.strip_suffix('\n').unwrap_or(text);
    let mut out = String::with_capacity(body.len() + 1);
    for c in body.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' | '\u{1b}' => out.push(c),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') => {
                out.push_str(&c.escape_unicode().to_string());
            }
            c => out.push(c),
        }
    }
    out.push('\n');
    out
}

/// A `MakeWriter` into shared memory (for tests of what the log holds).
#[derive(Debug, Clone, Default)]
pub struct Captured(pub Arc<Mutex<Vec<u8>>>);

impl Captured {
    pub fn text(&self) -> String {
        let bytes = self.0.lock().map(|bytes| bytes.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut buffer) = self.0.lock() {
            buffer.extend_from_slice(bytes);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attacker_text_never_starts_a_log_line_in_either_format() {
        let forged =
            "script-src\n2026-12-02T08:00:00Z  INFO sealpost: operator logged in\r\n\u{2028}x\u{7}";
        for format in [LogFormat::Pretty, LogFormat::Json] {
            let captured = Captured::default();
            let config = LogConfig {
                format,
                filter: "info".to_owned(),
            };
            let dispatch = dispatch(&config, captured.clone(), true).expect("a logger");
            tracing::dispatcher::with_default(&dispatch, || {
                tracing::warn!(directive = %forged, "content security policy violation reported");
                tracing::info!(path = %"/api/x\ny", "second event");
            });
            let text = captured.text();
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines.len(), 2, "{format:?}: {text}");
            assert!(lines[0].contains("violation reported"), "{text}");
            assert!(lines[1].contains("second event"), "{text}");
            assert!(
                !text.contains('\u{2028}') && !text.contains('\u{7}'),
                "{text}"
            );
        }
    }

    #[test]
    fn the_pretty_log_has_colour_codes_only_when_asked() {
        for colour in [false, true] {
            let captured = Captured::default();
            let config = LogConfig {
                format: LogFormat::Pretty,
                filter: "info".to_owned(),
            };
            let dispatch = dispatch(&config, captured.clone(), colour).expect("a logger");
            tracing::dispatcher::with_default(&dispatch, || {
                tracing::warn!(path = "/api/x", "an event");
            });
            let text = captured.text();
            assert_eq!(text.contains('\u{1b}'), colour, "colour {colour}: {text:?}");
        }
    }

    #[test]
    fn one_line_keeps_ordinary_text_and_ends_with_one_newline() {
        assert_eq!(one_line("plain\ttext é\n"), "plain\ttext é\n");
        assert_eq!(one_line("a\nb"), "a\\nb\n");
        assert_eq!(one_line("a\r\nb\n"), "a\\r\\nb\n");
    }
}
