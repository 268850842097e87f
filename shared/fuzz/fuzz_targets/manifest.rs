//! Manifest decoding never panics; arbitrary sealed bytes never open under a key that did not
//! seal them; and any JSON that parses and validates as a manifest survives seal → open equal.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::crypto::{BundleKey, Manifest, OsRng, SealedManifest};

fuzz_target!(|data: &[u8]| {
    let key = BundleKey::dangerously_from_bytes([3; 32]);
    assert!(
        Manifest::open(&key, &SealedManifest::from_bytes(data.to_vec())).is_err(),
        "forged manifest accepted"
    );
    if let Ok(manifest) = serde_json::from_slice::<Manifest>(data) {
        if manifest.validate().is_ok() {
            let sealed = manifest
                .seal(&key, &mut OsRng)
                .expect("valid manifests seal");
            assert_eq!(Manifest::open(&key, &sealed).expect("opens"), manifest);
        }
    }
});
