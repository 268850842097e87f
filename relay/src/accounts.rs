//! Accounts and organisations in domain terms: the checks every sign-up, join and password
//! change passes (names, handles, uploaded account keys), making the organisation and its
//! owner or joining one by invitation, the user record with its auth key hashed, log-in
//! tickets, and the keyed hashes that keep typed addresses out of the relay's data (mail
//! counters, the audit log, prelogin's fake salts). No HTTP here: `api/auth.rs` reads the
//! request, calls these and answers; an [`AccountError`] becomes its answer in `error.rs`.

use shared::crypto::kdf::KdfParams;
use shared::crypto::{OsRng, UserPublicKey};
use shared::ids::Id;
use shared::wire::{self, OrgStatus, Role};

use crate::store::{JoinConflict, MfaTicket, OrgRecord, SignupConflict, Store, UserRecord};
use crate::tokens::keyed;

/// How long a sign-up's confirmation link is valid.
pub const SIGNUP_CONFIRM_HOURS: u32 = 24;
/// A 4096-bit RSA key's SPKI is about 550 bytes; nothing usable is longer than this.
const MAX_PUBLIC_KEY_BYTES: usize = 2048;
/// A 4096-bit key's PKCS#8 (about 2,400 bytes) sealed with its nonce and tag, with room.
const MAX_SEALED_PRIVATE_KEY_BYTES: usize = 4096;

/// Longest e-mail address accepted (RFC 5321's path limit).
const MAX_EMAIL_BYTES: usize = 254;

/// Why an account or organisation cannot be made or joined as asked.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// What was sent is not acceptable; the message says why.
    #[error("{0}")]
    Invalid(String),
    /// It collides with what exists (an address, a handle, a used invitation).
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] anyhow::Error),
}

pub fn checked_name(name: &str, what: &str) -> Result<String, AccountError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(AccountError::Invalid(format!(
            "{what} must be 1 to 100 characters"
        )));
    }
    Ok(name.to_owned())
}

pub fn checked_handle(handle: &str) -> Result<String, AccountError> {
    let handle = handle.trim().to_lowercase();
    let valid = (3..=32).contains(&handle.len())
        && handle
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !handle.starts_with('-')
        && !handle.ends_with('-');
    if valid {
        Ok(handle)
    } else {
        Err(AccountError::Invalid(
            "the handle must be 3 to 32 lowercase letters, digits or inner dashes".to_owned(),
        ))
    }
}

/// A new organisation as a sign-up makes it: pending, default policy, no portal.
pub fn new_organisation(
    new_org: &wire::NewOrganisation,
    now: i64,
) -> Result<OrgRecord, AccountError> {
    Ok(OrgRecord {
        id: Id::generate(&mut OsRng),
        name: checked_name(&new_org.name, "the organisation's name")?,
        handle: checked_handle(&new_org.handle)?,
        status: OrgStatus::Pending,
        created_at: now,
        status_changed_at: now,
        policy: wire::OrgPolicy::default(),
        portal_enabled: false,
        intake: Vec::new(),
    })
}

pub fn create_organisation(
    store: &Store,
    new_org: &wire::NewOrganisation,
    owner: &mut UserRecord,
    now: i64,
) -> Result<OrgRecord, AccountError> {
    let org = new_organisation(new_org, now)?;
    owner.org = org.id;
    owner.role = Role::Owner;
    if let Err(conflict) = store.create_org_with_owner(&org, owner)? {
        return Err(signup_conflict(conflict));
    }
    Ok(org)
}

pub fn signup_conflict(conflict: SignupConflict) -> AccountError {
    let message = match conflict {
        // Sign-up must say something; the address cannot log in without its password.
        SignupConflict::EmailTaken => "an account with this e-mail address exists; log in instead",
        SignupConflict::HandleTaken => "this organisation handle is taken; choose another",
    };
    AccountError::Conflict(message.to_owned())
}

pub fn join_organisation(
    store: &Store,
    token: &str,
    user: &mut UserRecord,
    now: i64,
) -> Result<OrgRecord, AccountError> {
    let invalid = || AccountError::Conflict(JoinConflict::InviteInvalid.to_string());
    let token_hash = crate::tokens::hash_of(token).ok_or_else(invalid)?;
    let invite = store.invite(&token_hash)?.ok_or_else(invalid)?;
    user.org = invite.org;
    user.role = invite.role;
    match store.join_with_invite(&token_hash, user, now)? {
        Ok(_) => {}
        Err(conflict) => return Err(AccountError::Conflict(conflict.to_string())),
    }
    store.org(invite.org)?.ok_or_else(|| {
        AccountError::Store(anyhow::anyhow!("invite {} has no organisation", invite.id))
    })
}

