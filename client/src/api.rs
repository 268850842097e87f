//! The one module of the client that speaks HTTP to the relay. Every call returns typed wire
//! values or an `ApiError` whose `Display` is a sentence a user can understand.

use gloo_net::http::{Request, Response};
use serde::de::DeserializeOwned;
use shared::wire;

/// What can go wrong talking to the relay, in words for the person at the screen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("the relay could not be reached: check your connection and try again")]
    Network,
    #[error("the relay refused the request: {message}")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    #[error("the relay answered something this app does not understand (HTTP {status})")]
    Unexpected { status: u16 },
}

/// `GET /api/health`.
pub async fn health() -> Result<wire::HealthResponse, ApiError> {
    let response = Request::get("/api/health")
        .send()
        .await
        .map_err(|_| ApiError::Network)?;
    decode(response).await
}

async fn decode<T: DeserializeOwned>(response: Response) -> Result<T, ApiError> {
    let status = response.status();
    if response.ok() {
        return response
            .json::<T>()
            .await
            .map_err(|_| ApiError::Unexpected { status });
    }
    match response.json::<wire::ErrorResponse>().await {
        Ok(error) => Err(ApiError::Refused {
            status,
            code: error.code,
            message: error.message,
        }),
        Err(_) => Err(ApiError::Unexpected { status }),
    }
}
