//! Trust on first use for the keys the relay serves (PROTOCOL.md "Accounts", fingerprints):
//! the first time this browser encrypts to someone, their key's fingerprint is pinned in
//! `localStorage` (per logged-in user); later, a different key for the same person stops the
//! upload with a warning naming both fingerprints, until the user, having compared them with
//! the person by another channel, accepts the new one. The user's own key is checked against
//! the one of their own session, never pinned. Keys only the link's digest can vouch for (a
//! request by link) are checked by `key_set_matches` instead.

use shared::crypto::{Fingerprint, UserPublicKey};
use shared::ids::Id;
use shared::wire::KeyHolder;

/// A key that is not the one seen before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedKey {
    pub user: Id,
    pub name: String,
    pub organisation: String,
    pub pinned: String,
    pub served: String,
}

/// Why encrypting to the keys the relay served was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyWarning {
    #[error(
        "stopped: the encryption key of {} changed since this browser last encrypted to them. Nothing was sent. Compare fingerprints with them by phone before you accept the new key",
        .0.iter().map(|change| format!("{} ({})", change.name, change.organisation)).collect::<Vec<_>>().join(", ")
    )]
    Changed(Vec<ChangedKey>),
    #[error("stopped: the relay served a key that is not yours as your own; nothing was sent")]
    NotMine,
    #[error("stopped: the relay served an unusable key for {0}; nothing was sent")]
    Unusable(String),
    #[error(
        "stopped: the keys the relay offers are not the ones this link was made for. Nothing was uploaded; tell the sender of the link"
    )]
    DigestMismatch,
}

/// Checks the served keys (pinning new ones) and answers them parsed, or why not.
pub fn check_and_pin(
    me: Id,
    my_key: &[u8],
    holders: &[KeyHolder],
) -> Result<Vec<(Id, UserPublicKey)>, KeyWarning> {
    let mut pins = load(me);
    let mut changes = Vec::new();
    let mut keys = Vec::new();
    for holder in holders {
        let key = UserPublicKey::from_spki_der(&holder.public_key)
            .map_err(|_| KeyWarning::Unusable(holder.name.clone()))?;
        if holder.user == me {
            if holder.public_key != my_key {
                return Err(KeyWarning::NotMine);
            }
            keys.push((holder.user, key));
            continue;
        }
        let served = key.fingerprint().to_string();
        match pins
            .get(&holder.user.to_string())
            .and_then(|value| value.as_str())
        {
            Some(pinned) if pinned != served => changes.push(ChangedKey {
                user: holder.user,
                name: holder.name.clone(),
                organisation: holder.organisation.clone(),
                pinned: pinned.to_owned(),
                served,
            }),
            Some(_) => {}
            None => {
                pins.insert(holder.user.to_string(), served.into());
            }
        }
        keys.push((holder.user, key));
    }
    if !changes.is_empty() {
        return Err(KeyWarning::Changed(changes));
    }
    save(me, &pins);
    Ok(keys)
}

/// Pins the served keys of `changes` after the user compared them.
pub fn accept(me: Id, changes: &[ChangedKey]) {
    let mut pins = load(me);
    for change in changes {
        pins.insert(change.user.to_string(), change.served.clone().into());
    }
    save(me, &pins);
}

/// Whether the served keys are exactly the set a request link's digest names.
pub fn key_set_matches(
    holders: &[KeyHolder],
    digest: &[u8; 32],
) -> Result<Vec<(Id, UserPublicKey)>, KeyWarning> {
    let mut keys = Vec::new();
    let mut fingerprints: Vec<Fingerprint> = Vec::new();
    for holder in holders {
        let key = UserPublicKey::from_spki_der(&holder.public_key)
            .map_err(|_| KeyWarning::Unusable(holder.name.clone()))?;
        fingerprints.push(key.fingerprint());
        keys.push((holder.user, key));
    }
    if Fingerprint::set_digest(&fingerprints) != *digest {
        return Err(KeyWarning::DigestMismatch);
    }
    Ok(keys)
}

fn storage_key(me: Id) -> String {
    format!("sealpost.pins.{me}")
}

fn load(me: Id) -> serde_json::Map<String, serde_json::Value> {
    local_storage()
        .and_then(|storage| storage.get_item(&storage_key(me)).ok().flatten())
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

fn save(me: Id, pins: &serde_json::Map<String, serde_json::Value>) {
    if let (Some(storage), Ok(text)) = (local_storage(), serde_json::to_string(pins)) {
        let _ = storage.set_item(&storage_key(me), &text);
    }
}

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}
