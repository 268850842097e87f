//! Online backups of a data directory, and restoring them (`admin backup`, `admin backup
//! verify`, `admin restore`).
//!
//! **One moment, while the relay serves.** Every change the store makes passes the snapshot
//! gate (`durability::admit`); a backup holds the gate only while it copies the database's
//! trees into a snapshot folder inside the data directory and hard-links every bundle file
//! next to them (bundle files are only ever replaced by a rename or deleted, never written in
//! place, so a hard link keeps the content of that moment whatever happens to the original).
//! Then changes flow again and the archive is written from the snapshot, which is removed.
//! What the copy holds is therefore exactly what a crash at that moment would have left, and
//! the relay already recovers from any such moment (an upload half done is unfinished and
//! swept; a record whose bundle folder is gone reads as ended).
//!
//! **The archive** is a tar file (readable with `tar tvf`): `sealpost-backup/db/<tree name in
//! hex>` (each tree's records as length-prefixed key and value), `sealpost-backup/blobs/<bundle
//! id>/<file>` (key material, and the chunks when they are files), and last
//! `sealpost-backup/MANIFEST.json`: the format, the relay version and schema, where the chunks
//! are, the audit log's length and last hash, and the size and SHA-256 of every other entry.
//! It holds only what the relay holds: ciphertext and metadata, never a document's key. It
//! does hold the server secret and the TOTP secrets of accounts with a second factor, so it is
//! written with mode 0600 and must be kept as the data directory is.
//!
//! With chunks in an S3 bucket only the data directory is archived (metadata and key
//! material); the bucket is backed up by the store's own means.
//!
//! **Restore** writes into an empty folder only, checks every entry against the manifest while
//! it writes (a damaged backup is refused, naming the entry, and leaves nothing behind),
//! rebuilds the database, opens it as a relay would (moving an older schema forward) and walks
//! the audit chain, which must verify and end where the manifest says.

use std::io::{BufReader, BufWriter, Read, Write as _};
use std::path::{Component, Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::durability::{self, sync_folder};
use super::{SCHEMA_VERSION, Store};
use crate::audit::{AuditEntry, verify_chain};

/// The archive format this relay writes and reads.
pub const FORMAT: u32 = 1;
const ROOT: &str = "sealpost-backup";
const MANIFEST: &str = "MANIFEST.json";
const AUDIT_TREE: &str = "audit";

/// What a backup holds, written last in the archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub relay_version: String,
    pub schema_version: u32,
    /// Unix time the snapshot was taken.
    pub created_at: i64,
    /// `files`, or the `s3://bucket/prefix` the chunks stay in.
    pub chunks_at: String,
    /// Entries in the audit log, and the hash of the last one (hex).
    pub audit_entries: u64,
    pub audit_head: Option<String>,
    /// Every other entry of the archive, in order.
    pub files: Vec<FileSum>,
}

/// One entry's path inside `sealpost-backup/`, its size and SHA-256 (hex).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSum {
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

/// What a backup did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackupReport {
    pub path: PathBuf,
    /// Bytes of the archive.
    pub archive_bytes: u64,
    /// Entries besides the manifest, and their bytes.
    pub files: usize,
    pub bytes: u64,
    pub bundles: usize,
    pub audit_entries: u64,
    /// How long changes were held back for the copy.
    pub paused_ms: u64,
    pub seconds: f64,
}

/// What a verification or a restore found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckReport {
    pub manifest: ManifestSummary,
    pub files: usize,
    pub bytes: u64,
    pub audit_entries: u64,
    pub seconds: f64,
}

impl CheckReport {
    fn of(manifest: &Manifest, sums: &[FileSum], audit_entries: u64, started: Instant) -> Self {
        Self {
            manifest: ManifestSummary::from(manifest),
            files: sums.len(),
            bytes: sums.iter().map(|sum| sum.bytes).sum(),
            audit_entries,
            seconds: started.elapsed().as_secs_f64(),
        }
    }
}

