//! Organisations, users and sessions in sled. Sign-up writes the organisation, the user and
//! their unique indexes (handle, e-mail) in one transaction, so two sign-ups can never claim
//! the same handle or address. Every later change of an organisation or user is a
//! compare-and-swap update (`records`), so no stale copy is ever written back. Sessions are
//! stored under the SHA-256 of their token, never the token itself, and belong to their
//! user's session epoch: ending every session of a user ("log out everywhere", a password
//! change, a role change) is one atomic bump of that epoch, which no session created before it
//! survives, whatever is in flight. A session is created only while the password it was
//! opened with is still the user's (checked in the same transaction).

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use shared::crypto::SealedPrivateKey;
use shared::crypto::kdf::KdfParams;
use shared::ids::Id;
use shared::wire::{OrgStatus, Role};
use sled::Transactional as _;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use super::Store;
use super::records::{
    Abort, SESSIONS, SessionGuard, USERS, Updated, abort, check_guard, decode_in, encode_in, finish,
};

const ORGS: &str = "orgs";
const ORG_HANDLES: &str = "org_handles";
const USER_EMAILS: &str = "user_emails";
const SESSIONS_BY_USER: &str = "sessions_by_user";
const MFA_TICKETS: &str = "mfa_tickets";
const PENDING_SIGNUPS: &str = "pending_signups";
const SIGNUP_MAIL_DAYS: &str = "signup_mail_days";

/// A sign-up waiting for its address to be confirmed (when the relay sends mail): the
/// organisation and owner it will create, stored under the SHA-256 of the token mailed to the
/// address. Nothing exists for the address until the token comes back; an unconfirmed sign-up
/// is forgotten after `expires_at`.
#[derive(Clone, Serialize, Deserialize)]
pub struct PendingSignup {
    pub org: OrgRecord,
    pub owner: UserRecord,
    pub expires_at: i64,
}

impl std::fmt::Debug for PendingSignup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingSignup")
            .field("org", &self.org.handle)
            .field("owner", &self.owner)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// An organisation as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgRecord {
    pub id: Id,
    pub name: String,
    pub handle: String,
    pub status: OrgStatus,
    pub created_at: i64,
    pub status_changed_at: i64,
    #[serde(default)]
    pub policy: shared::wire::OrgPolicy,
    /// Whether the public intake page `/p/<handle>` takes uploads.
    #[serde(default)]
    pub portal_enabled: bool,
    /// Members who read portal drops and chart transfers, with the owner.
    #[serde(default)]
    pub intake: Vec<Id>,
}

/// A user as stored: public key material, the sealed private key, and the argon2id hash of the
/// auth key with its per-user server salt. Never a password or an auth key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    pub id: Id,
    pub org: Id,
    pub email: String,
    pub name: String,
    pub role: Role,
    #[serde(with = "shared::encoding::bytes")]
    pub public_key: Vec<u8>,
    #[serde(with = "shared::encoding::array")]
    pub salt: [u8; 16],
    pub kdf: KdfParams,
    pub sealed_private_key: SealedPrivateKey,
    #[serde(with = "shared::encoding::array")]
    pub auth_hash: [u8; 32],
    #[serde(with = "shared::encoding::array")]
    pub server_salt: [u8; 16],
    pub created_at: i64,
    pub password_changed_at: i64,
    /// The second factor, once confirmed.
    #[serde(default)]
    pub mfa: Option<MfaState>,
    /// A TOTP secret handed out for enrolment but not yet confirmed with a code.
    #[serde(default, with = "optional_bytes")]
    pub mfa_pending: Option<Vec<u8>>,
    /// Sessions of an older epoch are over (see the module header).
    #[serde(default)]
    pub session_epoch: u64,
}

/// A confirmed TOTP second factor.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaState {
    #[serde(with = "shared::encoding::bytes")]
    pub secret: Vec<u8>,
    /// The last time step a code was accepted for (codes of earlier steps are refused).
    pub last_step: i64,
    /// SHA-256 of each unused recovery code.
    pub recovery_hashes: Vec<String>,
    pub enabled_at: i64,
}

