//! Steps that many end-to-end tests (and the send benchmark) take through the real pages, so
//! each test reads as the behaviour it proves.

use std::path::Path;

use anyhow::Context as _;
use relay::admin::{AdminCommand, send};

use crate::Session;

/// The password of every account these flows create.
pub const PASSWORD: &str = "correct horse battery staple";

/// Signs up `<handle>@example.com` through the page and has the operator verify the new
/// organisation over the relay's admin socket (in `data_dir`).
pub async fn verified_sender(
    page: &Session,
    base_url: &str,
    data_dir: &Path,
    handle: &str,
) -> anyhow::Result<()> {
    page.goto(&format!("{base_url}/signup")).await?;
    page.fill("input[name=email]", &format!("{handle}@example.com"))
        .await?;
    page.fill("input[name=name]", "Sam Sender").await?;
    page.fill("input[name=organisation]", "Sender & Co").await?;
    page.fill("input[name=handle]", handle).await?;
    page.fill("input[name=password]", PASSWORD).await?;
    page.fill("input[name=confirmation]", PASSWORD).await?;
    page.click("button[type=submit]").await?;
    page.wait_for_text("[data-testid=org-status]", "Waiting for verification")
        .await?;
    let answer = send(
        data_dir,
        &AdminCommand::OrgVerify {
            handle: handle.to_owned(),
        },
    )
    .await?
    .context("the relay answers on its admin socket")?;
    anyhow::ensure!(answer.ok, "{}", answer.message);
    Ok(())
}
