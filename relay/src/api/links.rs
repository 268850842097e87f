//! The recipient's side of Secure Send (PROTOCOL.md "Links", "Delivery receipts"), for anyone
//! holding a link: its public facts, the opening (one atomic step that refuses expired,
//! destroyed, revoked, used-up links, compares the proof's hash in constant time, counts wrong
//! tries toward destruction and toward the IP block, and on success spends one open and hands
//! out the wrapped key, the sealed manifest and a short-lived download token), chunk downloads
//! with that token, and the delivery receipt. Expiry is enforced on every access here and by
//! the periodic sweep.

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::Response;
use rand_core::RngCore as _;
use shared::crypto::ReceiptKey;
use shared::ids::Id;
use shared::wire::{self, InvoiceStatus, OrgStatus};

use super::json::{ApiJson, ApiPath};
use crate::audit::{Actor, AuditAction, Outcome};
use crate::client_ip::ClientIp;
use crate::error::AppError;
use crate::guard::{Guard, Refusal};
use crate::links::{LinkRefusal, Opening, decide_opening, payment_refusal};
use crate::state::AppState;
use crate::store::{DownloadToken, SendRecord, SendState};
use crate::tokens::Presented;

/// `GET /api/links/{id}`: who sends, until when, how many opens and tries are left, and the
/// OTP salt and parameters the browser needs to compute the proof.
#[utoipa::path(
    get,
    path = "/api/links/{id}",
    operation_id = "links_info",
    tag = "links",
    security(()),
    params(("id" = shared::ids::Id, Path, description = "the object's id")),
    responses(
        (status = 200, description = "the answer", body = wire::LinkInfo),
        super::openapi::Errors
    )
)]
pub async fn info(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Id>,
) -> Result<axum::Json<wire::LinkInfo>, AppError> {
    let send = live_send(&state, id).await?;
    let org = crate::links::openable_org(&state.store, &send)??;
    if send.used_up() {
        return Err(LinkRefusal::UsedUp.into());
    }
    let otp = send.otp.ok_or(AppError::from(LinkRefusal::Deleted))?;
    let invoice = match invoice_of(&state, &send)? {
        Some(invoice) => Some(super::payments::view(&state, &invoice)?),
        None => None,
    };
    Ok(axum::Json(wire::LinkInfo {
        id: send.id,
        organisation: org.name,
        organisation_handle: org.handle,
        organisation_verified: org.status == OrgStatus::Verified,
        expires_at: send.expires_at,
        opens_left: send.max_opens.saturating_sub(send.opens),
        attempts_left: send.max_attempts.saturating_sub(send.attempts),
        files: u32::try_from(send.files.len()).unwrap_or(u32::MAX),
        size: send.files.iter().sum(),
        otp_salt: otp.otp_salt,
        kdf: otp.kdf,
        invoice,
        card_payments: state.stripe.is_some(),
    }))
}

