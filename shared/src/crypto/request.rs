//! Request links (PROTOCOL.md "Requests, Portal, Chart Transfer"): a request sent "to anyone by
//! link" carries in its fragment a 32-byte request secret `r` and the digest of the key set the
//! uploader must encrypt to, `#<base64url(r)>.<base64url(digest)>`. From `r` derive the key that
//! wraps the authorisation document's `K` for the provider (who has no account) and the upload
//! token with which the provider proves to the relay that they hold the link; the relay keeps
//! only the token's SHA-256. Neither `r` nor the digest is ever sent to the relay.

use zeroize::Zeroizing;

use super::kdf::{hkdf32, labels};
use super::keys::{LinkKey, RequestSecret};
use super::link::LinkVerifier;
use crate::encoding::{self, DecodeError};

/// What a request secret yields.
pub struct RequestKeys {
    /// `HKDF(r, "sealpost/v1/request-key")`: wraps the authorisation document's `K` for
    /// whoever holds the link.
    pub authorization_key: LinkKey,
    /// `HKDF(r, "sealpost/v1/request-upload")`: shown to the relay with every call the provider
    /// makes. (No salt: `r` is fresh for each request, and the requester's browser needs the
    /// token's hash before the relay has given the request its id.)
    upload_token: Zeroizing<[u8; 32]>,
}

impl RequestKeys {
    /// The token as the provider's browser sends it (base64url).
    pub fn upload_token(&self) -> Zeroizing<String> {
        Zeroizing::new(encoding::encode(self.upload_token.as_ref()))
    }

    /// `SHA-256(upload token)`: what the relay stores to recognise the token.
    pub fn upload_verifier(&self) -> LinkVerifier {
        use sha2::Digest as _;
        LinkVerifier::from_bytes(sha2::Sha256::digest(self.upload_token.as_ref()).into())
    }
}

impl std::fmt::Debug for RequestKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestKeys")
            .field("authorization_key", &self.authorization_key)
            .field("upload_token", &"***")
            .finish()
    }
}

/// Derives a request link's keys from its secret.
pub fn derive_request_keys(secret: &RequestSecret) -> RequestKeys {
    let key = hkdf32(
        secret.dangerously_expose_bytes(),
        None,
        &[labels::REQUEST_KEY],
    );
    let token = hkdf32(
        secret.dangerously_expose_bytes(),
        None,
        &[labels::REQUEST_UPLOAD],
    );
    RequestKeys {
        authorization_key: LinkKey::dangerously_from_bytes(*key),
        upload_token: token,
    }
}

/// A request link's fragment: the secret and the expected key-set digest.
#[derive(Debug)]
pub struct RequestFragment {
    pub secret: RequestSecret,
    pub key_set_digest: [u8; 32],
}

impl RequestFragment {
    /// `<base64url(r)>.<base64url(digest)>`.
    pub fn encode(&self) -> Zeroizing<String> {
        Zeroizing::new(format!(
            "{}.{}",
            encoding::encode(self.secret.dangerously_expose_bytes()),
            encoding::encode(&self.key_set_digest)
        ))
    }

    /// Reads a fragment (with or without the leading `#`).
    pub fn decode(fragment: &str) -> Result<Self, DecodeError> {
        let text = fragment.strip_prefix('#').unwrap_or(fragment);
        let (secret, digest) = text.split_once('.').ok_or(DecodeError::WrongLength {
            expected: 2,
            got: 1,
        })?;
        let secret = Zeroizing::new(encoding::decode_array::<32>(secret)?);
        Ok(Self {
            secret: RequestSecret::dangerously_from_bytes(*secret),
            key_set_digest: encoding::decode_array(digest)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{BundleKey, Fingerprint};
    use rand_core::OsRng;

    #[test]
    fn the_fragment_round_trips_and_refuses_damage() {
        let fragment = RequestFragment {
            secret: RequestSecret::generate(&mut OsRng),
            key_set_digest: Fingerprint::set_digest(&[Fingerprint::from_bytes([3; 32])]),
        };
        let text = fragment.encode();
        let back = RequestFragment::decode(&format!("#{}", text.as_str())).expect("parses");
        assert_eq!(back.key_set_digest, fragment.key_set_digest);
        assert_eq!(
            back.secret.dangerously_expose_bytes(),
            fragment.secret.dangerously_expose_bytes()
        );
        for bad in ["", "abc", "abc.def", &text[..text.len() - 2]] {
            assert!(RequestFragment::decode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn keys_depend_on_the_secret() {
        let secret = RequestSecret::dangerously_from_bytes([9; 32]);
        let first = derive_request_keys(&secret);
        let again = derive_request_keys(&secret);
        let other = derive_request_keys(&RequestSecret::dangerously_from_bytes([8; 32]));
        assert_eq!(first.upload_token(), again.upload_token());
        assert_ne!(first.upload_token(), other.upload_token());
        assert_ne!(
            first.authorization_key.dangerously_expose_bytes(),
            first.upload_token.as_ref(),
            "independent labels"
        );
        assert!(first.upload_verifier().matches(first.upload_token.as_ref()));
        let printed = format!("{first:?}");
        assert!(
            !printed.contains(first.upload_token().as_str()),
            "{printed}"
        );
        let k = BundleKey::generate(&mut OsRng);
        let wrapped = first.authorization_key.wrap(&k, &mut OsRng);
        assert!(other.authorization_key.unwrap(&wrapped).is_err());
        assert_eq!(
            first
                .authorization_key
                .unwrap(&wrapped)
                .expect("unwraps")
                .dangerously_expose_bytes(),
            k.dangerously_expose_bytes()
        );
    }

    #[test]
    fn golden_request_keys() {
        // Pins the label: HKDF-SHA-256(ikm = 0x42 × 32, no salt,
        // info = "sealpost/v1/request-upload"), computed independently with Python's hmac.
        let secret = RequestSecret::dangerously_from_bytes([0x42; 32]);
        let keys = derive_request_keys(&secret);
        assert_eq!(
            keys.upload_token().as_str(),
            "KpaPlOxJLD_d0NH8HfPNpVaIYURdghtx2oo5_5Vy7zs"
        );
    }
}
