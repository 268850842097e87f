//! The relay's HTTP surface without a network: security headers on every kind of response,
//! JSON errors for bad input and unknown API paths, caching classes of the embedded app, and
//! the client-route fallback. Each test has its own temporary sled store.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use axum::response::Response;
use http_body_util::BodyExt as _;
use shared::wire;

use super::support::{Relay as Harness, body_bytes, relay as harness, relay_with as harness_with};

async fn send(harness: &Harness, request: Request<Body>) -> Response {
    harness.send_request(request).await
}

async fn get(harness: &Harness, path: &str) -> Response {
    send(
        harness,
        Request::get(path).body(Body::empty()).expect("request"),
    )
    .await
}

async fn post(harness: &Harness, path: &str, content_type: &str, body: Vec<u8>) -> Response {
    let request = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .expect("request");
    send(harness, request).await
}

async fn error_body(response: Response) -> wire::ErrorResponse {
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(content_type, "application/json", "errors are JSON");
    serde_json::from_slice(&body_bytes(response).await).expect("an ErrorResponse")
}

fn assert_security_headers(response: &Response) {
    let headers = response.headers();
    let csp = headers
        .get(header::CONTENT_SECURITY_POLICY)
        .expect("CSP present")
        .to_str()
        .expect("ascii");
    assert!(
        csp.contains("script-src 'self' 'wasm-unsafe-eval'"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(headers["cross-origin-opener-policy"], "same-origin");
    assert!(
        headers["permissions-policy"]
            .to_str()
            .expect("ascii")
            .contains("camera=()")
    );
}

#[tokio::test]
async fn health_answers_versions_with_security_headers() {
    let harness = harness();
    let response = get(&harness, "/api/health").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_security_headers(&response);
    assert_eq!(
        response.headers()["cache-control"],
        "no-store",
        "API answers are never cached"
    );
    let health: wire::HealthResponse =
        serde_json::from_slice(&body_bytes(response).await).expect("health JSON");
    assert_eq!(health.status, "ok");
    assert_eq!(health.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(health.protocol, shared::PROTOCOL_VERSION);
    assert_eq!(health.client_sha256, relay::client_sha256());
}

#[tokio::test]
async fn unknown_api_paths_are_json_404_never_the_app() {
    let harness = harness();
    for path in [
        "/api/nope",
        "/api/",
        "/api",
        "/api/health/extra",
        "/api/l/abc",
    ] {
        let response = get(&harness, path).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert_security_headers(&response);
        assert_eq!(response.headers()["cache-control"], "no-store", "{path}");
        let body = error_body(response).await;
        assert_eq!(
            (body.code.as_str(), body.message.as_str()),
            ("no_route", "no such API route"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_wrong_method_on_an_api_route_is_a_json_405() {
    let harness = harness();
    let response = post(&harness, "/api/health", "application/json", b"{}".to_vec()).await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(error_body(response).await.code, "method_not_allowed");
}

#[tokio::test]
async fn csp_reports_are_accepted_and_bad_bodies_get_clear_json_errors() {
    let harness = harness();
    let report = br#"{"csp-report":{"document-uri":"http://x/","violated-directive":"script-src-elem","blocked-uri":"inline"}}"#;
    let response = post(
        &harness,
        "/api/csp-report",
        "application/csp-report",
        report.to_vec(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_security_headers(&response);

    let malformed = post(
        &harness,
        "/api/csp-report",
        "application/csp-report",
        b"{\"csp-report\":".to_vec(),
    )
    .await;
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_body(malformed).await.code, "malformed_json");

    let wrong_type = post(
        &harness,
        "/api/csp-report",
        "application/csp-report",
        br#"{"csp-report":5}"#.to_vec(),
    )
    .await;
    assert_eq!(wrong_type.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_body(wrong_type).await.code, "invalid_body");

    let oversize = vec![b' '; 64 * 1024];
    let too_large = post(
        &harness,
        "/api/csp-report",
        "application/csp-report",
        oversize,
    )
    .await;
    assert_eq!(too_large.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let error = error_body(too_large).await;
    assert_eq!(error.code, "payload_too_large");
    assert!(error.message.contains("16384"), "{}", error.message);
}

#[tokio::test]
async fn the_app_is_served_with_its_caching_classes_and_no_inline_script() {
    let harness = harness();
    let index = get(&harness, "/").await;
    if relay::client_sha256().is_empty() {
        // Built without a client: the relay says so instead of serving a blank page.
        assert_eq!(index.status(), StatusCode::NOT_FOUND);
        return;
    }
    assert_eq!(index.status(), StatusCode::OK);
    assert_security_headers(&index);
    assert_eq!(index.headers()[header::CACHE_CONTROL], "no-cache");
    let etag = index.headers()[header::ETAG].clone();
    let html = String::from_utf8(body_bytes(index).await).expect("utf-8");
    assert_no_inline_script(&html);

    let revalidated = send(
        &harness,
        Request::get("/")
            .header(header::IF_NONE_MATCH, etag)
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);

    let wasm = html
        .split('"')
        .find(|part| part.ends_with("_bg.wasm"))
        .expect("index names the wasm")
        .to_owned();
    let response = get(&harness, &wasm).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/wasm");
    assert_eq!(
        response.headers()[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );

    // Client routes fall back to the app; missing files do not.
    let route = get(&harness, "/l/AAAAAAAAAAAAAAAAAAAAAA").await;
    assert_eq!(route.status(), StatusCode::OK);
    assert_eq!(route.headers()[header::CACHE_CONTROL], "no-cache");
    let missing = get(&harness, "/missing-0123456789abcdef.js").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_security_headers(&missing);

    let manifest = get(&harness, "/manifest.webmanifest").await;
    assert_eq!(manifest.status(), StatusCode::OK);
    assert_eq!(
        manifest.headers()[header::CONTENT_TYPE],
        "application/manifest+json"
    );
}

/// The bundle goes out as build.rs compressed it: brotli or gzip as `Accept-Encoding` allows,
/// each its own representation (ETag, `Vary`), each the same bytes once decompressed.
#[tokio::test]
async fn the_app_is_served_precompressed_as_the_browser_accepts() {
    use std::io::Read as _;
    let harness = harness();
    if relay::client_sha256().is_empty() {
        return;
    }
    let html = String::from_utf8(body_bytes(get(&harness, "/").await).await).expect("utf-8");
    let wasm = html
        .split('"')
        .find(|part| part.ends_with("_bg.wasm"))
        .expect("index names the wasm")
        .to_owned();
    let fetch = |accept: &'static str| {
        let harness = &harness;
        let wasm = wasm.clone();
        async move {
            let response = send(
                harness,
                Request::get(wasm.as_str())
                    .header(header::ACCEPT_ENCODING, accept)
                    .body(Body::empty())
                    .expect("request"),
            )
            .await;
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(response.headers()[header::VARY], "accept-encoding");
            let encoding = response
                .headers()
                .get(header::CONTENT_ENCODING)
                .map(|value| value.to_str().expect("ascii").to_owned());
            let etag = response.headers()[header::ETAG].clone();
            (encoding, etag, body_bytes(response).await)
        }
    };
    let (none, plain_tag, plain) = fetch("identity").await;
    let (br, br_tag, packed_br) = fetch("gzip, deflate, br, zstd").await;
    let (gz, gz_tag, packed_gz) = fetch("gzip, deflate").await;
    assert_eq!(
        (none, br.as_deref(), gz.as_deref()),
        (None, Some("br"), Some("gzip"))
    );
    assert!(plain_tag != br_tag && br_tag != gz_tag && plain_tag != gz_tag);
    assert!(packed_br.len() < packed_gz.len() && packed_gz.len() < plain.len() / 2);

    let mut unpacked = Vec::new();
    brotli::Decompressor::new(&packed_br[..], 64 * 1024)
        .read_to_end(&mut unpacked)
        .expect("valid brotli");
    assert_eq!(unpacked, plain);
    let mut unpacked = Vec::new();
    flate2::read::GzDecoder::new(&packed_gz[..])
        .read_to_end(&mut unpacked)
        .expect("valid gzip");
    assert_eq!(unpacked, plain);

    // Revalidation names the representation: brotli's tag is not gzip's.
    let revalidated = send(
        &harness,
        Request::get(wasm.as_str())
            .header(header::ACCEPT_ENCODING, "gzip")
            .header(header::IF_NONE_MATCH, br_tag.clone())
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(revalidated.status(), StatusCode::OK);
    let revalidated = send(
        &harness,
        Request::get(wasm.as_str())
            .header(header::ACCEPT_ENCODING, "br")
            .header(
                header::IF_NONE_MATCH,
                "\"other\", ".to_owned() + br_tag.to_str().expect("ascii"),
            )
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);
    eprintln!(
        "{wasm}: {} bytes, {} brotli, {} gzip",
        plain.len(),
        packed_br.len(),
        packed_gz.len()
    );
}

/// Every `<script` tag must load from `src`; none may carry code.
fn assert_no_inline_script(html: &str) {
    for (start, _) in html.match_indices("<script") {
        let tag_end = html[start..].find('>').expect("tag closes") + start;
        let tag = &html[start..=tag_end];
        assert!(tag.contains(" src="), "inline script tag: {tag}");
        let close = html[tag_end..].find("</script>").expect("script closes") + tag_end;
        assert!(
            html[tag_end + 1..close].trim().is_empty(),
            "script with inline code: {}",
            &html[start..close]
        );
    }
}

#[tokio::test]
async fn non_get_requests_to_the_app_are_refused() {
    let harness = harness();
    let response = post(&harness, "/", "text/plain", b"x".to_vec()).await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_security_headers(&response);
}

#[tokio::test]
async fn security_txt_names_the_operators_contact_or_is_absent() {
    let response = get(&harness(), "/.well-known/security.txt").await;
    assert_eq!(
        response.status(),
        StatusCode::NOT_FOUND,
        "no contact configured"
    );
    let harness = harness_with(|config| {
        config.security.contact = "mailto:security@firm.example".to_owned();
        config.security.policy = "https://firm.example/security".to_owned();
    });
    let response = get(&harness, "/.well-known/security.txt").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()[header::CONTENT_TYPE]
            .to_str()
            .expect("ascii")
            .starts_with("text/plain")
    );
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let text = String::from_utf8(bytes.to_vec()).expect("utf-8");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("Contact: mailto:security@firm.example"));
    let expires = lines
        .next()
        .and_then(|line| line.strip_prefix("Expires: "))
        .expect("an expiry");
    assert!(expires.len() == 20 && expires.ends_with('Z'), "{expires}");
    assert_eq!(lines.next(), Some("Policy: https://firm.example/security"));
}