/// `POST /api/links/{id}/open`.
#[utoipa::path(
    post,
    path = "/api/links/{id}/open",
    operation_id = "links_open",
    tag = "links",
    security(()),
    params(("id" = shared::ids::Id, Path, description = "the object's id")),
    request_body = wire::OpenLinkRequest,
    responses(
        (status = 200, description = "the answer", body = wire::OpenLinkResponse),
        super::openapi::Errors
    )
)]
pub async fn open(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<Id>,
    ApiJson(request): ApiJson<wire::OpenLinkRequest>,
) -> Result<axum::Json<wire::OpenLinkResponse>, AppError> {
    let now = state.clock.now();
    let guard = Guard {
        store: &state.store,
        config: &state.config.brute_force,
    };
    if let Err(
        Refusal::IpBlocked { until }
        | Refusal::AccountThrottled {
            wait_seconds: until,
        },
    ) = guard.check_ip(ip.as_deref(), now)?
    {
        guard.record_failure(ip.as_deref(), now)?;
        return Err(AppError::IpBlocked {
            hours: (until - now + 3599).div_euclid(3600),
        });
    }
    let send = live_send(&state, id).await?;
    crate::links::openable_org(&state.store, &send)??;
    // The words for a locked paywall; whether it is locked is decided in the atomic step.
    let locked = match invoice_of(&state, &send)? {
        Some(invoice) => payment_refusal(invoice.status),
        None => payment_refusal(InvoiceStatus::Open),
    };
    // Read before the opening is decided: an open is spent only with the key in hand.
    let keys = state.store.link_keys(id).await?;

    let token = crate::tokens::mint();
    let mut receipt_nonce = [0_u8; 16];
    shared::crypto::OsRng.fill_bytes(&mut receipt_nonce);
    let token_expires_at = now + i64::from(state.config.sends.download_token_minutes) * 60;
    let issued = DownloadToken {
        hash: token.hash,
        expires_at: token_expires_at.min(send.expires_at),
        receipt_nonce,
        receipted: false,
    };

    let (opening, send) = state
        .store
        .update_send(id, |send| {
            decide_opening(
                send,
                now,
                keys.as_ref(),
                request.proof.dangerously_expose(),
                &issued,
            )
        })?
        .ok_or(AppError::NotFound)?;

    let actor = Actor::Anonymous { ip: ip.clone() };
    let target = Some(id.to_string());
    match opening {
        Opening::Opened => {
            let Some(keys) = keys else {
                return Err(LinkRefusal::Deleted.into());
            };
            // The open is spent only together with an answer that carries the key: if it
            // cannot be audited and made durable, it is given back and nothing is released.
            let recorded = state.audit(
                actor,
                Some(send.org),
                AuditAction::SendOpen,
                target,
                Outcome::Success,
            );
            let committed = match recorded {
                Ok(()) => state
                    .store
                    .commit()
                    .await
                    .map_err(crate::commit::unacknowledged),
                Err(error) => Err(error),
            };
            if let Err(error) = committed {
                crate::links::refund_open(&state.store, id, &issued)?;
                return Err(error);
            }
            if !send.keeps_keys() {
                // The last open: the verifier, wrapped key and manifest go now (this answer
                // carries them); chunks and the receipt key stay until the downloads end.
                if let Err(error) = state.store.delete_keys(id).await {
                    tracing::error!(
                        error = format!("{error:#}"),
                        "a used-up link's keys could not be deleted; the sweep will retry"
                    );
                }
            }
            Ok(axum::Json(wire::OpenLinkResponse {
                wrapped_key: keys.wrapped_key,
                manifest: keys.manifest,
                download_token: token.text,
                token_expires_at: issued.expires_at,
                receipt_nonce,
            }))
        }
        Opening::Wrong { attempts_left } => {
            guard.record_failure(ip.as_deref(), now)?;
            state.audit(
                actor,
                Some(send.org),
                AuditAction::SendOpen,
                target,
                Outcome::Failure,
            )?;
            Err(AppError::WrongOtp { attempts_left })
        }
        Opening::DestroyedNow => {
            guard.record_failure(ip.as_deref(), now)?;
            state.audit(
                actor.clone(),
                Some(send.org),
                AuditAction::SendOpen,
                target.clone(),
                Outcome::Failure,
            )?;
            state.audit(
                actor,
                Some(send.org),
                AuditAction::SendDestroy,
                target,
                Outcome::Success,
            )?;
            super::chunks::destroy_files(&state, id).await?;
            Err(LinkRefusal::DestroyedNow.into())
        }
        Opening::Locked => Err(locked.into()),
        Opening::Refused(refusal) => Err(refusal.into()),
    }
}

/// `GET /api/links/{id}/files/{file}/chunks/{chunk}` with `Authorization: Bearer <token>`:
/// one sealed chunk, never cached.
#[utoipa::path(
    get,
    path = "/api/links/{id}/files/{file}/chunks/{chunk}",
    operation_id = "links_chunk",
    tag = "links",
    security(("download_token" = [])),
    params(("id" = shared::ids::Id, Path, description = "the object's id"), ("file" = u32, Path, description = "the file's index in its bundle"), ("chunk" = u32, Path, description = "the chunk's index in its file")),
    responses(
        (status = 200, description = "one sealed chunk", content_type = "application/octet-stream", body = shared::openapi::Binary),
        super::openapi::Errors
    )
)]
pub async fn chunk(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath((id, file, chunk)): ApiPath<(Id, u32, u32)>,
) -> Result<Response, AppError> {
    let send = live_send(&state, id).await?;
    crate::links::refuse_unless_downloadable(&send)?;
    authorize_token(&send, &headers, state.clock.now())?;
    super::chunks::sealed_len(&send.files, file, chunk)?;
    let bytes = state
        .store
        .chunk(id, file, chunk)
        .await?
        .ok_or(AppError::from(LinkRefusal::Deleted))?;
    Ok(super::chunks::answer(bytes))
}

