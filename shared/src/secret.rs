//! Secrets on the wire (tokens, one-time codes, authentication keys) as types: they serialise
//! exactly as the plain value would (`#[serde(transparent)]`: the wire format is unchanged),
//! print as `***`, compare in constant time and are wiped from memory when dropped. A wire
//! type that holds one can derive `Debug` safely; its value is reached only through
//! `dangerously_expose`, which is easy to find in a review.

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq as _;
use zeroize::Zeroize as _;

/// A secret text: a bearer token, a ticket, a one-time or recovery code, a TOTP secret.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The text, for the one place that needs it (a header, a comparison, a field the user
    /// copies). Never log it.
    pub fn dangerously_expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for SecretString {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl std::fmt::Debug for SecretString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl PartialEq for SecretString {
    fn eq(&self, other: &Self) -> bool {
        bool::from(self.0.as_bytes().ct_eq(other.0.as_bytes()))
    }
}

impl Eq for SecretString {}

impl Drop for SecretString {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// `N` secret bytes, as base64url on the wire: an authentication key, a receipt key, a proof.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretBytes<const N: usize>(#[serde(with = "crate::encoding::array")] [u8; N]);

impl<const N: usize> SecretBytes<N> {
    pub fn new(bytes: [u8; N]) -> Self {
        Self(bytes)
    }

    /// The bytes, for the one place that needs them. Never log them.
    pub fn dangerously_expose(&self) -> &[u8; N] {
        &self.0
    }
}

impl<const N: usize> From<[u8; N]> for SecretBytes<N> {
    fn from(bytes: [u8; N]) -> Self {
        Self(bytes)
    }
}

impl<const N: usize> std::fmt::Debug for SecretBytes<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl<const N: usize> PartialEq for SecretBytes<N> {
    fn eq(&self, other: &Self) -> bool {
        bool::from(self.0.ct_eq(&other.0))
    }
}

impl<const N: usize> Eq for SecretBytes<N> {}

impl<const N: usize> Drop for SecretBytes<N> {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
    struct Carrier {
        token: SecretString,
        key: SecretBytes<4>,
    }

    #[test]
    fn the_wire_format_is_the_plain_value_and_debug_hides_it() {
        let carrier = Carrier {
            token: "tok-hunter2".into(),
            key: [0xfb, 0xff, 0x00, 0x10].into(),
        };
        let json = serde_json::to_string(&carrier).expect("serialises");
        assert_eq!(json, r#"{"token":"tok-hunter2","key":"-_8AEA"}"#);
        let back: Carrier = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, carrier);
        let printed = format!("{carrier:?}");
        assert!(
            !printed.contains("hunter2") && !printed.contains("-_8AEA") && printed.contains("***"),
            "{printed}"
        );
        assert_ne!(SecretString::from("a"), SecretString::from("b"));
        assert_ne!(SecretString::from("a"), SecretString::from("ab"));
    }
}
