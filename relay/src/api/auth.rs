//! Sign-up, prelogin, log-in, log-out and "who am I" (PROTOCOL.md "Accounts"). The relay never
//! sees a password: it stores `argon2id(auth_key, server salt)` and compares in constant time.
//! Prelogin answers a deterministic fake salt for unknown addresses, and a wrong address gets
//! the same answer, after the same work, as a wrong password.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rand_core::RngCore as _;
use shared::crypto::OsRng;
use shared::crypto::kdf::KdfParams;
use shared::ids::Id;
use shared::wire::{self, OrgStatus, Role};
use subtle::ConstantTimeEq as _;

use super::json::ApiJson;
use crate::accounts::normalize_email;
use crate::accounts::{
    SIGNUP_CONFIRM_HOURS, address_key, check_account_keys, checked_handle, checked_name,
    create_organisation, fake_salt, issue_ticket, join_organisation, new_organisation,
    signup_conflict, typed_address,
};
use crate::audit::{Actor, AuditAction, Outcome};
use crate::client_ip::ClientIp;
use crate::error::AppError;
use crate::guard::{self, Guard, Refusal};
use crate::session::{self, Session};
use crate::state::AppState;
use crate::store::{JoinConflict, PendingSignup, SignupConflict, Updated, UserRecord};

/// `POST /api/auth/prelogin`.
#[utoipa::path(
    post,
    path = "/api/auth/prelogin",
    operation_id = "auth_prelogin",
    tag = "accounts",
    security(()),
    request_body = wire::PreloginRequest,
    responses(
        (status = 200, description = "the answer", body = wire::PreloginResponse),
        super::openapi::Errors
    )
)]
pub async fn prelogin(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<wire::PreloginRequest>,
) -> Result<Json<wire::PreloginResponse>, AppError> {
    let email = normalize_email(&request.email)?;
    let response = match state.store.user_by_email(&email)? {
        Some(user) => wire::PreloginResponse {
            salt: user.salt,
            kdf: user.kdf,
        },
        None => wire::PreloginResponse {
            salt: fake_salt(state.store.server_secret(), &email),
            kdf: KdfParams::CLIENT_V1,
        },
    };
    Ok(Json(response))
}

/// `POST /api/auth/signup`: a new organisation (pending) and its owner, or a new member
/// joining with an invitation.
#[utoipa::path(
    post,
    path = "/api/auth/signup",
    operation_id = "auth_signup",
    tag = "accounts",
    security(()),
    request_body = wire::SignupRequest,
    responses(
        (status = 201, description = "the organisation and its owner exist; a session cookie is set", body = wire::SessionResponse),
        (status = 202, description = "with mail configured: a confirmation link was mailed (the same answer for every address)", body = wire::SignupPending),
        super::openapi::Errors
    )
)]
pub async fn signup(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(request): ApiJson<wire::SignupRequest>,
) -> Result<Response, AppError> {
    let email = normalize_email(&request.email)?;
    let name = checked_name(&request.name, "your name")?;
    let keys = &request.keys;
    check_account_keys(keys)?;
    // Everything that can be refused is refused before the hashing is spent.
    let handle = match (&request.organisation, &request.invite) {
        (Some(new_org), None) => {
            checked_name(&new_org.name, "the organisation's name")?;
            Some(checked_handle(&new_org.handle)?)
        }
        (None, Some(token)) => {
            let invalid = || AppError::Conflict(JoinConflict::InviteInvalid.to_string());
            let token_hash = crate::tokens::hash_of(token).ok_or_else(invalid)?;
            let invite = state.store.invite(&token_hash)?.ok_or_else(invalid)?;
            if invite.expires_at <= state.clock.now() {
                return Err(invalid());
            }
            None
        }
        _ => {
            return Err(AppError::Invalid(
                "sign up either with a new organisation or with an invitation".to_owned(),
            ));
        }
    };
    if let (Some(new_org), Some(mailer), Some(handle)) =
        (&request.organisation, &state.mailer, &handle)
    {
        return signup_by_mail(&state, mailer, new_org, handle, email, name, keys).await;
    }
    if let Some(conflict) = state.store.signup_conflict(handle.as_deref(), &email)? {
        return Err(signup_conflict(conflict).into());
    }
    let now = state.clock.now();
    let mut user = new_user(&state, email.clone(), name, keys, now).await?;
    let org = match (&request.organisation, &request.invite) {
        (Some(new_org), None) => create_organisation(&state.store, new_org, &mut user, now)?,
        (None, Some(token)) => join_organisation(&state.store, token, &mut user, now)?,
        _ => {
            return Err(AppError::Invalid(
                "sign up either with a new organisation or with an invitation".to_owned(),
            ));
        }
    };
    state.audit(
        Actor::User { id: user.id, ip },
        Some(org.id),
        if request.invite.is_some() {
            AuditAction::AuthJoin
        } else {
            AuditAction::AuthSignup
        },
        Some(email),
        Outcome::Success,
    )?;
    let (record, cookie) = session::start(&state, user.id, &user.server_salt)?;
    let body = session::session_response(&user, &org, &record.csrf_token, now);
    Ok((
        StatusCode::CREATED,
        [(header::SET_COOKIE, cookie)],
        Json(body),
    )
        .into_response())
}

