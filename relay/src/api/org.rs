//! The organisation's own pages: its audit log, for owners and admins (`authz::ViewAudit`).

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use shared::wire;

use super::json::ApiJson;
use crate::audit::{Actor, AuditAction, AuditEntry, Outcome};
use crate::authz::{Permission, authorize};
use crate::client_ip::ClientIp;
use crate::error::AppError;
use crate::identity::Caller;
use crate::session::Session;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    #[serde(default = "default_limit")]
    limit: usize,
}

fn default_limit() -> usize {
    200
}

/// `GET /api/org/audit?limit=N`: the newest entries of the caller's organisation.
#[utoipa::path(
    get,
    path = "/api/org/audit",
    operation_id = "org_audit",
    tag = "organisation",
    security(("session" = []), ("api_key" = [])),
    params(("limit" = Option<usize>, Query, description = "the newest entries to answer, 1 to 10,000 (200 by default)")),
    responses(
        (status = 200, description = "the answer", body = Vec<wire::AuditEntryView>),
        super::openapi::Errors
    )
)]
pub async fn audit(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<Vec<wire::AuditEntryView>>, AppError> {
    let Query(query) = query.map_err(|rejection| AppError::BadRequest(rejection.body_text()))?;
    authorize(&caller.principal(), Permission::ViewAudit, caller.org().id)?;
    let limit = query.limit.clamp(1, 10_000);
    let entries = state.store.audit_entries_of_org(caller.org().id, limit)?;
    let mut key_names = std::collections::HashMap::new();
    let mut views = Vec::with_capacity(entries.len());
    for entry in &entries {
        let mut shown = view(entry);
        if let Actor::ApiKey { id, .. } = &entry.actor {
            if !key_names.contains_key(id) {
                let name = state.store.api_key(*id)?.map(|key| key.name);
                key_names.insert(*id, name);
            }
            shown.actor_name = key_names.get(id).cloned().flatten();
        }
        views.push(shown);
    }
    Ok(Json(views))
}

/// `GET /api/org/audit/checkpoint`: where the whole log stands now, signed with the relay's
/// audit key, for the organisation to keep outside the relay (the operator can later be asked
/// to show that the log still holds that entry with that hash: `admin audit verify --since`).
#[utoipa::path(
    get,
    path = "/api/org/audit/checkpoint",
    operation_id = "org_audit_checkpoint",
    tag = "organisation",
    security(("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "the answer", body = wire::AuditCheckpoint),
        super::openapi::Errors
    )
)]
pub async fn audit_checkpoint(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<wire::AuditCheckpoint>, AppError> {
    authorize(&caller.principal(), Permission::ViewAudit, caller.org().id)?;
    state
        .store
        .audit_checkpoint(state.clock.now())?
        .map(Json)
        .ok_or_else(|| AppError::Conflict("the audit log is empty".to_owned()))
}

fn view(entry: &AuditEntry) -> wire::AuditEntryView {
    let (kind, id, ip) = match &entry.actor {
        Actor::User { id, ip } => ("user", Some(*id), ip.clone()),
        Actor::ApiKey { id, ip } => ("api_key", Some(*id), ip.clone()),
        Actor::Operator => ("operator", None, None),
        Actor::Anonymous { ip } => ("anonymous", None, ip.clone()),
    };
    let outcome = match entry.outcome {
        Outcome::Success => "success",
        Outcome::Failure => "failure",
        Outcome::Denied => "denied",
    };
    wire::AuditEntryView {
        seq: entry.seq,
        time: entry.time,
        actor_kind: kind.to_owned(),
        actor_id: id,
        ip,
        action: entry.action.clone(),
        target: entry.target.clone(),
        outcome: outcome.to_owned(),
        actor_name: None,
        hash: entry.hash.iter().map(|b| format!("{b:02x}")).collect(),
    }
}

/// `GET /api/org/policy`.
#[utoipa::path(
    get,
    path = "/api/org/policy",
    operation_id = "org_policy",
    tag = "organisation",
    security(("session" = [])),
    responses(
        (status = 200, description = "the answer", body = wire::OrgPolicy),
        super::openapi::Errors
    )
)]
pub async fn policy(session: Session) -> Result<Json<wire::OrgPolicy>, AppError> {
    authorize(&session.principal(), Permission::SetPolicy, session.org.id)?;
    Ok(Json(session.org.policy))
}

