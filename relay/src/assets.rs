//! Serves the client that `build.rs` embedded into the binary: hashed files
//! (`name-<hash>.ext`) with a year of immutable caching, everything else (`index.html`, the web
//! manifest, the boot script) with `no-cache` and a strong ETag. Client routes such as
//! `/l/<id>` fall back to `index.html`; a missing file with an extension is a plain 404, and
//! nothing under `/api/` ever reaches this module.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use tower_http::compression::CompressionLayer;

use crate::AppState;

/// One embedded file (generated table in `OUT_DIR/assets.rs`).
#[derive(Debug)]
pub struct Asset {
    pub path: &'static str,
    pub bytes: &'static [u8],
    pub content_type: &'static str,
    pub immutable: bool,
    pub etag: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// The scope of the client's download service worker (`public/download-worker.js`).
const DOWNLOADS: &str = "/_download/";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

pub fn router() -> Router<AppState> {
    Router::new()
        .fallback(any(serve))
        .layer(CompressionLayer::new())
}

async fn serve(method: Method, uri: axum::http::Uri, headers: HeaderMap) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return (StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n").into_response();
    }
    let path = uri.path();
    if path == "/api" || path.starts_with("/api/") {
        let mut response = crate::AppError::NoRoute.into_response();
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        return response;
    }
    if path.starts_with(DOWNLOADS) {
        // Answered in the browser by the download worker; reaching the relay means the worker
        // was not running, and the app must not load into the page's hidden frame.
        return (
            StatusCode::NOT_FOUND,
            "downloads are made in your browser; go back to the page and save the file again\n",
        )
            .into_response();
    }
    let asset = match find(path) {
        Some(asset) => asset,
        None if looks_like_file(path) => {
            return (StatusCode::NOT_FOUND, "not found\n").into_response();
        }
        None => match find("/index.html") {
            Some(index) => index,
            None => {
                return (
                    StatusCode::NOT_FOUND,
                    "this relay was built without the web app; the API is under /api/\n",
                )
                    .into_response();
            }
        },
    };
    respond(asset, &headers, method == Method::HEAD)
}

/// `GET /.well-known/sealpost-client.sha256`: every embedded file's SHA-256 and route, one per
/// line (`sha256sum`'s format), so anyone can fetch each file and check what this relay serves
/// against a build of the same release (`.ci/client-digest`).
pub async fn client_files() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        CLIENT_FILES,
    )
        .into_response()
}

fn find(path: &str) -> Option<&'static Asset> {
    let path = if path == "/" { "/index.html" } else { path };
    ASSETS.iter().find(|asset| asset.path == path)
}

/// `/client-1234.js` or `/favicon.ico` name files; `/l/abc` or `/inbox` name app routes.
fn looks_like_file(path: &str) -> bool {
    path.rsplit('/')
        .next()
        .is_some_and(|last| last.contains('.'))
}

fn respond(asset: &'static Asset, request_headers: &HeaderMap, head_only: bool) -> Response {
    let cache = if asset.immutable {
        IMMUTABLE
    } else {
        REVALIDATE
    };
    let not_modified = request_headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == asset.etag));
    let mut builder = Response::builder()
        .header(header::CACHE_CONTROL, HeaderValue::from_static(cache))
        .header(header::ETAG, HeaderValue::from_static(asset.etag))
        .header(
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        );
    if not_modified {
        builder = builder.status(StatusCode::NOT_MODIFIED);
        return builder.body(Body::empty()).unwrap_or_default();
    }
    let body = if head_only {
        Body::empty()
    } else {
        Body::from(asset.bytes)
    };
    builder
        .status(StatusCode::OK)
        .body(body)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_digest_covers_every_embedded_file_as_listed() {
        use sha2::{Digest as _, Sha256};
        let mut bundle = Sha256::new();
        let lines: Vec<&str> = CLIENT_FILES.lines().collect();
        assert_eq!(lines.len(), ASSETS.len());
        for (line, asset) in lines.iter().zip(ASSETS) {
            let (hash, route) = line.split_once("  ").expect("hash and route");
            assert_eq!(route, asset.path);
            assert_eq!(hash, hex::encode(Sha256::digest(asset.bytes)));
            bundle.update(route.as_bytes());
            bundle.update(Sha256::digest(asset.bytes));
        }
        if !ASSETS.is_empty() {
            assert_eq!(hex::encode(bundle.finalize()), CLIENT_SHA256);
        }
    }

    #[test]
    fn files_and_routes_are_told_apart() {
        assert!(looks_like_file("/client-0123456789abcdef.js"));
        assert!(looks_like_file("/icons/icon-192.png"));
        assert!(!looks_like_file("/l/AAAAAAAAAAAAAAAAAAAAAA"));
        assert!(!looks_like_file("/"));
    }
}