/// A new organisation's sign-up on a relay that sends mail: nothing is created until the
/// address confirms it, and the answer (202) is the same whether the address was free (a
/// confirmation link is mailed) or already has an account (its holder is told instead), after
/// the same work, so the form cannot be used to learn who has an account. A taken handle is
/// refused at once: handles are public (`/p/<handle>`).
async fn signup_by_mail(
    state: &AppState,
    mailer: &crate::mail::Mailer,
    new_org: &wire::NewOrganisation,
    handle: &str,
    email: String,
    name: String,
    keys: &wire::AccountKeys,
) -> Result<Response, AppError> {
    if state.store.org_by_handle(handle)?.is_some() {
        return Err(signup_conflict(SignupConflict::HandleTaken).into());
    }
    let now = state.clock.now();
    let mut owner = new_user(state, email.clone(), name, keys, now).await?;
    let per_day = state.config.rate_limits.signup_mails_per_address_per_day;
    let may_mail =
        state
            .store
            .take_signup_mail(&address_key(&state.store, &email), now, per_day)?;
    let sent = if state.store.user_by_email(&email)?.is_some() {
        if may_mail {
            Some(mailer.send_signup_taken(&email).await)
        } else {
            None
        }
    } else {
        let org = new_organisation(new_org, now)?;
        owner.org = org.id;
        let token = crate::tokens::mint();
        let pending = PendingSignup {
            org,
            owner,
            expires_at: now + i64::from(SIGNUP_CONFIRM_HOURS) * 3600,
        };
        state.store.put_pending_signup(&token.hash, &pending)?;
        if may_mail {
            Some(
                mailer
                    .send_signup_confirmation(&email, token.text.dangerously_expose())
                    .await,
            )
        } else {
            None
        }
    };
    match sent {
        Some(Err(error)) => return Err(AppError::MailUnavailable(error)),
        Some(Ok(())) => {}
        None => tracing::info!("a sign-up mail was not sent: the address had its mails for today"),
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(wire::SignupPending {
            email,
            valid_hours: SIGNUP_CONFIRM_HOURS,
        }),
    )
        .into_response())
}

/// `POST /api/auth/signup/confirm`: the link mailed by `signup_by_mail` creates the
/// organisation and its owner; the owner then logs in with the password they chose.
#[utoipa::path(
    post,
    path = "/api/auth/signup/confirm",
    operation_id = "auth_confirm_signup",
    tag = "accounts",
    security(()),
    request_body = wire::SignupConfirmRequest,
    responses(
        (status = 200, description = "the answer", body = wire::SignupConfirmed),
        super::openapi::Errors
    )
)]
pub async fn confirm_signup(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(request): ApiJson<wire::SignupConfirmRequest>,
) -> Result<Json<wire::SignupConfirmed>, AppError> {
    let invalid = || {
        AppError::Conflict(
            "this confirmation link is not valid: it was used already, it expired (after 24 hours) \
             or it is incomplete; sign up again"
                .to_owned(),
        )
    };
    let token_hash =
        crate::tokens::hash_of(request.token.dangerously_expose()).ok_or_else(invalid)?;
    let pending = state
        .store
        .pending_signup(&token_hash)?
        .ok_or_else(invalid)?;
    if pending.expires_at <= state.clock.now() {
        state.store.remove_pending_signup(&token_hash)?;
        return Err(invalid());
    }
    let created = state
        .store
        .create_org_with_owner(&pending.org, &pending.owner)?;
    // Used or refused, a link works once.
    state.store.remove_pending_signup(&token_hash)?;
    if let Err(conflict) = created {
        return Err(match conflict {
            SignupConflict::EmailTaken => AppError::Conflict(
                "this address has an account already (this link was used?); log in".to_owned(),
            ),
            SignupConflict::HandleTaken => AppError::Conflict(
                "the organisation handle was taken while this link waited; sign up again with another"
                    .to_owned(),
            ),
        });
    }
    state.audit(
        Actor::User {
            id: pending.owner.id,
            ip,
        },
        Some(pending.org.id),
        AuditAction::AuthSignup,
        Some(pending.owner.email.clone()),
        Outcome::Success,
    )?;
    Ok(Json(wire::SignupConfirmed {
        email: pending.owner.email,
        organisation: pending.org.name,
    }))
}

