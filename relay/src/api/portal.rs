//! The portal and chart transfers (PRODUCT.md flows 4 and 5): an owner enables a public
//! intake page `/p/<handle>` and names intake users; anyone may drop files there, encrypted to
//! the owner's and the intake users' keys, within a per-IP rate limit and a size limit. A chart
//! transfer sends a bundle from one organisation to another's owner and intake users, with the
//! sender's own copy readable by the sender and their owner.

use axum::Json;
use axum::extract::State;
use shared::wire::{self, DocumentKind, OrgStatus};

use super::documents;
use super::json::{ApiJson, ApiPath};
use crate::audit::{Actor, AuditAction, Outcome};
use crate::authz::{Permission, authorize};
use crate::client_ip::ClientIp;
use crate::documents::Reservation;
use crate::error::AppError;
use crate::guard::{Guard, Refusal};
use crate::identity::Caller;
use crate::session::Session;
use crate::state::AppState;

/// `GET /api/org/portal`: the owner's portal settings.
#[utoipa::path(
    get,
    path = "/api/org/portal",
    operation_id = "portal_settings",
    tag = "portal and transfers",
    security(("session" = [])),
    responses(
        (status = 200, description = "the answer", body = wire::PortalSettings),
        super::openapi::Errors
    )
)]
pub async fn settings(
    State(_state): State<AppState>,
    session: Session,
) -> Result<Json<wire::PortalSettings>, AppError> {
    authorize(
        &session.principal(),
        Permission::ManagePortal,
        session.org.id,
    )?;
    Ok(Json(wire::PortalSettings {
        enabled: session.org.portal_enabled,
        intake: session.org.intake.clone(),
    }))
}

/// `PUT /api/org/portal`: turn the portal on or off and name the intake users (members of the
/// organisation; the owner always reads as well).
#[utoipa::path(
    put,
    path = "/api/org/portal",
    operation_id = "portal_set_settings",
    tag = "portal and transfers",
    security(("session" = [])),
    request_body = wire::PortalSettings,
    responses(
        (status = 200, description = "the answer", body = wire::PortalSettings),
        super::openapi::Errors
    )
)]
pub async fn set_settings(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    session: Session,
    ApiJson(request): ApiJson<wire::PortalSettings>,
) -> Result<Json<wire::PortalSettings>, AppError> {
    authorize(
        &session.principal(),
        Permission::ManagePortal,
        session.org.id,
    )?;
    let members = state.store.users_of_org(session.org.id)?;
    let mut intake = Vec::new();
    for user in request.intake {
        if !members.iter().any(|member| member.id == user) {
            return Err(AppError::Invalid(
                "intake users must be members of your organisation".to_owned(),
            ));
        }
        if !intake.contains(&user) {
            intake.push(user);
        }
    }
    let org = state
        .store
        .update_org(session.org.id, Some(&session.guard()), |org| {
            org.portal_enabled = request.enabled;
            org.intake = intake.clone();
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
        AuditAction::PortalSettings,
        None,
        Outcome::Success,
    )?;
    Ok(Json(wire::PortalSettings {
        enabled: org.portal_enabled,
        intake: org.intake,
    }))
}

/// `GET /api/portal/{handle}`: the public intake page's facts and the keys to encrypt to.
#[utoipa::path(
    get,
    path = "/api/portal/{handle}",
    operation_id = "portal_view",
    tag = "portal and transfers",
    security(()),
    params(("handle" = String, Path, description = "the organisation's handle")),
    responses(
        (status = 200, description = "the answer", body = wire::PortalView),
        super::openapi::Errors
    )
)]
pub async fn view(
    State(state): State<AppState>,
    ApiPath(handle): ApiPath<String>,
) -> Result<Json<wire::PortalView>, AppError> {
    let org = open_portal(&state, &handle)?;
    let readers = crate::documents::intake_readers(&state.store, &org)?
        .iter()
        .map(|user| crate::documents::key_holder(&state.store, user))
        .collect::<Result<_, _>>()?;
    Ok(Json(wire::PortalView {
        organisation: org.name,
        handle: org.handle,
        verified: org.status == OrgStatus::Verified,
        readers,
        max_bundle_bytes: state.config.portal.max_bundle_bytes,
    }))
}

