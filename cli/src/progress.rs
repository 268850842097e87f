//! A progress bar on standard error (indicatif), drawn only when standard error is a terminal
//! and `--json` was not asked for, so scripts read clean output.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// One transfer's progress, in bytes.
#[derive(Debug)]
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar labelled `label`, drawn when `shown`.
    pub fn new(label: &str, shown: bool) -> Self {
        let bar = ProgressBar::hidden();
        if shown {
            bar.set_draw_target(ProgressDrawTarget::stderr());
        }
        let style = ProgressStyle::with_template(
            "{msg} [{bar:32}] {bytes}/{total_bytes} {binary_bytes_per_sec} {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_message(label.to_owned());
        Self { bar }
    }

    /// The transfer is `total` bytes.
    pub fn start(&self, total: u64) {
        self.bar.set_length(total);
        self.bar.reset_eta();
    }

    /// `bytes` more arrived.
    pub fn advance(&self, bytes: u64) {
        self.bar.inc(bytes);
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