/// The manifest without its file list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestSummary {
    pub relay_version: String,
    pub schema_version: u32,
    pub created_at: i64,
    pub chunks_at: String,
}

impl From<&Manifest> for ManifestSummary {
    fn from(manifest: &Manifest) -> Self {
        Self {
            relay_version: manifest.relay_version.clone(),
            schema_version: manifest.schema_version,
            created_at: manifest.created_at,
            chunks_at: manifest.chunks_at.clone(),
        }
    }
}

/// The prefix of a backup's snapshot folder inside the data directory.
const SNAPSHOT_PREFIX: &str = ".backup-";

/// Removes snapshot folders a backup interrupted by a crash left in `data_dir`.
pub(super) fn remove_stale_snapshots(data_dir: &Path) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(data_dir)
        .with_context(|| format!("while listing {}", data_dir.display()))?
    {
        let entry = entry?;
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with(SNAPSHOT_PREFIX)
            && entry.file_type()?.is_dir()
        {
            std::fs::remove_dir_all(entry.path()).with_context(|| {
                format!(
                    "while removing the stale backup snapshot {}",
                    entry.path().display()
                )
            })?;
        }
    }
    Ok(())
}

/// A folder removed (with everything in it) when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A reader that hashes what passes through it.
struct Hashing<R> {
    inner: R,
    hash: Sha256,
    bytes: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.hash.update(&buf[..read]);
        self.bytes += read as u64;
        Ok(read)
    }
}

impl<R> Hashing<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            hash: Sha256::new(),
            bytes: 0,
        }
    }

    fn sum(self, path: String) -> FileSum {
        FileSum {
            path,
            bytes: self.bytes,
            sha256: hex::encode(self.hash.finalize()),
        }
    }
}

