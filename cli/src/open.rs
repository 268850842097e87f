//! `sealpost open LINK`: a recipient's side of Secure Send (PROTOCOL.md "Secure Send over
//! HTTP"). The link's secret never leaves this process; the OTP is asked without echo; the
//! relay gets the proof only. Resumable (see `receive`).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use shared::crypto::{LinkSecret, Manifest, Passphrase, derive_link_keys};
use shared::ids::Id;
use shared::secret::SecretString;
use shared::wire;

use crate::http::{Auth, Relay};
use crate::progress::Progress;
use crate::receive::{self, Saved, SavedLink, Source};
use crate::secrets;

/// A link taken apart: the relay's address, the id and the secret.
#[derive(Debug)]
pub struct ParsedLink {
    pub base: String,
    pub id: Id,
    pub secret: LinkSecret,
}

/// Reads `<relay>/l/<id>#<secret>` (as the sender's browser or `sealpost send` made it).
pub fn parse_link(link: &str) -> anyhow::Result<ParsedLink> {
    let (address, fragment) = link
        .trim()
        .split_once('#')
        .context("the link has no secret (the part after #): copy the whole link")?;
    let (base, id) = address
        .rsplit_once("/l/")
        .context("this is not a Sealpost link (no /l/ in it)")?;
    Ok(ParsedLink {
        base: base.to_owned(),
        id: Id::parse(id.trim_end_matches('/')).context("the link's id is damaged")?,
        secret: LinkSecret::from_fragment(fragment)
            .context("the link's secret is damaged: copy the whole link")?,
    })
}

/// What `open` saved.
#[derive(Debug, serde::Serialize)]
pub struct Opened {
    pub id: Id,
    pub folder: PathBuf,
    pub files: Vec<PathBuf>,
    pub note: Option<String>,
    pub delivered: bool,
}

/// Opens `link` into `folder` (made if missing), asking the OTP from `otp` when the link must
/// be opened (not when an interrupted download's token still holds).
pub async fn open(
    link: &str,
    folder: Option<&Path>,
    otp: &secrets::Source<'_>,
    progress: &Progress,
    say: impl Fn(&str),
) -> anyhow::Result<Opened> {
    let parsed = parse_link(link)?;
    let relay = Relay::new(&parsed.base, Auth::None)?;
    let folder = folder
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(format!("sealpost-{}", parsed.id)));
    receive::make_folder(&folder)?;
    let _lock = receive::lock(&folder, parsed.id)?;
    let now = unix_now();
    let mut saved = match receive::load(&folder, parsed.id)? {
        Some(saved) => {
            say(&format!(
                "Going on with the download in {} ({} of {} files saved).",
                folder.display(),
                saved.finished.iter().filter(|done| **done).count(),
                saved.names.len()
            ));
            saved
        }
        None => {
            let (link_state, manifest) = open_link(&relay, &parsed, otp, &say).await?;
            let names = receive::choose_names(&folder, &manifest);
            let saved = Saved {
                id: parsed.id,
                finished: vec![false; names.len()],
                synced: vec![0; names.len()],
                names,
                link: Some(link_state),
            };
            receive::store(&folder, &saved)?;
            saved
        }
    };
    let token_valid = saved
        .link
        .as_ref()
        .is_some_and(|link| link.token_expires_at > now + 60);
    if !token_valid {
        say("The download's permission expired: opening the link again (this spends an open).");
        let (link_state, _) = open_link(&relay, &parsed, otp, &say).await?;
        saved.link = Some(link_state);
        receive::store(&folder, &saved)?;
    }
    let link_state = saved.link.as_ref().context("a link's download")?;
    let key = link_state.bundle_key()?;
    let manifest = Manifest::open(&key, &link_state.manifest)
        .context("the link's file list does not open: it was changed")?;
    anyhow::ensure!(
        manifest.files.len() == saved.names.len(),
        "{} belongs to another download: delete it to start again",
        receive::saved_path(&folder, parsed.id).display()
    );
    let token = SecretString::new(link_state.download_token.dangerously_expose().to_owned());
    let receipt = wire::ReceiptRequest {
        download_token: SecretString::new(token.dangerously_expose().to_owned()),
        receipt: key
            .receipt_key()
            .receipt(&parsed.id, &link_state.receipt_nonce),
    };
    let chunks = relay.with_auth(Auth::Bearer(token));
    let source = Source {
        relay: &chunks,
        prefix: format!("/api/links/{}", parsed.id),
    };
    let files = receive::download(&source, &key, &manifest, &folder, &mut saved, progress).await?;
    // Every file is saved: the receipt tells the sender it was delivered.
    // The receipt may be sent again (the relay keeps the first): tried like a chunk.
    let receipt_path = format!("/api/links/{}/receipt", parsed.id);
    let delivered = relay
        .with_retries(|| {
            relay
                .request(reqwest::Method::POST, &receipt_path)
                .json(&receipt)
        })
        .await
        .is_ok();
    if !delivered {
        say(
            "Every file is saved, but the relay did not take the receipt: the sender may not see it delivered.",
        );
    }
    receive::forget(&folder, parsed.id)?;
    Ok(Opened {
        id: parsed.id,
        folder,
        files,
        note: manifest.note.clone(),
        delivered,
    })
}

