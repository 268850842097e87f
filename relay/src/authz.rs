//! The one authorization decision of the relay: may this principal do this to that
//! organisation? Every endpoint asks `authorize` before touching an object, so roles, tenancy
//! and organisation status are decided in one table, here, and tested exhaustively.

use shared::ids::Id;
use shared::wire::{ApiScope, OrgStatus, Role};

/// A logged-in user, or an organisation's API key, as authorization sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal {
    /// The user; for an API key, the key's id (what a key makes is recorded as made by it).
    pub user: Id,
    pub org: Id,
    /// A user's role. An API key is a `Member` towards other people's objects: it acts only on
    /// what it made itself, and its scopes decide the rest.
    pub role: Role,
    pub org_status: OrgStatus,
    /// `Some` for an API key: what it may do. `None` for a user.
    pub scopes: Option<Scopes>,
}

/// The scopes of an API key, as a set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Scopes(u16);

impl Scopes {
    pub fn of(scopes: &[ApiScope]) -> Self {
        Self(scopes.iter().fold(0, |bits, scope| bits | bit(*scope)))
    }

    pub fn contains(self, scope: ApiScope) -> bool {
        self.0 & bit(scope) != 0
    }
}

fn bit(scope: ApiScope) -> u16 {
    let index = ApiScope::ALL
        .iter()
        .position(|known| *known == scope)
        .unwrap_or(15);
    1 << index
}

/// Everything a principal may ask to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Read and change one's own account (log out, change password, MFA).
    ManageOwnAccount,
    /// Send documents by link (Secure Send).
    Send,
    /// Follow what was sent.
    TrackSends,
    /// Revoke a send (allowed whatever the organisation's standing, so a suspended
    /// organisation can still withdraw a link).
    WithdrawSend,
    /// Ask for documents.
    Request,
    /// Follow the organisation's requests.
    ReadRequests,
    /// Close a request (whatever the organisation's standing).
    WithdrawRequest,
    /// Upload documents: Chart Transfer, answering a request.
    UploadDocuments,
    /// The metadata of the organisation's documents (readers' keys are decided per document).
    ReadDocuments,
    /// Revoke a document (whatever the organisation's standing).
    WithdrawDocument,
    /// Mark one's invoices paid by hand (owners and admins: anyone's in the organisation).
    CollectPayment,
    /// The payment ledger and the payout report.
    ViewLedger,
    /// List, change roles of and remove members, and revoke invitations.
    ManageMembers,
    /// Invite someone (which may mail them): owners and admins of a verified organisation
    /// only, so an unverified sign-up cannot use the relay's mail to reach anyone.
    InviteMembers,
    /// Organisation policies (MFA required, password rules, expiry).
    SetPolicy,
    /// Read and export the organisation's audit log.
    ViewAudit,
    /// Create, list and revoke the organisation's API keys.
    ManageApiKeys,
    /// Register, list and remove the organisation's webhook endpoints, and replay deliveries.
    ManageWebhooks,
    /// Payout details and recording payouts.
    ManagePayouts,
    /// The public intake portal and who the intake users are.
    ManagePortal,
    /// Hand ownership to another member.
    TransferOwnership,
    /// Close the organisation.
    CloseOrganisation,
}

impl Permission {
    pub const ALL: [Permission; 22] = [
        Permission::ManageOwnAccount,
        Permission::Send,
        Permission::TrackSends,
        Permission::WithdrawSend,
        Permission::Request,
        Permission::ReadRequests,
        Permission::WithdrawRequest,
        Permission::UploadDocuments,
        Permission::ReadDocuments,
        Permission::WithdrawDocument,
        Permission::CollectPayment,
        Permission::ViewLedger,
        Permission::ManageMembers,
        Permission::InviteMembers,
        Permission::SetPolicy,
        Permission::ViewAudit,
        Permission::ManageApiKeys,
        Permission::ManageWebhooks,
        Permission::ManagePayouts,
        Permission::ManagePortal,
        Permission::TransferOwnership,
        Permission::CloseOrganisation,
    ];