/// `PUT /api/org/policy`: password length and age, MFA requirement.
#[utoipa::path(
    put,
    path = "/api/org/policy",
    operation_id = "org_set_policy",
    tag = "organisation",
    security(("session" = [])),
    request_body = wire::OrgPolicy,
    responses(
        (status = 200, description = "the answer", body = wire::OrgPolicy),
        super::openapi::Errors
    )
)]
pub async fn set_policy(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    session: Session,
    ApiJson(policy): ApiJson<wire::OrgPolicy>,
) -> Result<Json<wire::OrgPolicy>, AppError> {
    authorize(&session.principal(), Permission::SetPolicy, session.org.id)?;
    if !(wire::OrgPolicy::MIN_PASSWORD_LENGTH..=128).contains(&policy.min_password_length) {
        return Err(AppError::Invalid(format!(
            "the minimum password length must be {} to 128",
            wire::OrgPolicy::MIN_PASSWORD_LENGTH
        )));
    }
    if policy
        .max_password_age_days
        .is_some_and(|days| !(1..=3650).contains(&days))
    {
        return Err(AppError::Invalid(
            "the maximum password age must be 1 to 3650 days".to_owned(),
        ));
    }
    if !(1..=wire::OrgPolicy::MAX_EXPIRY_DAYS).contains(&policy.max_expiry_days) {
        return Err(AppError::Invalid(format!(
            "the longest expiry must be 1 to {} days",
            wire::OrgPolicy::MAX_EXPIRY_DAYS
        )));
    }
    let org = state
        .store
        .update_org(session.org.id, Some(&session.guard()), |org| {
            org.policy = policy
        })?
        .done()
        .map(|((), org)| org)
        .ok_or_else(AppError::session_ended)?;
    state.audit(
        Actor::User {
            id: session.user.id,
            ip,
        },
        Some(org.id),
        AuditAction::OrgPolicy,
        Some(serde_json::to_string(&policy).unwrap_or_default()),
        Outcome::Success,
    )?;
    Ok(Json(policy))
}

/// `POST /api/org/transfer`: the owner hands ownership to another member and becomes an admin.
/// Both lose their other sessions (their roles changed).
#[utoipa::path(
    post,
    path = "/api/org/transfer",
    operation_id = "org_transfer",
    tag = "organisation",
    security(("session" = [])),
    request_body = wire::TransferOwnershipRequest,
    responses(
        (status = 200, description = "the answer", body = wire::SessionResponse),
        super::openapi::Errors
    )
)]
pub async fn transfer(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    session: Session,
    ApiJson(request): ApiJson<wire::TransferOwnershipRequest>,
) -> Result<Json<wire::SessionResponse>, AppError> {
    let heir = state
        .store
        .user(request.member)?
        .ok_or(AppError::NotFound)?;
    authorize(
        &session.principal(),
        Permission::TransferOwnership,
        heir.org,
    )?;
    if heir.id == session.user.id {
        return Err(AppError::Invalid("you are the owner already".to_owned()));
    }
    let (owner, heir) =
        match state
            .store
            .transfer_ownership(&session.guard(), session.user.id, heir.id)?
        {
            crate::store::Updated::Done { record, .. } => record,
            crate::store::Updated::Missing => return Err(AppError::NotFound),
            crate::store::Updated::SessionEnded => return Err(AppError::session_ended()),
        };
    state.store.delete_sessions_of(heir.id, None)?;
    state
        .store
        .delete_sessions_of(owner.id, Some(&session.token_hash))?;
    state.audit(
        Actor::User { id: owner.id, ip },
        Some(owner.org),
        AuditAction::OrgOwnershipTransfer,
        Some(heir.email.clone()),
        Outcome::Success,
    )?;
    let now = state.clock.now();
    Ok(Json(crate::session::session_response(
        &owner,
        &session.org,
        &session.record.csrf_token,
        now,
    )))
}

/// `POST /api/org/close`: the owner closes the organisation (typing its handle again). Every
/// session ends, nobody logs in any more, and the retention sweep purges it after 90 days.
#[utoipa::path(
    post,
    path = "/api/org/close",
    operation_id = "org_close",
    tag = "organisation",
    security(("session" = [])),
    request_body = wire::CloseOrganisationRequest,
    responses(
        (status = 204, description = "done"),
        super::openapi::Errors
    )
)]
pub async fn close(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    session: Session,
    ApiJson(request): ApiJson<wire::CloseOrganisationRequest>,
) -> Result<StatusCode, AppError> {
    authorize(
        &session.principal(),
        Permission::CloseOrganisation,
        session.org.id,
    )?;
    if request.handle.trim() != session.org.handle {
        return Err(AppError::Invalid(
            "type the organisation's handle to confirm".to_owned(),
        ));
    }
    let now = state.clock.now();
    let org = state
        .store
        .update_org(session.org.id, Some(&session.guard()), |org| {
            if org.status != wire::OrgStatus::Closed {
                org.status = wire::OrgStatus::Closed;
                org.status_changed_at = now;
            }
        })?
        .done()
        .map(|((), org)| org)
        .ok_or_else(AppError::session_ended)?;
    // Sessions of a closed organisation are refused on their next request; this tidies up.
    for member in state.store.users_of_org(org.id)? {
        state.store.delete_sessions_of(member.id, None)?;
    }
    state.audit(
        Actor::User {
            id: session.user.id,
            ip,
        },
        Some(org.id),
        AuditAction::OrgClose,
        Some(org.handle.clone()),
        Outcome::Success,
    )?;
    Ok(StatusCode::NO_CONTENT)
}