/// `POST /api/links/{id}/receipt`: the recipient's proof of decryption. Records "delivered"
/// and, once every open is spent and receipted, deletes the ciphertext at once.
#[utoipa::path(
    post,
    path = "/api/links/{id}/receipt",
    operation_id = "links_receipt",
    tag = "links",
    security(()),
    params(("id" = shared::ids::Id, Path, description = "the object's id")),
    request_body = wire::ReceiptRequest,
    responses(
        (status = 204, description = "done"),
        super::openapi::Errors
    )
)]
pub async fn receipt(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<Id>,
    ApiJson(request): ApiJson<wire::ReceiptRequest>,
) -> Result<axum::http::StatusCode, AppError> {
    let now = state.clock.now();
    let send = live_send(&state, id).await?;
    crate::links::refuse_unless_downloadable(&send)?;
    let receipt_key = state
        .store
        .receipt_key(id)
        .await?
        .ok_or(AppError::from(LinkRefusal::Deleted))?;
    let presented = Presented::new(request.download_token.dangerously_expose());
    let token = send
        .tokens
        .iter()
        .find(|token| presented.matches(&token.hash))
        .ok_or(AppError::Unauthenticated(
            "this download token is not valid for this link",
        ))?;
    let receipt_key = ReceiptKey::dangerously_from_bytes(receipt_key);
    if !receipt_key.verify_receipt(&id, &token.receipt_nonce, &request.receipt) {
        state.audit(
            Actor::Anonymous { ip },
            Some(send.org),
            AuditAction::SendReceipt,
            Some(id.to_string()),
            Outcome::Failure,
        )?;
        return Err(AppError::Forbidden(
            "the delivery receipt does not verify".to_owned(),
        ));
    }
    let (purge, send) = state
        .store
        .update_send(id, |send| {
            if let Some(token) = send
                .tokens
                .iter_mut()
                .find(|token| presented.matches(&token.hash))
            {
                token.receipted = true;
            }
            send.delivered_at.get_or_insert(now);
            let finished = send.used_up() && send.tokens.iter().all(|token| token.receipted);
            if finished && !send.ciphertext_deleted {
                send.wipe();
                return true;
            }
            false
        })?
        .ok_or(AppError::NotFound)?;
    state.audit(
        Actor::Anonymous { ip },
        Some(send.org),
        AuditAction::SendReceipt,
        Some(id.to_string()),
        Outcome::Success,
    )?;
    if purge {
        super::chunks::destroy_files(&state, id).await?;
    }
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// The send behind a link, after enforcing its expiry (an expired link is ended, its key and
/// ciphertext deleted, and audited, by whichever access notices first). Unfinished uploads do
/// not exist for recipients.
async fn live_send(state: &AppState, id: Id) -> Result<SendRecord, AppError> {
    let now = state.clock.now();
    let mut send = state.store.send(id)?.ok_or(AppError::NotFound)?;
    // Heal a paywall mirror left behind by a crash between an invoice change and its sync.
    if crate::invoices::heal_mirror(&state.store, send.paywall)? {
        send = state.store.send(id)?.ok_or(AppError::NotFound)?;
    }
    if send.state == SendState::Uploading {
        // Not a link yet; the sweep removes it once it expires or is abandoned.
        return Err(AppError::NotFound);
    }
    if !crate::bundles::send_is_due(&send, now) {
        return Ok(send);
    }
    let (expired_now, send) =
        crate::bundles::expire_send(&state.store, id, now)?.ok_or(AppError::NotFound)?;
    if expired_now {
        expire_audit(state, &send).await?;
    }
    Ok(send)
}

/// Records an expired send's expiry and deletes its bundle folder.
async fn expire_audit(state: &AppState, send: &SendRecord) -> Result<(), AppError> {
    state.audit(
        Actor::Operator,
        Some(send.org),
        AuditAction::SendExpire,
        Some(send.id.to_string()),
        Outcome::Success,
    )?;
    super::chunks::destroy_files(state, send.id).await
}

/// The invoice behind a paywalled send.
fn invoice_of(
    state: &AppState,
    send: &SendRecord,
) -> Result<Option<crate::store::InvoiceRecord>, AppError> {
    match send.paywall {
        Some(paywall) => Ok(state.store.invoice(paywall.invoice)?),
        None => Ok(None),
    }
}

/// Checks the bearer token against the send's live tokens (constant time per token).
fn authorize_token(send: &SendRecord, headers: &HeaderMap, now: i64) -> Result<(), AppError> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(Presented::new)
        .ok_or(AppError::Unauthenticated(
            "downloads need the token from opening the link",
        ))?;
    if !crate::links::token_is_live(send, &presented, now) {
        return Err(AppError::Unauthenticated(
            "this download token is wrong or expired; open the link again if it allows another open",
        ));
    }
    Ok(())
}
