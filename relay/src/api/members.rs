//! Members and invitations of the caller's organisation (owners and admins, `ManageMembers`).
//! Every handler loads the target and asks `authorize` against the target's organisation, so a
//! cross-tenant id is refused however it was obtained. Nobody is invited, promoted or demoted
//! to or from owner here (ownership transfer is the owner's own act); a role change or a
//! removal ends the member's sessions.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use shared::crypto::OsRng;
use shared::ids::Id;
use shared::wire::{self, Role};

use super::json::ApiJson;
use crate::accounts::normalize_email;
use crate::audit::{Actor, AuditAction, Outcome};
use crate::authz::{self, Permission, authorize};
use crate::client_ip::ClientIp;
use crate::error::AppError;
use crate::session::Session;
use crate::state::AppState;
use crate::store::{InviteRecord, Updated, UserRecord};

/// Invitations are valid for a week.
const INVITE_SECONDS: i64 = 7 * 24 * 3600;

/// `POST /api/org/invites`.
#[utoipa::path(
    post,
    path = "/api/org/invites",
    operation_id = "members_create_invite",
    tag = "organisation",
    security(("session" = [])),
    request_body = wire::CreateInviteRequest,
    responses(
        (status = 201, description = "created", body = wire::InviteView),
        super::openapi::Errors
    )
)]
pub async fn create_invite(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    session: Session,
    ApiJson(request): ApiJson<wire::CreateInviteRequest>,
) -> Result<(StatusCode, Json<wire::InviteView>), AppError> {
    authorize(
        &session.principal(),
        Permission::InviteMembers,
        session.org.id,
    )?;
    if request.role == Role::Owner {
        return Err(AppError::Invalid(
            "invite admins or members; ownership is transferred, not invited".to_owned(),
        ));
    }
    let email = normalize_email(&request.email)?;
    // Without mail the token is handed to the inviter, who could use it to learn whether the
    // address has an account anyway; with mail, an address that has one is told instead and
    // the answer is the same as for any other address.
    let taken = state.store.user_by_email(&email)?.is_some();
    if taken && state.mailer.is_none() {
        return Err(AppError::Conflict(
            "this address already has an account".to_owned(),
        ));
    }
    let now = state.clock.now();
    let per_day = state.config.rate_limits.invitations_per_org_per_day;
    if !state.store.take_invitation(session.org.id, now, per_day)? {
        return Err(AppError::RateLimited {
            message: format!(
                "your organisation has created its {per_day} invitations for today; try again tomorrow (UTC)"
            ),
        });
    }
    let token = crate::tokens::mint();
    let invite = InviteRecord {
        id: Id::generate(&mut OsRng),
        org: session.org.id,
        email: email.clone(),
        role: request.role,
        created_by: session.user.id,
        created_at: now,
        expires_at: now + INVITE_SECONDS,
    };
    state.store.create_invite(&token.hash, &invite)?;
    let token_text = token.text;
    let emailed = match &state.mailer {
        Some(mailer) => {
            let invitation = crate::mail::Invitation {
                organisation: &session.org.name,
                handle: &session.org.handle,
                inviter: &session.user.name,
                inviter_email: &session.user.email,
            };
            let sent = if taken {
                mailer.send_invite_taken(&email, &invitation).await
            } else {
                mailer
                    .send_invite(&email, &invitation, token_text.dangerously_expose())
                    .await
            };
            let outcome = if sent.is_ok() {
                Outcome::Success
            } else {
                Outcome::Failure
            };
            state.audit(
                Actor::User {
                    id: session.user.id,
                    ip: ip.clone(),
                },
                Some(session.org.id),
                AuditAction::OrgInviteMail,
                Some(email.clone()),
                outcome,
            )?;
            if let Err(error) = sent {
                // Its token went nowhere: the invitation is withdrawn, and the inviter told.
                state.store.revoke_invite(session.org.id, invite.id)?;
                return Err(AppError::MailUnavailable(error));
            }
            true
        }
        None => false,
    };
    state.audit(
        Actor::User {
            id: session.user.id,
            ip,
        },
        Some(session.org.id),
        AuditAction::OrgInvite,
        Some(email),
        Outcome::Success,
    )?;
    let mut view = invite_view(&invite);
    // A mailed token goes only to the address: whoever else holds it could claim the address.
    view.token = state.mailer.is_none().then_some(token_text);
    view.emailed = emailed;
    Ok((StatusCode::CREATED, Json(view)))
}

