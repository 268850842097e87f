//! Key derivation: HKDF-SHA-256 with the protocol's `sealpost/v1/…` labels, and argon2id for
//! passwords and one-time passwords with parameters stored beside each salt. Every derived key
//! comes out as its own secret type. Nothing here draws randomness.

use argon2::{Algorithm, Argon2, Params, Version};
use hkdf::Hkdf;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::keys::{
    AuthKey, BundleKey, FileKey, LinkKey, LinkProof, LinkSecret, ManifestKey, MasterKey, OtpKey,
    Passphrase, ReceiptKey, WrapKey,
};
use crate::ids::Id;

/// HKDF `info` labels (PROTOCOL.md). The file label is followed by `u32be(file index)`.
pub mod labels {
    pub const FILE: &[u8] = b"sealpost/v1/file";
    pub const MANIFEST: &[u8] = b"sealpost/v1/manifest";
    pub const RECEIPT: &[u8] = b"sealpost/v1/receipt";
    pub const LINK_KEY: &[u8] = b"sealpost/v1/link-key";
    pub const LINK_PROOF: &[u8] = b"sealpost/v1/link-proof";
    pub const AUTH: &[u8] = b"sealpost/v1/auth";
    pub const WRAP: &[u8] = b"sealpost/v1/wrap";
    pub const REQUEST_KEY: &[u8] = b"sealpost/v1/request-key";
    pub const REQUEST_UPLOAD: &[u8] = b"sealpost/v1/request-upload";
}

/// The password-hashing algorithm; only argon2id exists in protocol v1.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KdfAlgorithm {
    #[serde(rename = "argon2id")]
    Argon2id,
}

/// argon2id parameters, stored beside every salt so they can be raised later.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    pub alg: KdfAlgorithm,
    /// Memory in KiB.
    pub m_kib: u32,
    /// Passes.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

/// Why a derivation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KdfError {
    #[error("argon2id parameters out of the accepted range (m {m_kib} KiB, t {t}, p {p})")]
    ParamsOutOfRange { m_kib: u32, t: u32, p: u32 },
    #[error(
        "the relay offered weaker password hashing (m {m_kib} KiB, t {t}) than protocol v1's floor (m 65536 KiB, t 3): refused, nothing was derived"
    )]
    BelowClientFloor { m_kib: u32, t: u32 },
    #[error("the salt must be at least 16 bytes, got {0}")]
    SaltTooShort(usize),
    #[error("argon2id failed: {0}")]
    Argon2(String),
}

impl KdfParams {
    /// Protocol v1's client-side parameters: m = 64 MiB, t = 3, p = 1.
    pub const CLIENT_V1: KdfParams = KdfParams {
        alg: KdfAlgorithm::Argon2id,
        m_kib: 64 * 1024,
        t: 3,
        p: 1,
    };

    /// Parameters argon2id runs with at all: not weaker than OWASP's floor (19 MiB, t = 2, the
    /// relay's own auth-key hashing), and not so heavy that a hostile relay could freeze the
    /// browser (1 GiB, t = 16, p = 8).
    pub fn validate(&self) -> Result<(), KdfError> {
        let in_range = (19 * 1024..=1024 * 1024).contains(&self.m_kib)
            && (2..=16).contains(&self.t)
            && (1..=8).contains(&self.p);
        if in_range {
            Ok(())
        } else {
            Err(KdfError::ParamsOutOfRange {
                m_kib: self.m_kib,
                t: self.t,
                p: self.p,
            })
        }
    }

    /// Parameters for a password or a one-time password, which come from the relay (prelogin,
    /// a session's keys, a link's guard): protocol v1's are the floor. A relay may raise them,
    /// never lower them, or it could collect an `auth_key` or OTP proof that is cheaper to
    /// attack offline (PROTOCOL.md, "Parameters are a floor").
    pub fn check_client_floor(&self) -> Result<(), KdfError> {
        self.validate()?;
        let floor = Self::CLIENT_V1;
        if self.m_kib < floor.m_kib || self.t < floor.t {
            return Err(KdfError::BelowClientFloor {
                m_kib: self.m_kib,
                t: self.t,
            });
        }
        Ok(())
    }
}

