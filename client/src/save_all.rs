//! Saving every file of an opened bundle with one click: into one folder the recipient picks
//! (File System Access API), or as one ZIP archive streamed through the download worker (files
//! stored, not compressed: they are mostly PDFs and scans, and the archive is written as fast as
//! it decrypts), built by the `zip` crate's streaming writer. Each file's progress and outcome
//! is reported as it happens. A file in a folder is saved when its own file closed; the files of
//! an archive are saved only when the browser has taken the archive's last byte, and a failure
//! anywhere discards the whole archive (the browser deletes a failed download), so none of its
//! files counts as saved. It never decides about the receipt (the page does, from the states).

use std::cell::RefCell;
use std::io::Write as _;
use std::rc::Rc;

use js_sys::{Object, Reflect, Uint8Array};
use shared::crypto::{BundleKey, Manifest};
use wasm_bindgen::JsValue;
use zip::write::SimpleFileOptions;

use crate::receive::{self, ChunkSource, ReceiveError, Sink};

/// Where "Save all" puts the files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveAllTo {
    /// One folder the recipient picks (File System Access API).
    Folder,
    /// One ZIP archive in the browser's downloads.
    Archive,
}

/// What happened to one file of the bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileEvent {
    /// Plaintext bytes done so far.
    Progress(u64),
    Saved,
    /// This file failed (damaged, refused or cancelled).
    Failed,
    /// Decrypted into an archive that was then discarded: not saved.
    Discarded,
}

/// Whether this browser lets the recipient pick a folder to write into.
pub fn can_pick_folder() -> bool {
    web_sys::window()
        .and_then(|window| Reflect::get(&window, &"showDirectoryPicker".into()).ok())
        .is_some_and(|value| value.is_function())
}

/// Saves every file of the bundle; `event(index, what)` reports each file. The error is the
/// first failure (in a folder, the other files are still saved).
pub async fn save_all(
    key: &BundleKey,
    manifest: &Manifest,
    source: &ChunkSource,
    to: SaveAllTo,
    archive_name: &str,
    event: impl Fn(usize, FileEvent),
) -> Result<(), ReceiveError> {
    let names = unique_names(manifest.files.iter().map(|file| file.name.as_str()));
    match to {
        SaveAllTo::Folder => to_folder(key, manifest, source, &names, &event).await,
        SaveAllTo::Archive => {
            let outcome = to_archive(key, manifest, source, &names, archive_name, &event).await;
            if outcome.is_err() {
                for index in 0..manifest.files.len() {
                    event(index, FileEvent::Discarded);
                }
            }
            outcome
        }
    }
}

/// File names that can live side by side in one folder or archive: no folders, no control
/// characters, no two alike (`report.pdf`, `report (2).pdf`). In a folder, a name already
/// taken there is numbered on, never overwritten.
pub fn unique_names<'a>(names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut taken = std::collections::HashSet::new();
    names
        .map(|name| {
            let clean: String = name
                .chars()
                .map(|c| match c {
                    '/' | '\\' | ':' => '_',
                    c if c.is_control() => '_',
                    c => c,
                })
                .collect();
            let clean = match clean.trim() {
                "" | "." | ".." => "file".to_owned(),
                trimmed => trimmed.to_owned(),
            };
            let mut candidate = clean.clone();
            let mut number = 2;
            while !taken.insert(candidate.to_lowercase()) {
                candidate = numbered(&clean, number);
                number += 1;
            }
            candidate
        })
        .collect()
}

async fn to_folder(
    key: &BundleKey,
    manifest: &Manifest,
    source: &ChunkSource,
    names: &[String],
    event: &impl Fn(usize, FileEvent),
) -> Result<(), ReceiveError> {
    let window = web_sys::window().ok_or_else(|| ReceiveError::Save("no window".into()))?;
    let options = Object::new();
    let _ = Reflect::set(&options, &"mode".into(), &"readwrite".into());
    let folder = receive::call(&window, "showDirectoryPicker", &[options.into()]).await?;
    let mut first_error = None;
    for (index, (file, name)) in manifest.files.iter().zip(names).enumerate() {
        let outcome = async {
            let name = free_name(&folder, name).await?;
            let create = Object::new();
            let _ = Reflect::set(&create, &"create".into(), &JsValue::TRUE);
            let handle = receive::call(
                &folder,
                "getFileHandle",
                &[name.as_str().into(), create.into()],
            )
            .await?;
            let mut sink = Sink::disk(&handle).await?;
            let file_index = file_index(index)?;
            let written = receive::decrypt_into(
                key,
                source,
                file,
                file_index,
                async |plain| sink.write(plain).await,
                |done| event(index, FileEvent::Progress(done)),
            )
            .await
            .and_then(|written| receive::check_length(file, written));
            match written {
                Ok(()) => sink.finish(&file.name, &file.mime).await,
                Err(error) => {
                    sink.abort(&error.to_string()).await;
                    Err(error)
                }
            }
        }
        .await;
        match outcome {
            Ok(()) => event(index, FileEvent::Saved),
            Err(error) => {
                event(index, FileEvent::Failed);
                first_error.get_or_insert(error);
            }
        }
    }
    first_error.map_or(Ok(()), Err)
}

