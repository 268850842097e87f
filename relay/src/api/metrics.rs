//! `/metrics` (Prometheus text, see `crate::metrics`), the request counting every answer goes
//! through, and `GET /api/ready`.
//!
//! `/metrics` is never public by default: on the main address it answers only a request
//! bearing `[metrics] token` (compared in constant time) and is a plain 404 without one
//! configured; `[metrics] listen` serves it alone on a separate address.

use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::error::AppError;
use crate::metrics::method_label;
use crate::state::AppState;

/// The route template a request matched, carried on its answer to `count`.
#[derive(Debug, Clone)]
struct Route(String);

/// Marks each answer with the route template its request matched (a `route_layer`, which runs
/// after routing, where the template is known).
pub async fn mark_route(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned());
    let mut response = next.run(request).await;
    if let Some(route) = route {
        response.extensions_mut().insert(Route(route));
    }
    response
}

/// Counts every answer by method, route template and status, and times it to its head.
pub async fn count(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method().as_str());
    let api = request.uri().path().starts_with("/api");
    let response = next.run(request).await;
    let route = match response.extensions().get::<Route>() {
        Some(Route(route)) => route.as_str(),
        // Fixed names: the path itself never becomes a label.
        None if api => "/api (no route)",
        None => "(app)",
    };
    state.store.metrics().request(
        method,
        route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// `GET /metrics` on the main address: only with the configured token.
pub async fn get(State(state): State<AppState>, request: Request) -> Response {
    let token = state.config.metrics.token.dangerously_expose();
    if token.is_empty() {
        return AppError::NoRoute.into_response();
    }
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default();
    // Equal-length digests, so the comparison takes the same time whatever was presented.
    let matches: bool = Sha256::digest(presented.as_bytes())
        .ct_eq(&Sha256::digest(token.as_bytes()))
        .into();
    if !matches {
        let mut response =
            AppError::Unauthenticated("/metrics needs its bearer token").into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"metrics\""),
        );
        return response;
    }
    render(&state).await
}

/// The metrics as text, with the storage gauges measured now.
async fn render(state: &AppState) -> Response {
    let store = state.store.clone();
    let measured = tokio::task::spawn_blocking(move || {
        let database = store.database_bytes().unwrap_or_default();
        let free = store.free_bytes().unwrap_or_default();
        store.metrics().render(database, free)
    })
    .await;
    match measured {
        Ok(text) => (
            StatusCode::OK,
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    ),
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
            text,
        )
            .into_response(),
        Err(_) => AppError::Internal(anyhow::anyhow!("the metrics task failed")).into_response(),
    }
}

/// The router of `[metrics] listen`: `/metrics` alone (with the token when one is set).
pub fn separate(state: AppState) -> Router {
    Router::new()
        .route(
            "/metrics",
            axum::routing::get(
                |State(state): State<AppState>, request: Request| async move {
                    if state.config.metrics.token.is_empty() {
                        render(&state).await
                    } else {
                        get(State(state), request).await
                    }
                },
            ),
        )
        .with_state(state)
}

/// `GET /api/ready`: whether this relay can take changes now. The data directory takes a
/// synced write and the database a flush, and the disk has more than `min_free_bytes` free;
/// otherwise 503 (or 507), so a load balancer sends users elsewhere.
#[utoipa::path(
    get,
    path = "/api/ready",
    operation_id = "metrics_ready",
    tag = "operations",
    security(()),
    responses(
        (status = 200, description = "the data directory takes a durable write and has room: `{\"status\":\"ready\"}`"),
        super::openapi::Errors
    )
)]
pub async fn ready(State(state): State<AppState>) -> Result<Response, AppError> {
    state
        .store
        .probe_writable()
        .await
        .map_err(AppError::StorageUnavailable)?;
    let store = state.store.clone();
    let free = tokio::task::spawn_blocking(move || store.free_bytes())
        .await
        .map_err(|_| AppError::Internal(anyhow::anyhow!("the free-space task failed")))?
        .map_err(AppError::StorageUnavailable)?;
    if free < state.config.server.min_free_bytes {
        return Err(AppError::StorageFull);
    }
    Ok((
        StatusCode::OK,
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        axum::Json(serde_json::json!({ "status": "ready" })),
    )
        .into_response())
}
