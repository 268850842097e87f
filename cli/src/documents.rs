//! Documents and requests from the command line: the inbox, reading a document with the
//! person's own private key, making a request (by link or to an organisation), and answering a
//! request by link as its provider, encrypting to exactly the keys the link names.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use shared::crypto::{
    BundleKey, Fingerprint, Manifest, ManifestFile, OsRng, RequestFragment, RequestSecret,
    UserPublicKey, derive_request_keys,
};
use shared::ids::Id;
use shared::secret::SecretString;
use shared::wire;
use zeroize::Zeroizing;

use crate::account::Person;
use crate::http::{Auth, Relay};
use crate::progress::Progress;
use crate::receive::{self, Saved, Source};
use crate::send::{self, Outgoing};

/// What `document get` saved.
#[derive(Debug, serde::Serialize)]
pub struct Fetched {
    pub id: Id,
    pub folder: PathBuf,
    pub files: Vec<PathBuf>,
    pub note: Option<String>,
}

/// Reads document `id` as `person` into `folder` (resumable, like a link).
pub async fn get(
    person: &Person,
    id: Id,
    folder: Option<&Path>,
    progress: &Progress,
) -> anyhow::Result<Fetched> {
    let opened: wire::OpenDocumentResponse = person
        .relay
        .get(&format!("/api/documents/{id}/key"))
        .await
        .context("reading the document's key")?;
    let key = person
        .private_key
        .unwrap(&opened.wrapped_key)
        .context("the document's key does not open with your private key")?;
    let manifest = Manifest::open(&key, &opened.manifest)
        .context("the document's file list does not open: it was changed")?;
    let folder = folder
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(format!("sealpost-{id}")));
    receive::make_folder(&folder)?;
    let _lock = receive::lock(&folder, id)?;
    let mut saved = match receive::load(&folder, id)? {
        Some(saved) if saved.names.len() == manifest.files.len() => saved,
        Some(_) => anyhow::bail!(
            "{} belongs to another download: delete it to start again",
            receive::saved_path(&folder, id).display()
        ),
        None => {
            let names = receive::choose_names(&folder, &manifest);
            let saved = Saved {
                id,
                finished: vec![false; names.len()],
                synced: vec![0; names.len()],
                names,
                link: None,
            };
            receive::store(&folder, &saved)?;
            saved
        }
    };
    let source = Source {
        relay: &person.relay,
        prefix: format!("/api/documents/{id}"),
    };
    let files = receive::download(&source, &key, &manifest, &folder, &mut saved, progress).await?;
    receive::forget(&folder, id)?;
    Ok(Fetched {
        id,
        folder,
        files,
        note: manifest.note.clone(),
    })
}

/// A request made: its id and, for a request by link, the link to hand to the provider.
#[derive(serde::Serialize)]
pub struct MadeRequest {
    pub id: Id,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

impl std::fmt::Debug for MadeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MadeRequest")
            .field("id", &self.id)
            .field("link", &self.link.as_ref().map(|_| "<secret>"))
            .finish()
    }
}

/// Asks for documents: from an organisation on this relay (`to`), or from anyone holding the
/// link this answers.
pub async fn create_request(
    relay: &Relay,
    to: Option<&str>,
    provider_email: Option<String>,
    description: String,
    due_at: i64,
) -> anyhow::Result<MadeRequest> {
    let secret = to.is_none().then(|| RequestSecret::generate(&mut OsRng));
    let target = match (&secret, to) {
        (Some(secret), _) => wire::RequestTarget::Link {
            upload_verifier: derive_request_keys(secret).upload_verifier(),
            provider_email,
        },
        (None, Some(handle)) => wire::RequestTarget::Organisation {
            handle: handle.trim().to_owned(),
        },
        (None, None) => anyhow::bail!("a request goes to an organisation or by link"),
    };
    let created: wire::CreateRequestResponse = relay
        .post(
            "/api/requests",
            &wire::CreateRequestRequest {
                target,
                description,
                due_at,
                authorization: None,
            },
        )
        .await
        .context("making the request")?;
    let link = match secret {
        Some(secret) => {
            let fingerprints = fingerprints(&created.readers)?;
            let fragment = RequestFragment {
                secret,
                key_set_digest: Fingerprint::set_digest(&fingerprints),
            };
            Some(format!(
                "{}/r/{}#{}",
                relay.base(),
                created.id,
                fragment.encode().as_str()
            ))
        }
        None => None,
    };
    Ok(MadeRequest {
        id: created.id,
        link,
    })
}

