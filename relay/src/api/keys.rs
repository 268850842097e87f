//! `/api/org/api-keys`: owners and admins create, list and revoke their organisation's API
//! keys (`authz::ManageApiKeys`, which no key holds: keys never make keys). A new key's secret
//! is in the creating answer only. Every change is audited with the key's name and prefix.

use axum::Json;
use axum::extract::State;
use shared::ids::Id;
use shared::wire;

use super::json::{ApiJson, ApiPath};
use crate::audit::{AuditAction, Outcome};
use crate::authz::{Permission, authorize};
use crate::client_ip::ClientIp;
use crate::error::AppError;
use crate::session::Session;
use crate::state::AppState;
use crate::store::Updated;

/// Most keys an organisation may hold that are live (not revoked, not expired).
const MAX_LIVE_KEYS: usize = 50;

/// Serialises counting an organisation's keys with storing a new one, so a burst of parallel
/// creations cannot pass the limit (making keys is rare).
static CREATING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// `GET /api/org/api-keys`: the organisation's keys, newest first, revoked ones included.
#[utoipa::path(
    get,
    path = "/api/org/api-keys",
    operation_id = "keys_list",
    tag = "api keys",
    security(("session" = [])),
    responses(
        (status = 200, description = "the answer", body = Vec<wire::ApiKeyView>),
        super::openapi::Errors
    )
)]
pub async fn list(
    State(state): State<AppState>,
    session: Session,
) -> Result<Json<Vec<wire::ApiKeyView>>, AppError> {
    authorize(
        &session.principal(),
        Permission::ManageApiKeys,
        session.org.id,
    )?;
    let keys = state.store.api_keys_of_org(session.org.id)?;
    Ok(Json(keys.iter().map(crate::api_keys::view).collect()))
}

/// `POST /api/org/api-keys`: a new key; its secret is shown in this answer only.
#[utoipa::path(
    post,
    path = "/api/org/api-keys",
    operation_id = "keys_create",
    tag = "api keys",
    security(("session" = [])),
    request_body = wire::CreateApiKeyRequest,
    responses(
        (status = 200, description = "the answer", body = wire::CreateApiKeyResponse),
        super::openapi::Errors
    )
)]
pub async fn create(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    session: Session,
    ApiJson(request): ApiJson<wire::CreateApiKeyRequest>,
) -> Result<Json<wire::CreateApiKeyResponse>, AppError> {
    authorize(
        &session.principal(),
        Permission::ManageApiKeys,
        session.org.id,
    )?;
    let _creating = CREATING.lock().await;
    let now = state.clock.now();
    let live = state
        .store
        .api_keys_of_org(session.org.id)?
        .iter()
        .filter(|key| key.live(now))
        .count();
    if live >= MAX_LIVE_KEYS {
        return Err(AppError::Conflict(format!(
            "an organisation holds at most {MAX_LIVE_KEYS} keys; revoke one first"
        )));
    }
    if let Some(scope) = request
        .scopes
        .iter()
        .find(|scope| !crate::authz::role_gives(session.user.role, **scope))
    {
        return Err(AppError::Forbidden(format!(
            "your role ({:?}) cannot give a key {}: a key never does more than its maker may",
            session.user.role,
            scope.as_str()
        )));
    }
    let made = crate::api_keys::make(session.org.id, session.user.id, now, &request)
        .map_err(|refused| AppError::Invalid(refused.to_string()))?;
    crate::session::still_alive(&state, &session.guard())?;
    state.store.create_api_key(&made.record)?;
    state.audit(
        crate::audit::Actor::User {
            id: session.user.id,
            ip,
        },
        Some(session.org.id),
        AuditAction::OrgApiKeyCreate,
        Some(format!(
            "{} ({}): {}",
            made.record.name,
            made.record.prefix,
            crate::api_keys::scope_names(&made.record.scopes)
        )),
        Outcome::Success,
    )?;
    Ok(Json(wire::CreateApiKeyResponse {
        key: crate::api_keys::view(&made.record),
        secret: made.secret,
    }))
}

/// `POST /api/org/api-keys/{id}/revoke`: the key does nothing from this answer on.
#[utoipa::path(
    post,
    path = "/api/org/api-keys/{id}/revoke",
    operation_id = "keys_revoke",
    tag = "api keys",
    security(("session" = [])),
    params(("id" = shared::ids::Id, Path, description = "the object's id")),
    responses(
        (status = 200, description = "the answer", body = wire::ApiKeyView),
        super::openapi::Errors
    )
)]
pub async fn revoke(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    session: Session,
    ApiPath(id): ApiPath<Id>,
) -> Result<Json<wire::ApiKeyView>, AppError> {
    authorize(
        &session.principal(),
        Permission::ManageApiKeys,
        session.org.id,
    )?;
    let now = state.clock.now();
    let key = match state
        .store
        .revoke_api_key(session.org.id, id, now, &session.guard())?
    {
        Updated::Done { record, .. } => record,
        Updated::Missing => return Err(AppError::NotFound),
        Updated::SessionEnded => {
            return Err(AppError::Unauthenticated(
                "your session has ended; please log in again",
            ));
        }
    };
    state.audit(
        crate::audit::Actor::User {
            id: session.user.id,
            ip,
        },
        Some(session.org.id),
        AuditAction::OrgApiKeyRevoke,
        Some(format!("{} ({})", key.name, key.prefix)),
        Outcome::Success,
    )?;
    Ok(Json(crate::api_keys::view(&key)))
}