mod optional_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        value: &Option<Vec<u8>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(bytes) => serializer.serialize_some(&shared::encoding::encode(bytes)),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Vec<u8>>, D::Error> {
        let text = Option::<String>::deserialize(deserializer)?;
        text.map(|text| shared::encoding::decode(&text).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// A login waiting for its second factor (keyed by the hash of its ticket).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaTicket {
    pub user: Id,
    pub created_at: i64,
    pub attempts: u32,
    /// The user's server salt when the password was checked: a password changed since then
    /// voids the ticket.
    #[serde(default, with = "shared::encoding::array")]
    pub credential: [u8; 16],
}

/// A session as stored (keyed by the SHA-256 of its token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub user: Id,
    pub created_at: i64,
    pub last_seen: i64,
    /// Sent back in `X-CSRF-Token` with every state-changing request (`Debug` prints `***`).
    pub csrf_token: shared::secret::SecretString,
    /// The user's session epoch when it started (see the module header).
    #[serde(default)]
    pub epoch: u64,
}

// Records holding hashes, secrets or tokens print only what identifies them.

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("id", &self.id)
            .field("org", &self.org)
            .field("email", &self.email)
            .field("role", &self.role)
            .field("mfa", &self.mfa.is_some())
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for MfaState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaState")
            .field("last_step", &self.last_step)
            .field("recovery_codes_left", &self.recovery_hashes.len())
            .finish_non_exhaustive()
    }
}

/// Why a session could not be started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SessionRefused {
    #[error(
        "the account changed while logging in (a new password, or it was removed); log in again"
    )]
    CredentialsChanged,
}

/// Why a sign-up could not be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignupConflict {
    #[error("an account with this e-mail address exists")]
    EmailTaken,
    #[error("this organisation handle is taken")]
    HandleTaken,
}

fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8], what: &str) -> anyhow::Result<T> {
    serde_json::from_slice(bytes).with_context(|| format!("a stored {what} is corrupt"))
}

fn encode<T: Serialize>(value: &T) -> anyhow::Result<Vec<u8>> {
    serde_json::to_vec(value).context("while encoding a record")
}

impl Store {
    /// Creates an organisation and its first user (the owner) atomically.
    pub fn create_org_with_owner(
        &self,
        org: &OrgRecord,
        owner: &UserRecord,
    ) -> anyhow::Result<Result<(), SignupConflict>> {
        let (orgs, handles, users, emails) = (
            self.tree(ORGS)?,
            self.tree(ORG_HANDLES)?,
            self.tree(USERS)?,
            self.tree(USER_EMAILS)?,
        );
        let org_bytes = encode(org)?;
        let user_bytes = encode(owner)?;
        let trees = (orgs.raw(), handles.raw(), users.raw(), emails.raw());
        let result = super::durability::gated(|| {
            trees.transaction(|(orgs, handles, users, emails)| {
                if emails.get(owner.email.as_bytes())?.is_some() {
                    return Err(ConflictableTransactionError::Abort(
                        SignupConflict::EmailTaken,
                    ));
                }
                if handles.get(org.handle.as_bytes())?.is_some() {
                    return Err(ConflictableTransactionError::Abort(
                        SignupConflict::HandleTaken,
                    ));
                }
                orgs.insert(org.id.as_bytes().as_slice(), org_bytes.as_slice())?;
                handles.insert(org.handle.as_bytes(), org.id.as_bytes().as_slice())?;
                users.insert(owner.id.as_bytes().as_slice(), user_bytes.as_slice())?;
                emails.insert(owner.email.as_bytes(), owner.id.as_bytes().as_slice())?;
                Ok(())
            })
        });
        match result {
            Ok(()) => {
                self.wrote();
                Ok(Ok(()))
            }
            Err(TransactionError::Abort(conflict)) => Ok(Err(conflict)),
            Err(TransactionError::Storage(error)) => Err(error).context("while storing a sign-up"),
        }
    }