/// `argon2id(secret, salt)` with 32 bytes of output, after checking the parameters and salt.
pub fn argon2id(
    secret: &[u8],
    salt: &[u8],
    params: &KdfParams,
) -> Result<Zeroizing<[u8; 32]>, KdfError> {
    params.validate()?;
    if salt.len() < 16 {
        return Err(KdfError::SaltTooShort(salt.len()));
    }
    let argon_params = Params::new(params.m_kib, params.t, params.p, Some(32))
        .map_err(|error| KdfError::Argon2(error.to_string()))?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params);
    let mut out = Zeroizing::new([0_u8; 32]);
    argon
        .hash_password_into(secret, salt, out.as_mut())
        .map_err(|error| KdfError::Argon2(error.to_string()))?;
    Ok(out)
}

/// HKDF-SHA-256 with an optional salt and an `info` made of parts, 32 bytes out.
pub fn hkdf32(ikm: &[u8], salt: Option<&[u8]>, info: &[&[u8]]) -> Zeroizing<[u8; 32]> {
    let mut okm = Zeroizing::new([0_u8; 32]);
    Hkdf::<Sha256>::new(salt, ikm)
        .expand_multi_info(info, okm.as_mut())
        .unwrap_or_else(|_| unreachable!("32 bytes is within HKDF-SHA-256's 8160-byte limit"));
    okm
}

impl BundleKey {
    /// `file_key_i = HKDF(K, info = "sealpost/v1/file" ‖ u32be(i))`.
    pub fn file_key(&self, index: u32) -> FileKey {
        let okm = hkdf32(
            self.dangerously_expose_bytes(),
            None,
            &[labels::FILE, &index.to_be_bytes()],
        );
        FileKey::dangerously_from_bytes(*okm)
    }

    /// `HKDF(K, "sealpost/v1/manifest")`.
    pub fn manifest_key(&self) -> ManifestKey {
        let okm = hkdf32(self.dangerously_expose_bytes(), None, &[labels::MANIFEST]);
        ManifestKey::dangerously_from_bytes(*okm)
    }

    /// `receipt_key = HKDF(K, "sealpost/v1/receipt")`.
    pub fn receipt_key(&self) -> ReceiptKey {
        let okm = hkdf32(self.dangerously_expose_bytes(), None, &[labels::RECEIPT]);
        ReceiptKey::dangerously_from_bytes(*okm)
    }
}

/// The salt of a link's OTP derivation (public, stored by the relay).
pub type OtpSalt = [u8; 16];

/// The two keys a link's secret and OTP yield.
#[derive(Debug)]
pub struct LinkKeys {
    pub link_key: LinkKey,
    pub proof: LinkProof,
}

/// `o = argon2id(OTP, otp_salt)`; `ikm = s ‖ o`; `link_key` and `proof` by HKDF with
/// `salt = link_id`.
pub fn derive_link_keys(
    secret: &LinkSecret,
    otp: &Passphrase,
    otp_salt: &OtpSalt,
    link_id: &Id,
    params: &KdfParams,
) -> Result<LinkKeys, KdfError> {
    let o = OtpKey::dangerously_from_bytes(*argon2id(
        otp.dangerously_expose().as_bytes(),
        otp_salt,
        params,
    )?);
    Ok(link_keys_from_otp_key(secret, &o, link_id))
}

/// The HKDF half of `derive_link_keys`, for a caller that ran argon2id elsewhere (the browser
/// runs it in a worker, so the page neither blocks nor keeps 64 MiB of memory).
pub fn link_keys_from_otp_key(secret: &LinkSecret, o: &OtpKey, link_id: &Id) -> LinkKeys {
    let mut ikm = Zeroizing::new([0_u8; 64]);
    ikm[..32].copy_from_slice(secret.dangerously_expose_bytes());
    ikm[32..].copy_from_slice(o.dangerously_expose_bytes());
    let salt = link_id.as_bytes().as_slice();
    let link_key = hkdf32(ikm.as_ref(), Some(salt), &[labels::LINK_KEY]);
    let proof = hkdf32(ikm.as_ref(), Some(salt), &[labels::LINK_PROOF]);
    LinkKeys {
        link_key: LinkKey::dangerously_from_bytes(*link_key),
        proof: LinkProof::dangerously_from_bytes(*proof),
    }
}

