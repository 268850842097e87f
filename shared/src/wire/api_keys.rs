//! Wire types of organisation API keys (PRODUCT.md "API keys"): the scopes a key may carry,
//! creating one (its secret is in the answer once, never again), and the listing owners and
//! admins see. A key's secret is `sp_` followed by 43 base64url characters (32 random bytes);
//! the relay keeps only the SHA-256 of the bytes. Nothing here is a document secret: an API key
//! never holds a private key, so it cannot decrypt anything (SECURITY.md "API keys").

use serde::{Deserialize, Serialize};

use crate::ids::Id;
use crate::secret::SecretString;

/// What every API key's secret starts with, so secret scanners (and people) recognise one.
pub const API_KEY_PREFIX: &str = "sp_";
/// Longest key name, in characters.
pub const MAX_API_KEY_NAME_CHARS: usize = 80;

/// One thing a key may do. A key never carries an owner's or admin's powers over people,
/// policy, payouts or keys, whatever its scopes.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ApiScope {
    /// Create Secure Sends, upload their ciphertext, finalize and revoke them.
    #[serde(rename = "sends:write")]
    SendsWrite,
    /// List the sends the key made, with their status.
    #[serde(rename = "sends:read")]
    SendsRead,
    /// Upload documents (Chart Transfer) and revoke what the key uploaded.
    #[serde(rename = "documents:write")]
    DocumentsWrite,
    /// The organisation's documents' metadata (never their keys or ciphertext).
    #[serde(rename = "documents:read")]
    DocumentsRead,
    /// Ask for documents, and close the key's requests.
    #[serde(rename = "requests:write")]
    RequestsWrite,
    /// The organisation's requests and their status.
    #[serde(rename = "requests:read")]
    RequestsRead,
    /// Read and export the organisation's audit log.
    #[serde(rename = "audit:read")]
    AuditRead,
    /// The organisation's payment ledger and payout report.
    #[serde(rename = "ledger:read")]
    LedgerRead,
}

impl ApiScope {
    pub const ALL: [ApiScope; 8] = [
        ApiScope::SendsWrite,
        ApiScope::SendsRead,
        ApiScope::DocumentsWrite,
        ApiScope::DocumentsRead,
        ApiScope::RequestsWrite,
        ApiScope::RequestsRead,
        ApiScope::AuditRead,
        ApiScope::LedgerRead,
    ];

    /// The name on the wire, e.g. `sends:write`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ApiScope::SendsWrite => "sends:write",
            ApiScope::SendsRead => "sends:read",
            ApiScope::DocumentsWrite => "documents:write",
            ApiScope::DocumentsRead => "documents:read",
            ApiScope::RequestsWrite => "requests:write",
            ApiScope::RequestsRead => "requests:read",
            ApiScope::AuditRead => "audit:read",
            ApiScope::LedgerRead => "ledger:read",
        }
    }

    /// The scope named `name`, if there is one.
    pub fn parse(name: &str) -> Option<ApiScope> {
        ApiScope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == name)
    }
}

/// `POST /api/org/api-keys`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateApiKeyRequest {
    pub name: String,
    pub scopes: Vec<ApiScope>,
    /// Unix seconds after which the key does nothing; `None`: until revoked.
    #[serde(default)]
    pub expires_at: Option<i64>,
}

/// The answer: the key, and its secret, shown this once.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateApiKeyResponse {
    pub key: ApiKeyView,
    pub secret: SecretString,
}

/// A key as owners and admins see it (never its secret or hash).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyView {
    pub id: Id,
    pub name: String,
    /// The secret's first characters (`sp_` and 8 more), to tell keys apart.
    pub prefix: String,
    pub scopes: Vec<ApiScope>,
    pub created_at: i64,
    /// The owner or admin who made it.
    pub created_by: Id,
    #[serde(default)]
    pub last_used_at: Option<i64>,
    #[serde(default)]
    pub expires_at: Option<i64>,
    #[serde(default)]
    pub revoked_at: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_golden() {
        let json = serde_json::to_string(&ApiScope::ALL).expect("serializes");
        assert_eq!(
            json,
            r#"["sends:write","sends:read","documents:write","documents:read","requests:write","requests:read","audit:read","ledger:read"]"#
        );
        for scope in ApiScope::ALL {
            assert_eq!(
                serde_json::to_string(&scope).expect("serializes"),
                format!("\"{}\"", scope.as_str())
            );
            assert_eq!(ApiScope::parse(scope.as_str()), Some(scope));
        }
        assert_eq!(ApiScope::parse("members:write"), None);
    }
}
