//! Steps that many end-to-end tests (and the send benchmark) take through the real pages, so
//! each test reads as the behaviour it proves; and the curious operator's search of everything
//! a relay stores and logs.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use relay::admin::{AdminCommand, send};
use shared::crypto::OsRng;
use shared::ids::Id;

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

/// Answers the stop a browser makes before it first encrypts to readers it does not know: waits
/// until the page lists them (each address in `listed` among them, with fingerprints) and
/// confirms, as a user does after comparing the fingerprints.
pub async fn confirm_readers(page: &Session, listed: &[&str]) -> anyhow::Result<()> {
    page.wait_for_text("[data-testid=key-warning]", "Nothing was sent")
        .await?;
    for address in listed {
        page.wait_for_text("[data-testid=readers]", address).await?;
    }
    page.find("[data-testid=reader-fingerprint]").await?;
    page.click("[data-testid=accept-keys]").await?;
    Ok(())
}

/// A unique marker, so a search cannot hit anything but what this test wrote.
pub fn marker(label: &str) -> String {
    format!("{label}-{}", Id::generate(&mut OsRng))
}

/// Sends `files` from the composer; returns the link.
pub async fn send_files(
    page: &Session,
    base_url: &str,
    files: &[PathBuf],
    otp: &str,
    expiry: Option<&str>,
    note: Option<&str>,
) -> anyhow::Result<String> {
    let extras = Extras {
        expiry,
        note,
        invoice: None,
    };
    send_files_with(page, base_url, files, otp, &extras).await
}

/// The composer's optional fields.
#[derive(Debug, Default, Clone, Copy)]
pub struct Extras<'a> {
    /// An `<option value>` of the expiry select (days; "0" is one hour).
    pub expiry: Option<&'a str>,
    pub note: Option<&'a str>,
    /// Amount, currency and description of an invoice.
    pub invoice: Option<(&'a str, &'a str, &'a str)>,
}

/// Sends `files` from the composer with `extras`; returns the link.
pub async fn send_files_with(
    page: &Session,
    base_url: &str,
    files: &[PathBuf],
    otp: &str,
    extras: &Extras<'_>,
) -> anyhow::Result<String> {
    start_send(page, base_url, files, otp, extras).await?;
    wait_for_link(page).await
}

/// Fills the composer with `files`, `otp` and `extras` and presses Send, without waiting.
pub async fn start_send(
    page: &Session,
    base_url: &str,
    files: &[PathBuf],
    otp: &str,
    extras: &Extras<'_>,
) -> anyhow::Result<()> {
    let Extras {
        expiry,
        note,
        invoice,
    } = *extras;
    page.goto(&format!("{base_url}/app/send")).await?;
    if let Some(note) = note {
        page.fill("textarea[name=note]", note).await?;
    }
    let paths: Vec<String> = files
        .iter()
        .map(|path| path.display().to_string())
        .collect();
    page.find("input[name=files]")
        .await?
        .send_keys(&paths.join("\n"))
        .await?;
    let last = files
        .last()
        .and_then(|path| path.file_name())
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    page.wait_for_text("[data-testid=chosen-files]", &last)
        .await?;
    // The composer offers a generated password; the test types its own instead.
    page.replace("input[name=otp]", otp).await?;
    if let Some(value) = expiry {
        page.click(&format!("select[name=expiry] option[value='{value}']"))
            .await?;
    }
    if let Some((amount, currency, description)) = invoice {
        page.click("input[name=charge]").await?;
        page.fill("input[name=amount]", amount).await?;
        let field = page.find("input[name=currency]").await?;
        field.clear().await?;
        field.send_keys(currency).await?;
        page.fill("input[name=invoice-description]", description)
            .await?;
    }
    page.click("form button[type=submit]").await
}

/// Waits for the composer to show the link of the send under way; returns it.
pub async fn wait_for_link(page: &Session) -> anyhow::Result<String> {
    let link = page
        .find("[data-testid=link]")
        .await?
        .prop("value")
        .await?
        .context("the link field has a value")?;
    anyhow::ensure!(link.contains("/l/") && link.contains('#'), "{link}");
    Ok(link)
}

/// Opens `link` in the recipient's browser and types `otp`.
pub async fn open_with(page: &Session, link: &str, otp: &str) -> anyhow::Result<()> {
    page.goto(link).await?;
    page.find("[data-testid=link-facts]").await?;
    page.fill("input[name=otp]", otp).await?;
    page.click("form button[type=submit]").await?;
    Ok(())
}