/// `POST /api/auth/invite`: the organisation, address and role an invite token is for.
#[utoipa::path(
    post,
    path = "/api/auth/invite",
    operation_id = "auth_invite_lookup",
    tag = "accounts",
    security(()),
    request_body = wire::InviteLookupRequest,
    responses(
        (status = 200, description = "the answer", body = wire::InviteLookupResponse),
        super::openapi::Errors
    )
)]
pub async fn invite_lookup(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<wire::InviteLookupRequest>,
) -> Result<Json<wire::InviteLookupResponse>, AppError> {
    let invalid = || AppError::Conflict(JoinConflict::InviteInvalid.to_string());
    let token_hash =
        crate::tokens::hash_of(request.token.dangerously_expose()).ok_or_else(invalid)?;
    let invite = state.store.invite(&token_hash)?.ok_or_else(invalid)?;
    if invite.expires_at <= state.clock.now() {
        return Err(invalid());
    }
    let org = state.store.org(invite.org)?.ok_or_else(invalid)?;
    Ok(Json(wire::InviteLookupResponse {
        organisation: org.name,
        email: invite.email,
        role: invite.role,
        min_password_length: org.policy.min_password_length,
    }))
}

/// `POST /api/auth/login`. The attempt counts as a failure before the key is hashed and is
/// refunded when it was right (see `guard`).
#[utoipa::path(
    post,
    path = "/api/auth/login",
    operation_id = "auth_login",
    tag = "accounts",
    security(()),
    request_body = wire::LoginRequest,
    responses(
        (status = 200, description = "logged in (a session cookie is set), or a second factor is asked for", body = wire::LoginResponse),
        super::openapi::Errors
    )
)]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(request): ApiJson<wire::LoginRequest>,
) -> Result<Response, AppError> {
    let email = normalize_email(&request.email)?;
    let now = state.clock.now();
    let guard = Guard {
        store: &state.store,
        config: &state.config.brute_force,
    };
    let account = guard::account_key(state.store.server_secret(), &email);
    let attempt = match guard.begin(ip.as_deref(), Some(&account), now)? {
        Ok(attempt) => attempt,
        Err(refusal) => {
            let known = state.store.user_by_email(&email)?.is_some();
            state.audit(
                Actor::Anonymous { ip },
                None,
                AuditAction::AuthLogin,
                Some(typed_address(&state.store, &email, known)),
                Outcome::Denied,
            )?;
            return Err(refused(refusal, now));
        }
    };
    let user = state.store.user_by_email(&email)?;
    // Unknown addresses cost the same argon2id work as known ones.
    let (server_salt, expected) = match &user {
        Some(user) => (user.server_salt, user.auth_hash),
        None => (fake_salt(state.store.server_secret(), &email), [0xff; 32]),
    };
    let presented = match state
        .hashing
        .storage_hash(*request.auth_key.dangerously_expose(), server_salt)
        .await
    {
        Ok(presented) => presented,
        Err(error) => {
            guard.cancelled(attempt)?;
            return Err(error);
        }
    };
    let matches = bool::from(presented.ct_eq(&expected));
    let known = user.is_some();
    let (Some(user), true) = (user, matches) else {
        state.audit(
            Actor::Anonymous { ip },
            None,
            AuditAction::AuthLogin,
            Some(typed_address(&state.store, &email, known)),
            Outcome::Failure,
        )?;
        return Err(AppError::WrongCredentials);
    };
    guard.succeeded(attempt)?;
    if user.mfa.is_some() {
        // The password was right; the session waits for the second factor.
        let ticket = issue_ticket(&state.store, state.clock.now(), &user)?;
        state.audit(
            Actor::User { id: user.id, ip },
            Some(user.org),
            AuditAction::AuthLoginPassword,
            Some(email),
            Outcome::Success,
        )?;
        return Ok(Json(wire::LoginResponse {
            session: None,
            mfa_ticket: Some(ticket.into()),
        })
        .into_response());
    }
    complete_login(&state, &user, ip, now, &server_salt)
}

