//! Request-side helpers shared by the endpoints: the JSON body extractor (content type, size
//! limit, clear 400/413/415/422 errors) and the client's address for audit entries.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::{parse_json, read_body};
use crate::{AppError, AppState};

/// A JSON request body within the configured limit.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(|value| {
                value
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .is_some_and(|mime| mime == "application/json");
        if !is_json {
            return Err(AppError::UnsupportedMediaType);
        }
        let bytes = read_body(request, state.config.limits.json_body_bytes).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// The peer's IP address, when the connection carries one (it does in production; in-memory
/// tests have none).
#[derive(Debug, Clone)]
pub struct ClientIp(pub Option<String>);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(address)| address.ip().to_string()),
        ))
    }
}
