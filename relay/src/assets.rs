//! Serves the client that `build.rs` embedded into the binary: hashed files
//! (`name-<hash>.ext`) with a year of immutable caching, everything else (`index.html`, the web
//! manifest, the boot script) with `no-cache` and a strong ETag. Client routes such as
//! `/l/<id>` fall back to `index.html`; a missing file with an extension is a plain 404, and
//! nothing under `/api/` ever reaches this module. Text and WebAssembly go out as `build.rs`
//! compressed them (brotli, else gzip, as the request's `Accept-Encoding` allows, else as they
//! are); nothing is compressed on a request.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;

use crate::state::AppState;

/// One embedded file (generated table in `OUT_DIR/assets.rs`).
#[derive(Debug)]
pub struct Asset {
    pub path: &'static str,
    pub bytes: &'static [u8],
    /// The same bytes compressed with brotli, where that saves at least a tenth.
    pub brotli: Option<&'static [u8]>,
    /// The same bytes compressed with gzip, where that saves at least a tenth.
    pub gzip: Option<&'static [u8]>,
    pub content_type: &'static str,
    pub immutable: bool,
    /// Hex digits from the file's SHA-256; each encoding's ETag adds its own suffix.
    pub etag: &'static str,
}

/// How a file goes out: as it is, or compressed (`Content-Encoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Identity,
    Brotli,
    Gzip,
}

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// The scope of the client's download service worker (`public/download-worker.js`).
const DOWNLOADS: &str = "/_download/";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

pub fn router() -> Router<AppState> {
    Router::new().fallback(any(serve))
}

async fn serve(method: Method, uri: axum::http::Uri, headers: HeaderMap) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return (StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n").into_response();
    }
    let path = uri.path();
    if path == "/api" || path.starts_with("/api/") {
        let mut response = crate::error::AppError::NoRoute.into_response();
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
    let accepted = request_headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    let (encoding, bytes) = choose(asset, &accepted);
    // A strong ETag names one representation: each encoding has its own.
    let etag = format!(
        "\"{}{}\"",
        asset.etag,
        match encoding {
            Encoding::Identity => "",
            Encoding::Brotli => "-br",
            Encoding::Gzip => "-gz",
        }
    );
    let not_modified = request_headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == etag));
    let mut builder = Response::builder()
        .header(header::CACHE_CONTROL, HeaderValue::from_static(cache))
        .header(
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        );
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        builder = builder.header(header::ETAG, etag);
    }
    if asset.brotli.is_some() || asset.gzip.is_some() {
        builder = builder.header(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    match encoding {
        Encoding::Identity => {}
        Encoding::Brotli => {
            builder = builder.header(header::CONTENT_ENCODING, HeaderValue::from_static("br"));
        }
        Encoding::Gzip => {
            builder = builder.header(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
    }
    if not_modified {
        builder = builder.status(StatusCode::NOT_MODIFIED);
        return builder.body(Body::empty()).unwrap_or_default();
    }
    let body = if head_only {
        Body::empty()
    } else {
        Body::from(bytes)
    };
    builder
        .status(StatusCode::OK)
        .body(body)
        .unwrap_or_default()
}

/// Brotli where the client accepts it, else gzip, else the bytes as they are. `q=0` refuses an
/// encoding (RFC 9110 12.5.3); `*` stands for any encoding not named.
fn choose(asset: &'static Asset, accept_encoding: &str) -> (Encoding, &'static [u8]) {
    let accepts = |name: &str| {
        let mut named = None;
        let mut any = None;
        for item in accept_encoding.split(',') {
            let mut parts = item.split(';');
            let token = parts.next().unwrap_or("").trim();
            let weight = parts
                .filter_map(|param| param.trim().strip_prefix("q="))
                .filter_map(|q| q.trim().parse::<f32>().ok())
                .next_back()
                .unwrap_or(1.0);
            if token.eq_ignore_ascii_case(name) {
                named = Some(weight > 0.0);
            } else if token == "*" {
                any = Some(weight > 0.0);
            }
        }
        named.or(any).unwrap_or(false)
    };
    if let Some(bytes) = asset.brotli.filter(|_| accepts("br")) {
        return (Encoding::Brotli, bytes);
    }
    if let Some(bytes) = asset.gzip.filter(|_| accepts("gzip")) {
        return (Encoding::Gzip, bytes);
    }
    (Encoding::Identity, asset.bytes)
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

    static PACKED: Asset = Asset {
        path: "/app.wasm",
        bytes: b"plain",
        brotli: Some(b"br"),
        gzip: Some(b"gz"),
        content_type: "application/wasm",
        immutable: true,
        etag: "00",
    };

    #[test]
    fn the_encoding_follows_accept_encoding_and_its_weights() {
        let chosen = |header: &str| choose(&PACKED, header).0;
        assert_eq!(chosen("gzip, deflate, br, zstd"), Encoding::Brotli);
        assert_eq!(chosen("gzip, deflate"), Encoding::Gzip);
        assert_eq!(chosen("GZIP"), Encoding::Gzip);
        assert_eq!(chosen(""), Encoding::Identity);
        assert_eq!(chosen("identity"), Encoding::Identity);
        assert_eq!(chosen("br;q=0, gzip;q=0.5"), Encoding::Gzip);
        assert_eq!(chosen("br;q=0, gzip;q=0"), Encoding::Identity);
        assert_eq!(chosen("*"), Encoding::Brotli);
        assert_eq!(chosen("*, br;q=0"), Encoding::Gzip);
        assert_eq!(chosen("br;q=not-a-number"), Encoding::Brotli);
        let plain = Asset {
            brotli: None,
            gzip: None,
            ..PACKED
        };
        let plain: &'static Asset = Box::leak(Box::new(plain));
        assert_eq!(
            choose(plain, "br, gzip"),
            (Encoding::Identity, &b"plain"[..])
        );
    }

    #[test]
    fn files_and_routes_are_told_apart() {
        assert!(looks_like_file("/client-0123456789abcdef.js"));
        assert!(looks_like_file("/icons/icon-192.png"));
        assert!(!looks_like_file("/l/AAAAAAAAAAAAAAAAAAAAAA"));
        assert!(!looks_like_file("/"));
    }
}