/// The answer to an attempt the guard refused.
pub(crate) fn refused(refusal: Refusal, now: i64) -> AppError {
    match refusal {
        Refusal::IpBlocked { until } => AppError::IpBlocked {
            hours: (until - now + 3599).div_euclid(3600),
        },
        Refusal::AccountThrottled { wait_seconds } => AppError::Throttled {
            seconds: wait_seconds,
        },
    }
}

/// Starts the session of a user whose log-in succeeded (with every factor it needs), unless
/// their password changed since it was checked (`credential`: their server salt then).
pub(crate) fn complete_login(
    state: &AppState,
    user: &UserRecord,
    ip: Option<String>,
    now: i64,
    credential: &[u8; 16],
) -> Result<Response, AppError> {
    let org = state.store.org(user.org)?.ok_or_else(|| {
        AppError::Internal(anyhow::anyhow!("user {} has no organisation", user.id))
    })?;
    if org.status == OrgStatus::Closed {
        return Err(AppError::Forbidden(
            "your organisation is closed".to_owned(),
        ));
    }
    let (record, cookie) = session::start(state, user.id, credential)?;
    state.audit(
        Actor::User { id: user.id, ip },
        Some(org.id),
        AuditAction::AuthLogin,
        Some(user.email.clone()),
        Outcome::Success,
    )?;
    let body = wire::LoginResponse {
        session: Some(session::session_response(
            user,
            &org,
            &record.csrf_token,
            now,
        )),
        mfa_ticket: None,
    };
    Ok(([(header::SET_COOKIE, cookie)], Json(body)).into_response())
}

/// `POST /api/auth/logout`: ends this session.
#[utoipa::path(
    post,
    path = "/api/auth/logout",
    operation_id = "auth_logout",
    tag = "accounts",
    security(("session" = [])),
    responses(
        (status = 204, description = "the session ended; the cookie is cleared"),
        super::openapi::Errors
    )
)]
pub async fn logout(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    session: Session,
) -> Result<Response, AppError> {
    state.store.delete_session(&session.token_hash)?;
    state.audit(
        Actor::User {
            id: session.user.id,
            ip,
        },
        Some(session.org.id),
        AuditAction::AuthLogout,
        None,
        Outcome::Success,
    )?;
    Ok(logged_out(&state))
}

/// `POST /api/auth/logout-all`: ends every session of this user, this one included.
#[utoipa::path(
    post,
    path = "/api/auth/logout-all",
    operation_id = "auth_logout_all",
    tag = "accounts",
    security(("session" = [])),
    responses(
        (status = 204, description = "every session of the user ended; the cookie is cleared"),
        super::openapi::Errors
    )
)]
pub async fn logout_all(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    session: Session,
) -> Result<Response, AppError> {
    // One atomic step ends them all, including any the user is opening right now.
    state
        .store
        .update_user(session.user.id, None, false, |user| user.session_epoch += 1)?;
    let ended = state.store.delete_sessions_of(session.user.id, None)?;
    state.audit(
        Actor::User {
            id: session.user.id,
            ip,
        },
        Some(session.org.id),
        AuditAction::AuthLogoutAll,
        Some(format!("{ended} sessions")),
        Outcome::Success,
    )?;
    Ok(logged_out(&state))
}

