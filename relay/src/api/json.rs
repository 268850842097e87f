//! Request-side helpers shared by the endpoints: the JSON body extractor (content type, size
//! limit, clear 400/413/415/422 errors) and path parameters with the same JSON errors.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::{parse_json, read_body};
use crate::{AppError, AppState};

/// Longest e-mail address accepted (RFC 5321's path limit).
const MAX_EMAIL_BYTES: usize = 254;

/// An optional e-mail address as typed: `None` when blank, refused in words (naming `whose`)
/// when it cannot be one.
pub fn optional_email(text: Option<&str>, whose: &str) -> Result<Option<String>, AppError> {
    match text.map(str::trim) {
        None | Some("") => Ok(None),
        Some(address) if address.len() <= MAX_EMAIL_BYTES && address.contains('@') => {
            Ok(Some(address.to_owned()))
        }
        Some(_) => Err(AppError::Invalid(format!(
            "{whose} e-mail address is not valid"
        ))),
    }
}

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

/// The client's IP address: the peer's, or, when the peer is a configured trusted proxy, the
/// rightmost address of `X-Forwarded-For` that is not itself a trusted proxy. `None` when the
/// connection carries no address (in-memory tests).
/// Path parameters with a JSON 400 (not axum's plain-text rejection) when one does not parse,
/// such as an id that is not 16 bytes of base64url.
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequestParts<AppState> for ApiPath<T> {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| ApiPath(value))
            .map_err(|rejection| AppError::BadRequest(rejection.body_text()))
    }
}

/// Trimmed and lowercased; one `@` with something on both sides; at most 254 bytes.
pub fn normalize_email(email: &str) -> Result<String, AppError> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && email.split('@').count() == 2
        && email.split('@').all(|part| !part.is_empty())
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(email)
    } else {
        Err(AppError::Invalid(
            "that is not an e-mail address".to_owned(),
        ))
    }
}