/// `master = argon2id(password, salt)`.
pub fn derive_master_key(
    password: &Passphrase,
    salt: &[u8; 16],
    params: &KdfParams,
) -> Result<MasterKey, KdfError> {
    let okm = argon2id(password.dangerously_expose().as_bytes(), salt, params)?;
    Ok(MasterKey::dangerously_from_bytes(*okm))
}

impl MasterKey {
    /// `auth_key = HKDF(master, "sealpost/v1/auth")`.
    pub fn auth_key(&self) -> AuthKey {
        let okm = hkdf32(self.dangerously_expose_bytes(), None, &[labels::AUTH]);
        AuthKey::dangerously_from_bytes(*okm)
    }

    /// `wrap_key = HKDF(master, "sealpost/v1/wrap")`.
    pub fn wrap_key(&self) -> WrapKey {
        let okm = hkdf32(self.dangerously_expose_bytes(), None, &[labels::WRAP]);
        WrapKey::dangerously_from_bytes(*okm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_outside_the_accepted_range_are_refused() {
        let mut weak = KdfParams::CLIENT_V1;
        weak.m_kib = 1024;
        assert!(matches!(
            weak.validate(),
            Err(KdfError::ParamsOutOfRange { .. })
        ));
        let mut heavy = KdfParams::CLIENT_V1;
        heavy.t = 100;
        assert!(heavy.validate().is_err());
        assert_eq!(KdfParams::CLIENT_V1.validate(), Ok(()));
        assert_eq!(
            argon2id(b"x", b"short", &KdfParams::CLIENT_V1).map(|_| ()),
            Err(KdfError::SaltTooShort(5))
        );
    }

    #[test]
    fn a_relay_cannot_lower_password_hashing_below_protocol_v1() {
        // What a hostile relay would serve at prelogin: OWASP's floor, 5x cheaper than v1.
        let weak = crate::crypto::account::SERVER_AUTH_PARAMS;
        assert_eq!(weak.validate(), Ok(()), "argon2id itself would run them");
        assert_eq!(
            weak.check_client_floor(),
            Err(KdfError::BelowClientFloor {
                m_kib: 19 * 1024,
                t: 2
            })
        );
        for lowered in [
            KdfParams {
                m_kib: 64 * 1024 - 1,
                ..KdfParams::CLIENT_V1
            },
            KdfParams {
                t: 2,
                ..KdfParams::CLIENT_V1
            },
        ] {
            assert!(lowered.check_client_floor().is_err(), "{lowered:?}");
        }
        let raised = KdfParams {
            m_kib: 128 * 1024,
            t: 4,
            ..KdfParams::CLIENT_V1
        };
        assert_eq!(raised.check_client_floor(), Ok(()));
        assert_eq!(KdfParams::CLIENT_V1.check_client_floor(), Ok(()));
    }

    #[test]
    fn params_have_a_pinned_wire_form() {
        let json = serde_json::to_string(&KdfParams::CLIENT_V1).expect("json");
        assert_eq!(json, r#"{"alg":"argon2id","m_kib":65536,"t":3,"p":1}"#);
        assert!(
            serde_json::from_str::<KdfParams>(r#"{"alg":"scrypt","m_kib":1,"t":1,"p":1}"#).is_err()
        );
    }

    #[test]
    fn every_label_gives_an_independent_key() {
        let k = BundleKey::dangerously_from_bytes([1; 32]);
        let keys = [
            *k.file_key(0).dangerously_expose_bytes(),
            *k.file_key(1).dangerously_expose_bytes(),
            *k.manifest_key().dangerously_expose_bytes(),
            *k.receipt_key().dangerously_expose_bytes(),
        ];
        for (i, a) in keys.iter().enumerate() {
            for b in &keys[i + 1..] {
                assert_ne!(a, b);
            }
            assert_ne!(a, k.dangerously_expose_bytes());
        }
    }
}