impl Store {
    /// Writes a backup of this store to `target` (see the module). Safe while the relay
    /// serves: changes wait only while the database is copied and the files hard-linked.
    pub fn backup_blocking(&self, target: &Path, now: i64) -> anyhow::Result<BackupReport> {
        let started = Instant::now();
        let data_dir = self
            .blobs
            .parent()
            .context("the bundle folder has no data directory")?
            .to_path_buf();
        let mut nonce = [0_u8; 8];
        rand_core::RngCore::fill_bytes(&mut shared::crypto::OsRng, &mut nonce);
        let snapshot = Scratch(data_dir.join(format!("{SNAPSHOT_PREFIX}{}", hex::encode(nonce))));
        std::fs::create_dir(&snapshot.0)
            .with_context(|| format!("while creating {}", snapshot.0.display()))?;
        let chunks_at = self.chunks_wanted();
        let schema_version = self.stored_schema()?;
        let held = Instant::now();
        {
            let _hold = durability::hold_changes();
            let db_folder = snapshot.0.join("db");
            std::fs::create_dir(&db_folder)?;
            for name in self.db.tree_names() {
                let tree = self
                    .db
                    .open_tree(&name)
                    .context("while opening a tree to copy it")?;
                let path = db_folder.join(hex::encode(&name));
                let mut out = BufWriter::new(
                    std::fs::File::create(&path)
                        .with_context(|| format!("while creating {}", path.display()))?,
                );
                for item in tree.iter() {
                    let (key, value) = item.context("while reading the database")?;
                    write_record(&mut out, &key)?;
                    write_record(&mut out, &value)?;
                }
                out.flush()
                    .with_context(|| format!("while writing {}", path.display()))?;
            }
            link_tree(&self.blobs, &snapshot.0.join("blobs"))?;
        }
        let paused_ms = u64::try_from(held.elapsed().as_millis()).unwrap_or(u64::MAX);

        let mut entries = Vec::new();
        walk(&snapshot.0, &snapshot.0, &mut entries)?;
        entries.sort();
        let bundles = entries
            .iter()
            .filter_map(|path| path.strip_prefix("blobs/"))
            .filter_map(|rest| rest.split('/').next())
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        let (audit_entries, audit_head) =
            audit_of_dump(&snapshot.0.join("db").join(hex::encode(AUDIT_TREE)))?;

        let target_folder = target
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let file_name = target
            .file_name()
            .context("the backup needs a file name")?
            .to_string_lossy()
            .into_owned();
        let partial = Scratch(target_folder.join(format!(".{file_name}.part")));
        let file = {
            use std::os::unix::fs::OpenOptionsExt as _;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&partial.0)
                .with_context(|| format!("while creating {}", partial.0.display()))?
        };
        let mut archive = tar::Builder::new(BufWriter::new(file));
        let mut files = Vec::new();
        for path in &entries {
            let source = snapshot.0.join(path);
            let opened = std::fs::File::open(&source)
                .with_context(|| format!("while reading {}", source.display()))?;
            let size = opened.metadata()?.len();
            let mut header = header(size, now);
            let mut reader = Hashing::new(BufReader::new(opened));
            archive
                .append_data(&mut header, format!("{ROOT}/{path}"), &mut reader)
                .with_context(|| format!("while archiving {path}"))?;
            files.push(reader.sum(path.clone()));
        }
        let manifest = Manifest {
            format: FORMAT,
            relay_version: env!("CARGO_PKG_VERSION").to_owned(),
            schema_version,
            created_at: now,
            chunks_at,
            audit_entries,
            audit_head,
            files,
        };
        let text = serde_json::to_vec_pretty(&manifest).context("while writing the manifest")?;
        let mut header = header(text.len() as u64, now);
        archive
            .append_data(&mut header, format!("{ROOT}/{MANIFEST}"), text.as_slice())
            .context("while archiving the manifest")?;
        let file = archive
            .into_inner()
            .context("while finishing the archive")?
            .into_inner()
            .map_err(|error| error.into_error())
            .context("while writing the archive")?;
        file.sync_all().context("while syncing the archive")?;
        let archive_bytes = file.metadata()?.len();
        std::fs::rename(&partial.0, target)
            .with_context(|| format!("while moving the archive to {}", target.display()))?;
        sync_folder(target_folder)?;
        Ok(BackupReport {
            path: target.to_path_buf(),
            archive_bytes,
            files: manifest.files.len(),
            bytes: manifest.files.iter().map(|file| file.bytes).sum(),
            bundles,
            audit_entries,
            paused_ms,
            seconds: started.elapsed().as_secs_f64(),
        })
    }
}

fn header(size: u64, now: i64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_size(size);
    header.set_mode(0o600);
    header.set_mtime(u64::try_from(now).unwrap_or_default());
    header.set_entry_type(tar::EntryType::Regular);
    header
}

fn write_record(out: &mut impl std::io::Write, bytes: &[u8]) -> anyhow::Result<()> {
    let len = u32::try_from(bytes.len()).context("a record over 4 GiB")?;
    out.write_all(&len.to_be_bytes())?;
    out.write_all(bytes)?;
    Ok(())
}

/// The next length-prefixed record of a tree dump, `None` at its end.
fn read_record(input: &mut impl Read) -> anyhow::Result<Option<Vec<u8>>> {
    let mut len = [0_u8; 4];
    match input.read_exact(&mut len) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(error) => return Err(error.into()),
    }
    let len = u64::from(u32::from_be_bytes(len));
    // Read, not allocated up front: a damaged length cannot make it reserve 4 GiB.
    let mut bytes = Vec::new();
    input.take(len).read_to_end(&mut bytes)?;
    anyhow::ensure!(
        bytes.len() as u64 == len,
        "a tree dump ends inside a record"
    );
    Ok(Some(bytes))
}

/// Every key and value of a tree dump.
fn records(mut input: impl Read) -> impl Iterator<Item = anyhow::Result<(Vec<u8>, Vec<u8>)>> {
    std::iter::from_fn(move || match read_record(&mut input) {
        Ok(None) => None,
        Ok(Some(key)) => Some(match read_record(&mut input) {
            Ok(Some(value)) => Ok((key, value)),
            Ok(None) => Err(anyhow::anyhow!("a tree dump ends after a key")),
            Err(error) => Err(error),
        }),
        Err(error) => Some(Err(error)),
    })
}