    /// Whether an organisation handle or an e-mail address is taken (a cheap check before a
    /// sign-up spends its hashing; the transaction above decides).
    pub fn signup_conflict(
        &self,
        handle: Option<&str>,
        email: &str,
    ) -> anyhow::Result<Option<SignupConflict>> {
        if self.tree(USER_EMAILS)?.contains_key(email.as_bytes())? {
            return Ok(Some(SignupConflict::EmailTaken));
        }
        if let Some(handle) = handle
            && self.tree(ORG_HANDLES)?.contains_key(handle.as_bytes())?
        {
            return Ok(Some(SignupConflict::HandleTaken));
        }
        Ok(None)
    }

    /// Keeps a sign-up until its address confirms it.
    pub fn put_pending_signup(
        &self,
        token_hash: &[u8; 32],
        pending: &PendingSignup,
    ) -> anyhow::Result<()> {
        self.tree(PENDING_SIGNUPS)?
            .insert(token_hash, encode(pending)?)?;
        Ok(())
    }

    pub fn pending_signup(&self, token_hash: &[u8; 32]) -> anyhow::Result<Option<PendingSignup>> {
        self.tree(PENDING_SIGNUPS)?
            .get(token_hash)?
            .map(|bytes| decode(&bytes, "pending sign-up"))
            .transpose()
    }

    pub fn remove_pending_signup(&self, token_hash: &[u8; 32]) -> anyhow::Result<()> {
        self.tree(PENDING_SIGNUPS)?.remove(token_hash)?;
        Ok(())
    }

    /// Counts one sign-up mail to the address whose keyed hash is `address_key` (never the
    /// address itself); false (and nothing counted) once `per_day` were sent today (UTC).
    pub fn take_signup_mail(
        &self,
        address_key: &[u8; 32],
        now: i64,
        per_day: u32,
    ) -> anyhow::Result<bool> {
        self.take_daily(
            SIGNUP_MAIL_DAYS,
            address_key,
            "sign-up mail count",
            now,
            per_day,
        )
    }

    /// Forgets sign-ups not confirmed by `now` and mail counts of past days; how many sign-ups.
    pub fn forget_expired_signups(&self, now: i64) -> anyhow::Result<usize> {
        let mut forgotten = 0;
        for item in self.tree(PENDING_SIGNUPS)?.iter() {
            let (key, _) = item?;
            if self.delete_record_if(
                PENDING_SIGNUPS,
                &key,
                "pending sign-up",
                |p: &PendingSignup| p.expires_at <= now,
            )? {
                forgotten += 1;
            }
        }
        self.forget_past_days(SIGNUP_MAIL_DAYS, "sign-up mail count", now)?;
        Ok(forgotten)
    }

    pub fn org(&self, id: Id) -> anyhow::Result<Option<OrgRecord>> {
        let tree = self.tree(ORGS)?;
        tree.get(id.as_bytes())?
            .map(|bytes| decode(&bytes, "organisation"))
            .transpose()
    }

    pub fn org_by_handle(&self, handle: &str) -> anyhow::Result<Option<OrgRecord>> {
        let handles = self.tree(ORG_HANDLES)?;
        let Some(id) = handles.get(handle.as_bytes())? else {
            return Ok(None);
        };
        let id = <[u8; 16]>::try_from(id.as_ref()).context("a handle index entry is corrupt")?;
        self.org(Id::from_bytes(id))
    }

    /// Every organisation, optionally only those with `status`, oldest first.
    pub fn orgs(&self, status: Option<OrgStatus>) -> anyhow::Result<Vec<OrgRecord>> {
        let tree = self.tree(ORGS)?;
        let mut orgs = Vec::new();
        for item in tree.iter() {
            let (_, bytes) = item?;
            let org: OrgRecord = decode(&bytes, "organisation")?;
            if status.is_none_or(|wanted| wanted == org.status) {
                orgs.push(org);
            }
        }
        orgs.sort_by_key(|org| org.created_at);
        Ok(orgs)
    }