    /// The scope an API key needs for this; `None`: no key may do it, whatever its scopes
    /// (people, policy, payouts, keys, the organisation itself, anyone's account).
    pub const fn scope(self) -> Option<ApiScope> {
        match self {
            Permission::Send | Permission::WithdrawSend => Some(ApiScope::SendsWrite),
            Permission::TrackSends => Some(ApiScope::SendsRead),
            Permission::Request | Permission::WithdrawRequest => Some(ApiScope::RequestsWrite),
            Permission::ReadRequests => Some(ApiScope::RequestsRead),
            Permission::UploadDocuments | Permission::WithdrawDocument => {
                Some(ApiScope::DocumentsWrite)
            }
            Permission::ReadDocuments => Some(ApiScope::DocumentsRead),
            Permission::ViewAudit => Some(ApiScope::AuditRead),
            Permission::ViewLedger => Some(ApiScope::LedgerRead),
            Permission::ManageOwnAccount
            | Permission::CollectPayment
            | Permission::ManageMembers
            | Permission::InviteMembers
            | Permission::SetPolicy
            | Permission::ManageApiKeys
            | Permission::ManageWebhooks
            | Permission::ManagePayouts
            | Permission::ManagePortal
            | Permission::TransferOwnership
            | Permission::CloseOrganisation => None,
        }
    }

    /// The roles a user needs for this.
    const fn role_allows(self, role: Role) -> bool {
        match self {
            Permission::ManageOwnAccount
            | Permission::Send
            | Permission::TrackSends
            | Permission::WithdrawSend
            | Permission::Request
            | Permission::ReadRequests
            | Permission::WithdrawRequest
            | Permission::UploadDocuments
            | Permission::ReadDocuments
            | Permission::WithdrawDocument
            | Permission::CollectPayment => true,
            Permission::ManageMembers
            | Permission::InviteMembers
            | Permission::SetPolicy
            | Permission::ViewAudit
            | Permission::ManageApiKeys
            | Permission::ManageWebhooks => matches!(role, Role::Owner | Role::Admin),
            Permission::ViewLedger
            | Permission::ManagePayouts
            | Permission::ManagePortal
            | Permission::TransferOwnership
            | Permission::CloseOrganisation => matches!(role, Role::Owner),
        }
    }

    /// Whether a user needs a verified organisation for this (a key always does).
    const fn needs_verified(self) -> bool {
        matches!(
            self,
            Permission::Send
                | Permission::Request
                | Permission::UploadDocuments
                | Permission::InviteMembers
        )
    }
}

/// Whether a user of `role` holds every power `scope` gives a key: a key never carries more
/// than its maker may do (an admin cannot make a key that reads the owner-only ledger), and a
/// key whose maker was demoted loses what they lost.
pub fn role_gives(role: Role, scope: ApiScope) -> bool {
    Permission::ALL
        .iter()
        .filter(|permission| permission.scope() == Some(scope))
        .all(|permission| permission.role_allows(role))
}

/// Why something was refused (the words reach the user).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("that belongs to another organisation")]
    OtherOrganisation,
    #[error("your role ({0:?}) does not allow this")]
    Role(Role),
    #[error(
        "your organisation is waiting for the operator's verification; until then it cannot send or request documents, or invite anyone"
    )]
    Pending,
    #[error(
        "your organisation is suspended by the operator; it cannot send or request documents, or invite anyone"
    )]
    Suspended,
    #[error("your organisation is closed")]
    Closed,
    #[error("only its sender, or an owner or admin of the organisation, may do that")]
    NotYours,
    #[error("you cannot do that to your own account")]
    Yourself,
    #[error(
        "only a higher role than the member's may do that; an owner's second factor is reset by the relay's operator"
    )]
    NotAbove,
    #[error("an API key cannot do this; log in as a user of the organisation")]
    NotForApiKeys,
    #[error("this API key does not have the {} scope", .0.as_str())]
    MissingScope(ApiScope),
}

/// Something a user made inside an organisation (a send; later a request): who may manage it
/// depends on both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Made {
    pub org: Id,
    pub by: Id,
}

/// The decision.
pub fn authorize(
    principal: &Principal,
    permission: Permission,
    target_org: Id,
) -> Result<(), Denied> {
    if principal.org != target_org {
        return Err(Denied::OtherOrganisation);
    }
    match principal.scopes {
        None if !permission.role_allows(principal.role) => {
            return Err(Denied::Role(principal.role));
        }
        None => {}
        Some(scopes) => match permission.scope() {
            None => return Err(Denied::NotForApiKeys),
            Some(scope) if !scopes.contains(scope) => return Err(Denied::MissingScope(scope)),
            Some(_) => {}
        },
    }
    if permission.needs_verified() || principal.scopes.is_some() {
        match principal.org_status {
            OrgStatus::Verified => {}
            OrgStatus::Pending => return Err(Denied::Pending),
            OrgStatus::Suspended => return Err(Denied::Suspended),
            OrgStatus::Closed => return Err(Denied::Closed),
        }
    }
    Ok(())
}

