//! Trust on first use for the keys the relay serves (PROTOCOL.md "Accounts", fingerprints),
//! pinned by an identity the relay cannot mint silently: the organisation's handle and the
//! member's address (never the user id, which the relay chooses), in `localStorage` per
//! logged-in user. Before this browser encrypts to anyone, every reader must be known:
//! - the first time it encrypts to an organisation, it stops and lists the readers with their
//!   fingerprints (to compare out of band, e.g. by phone or the QR code on their page) and
//!   encrypts only once the user confirms them;
//! - a reader it has not seen before in an organisation it knows (one more reader, which a
//!   relay could add to read along) stops it the same way;
//! - a different key for a known reader stops it with both fingerprints.
//!
//! The user's own key is checked against the one of their own session, never pinned. Keys only
//! the link's digest can vouch for (a request by link, a portal address) are checked by
//! `key_set_matches` instead.

use shared::crypto::{Fingerprint, UserPublicKey};
use shared::ids::Id;
use shared::wire::KeyHolder;

/// A reader as the user is asked to confirm them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reader {
    pub name: String,
    pub email: String,
    pub organisation: String,
    pub handle: String,
    pub fingerprint: String,
}

/// A key that is not the one seen before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedKey {
    pub reader: Reader,
    pub pinned: String,
}

/// What must be confirmed before anything is encrypted: every reader served, which of them
/// are new to this browser, and whose key changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyReview {
    pub readers: Vec<Reader>,
    pub new: Vec<Reader>,
    pub changed: Vec<ChangedKey>,
    /// No reader of these organisations was known to this browser before.
    pub first_contact: bool,
}

impl KeyReview {
    fn describe(&self) -> String {
        let names = |readers: &mut dyn Iterator<Item = &Reader>| {
            readers
                .map(|reader| {
                    format!(
                        "{} <{}> ({})",
                        reader.name, reader.email, reader.organisation
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !self.changed.is_empty() {
            format!(
                "stopped: the encryption key of {} changed since this browser last encrypted to them. Nothing was sent. Compare fingerprints with them by phone before you accept the new key",
                names(&mut self.changed.iter().map(|change| &change.reader))
            )
        } else if self.first_contact {
            format!(
                "this is the first time this browser encrypts to {}. Nothing was sent yet. Compare each fingerprint below with the reader (by phone, or the QR code on their Sealpost page) and confirm to encrypt to exactly these readers",
                names(&mut self.readers.iter())
            )
        } else {
            format!(
                "stopped: new reader(s) since this browser last encrypted here: {}. Nothing was sent. Make sure they should read it and compare their fingerprints before you confirm",
                names(&mut self.new.iter())
            )
        }
    }
}

/// Why encrypting to the keys the relay served was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyWarning {
    #[error("{}", .0.describe())]
    Review(KeyReview),
    #[error("stopped: the relay served a key that is not yours as your own; nothing was sent")]
    NotMine,
    #[error("stopped: the relay served an unusable key for {0}; nothing was sent")]
    Unusable(String),
    #[error(
        "stopped: the keys the relay offers are not the ones this link was made for. Nothing was uploaded; tell the sender of the link"
    )]
    DigestMismatch,
}

/// The pin of a reader: organisation handle and address.
fn pin_name(handle: &str, email: &str) -> String {
    format!("{handle}/{}", email.to_lowercase())
}

/// Checks the served keys against the pins and answers them parsed, or what must be
/// confirmed first. Nothing is pinned here: only `accept` pins, after the user confirmed.
pub fn check(
    me: Id,
    my_key: &[u8],
    holders: &[KeyHolder],
) -> Result<Vec<(Id, UserPublicKey)>, KeyWarning> {
    let pins = load(me);
    let mut review = KeyReview {
        readers: Vec::new(),
        new: Vec::new(),
        changed: Vec::new(),
        first_contact: true,
    };
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
        let reader = Reader {
            name: holder.name.clone(),
            email: holder.email.clone(),
            organisation: holder.organisation.clone(),
            handle: holder.handle.clone(),
            fingerprint: key.fingerprint().to_string(),
        };
        let prefix = format!("{}/", holder.handle);
        if pins.keys().any(|name| name.starts_with(&prefix)) {
            review.first_contact = false;
        }
        match pins
            .get(&pin_name(&holder.handle, &holder.email))
            .and_then(|value| value.as_str())
        {
            Some(pinned) if pinned != reader.fingerprint => review.changed.push(ChangedKey {
                reader: reader.clone(),
                pinned: pinned.to_owned(),
            }),
            Some(_) => {}
            None => review.new.push(reader.clone()),
        }
        review.readers.push(reader);
        keys.push((holder.user, key));
    }
    if review.changed.is_empty() && review.new.is_empty() {
        return Ok(keys);
    }
    if !review.new.is_empty() && review.new.len() < review.readers.len() {
        review.first_contact = false;
    }
    Err(KeyWarning::Review(review))
}

/// Pins every reader of `review` after the user confirmed them.
pub fn accept(me: Id, review: &KeyReview) {
    let mut pins = load(me);
    for reader in &review.readers {
        pins.insert(
            pin_name(&reader.handle, &reader.email),
            reader.fingerprint.clone().into(),
        );
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

/// Version 2: pins by handle and address (version 1 pinned by user id and is not read).
fn storage_key(me: Id) -> String {
    format!("sealpost.pins.v2.{me}")
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