    /// Applies `change` to an organisation atomically (with `guard`, only while that session is
    /// alive).
    pub fn update_org<T>(
        &self,
        id: Id,
        guard: Option<&SessionGuard>,
        change: impl Fn(&mut OrgRecord) -> T,
    ) -> anyhow::Result<Updated<T, OrgRecord>> {
        self.update_record(ORGS, id.as_bytes(), guard, "organisation", change)
    }

    pub fn user(&self, id: Id) -> anyhow::Result<Option<UserRecord>> {
        let tree = self.tree(USERS)?;
        tree.get(id.as_bytes())?
            .map(|bytes| decode(&bytes, "user"))
            .transpose()
    }

    pub fn user_by_email(&self, email: &str) -> anyhow::Result<Option<UserRecord>> {
        let emails = self.tree(USER_EMAILS)?;
        let Some(id) = emails.get(email.as_bytes())? else {
            return Ok(None);
        };
        let id = <[u8; 16]>::try_from(id.as_ref()).context("an e-mail index entry is corrupt")?;
        self.user(Id::from_bytes(id))
    }

    /// Applies `change` to a user atomically (with `guard`, only while that session is alive).
    /// With `keep` and a change that moved the guarded user's session epoch on, the guarded
    /// session moves to the new epoch in the same step (it survives; every other one ends).
    pub fn update_user<T>(
        &self,
        id: Id,
        guard: Option<&SessionGuard>,
        keep: bool,
        change: impl Fn(&mut UserRecord) -> T,
    ) -> anyhow::Result<Updated<T, UserRecord>> {
        let (sessions, users) = (self.tree(SESSIONS)?, self.tree(USERS)?);
        let result = super::durability::gated(|| {
            (sessions.raw(), users.raw()).transaction(|(sessions, users)| {
                check_guard(guard, sessions, users)?;
                let Some(old) = users.get(id.as_bytes())? else {
                    return abort(Abort::Missing);
                };
                let mut user: UserRecord = decode_in(&old, "user")?;
                let outcome = change(&mut user);
                let new = encode_in(&user)?;
                let changed = new.as_slice() != old.as_ref();
                if changed {
                    users.insert(id.as_bytes().as_slice(), new)?;
                }
                if let Some(guard) = guard
                    && keep
                    && guard.user == id
                    && user.session_epoch != guard.epoch
                    && let Some(bytes) = sessions.get(guard.token_hash)?
                {
                    let mut session: SessionRecord = decode_in(&bytes, "session")?;
                    session.epoch = user.session_epoch;
                    sessions.insert(guard.token_hash.as_slice(), encode_in(&session)?)?;
                }
                Ok((outcome, user, changed))
            })
        });
        finish(self, result, "user")
    }