/// `GET /api/org/invites`.
#[utoipa::path(
    get,
    path = "/api/org/invites",
    operation_id = "members_list_invites",
    tag = "organisation",
    security(("session" = [])),
    responses(
        (status = 200, description = "the answer", body = Vec<wire::InviteView>),
        super::openapi::Errors
    )
)]
pub async fn list_invites(
    State(state): State<AppState>,
    session: Session,
) -> Result<Json<Vec<wire::InviteView>>, AppError> {
    authorize(
        &session.principal(),
        Permission::ManageMembers,
        session.org.id,
    )?;
    let invites = state
        .store
        .invites_of_org(session.org.id, state.clock.now())?;
    Ok(Json(invites.iter().map(invite_view).collect()))
}

/// `DELETE /api/org/invites/{id}`.
#[utoipa::path(
    delete,
    path = "/api/org/invites/{id}",
    operation_id = "members_revoke_invite",
    tag = "organisation",
    security(("session" = [])),
    params(("id" = String, Path, description = "the object's id")),
    responses(
        (status = 204, description = "done"),
        super::openapi::Errors
    )
)]
pub async fn revoke_invite(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    session: Session,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    authorize(
        &session.principal(),
        Permission::ManageMembers,
        session.org.id,
    )?;
    let id = Id::parse(&id).map_err(|_| AppError::NotFound)?;
    if !state.store.revoke_invite(session.org.id, id)? {
        return Err(AppError::NotFound);
    }
    state.audit(
        Actor::User {
            id: session.user.id,
            ip,
        },
        Some(session.org.id),
        AuditAction::OrgInviteRevoke,
        Some(id.to_string()),
        Outcome::Success,
    )?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/org/members`.
#[utoipa::path(
    get,
    path = "/api/org/members",
    operation_id = "members_list_members",
    tag = "organisation",
    security(("session" = [])),
    responses(
        (status = 200, description = "the answer", body = Vec<wire::MemberView>),
        super::openapi::Errors
    )
)]
pub async fn list_members(
    State(state): State<AppState>,
    session: Session,
) -> Result<Json<Vec<wire::MemberView>>, AppError> {
    authorize(
        &session.principal(),
        Permission::ManageMembers,
        session.org.id,
    )?;
    let members = state.store.users_of_org(session.org.id)?;
    Ok(Json(members.iter().map(member_view).collect()))
}

/// `POST /api/org/members/{id}/role`: between admin and member; ends the member's sessions.
#[utoipa::path(
    post,
    path = "/api/org/members/{id}/role",
    operation_id = "members_change_role",
    tag = "organisation",
    security(("session" = [])),
    params(("id" = String, Path, description = "the object's id")),
    request_body = wire::ChangeRoleRequest,
    responses(
        (status = 200, description = "the answer", body = wire::MemberView),
        super::openapi::Errors
    )
)]
pub async fn change_role(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    session: Session,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<wire::ChangeRoleRequest>,
) -> Result<Json<wire::MemberView>, AppError> {
    let member = target_member(&state, &session, &id)?;
    let owner_only = || {
        AppError::Forbidden("the owner's role changes only by transferring ownership".to_owned())
    };
    if request.role == Role::Owner {
        return Err(owner_only());
    }
    let updated = state
        .store
        .update_user(member.id, Some(&session.guard()), false, |member| {
            if member.role == Role::Owner {
                return None;
            }
            let from = member.role;
            if from != request.role {
                member.role = request.role;
                member.session_epoch += 1;
            }
            Some(from)
        })?;
    let (from, member) = match updated {
        Updated::Done {
            outcome: Some(from),
            record,
        } => (from, record),
        Updated::Done { outcome: None, .. } => return Err(owner_only()),
        Updated::Missing => return Err(AppError::NotFound),
        Updated::SessionEnded => return Err(AppError::session_ended()),
    };
    state.store.delete_sessions_of(member.id, None)?;
    state.audit(
        Actor::User {
            id: session.user.id,
            ip,
        },
        Some(session.org.id),
        AuditAction::OrgRoleChange,
        Some(format!("{}: {from:?} -> {:?}", member.email, member.role).to_lowercase()),
        Outcome::Success,
    )?;
    Ok(Json(member_view(&member)))
}

/// `DELETE /api/org/members/{id}`: removes the member and ends their sessions.
#[utoipa::path(
    delete,
    path = "/api/org/members/{id}",
    operation_id = "members_remove_member",
    tag = "organisation",
    security(("session" = [])),
    params(("id" = String, Path, description = "the object's id")),
    responses(
        (status = 204, description = "done"),
        super::openapi::Errors
    )
)]
pub async fn remove_member(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    session: Session,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    let member = target_member(&state, &session, &id)?;
    if member.id == session.user.id {
        return Err(AppError::Forbidden("you cannot remove yourself".to_owned()));
    }
    let removed = state
        .store
        .delete_user(Some(&session.guard()), member.id, |member| {
            member.role != Role::Owner
        })?;
    let member = match removed {
        Updated::Done {
            outcome: true,
            record,
        } => record,
        Updated::Done { outcome: false, .. } => {
            return Err(AppError::Forbidden(
                "the owner cannot be removed".to_owned(),
            ));
        }
        Updated::Missing => return Err(AppError::NotFound),
        Updated::SessionEnded => return Err(AppError::session_ended()),
    };
    state.audit(
        Actor::User {
            id: session.user.id,
            ip,
        },
        Some(session.org.id),
        AuditAction::OrgMemberRemove,
        Some(member.email),
        Outcome::Success,
    )?;
    Ok(StatusCode::NO_CONTENT)
}

/// Loads a user by id and checks the caller may manage them (same organisation, role).
pub(super) fn target_member(
    state: &AppState,
    session: &Session,
    id: &str,
) -> Result<UserRecord, AppError> {
    let id = Id::parse(id).map_err(|_| AppError::NotFound)?;
    let member = state.store.user(id)?.ok_or(AppError::NotFound)?;
    authorize(&session.principal(), Permission::ManageMembers, member.org)?;
    Ok(member)
}

fn invite_view(invite: &InviteRecord) -> wire::InviteView {
    wire::InviteView {
        id: invite.id,
        email: invite.email.clone(),
        role: invite.role,
        expires_at: invite.expires_at,
        token: None,
        emailed: false,
    }
}

fn member_view(user: &UserRecord) -> wire::MemberView {
    wire::MemberView {
        id: user.id,
        email: user.email.clone(),
        name: user.name.clone(),
        role: user.role,
    }
}

/// `POST /api/org/members/{id}/mfa-reset`: an owner or admin removes a member's second factor
/// (a lost phone); the member's sessions end.
#[utoipa::path(
    post,
    path = "/api/org/members/{id}/mfa-reset",
    operation_id = "members_reset_mfa",
    tag = "organisation",
    security(("session" = [])),
    params(("id" = String, Path, description = "the object's id")),
    responses(
        (status = 204, description = "done"),
        super::openapi::Errors
    )
)]
pub async fn reset_mfa(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    session: Session,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    let member: UserRecord = target_member(&state, &session, &id)?;
    let principal = session.principal();
    // Decided on the record as it is in the same compare-and-swap: a member promoted meanwhile
    // is judged by their new role.
    let updated = state
        .store
        .update_user(member.id, Some(&session.guard()), false, |member| {
            let over = authz::Member {
                id: member.id,
                org: member.org,
                role: member.role,
            };
            authz::authorize_over(&principal, Permission::ManageMembers, over)?;
            member.mfa = None;
            member.mfa_pending = None;
            member.session_epoch += 1;
            Ok::<(), authz::Denied>(())
        })?;
    let member = match updated {
        Updated::Done {
            outcome: Ok(()),
            record,
        } => record,
        Updated::Done {
            outcome: Err(denied),
            ..
        } => return Err(denied.into()),
        Updated::Missing => return Err(AppError::NotFound),
        Updated::SessionEnded => return Err(AppError::session_ended()),
    };
    state.store.delete_sessions_of(member.id, None)?;
    state.audit(
        Actor::User {
            id: session.user.id,
            ip,
        },
        Some(member.org),
        AuditAction::AuthMfaReset,
        Some(member.email),
        Outcome::Success,
    )?;
    Ok(StatusCode::NO_CONTENT)
}