/// `POST /api/auth/password`: a new password. The current auth key proves the caller knows
/// the old one; the public key must not change (documents wrapped to it stay readable); the
/// user's other sessions end. The change commits only if the session is still alive and the
/// password is still the one just checked (nothing changed it while this request was hashing
/// or arriving).
#[utoipa::path(
    post,
    path = "/api/auth/password",
    operation_id = "auth_change_password",
    tag = "accounts",
    security(("session" = [])),
    request_body = wire::ChangePasswordRequest,
    responses(
        (status = 200, description = "the answer", body = wire::SessionResponse),
        super::openapi::Errors
    )
)]
pub async fn change_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    session: Session,
    ApiJson(request): ApiJson<wire::ChangePasswordRequest>,
) -> Result<Json<wire::SessionResponse>, AppError> {
    let user = &session.user;
    let verified_salt = user.server_salt;
    let presented = state
        .hashing
        .storage_hash(
            *request.current_auth_key.dangerously_expose(),
            verified_salt,
        )
        .await?;
    if !bool::from(presented.ct_eq(&user.auth_hash)) {
        state.audit(
            Actor::User { id: user.id, ip },
            Some(session.org.id),
            AuditAction::AuthPasswordChange,
            None,
            Outcome::Failure,
        )?;
        return Err(AppError::Forbidden(
            "the current password is wrong".to_owned(),
        ));
    }
    let keys = &request.keys;
    if keys.public_key != user.public_key {
        return Err(AppError::Invalid(
            "a password change keeps the same public key".to_owned(),
        ));
    }
    check_account_keys(keys)?;
    let now = state.clock.now();
    let (server_salt, auth_hash) = fresh_auth_hash(&state, keys).await?;
    let guard = session.guard();
    let updated = state
        .store
        .update_user(user.id, Some(&guard), true, |user| {
            if user.server_salt != verified_salt {
                return false;
            }
            user.auth_hash = auth_hash;
            user.server_salt = server_salt;
            user.salt = keys.salt;
            user.kdf = keys.kdf;
            user.sealed_private_key = keys.sealed_private_key.clone();
            user.password_changed_at = now;
            user.session_epoch += 1;
            true
        })?;
    let user = match updated {
        Updated::Done {
            outcome: true,
            record,
        } => record,
        Updated::Done { outcome: false, .. } => {
            return Err(AppError::Conflict(
                "your password was changed meanwhile; log in with the new one".to_owned(),
            ));
        }
        Updated::Missing | Updated::SessionEnded => {
            return Err(AppError::Unauthenticated(
                "your session has ended; please log in again",
            ));
        }
    };
    state
        .store
        .delete_sessions_of(user.id, Some(&session.token_hash))?;
    state.audit(
        Actor::User { id: user.id, ip },
        Some(session.org.id),
        AuditAction::AuthPasswordChange,
        None,
        Outcome::Success,
    )?;
    Ok(Json(session::session_response(
        &user,
        &session.org,
        &session.record.csrf_token,
        now,
    )))
}

/// `GET /api/me`: 401 without a session (for API clients).
#[utoipa::path(
    get,
    path = "/api/me",
    operation_id = "auth_me",
    tag = "accounts",
    security(("session" = [])),
    responses(
        (status = 200, description = "the answer", body = wire::SessionResponse),
        super::openapi::Errors
    )
)]
pub async fn me(State(state): State<AppState>, session: Session) -> Json<wire::SessionResponse> {
    Json(session.response(state.clock.now()))
}

/// `GET /api/session`: the session if there is one, `null` if not; both are 200.
#[utoipa::path(
    get,
    path = "/api/session",
    operation_id = "auth_current",
    tag = "accounts",
    security(("session" = []), ()),
    responses(
        (status = 200, description = "the answer", body = wire::SessionState),
        super::openapi::Errors
    )
)]
pub async fn current(
    State(state): State<AppState>,
    session: Result<Session, AppError>,
) -> Result<Json<wire::SessionState>, AppError> {
    match session {
        Ok(session) => Ok(Json(wire::SessionState {
            session: Some(session.response(state.clock.now())),
        })),
        Err(AppError::Unauthenticated(_)) => Ok(Json(wire::SessionState { session: None })),
        Err(error) => Err(error),
    }
}

fn logged_out(state: &AppState) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(header::SET_COOKIE, session::clearing_cookie(&state.config));
    (StatusCode::NO_CONTENT, headers).into_response()
}

/// A user record for a new account (its organisation and role are set by the caller), with
/// the auth key hashed under a fresh server salt.
async fn new_user(
    state: &AppState,
    email: String,
    name: String,
    keys: &wire::AccountKeys,
    now: i64,
) -> Result<UserRecord, AppError> {
    let (server_salt, auth_hash) = fresh_auth_hash(state, keys).await?;
    Ok(UserRecord {
        id: Id::generate(&mut OsRng),
        org: Id::from_bytes([0; 16]),
        email,
        name,
        role: Role::Owner,
        public_key: keys.public_key.clone(),
        salt: keys.salt,
        kdf: keys.kdf,
        sealed_private_key: keys.sealed_private_key.clone(),
        auth_hash,
        server_salt,
        created_at: now,
        password_changed_at: now,
        mfa: None,
        mfa_pending: None,
        session_epoch: 0,
    })
}

/// A new server salt and the stored hash of `keys`' auth key under it (a new account, or a
/// changed password).
async fn fresh_auth_hash(
    state: &AppState,
    keys: &wire::AccountKeys,
) -> Result<([u8; 16], [u8; 32]), AppError> {
    let mut server_salt = [0_u8; 16];
    OsRng.fill_bytes(&mut server_salt);
    let auth_hash = state
        .hashing
        .storage_hash(*keys.auth_key.dangerously_expose(), server_salt)
        .await?;
    Ok((server_salt, auth_hash))
}