    /// Hands ownership from `owner` to `heir` (same organisation) in one step: the heir
    /// becomes owner, the owner an admin, and both lose every session but the guarded one.
    pub fn transfer_ownership(
        &self,
        guard: &SessionGuard,
        owner: Id,
        heir: Id,
    ) -> anyhow::Result<Updated<(), (UserRecord, UserRecord)>> {
        let (sessions, users) = (self.tree(SESSIONS)?, self.tree(USERS)?);
        let result = super::durability::gated(|| {
            (sessions.raw(), users.raw()).transaction(|(sessions, users)| {
                check_guard(Some(guard), sessions, users)?;
                let (Some(owner_bytes), Some(heir_bytes)) =
                    (users.get(owner.as_bytes())?, users.get(heir.as_bytes())?)
                else {
                    return abort(Abort::Missing);
                };
                let mut owner_record: UserRecord = decode_in(&owner_bytes, "user")?;
                let mut heir_record: UserRecord = decode_in(&heir_bytes, "user")?;
                if owner_record.role != Role::Owner || owner_record.org != heir_record.org {
                    return abort(Abort::SessionEnded);
                }
                owner_record.role = Role::Admin;
                owner_record.session_epoch += 1;
                heir_record.role = Role::Owner;
                heir_record.session_epoch += 1;
                users.insert(owner.as_bytes().as_slice(), encode_in(&owner_record)?)?;
                users.insert(heir.as_bytes().as_slice(), encode_in(&heir_record)?)?;
                if let Some(bytes) = sessions.get(guard.token_hash)? {
                    let mut session: SessionRecord = decode_in(&bytes, "session")?;
                    session.epoch = owner_record.session_epoch;
                    sessions.insert(guard.token_hash.as_slice(), encode_in(&session)?)?;
                }
                Ok(((), (owner_record, heir_record), true))
            })
        });
        finish(self, result, "ownership transfer")
    }

    /// Removes a user and their address index in one step if `only_if` holds for them as they
    /// are now (with `guard`, only while that session is alive); their sessions die with them
    /// and are cleaned up after. The outcome says whether they were removed.
    pub fn delete_user(
        &self,
        guard: Option<&SessionGuard>,
        user: Id,
        only_if: impl Fn(&UserRecord) -> bool,
    ) -> anyhow::Result<Updated<bool, UserRecord>> {
        let (sessions, users, emails) = (
            self.tree(SESSIONS)?,
            self.tree(USERS)?,
            self.tree(USER_EMAILS)?,
        );
        let result = super::durability::gated(|| {
            (sessions.raw(), users.raw(), emails.raw()).transaction(|(sessions, users, emails)| {
                check_guard(guard, sessions, users)?;
                let Some(bytes) = users.get(user.as_bytes())? else {
                    return abort(Abort::Missing);
                };
                let record: UserRecord = decode_in(&bytes, "user")?;
                if !only_if(&record) {
                    return Ok((false, record, false));
                }
                users.remove(user.as_bytes().as_slice())?;
                emails.remove(record.email.as_bytes())?;
                Ok((true, record, true))
            })
        });
        let updated = finish(self, result, "user")?;
        if matches!(updated, Updated::Done { outcome: true, .. }) {
            self.delete_sessions_of(user, None)?;
        }
        Ok(updated)
    }

    /// Stores a new session under the hash of its token, in the user's current session epoch,
    /// if the user still has the password that was checked (`credential`: their server salt
    /// then). The session as stored.
    pub fn create_session(
        &self,
        token_hash: &[u8; 32],
        session: &SessionRecord,
        credential: &[u8; 16],
    ) -> anyhow::Result<Result<SessionRecord, SessionRefused>> {
        let (users, sessions, by_user) = (
            self.tree(USERS)?,
            self.tree(SESSIONS)?,
            self.tree(SESSIONS_BY_USER)?,
        );
        let result = super::durability::gated(|| {
            (users.raw(), sessions.raw(), by_user.raw()).transaction(
                |(users, sessions, by_user)| {
                    let Some(bytes) = users.get(session.user.as_bytes())? else {
                        return abort(Abort::Missing);
                    };
                    let user: UserRecord = decode_in(&bytes, "user")?;
                    if user.server_salt != *credential {
                        return abort(Abort::Missing);
                    }
                    let mut stored = session.clone();
                    stored.epoch = user.session_epoch;
                    sessions.insert(token_hash.as_slice(), encode_in(&stored)?)?;
                    by_user.insert(user_session_key(session.user, token_hash), &[])?;
                    Ok(stored)
                },
            )
        });
        match result {
            Ok(stored) => {
                self.wrote();
                Ok(Ok(stored))
            }
            Err(TransactionError::Abort(Abort::Missing | Abort::SessionEnded)) => {
                Ok(Err(SessionRefused::CredentialsChanged))
            }
            Err(TransactionError::Abort(Abort::Corrupt(error))) => Err(error),
            Err(TransactionError::Storage(error)) => Err(error).context("while starting a session"),
        }
    }

