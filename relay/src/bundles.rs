//! When a bundle (a send or a document) expires, decided once for each kind: the API's
//! `live_send` and `live_document` (a link or document touched after its time) and the retention
//! sweep (the hourly pass) ask here, and end a bundle with the same compare-and-swap, so an
//! expiry the two race to make happens once. What follows an expiry (the audit entry, then the
//! deletion of the bundle's folder) stays with the caller. The sizes a bundle's chunks must
//! have are here too (`sealed_size`, `sealed_len`).

use shared::crypto::StreamLayout;
use shared::crypto::manifest::MAX_FILES;
use shared::ids::Id;
use shared::wire::DocumentStatus;

use crate::store::{DocumentRecord, SendRecord, SendState, Store};

/// Whether `send` is past its expiry and not ended yet (a link ready, or still uploading).
pub fn send_is_due(send: &SendRecord, now: i64) -> bool {
    matches!(send.state, SendState::Ready | SendState::Uploading) && now >= send.expires_at
}

/// Ends send `id` as expired if it is still due at the moment of the swap; answers whether this
/// call ended it and the record as it is now (`None`: no such send).
pub fn expire_send(store: &Store, id: Id, now: i64) -> anyhow::Result<Option<(bool, SendRecord)>> {
    store.update_send(id, |send| {
        if !send_is_due(send, now) {
            return false;
        }
        send.end(SendState::Expired, now);
        true
    })
}

/// Whether `document` is past its expiry and not ended yet (a ready document; an upload never
/// finished is abandoned by the sweep instead).
pub fn document_is_due(document: &DocumentRecord, now: i64) -> bool {
    document.state == DocumentStatus::Ready && now >= document.expires_at
}

/// Ends document `id` as expired if it is still due at the moment of the swap; answers whether
/// this call ended it and the record as it is now (`None`: no such document).
pub fn expire_document(
    store: &Store,
    id: Id,
    now: i64,
) -> anyhow::Result<Option<(bool, DocumentRecord)>> {
    store.update_document(id, |document| {
        if !document_is_due(document, now) {
            return false;
        }
        document.end(DocumentStatus::Expired, now);
        true
    })
}

/// The ciphertext size of a bundle of files of these stream (padded plaintext) sizes (1 to
/// `MAX_FILES`); why not, in words, if the sizes are no bundle.
pub fn sealed_size(files: &[u64]) -> Result<u64, String> {
    if files.is_empty() || files.len() > MAX_FILES {
        return Err(format!("a bundle carries 1 to {MAX_FILES} files"));
    }
    let mut total: u64 = 0;
    for size in files {
        total = total.saturating_add(layout_of(*size)?.sealed_size());
    }
    Ok(total)
}

/// The sealed length chunk `chunk` of file `file` must have.
pub fn sealed_len(files: &[u64], file: u32, chunk: u32) -> Result<usize, String> {
    let size = usize::try_from(file)
        .ok()
        .and_then(|index| files.get(index))
        .ok_or_else(|| format!("there is no file {file}"))?;
    let layout = layout_of(*size)?;
    if chunk >= layout.chunk_count() {
        return Err(format!(
            "file {file} has {} chunks; there is no chunk {chunk}",
            layout.chunk_count()
        ));
    }
    Ok(layout.sealed_len(chunk))
}

/// The chunk layout of one file's stream size.
pub fn layout_of(size: u64) -> Result<StreamLayout, String> {
    StreamLayout::for_size(size).map_err(|error| error.to_string())
}

/// For each of `files`, the chunks of bundle `id` stored at their full length (ascending): one
/// listing of the bundle's chunks, whatever the backend.
pub async fn whole_chunks(store: &Store, id: Id, files: &[u64]) -> anyhow::Result<Vec<Vec<u32>>> {
    let lengths = store.chunk_lengths(id).await?;
    let mut whole = Vec::with_capacity(files.len());
    for (file, size) in files.iter().enumerate() {
        let file = u32::try_from(file)?;
        let layout = layout_of(*size).map_err(anyhow::Error::msg)?;
        whole.push(
            (0..layout.chunk_count())
                .filter(|chunk| {
                    lengths.get(&(file, *chunk)).copied() == Some(layout.sealed_len(*chunk) as u64)
                })
                .collect(),
        );
    }
    Ok(whole)
}

/// The first chunk of `files` (file, chunk) that bundle `id` does not hold whole yet, if any.
pub async fn first_missing(
    store: &Store,
    id: Id,
    files: &[u64],
) -> anyhow::Result<Option<(u32, u32)>> {
    let lengths = store.chunk_lengths(id).await?;
    for (file, size) in files.iter().enumerate() {
        let file = u32::try_from(file)?;
        let layout = layout_of(*size).map_err(anyhow::Error::msg)?;
        for chunk in 0..layout.chunk_count() {
            if lengths.get(&(file, chunk)).copied() != Some(layout.sealed_len(chunk) as u64) {
                return Ok(Some((file, chunk)));
            }
        }
    }
    Ok(None)
}
