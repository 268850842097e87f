//! Published known-answer vectors for the primitives, through the same crates and code paths
//! Sealpost uses: AES-256-GCM (McGrew & Viega GCM spec, test cases 13–15), HKDF-SHA-256
//! (RFC 5869 A.1), HMAC-SHA-256 (RFC 4231 case 2), argon2id (RFC 9106 §5.3).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use argon2::{Algorithm, Argon2, AssociatedData, ParamsBuilder, Version};
use hmac::{Hmac, Mac};
use sha2::Sha256;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::unhex;
use crate::crypto::kdf::hkdf32;
use crate::crypto::sealed;

fn gcm_case(key: &str, iv: &str, plaintext: &str, ciphertext: &str, tag: &str) {
    let key: [u8; 32] = unhex(key).try_into().expect("32-byte key");
    let iv: [u8; 12] = unhex(iv).try_into().expect("12-byte iv");
    let plaintext = unhex(plaintext);
    let mut expected = unhex(ciphertext);
    expected.extend(unhex(tag));
    // Through Sealpost's sealing format: nonce ‖ ciphertext ‖ tag.
    let sealed_bytes = sealed::seal_with_nonce(&key, &iv, &plaintext);
    assert_eq!(&sealed_bytes[..12], iv.as_slice());
    assert_eq!(&sealed_bytes[12..], expected.as_slice());
    let opened = sealed::open(&key, &sealed_bytes).expect("opens");
    assert_eq!(opened.as_bytes(), plaintext.as_slice());
    // And through the AEAD directly, with empty associated data.
    let cipher = Aes256Gcm::new(&key.into());
    let direct = cipher
        .encrypt(
            Nonce::from_slice(&iv),
            Payload {
                msg: &plaintext,
                aad: &[],
            },
        )
        .expect("encrypts");
    assert_eq!(direct, expected);
}

#[test]
fn aes_256_gcm_test_case_13_empty_plaintext() {
    gcm_case(
        "0000000000000000000000000000000000000000000000000000000000000000",
        "000000000000000000000000",
        "",
        "",
        "530f8afbc74536b9a963b4f1c4cb738b",
    );
}

#[test]
fn aes_256_gcm_test_case_14_one_block() {
    gcm_case(
        "0000000000000000000000000000000000000000000000000000000000000000",
        "000000000000000000000000",
        "00000000000000000000000000000000",
        "cea7403d4d606b6e074ec5d3baf39d18",
        "d0d1c8a799996bf0265b98b5d48ab919",
    );
}

#[test]
fn aes_256_gcm_test_case_15_four_blocks() {
    gcm_case(
        "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
        "cafebabefacedbaddecaf888",
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72
         1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
        "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa
         8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
        "b094dac5d93471bdec1a502270e3cc6c",
    );
}

#[test]
fn hkdf_sha256_rfc5869_case_1() {
    let ikm = unhex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b");
    let salt = unhex("000102030405060708090a0b0c");
    let info = unhex("f0f1f2f3f4f5f6f7f8f9");
    // The first 32 of the RFC's 42 output bytes (HKDF output is a prefix-stable stream).
    let okm = hkdf32(&ikm, Some(&salt), &[&info[..4], &info[4..]]);
    assert_eq!(
        okm.as_slice(),
        unhex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf").as_slice()
    );
}

#[test]
fn hmac_sha256_rfc4231_case_2() {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"Jefe").expect("any key length");
    mac.update(b"what do ya want for nothing?");
    assert_eq!(
        mac.finalize().into_bytes().as_slice(),
        unhex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843").as_slice()
    );
}

#[test]
fn argon2id_rfc9106_section_5_3() {
    let params = ParamsBuilder::new()
        .m_cost(32)
        .t_cost(3)
        .p_cost(4)
        .output_len(32)
        .data(AssociatedData::new(&[4; 12]).expect("12 bytes of associated data"))
        .build()
        .expect("valid parameters");
    let argon = Argon2::new_with_secret(&[3; 8], Algorithm::Argon2id, Version::V0x13, params)
        .expect("valid secret");
    let mut tag = [0_u8; 32];
    argon
        .hash_password_into(&[1; 32], &[2; 16], &mut tag)
        .expect("hashes");
    assert_eq!(
        tag.as_slice(),
        unhex("0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659").as_slice()
    );
}
