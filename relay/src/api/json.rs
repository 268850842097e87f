//! Request-side helpers shared by the endpoints: the JSON body extractor (content type, size
//! limit, clear 400/413/415/422 errors) and the client's address for audit entries.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
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

#[derive(Debug, Clone)]
pub struct ClientIp(pub Option<String>);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() else {
            return Ok(ClientIp(None));
        };
        let trusted = &state.config.brute_force.trusted_proxies;
        if !trusted.contains(&peer.ip())
            && (parts.headers.contains_key("x-forwarded-for")
                || parts.headers.contains_key(axum::http::header::FORWARDED))
            && !state
                .warned_untrusted_proxy
                .swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            tracing::warn!(
                peer = %peer.ip(),
                "a request came with X-Forwarded-For from a peer that is not in brute_force.trusted_proxies: if it is your reverse proxy, every client behind it counts as this one address, and one attacker's failures block them all; list the proxy there (said once per start)"
            );
        }
        Ok(ClientIp(Some(
            client_ip(peer.ip(), &parts.headers, trusted).to_string(),
        )))
    }
}

/// The network an address is counted as for per-address limits: an IPv4 address itself, an
/// IPv6 address's /64 (one subscriber usually holds a whole /64, so counting single IPv6
/// addresses would let one client take 2^64 allowances).
pub fn network_of(ip: &str) -> String {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let segments = v6.segments();
                format!(
                    "{:x}:{:x}:{:x}:{:x}::/64",
                    segments[0], segments[1], segments[2], segments[3]
                )
            }
        },
        _ => ip.to_owned(),
    }
}

fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|part| part.trim().parse().ok())
        .collect();
    forwarded
        .into_iter()
        .rev()
        .find(|address| !trusted.contains(address))
        .unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_client_counts_as_its_64_and_a_mapped_ipv4_as_itself() {
        assert_eq!(network_of("192.0.2.7"), "192.0.2.7");
        assert_eq!(
            network_of("2001:db8:1:2:aaaa::1"),
            network_of("2001:db8:1:2:bbbb::9")
        );
        assert_eq!(network_of("2001:db8:1:2::1"), "2001:db8:1:2::/64");
        assert_ne!(network_of("2001:db8:1:2::1"), network_of("2001:db8:1:3::1"));
        assert_eq!(network_of("::ffff:192.0.2.7"), "192.0.2.7");
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.1".parse().expect("ip");
        let peer: IpAddr = "198.51.100.7".parse().expect("ip");
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "203.0.113.5, 192.0.2.9".parse().expect("header"),
        );
        assert_eq!(
            client_ip(peer, &headers, &[proxy]),
            peer,
            "an untrusted peer cannot spoof"
        );
        assert_eq!(
            client_ip(proxy, &headers, &[proxy]).to_string(),
            "192.0.2.9",
            "the rightmost address not added by our own proxy"
        );
        let chained: IpAddr = "10.0.0.2".parse().expect("ip");
        headers.insert(
            "x-forwarded-for",
            "203.0.113.5, 10.0.0.2".parse().expect("header"),
        );
        assert_eq!(
            client_ip(proxy, &headers, &[proxy, chained]).to_string(),
            "203.0.113.5"
        );
        assert_eq!(client_ip(proxy, &HeaderMap::new(), &[proxy]), proxy);
    }
}
