//! The end-to-end harness: a real relay on `127.0.0.1:0` with a temporary data directory, a
//! real chromedriver in its own process group, and any number of independent headless Chromium
//! sessions (a sender and a recipient). Everything is torn down on drop, also when a test
//! panics: the driver's process group is killed and any Chromium still holding one of our
//! profile folders is killed too, so a failed test leaves no browser behind.
//! It deliberately holds no test logic; the tests live in `tests/tests/`.

mod browser;
pub mod cli;
pub mod flows;
pub mod measure;
pub mod native;
pub mod process;
pub mod proxy;
mod relay;
pub mod s3;
pub mod smtp;
pub mod stripe;
pub mod webhooks;

pub use browser::{Browser, Engine, Session, processes_naming};
pub use flows::{PASSWORD, verified_sender};
pub use process::{RelayProcess, relay_binary};
pub use relay::{TestRelay, log_file};
pub use smtp::SmtpSink;
pub use stripe::StripeStandIn;

/// Chromium's flags for this machine (see TOOLCHAIN.md): headless, no sandbox as root, and no
/// background traffic to the closed network.
pub const CHROMIUM_FLAGS: [&str; 9] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
];

/// Runs the browser flow `$flow` (an `async fn(Engine) -> anyhow::Result<()>` of the test file)
/// as three tests, `$name::chromium`, `$name::firefox` and `$name::webkit`.
#[macro_export]
macro_rules! in_every_engine {
    ($name:ident, $flow:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread")]
            async fn chromium() -> anyhow::Result<()> {
                super::$flow($crate::Engine::Chromium).await
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn firefox() -> anyhow::Result<()> {
                super::$flow($crate::Engine::Firefox).await
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn webkit() -> anyhow::Result<()> {
                super::$flow($crate::Engine::WebKit).await
            }
        }
    };
}
