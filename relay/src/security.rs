//! Cross-cutting HTTP hardening: the security headers every response carries (a strict CSP with
//! no inline script) and request tracing that records method, path and status only: never query
//! strings, bodies or headers, so nothing secret reaches the logs.

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Request, Response, header};
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::{DefaultOnRequest, DefaultOnResponse, MakeSpan, TraceLayer};
use tracing::{Level, Span};

/// The Content-Security-Policy of every response. `'wasm-unsafe-eval'` lets the page compile
/// WebAssembly; there is no `'unsafe-inline'` and no inline script anywhere (the app starts
/// from `client/boot.js`). `frame-src 'self'` lets the page point a hidden frame at
/// `/_download/<id>`, which only the browser's download worker answers (a streamed file marked
/// as an attachment); every page of the relay still refuses to be framed (`frame-ancestors`).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; \
     script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; \
     img-src 'self' data: blob:; \
     font-src 'self'; \
     connect-src 'self'; \
     manifest-src 'self'; \
     worker-src 'self'; \
     frame-src 'self'; \
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

/// The `Strict-Transport-Security` header of a relay that users reach over HTTPS, if any.
#[derive(Debug, Clone)]
pub struct Hsts(Option<HeaderValue>);

impl Hsts {
    /// HSTS with `[tls] hsts_max_age_seconds` when the relay serves TLS or its `public_url`
    /// is https://, and none otherwise (a browser ignores it over plain HTTP anyway, and a
    /// relay tried out on http://localhost must not pin that name to HTTPS).
    pub fn of(config: &crate::config::Config) -> Self {
        let max_age = config.tls.hsts_max_age_seconds;
        Self(
            (config.https() && max_age > 0)
                .then(|| HeaderValue::from_str(&format!("max-age={max_age}")).ok())
                .flatten(),
        )
    }
}

/// Adds `hsts` to every response.
pub async fn hsts(
    axum::extract::State(hsts): axum::extract::State<Hsts>,
    mut response: Response<Body>,
) -> Response<Body> {
    if let Some(value) = hsts.0 {
        response
            .headers_mut()
            .insert(header::STRICT_TRANSPORT_SECURITY, value);
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

/// `GET /.well-known/security.txt` (RFC 9116): the operator's contact from `[security]`, and an
/// expiry 180 days ahead (the file is made on each request, so it never goes stale); 404 when
/// no contact is configured.
pub async fn security_txt(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let config = &state.config.security;
    let contact = config.contact.trim();
    if contact.is_empty() {
        return (
            axum::http::StatusCode::NOT_FOUND,
            "no security contact is configured for this relay\n",
        )
            .into_response();
    }
    let mut text = format!(
        "Contact: {contact}\nExpires: {}\n",
        rfc3339_utc(state.clock.now() + 180 * 86_400)
    );
    let policy = config.policy.trim();
    if !policy.is_empty() {
        text.push_str(&format!("Policy: {policy}\n"));
    }
    let languages = config.preferred_languages.trim();
    if !languages.is_empty() {
        text.push_str(&format!("Preferred-Languages: {languages}\n"));
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn rfc3339_utc(seconds: i64) -> String {
    shared::dates::rfc3339_utc(seconds)
}

#[cfg(test)]
mod date_tests {
    use super::rfc3339_utc;

    #[test]
    fn unix_seconds_format_as_rfc3339() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(1_800_000_000), "2027-01-15T08:00:00Z");
        assert_eq!(rfc3339_utc(4_102_444_799), "2099-12-31T23:59:59Z");
    }
}