/// Walks the audit log in a tree dump: its length and last hash, or the first break.
fn audit_chain(input: impl Read) -> anyhow::Result<(u64, Option<String>)> {
    let mut last = None;
    let mut failed = None;
    let entries = records(input).map_while(|record| match record {
        Ok((_, value)) => {
            let entry =
                serde_json::from_slice::<AuditEntry>(&value).map_err(|error| error.to_string());
            if let Ok(entry) = &entry {
                last = Some(hex::encode(entry.hash));
            }
            Some(entry)
        }
        Err(error) => {
            failed = Some(error);
            None
        }
    });
    let count = verify_chain(entries)
        .map_err(|error| anyhow::anyhow!("the audit chain is broken: {error}"))?;
    if let Some(error) = failed {
        return Err(error);
    }
    Ok((count, last))
}

fn audit_of_dump(path: &Path) -> anyhow::Result<(u64, Option<String>)> {
    match std::fs::File::open(path) {
        Ok(file) => audit_chain(BufReader::new(file)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok((0, None)),
        Err(error) => Err(error).with_context(|| format!("while reading {}", path.display())),
    }
}

/// Hard-links every committed file under `from` into `to` (folders made as needed;
/// temporaries of writes under way, `.<name>.<nonce>.part`, left out).
fn link_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("while creating {}", to.display()))?;
    for entry in
        std::fs::read_dir(from).with_context(|| format!("while listing {}", from.display()))?
    {
        let entry = entry?;
        let kind = entry.file_type()?;
        let name = entry.file_name();
        let target = to.join(&name);
        if kind.is_dir() {
            link_tree(&entry.path(), &target)?;
        } else if kind.is_file() && !name.to_string_lossy().starts_with('.') {
            std::fs::hard_link(entry.path(), &target)
                .with_context(|| format!("while linking {}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// Every file under `folder`, as a `/`-separated path from `root`.
fn walk(root: &Path, folder: &Path, found: &mut Vec<String>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(folder)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            walk(root, &entry.path(), found)?;
        } else {
            let path = entry.path();
            let relative = path
                .strip_prefix(root)?
                .to_string_lossy()
                .replace('\\', "/");
            found.push(relative);
        }
    }
    Ok(())
}

/// What an archive entry may be called: `db/<hex>`, `blobs/<bundle>/<file>` or the manifest.
fn entry_path(entry: &tar::Entry<'_, impl Read>) -> anyhow::Result<String> {
    let path = entry.path().context("an entry with an unreadable name")?;
    let shown = path.display().to_string();
    anyhow::ensure!(
        entry.header().entry_type() == tar::EntryType::Regular,
        "the backup is damaged: {shown} is not a plain file"
    );
    let mut parts = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => parts.push(
                part.to_str()
                    .with_context(|| format!("the backup is damaged: {shown} is not UTF-8"))?
                    .to_owned(),
            ),
            _ => anyhow::bail!("the backup is damaged: {shown} is not a plain relative path"),
        }
    }
    let fits = match parts
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [ROOT, MANIFEST] => true,
        [ROOT, "db", name] => hex::decode(name).is_ok(),
        [ROOT, "blobs", bundle, file] => {
            bundle.parse::<shared::ids::Id>().is_ok() && !file.starts_with('.')
        }
        _ => false,
    };
    anyhow::ensure!(
        fits,
        "the backup is damaged: {shown} is not an entry a backup holds"
    );
    Ok(parts[1..].join("/"))
}

