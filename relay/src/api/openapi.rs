//! The OpenAPI 3.1 document of the JSON API, served at `GET /api/openapi.json`: generated from
//! the handlers' `#[utoipa::path]` annotations and the wire types' schemas (shared's `openapi`
//! feature), never written by hand. A test fails when a route of the router is missing from it
//! (`relay/tests/it/openapi.rs`). Not here: the routes themselves (`api::router`).

use std::sync::OnceLock;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse as _, Response};
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};

use super::*;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Sealpost relay API",
        description = "The relay stores and forwards ciphertext only: every document, file name, one-time password and link secret is encrypted or derived by the client (PROTOCOL.md). Errors are `ErrorResponse` bodies with a stable `code`. Browsers authenticate with the session cookie and echo the CSRF token in `X-CSRF-Token` on every state-changing request; scripts use an organisation's API key in `Authorization: Bearer sp_…` (never in a URL; no cookie, no CSRF token).",
        license(name = "AGPL-3.0-only", identifier = "AGPL-3.0-only")
    ),
    paths(
        openapi_json,
        health::get,
        metrics::ready,
        auth::prelogin,
        auth::signup,
        auth::confirm_signup,
        auth::login,
        auth::logout,
        auth::logout_all,
        auth::me,
        auth::current,
        auth::invite_lookup,
        auth::change_password,
        mfa::verify,
        mfa::setup,
        mfa::confirm,
        members::reset_mfa,
        org::audit,
        org::audit_checkpoint,
        org::policy,
        org::set_policy,
        org::transfer,
        org::close,
        members::list_invites,
        members::create_invite,
        members::revoke_invite,
        keys::list,
        keys::create,
        keys::revoke,
        members::list_members,
        members::remove_member,
        members::change_role,
        sends::list,
        sends::create,
        sends::put_chunk,
        sends::stored_chunks,
        sends::finalize,
        sends::revoke,
        links::info,
        links::open,
        links::chunk,
        links::receipt,
        payments::checkout,
        payments::mark_paid,
        payments::webhook,
        payments::payouts,
        payments::record_payout,
        payments::set_payout_details,
        requests::list,
        requests::create,
        requests::get,
        requests::close,
        requests::fulfil,
        requests::link_view,
        portal::transfer,
        portal::view,
        portal::drop,
        portal::settings,
        portal::set_settings,
        documents::list,
        documents::get,
        documents::key,
        documents::stored_chunks,
        documents::finalize,
        documents::revoke,
        documents::chunk,
        documents::put_chunk,
        csp_report::post,
        webhooks::list,
        webhooks::create,
        webhooks::delete,
        webhooks::deliveries,
        webhooks::replay
    ),
    components(schemas(shared::wire::ErrorResponse)),
    modifiers(&Security),
    tags(
        (name = "accounts", description = "sign-up, log-in, sessions, second factor, passwords"),
        (name = "organisation", description = "members, invitations, policy, audit log, ownership"),
        (name = "api keys", description = "an organisation's keys for scripts (owners and admins, by session only)"),
        (name = "webhooks", description = "an organisation's endpoints for its events, signed like Stripe's (owners and admins, by session only)"),
        (name = "sends", description = "Secure Send, the sender's side"),
        (name = "links", description = "Secure Send, the recipient's side (no account)"),
        (name = "requests", description = "asking for documents, and answering"),
        (name = "documents", description = "documents wrapped to public keys: upload, inbox, reading"),
        (name = "portal and transfers", description = "public intake portals and chart transfers"),
        (name = "payments", description = "invoices, Stripe, the ledger and payouts"),
        (name = "operations", description = "health, readiness, CSP reports"),
    )
)]
struct ApiDoc;

/// What every operation may answer besides its success: the one error shape (`AppError`). A
/// type for the document only: answers are built by `AppError`.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum Errors {
    /// Refused: the code and message say why (bad input, not logged in, not allowed, gone…).
    #[response(status = "4XX")]
    Refused(shared::wire::ErrorResponse),
    /// The relay could not do it now (storage, a provider); nothing was acknowledged.
    #[response(status = "5XX")]
    Failed(shared::wire::ErrorResponse),
}

/// The security schemes the annotations name.
struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = |description: &str| {
            let mut http = Http::new(HttpAuthScheme::Bearer);
            http.description = Some(description.to_owned());
            SecurityScheme::Http(http)
        };
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::session::COOKIE,
                "the log-in session (HttpOnly); state-changing requests also carry its CSRF token in X-CSRF-Token",
            ))),
        );
        components.add_security_scheme(
            "api_key",
            bearer("an organisation's API key, `sp_` and 43 base64url characters; what it may do is its scopes"),
        );
        components.add_security_scheme(
            "upload_token",
            bearer("the upload token a reservation answered to an uploader without an account"),
        );
        components.add_security_scheme(
            "download_token",
            bearer("the download token an opening of the link answered"),
        );
        components.add_security_scheme(
            "request_link",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Upload-Token",
                "the upload token derived from a request link's secret",
            ))),
        );
    }
}

/// The document as JSON, built once.
pub fn document() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        ApiDoc::openapi()
            .to_pretty_json()
            .unwrap_or_else(|error| format!("{{\"error\":\"{error}\"}}"))
    })
}

/// `GET /api/openapi.json`.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "operations",
    security(()),
    responses((status = 200, description = "this document", content_type = "application/json", body = Object))
)]
pub async fn openapi_json() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        document(),
    )
        .into_response()
}