/// What answering a request sent.
#[derive(Debug, serde::Serialize)]
pub struct Answered {
    pub request: Id,
    pub document: Id,
    pub to: Vec<String>,
}

/// Answers the request by link `link` with `files`, as a provider without an account.
pub async fn answer_request(
    link: &str,
    files: &[Outgoing],
    note: Option<String>,
    progress: &Progress,
    say: impl Fn(&str),
) -> anyhow::Result<Answered> {
    let (address, fragment) = link
        .trim()
        .split_once('#')
        .context("the request link has no secret (the part after #): copy the whole link")?;
    let (base, id) = address
        .rsplit_once("/r/")
        .context("this is not a Sealpost request link (no /r/ in it)")?;
    let id = Id::parse(id.trim_end_matches('/')).context("the request link's id is damaged")?;
    let fragment =
        RequestFragment::decode(fragment).context("the request link's secret is damaged")?;
    let token = Zeroizing::new(
        derive_request_keys(&fragment.secret)
            .upload_token()
            .to_string(),
    );
    let relay = Relay::new(base, Auth::None)?;
    let view: wire::LinkRequestView = crate::http::json(
        relay
            .request(reqwest::Method::GET, &format!("/api/requests/{id}/link"))
            .header("X-Upload-Token", token.as_str()),
    )
    .await
    .context("reading the request")?;
    say(&format!(
        "{} of {}{} asks: {}",
        view.requester,
        view.organisation,
        if view.organisation_verified {
            " (verified)"
        } else {
            " (NOT verified)"
        },
        view.description
    ));
    anyhow::ensure!(!files.is_empty(), "name at least one file to send");
    // Encrypt only to the keys the link names: a relay that serves others is refused before
    // anything is reserved, and again for the readers the reservation names.
    let same_keys = |readers: &[wire::KeyHolder]| -> anyhow::Result<()> {
        anyhow::ensure!(
            Fingerprint::set_digest(&fingerprints(readers)?) == fragment.key_set_digest,
            "the relay names other readers than the link was made for: nothing was sent"
        );
        Ok(())
    };
    same_keys(&view.readers)?;
    let key = BundleKey::generate(&mut OsRng);
    let mut entries = Vec::new();
    for file in files {
        entries.push(ManifestFile::new(
            file.name.clone(),
            send::mime_of(&file.name).to_owned(),
            file.size,
            &mut OsRng,
        )?);
    }
    let created: wire::DocumentCreated = crate::http::json(
        relay
            .request(reqwest::Method::POST, &format!("/api/requests/{id}/fulfil"))
            .header("X-Upload-Token", token.as_str())
            .json(&wire::FulfilRequest {
                files: entries.iter().map(ManifestFile::stream_size).collect(),
                invoice: None,
            }),
    )
    .await
    .context("reserving the answer")?;
    same_keys(&created.readers)?;
    let upload_token = created
        .upload_token
        .as_ref()
        .context("the relay gave no upload token")?;
    let uploader = relay.with_auth(Auth::Bearer(SecretString::new(
        upload_token.dangerously_expose().to_owned(),
    )));
    progress.start(entries.iter().map(ManifestFile::stream_size).sum());
    let prefix = format!("/api/documents/{}", created.id);
    send::upload(&uploader, &prefix, &key, files, &entries, progress).await?;
    let mut wrapped = Vec::new();
    for holder in &created.readers {
        let public = UserPublicKey::from_spki_der(&holder.public_key)?;
        wrapped.push(wire::ReaderKey {
            user: holder.user,
            wrapped_key: public.wrap(&key, &mut OsRng)?,
        });
    }
    let manifest = Manifest::new(entries, note).seal(&key, &mut OsRng)?;
    let _: wire::DocumentView = uploader
        .post(
            &format!("{prefix}/finalize"),
            &wire::FinalizeDocumentRequest {
                readers: wrapped,
                manifest,
                link_wrapped_key: None,
            },
        )
        .await
        .context("finalizing the answer")?;
    progress.finish();
    Ok(Answered {
        request: id,
        document: created.id,
        to: created
            .readers
            .iter()
            .map(|holder| format!("{} <{}>", holder.name, holder.email))
            .collect(),
    })
}

fn fingerprints(readers: &[wire::KeyHolder]) -> anyhow::Result<Vec<Fingerprint>> {
    readers
        .iter()
        .map(|holder| {
            UserPublicKey::from_spki_der(&holder.public_key)
                .map(|key| key.fingerprint())
                .context("the relay served a damaged public key")
        })
        .collect()
}
