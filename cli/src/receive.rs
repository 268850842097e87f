//! Opening a link and reading a document from the command line: the bundle key (from the link
//! secret and OTP, or unwrapped with the user's private key), the sealed manifest opened, and
//! each file's chunks fetched a few at a time, decrypted, stripped of padding and written as
//! they arrive to a hidden `.sealpost-<id>-<n>.part` in the output folder, linked to its name
//! only once its last chunk decrypted and the file is on disk. Nothing is ever overwritten: a
//! name already taken gets ` (2)`, ` (3)`…. One process at a time holds a download (a lock the
//! system releases when the process ends).
//!
//! **Resumable.** A download keeps its progress in `.sealpost-<id>.json` in the output folder
//! (owner-only): the names chosen, which files are done and, for a link, the bundle key and the
//! download token, because a second opening would spend another of the link's opens. Run the
//! same command again after an interruption and it goes on from the last chunk of each part
//! file known to be on disk (synced every `SYNC_EVERY` chunks, so a power cut leaves no zeros
//! behind; a chunk's nonce carries its index, so nothing can be moved across the break);
//! once the token expired (two hours by default), the link is opened again with the OTP if it
//! has opens left. The files go once everything is saved (and, for a link, the receipt sent).

use std::io::{Seek as _, Write as _};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use futures::StreamExt as _;
use serde::{Deserialize, Serialize};
use shared::crypto::{BundleKey, ChunkDecryptor, Manifest, SealedChunk, SealedManifest};
use shared::ids::Id;
use shared::secret::SecretString;
use zeroize::Zeroizing;

use crate::http::Relay;
use crate::progress::Progress;

/// Chunks fetched at once.
const IN_FLIGHT: usize = 4;

/// What a download keeps to go on after an interruption.
#[derive(Serialize, Deserialize)]
pub struct Saved {
    pub id: Id,
    /// Names in the output folder, one per file of the manifest.
    pub names: Vec<String>,
    pub finished: Vec<bool>,
    /// Per file, how many chunks are known to be on disk (synced): a resume keeps no more,
    /// whatever the part file's length says after a power cut.
    #[serde(default)]
    pub synced: Vec<u32>,
    /// A link's bundle key (base64url), its sealed manifest and its download token.
    #[serde(default)]
    pub link: Option<SavedLink>,
}

#[derive(Serialize, Deserialize)]
pub struct SavedLink {
    pub key: SecretString,
    pub manifest: SealedManifest,
    pub download_token: SecretString,
    pub token_expires_at: i64,
    #[serde(with = "shared::encoding::array")]
    pub receipt_nonce: [u8; 16],
}

impl std::fmt::Debug for Saved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Saved")
            .field("id", &self.id)
            .field("files", &self.names.len())
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for SavedLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SavedLink")
            .field("token_expires_at", &self.token_expires_at)
            .finish_non_exhaustive()
    }
}

impl SavedLink {
    pub fn bundle_key(&self) -> anyhow::Result<BundleKey> {
        let bytes = Zeroizing::new(shared::encoding::decode_array::<32>(
            self.key.dangerously_expose(),
        )?);
        Ok(BundleKey::dangerously_from_bytes(*bytes))
    }
}

/// Chunks written between two syncs of a part file and the progress file (16 MiB).
const SYNC_EVERY: u32 = 16;

/// The progress file of download `id` in `folder`.
pub fn saved_path(folder: &Path, id: Id) -> PathBuf {
    folder.join(format!(".sealpost-{id}.json"))
}

/// The progress of download `id` in `folder`, if one was interrupted there.
pub fn load(folder: &Path, id: Id) -> anyhow::Result<Option<Saved>> {
    let path = saved_path(folder, id);
    let damaged = || format!("{} is damaged: delete it to start again", path.display());
    match std::fs::read(&path) {
        Ok(bytes) => {
            let saved: Saved = serde_json::from_slice(&bytes).with_context(damaged)?;
            // Only names this client would have chosen, one state per file.
            let plain = saved
                .names
                .iter()
                .enumerate()
                .all(|(index, name)| *name == safe_name(name, index));
            anyhow::ensure!(
                saved.id == id
                    && plain
                    && saved.finished.len() == saved.names.len()
                    && saved.synced.len() <= saved.names.len(),
                damaged()
            );
            Ok(Some(saved))
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error).with_context(|| format!("reading {}", path.display())),
    }
}

pub fn store(folder: &Path, saved: &Saved) -> anyhow::Result<()> {
    crate::config::write_private(&saved_path(folder, saved.id), &serde_json::to_vec(saved)?)
}

/// Names for `manifest`'s files in `folder`: each made safe (no folder, no control
/// character, not `.` or `..`, not too long for a file system), and none taken already, on
/// disk or by an earlier file (compared without case, as macOS and Windows do).
pub fn choose_names(folder: &Path, manifest: &Manifest) -> Vec<String> {
    let mut chosen: Vec<String> = Vec::new();
    for (index, file) in manifest.files.iter().enumerate() {
        let safe = safe_name(&file.name, index);
        let candidate = free_name(&safe, |candidate| {
            chosen
                .iter()
                .any(|name| name.to_lowercase() == candidate.to_lowercase())
                || folder.join(candidate).exists()
        });
        chosen.push(candidate);
    }
    chosen
}