/// The decision on one made object: the organisation's rule from `authorize`, then only its
/// maker or the organisation's owners and admins.
pub fn authorize_made(
    principal: &Principal,
    permission: Permission,
    object: Made,
) -> Result<(), Denied> {
    authorize(principal, permission, object.org)?;
    if object.by == principal.user || matches!(principal.role, Role::Owner | Role::Admin) {
        return Ok(());
    }
    Err(Denied::NotYours)
}

/// One member as seen by someone acting on their account (resetting their second factor).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    pub id: Id,
    pub org: Id,
    pub role: Role,
}

fn rank(role: Role) -> u8 {
    match role {
        Role::Owner => 3,
        Role::Admin => 2,
        Role::Member => 1,
    }
}

/// The decision on acting over another member's account: the organisation's rule from
/// `authorize`, then never on oneself and only over a strictly lower role. So no admin can
/// remove the owner's (or another admin's) second factor, and nobody removes their own
/// without a code; the owner's goes only by the operator's command, which is audited.
pub fn authorize_over(
    principal: &Principal,
    permission: Permission,
    member: Member,
) -> Result<(), Denied> {
    authorize(principal, permission, member.org)?;
    if member.id == principal.user {
        return Err(Denied::Yourself);
    }
    if rank(principal.role) <= rank(member.role) {
        return Err(Denied::NotAbove);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(role: Role, org_status: OrgStatus) -> Principal {
        Principal {
            user: Id::from_bytes([1; 16]),
            org: Id::from_bytes([2; 16]),
            role,
            org_status,
            scopes: None,
        }
    }

    const STATUSES: [OrgStatus; 4] = [
        OrgStatus::Pending,
        OrgStatus::Verified,
        OrgStatus::Suspended,
        OrgStatus::Closed,
    ];

    fn standing(status: OrgStatus) -> Result<(), Denied> {
        match status {
            OrgStatus::Verified => Ok(()),
            OrgStatus::Pending => Err(Denied::Pending),
            OrgStatus::Suspended => Err(Denied::Suspended),
            OrgStatus::Closed => Err(Denied::Closed),
        }
    }

    /// The whole table for users: every permission × every role × own or other organisation ×
    /// status, written out independently of `role_allows`.
    #[test]
    fn the_table() {
        use Permission as P;
        let own = Id::from_bytes([2; 16]);
        let other = Id::from_bytes([3; 16]);
        for role in [Role::Owner, Role::Admin, Role::Member] {
            for status in STATUSES {
                let who = principal(role, status);
                for permission in Permission::ALL {
                    assert_eq!(
                        authorize(&who, permission, other),
                        Err(Denied::OtherOrganisation),
                        "{role:?} {permission:?} across tenants"
                    );
                    let expected = match (permission, role) {
                        (
                            P::ManageOwnAccount
                            | P::TrackSends
                            | P::WithdrawSend
                            | P::ReadRequests
                            | P::WithdrawRequest
                            | P::ReadDocuments
                            | P::WithdrawDocument
                            | P::CollectPayment,
                            _,
                        ) => Ok(()),
                        (P::Send | P::Request | P::UploadDocuments, _)
                        | (P::InviteMembers, Role::Owner | Role::Admin) => standing(status),
                        (
                            P::ManageMembers
                            | P::SetPolicy
                            | P::ViewAudit
                            | P::ManageApiKeys
                            | P::ManageWebhooks,
                            Role::Owner | Role::Admin,
                        ) => Ok(()),
                        (
                            P::ViewLedger
                            | P::ManagePayouts
                            | P::ManagePortal
                            | P::TransferOwnership
                            | P::CloseOrganisation,
                            Role::Owner,
                        ) => Ok(()),
                        (_, role) => Err(Denied::Role(role)),
                    };
                    assert_eq!(
                        authorize(&who, permission, own),
                        expected,
                        "{role:?} {status:?} {permission:?}"
                    );
                    let mine = Made {
                        org: own,
                        by: who.user,
                    };
                    let colleagues = Made {
                        org: own,
                        by: Id::from_bytes([9; 16]),
                    };
                    assert_eq!(authorize_made(&who, permission, mine), expected);
                    let expected_for_colleagues = match (expected, role) {
                        (Ok(()), Role::Member) => Err(Denied::NotYours),
                        (other, _) => other,
                    };
                    assert_eq!(
                        authorize_made(&who, permission, colleagues),
                        expected_for_colleagues,
                        "{role:?} {status:?} {permission:?} on a colleague's send"
                    );
                }
            }
        }
    }

    /// The table for API keys: every permission × every single scope (and all of them) ×
    /// status. A key does only what one of its scopes names, only for a verified organisation,
    /// only on what it made itself, and never what no scope names.
    #[test]
    fn the_table_for_api_keys() {
        use Permission as P;
        let own = Id::from_bytes([2; 16]);
        let scope_sets = ApiScope::ALL
            .iter()
            .map(|scope| vec![*scope])
            .chain([ApiScope::ALL.to_vec(), Vec::new()]);
        for scopes in scope_sets {
            for status in STATUSES {
                let key = Principal {
                    user: Id::from_bytes([7; 16]),
                    org: own,
                    role: Role::Member,
                    org_status: status,
                    scopes: Some(Scopes::of(&scopes)),
                };
                for permission in Permission::ALL {
                    let needed = match permission {
                        P::Send | P::WithdrawSend => Some(ApiScope::SendsWrite),
                        P::TrackSends => Some(ApiScope::SendsRead),
                        P::Request | P::WithdrawRequest => Some(ApiScope::RequestsWrite),
                        P::ReadRequests => Some(ApiScope::RequestsRead),
                        P::UploadDocuments | P::WithdrawDocument => Some(ApiScope::DocumentsWrite),
                        P::ReadDocuments => Some(ApiScope::DocumentsRead),
                        P::ViewAudit => Some(ApiScope::AuditRead),
                        P::ViewLedger => Some(ApiScope::LedgerRead),
                        _ => None,
                    };
                    let expected = match needed {
                        None => Err(Denied::NotForApiKeys),
                        Some(scope) if !scopes.contains(&scope) => Err(Denied::MissingScope(scope)),
                        Some(_) => standing(status),
                    };
                    assert_eq!(
                        authorize(&key, permission, own),
                        expected,
                        "{scopes:?} {status:?} {permission:?}"
                    );
                    assert_eq!(
                        authorize(&key, permission, Id::from_bytes([3; 16])),
                        Err(Denied::OtherOrganisation)
                    );
                    let its_own = Made {
                        org: own,
                        by: key.user,
                    };
                    let someone_elses = Made {
                        org: own,
                        by: Id::from_bytes([1; 16]),
                    };
                    assert_eq!(authorize_made(&key, permission, its_own), expected);
                    assert_eq!(
                        authorize_made(&key, permission, someone_elses),
                        expected.and(Err(Denied::NotYours)),
                        "{scopes:?} {status:?} {permission:?} on a user's send"
                    );
                }
            }
        }
    }

    #[test]
    fn only_a_higher_role_acts_over_a_member_and_never_over_oneself() {
        let org = Id::from_bytes([2; 16]);
        let roles = [Role::Owner, Role::Admin, Role::Member];
        for actor in roles {
            let who = principal(actor, OrgStatus::Verified);
            for target in roles {
                let other = Member {
                    id: Id::from_bytes([9; 16]),
                    org,
                    role: target,
                };
                let expected = match (actor, target) {
                    (Role::Member, _) => Err(Denied::Role(Role::Member)),
                    (Role::Owner, Role::Admin | Role::Member) | (Role::Admin, Role::Member) => {
                        Ok(())
                    }
                    _ => Err(Denied::NotAbove),
                };
                assert_eq!(
                    authorize_over(&who, Permission::ManageMembers, other),
                    expected,
                    "{actor:?} over {target:?}"
                );
                let elsewhere = Member {
                    org: Id::from_bytes([3; 16]),
                    ..other
                };
                assert_eq!(
                    authorize_over(&who, Permission::ManageMembers, elsewhere),
                    Err(Denied::OtherOrganisation)
                );
            }
            let own = Member {
                id: who.user,
                org,
                role: actor,
            };
            let expected = if actor == Role::Member {
                Err(Denied::Role(Role::Member))
            } else {
                Err(Denied::Yourself)
            };
            assert_eq!(
                authorize_over(&who, Permission::ManageMembers, own),
                expected
            );
        }
    }
}
