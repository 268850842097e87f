//! The JSON API under `/api`: routing, body reading and JSON parsing with clear errors (413, 400,
//! 422), and the JSON 404/405 answers. Unknown `/api/` paths never fall through to the web app.

mod auth;
mod chunks;
pub(crate) mod csp_report;
mod documents;
mod health;
mod json;
mod keys;
mod links;
mod members;
pub(crate) mod metrics;
mod mfa;
pub(crate) mod openapi;
mod org;
mod payments;
mod portal;
mod requests;
mod sends;
mod webhooks;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::header;
use axum::routing::{delete, get, post, put};
use serde::de::DeserializeOwned;

use crate::error::AppError;
use crate::rate_limit;
use crate::state::AppState;

pub fn router(state: &AppState) -> Router<AppState> {
    let config = &state.config;
    macro_rules! limited {
        ($layer:path) => {
            axum::middleware::from_fn_with_state(state.limiting(), $layer)
        };
    }
    Router::new()
        .route("/health", get(health::get))
        .route("/openapi.json", get(openapi::openapi_json))
        .route("/ready", get(metrics::ready))
        .route(
            "/auth/prelogin",
            post(auth::prelogin).route_layer(limited!(rate_limit::prelogin)),
        )
        .route(
            "/auth/signup",
            post(auth::signup).route_layer(limited!(rate_limit::signup)),
        )
        .route(
            "/auth/signup/confirm",
            post(auth::confirm_signup).route_layer(limited!(rate_limit::signup)),
        )
        .route(
            "/auth/login",
            post(auth::login).route_layer(limited!(rate_limit::login)),
        )
        .route("/auth/logout", post(auth::logout))
        .route("/auth/logout-all", post(auth::logout_all))
        .route("/me", get(auth::me))
        .route("/session", get(auth::current))
        .route(
            "/auth/invite",
            post(auth::invite_lookup).route_layer(limited!(rate_limit::invitation)),
        )
        .route("/auth/password", post(auth::change_password))
        .route(
            "/auth/mfa/verify",
            post(mfa::verify).route_layer(limited!(rate_limit::login)),
        )
        .route("/auth/mfa/setup", post(mfa::setup))
        .route("/auth/mfa/confirm", post(mfa::confirm))
        .route("/org/members/{id}/mfa-reset", post(members::reset_mfa))
        .route("/org/audit", get(org::audit))
        .route("/org/audit/checkpoint", get(org::audit_checkpoint))
        .route("/org/policy", get(org::policy).put(org::set_policy))
        .route("/org/transfer", post(org::transfer))
        .route("/org/close", post(org::close))
        .route(
            "/org/invites",
            get(members::list_invites)
                .post(members::create_invite)
                .route_layer(limited!(rate_limit::invitation)),
        )
        .route("/org/invites/{id}", delete(members::revoke_invite))
        .route("/org/api-keys", get(keys::list).post(keys::create))
        .route("/org/api-keys/{id}/revoke", post(keys::revoke))
        .route("/org/webhooks", get(webhooks::list).post(webhooks::create))
        .route("/org/webhooks/{id}", delete(webhooks::delete))
        .route("/org/webhooks/{id}/deliveries", get(webhooks::deliveries))
        .route(
            "/org/webhooks/{id}/deliveries/{delivery}/replay",
            post(webhooks::replay),
        )
        .route("/org/members", get(members::list_members))
        .route("/org/members/{id}", delete(members::remove_member))
        .route("/org/members/{id}/role", post(members::change_role))
        .route("/sends", get(sends::list).post(sends::create))
        .route(
            "/sends/{id}/files/{file}/chunks/{chunk}",
            put(sends::put_chunk).layer(DefaultBodyLimit::max(CHUNK_BODY_LIMIT)),
        )
        .route("/sends/{id}/chunks", get(sends::stored_chunks))
        .route("/sends/{id}/finalize", post(sends::finalize))
        .route("/sends/{id}/revoke", post(sends::revoke))
        .route("/links/{id}", get(links::info))
        .route("/links/{id}/open", post(links::open))
        .route("/links/{id}/files/{file}/chunks/{chunk}", get(links::chunk))
        .route("/links/{id}/receipt", post(links::receipt))
        .route("/invoices/{id}/checkout", post(payments::checkout))
        .route("/invoices/{id}/mark-paid", post(payments::mark_paid))
        .route(
            "/stripe/webhook",
            post(payments::webhook).route_layer(limited!(rate_limit::webhook)),
        )
        .route(
            "/org/payouts",
            get(payments::payouts).post(payments::record_payout),
        )
        .route("/org/payouts/details", put(payments::set_payout_details))
        .route("/requests", get(requests::list).post(requests::create))
        .route("/requests/{id}", get(requests::get))
        .route("/requests/{id}/close", post(requests::close))
        .route("/requests/{id}/fulfil", post(requests::fulfil))
        .route("/requests/{id}/link", get(requests::link_view))
        .route("/transfers", post(portal::transfer))
        .route("/portal/{handle}", get(portal::view))
        .route("/portal/{handle}/drops", post(portal::drop))
        .route(
            "/org/portal",
            get(portal::settings).put(portal::set_settings),
        )
        .route("/documents", get(documents::list))
        .route("/documents/{id}", get(documents::get))
        .route("/documents/{id}/key", get(documents::key))
        .route("/documents/{id}/chunks", get(documents::stored_chunks))
        .route("/documents/{id}/finalize", post(documents::finalize))
        .route("/documents/{id}/revoke", post(documents::revoke))
        .route(
            "/documents/{id}/files/{file}/chunks/{chunk}",
            get(documents::chunk)
                .put(documents::put_chunk)
                .layer(DefaultBodyLimit::max(CHUNK_BODY_LIMIT)),
        )
        .route(
            "/csp-report",
            post(csp_report::post).route_layer(limited!(rate_limit::csp_report)),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // API answers are never cached: a 410 is cacheable by default, and a page polling a
        // link's or portal's state must see the relay's answer of now.
        .layer(
            tower_http::set_header::SetResponseHeaderLayer::if_not_present(
                header::CACHE_CONTROL,
                axum::http::HeaderValue::from_static("no-store"),
            ),
        )
        // A backstop for extractors that buffer bodies; handlers pass their own limit to
        // `read_body`.
        .layer(DefaultBodyLimit::max(config.limits.json_body_bytes))
}

/// A sealed chunk: 1 MiB of plaintext and its 16-byte tag.
const CHUNK_BODY_LIMIT: usize = shared::crypto::CHUNK_SIZE + 16;

async fn not_found() -> AppError {
    AppError::NoRoute
}

async fn method_not_allowed() -> AppError {
    AppError::MethodNotAllowed
}

/// Reads a whole body of at most `limit` bytes within the configured body time; a larger one
/// is a 413 before it is buffered (by its Content-Length) or as soon as the stream passes the
/// limit, and a body still arriving when the time is up is a 408 (a slow client cannot hold a
/// request, and what it loaded, open for ever). When a log-in session authorised the request,
/// it must still be alive once the body is in: a session ended while the body trickled in
/// (log out everywhere, a removal, a demotion, a password change) writes nothing.
pub async fn read_body(request: Request, limit: usize) -> Result<Bytes, AppError> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(AppError::PayloadTooLarge { limit });
    }
    let context = request.extensions().get::<BodyContext>().cloned();
    let session = request
        .extensions()
        .get::<crate::store::SessionGuard>()
        .copied();
    let key = request
        .extensions()
        .get::<crate::identity::KeyGuard>()
        .copied();
    let seconds = context
        .as_ref()
        .map_or(DEFAULT_BODY_SECONDS, |context| context.seconds);
    let reading = axum::body::to_bytes(request.into_body(), limit);
    let bytes = match tokio::time::timeout(std::time::Duration::from_secs(seconds), reading).await {
        Err(_) => return Err(AppError::RequestTimeout),
        Ok(read) => read.map_err(|error| {
            if is_length_limit(&error) {
                AppError::PayloadTooLarge { limit }
            } else {
                AppError::BadRequest("the request body could not be read".to_owned())
            }
        })?,
    };
    if let (Some(context), Some(session)) = (&context, session) {
        crate::session::still_alive(&context.state, &session)?;
    }
    if let (Some(context), Some(key)) = (&context, key) {
        crate::identity::key_still_live(&context.state, key)?;
    }
    Ok(bytes)
}

/// What `read_body` needs from the relay: the time a body may take to arrive, and the state to
/// check a session against (set by `body_context` from the configuration).
#[derive(Debug, Clone)]
pub struct BodyContext {
    seconds: u64,
    state: AppState,
}

const DEFAULT_BODY_SECONDS: u64 = 60;

/// Middleware giving every API request the configured body time and the state.
pub async fn body_context(
    axum::extract::State(state): axum::extract::State<AppState>,
    mut request: Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let seconds = state.config.server.body_timeout_seconds.into();
    request
        .extensions_mut()
        .insert(BodyContext { seconds, state });
    next.run(request).await
}

fn is_length_limit(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        if error.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        current = error.source();
    }
    false
}

/// Parses JSON, telling syntax errors (400) from shape errors (422).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    serde_json::from_slice(bytes).map_err(|error| match error.classify() {
        serde_json::error::Category::Data => AppError::InvalidBody(error.to_string()),
        _ => AppError::MalformedJson(error.to_string()),
    })
}