/// `name`, or `name (2)`, `name (3)`… (before the extension): the first one `taken` refuses.
pub fn free_name(name: &str, taken: impl Fn(&str) -> bool) -> String {
    let (stem, extension) = match name.rsplit_once('.') {
        Some((stem, extension)) if !stem.is_empty() => (stem, format!(".{extension}")),
        _ => (name, String::new()),
    };
    let mut candidate = name.to_owned();
    let mut counter = 2;
    while taken(&candidate) {
        candidate = format!("{stem} ({counter}){extension}");
        counter += 1;
    }
    candidate
}

/// The longest name kept, in bytes: file systems allow 255, and ` (12)` may be added.
const MAX_NAME_BYTES: usize = 180;

/// A file name from a manifest, which its sender chose: never a path, never hidden (so never
/// one of this client's own `.sealpost-…` files), at most `MAX_NAME_BYTES` bytes of UTF-8
/// (the extension kept).
pub fn safe_name(name: &str, index: usize) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '/' | '\\' | ':') {
                '_'
            } else {
                c
            }
        })
        .collect();
    let trimmed = cleaned.trim().trim_start_matches('.').trim();
    if trimmed.is_empty() {
        return format!("file-{}", index + 1);
    }
    if trimmed.len() <= MAX_NAME_BYTES {
        return trimmed.to_owned();
    }
    let extension = trimmed
        .rsplit_once('.')
        .map(|(_, extension)| extension)
        .filter(|extension| extension.len() <= 16)
        .map(|extension| format!(".{extension}"))
        .unwrap_or_default();
    let mut stem = String::new();
    for c in trimmed.chars() {
        if stem.len() + c.len_utf8() + extension.len() > MAX_NAME_BYTES {
            break;
        }
        stem.push(c);
    }
    format!("{stem}{extension}")
}

/// The lock file of download `id` (removed with the progress file).
pub fn lock_path(folder: &Path, id: Id) -> PathBuf {
    folder.join(format!(".sealpost-{id}.lock"))
}

/// Takes download `id`'s lock in `folder`, so that one process at a time opens, resumes and
/// writes it; held until the file returned is dropped (the system releases it when the
/// process ends, also when it is killed).
pub fn lock(folder: &Path, id: Id) -> anyhow::Result<std::fs::File> {
    let path = lock_path(folder, id);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    if file.try_lock().is_err() {
        anyhow::bail!(
            "another sealpost is downloading {id} into {}: let it finish",
            folder.display()
        );
    }
    Ok(file)
}

/// Removes download `id`'s progress and lock files once every file is saved.
pub fn forget(folder: &Path, id: Id) -> anyhow::Result<()> {
    std::fs::remove_file(saved_path(folder, id))?;
    let _ = std::fs::remove_file(lock_path(folder, id));
    sync_folder(folder);
    Ok(())
}

/// Where a file of download `id` is written until it is whole: hidden, named by the download
/// and the file's place in it, so it is never a file of this or another download.
pub fn part_path(folder: &Path, id: Id, index: usize) -> PathBuf {
    folder.join(format!(".sealpost-{id}-{index}.part"))
}

/// Makes `folder` (and its parents), readable by its owner only where it is created here.
pub fn make_folder(folder: &Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(folder)
        .with_context(|| format!("creating {}", folder.display()))
}

/// Where chunks come from: `<prefix>/files/{f}/chunks/{n}` on `relay` (authenticated).
#[derive(Debug)]
pub struct Source<'a> {
    pub relay: &'a Relay,
    pub prefix: String,
}

