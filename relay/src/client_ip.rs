//! The client's address, as the relay counts it: the peer of the connection, or behind a
//! trusted reverse proxy the address it forwarded (`ClientIp`, an extractor for audit entries,
//! blocks and rate limits), and the network an address counts as (`network_of`). Apart from
//! the API so that the guard, the rate limits, the connection edge and the operator's commands
//! use it without reaching into the API's handlers.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;

use crate::error::AppError;

/// What `ClientIp` needs of the application's state: the proxies whose forwarded address is
/// believed, and a flag to say once that an unlisted peer sent one.
pub trait ProxySettings {
    fn trusted_proxies(&self) -> &[IpAddr];
    fn warned_untrusted_proxy(&self) -> &std::sync::atomic::AtomicBool;
}

/// The address of the client of a request (`None` without a connection, as in tests that call
/// the router directly).
#[derive(Debug, Clone)]
pub struct ClientIp(pub Option<String>);

impl<S: ProxySettings + Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() else {
            return Ok(ClientIp(None));
        };
        let trusted = state.trusted_proxies();
        if !trusted.contains(&peer.ip())
            && (parts.headers.contains_key("x-forwarded-for")
                || parts.headers.contains_key(axum::http::header::FORWARDED))
            && !state
                .warned_untrusted_proxy()
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