/// What every upload of account keys must satisfy: a usable public key, key-derivation
/// parameters a client would accept, and a sealed private key at least as long as a nonce and a
/// tag.
pub fn check_account_keys(keys: &wire::AccountKeys) -> Result<(), AccountError> {
    if keys.public_key.len() > MAX_PUBLIC_KEY_BYTES {
        return Err(AccountError::Invalid(format!(
            "the public key is longer than {MAX_PUBLIC_KEY_BYTES} bytes"
        )));
    }
    UserPublicKey::from_spki_der(&keys.public_key)
        .map_err(|error| AccountError::Invalid(format!("the public key is not usable: {error}")))?;
    // Exactly the current parameters: prelogin answers an unknown address with them, so an
    // account with other parameters would stand out (and weaker ones are refused anyway).
    if keys.kdf != KdfParams::CLIENT_V1 {
        return Err(AccountError::Invalid(format!(
            "password hashing must use protocol v1's parameters (argon2id, m {} KiB, t {}, p {})",
            KdfParams::CLIENT_V1.m_kib,
            KdfParams::CLIENT_V1.t,
            KdfParams::CLIENT_V1.p
        )));
    }
    if keys.sealed_private_key.len() < 28 {
        return Err(AccountError::Invalid(
            "the sealed private key is too short".to_owned(),
        ));
    }
    if keys.sealed_private_key.len() > MAX_SEALED_PRIVATE_KEY_BYTES {
        return Err(AccountError::Invalid(format!(
            "the sealed private key is longer than {MAX_SEALED_PRIVATE_KEY_BYTES} bytes"
        )));
    }
    Ok(())
}

/// The key under which mails to an address are counted: a keyed hash, so the relay's data
/// does not list every address someone typed into the sign-up form.
pub fn address_key(store: &Store, email: &str) -> [u8; 32] {
    keyed(store.server_secret(), b"sealpost/v1/signup-mail", email)
}

/// What the audit log keeps of an address typed at log-in: the address when it belongs to an
/// account; otherwise only a keyed hash of it (`unknown address 1a2b…`, the same for the same
/// text, so repeated attempts still show), since people type passwords into the address field.
pub fn typed_address(store: &Store, email: &str, known: bool) -> String {
    if known {
        return email.to_owned();
    }
    let digest = keyed(store.server_secret(), b"sealpost/v1/audit-address", email);
    format!("unknown address {}", hex::encode(&digest[..8]))
}

/// HMAC(server secret, "prelogin" ‖ e-mail), first 16 bytes: stable per address, unguessable.
pub fn fake_salt(secret: &[u8; 32], email: &str) -> [u8; 16] {
    let tag = keyed(secret, b"sealpost/v1/prelogin", email);
    let mut salt = [0_u8; 16];
    salt.copy_from_slice(&tag[..16]);
    salt
}

/// Makes a login ticket for `user`, whose password was just checked; returns the token (only
/// its hash is stored).
pub fn issue_ticket(store: &Store, now: i64, user: &UserRecord) -> anyhow::Result<String> {
    let token = crate::tokens::mint();
    let ticket = MfaTicket {
        user: user.id,
        created_at: now,
        attempts: 0,
        credential: user.server_salt,
    };
    store.create_mfa_ticket(&token.hash, &ticket)?;
    Ok(token.text.dangerously_expose().to_owned())
}

/// An e-mail address as an account's identity: trimmed and lowercased; one `@` with something
/// on both sides; at most 254 bytes.
pub fn normalize_email(email: &str) -> Result<String, AccountError> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= MAX_EMAIL_BYTES
        && email.split('@').count() == 2
        && email.split('@').all(|part| !part.is_empty())
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(email)
    } else {
        Err(AccountError::Invalid(
            "that is not an e-mail address".to_owned(),
        ))
    }
}

/// An optional e-mail address as typed (a recipient's, a provider's): `None` when blank,
/// refused in words (naming `whose`) when it cannot be one.
pub fn optional_email(text: Option<&str>, whose: &str) -> Result<Option<String>, AccountError> {
    match text.map(str::trim) {
        None | Some("") => Ok(None),
        Some(address) if address.len() <= MAX_EMAIL_BYTES && address.contains('@') => {
            Ok(Some(address.to_owned()))
        }
        Some(_) => Err(AccountError::Invalid(format!(
            "{whose} e-mail address is not valid"
        ))),
    }
}
