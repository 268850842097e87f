//! The sender's side of Secure Send (PRODUCT.md flow 1): reserve a bundle, upload its sealed
//! chunks one by one (each checked against the chunk schedule its declared size implies),
//! finalize it atomically with the link guard and sealed manifest, list what one sent, and
//! revoke what nobody opened yet. The relay never receives a name, a plaintext, the link
//! secret or the OTP: only sizes, ciphertext and the guard.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use shared::ids::Id;
use shared::wire;

use super::json::{ApiJson, ApiPath};
use crate::audit::{AuditAction, Outcome};
use crate::authz::{Made, Permission, authorize, authorize_made};
use crate::client_ip::ClientIp;
use crate::error::AppError;
use crate::identity::Caller;
use crate::state::AppState;
use crate::store::{LinkKeys, LinkOtp, SendRecord, SendState};

/// `POST /api/sends`: checks the request against the limits and the organisation's quota and
/// reserves the bundle; the answer's id is also the link id.
#[utoipa::path(
    post,
    path = "/api/sends",
    operation_id = "sends_create",
    tag = "sends",
    security(("session" = []), ("api_key" = [])),
    request_body = wire::CreateSendRequest,
    responses(
        (status = 200, description = "the answer", body = wire::CreateSendResponse),
        super::openapi::Errors
    )
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<wire::CreateSendRequest>,
) -> Result<Json<wire::CreateSendResponse>, AppError> {
    authorize(&caller.principal(), Permission::Send, caller.org().id)?;
    let recipient_email =
        crate::accounts::optional_email(request.recipient_email.as_deref(), "the recipient's")?;
    let record = crate::sends::create(
        &state.store,
        state.clock.now(),
        &state.config.sends,
        crate::sends::Sender {
            org: caller.org().id,
            user: caller.maker(),
            max_expiry_days: caller.org().policy.max_expiry_days,
        },
        request,
        recipient_email,
    )
    .await?;
    Ok(Json(wire::CreateSendResponse {
        id: record.id,
        expires_at: record.expires_at,
    }))
}

