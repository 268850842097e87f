//! `/api/org/webhooks`: owners and admins register HTTPS endpoints for their organisation's
//! events (`authz::ManageWebhooks`, which no API key holds), see each endpoint's last attempt
//! and its deliveries, replay a delivery, and remove an endpoint. A new endpoint's signing
//! secret is in the creating answer only. The endpoint is checked against SSRF here and again
//! at every attempt (`webhooks::check_target`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use shared::ids::Id;
use shared::wire;

use super::json::{ApiJson, ApiPath};
use crate::audit::{Actor, AuditAction, Outcome};
use crate::authz::{Permission, authorize};
use crate::client_ip::ClientIp;
use crate::error::AppError;
use crate::session::Session;
use crate::state::AppState;
use crate::store::WebhookEndpoint;

/// Deliveries listed per endpoint.
const LISTED_DELIVERIES: usize = 100;

/// Serialises counting an organisation's endpoints with storing a new one, so a burst of
/// parallel registrations cannot pass `max_endpoints_per_org` (registering is rare).
static REGISTERING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// `GET /api/org/webhooks`: the organisation's endpoints with their last attempt.
#[utoipa::path(
    get,
    path = "/api/org/webhooks",
    operation_id = "webhooks_list",
    tag = "webhooks",
    security(("session" = [])),
    responses(
        (status = 200, description = "the answer", body = Vec<wire::WebhookView>),
        super::openapi::Errors
    )
)]
pub async fn list(
    State(state): State<AppState>,
    session: Session,
) -> Result<Json<Vec<wire::WebhookView>>, AppError> {
    authorize(
        &session.principal(),
        Permission::ManageWebhooks,
        session.org.id,
    )?;
    let endpoints = state.store.webhook_endpoints_of_org(session.org.id)?;
    Ok(Json(endpoints.iter().map(crate::webhooks::view).collect()))
}

/// `POST /api/org/webhooks`: registers an endpoint; its signing secret is in this answer only.
#[utoipa::path(
    post,
    path = "/api/org/webhooks",
    operation_id = "webhooks_create",
    tag = "webhooks",
    security(("session" = [])),
    request_body = wire::CreateWebhookRequest,
    responses(
        (status = 200, description = "the answer", body = wire::CreateWebhookResponse),
        super::openapi::Errors
    )
)]
pub async fn create(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    session: Session,
    ApiJson(request): ApiJson<wire::CreateWebhookRequest>,
) -> Result<Json<wire::CreateWebhookResponse>, AppError> {
    authorize(
        &session.principal(),
        Permission::ManageWebhooks,
        session.org.id,
    )?;
    let config = &state.config.webhooks;
    if request.url.len() > 2_000 {
        return Err(AppError::Invalid(
            "the endpoint's URL is too long".to_owned(),
        ));
    }
    let mut events = request.events.clone();
    events.sort();
    events.dedup();
    if events.is_empty() {
        return Err(AppError::Invalid(
            "an endpoint needs at least one event".to_owned(),
        ));
    }
    let _registering = REGISTERING.lock().await;
    let existing = state.store.webhook_endpoints_of_org(session.org.id)?.len();
    if existing >= config.max_endpoints_per_org as usize {
        return Err(AppError::Conflict(format!(
            "an organisation registers at most {} endpoints; remove one first",
            config.max_endpoints_per_org
        )));
    }
    let target = crate::webhooks::check_target(&request.url, config)
        .await
        .map_err(|refused| AppError::Invalid(refused.to_string()))?;
    let secret = crate::webhooks::new_secret();
    let endpoint = WebhookEndpoint {
        id: Id::generate(&mut shared::crypto::OsRng),
        org: session.org.id,
        url: target.url.to_string(),
        events,
        secret: secret.clone(),
        created_by: session.user.id,
        created_at: state.clock.now(),
        last_attempt_at: None,
        last_status: None,
        last_error: None,
    };
    crate::session::still_alive(&state, &session.guard())?;
    state.store.save_webhook_endpoint(&endpoint)?;
    state.audit(
        Actor::User {
            id: session.user.id,
            ip,
        },
        Some(session.org.id),
        AuditAction::OrgWebhookCreate,
        Some(audited(&endpoint)),
        Outcome::Success,
    )?;
    Ok(Json(wire::CreateWebhookResponse {
        endpoint: crate::webhooks::view(&endpoint),
        secret: secret.into(),
    }))
}

