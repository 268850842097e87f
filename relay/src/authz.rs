//! The one authorization decision of the relay: may this principal do this to that
//! organisation? Every endpoint asks `authorize` before touching an object, so roles, tenancy
//! and organisation status are decided in one table, here, and tested exhaustively.

use shared::ids::Id;
use shared::wire::{OrgStatus, Role};

/// A logged-in user as authorization sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal {
    pub user: Id,
    pub org: Id,
    pub role: Role,
    pub org_status: OrgStatus,
}

/// Everything a user may ask to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Read and change one's own account (log out, change password, MFA).
    ManageOwnAccount,
    /// Send documents (Secure Send, Chart Transfer) or request them.
    SendOrRequest,
    /// Follow and revoke what was sent (allowed whatever the organisation's standing, so a
    /// suspended organisation can still withdraw a link).
    TrackSends,
    /// Mark one's invoices paid by hand (owners and admins: anyone's in the organisation).
    CollectPayment,
    /// List, change roles of and remove members, and revoke invitations.
    ManageMembers,
    /// Invite someone (which may mail them): owners and admins of a verified organisation
    /// only, so an unverified sign-up cannot use the relay's mail to reach anyone.
    InviteMembers,
    /// Organisation policies (MFA required, password rules, expiry).
    SetPolicy,
    /// Read and export the organisation's audit log.
    ViewAudit,
    /// Payout details and the payout report.
    ManagePayouts,
    /// The public intake portal and who the intake users are.
    ManagePortal,
    /// Hand ownership to another member.
    TransferOwnership,
    /// Close the organisation.
    CloseOrganisation,
}

impl Permission {
    pub const ALL: [Permission; 12] = [
        Permission::ManageOwnAccount,
        Permission::SendOrRequest,
        Permission::TrackSends,
        Permission::CollectPayment,
        Permission::ManageMembers,
        Permission::InviteMembers,
        Permission::SetPolicy,
        Permission::ViewAudit,
        Permission::ManagePayouts,
        Permission::ManagePortal,
        Permission::TransferOwnership,
        Permission::CloseOrganisation,
    ];
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
    let role_allows = match permission {
        Permission::ManageOwnAccount
        | Permission::SendOrRequest
        | Permission::TrackSends
        | Permission::CollectPayment => true,
        Permission::ManageMembers
        | Permission::InviteMembers
        | Permission::SetPolicy
        | Permission::ViewAudit => matches!(principal.role, Role::Owner | Role::Admin),
        Permission::ManagePayouts
        | Permission::ManagePortal
        | Permission::TransferOwnership
        | Permission::CloseOrganisation => principal.role == Role::Owner,
    };
    if !role_allows {
        return Err(Denied::Role(principal.role));
    }
    if matches!(
        permission,
        Permission::SendOrRequest | Permission::InviteMembers
    ) {
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
        }
    }

    /// The whole table: every permission × every role × own or other organisation × status.
    #[test]
    fn the_table() {
        let own = Id::from_bytes([2; 16]);
        let other = Id::from_bytes([3; 16]);
        for role in [Role::Owner, Role::Admin, Role::Member] {
            for status in [
                OrgStatus::Pending,
                OrgStatus::Verified,
                OrgStatus::Suspended,
            ] {
                let who = principal(role, status);
                for permission in Permission::ALL {
                    assert_eq!(
                        authorize(&who, permission, other),
                        Err(Denied::OtherOrganisation),
                        "{role:?} {permission:?} across tenants"
                    );
                    let expected = match (permission, role) {
                        (
                            Permission::ManageOwnAccount
                            | Permission::TrackSends
                            | Permission::CollectPayment,
                            _,
                        ) => Ok(()),
                        (Permission::SendOrRequest, _)
                        | (Permission::InviteMembers, Role::Owner | Role::Admin) => match status {
                            OrgStatus::Verified => Ok(()),
                            OrgStatus::Pending => Err(Denied::Pending),
                            OrgStatus::Suspended => Err(Denied::Suspended),
                            OrgStatus::Closed => Err(Denied::Closed),
                        },
                        (
                            Permission::ManageMembers
                            | Permission::SetPolicy
                            | Permission::ViewAudit,
                            Role::Owner | Role::Admin,
                        ) => Ok(()),
                        (
                            Permission::ManagePayouts
                            | Permission::ManagePortal
                            | Permission::TransferOwnership
                            | Permission::CloseOrganisation,
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