/// Chromium offers the File System Access API, whose save picker a test cannot answer: switch
/// to the download path, which every browser has.
pub async fn use_downloads(page: &Session) -> anyhow::Result<()> {
    page.eval(
        "const box = document.querySelector('input[name=to-disk]'); \
         if (box && box.checked) { box.click(); } return null;",
    )
    .await?;
    Ok(())
}

/// The files of a ZIP archive the recipient saved, in order: `(name, bytes)`. Reading checks
/// each file's CRC-32 and size against the archive's records.
pub fn unzip(path: &Path) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut archive = zip::ZipArchive::new(file)
        .with_context(|| format!("{} is not a ZIP archive", path.display()))?;
    let mut files = Vec::new();
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index)?;
        let name = entry.name()?.into_owned();
        anyhow::ensure!(
            entry.compression() == zip::CompressionMethod::Stored,
            "{name} is compressed"
        );
        let mut bytes = Vec::new();
        entry
            .read_to_end(&mut bytes)
            .with_context(|| format!("reading {name} from the archive"))?;
        files.push((name, bytes));
    }
    Ok(files)
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found
}

/// The curious operator: every file of the data directory and the relay's log, searched for
/// each needle. Returns the hits.
pub fn operator_finds(data_dir: &Path, needles: &[(&str, Vec<u8>)]) -> Vec<String> {
    let mut haystacks = files_under(data_dir);
    haystacks.push(crate::log_file().to_path_buf());
    let mut hits = Vec::new();
    for path in &haystacks {
        let Ok(bytes) = std::fs::read(path) else {
            continue;
        };
        for (label, needle) in needles {
            if !needle.is_empty() && bytes.windows(needle.len()).any(|window| window == needle) {
                hits.push(format!("{label} in {}", path.display()));
            }
        }
    }
    hits
}

/// Logs `email` in through the page (with `PASSWORD`) and waits for the dashboard, whose
/// keys are then unlocked in memory.
pub async fn log_in(page: &Session, base_url: &str, email: &str) -> anyhow::Result<()> {
    page.goto(&format!("{base_url}/login")).await?;
    page.fill("input[name=email]", email).await?;
    page.fill("input[name=password]", PASSWORD).await?;
    page.click("button[type=submit]").await?;
    page.find("[data-testid=fingerprint]").await?;
    Ok(())
}

/// Moves the app to `path` without reloading it (a reload would forget the unlocked private
/// key, as it is meant to), the way a click on one of its links does.
pub async fn visit(page: &Session, path: &str) -> anyhow::Result<()> {
    let script = format!(
        "window.history.pushState(null, '', {}); \
         window.dispatchEvent(new PopStateEvent('popstate')); return null;",
        serde_json::to_string(path)?
    );
    page.eval(&script).await?;
    Ok(())
}

/// Cheap, varied bytes (xorshift from `seed`, which must not be 0): not all zeros, so a lost
/// or misplaced chunk shows, and different for every seed.
pub fn pseudo_random(size: usize, seed: u64) -> Vec<u8> {
    let mut bytes = vec![0_u8; size];
    let mut state = seed;
    for word in bytes.chunks_mut(8) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        word.copy_from_slice(&state.to_le_bytes()[..word.len()]);
    }
    bytes
}

/// Makes a request by link on the requests page (already logged in) with `description`, due
/// in a week, confirming the readers `listed`; the link the page shows.
pub async fn request_by_link(
    page: &Session,
    description: &str,
    listed: &[&str],
) -> anyhow::Result<String> {
    visit(page, "/app/requests").await?;
    page.click("input[name=target-kind][value=link]").await?;
    page.fill("textarea[name=description]", description).await?;
    set_date(page, "input[name=due]", &in_a_week()).await?;
    page.click("form.composer button[type=submit]").await?;
    confirm_readers(page, listed).await?;
    let link = page
        .find("[data-testid=request-link]")
        .await?
        .prop("value")
        .await?
        .context("the request link")?;
    anyhow::ensure!(link.contains("/r/") && link.contains('#'), "{link}");
    Ok(link)
}

/// Sets a date input the way a person picking a date would (its text format is the locale's).
pub async fn set_date(page: &Session, css: &str, iso: &str) -> anyhow::Result<()> {
    page.find(css).await?;
    page.eval(&format!(
        "const input = document.querySelector({}); input.value = {}; \
         input.dispatchEvent(new Event('input', {{ bubbles: true }})); return null;",
        serde_json::to_string(css)?,
        serde_json::to_string(iso)?
    ))
    .await?;
    Ok(())
}

/// The date a week from now, as a date input takes it.
pub fn in_a_week() -> String {
    shared::dates::utc_date(crate::stripe::now() + 7 * 86_400)
}
