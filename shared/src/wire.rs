//! JSON wire types between the browser, the relay and any other client. These are the only
//! `Serialize` types of the project; they are named by direction and carry no secret material
//! in plaintext. New fields get `#[serde(default)]` so older peers keep working.

use serde::{Deserialize, Serialize};

/// `GET /api/health`: liveness plus what a client needs to know it speaks to a compatible relay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthResponse {
    /// Always `"ok"` when the relay answers at all.
    pub status: String,
    /// The relay's crate version (`CARGO_PKG_VERSION`).
    pub version: String,
    /// The protocol version the relay implements.
    pub protocol: u32,
    /// SHA-256 of the client bundle the relay serves (hex), so users can compare it with a
    /// published build (PROTOCOL.md threat model). Empty when the relay embeds no client.
    #[serde(default)]
    pub client_sha256: String,
}

/// The body of every error the API answers: a stable machine `code` and a human `message`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// A stable, lowercase, snake_case identifier such as `not_found` or `payload_too_large`.
    pub code: String,
    /// A sentence a user can read; never contains secrets or internal details.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_response_golden() {
        let health = HealthResponse {
            status: "ok".into(),
            version: "0.1.0".into(),
            protocol: 1,
            client_sha256: String::new(),
        };
        let json = serde_json::to_string(&health).expect("serializes");
        assert_eq!(
            json,
            r#"{"status":"ok","version":"0.1.0","protocol":1,"client_sha256":""}"#
        );
        let old_peer: HealthResponse =
            serde_json::from_str(r#"{"status":"ok","version":"0.0.1","protocol":1}"#)
                .expect("a missing defaulted field is accepted");
        assert_eq!(old_peer.client_sha256, "");
    }

    #[test]
    fn error_response_golden() {
        let err: ErrorResponse =
            serde_json::from_str(r#"{"code":"not_found","message":"no such route"}"#)
                .expect("parses");
        assert_eq!(err.code, "not_found");
    }
}
