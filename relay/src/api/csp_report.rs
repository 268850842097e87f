//! `POST /api/csp-report`: browsers report Content-Security-Policy violations here (the CSP's
//! `report-uri`). A violation in the field means either a bug or an injection attempt, so the
//! relay logs the directive and the blocked source's origin, never the full URLs (a page URL
//! could carry an id someone considers private; fragments never reach us, but be strict).

use axum::extract::Request;
use axum::http::StatusCode;
use serde::Deserialize;

use super::{parse_json, read_body};
use crate::error::AppError;

/// Reports are small; anything bigger is not a report.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

#[derive(Debug, Deserialize)]
struct ReportEnvelope {
    #[serde(rename = "csp-report")]
    report: Report,
}

#[derive(Debug, Deserialize)]
struct Report {
    // Chromium sends both names; a serde alias would reject that as a duplicate field.
    #[serde(rename = "violated-directive", default)]
    violated_directive: String,
    #[serde(rename = "effective-directive", default)]
    effective_directive: String,
    #[serde(rename = "blocked-uri", default)]
    blocked_uri: String,
}

#[utoipa::path(
    post,
    path = "/api/csp-report",
    operation_id = "csp_report_post",
    tag = "operations",
    security(()),
    request_body(content = Object, content_type = "application/csp-report", description = "a browser's Content-Security-Policy report"),
    responses(
        (status = 204, description = "done"),
        super::openapi::Errors
    )
)]
pub async fn post(request: Request) -> Result<StatusCode, AppError> {
    let bytes = read_body(request, MAX_BODY_BYTES).await?;
    let envelope: ReportEnvelope = parse_json(&bytes)?;
    let (directive, blocked) = summary(&envelope.report);
    tracing::warn!(
        directive = %directive,
        blocked = %blocked,
        "content security policy violation reported"
    );
    Ok(StatusCode::NO_CONTENT)
}

/// What is logged of a report: the violated (else the effective) directive, at most 64
/// characters, and the blocked source's origin.
fn summary(report: &Report) -> (&str, &str) {
    let directive = if report.violated_directive.is_empty() {
        &report.effective_directive
    } else {
        &report.violated_directive
    };
    (truncate(directive, 64), origin_only(&report.blocked_uri))
}

/// A CSP violation report as `post` decodes it, with what it logs of it: for the fuzz target
/// `csp_report` (in `relay/fuzz`, through `relay::fuzzing`).
#[derive(Debug, Clone)]
pub struct CspReport {
    pub violated_directive: String,
    pub effective_directive: String,
    pub blocked_uri: String,
    /// The directive as logged.
    pub logged_directive: String,
    /// The blocked source as logged (its origin).
    pub logged_blocked: String,
}

impl CspReport {
    /// Decodes a report body as `post` does.
    pub fn parse(bytes: &[u8]) -> Result<Self, AppError> {
        let envelope: ReportEnvelope = parse_json(bytes)?;
        let (directive, blocked) = summary(&envelope.report);
        let (logged_directive, logged_blocked) = (directive.to_owned(), blocked.to_owned());
        let Report {
            violated_directive,
            effective_directive,
            blocked_uri,
        } = envelope.report;
        Ok(Self {
            violated_directive,
            effective_directive,
            blocked_uri,
            logged_directive,
            logged_blocked,
        })
    }

    pub fn truncate(text: &str, max: usize) -> &str {
        truncate(text, max)
    }

    pub fn origin_only(uri: &str) -> &str {
        origin_only(uri)
    }
}

fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((index, _)) => &text[..index],
        None => text,
    }
}

/// `https://host:port/path?x#y` → `https://host:port`; keywords such as `inline` stay as they are.
fn origin_only(uri: &str) -> &str {
    let Some(scheme_end) = uri.find("://") else {
        return truncate(uri, 32);
    };
    let rest = &uri[scheme_end + 3..];
    let host_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    truncate(&uri[..scheme_end + 3 + host_len], 128)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_only_drops_path_query_and_fragment() {
        assert_eq!(
            origin_only("https://evil.example:8443/x?y#z"),
            "https://evil.example:8443"
        );
        assert_eq!(origin_only("inline"), "inline");
        assert_eq!(origin_only(""), "");
    }

    #[test]
    fn chromium_reports_with_both_directive_names_parse() {
        let body = br#"{"csp-report":{"document-uri":"http://127.0.0.1/l/x","violated-directive":"script-src","effective-directive":"script-src","blocked-uri":"eval","status-code":200}}"#;
        let envelope: ReportEnvelope = parse_json(body).expect("a real Chromium report parses");
        assert_eq!(envelope.report.violated_directive, "script-src");
        assert_eq!(envelope.report.blocked_uri, "eval");
    }
}
