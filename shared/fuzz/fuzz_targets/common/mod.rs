//! The property every wire target asserts of each type it decodes.

use serde::{Serialize, de::DeserializeOwned};

/// If `data` decodes as a `T`: the value's encoding decodes to the same value, and encodes to
/// the same bytes again (an accepted value has one stable encoding). Never panics otherwise.
pub fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<T>(data) else {
        return;
    };
    let json = serde_json::to_vec(&value).expect("an accepted value serializes");
    let again = serde_json::from_slice::<T>(&json).expect("its encoding decodes");
    assert_eq!(
        again,
        value,
        "re-encoded as {}",
        String::from_utf8_lossy(&json)
    );
    assert_eq!(
        serde_json::to_vec(&again).expect("serializes"),
        json,
        "the encoding is not stable"
    );
}