/// `PUT /api/sends/{id}/files/{file}/chunks/{chunk}`: one sealed chunk as
/// `application/octet-stream`, exactly as long as the schedule says. Uploading a chunk again
/// replaces it (a retried request is harmless).
#[utoipa::path(
    put,
    path = "/api/sends/{id}/files/{file}/chunks/{chunk}",
    operation_id = "sends_put_chunk",
    tag = "sends",
    security(("session" = []), ("api_key" = [])),
    params(("id" = shared::ids::Id, Path, description = "the object's id"), ("file" = u32, Path, description = "the file's index in its bundle"), ("chunk" = u32, Path, description = "the chunk's index in its file")),
    request_body(content = shared::openapi::Binary, content_type = "application/octet-stream", description = "one sealed chunk, exactly as long as the chunk schedule says"),
    responses(
        (status = 204, description = "done"),
        super::openapi::Errors
    )
)]
pub async fn put_chunk(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, file, chunk)): ApiPath<(Id, u32, u32)>,
    request: Request,
) -> Result<StatusCode, AppError> {
    let send = owned_send(&state, &caller, id, Permission::Send)?;
    if send.state != SendState::Uploading {
        return Err(AppError::Conflict(
            "this send is already finalized or ended; its chunks cannot change".to_owned(),
        ));
    }
    let expected = super::chunks::sealed_len(&send.files, file, chunk)?;
    let body = super::chunks::read_chunk(request, expected, file, chunk).await?;
    // A bundle that ended while the chunk was arriving keeps nothing of it (its folder may
    // even be gone, failing the write): that answer comes before the write's own error.
    let stored = state.store.put_chunk(id, file, chunk, body).await;
    let live = state
        .store
        .send(id)?
        .is_some_and(|send| matches!(send.state, SendState::Uploading | SendState::Ready));
    super::chunks::discard_if_ended(&state, id, live).await?;
    stored?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/sends/{id}/chunks`: the chunks of a send still uploading that the relay holds
/// whole, for its sender to resume an interrupted upload.
#[utoipa::path(
    get,
    path = "/api/sends/{id}/chunks",
    operation_id = "sends_stored_chunks",
    tag = "sends",
    security(("session" = []), ("api_key" = [])),
    params(("id" = shared::ids::Id, Path, description = "the object's id")),
    responses(
        (status = 200, description = "the answer", body = wire::StoredChunks),
        super::openapi::Errors
    )
)]
pub async fn stored_chunks(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Id>,
) -> Result<Json<wire::StoredChunks>, AppError> {
    let send = owned_send(&state, &caller, id, Permission::Send)?;
    if send.state != SendState::Uploading {
        return Err(AppError::Conflict(
            "this send is already finalized or ended; there is nothing to resume".to_owned(),
        ));
    }
    let files = super::chunks::stored(&state, id, &send.files).await?;
    Ok(Json(wire::StoredChunks { files }))
}

/// `POST /api/sends/{id}/finalize`: once every chunk is stored, attaches the link guard and
/// the sealed manifest and makes the link openable, in one write.
#[utoipa::path(
    post,
    path = "/api/sends/{id}/finalize",
    operation_id = "sends_finalize",
    tag = "sends",
    security(("session" = []), ("api_key" = [])),
    params(("id" = shared::ids::Id, Path, description = "the object's id")),
    request_body = wire::FinalizeSendRequest,
    responses(
        (status = 200, description = "the answer", body = wire::SendView),
        super::openapi::Errors
    )
)]
pub async fn finalize(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    caller: Caller,
    ApiPath(id): ApiPath<Id>,
    ApiJson(request): ApiJson<wire::FinalizeSendRequest>,
) -> Result<Json<wire::SendView>, AppError> {
    let send = owned_send(&state, &caller, id, Permission::Send)?;
    request
        .guard
        .kdf
        .check_client_floor()
        .map_err(|error| AppError::Invalid(error.to_string()))?;
    if request.guard.wrapped_key.len() != 12 + 32 + 16 {
        return Err(AppError::Invalid(
            "the wrapped key must be 60 bytes (nonce, key, tag)".to_owned(),
        ));
    }
    if request.manifest.len() < 12 + 16 {
        return Err(AppError::Invalid(
            "the sealed manifest is too short".to_owned(),
        ));
    }
    let _claim = state
        .store
        .claim_finalize(id)
        .ok_or_else(already_finalized)?;
    if state
        .store
        .send(id)?
        .is_none_or(|send| send.state != SendState::Uploading)
    {
        return Err(already_finalized());
    }
    super::chunks::all_stored(&state, id, &send.files).await?;
    // The key material goes into the bundle folder (durably) before the link can open.
    let guard = &request.guard;
    state
        .store
        .put_link_keys(
            id,
            &LinkKeys {
                verifier: guard.verifier,
                wrapped_key: guard.wrapped_key.clone(),
                manifest: request.manifest.clone(),
            },
            *guard.receipt_key.dangerously_expose(),
        )
        .await?;
    let now = state.clock.now();
    let otp = LinkOtp {
        otp_salt: guard.otp_salt,
        kdf: guard.kdf,
    };
    let (finalized, send) = state
        .store
        .update_send(id, |send| {
            if send.state != SendState::Uploading || now >= send.expires_at {
                return false;
            }
            send.state = SendState::Ready;
            send.otp = Some(otp);
            true
        })?
        .ok_or(AppError::NotFound)?;
    if !finalized {
        // Ended meanwhile (revoked, expired): its folder must not keep the keys just written.
        if !matches!(send.state, SendState::Uploading | SendState::Ready) {
            super::chunks::destroy_files(&state, id).await?;
        }
        return Err(already_finalized());
    }
    state.audit(
        caller.actor(ip),
        Some(send.org),
        AuditAction::SendCreate,
        Some(send.id.to_string()),
        Outcome::Success,
    )?;
    Ok(Json(view(&state, &send)?))
}

/// `GET /api/sends`: what the caller (a user, or an API key) sent, newest first.
#[utoipa::path(
    get,
    path = "/api/sends",
    operation_id = "sends_list",
    tag = "sends",
    security(("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "the answer", body = Vec<wire::SendView>),
        super::openapi::Errors
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<wire::SendView>>, AppError> {
    authorize(&caller.principal(), Permission::TrackSends, caller.org().id)?;
    let sends = state.store.sends_of_user(caller.maker())?;
    let views = sends
        .iter()
        .map(|send| view(&state, send))
        .collect::<Result<_, _>>()?;
    Ok(Json(views))
}

/// `POST /api/sends/{id}/revoke`: ends a link nobody opened yet; its wrapped key, manifest and
/// ciphertext are deleted.
#[utoipa::path(
    post,
    path = "/api/sends/{id}/revoke",
    operation_id = "sends_revoke",
    tag = "sends",
    security(("session" = []), ("api_key" = [])),
    params(("id" = shared::ids::Id, Path, description = "the object's id")),
    responses(
        (status = 200, description = "the answer", body = wire::SendView),
        super::openapi::Errors
    )
)]
pub async fn revoke(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    caller: Caller,
    ApiPath(id): ApiPath<Id>,
) -> Result<Json<wire::SendView>, AppError> {
    owned_send(&state, &caller, id, Permission::WithdrawSend)?;
    let now = state.clock.now();
    let (revoked, send) = state
        .store
        .update_send(id, |send| {
            let live = matches!(send.state, SendState::Uploading | SendState::Ready);
            if !live || send.opens > 0 {
                return false;
            }
            send.end(SendState::Revoked, now);
            true
        })?
        .ok_or(AppError::NotFound)?;
    if !revoked {
        return Err(AppError::Conflict(
            "only a link nobody has opened yet can be revoked".to_owned(),
        ));
    }
    super::chunks::destroy_files(&state, id).await?;
    state.audit(
        caller.actor(ip),
        Some(send.org),
        AuditAction::SendRevoke,
        Some(send.id.to_string()),
        Outcome::Success,
    )?;
    Ok(Json(view(&state, &send)?))
}

fn already_finalized() -> AppError {
    AppError::Conflict(
        "this send is already finalized (or being finalized), or it ended".to_owned(),
    )
}

/// The sender's view of a send, with its invoice.
pub fn view(state: &AppState, send: &SendRecord) -> Result<wire::SendView, AppError> {
    let invoice = match send.paywall {
        Some(paywall) => state
            .store
            .invoice(paywall.invoice)?
            .map(|invoice| super::payments::view(state, &invoice))
            .transpose()?,
        None => None,
    };
    Ok(wire::SendView {
        id: send.id,
        status: send.status(),
        created_at: send.created_at,
        expires_at: send.expires_at,
        max_opens: send.max_opens,
        opens: send.opens,
        attempts: send.attempts,
        max_attempts: send.max_attempts,
        files: u32::try_from(send.files.len()).unwrap_or(u32::MAX),
        size: send.files.iter().sum(),
        recipient_email: send.recipient_email.clone(),
        opened_at: send.opened_at,
        delivered_at: send.delivered_at,
        invoice,
    })
}

/// The send, if the caller may act on it with `permission` (the one object check).
fn owned_send(
    state: &AppState,
    caller: &Caller,
    id: Id,
    permission: Permission,
) -> Result<SendRecord, AppError> {
    let send = state.store.send(id)?.ok_or(AppError::NotFound)?;
    authorize_made(
        &caller.principal(),
        permission,
        Made {
            org: send.org,
            by: send.sender,
        },
    )?;
    Ok(send)
}
