//! What every bundle upload and download shares at the edge, for Secure Send and documents
//! alike (the sizes themselves are `bundles`'): reading one uploaded chunk
//! (`application/octet-stream`, exactly that long), refusing a finalize until all chunks
//! arrived, answering a chunk (never cached), and destroying an ended bundle's files
//! (only once its end is durable, so a crash never leaves a live record without its files). It
//! does not decide who may upload or download; the endpoints do, before calling these.

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use shared::ids::Id;

use super::read_body;
use crate::error::AppError;
use crate::state::AppState;

/// The sealed length chunk `chunk` of file `file` must have (see `bundles::sealed_len`).
pub fn sealed_len(files: &[u64], file: u32, chunk: u32) -> Result<usize, AppError> {
    crate::bundles::sealed_len(files, file, chunk).map_err(AppError::Invalid)
}

/// Reads an uploaded chunk: `application/octet-stream` of exactly `expected` bytes.
pub async fn read_chunk(
    request: Request,
    expected: usize,
    file: u32,
    chunk: u32,
) -> Result<Bytes, AppError> {
    let is_octets = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value
                .trim()
                .eq_ignore_ascii_case("application/octet-stream")
        });
    if !is_octets {
        return Err(AppError::BadRequest(
            "a chunk must be sent as application/octet-stream".to_owned(),
        ));
    }
    let body = read_body(request, expected).await?;
    if body.len() != expected {
        return Err(AppError::Invalid(format!(
            "chunk {chunk} of file {file} must be {expected} bytes of ciphertext, got {}",
            body.len()
        )));
    }
    Ok(body)
}

/// For each of `files`, the chunks of bundle `id` stored whole (see `bundles::whole_chunks`).
pub async fn stored(state: &AppState, id: Id, files: &[u64]) -> Result<Vec<Vec<u32>>, AppError> {
    Ok(crate::bundles::whole_chunks(&state.store, id, files).await?)
}

/// Refuses a finalize until every chunk of `files` is stored for bundle `id`.
pub async fn all_stored(state: &AppState, id: Id, files: &[u64]) -> Result<(), AppError> {
    match crate::bundles::first_missing(&state.store, id, files).await? {
        None => Ok(()),
        Some((file, chunk)) => Err(AppError::Conflict(format!(
            "chunk {chunk} of file {file} has not arrived yet; upload it, then finalize"
        ))),
    }
}

/// Makes an ended bundle's record durable, then deletes its folder (key material and chunks).
/// A deletion that fails is logged and left to the sweep, which removes every folder whose
/// bundle ended; the record already says what is true (ended, nothing readable).
pub async fn destroy_files(state: &AppState, id: Id) -> Result<(), AppError> {
    state
        .store
        .commit()
        .await
        .map_err(crate::commit::unacknowledged)?;
    if let Err(error) = state.store.delete_chunks(id).await {
        tracing::error!(
            error = format!("{error:#}"),
            "an ended bundle's files could not be deleted; the sweep will retry"
        );
    }
    Ok(())
}

/// After a chunk was stored: if its bundle ended (or vanished) while the chunk was on its way,
/// the bundle's folder goes again and the upload is refused, so a late write never outlives
/// the bundle it belonged to.
pub async fn discard_if_ended(state: &AppState, id: Id, live: bool) -> Result<(), AppError> {
    if live {
        return Ok(());
    }
    if let Err(error) = state.store.delete_chunks(id).await {
        tracing::error!(
            error = format!("{error:#}"),
            "a late chunk of an ended bundle could not be deleted; the sweep will retry"
        );
    }
    Err(AppError::Gone {
        code: "upload_ended",
        message: "this upload was ended (revoked, expired or abandoned) while the chunk was on its way; nothing was kept",
    })
}

/// A sealed chunk as an answer: octets, never cached.
pub fn answer(bytes: Bytes) -> Response {
    let mut response = Body::from(bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
