//! Invitations and membership in sled. An invitation is stored under the SHA-256 of its token
//! (the token itself exists only in the invite link); joining consumes the invitation and
//! creates the user in one transaction, so a token works once.

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use shared::ids::Id;
use shared::wire::Role;
use sled::Transactional as _;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use super::{Store, UserRecord};

const INVITES: &str = "invites";
const USERS: &str = "users";
const USER_EMAILS: &str = "user_emails";
const INVITATION_DAYS: &str = "invitation_days";

/// A pending invitation as stored (keyed by the hash of its token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteRecord {
    pub id: Id,
    pub org: Id,
    pub email: String,
    pub role: Role,
    pub created_by: Id,
    pub created_at: i64,
    pub expires_at: i64,
}

/// Why joining with an invitation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoinConflict {
    #[error("this invitation is not valid (used, revoked or expired)")]
    InviteInvalid,
    #[error("this invitation is for another e-mail address")]
    EmailMismatch,
    #[error("an account with this e-mail address exists; log in instead")]
    EmailTaken,
}

impl Store {
    /// Takes one of `org`'s `per_day` invitations for the UTC day of `now` (a compare-and-swap
    /// on disk, so parallel requests and restarts cannot exceed it); false when none is left.
    pub fn take_invitation(&self, org: Id, now: i64, per_day: u32) -> anyhow::Result<bool> {
        self.take_daily(
            INVITATION_DAYS,
            org.as_bytes(),
            "invitation count",
            now,
            per_day,
        )
    }

    pub fn create_invite(
        &self,
        token_hash: &[u8; 32],
        invite: &InviteRecord,
    ) -> anyhow::Result<()> {
        let tree = self.tree(INVITES)?;
        tree.insert(token_hash, serde_json::to_vec(invite)?)?;
        Ok(())
    }

    pub fn invite(&self, token_hash: &[u8; 32]) -> anyhow::Result<Option<InviteRecord>> {
        let tree = self.tree(INVITES)?;
        tree.get(token_hash)?
            .map(|bytes| serde_json::from_slice(&bytes).context("a stored invitation is corrupt"))
            .transpose()
    }

    /// The organisation's invitations still valid at `now`, oldest first.
    pub fn invites_of_org(&self, org: Id, now: i64) -> anyhow::Result<Vec<InviteRecord>> {
        let tree = self.tree(INVITES)?;
        let mut invites = Vec::new();
        for item in tree.iter() {
            let (_, bytes) = item?;
            let invite: InviteRecord =
                serde_json::from_slice(&bytes).context("a stored invitation is corrupt")?;
            if invite.org == org && invite.expires_at > now {
                invites.push(invite);
            }
        }
        invites.sort_by_key(|invite| invite.created_at);
        Ok(invites)
    }

    /// Revokes an invitation of `org`; whether there was one.
    pub fn revoke_invite(&self, org: Id, id: Id) -> anyhow::Result<bool> {
        let tree = self.tree(INVITES)?;
        for item in tree.iter() {
            let (key, bytes) = item?;
            let invite: InviteRecord =
                serde_json::from_slice(&bytes).context("a stored invitation is corrupt")?;
            if invite.org == org && invite.id == id {
                tree.remove(key)?;
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Consumes the invitation and creates `user` in its organisation, atomically.
    pub fn join_with_invite(
        &self,
        token_hash: &[u8; 32],
        user: &UserRecord,
        now: i64,
    ) -> anyhow::Result<Result<InviteRecord, JoinConflict>> {
        let (invites, users, emails) = (
            self.tree(INVITES)?,
            self.tree(USERS)?,
            self.tree(USER_EMAILS)?,
        );
        let user_bytes = serde_json::to_vec(user)?;
        let result = super::durability::gated(|| {
            (invites.raw(), users.raw(), emails.raw()).transaction(|(invites, users, emails)| {
                let abort = |conflict| Err(ConflictableTransactionError::Abort(conflict));
                let Some(bytes) = invites.get(token_hash)? else {
                    return abort(JoinConflict::InviteInvalid);
                };
                let Ok(invite) = serde_json::from_slice::<InviteRecord>(&bytes) else {
                    return abort(JoinConflict::InviteInvalid);
                };
                if invite.expires_at <= now || invite.org != user.org || invite.role != user.role {
                    return abort(JoinConflict::InviteInvalid);
                }
                if invite.email != user.email {
                    return abort(JoinConflict::EmailMismatch);
                }
                if emails.get(user.email.as_bytes())?.is_some() {
                    return abort(JoinConflict::EmailTaken);
                }
                invites.remove(token_hash.as_slice())?;
                users.insert(user.id.as_bytes().as_slice(), user_bytes.as_slice())?;
                emails.insert(user.email.as_bytes(), user.id.as_bytes().as_slice())?;
                Ok(invite)
            })
        });
        match result {
            Ok(invite) => {
                self.wrote();
                Ok(Ok(invite))
            }
            Err(TransactionError::Abort(conflict)) => Ok(Err(conflict)),
            Err(TransactionError::Storage(error)) => {
                Err(error).context("while joining an organisation")
            }
        }
    }

    /// The organisation's users, by e-mail address.
    pub fn users_of_org(&self, org: Id) -> anyhow::Result<Vec<UserRecord>> {
        let tree = self.tree(USERS)?;
        let mut users = Vec::new();
        for item in tree.iter() {
            let (_, bytes) = item?;
            let user: UserRecord =
                serde_json::from_slice(&bytes).context("a stored user is corrupt")?;
            if user.org == org {
                users.push(user);
            }
        }
        users.sort_by(|a, b| a.email.cmp(&b.email));
        Ok(users)
    }
}