/// Reads every entry of `archive`, handing each (but the manifest) to `each` with its path;
/// then checks the sums against the manifest, naming the first entry that differs.
fn read_archive(
    archive: &Path,
    mut each: impl FnMut(&str, &mut dyn Read) -> anyhow::Result<()>,
) -> anyhow::Result<(Manifest, Vec<FileSum>)> {
    let file = std::fs::File::open(archive)
        .with_context(|| format!("while opening the backup {}", archive.display()))?;
    let mut tar = tar::Archive::new(BufReader::new(file));
    let mut sums = Vec::new();
    let mut manifest = None;
    for entry in tar
        .entries()
        .with_context(|| format!("{} is not a backup (not a tar archive)", archive.display()))?
    {
        let mut entry =
            entry.with_context(|| format!("the backup {} is damaged", archive.display()))?;
        let path = entry_path(&entry)?;
        anyhow::ensure!(
            manifest.is_none(),
            "the backup is damaged: {path} follows the manifest"
        );
        if path == MANIFEST {
            let mut text = Vec::new();
            entry.read_to_end(&mut text)?;
            manifest = Some(
                serde_json::from_slice::<Manifest>(&text)
                    .context("the backup is damaged: its MANIFEST.json does not parse")?,
            );
            continue;
        }
        let mut reader = Hashing::new(&mut entry);
        each(&path, &mut reader)
            .with_context(|| format!("while reading {path} from the backup"))?;
        std::io::copy(&mut reader, &mut std::io::sink())?;
        sums.push(reader.sum(path));
    }
    let manifest =
        manifest.context("the backup is damaged or cut short: it has no MANIFEST.json")?;
    anyhow::ensure!(
        manifest.format == FORMAT,
        "the backup is of format {}, this relay reads format {FORMAT}",
        manifest.format
    );
    for expected in &manifest.files {
        let found = sums.iter().find(|sum| sum.path == expected.path);
        match found {
            None => anyhow::bail!("the backup is damaged: {} is missing", expected.path),
            Some(found) if found != expected => anyhow::bail!(
                "the backup is damaged: {} does not match its SHA-256 in the manifest",
                expected.path
            ),
            Some(_) => {}
        }
    }
    if let Some(extra) = sums
        .iter()
        .find(|sum| !manifest.files.iter().any(|file| file.path == sum.path))
    {
        anyhow::bail!(
            "the backup is damaged: {} is not in its manifest",
            extra.path
        );
    }
    Ok((manifest, sums))
}

/// Checks a backup without restoring it: every entry's SHA-256 against the manifest, and the
/// audit chain it holds.
pub fn verify(archive: &Path) -> anyhow::Result<CheckReport> {
    let started = Instant::now();
    let audit_path = format!("db/{}", hex::encode(AUDIT_TREE));
    let mut audit = None;
    let (manifest, sums) = read_archive(archive, |path, reader| {
        if path == audit_path {
            audit = Some(audit_chain(reader)?);
        }
        Ok(())
    })?;
    let (entries, head) = audit.unwrap_or((0, None));
    check_audit(&manifest, entries, head.as_deref())?;
    Ok(CheckReport::of(&manifest, &sums, entries, started))
}

fn check_audit(manifest: &Manifest, entries: u64, head: Option<&str>) -> anyhow::Result<()> {
    anyhow::ensure!(
        entries == manifest.audit_entries && head == manifest.audit_head.as_deref(),
        "the backup's audit log holds {entries} entries, its manifest says {}: it was cut short or rewritten",
        manifest.audit_entries
    );
    Ok(())
}

/// Restores `archive` into `data_dir`, which must be empty or not exist (see the module).
/// `blobs` is the configuration the restored relay will run with (where its chunks are).
pub fn restore(
    archive: &Path,
    data_dir: &Path,
    blobs: &crate::config::BlobsConfig,
) -> anyhow::Result<CheckReport> {
    let started = Instant::now();
    let existed = data_dir.exists();
    if existed {
        let mut entries = std::fs::read_dir(data_dir)
            .with_context(|| format!("while reading {}", data_dir.display()))?;
        anyhow::ensure!(
            entries.next().is_none(),
            "{} is not empty: restore only into an empty folder (or one that does not exist yet)",
            data_dir.display()
        );
    } else {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("while creating {}", data_dir.display()))?;
    }
    let restored = restore_into(archive, data_dir, blobs);
    if restored.is_err() {
        // Nothing half restored is left to be mistaken for a data directory.
        if existed {
            if let Ok(entries) = std::fs::read_dir(data_dir) {
                for entry in entries.flatten() {
                    let _ = std::fs::remove_dir_all(entry.path())
                        .or_else(|_| std::fs::remove_file(entry.path()));
                }
            }
        } else {
            let _ = std::fs::remove_dir_all(data_dir);
        }
    }
    let (manifest, sums, entries) = restored?;
    Ok(CheckReport::of(&manifest, &sums, entries, started))
}