/// `DELETE /api/org/webhooks/{id}`: the endpoint and its deliveries are removed.
#[utoipa::path(
    delete,
    path = "/api/org/webhooks/{id}",
    operation_id = "webhooks_delete",
    tag = "webhooks",
    security(("session" = [])),
    params(("id" = shared::ids::Id, Path, description = "the endpoint's id")),
    responses(
        (status = 204, description = "removed"),
        super::openapi::Errors
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    session: Session,
    ApiPath(id): ApiPath<Id>,
) -> Result<StatusCode, AppError> {
    authorize(
        &session.principal(),
        Permission::ManageWebhooks,
        session.org.id,
    )?;
    let Some(endpoint) = state
        .store
        .webhook_endpoint(id)?
        .filter(|endpoint| endpoint.org == session.org.id)
    else {
        return Err(AppError::NotFound);
    };
    state.store.delete_webhook_endpoint(session.org.id, id)?;
    state.audit(
        Actor::User {
            id: session.user.id,
            ip,
        },
        Some(session.org.id),
        AuditAction::OrgWebhookDelete,
        Some(audited(&endpoint)),
        Outcome::Success,
    )?;
    Ok(StatusCode::NO_CONTENT)
}

/// What the audit log names an endpoint by: its id and host, never its path or query (which
/// may carry the receiver's own token).
fn audited(endpoint: &WebhookEndpoint) -> String {
    let host = reqwest::Url::parse(&endpoint.url)
        .ok()
        .and_then(|url| url.host_str().map(str::to_owned))
        .unwrap_or_default();
    format!("{} ({host})", endpoint.id)
}

/// `GET /api/org/webhooks/{id}/deliveries`: the endpoint's newest deliveries.
#[utoipa::path(
    get,
    path = "/api/org/webhooks/{id}/deliveries",
    operation_id = "webhooks_deliveries",
    tag = "webhooks",
    security(("session" = [])),
    params(("id" = shared::ids::Id, Path, description = "the endpoint's id")),
    responses(
        (status = 200, description = "the answer", body = Vec<wire::WebhookDeliveryView>),
        super::openapi::Errors
    )
)]
pub async fn deliveries(
    State(state): State<AppState>,
    session: Session,
    ApiPath(id): ApiPath<Id>,
) -> Result<Json<Vec<wire::WebhookDeliveryView>>, AppError> {
    authorize(
        &session.principal(),
        Permission::ManageWebhooks,
        session.org.id,
    )?;
    if state
        .store
        .webhook_endpoint(id)?
        .is_none_or(|endpoint| endpoint.org != session.org.id)
    {
        return Err(AppError::NotFound);
    }
    let deliveries = state.store.webhook_deliveries_of(id)?;
    Ok(Json(
        deliveries
            .iter()
            .take(LISTED_DELIVERIES)
            .map(crate::webhooks::delivery_view)
            .collect(),
    ))
}

/// `POST /api/org/webhooks/{id}/deliveries/{delivery}/replay`: tries the delivery again from
/// its first attempt, with the same body (and a fresh signature).
#[utoipa::path(
    post,
    path = "/api/org/webhooks/{id}/deliveries/{delivery}/replay",
    operation_id = "webhooks_replay",
    tag = "webhooks",
    security(("session" = [])),
    params(
        ("id" = shared::ids::Id, Path, description = "the endpoint's id"),
        ("delivery" = shared::ids::Id, Path, description = "the delivery's id")
    ),
    responses(
        (status = 200, description = "queued again", body = wire::WebhookDeliveryView),
        super::openapi::Errors
    )
)]
pub async fn replay(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    session: Session,
    ApiPath((id, delivery)): ApiPath<(Id, Id)>,
) -> Result<Json<wire::WebhookDeliveryView>, AppError> {
    authorize(
        &session.principal(),
        Permission::ManageWebhooks,
        session.org.id,
    )?;
    let now = state.clock.now();
    let replayed = crate::webhooks::replay(&state.store, session.org.id, id, delivery, now)?
        .ok_or(AppError::NotFound)?;
    state.audit(
        Actor::User {
            id: session.user.id,
            ip,
        },
        Some(session.org.id),
        AuditAction::OrgWebhookReplay,
        Some(delivery.to_string()),
        Outcome::Success,
    )?;
    Ok(Json(crate::webhooks::delivery_view(&replayed)))
}