/// `POST /api/portal/{handle}/drops`: reserves an anonymous drop (rate-limited per IP); the
/// answer carries the upload token for its chunks and finalize.
#[utoipa::path(
    post,
    path = "/api/portal/{handle}/drops",
    operation_id = "portal_drop",
    tag = "portal and transfers",
    security(()),
    params(("handle" = String, Path, description = "the organisation's handle")),
    request_body = wire::NewDocumentRequest,
    responses(
        (status = 200, description = "the answer", body = wire::DocumentCreated),
        super::openapi::Errors
    )
)]
pub async fn drop(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiPath(handle): ApiPath<String>,
    ApiJson(request): ApiJson<wire::NewDocumentRequest>,
) -> Result<Json<wire::DocumentCreated>, AppError> {
    let now = state.clock.now();
    let guard = Guard {
        store: &state.store,
        config: &state.config.brute_force,
    };
    if let Err(Refusal::IpBlocked { until }) = guard.check_ip(ip.as_deref(), now)? {
        return Err(AppError::IpBlocked {
            hours: (until - now + 3599).div_euclid(3600),
        });
    }
    let org = open_portal(&state, &handle)?;
    let limit = state.config.portal.max_drops_per_ip_per_hour;
    if let Some(address) = ip.as_deref() {
        let count = state
            .store
            .count_portal_drop(&crate::client_ip::network_of(address), now.div_euclid(3600))?;
        if count > limit {
            return Err(AppError::RateLimited {
                message: format!(
                    "at most {limit} uploads an hour are accepted from one network; try again later"
                ),
            });
        }
    }
    let readers = crate::documents::intake_readers(&state.store, &org)?;
    let (document, created) = documents::reserve(
        &state,
        Reservation {
            kind: DocumentKind::Portal,
            org: org.id,
            counterpart: None,
            uploaded_by: None,
            request: None,
            files: request.files,
            readers,
            expires_in_days: org.policy.max_expiry_days,
            max_bundle_bytes: state.config.portal.max_bundle_bytes,
            quota_org: org.id,
            paywall: None,
            anonymous: Some(ip.as_deref().map(crate::client_ip::network_of)),
        },
    )
    .await?;
    documents::audit_document(
        &state,
        Actor::Anonymous { ip },
        &document,
        AuditAction::PortalDrop,
        Outcome::Success,
    )?;
    Ok(Json(created))
}

/// `POST /api/transfers`: a chart transfer to another organisation by handle.
#[utoipa::path(
    post,
    path = "/api/transfers",
    operation_id = "portal_transfer",
    tag = "portal and transfers",
    security(("session" = []), ("api_key" = [])),
    request_body = wire::TransferRequest,
    responses(
        (status = 200, description = "the answer", body = wire::DocumentCreated),
        super::openapi::Errors
    )
)]
pub async fn transfer(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    caller: Caller,
    ApiJson(request): ApiJson<wire::TransferRequest>,
) -> Result<Json<wire::DocumentCreated>, AppError> {
    let own = caller.org();
    authorize(&caller.principal(), Permission::UploadDocuments, own.id)?;
    let target = state
        .store
        .org_by_handle(request.to.trim())?
        .filter(|org| org.status == OrgStatus::Verified)
        .ok_or_else(|| {
            AppError::Invalid(format!(
                "no verified organisation on this relay has the handle {:?}",
                request.to
            ))
        })?;
    if target.id == own.id {
        return Err(AppError::Invalid(
            "a chart transfer goes to another organisation".to_owned(),
        ));
    }
    let readers = crate::documents::with_readers(
        crate::documents::intake_readers(&state.store, &target)?,
        crate::documents::with_readers(
            caller
                .session()
                .map(|session| session.user.clone())
                .into_iter()
                .collect(),
            vec![crate::documents::owner_of(&state.store, own.id)?],
        ),
    );
    let (document, created) = documents::reserve(
        &state,
        Reservation {
            kind: DocumentKind::Transfer,
            org: target.id,
            counterpart: Some(own.id),
            uploaded_by: Some(caller.maker()),
            request: None,
            files: request.files,
            readers,
            expires_in_days: target
                .policy
                .max_expiry_days
                .min(own.policy.max_expiry_days),
            max_bundle_bytes: state.config.sends.max_bundle_bytes,
            quota_org: own.id,
            paywall: None,
            anonymous: None,
        },
    )
    .await?;
    documents::audit_document(
        &state,
        caller.actor(ip),
        &document,
        AuditAction::TransferCreate,
        Outcome::Success,
    )?;
    Ok(Json(created))
}

/// The organisation behind `/p/<handle>`, if its portal is open: enabled by its owner, and
/// the organisation verified by the operator.
fn open_portal(state: &AppState, handle: &str) -> Result<crate::store::OrgRecord, AppError> {
    state
        .store
        .org_by_handle(handle)?
        .filter(|org| org.portal_enabled && org.status == OrgStatus::Verified)
        .ok_or(AppError::Gone {
            code: "no_portal",
            message: "this organisation has no open portal on this relay",
        })
}
