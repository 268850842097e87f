//! Organisation API keys (PRODUCT.md "API keys"): making one (`sp_` and 32 random bytes as
//! base64url, shown once; the relay keeps the bytes' SHA-256), checking what a new key asks
//! for, and finding the key a presented secret belongs to. What a key may do is decided by
//! `authz` from its scopes; how a request presents one (`Authorization: Bearer` only) is
//! `identity`'s. Not here: HTTP, and the store's layout.

use shared::ids::Id;
use shared::secret::SecretString;
use shared::wire::{self, API_KEY_PREFIX, ApiScope, MAX_API_KEY_NAME_CHARS};

use crate::store::{ApiKeyRecord, Store};

/// Characters of the secret after `sp_` kept as the key's visible prefix.
const PREFIX_CHARS: usize = 8;

/// Why a key could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyRefused {
    #[error("a key needs a name of 1 to {MAX_API_KEY_NAME_CHARS} characters")]
    Name,
    #[error("a key needs at least one scope")]
    NoScopes,
    #[error("the key's expiry must be in the future")]
    Expiry,
}

/// A key just made: the record to store, and its secret for the one answer that shows it.
#[derive(Debug)]
pub struct Made {
    pub record: ApiKeyRecord,
    pub secret: SecretString,
}

/// Makes a key of `org` by `by` at `now` from what was asked (not yet stored).
pub fn make(
    org: Id,
    by: Id,
    now: i64,
    request: &wire::CreateApiKeyRequest,
) -> Result<Made, KeyRefused> {
    let name = request.name.trim();
    if name.is_empty() || name.chars().count() > MAX_API_KEY_NAME_CHARS || has_control(name) {
        return Err(KeyRefused::Name);
    }
    let mut scopes = request.scopes.clone();
    scopes.sort();
    scopes.dedup();
    if scopes.is_empty() {
        return Err(KeyRefused::NoScopes);
    }
    if request.expires_at.is_some_and(|at| at <= now) {
        return Err(KeyRefused::Expiry);
    }
    let token = crate::tokens::mint();
    let secret = format!("{API_KEY_PREFIX}{}", token.text.dangerously_expose());
    let prefix = secret
        .chars()
        .take(API_KEY_PREFIX.len() + PREFIX_CHARS)
        .collect();
    Ok(Made {
        record: ApiKeyRecord {
            id: Id::generate(&mut shared::crypto::OsRng),
            org,
            name: name.to_owned(),
            prefix,
            scopes,
            created_by: by,
            created_at: now,
            expires_at: request.expires_at,
            last_used_at: None,
            revoked_at: None,
            hash: token.hash,
        },
        secret: secret.into(),
    })
}

/// Whether `text` looks like an API key's secret (so a bearer token is taken as one).
pub fn is_key(text: &str) -> bool {
    text.starts_with(API_KEY_PREFIX)
}

/// Why a presented secret opens nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyInvalid {
    #[error("this API key is not valid: unknown, mistyped or revoked")]
    Unknown,
    #[error("this API key has expired")]
    Expired,
}

/// The live key whose secret is `presented` at `now`. The lookup is by the secret's SHA-256
/// (a hash-table lookup, so nothing about the secret leaks through timing that its hash does
/// not already hide).
pub fn find(
    store: &Store,
    presented: &str,
    now: i64,
) -> anyhow::Result<Result<ApiKeyRecord, KeyInvalid>> {
    let Some(hash) = presented
        .strip_prefix(API_KEY_PREFIX)
        .and_then(crate::tokens::hash_of)
    else {
        return Ok(Err(KeyInvalid::Unknown));
    };
    let Some(key) = store.api_key_by_hash(&hash)? else {
        return Ok(Err(KeyInvalid::Unknown));
    };
    if key.revoked_at.is_some() {
        return Ok(Err(KeyInvalid::Unknown));
    }
    if !key.live(now) {
        return Ok(Err(KeyInvalid::Expired));
    }
    Ok(Ok(key))
}

/// The key as owners and admins see it.
pub fn view(key: &ApiKeyRecord) -> wire::ApiKeyView {
    wire::ApiKeyView {
        id: key.id,
        name: key.name.clone(),
        prefix: key.prefix.clone(),
        scopes: key.scopes.clone(),
        created_at: key.created_at,
        created_by: key.created_by,
        last_used_at: key.last_used_at,
        expires_at: key.expires_at,
        revoked_at: key.revoked_at,
    }
}

/// The scopes' names, for the audit log (`sends:write sends:read`).
pub fn scope_names(scopes: &[ApiScope]) -> String {
    scopes
        .iter()
        .map(|scope| scope.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

fn has_control(text: &str) -> bool {
    text.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(
        name: &str,
        scopes: Vec<ApiScope>,
        expires_at: Option<i64>,
    ) -> wire::CreateApiKeyRequest {
        wire::CreateApiKeyRequest {
            name: name.to_owned(),
            scopes,
            expires_at,
        }
    }

    #[test]
    fn a_key_is_prefixed_stored_as_a_hash_and_never_printed() {
        let org = Id::from_bytes([1; 16]);
        let made = make(
            org,
            Id::from_bytes([2; 16]),
            100,
            &request(
                " billing sync ",
                vec![
                    ApiScope::SendsRead,
                    ApiScope::SendsWrite,
                    ApiScope::SendsRead,
                ],
                Some(200),
            ),
        )
        .expect("made");
        let secret = made.secret.dangerously_expose().to_owned();
        assert!(secret.starts_with("sp_"));
        assert_eq!(secret.len(), 3 + 43);
        assert_eq!(made.record.prefix, secret[..11]);
        assert_eq!(made.record.name, "billing sync");
        assert_eq!(
            made.record.scopes,
            vec![ApiScope::SendsWrite, ApiScope::SendsRead]
        );
        let hash = crate::tokens::hash_of(&secret[3..]).expect("a token");
        assert_eq!(made.record.hash, hash);
        let printed = format!("{made:?}");
        assert!(!printed.contains(&secret[3..]), "{printed}");
        assert!(is_key(&secret));
        assert!(!is_key("abc"));
    }

    #[test]
    fn bad_requests_are_refused() {
        let (org, by) = (Id::from_bytes([1; 16]), Id::from_bytes([2; 16]));
        let scopes = vec![ApiScope::AuditRead];
        assert_eq!(
            make(org, by, 100, &request("  ", scopes.clone(), None)).err(),
            Some(KeyRefused::Name)
        );
        assert_eq!(
            make(
                org,
                by,
                100,
                &request(&"x".repeat(81), scopes.clone(), None)
            )
            .err(),
            Some(KeyRefused::Name)
        );
        assert_eq!(
            make(org, by, 100, &request("a\nb", scopes.clone(), None)).err(),
            Some(KeyRefused::Name)
        );
        assert_eq!(
            make(org, by, 100, &request("ok", Vec::new(), None)).err(),
            Some(KeyRefused::NoScopes)
        );
        assert_eq!(
            make(org, by, 100, &request("ok", scopes, Some(100))).err(),
            Some(KeyRefused::Expiry)
        );
    }
}
