//! The second factor (TOTP, RFC 6238): enrolment (a secret for the authenticator app, confirmed
//! with a first code, then ten single-use recovery codes shown once and stored hashed), the
//! second step of log-in (a short-lived ticket redeemed with a code; a code is never accepted
//! twice; wrong codes count as failed log-ins). The ticket is issued by log-in (`auth`); an
//! admin's reset of a member's factor is a member change (`members`).

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use rand_core::RngCore as _;
use sha2::{Digest, Sha256};
use shared::crypto::OsRng;
use shared::wire;

use super::auth::complete_login;
use super::json::ApiJson;
use crate::audit::{Actor, AuditAction, Outcome};
use crate::authz::{Permission, authorize};
use crate::client_ip::ClientIp;
use crate::error::AppError;
use crate::guard::{self, Guard};
use crate::session::Session;
use crate::state::AppState;
use crate::store::{MfaState, Updated};
use crate::totp;

/// A login ticket is good for five minutes and five codes.
const TICKET_SECONDS: i64 = 300;
const TICKET_ATTEMPTS: u32 = 5;
const RECOVERY_CODES: usize = 10;

/// `POST /api/auth/mfa/verify`: the second step of log-in. The ticket's tries and the code's
/// time step are each spent in one atomic step, so parallel guesses are each counted and a
/// code is never accepted twice.
#[utoipa::path(
    post,
    path = "/api/auth/mfa/verify",
    operation_id = "mfa_verify",
    tag = "accounts",
    security(()),
    request_body = wire::MfaVerifyRequest,
    responses(
        (status = 200, description = "logged in; a session cookie is set", body = wire::LoginResponse),
        super::openapi::Errors
    )
)]
pub async fn verify(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(request): ApiJson<wire::MfaVerifyRequest>,
) -> Result<Response, AppError> {
    let expired =
        || AppError::Unauthenticated("this log-in has expired; enter your password again");
    let ticket_hash =
        crate::tokens::hash_of(request.ticket.dangerously_expose()).ok_or_else(expired)?;
    let ticket = state.store.mfa_ticket(&ticket_hash)?.ok_or_else(expired)?;
    let now = state.clock.now();
    if now - ticket.created_at >= TICKET_SECONDS || ticket.attempts >= TICKET_ATTEMPTS {
        state.store.delete_mfa_ticket(&ticket_hash)?;
        return Err(expired());
    }
    let user = state.store.user(ticket.user)?.ok_or_else(expired)?;
    let guard = Guard {
        store: &state.store,
        config: &state.config.brute_force,
    };
    let account = guard::account_key(state.store.server_secret(), &user.email);
    let attempt = match guard.begin(ip.as_deref(), Some(&account), now)? {
        Ok(attempt) => attempt,
        Err(refusal) => return Err(super::auth::refused(refusal, now)),
    };
    let counted = state.store.update_mfa_ticket(&ticket_hash, |ticket| {
        if ticket.attempts >= TICKET_ATTEMPTS {
            return false;
        }
        ticket.attempts += 1;
        true
    })?;
    if !matches!(counted, Updated::Done { outcome: true, .. }) {
        guard.cancelled(attempt)?;
        state.store.delete_mfa_ticket(&ticket_hash)?;
        return Err(expired());
    }
    let code = request.code.dangerously_expose();
    let accepted = state.store.update_user(user.id, None, false, |user| {
        if user.server_salt != ticket.credential {
            return None;
        }
        let mfa = user.mfa.as_mut()?;
        if let Some(step) = totp::verify(&mfa.secret, code, now, Some(mfa.last_step)) {
            mfa.last_step = step;
            return Some("totp");
        }
        let hash = recovery_hash(code);
        let before = mfa.recovery_hashes.len();
        mfa.recovery_hashes.retain(|stored| *stored != hash);
        (mfa.recovery_hashes.len() < before).then_some("recovery code")
    })?;
    let (method, user) = match accepted {
        Updated::Done {
            outcome: Some(method),
            record,
        } => (method, record),
        Updated::Done { outcome: None, .. } => {
            state.audit(
                Actor::User { id: user.id, ip },
                Some(user.org),
                AuditAction::AuthMfa,
                None,
                Outcome::Failure,
            )?;
            return Err(AppError::WrongCode);
        }
        Updated::Missing | Updated::SessionEnded => {
            guard.cancelled(attempt)?;
            return Err(expired());
        }
    };
    // A ticket is redeemed once, even when two right codes race (the other's attempt was
    // right, so it does not count as a failure).
    if !state.store.delete_mfa_ticket(&ticket_hash)? {
        guard.cancelled(attempt)?;
        return Err(expired());
    }
    guard.succeeded(attempt)?;
    state.audit(
        Actor::User {
            id: user.id,
            ip: ip.clone(),
        },
        Some(user.org),
        AuditAction::AuthMfa,
        Some(method.to_owned()),
        Outcome::Success,
    )?;
    complete_login(&state, &user, ip, now, &ticket.credential)
}