/// Downloads every file of `manifest` not yet finished into `folder`, updating `saved` (and
/// its file) as each one is done. Returns the paths of every file, in manifest order.
pub async fn download(
    source: &Source<'_>,
    key: &BundleKey,
    manifest: &Manifest,
    folder: &Path,
    saved: &mut Saved,
    progress: &Progress,
) -> anyhow::Result<Vec<PathBuf>> {
    saved.synced.resize(saved.names.len(), 0);
    let remaining: u64 = manifest
        .files
        .iter()
        .zip(&saved.finished)
        .filter(|(_, finished)| !**finished)
        .map(|(file, _)| file.size)
        .sum();
    progress.start(remaining);
    for (index, file) in manifest.files.iter().enumerate() {
        if saved.finished[index] {
            continue;
        }
        let part = part_path(folder, saved.id, index);
        let file_index = u32::try_from(index)?;
        let mut options = std::fs::OpenOptions::new();
        options.create(true).truncate(false).write(true);
        // Decrypted content: readable by its owner only.
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut output = options
            .open(&part)
            .with_context(|| format!("creating {}", part.display()))?;
        // Whole chunks already written (an earlier run): keep them, drop any partial one.
        let kept = output.metadata()?.len();
        let (mut next, mut written) = (0_u32, 0_u64);
        while next < file.chunks.min(saved.synced[index]) {
            let length = file.content_len(next) as u64;
            if written + length > kept || length == 0 {
                break;
            }
            written += length;
            next += 1;
        }
        output.set_len(written)?;
        output.seek(std::io::SeekFrom::Start(written))?;
        progress.advance(written);
        let mut decryptor = ChunkDecryptor::resume_at(
            &key.file_key(file_index),
            &file.nonce_prefix,
            file.stream_size(),
            next,
        )?;
        let layout = file.layout()?;
        let mut fetches = futures::stream::iter(next..file.chunks)
            .map(|chunk| {
                let path = format!("{}/files/{file_index}/chunks/{chunk}", source.prefix);
                let longest = layout.sealed_len(chunk);
                async move {
                    let bytes =
                        source.relay.fetch(&path, longest).await.with_context(|| {
                            format!("fetching chunk {chunk} of file {file_index}")
                        })?;
                    anyhow::Ok((chunk, bytes))
                }
            })
            .buffered(IN_FLIGHT);
        while let Some(fetched) = fetches.next().await {
            let (chunk, bytes) = fetched?;
            let opened = decryptor
                .decrypt_next(&SealedChunk::from_bytes(bytes))
                .with_context(|| {
                    format!("{} did not decrypt: it was changed", saved.names[index])
                })?;
            let content = file.strip_padding(chunk, opened.as_bytes())?;
            output
                .write_all(content)
                .with_context(|| format!("writing {}", part.display()))?;
            progress.advance(content.len() as u64);
            if (chunk + 1) % SYNC_EVERY == 0 {
                output.sync_data()?;
                saved.synced[index] = chunk + 1;
                store(folder, saved)?;
            }
        }
        drop(fetches);
        decryptor
            .finish()
            .with_context(|| format!("{} arrived incomplete", saved.names[index]))?;
        output.sync_all()?;
        drop(output);
        // Never over a file that appeared meanwhile (another download into this folder): a
        // hard link fails when the name is taken, and then the next free name is used.
        // File systems without hard links (FAT, exFAT, some shares) get a rename after a
        // check instead, which a file appearing in between could lose to.
        let mut name = saved.names[index].clone();
        loop {
            let target = folder.join(&name);
            match std::fs::hard_link(&part, &target) {
                Ok(()) => {
                    std::fs::remove_file(&part)?;
                    break;
                }
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                    name = free_name(&name, |candidate| folder.join(candidate).exists());
                }
                Err(_) if !target.exists() => {
                    std::fs::rename(&part, &target)
                        .with_context(|| format!("saving {}", target.display()))?;
                    break;
                }
                Err(_) => name = free_name(&name, |candidate| folder.join(candidate).exists()),
            }
        }
        saved.names[index] = name;
        saved.finished[index] = true;
        store(folder, saved)?;
    }
    sync_folder(folder);
    progress.finish();
    Ok(saved.names.iter().map(|name| folder.join(name)).collect())
}

/// Makes the renames in `folder` durable (where the platform allows opening a folder).
pub fn sync_folder(folder: &Path) {
    if let Ok(handle) = std::fs::File::open(folder) {
        let _ = handle.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_a_manifest_are_never_paths() {
        assert_eq!(safe_name("../../etc/passwd", 0), "_.._etc_passwd");
        assert_eq!(safe_name("..", 1), "file-2");
        assert_eq!(safe_name(".bashrc", 0), "bashrc");
        assert_eq!(safe_name("a\u{0}b\nc.pdf", 0), "a_b_c.pdf");
        assert_eq!(safe_name("C:\\x.pdf", 0), "C__x.pdf");
        assert_eq!(safe_name("", 4), "file-5");
        assert_eq!(safe_name("report.pdf", 0), "report.pdf");
        assert_eq!(safe_name(".sealpost-x-0.part", 0), "sealpost-x-0.part");
        // 300 bytes of three-byte characters: cut on a character, the extension kept.
        let long = format!("{}.pdf", "報".repeat(100));
        let cut = safe_name(&long, 0);
        assert!(
            cut.len() <= MAX_NAME_BYTES && cut.ends_with("報.pdf"),
            "{cut}"
        );
    }

    #[test]
    fn names_are_never_taken_twice_whatever_their_case() {
        let folder = tempfile::tempdir().expect("a folder");
        std::fs::write(folder.path().join("a.pdf"), b"kept").expect("written");
        let file = |name: &str| {
            shared::crypto::ManifestFile::new(
                name.to_owned(),
                "application/pdf".to_owned(),
                1,
                &mut shared::crypto::OsRng,
            )
            .expect("a file")
        };
        let manifest = Manifest::new(
            vec![
                file("a.pdf"),
                file("Report.pdf"),
                file("report.pdf"),
                file("a.part"),
            ],
            None,
        );
        assert_eq!(
            choose_names(folder.path(), &manifest),
            ["a (2).pdf", "Report.pdf", "report (2).pdf", "a.part"]
        );
    }
}
