//! Every wire decoder (JSON wire types, ids, base64url fields, link fragments) never panics, and
//! whatever it accepts re-encodes to something it decodes to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde::{Serialize, de::DeserializeOwned};
use shared::crypto::kdf::KdfParams;
use shared::crypto::{
    Fingerprint, LinkSecret, LinkVerifier, NoncePrefix, SealedChunk, UserWrappedKey,
};
use shared::ids::Id;
use shared::wire;

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(data: &[u8]) {
    if let Ok(value) = serde_json::from_slice::<T>(data) {
        let json = serde_json::to_vec(&value).expect("serializes");
        assert_eq!(
            serde_json::from_slice::<T>(&json).expect("re-parses"),
            value
        );
    }
}

fuzz_target!(|data: &[u8]| {
    round_trip::<wire::HealthResponse>(data);
    round_trip::<wire::ErrorResponse>(data);
    round_trip::<wire::LinkGuard>(data);
    round_trip::<wire::AccountKeys>(data);
    round_trip::<KdfParams>(data);
    round_trip::<Id>(data);
    round_trip::<NoncePrefix>(data);
    round_trip::<Fingerprint>(data);
    round_trip::<SealedChunk>(data);
    round_trip::<UserWrappedKey>(data);
    if let Ok(verifier) = serde_json::from_slice::<LinkVerifier>(data) {
        let json = serde_json::to_vec(&verifier).expect("serializes");
        assert_eq!(
            serde_json::from_slice::<LinkVerifier>(&json).expect("re-parses"),
            verifier
        );
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(id) = Id::parse(text) {
            assert_eq!(id.to_string(), text);
        }
        if let Ok(secret) = LinkSecret::from_fragment(text) {
            let again = LinkSecret::from_fragment(&secret.to_fragment()).expect("re-parses");
            assert_eq!(
                again.dangerously_expose_bytes(),
                secret.dangerously_expose_bytes()
            );
        }
    }
});