fn restore_into(
    archive: &Path,
    data_dir: &Path,
    blobs: &crate::config::BlobsConfig,
) -> anyhow::Result<(Manifest, Vec<FileSum>, u64)> {
    let staging = Scratch(data_dir.join(".restore"));
    std::fs::create_dir_all(staging.0.join("db"))?;
    let blobs_folder = data_dir.join("blobs");
    std::fs::create_dir_all(&blobs_folder)?;
    let (manifest, sums) = read_archive(archive, |path, reader| {
        let target = match path.strip_prefix("blobs/") {
            Some(rest) => {
                let (bundle, _) = rest
                    .split_once('/')
                    .context("a bundle file without a folder")?;
                let folder = blobs_folder.join(bundle);
                if !folder.is_dir() {
                    std::fs::create_dir(&folder)?;
                }
                blobs_folder.join(rest)
            }
            None => staging.0.join(path),
        };
        let mut out = std::fs::File::create(&target)
            .with_context(|| format!("while creating {}", target.display()))?;
        std::io::copy(reader, &mut out)?;
        out.sync_all()?;
        Ok(())
    })?;
    anyhow::ensure!(
        manifest.schema_version <= SCHEMA_VERSION,
        "the backup holds schema version {}, newer than this relay's {SCHEMA_VERSION}: restore it with a relay at least as new as {}",
        manifest.schema_version,
        manifest.relay_version
    );
    for folder in std::fs::read_dir(&blobs_folder)? {
        sync_folder(&folder?.path())?;
    }
    sync_folder(&blobs_folder)?;
    {
        let db = sled::Config::new()
            .path(data_dir.join("db"))
            .open()
            .context("while creating the database")?;
        for dump in std::fs::read_dir(staging.0.join("db"))? {
            let dump = dump?;
            let name = hex::decode(dump.file_name().to_string_lossy().as_bytes())
                .context("a tree dump's name is not hex")?;
            let tree = db.open_tree(name)?;
            for record in records(BufReader::new(std::fs::File::open(dump.path())?)) {
                let (key, value) = record?;
                tree.insert(key, value)?;
            }
        }
        db.flush().context("while writing the database")?;
    }
    drop(staging);
    sync_folder(data_dir)?;
    // Opened as a relay opens it: an older schema moves forward, the chunks must be where the
    // configuration says; then the chain must verify and end where the manifest says.
    let store = Store::open_with(data_dir, blobs)?;
    let entries = match store.audit_verify()? {
        Ok(entries) => entries,
        Err(error) => anyhow::bail!("the restored audit chain is broken: {error}"),
    };
    let head = store.audit_last()?.map(|entry| hex::encode(entry.hash));
    check_audit(&manifest, entries, head.as_deref())?;
    drop(store);
    Ok((manifest, sums, entries))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_longer_than_its_dump_is_an_error_not_a_huge_allocation() {
        let mut dump: &[u8] = &[0xff, 0xff, 0xff, 0xff, 1, 2, 3];
        let error = read_record(&mut dump).expect_err("cut short");
        assert!(
            format!("{error:#}").contains("ends inside a record"),
            "{error:#}"
        );
        let mut whole: &[u8] = &[0, 0, 0, 2, 7, 8];
        assert_eq!(read_record(&mut whole).expect("a record"), Some(vec![7, 8]));
        assert_eq!(read_record(&mut whole).expect("the end"), None);
    }
}