    pub fn session(&self, token_hash: &[u8; 32]) -> anyhow::Result<Option<SessionRecord>> {
        let sessions = self.tree(SESSIONS)?;
        sessions
            .get(token_hash)?
            .map(|bytes| decode(&bytes, "session"))
            .transpose()
    }

    /// Records that a session was used at `now`; a session that ended meanwhile stays ended.
    pub fn touch_session(&self, token_hash: &[u8; 32], now: i64) -> anyhow::Result<()> {
        let sessions = self.tree(SESSIONS)?;
        loop {
            let Some(old) = sessions.get(token_hash)? else {
                return Ok(());
            };
            let mut session: SessionRecord = decode(&old, "session")?;
            if session.last_seen >= now {
                return Ok(());
            }
            session.last_seen = now;
            if sessions
                .compare_and_swap(token_hash, Some(old), Some(encode(&session)?))?
                .is_ok()
            {
                return Ok(());
            }
        }
    }

    pub fn delete_session(&self, token_hash: &[u8; 32]) -> anyhow::Result<()> {
        let sessions = self.tree(SESSIONS)?;
        if let Some(bytes) = sessions.remove(token_hash)? {
            let session: SessionRecord = decode(&bytes, "session")?;
            self.tree(SESSIONS_BY_USER)?
                .remove(user_session_key(session.user, token_hash))?;
        }
        Ok(())
    }

    /// Deletes the stored sessions of `user` except `keep` (when given); returns how many.
    /// Ending sessions is the epoch's job (`update_user`); this only tidies up after it.
    pub fn delete_sessions_of(&self, user: Id, keep: Option<&[u8; 32]>) -> anyhow::Result<usize> {
        let by_user = self.tree(SESSIONS_BY_USER)?;
        let sessions = self.tree(SESSIONS)?;
        let mut ended = 0;
        for item in by_user.scan_prefix(user.as_bytes()) {
            let (key, _) = item?;
            let token_hash = &key[16..];
            if keep.is_some_and(|keep| keep.as_slice() == token_hash) {
                continue;
            }
            sessions.remove(token_hash)?;
            by_user.remove(&key)?;
            ended += 1;
        }
        Ok(ended)
    }
}

impl Store {
    pub fn create_mfa_ticket(
        &self,
        ticket_hash: &[u8; 32],
        ticket: &MfaTicket,
    ) -> anyhow::Result<()> {
        self.tree(MFA_TICKETS)?
            .insert(ticket_hash, encode(ticket)?)?;
        Ok(())
    }

    pub fn mfa_ticket(&self, ticket_hash: &[u8; 32]) -> anyhow::Result<Option<MfaTicket>> {
        self.tree(MFA_TICKETS)?
            .get(ticket_hash)?
            .map(|bytes| decode(&bytes, "login ticket"))
            .transpose()
    }

    /// Applies `change` to a log-in ticket atomically.
    pub fn update_mfa_ticket<T>(
        &self,
        ticket_hash: &[u8; 32],
        change: impl Fn(&mut MfaTicket) -> T,
    ) -> anyhow::Result<Updated<T, MfaTicket>> {
        self.update_record(MFA_TICKETS, ticket_hash, None, "login ticket", change)
    }

    /// Deletes a ticket; whether it was there (a ticket is redeemed once).
    pub fn delete_mfa_ticket(&self, ticket_hash: &[u8; 32]) -> anyhow::Result<bool> {
        Ok(self.tree(MFA_TICKETS)?.remove(ticket_hash)?.is_some())
    }
}

