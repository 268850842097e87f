//! Cross-cutting HTTP hardening: the security headers every response carries (a strict CSP with
//! no inline script) and request tracing that records method, path and status only: never query
//! strings, bodies or headers, so nothing secret reaches the logs.

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Request, Response, header};
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::{DefaultOnRequest, DefaultOnResponse, MakeSpan, TraceLayer};
use tracing::{Level, Span};

/// The Content-Security-Policy of every response. `'wasm-unsafe-eval'` lets the page compile
/// WebAssembly; there is no `'unsafe-inline'` and no inline script anywhere (Trunk's loader is
/// replaced by `client/boot.js`, see Trunk.toml).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; \
     script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; \
     img-src 'self' data: blob:; \
     font-src 'self'; \
     connect-src 'self'; \
     manifest-src 'self'; \
     worker-src 'self'; \
     form-action 'self'; \
     base-uri 'none'; \
     object-src 'none'; \
     frame-ancestors 'none'; \
     report-uri /api/csp-report";

pub const PERMISSIONS_POLICY: &str = "accelerometer=(), autoplay=(), camera=(), \
     display-capture=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), \
     midi=(), payment=(), usb=(), xr-spatial-tracking=()";

/// Adds the security headers to every response, API and app alike.
pub async fn headers(mut response: Response<Body>) -> Response<Body> {
    let set: [(HeaderName, &'static str); 8] = [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
        (
            HeaderName::from_static("cross-origin-resource-policy"),
            "same-origin",
        ),
        (
            HeaderName::from_static("permissions-policy"),
            PERMISSIONS_POLICY,
        ),
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            HeaderName::from_static("x-permitted-cross-domain-policies"),
            "none",
        ),
    ];
    let headers = response.headers_mut();
    for (name, value) in set {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// Request spans with the method and the path only (no query string: it is never trusted to be
/// free of secrets).
#[derive(Clone, Copy, Debug, Default)]
pub struct PathOnlySpan;

impl<B> MakeSpan<B> for PathOnlySpan {
    fn make_span(&mut self, request: &Request<B>) -> Span {
        tracing::info_span!(
            "request",
            method = %request.method(),
            path = %request.uri().path(),
        )
    }
}

pub fn trace_layer() -> TraceLayer<SharedClassifier<ServerErrorsAsFailures>, PathOnlySpan> {
    TraceLayer::new_for_http()
        .make_span_with(PathOnlySpan)
        .on_request(DefaultOnRequest::new().level(Level::DEBUG))
        .on_response(DefaultOnResponse::new().level(Level::INFO))
}
