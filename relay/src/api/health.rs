//! `GET /api/health`: liveness, versions and the served client's hash. Reads nothing secret.

use axum::Json;
use axum::extract::State;
use shared::wire;

use crate::error::AppError;
use crate::state::AppState;

#[utoipa::path(
    get,
    path = "/api/health",
    operation_id = "health_get",
    tag = "operations",
    security(()),
    responses(
        (status = 200, description = "the answer", body = wire::HealthResponse),
        super::openapi::Errors
    )
)]
pub async fn get(State(state): State<AppState>) -> Result<Json<wire::HealthResponse>, AppError> {
    state.store.check()?;
    Ok(Json(wire::HealthResponse {
        status: "ok".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        protocol: shared::PROTOCOL_VERSION,
        client_sha256: crate::assets::CLIENT_SHA256.to_owned(),
    }))
}