/// `GET` the link's facts, ask the OTP, `POST` the proof: the bundle key and manifest.
async fn open_link(
    relay: &Relay,
    link: &ParsedLink,
    otp: &secrets::Source<'_>,
    say: &impl Fn(&str),
) -> anyhow::Result<(SavedLink, Manifest)> {
    let info: wire::LinkInfo = relay
        .get(&format!("/api/links/{}", link.id))
        .await
        .context("reading the link")?;
    say(&format!(
        "From {}{}: {} file(s), {} bytes at most; {} open(s) and {} tries left.",
        info.organisation,
        if info.organisation_verified {
            " (verified)"
        } else {
            " (NOT verified)"
        },
        info.files,
        info.size,
        info.opens_left,
        info.attempts_left
    ));
    if let Some(invoice) = &info.invoice {
        say(&format!(
            "Payment asked: {} {} ({}), {}.",
            shared::money::format_amount(invoice.amount_minor, invoice.currency),
            invoice.currency.code(),
            invoice.description,
            crate::output::word(&invoice.status)
        ));
    }
    info.kdf
        .check_client_floor()
        .context("the link asks for weaker password hashing than this client accepts")?;
    let otp = secrets::read(otp, "one-time password")?;
    let passphrase = Passphrase::new(otp.as_str().to_owned());
    let secret = LinkSecret::dangerously_from_bytes(*link.secret.dangerously_expose_bytes());
    let (id, salt, kdf) = (link.id, info.otp_salt, info.kdf);
    let keys = tokio::task::spawn_blocking(move || {
        derive_link_keys(&secret, &passphrase, &salt, &id, &kdf)
    })
    .await??;
    let opened: wire::OpenLinkResponse = relay
        .post(
            &format!("/api/links/{}/open", link.id),
            &wire::OpenLinkRequest {
                proof: (*keys.proof.dangerously_expose_bytes()).into(),
            },
        )
        .await
        .map_err(|error| match error.downcast_ref::<crate::http::Refusal>() {
            Some(refusal) if refusal.status == 402 => anyhow::anyhow!(
                "{refusal}\nThis link asks for payment before it opens: open it in a browser to \
                 pay (or ask the sender how to), then run this command again."
            ),
            _ => error,
        })?;
    let key = keys
        .link_key
        .unwrap(&opened.wrapped_key)
        .context("the link's key does not open: it was changed")?;
    let manifest =
        Manifest::open(&key, &opened.manifest).context("the link's file list does not open")?;
    Ok((
        SavedLink {
            key: SecretString::new(shared::encoding::encode(key.dangerously_expose_bytes())),
            manifest: opened.manifest,
            download_token: opened.download_token,
            token_expires_at: opened.token_expires_at,
            receipt_nonce: opened.receipt_nonce,
        },
        manifest,
    ))
}

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
