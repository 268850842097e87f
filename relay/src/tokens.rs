//! Bearer tokens, one way for every kind: sessions, sign-up confirmations, invitations, log-in
//! tickets, download tokens and document upload tokens. A token is 32 random bytes handed out
//! once as base64url text ([`mint`]); the relay keeps only `SHA-256` of the 32 bytes (a
//! [`TokenHash`]), looks records up by it or compares it in constant time ([`Presented`]).
//!
//! Until this module, download and upload tokens were stored as `SHA-256` of their text
//! rather than of their bytes. Those are short-lived (a download token lasts at most
//! `sends.download_token_minutes`; an upload token only while its document uploads), but a
//! relay upgraded mid-upload still holds some: [`Presented::matches`] accepts the old form for
//! those two kinds, with the same constant-time comparison. New tokens are stored only in the
//! one form.
//!
//! `keyed` is here too: the keyed hash that names a typed address to this relay only.
//!
//! Not bearer tokens, so not here: one-time recovery codes (typed by people, normalised before
//! hashing, `api/mfa.rs`), CSRF tokens (bound to a session record), and a request link's upload
//! proof (derived in the browser from the link, checked against its verifier in `requests`).

use rand_core::RngCore as _;
use sha2::{Digest as _, Sha256};
use shared::secret::SecretString;
use subtle::ConstantTimeEq as _;

/// What the relay stores of a token: `SHA-256` of its 32 bytes.
pub type TokenHash = [u8; 32];

/// A token just made: its text goes to its holder once, its hash into the store.
#[derive(Debug)]
pub struct Minted {
    /// Base64url of the 32 random bytes (`Debug` prints `***`).
    pub text: SecretString,
    pub hash: TokenHash,
}

/// A new token from the operating system's randomness.
pub fn mint() -> Minted {
    let mut bytes = zeroize::Zeroizing::new([0_u8; 32]);
    shared::crypto::OsRng.fill_bytes(bytes.as_mut());
    Minted {
        text: shared::encoding::encode(bytes.as_ref()).into(),
        hash: Sha256::digest(bytes.as_ref()).into(),
    }
}

/// The stored hash of a token given as text (surrounding blanks and a leading `#`, as a pasted
/// link fragment has, are ignored); `None` when the text is not a token at all.
pub fn hash_of(text: &str) -> Option<TokenHash> {
    let bytes = zeroize::Zeroizing::new(
        shared::encoding::decode(text.trim().trim_start_matches('#')).ok()?,
    );
    (bytes.len() == 32).then(|| Sha256::digest(bytes.as_slice()).into())
}

/// A token as a client presented it, ready to be compared with stored hashes.
pub struct Presented {
    hash: Option<TokenHash>,
    /// `SHA-256` of the text: how download and upload tokens were stored before this module.
    legacy: TokenHash,
}

impl std::fmt::Debug for Presented {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Presented(***)")
    }
}

impl Presented {
    pub fn new(text: &str) -> Self {
        Self {
            hash: hash_of(text),
            legacy: Sha256::digest(text.as_bytes()).into(),
        }
    }

    /// Whether this is the token whose hash is `stored`, in constant time (both forms are
    /// always compared).
    pub fn matches(&self, stored: &TokenHash) -> bool {
        let current =
            self.hash.unwrap_or([0; 32]).ct_eq(stored) & u8::from(self.hash.is_some()).into();
        let legacy = self.legacy.ct_eq(stored);
        bool::from(current | legacy)
    }
}

/// `HMAC-SHA-256(secret, label ‖ text)`: a value that names `text` (an address someone typed)
/// to this relay only, under a purpose `label` (`sealpost/v1/…`), so the address itself need
/// not be stored.
pub fn keyed(secret: &[u8; 32], label: &[u8], text: &str) -> [u8; 32] {
    use hmac::{Hmac, Mac as _};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(label);
    mac.update(text.as_bytes());
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minted_token_matches_its_hash_and_nothing_else() {
        let minted = mint();
        let text = minted.text.dangerously_expose();
        assert_eq!(hash_of(text), Some(minted.hash));
        assert_eq!(hash_of(&format!(" #{text} ")), Some(minted.hash));
        assert!(Presented::new(text).matches(&minted.hash));
        let other = mint();
        assert_ne!(minted.hash, other.hash);
        assert!(!Presented::new(other.text.dangerously_expose()).matches(&minted.hash));
        assert!(!Presented::new("").matches(&minted.hash));
        assert_eq!(hash_of("not a token"), None);
        assert_eq!(hash_of(&shared::encoding::encode(&[1_u8; 31])), None);
        assert!(!format!("{minted:?}").contains(text));
    }

    #[test]
    fn tokens_stored_before_this_module_still_match() {
        let minted = mint();
        let text = minted.text.dangerously_expose();
        let stored_the_old_way: TokenHash = Sha256::digest(text.as_bytes()).into();
        assert!(Presented::new(text).matches(&stored_the_old_way));
        assert!(!Presented::new(mint().text.dangerously_expose()).matches(&stored_the_old_way));
    }
}