/// `POST /api/auth/mfa/setup`: a fresh secret for the authenticator app (replacing any
/// unconfirmed one).
#[utoipa::path(
    post,
    path = "/api/auth/mfa/setup",
    operation_id = "mfa_setup",
    tag = "accounts",
    security(("session" = [])),
    responses(
        (status = 200, description = "the answer", body = wire::MfaSetupResponse),
        super::openapi::Errors
    )
)]
pub async fn setup(
    State(state): State<AppState>,
    session: Session,
) -> Result<Json<wire::MfaSetupResponse>, AppError> {
    authorize(
        &session.principal(),
        Permission::ManageOwnAccount,
        session.org.id,
    )?;
    let mut secret = vec![0_u8; totp::SECRET_LEN];
    OsRng.fill_bytes(&mut secret);
    let updated =
        state
            .store
            .update_user(session.user.id, Some(&session.guard()), false, |user| {
                if user.mfa.is_some() {
                    return false;
                }
                user.mfa_pending = Some(secret.clone());
                true
            })?;
    match updated {
        Updated::Done { outcome: true, .. } => {}
        Updated::Done { outcome: false, .. } => {
            return Err(AppError::Conflict(
                "a second factor is already set up".to_owned(),
            ));
        }
        Updated::Missing | Updated::SessionEnded => return Err(AppError::session_ended()),
    }
    Ok(Json(wire::MfaSetupResponse {
        secret: totp::base32(&secret).into(),
        otpauth_uri: totp::otpauth_uri("Sealpost", &session.user.email, &secret).into(),
    }))
}

/// Why a confirmation did not take.
enum Confirmation {
    Enabled,
    NotStarted,
    WrongCode,
}

/// `POST /api/auth/mfa/confirm`: the first code proves the app holds the secret; answers the
/// recovery codes, once. Checked against the pending secret as stored now, not as it was when
/// the request began.
#[utoipa::path(
    post,
    path = "/api/auth/mfa/confirm",
    operation_id = "mfa_confirm",
    tag = "accounts",
    security(("session" = [])),
    request_body = wire::MfaConfirmRequest,
    responses(
        (status = 200, description = "the answer", body = wire::MfaConfirmResponse),
        super::openapi::Errors
    )
)]
pub async fn confirm(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    session: Session,
    ApiJson(request): ApiJson<wire::MfaConfirmRequest>,
) -> Result<Json<wire::MfaConfirmResponse>, AppError> {
    authorize(
        &session.principal(),
        Permission::ManageOwnAccount,
        session.org.id,
    )?;
    let now = state.clock.now();
    let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| recovery_code()).collect();
    let hashes: Vec<String> = codes.iter().map(|code| recovery_hash(code)).collect();
    let code = request.code.dangerously_expose();
    let updated =
        state
            .store
            .update_user(session.user.id, Some(&session.guard()), false, |user| {
                let Some(secret) = user.mfa_pending.clone() else {
                    return Confirmation::NotStarted;
                };
                let Some(step) = totp::verify(&secret, code, now, None) else {
                    return Confirmation::WrongCode;
                };
                user.mfa = Some(MfaState {
                    secret,
                    last_step: step,
                    recovery_hashes: hashes.clone(),
                    enabled_at: now,
                });
                user.mfa_pending = None;
                Confirmation::Enabled
            })?;
    let user = &session.user;
    match updated {
        Updated::Done {
            outcome: Confirmation::Enabled,
            ..
        } => {}
        Updated::Done {
            outcome: Confirmation::NotStarted,
            ..
        } => return Err(AppError::Conflict("start the set-up first".to_owned())),
        Updated::Done {
            outcome: Confirmation::WrongCode,
            ..
        } => {
            state.audit(
                Actor::User { id: user.id, ip },
                Some(user.org),
                AuditAction::AuthMfaEnable,
                None,
                Outcome::Failure,
            )?;
            return Err(AppError::WrongCode);
        }
        Updated::Missing | Updated::SessionEnded => return Err(AppError::session_ended()),
    }
    state.audit(
        Actor::User { id: user.id, ip },
        Some(user.org),
        AuditAction::AuthMfaEnable,
        None,
        Outcome::Success,
    )?;
    Ok(Json(wire::MfaConfirmResponse {
        recovery_codes: codes.into_iter().map(Into::into).collect(),
    }))
}

/// `XXXX-XXXX-XXXX-XXXX` in base32 (80 random bits).
fn recovery_code() -> String {
    let mut bytes = [0_u8; 10];
    OsRng.fill_bytes(&mut bytes);
    let text = totp::base32(&bytes);
    text.as_bytes()
        .chunks(4)
        .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

/// SHA-256 (hex) of a recovery code, ignoring case, dashes and spaces.
fn recovery_hash(code: &str) -> String {
    let normal: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    Sha256::digest(normal.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
