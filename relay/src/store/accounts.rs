//! Organisations, users and sessions in sled. Sign-up writes the organisation, the user and
//! their unique indexes (handle, e-mail) in one transaction, so two sign-ups can never claim
//! the same handle or address. Sessions are stored under the SHA-256 of their token, never the
//! token itself, with an index by user for "log out everywhere".

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use shared::crypto::SealedPrivateKey;
use shared::crypto::kdf::KdfParams;
use shared::ids::Id;
use shared::wire::{OrgStatus, Role};
use sled::Transactional as _;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use super::Store;

const ORGS: &str = "orgs";
const ORG_HANDLES: &str = "org_handles";
const USERS: &str = "users";
const USER_EMAILS: &str = "user_emails";
const SESSIONS: &str = "sessions";
const SESSIONS_BY_USER: &str = "sessions_by_user";
const MFA_TICKETS: &str = "mfa_tickets";

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
}

/// A session as stored (keyed by the SHA-256 of its token).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub user: Id,
    pub created_at: i64,
    pub last_seen: i64,
    /// Sent back in `X-CSRF-Token` with every state-changing request.
    pub csrf_token: String,
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

impl std::fmt::Debug for SessionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRecord")
            .field("user", &self.user)
            .field("created_at", &self.created_at)
            .field("last_seen", &self.last_seen)
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
            self.db.open_tree(ORGS)?,
            self.db.open_tree(ORG_HANDLES)?,
            self.db.open_tree(USERS)?,
            self.db.open_tree(USER_EMAILS)?,
        );
        let org_bytes = encode(org)?;
        let user_bytes = encode(owner)?;
        let trees = (&orgs, &handles, &users, &emails);
        let result = trees.transaction(|(orgs, handles, users, emails)| {
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
        });
        match result {
            Ok(()) => Ok(Ok(())),
            Err(TransactionError::Abort(conflict)) => Ok(Err(conflict)),
            Err(TransactionError::Storage(error)) => Err(error).context("while storing a sign-up"),
        }
    }

    pub fn org(&self, id: Id) -> anyhow::Result<Option<OrgRecord>> {
        let tree = self.db.open_tree(ORGS)?;
        tree.get(id.as_bytes())?
            .map(|bytes| decode(&bytes, "organisation"))
            .transpose()
    }

    pub fn org_by_handle(&self, handle: &str) -> anyhow::Result<Option<OrgRecord>> {
        let handles = self.db.open_tree(ORG_HANDLES)?;
        let Some(id) = handles.get(handle.as_bytes())? else {
            return Ok(None);
        };
        let id = <[u8; 16]>::try_from(id.as_ref()).context("a handle index entry is corrupt")?;
        self.org(Id::from_bytes(id))
    }

    /// Every organisation, optionally only those with `status`, oldest first.
    pub fn orgs(&self, status: Option<OrgStatus>) -> anyhow::Result<Vec<OrgRecord>> {
        let tree = self.db.open_tree(ORGS)?;
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

    /// Sets an organisation's status; `None` when there is no such organisation.
    pub fn set_org_status(
        &self,
        handle: &str,
        status: OrgStatus,
        now: i64,
    ) -> anyhow::Result<Option<OrgRecord>> {
        let Some(mut org) = self.org_by_handle(handle)? else {
            return Ok(None);
        };
        org.status = status;
        org.status_changed_at = now;
        self.db
            .open_tree(ORGS)?
            .insert(org.id.as_bytes(), encode(&org)?)?;
        Ok(Some(org))
    }

    pub fn save_org(&self, org: &OrgRecord) -> anyhow::Result<()> {
        self.db
            .open_tree(ORGS)?
            .insert(org.id.as_bytes(), encode(org)?)?;
        Ok(())
    }

    pub fn user(&self, id: Id) -> anyhow::Result<Option<UserRecord>> {
        let tree = self.db.open_tree(USERS)?;
        tree.get(id.as_bytes())?
            .map(|bytes| decode(&bytes, "user"))
            .transpose()
    }

    pub fn user_by_email(&self, email: &str) -> anyhow::Result<Option<UserRecord>> {
        let emails = self.db.open_tree(USER_EMAILS)?;
        let Some(id) = emails.get(email.as_bytes())? else {
            return Ok(None);
        };
        let id = <[u8; 16]>::try_from(id.as_ref()).context("an e-mail index entry is corrupt")?;
        self.user(Id::from_bytes(id))
    }

    /// Stores a new session under the hash of its token.
    pub fn create_session(
        &self,
        token_hash: &[u8; 32],
        session: &SessionRecord,
    ) -> anyhow::Result<()> {
        let sessions = self.db.open_tree(SESSIONS)?;
        let by_user = self.db.open_tree(SESSIONS_BY_USER)?;
        sessions.insert(token_hash, encode(session)?)?;
        by_user.insert(user_session_key(session.user, token_hash), &[])?;
        Ok(())
    }

    pub fn session(&self, token_hash: &[u8; 32]) -> anyhow::Result<Option<SessionRecord>> {
        let sessions = self.db.open_tree(SESSIONS)?;
        sessions
            .get(token_hash)?
            .map(|bytes| decode(&bytes, "session"))
            .transpose()
    }

    pub fn touch_session(
        &self,
        token_hash: &[u8; 32],
        session: &SessionRecord,
    ) -> anyhow::Result<()> {
        self.db
            .open_tree(SESSIONS)?
            .insert(token_hash, encode(session)?)?;
        Ok(())
    }

    pub fn delete_session(&self, token_hash: &[u8; 32]) -> anyhow::Result<()> {
        let sessions = self.db.open_tree(SESSIONS)?;
        if let Some(bytes) = sessions.remove(token_hash)? {
            let session: SessionRecord = decode(&bytes, "session")?;
            self.db
                .open_tree(SESSIONS_BY_USER)?
                .remove(user_session_key(session.user, token_hash))?;
        }
        Ok(())
    }

    /// Ends every session of `user` except `keep` (when given); returns how many ended.
    pub fn delete_sessions_of(&self, user: Id, keep: Option<&[u8; 32]>) -> anyhow::Result<usize> {
        let by_user = self.db.open_tree(SESSIONS_BY_USER)?;
        let sessions = self.db.open_tree(SESSIONS)?;
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
    pub fn save_mfa_ticket(
        &self,
        ticket_hash: &[u8; 32],
        ticket: &MfaTicket,
    ) -> anyhow::Result<()> {
        self.db
            .open_tree(MFA_TICKETS)?
            .insert(ticket_hash, encode(ticket)?)?;
        Ok(())
    }

    pub fn mfa_ticket(&self, ticket_hash: &[u8; 32]) -> anyhow::Result<Option<MfaTicket>> {
        self.db
            .open_tree(MFA_TICKETS)?
            .get(ticket_hash)?
            .map(|bytes| decode(&bytes, "login ticket"))
            .transpose()
    }

    pub fn delete_mfa_ticket(&self, ticket_hash: &[u8; 32]) -> anyhow::Result<()> {
        self.db.open_tree(MFA_TICKETS)?.remove(ticket_hash)?;
        Ok(())
    }
}

fn user_session_key(user: Id, token_hash: &[u8; 32]) -> Vec<u8> {
    let mut key = Vec::with_capacity(48);
    key.extend_from_slice(user.as_bytes());
    key.extend_from_slice(token_hash);
    key
}