async fn to_archive(
    key: &BundleKey,
    manifest: &Manifest,
    source: &ChunkSource,
    names: &[String],
    archive_name: &str,
    event: &impl Fn(usize, FileEvent),
) -> Result<(), ReceiveError> {
    let pending = Pending::default();
    let mut archive = zip::ZipWriter::new_stream(pending.clone()).set_auto_large_file();
    // The archive is a little larger than its files; their stream sizes bound it loosely.
    let bound = manifest
        .files
        .iter()
        .map(|file| file.stream_size() + 1024)
        .sum();
    let mut stream = Sink::download(archive_name, None, bound).await?;
    let zip_failed = |error: zip::result::ZipError| {
        ReceiveError::Save(format!("the archive could not be written: {error}"))
    };
    let modified = now_for_zip();
    for (index, (file, name)) in manifest.files.iter().zip(names).enumerate() {
        let options = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .last_modified_time(modified)
            .unix_permissions(0o644)
            .large_file(file.size >= u64::from(u32::MAX));
        let outcome = async {
            archive
                .start_file(name.as_str(), options)
                .map_err(zip_failed)?;
            pending.send(&mut stream).await?;
            let written = receive::decrypt_into(
                key,
                source,
                file,
                file_index(index)?,
                async |plain| {
                    archive
                        .write_all(&plain.to_vec())
                        .map_err(|error| ReceiveError::Save(error.to_string()))?;
                    pending.send(&mut stream).await
                },
                |done| event(index, FileEvent::Progress(done)),
            )
            .await?;
            receive::check_length(file, written)
        }
        .await;
        if let Err(error) = outcome {
            stream.abort(&error.to_string()).await;
            event(index, FileEvent::Failed);
            return Err(error);
        }
    }
    let closed = async {
        archive.finish().map_err(zip_failed)?;
        pending.send(&mut stream).await?;
        stream.finish(archive_name, "application/zip").await
    };
    closed.await?;
    for index in 0..manifest.files.len() {
        event(index, FileEvent::Saved);
    }
    Ok(())
}

/// The archive's bytes not yet handed to the download.
#[derive(Debug, Clone, Default)]
struct Pending(Rc<RefCell<Vec<u8>>>);

impl Pending {
    async fn send(&self, sink: &mut Sink) -> Result<(), ReceiveError> {
        let bytes = std::mem::take(&mut *self.0.borrow_mut());
        if bytes.is_empty() {
            return Ok(());
        }
        sink.write(Uint8Array::from(bytes.as_slice())).await
    }
}

impl std::io::Write for Pending {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `name`, or `name (2)`, `name (3)`, … : the first that is not a file in `folder` yet, so that
/// saving into a folder never overwrites what the recipient already had there.
async fn free_name(folder: &JsValue, name: &str) -> Result<String, ReceiveError> {
    for number in 1..=1000 {
        let candidate = if number == 1 {
            name.to_owned()
        } else {
            numbered(name, number)
        };
        // Without `create`, a missing file is a refusal: that name is free.
        if receive::call(folder, "getFileHandle", &[candidate.as_str().into()])
            .await
            .is_err()
        {
            return Ok(candidate);
        }
    }
    Err(ReceiveError::Save(format!(
        "the folder already holds a thousand files named like “{name}”"
    )))
}

/// `report.pdf` numbered 2 is `report (2).pdf`.
fn numbered(name: &str, number: u32) -> String {
    let (stem, extension) = match name.rfind('.') {
        Some(dot) if dot > 0 => (&name[..dot], &name[dot..]),
        _ => (name, ""),
    };
    format!("{stem} ({number}){extension}")
}

fn file_index(index: usize) -> Result<u32, ReceiveError> {
    u32::try_from(index).map_err(|_| ReceiveError::Save("no such file".into()))
}

/// This moment in the recipient's time zone, as ZIP stores times (two-second steps, from 1980).
fn now_for_zip() -> zip::DateTime {
    let now = js_sys::Date::new_0();
    let part = |value: u32| u8::try_from(value).unwrap_or(0);
    u16::try_from(now.get_full_year())
        .ok()
        .and_then(|year| {
            zip::DateTime::from_date_and_time(
                year,
                part(now.get_month() + 1),
                part(now.get_date()),
                part(now.get_hours()),
                part(now.get_minutes()),
                part(now.get_seconds()),
            )
            .ok()
        })
        .unwrap_or_default()
}
