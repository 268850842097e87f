//! Secret key types. Each is a distinct type (a file key cannot be passed where a link key is
//! expected), is neither `Clone` nor `Serialize`, prints `***` in `Debug`, and is zeroized on
//! drop. Raw bytes go in and out only through `dangerously_…` methods, so every place that
//! handles key bytes stands out in review.

use rand_core::CryptoRngCore;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// The wrong number of bytes was given for a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a {name} is {expected} bytes, got {got}")]
pub struct KeyLengthError {
    pub name: &'static str,
    pub expected: usize,
    pub got: usize,
}

macro_rules! secret_bytes {
    ($(#[$meta:meta])* $name:ident, $len:expr) => {
        $(#[$meta])*
        #[derive(Zeroize, ZeroizeOnDrop)]
        pub struct $name([u8; $len]);

        impl $name {
            /// Length in bytes.
            pub const LEN: usize = $len;

            /// Wraps raw key bytes. The caller must zeroize its own copy.
            pub fn dangerously_from_bytes(bytes: [u8; $len]) -> Self {
                Self(bytes)
            }

            /// Copies raw key bytes from a slice of exactly `LEN` bytes.
            pub fn dangerously_from_slice(bytes: &[u8]) -> Result<Self, KeyLengthError> {
                let array = <[u8; $len]>::try_from(bytes).map_err(|_| KeyLengthError {
                    name: stringify!($name),
                    expected: $len,
                    got: bytes.len(),
                })?;
                Ok(Self(array))
            }

            /// The raw key bytes, for a primitive that needs them (an HKDF input, a WebCrypto
            /// key import). Never log, store or send them.
            pub fn dangerously_expose_bytes(&self) -> &[u8; $len] {
                &self.0
            }

            #[allow(dead_code)]
            pub(crate) fn random(rng: &mut impl CryptoRngCore) -> Self {
                let mut bytes = [0_u8; $len];
                rng.fill_bytes(&mut bytes);
                Self(bytes)
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "(***)"))
            }
        }
    };
}

secret_bytes!(
    /// `K`: the random 256-bit key of one bundle; everything of the bundle derives from it.
    BundleKey, 32
);
secret_bytes!(
    /// `HKDF(K, "sealpost/v1/file" ‖ u32be(i))`: encrypts file `i` of a bundle under STREAM.
    FileKey, 32
);
secret_bytes!(
    /// `HKDF(K, "sealpost/v1/manifest")`: seals the bundle's manifest.
    ManifestKey, 32
);
secret_bytes!(
    /// `HKDF(K, "sealpost/v1/receipt")`: proves delivery; given to the relay, independent of `K`.
    ReceiptKey, 32
);
secret_bytes!(
    /// The 32-byte secret in a link's fragment (`#<base64url(s)>`); never sent to the relay.
    LinkSecret, 32
);
secret_bytes!(
    /// The 32-byte secret in a request link's fragment; never sent to the relay.
    RequestSecret, 32
);
secret_bytes!(
    /// `argon2id(OTP, otp_salt)`: the OTP's contribution to a link's keys.
    OtpKey, 32
);
secret_bytes!(
    /// `HKDF(s ‖ o, salt = link_id, "sealpost/v1/link-key")`: wraps `K` for a link.
    LinkKey, 32
);
secret_bytes!(
    /// `HKDF(s ‖ o, salt = link_id, "sealpost/v1/link-proof")`: shown to the relay to open a
    /// link; the relay keeps only its SHA-256.
    LinkProof, 32
);
secret_bytes!(
    /// `argon2id(password, salt)`: the root of a user's account keys; never leaves the browser.
    MasterKey, 32
);
secret_bytes!(
    /// `HKDF(master, "sealpost/v1/auth")`: what the browser sends to log in.
    AuthKey, 32
);
secret_bytes!(
    /// `HKDF(master, "sealpost/v1/wrap")`: seals the user's private key.
    WrapKey, 32
);

impl BundleKey {
    /// A fresh random bundle key.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        Self::random(rng)
    }
}

impl RequestSecret {
    /// A fresh random request secret.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        Self::random(rng)
    }
}

impl LinkSecret {
    /// A fresh random link secret.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        Self::random(rng)
    }

    /// The link fragment: unpadded base64url of the secret.
    pub fn to_fragment(&self) -> Zeroizing<String> {
        Zeroizing::new(crate::encoding::encode(&self.0))
    }

    /// Reads a link fragment (with or without the leading `#`).
    pub fn from_fragment(fragment: &str) -> Result<Self, crate::encoding::DecodeError> {
        let text = fragment.strip_prefix('#').unwrap_or(fragment);
        let bytes = Zeroizing::new(crate::encoding::decode(text)?);
        Self::dangerously_from_slice(&bytes).map_err(|error| {
            crate::encoding::DecodeError::WrongLength {
                expected: error.expected,
                got: error.got,
            }
        })
    }
}

/// A password or one-time password typed by a person. Not `Clone`, `***` in `Debug`, zeroized
/// on drop. Only its UTF-8 bytes feed argon2id; it is never sent anywhere.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct Passphrase(String);

impl Passphrase {
    pub fn new(text: String) -> Self {
        Self(text)
    }

    /// The typed text, for a strength meter or argon2id. Never log, store or send it.
    pub fn dangerously_expose(&self) -> &str {
        &self.0
    }

    /// Length in characters (what a password policy counts).
    pub fn char_count(&self) -> usize {
        self.0.chars().count()
    }
}

impl std::fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Passphrase(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_key_bytes() {
        let key = BundleKey::dangerously_from_bytes([0x41; 32]);
        assert_eq!(format!("{key:?}"), "BundleKey(***)");
        let password = Passphrase::new("correct horse battery staple".to_owned());
        assert_eq!(format!("{password:?}"), "Passphrase(***)");
    }

    #[test]
    fn wrong_lengths_are_typed_errors() {
        let error = FileKey::dangerously_from_slice(&[0; 31]).expect_err("31 bytes");
        assert_eq!(
            error,
            KeyLengthError {
                name: "FileKey",
                expected: 32,
                got: 31
            }
        );
    }

    #[test]
    fn link_fragments_round_trip() {
        let secret = LinkSecret::dangerously_from_bytes([7; 32]);
        let fragment = secret.to_fragment();
        assert_eq!(fragment.len(), 43);
        let back = LinkSecret::from_fragment(&format!("#{}", fragment.as_str())).expect("parses");
        assert_eq!(back.dangerously_expose_bytes(), &[7; 32]);
        assert!(LinkSecret::from_fragment("#abc").is_err());
        assert!(LinkSecret::from_fragment("#not base64!").is_err());
    }
}