fn user_session_key(user: Id, token_hash: &[u8; 32]) -> Vec<u8> {
    let mut key = Vec::with_capacity(48);
    key.extend_from_slice(user.as_bytes());
    key.extend_from_slice(token_hash);
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: Id) -> UserRecord {
        let private = shared::crypto::UserPrivateKey::from_pkcs8_der(include_bytes!(
            "../../../shared/src/crypto/tests/fixtures/test-alice-3072.pk8"
        ))
        .expect("fixture key");
        UserRecord {
            id,
            org: Id::from_bytes([9; 16]),
            email: "ada@example.com".to_owned(),
            name: "Ada".to_owned(),
            role: Role::Owner,
            public_key: private
                .public_key()
                .expect("public key")
                .spki_der()
                .to_vec(),
            salt: [1; 16],
            kdf: KdfParams::CLIENT_V1,
            sealed_private_key: SealedPrivateKey::from_bytes(vec![0; 40]),
            auth_hash: [2; 32],
            server_salt: [3; 16],
            created_at: 0,
            password_changed_at: 0,
            mfa: None,
            mfa_pending: None,
            session_epoch: 0,
        }
    }

    fn org(id: Id) -> OrgRecord {
        OrgRecord {
            id,
            name: "Ada & Co".to_owned(),
            handle: "ada".to_owned(),
            status: OrgStatus::Verified,
            created_at: 0,
            status_changed_at: 0,
            policy: shared::wire::OrgPolicy::default(),
            portal_enabled: false,
            intake: Vec::new(),
        }
    }

    fn session(user: Id) -> SessionRecord {
        SessionRecord {
            user,
            created_at: 0,
            last_seen: 0,
            csrf_token: "csrf".into(),
            epoch: 0,
        }
    }

    fn store_with_user() -> (tempfile::TempDir, Store, Id) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("store");
        let id = Id::from_bytes([7; 16]);
        store
            .create_org_with_owner(&org(Id::from_bytes([9; 16])), &user(id))
            .expect("stored")
            .expect("no conflict");
        (dir, store, id)
    }

    #[test]
    fn touching_a_session_that_ended_meanwhile_does_not_bring_it_back() {
        let (_dir, store, id) = store_with_user();
        let token = [5; 32];
        store
            .create_session(&token, &session(id), &[3; 16])
            .expect("stored")
            .expect("created");
        // A request loaded the session; "log out" removes it; the request then touches it.
        let loaded = store.session(&token).expect("read").expect("there");
        store.delete_session(&token).expect("logged out");
        store
            .touch_session(&token, loaded.last_seen + 120)
            .expect("touch");
        assert!(store.session(&token).expect("read").is_none());
    }

    #[test]
    fn an_epoch_bump_ends_every_session_and_a_changed_password_refuses_new_ones() {
        let (_dir, store, id) = store_with_user();
        let stored = store
            .create_session(&[5; 32], &session(id), &[3; 16])
            .expect("stored")
            .expect("created");
        assert_eq!(stored.epoch, 0);
        let guard = SessionGuard {
            token_hash: [5; 32],
            user: id,
            epoch: 0,
        };
        store
            .update_user(id, None, false, |user| user.session_epoch += 1)
            .expect("bumped");
        let refused = store
            .update_user(id, Some(&guard), false, |user| {
                user.name = "Mallory".to_owned()
            })
            .expect("no storage error");
        assert_eq!(
            refused,
            Updated::SessionEnded,
            "a session of an older epoch is over"
        );
        assert_eq!(store.user(id).expect("read").expect("there").name, "Ada");

        store
            .update_user(id, None, false, |user| user.server_salt = [4; 16])
            .expect("a new password");
        let late = store
            .create_session(&[6; 32], &session(id), &[3; 16])
            .expect("no storage error");
        assert_eq!(late, Err(SessionRefused::CredentialsChanged));
        let fresh = store
            .create_session(&[6; 32], &session(id), &[4; 16])
            .expect("no storage error")
            .expect("created with the new password");
        assert_eq!(fresh.epoch, 1, "sessions start in the current epoch");
    }
}
