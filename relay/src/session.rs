//! Log-in sessions: opaque random tokens in an `HttpOnly`, `SameSite=Strict` cookie (and
//! `Secure` when configured), stored only as their SHA-256, with idle and absolute expiry
//! checked on every request against the injectable clock, and a CSRF token that every
//! state-changing request must echo in `X-CSRF-Token`. `Session` is the extractor: a handler
//! that takes one can only run for a logged-in user, already loaded with their organisation.

use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use rand_core::RngCore as _;
use shared::crypto::OsRng;
use shared::encoding;
use shared::ids::Id;
use shared::wire::{self, OrgStatus};
use subtle::ConstantTimeEq as _;

use crate::authz::Principal;
use crate::config::Config;
use crate::error::AppError;
use crate::state::AppState;
use crate::store::{OrgRecord, SessionGuard, SessionRecord, UserRecord};

pub const COOKIE: &str = "sealpost_session";
pub const CSRF_HEADER: &str = "x-csrf-token";
/// What a user whose password has expired may still do: see who they are, change the
/// password, or leave.
const ALLOWED_WITH_EXPIRED_PASSWORD: [&str; 5] = [
    "/api/me",
    "/api/session",
    "/api/auth/password",
    "/api/auth/logout",
    "/api/auth/logout-all",
];
/// What a user who must enrol a second factor may still do.
const ALLOWED_BEFORE_MFA_ENROLMENT: [&str; 6] = [
    "/api/me",
    "/api/session",
    "/api/auth/mfa/setup",
    "/api/auth/mfa/confirm",
    "/api/auth/logout",
    "/api/auth/logout-all",
];
/// `last_seen` is written at most this often, so reads do not turn into writes.
const TOUCH_EVERY_SECONDS: i64 = 60;

/// A logged-in user, their organisation and their session.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: UserRecord,
    pub org: OrgRecord,
    pub record: SessionRecord,
    pub token_hash: [u8; 32],
}

impl Session {
    /// The guard a change made in this session commits under (see `store::SessionGuard`).
    pub fn guard(&self) -> SessionGuard {
        SessionGuard {
            token_hash: self.token_hash,
            user: self.user.id,
            epoch: self.record.epoch,
        }
    }

    pub fn principal(&self) -> Principal {
        Principal {
            user: self.user.id,
            org: self.org.id,
            role: self.user.role,
            org_status: self.org.status,
            scopes: None,
        }
    }

    /// What the app needs to know about who is logged in.
    pub fn response(&self, now: i64) -> wire::SessionResponse {
        session_response(&self.user, &self.org, &self.record.csrf_token, now)
    }
}

/// Whether the organisation requires a second factor that `user` has not set up.
pub fn mfa_enrolment_required(user: &UserRecord, org: &OrgRecord) -> bool {
    org.policy.mfa_required && user.mfa.is_none()
}

/// Whether `user`'s password is older than `org` allows at `now`.
pub fn password_expired(user: &UserRecord, org: &OrgRecord, now: i64) -> bool {
    org.policy
        .max_password_age_days
        .is_some_and(|days| now - user.password_changed_at >= i64::from(days) * 86_400)
}

/// The wire view of a user, their organisation and their CSRF token.
pub fn session_response(
    user: &UserRecord,
    org: &OrgRecord,
    csrf_token: &shared::secret::SecretString,
    now: i64,
) -> wire::SessionResponse {
    wire::SessionResponse {
        user: wire::UserView {
            id: user.id,
            email: user.email.clone(),
            name: user.name.clone(),
            role: user.role,
        },
        organisation: wire::OrgView {
            id: org.id,
            name: org.name.clone(),
            handle: org.handle.clone(),
            status: org.status,
        },
        csrf_token: csrf_token.clone(),
        keys: wire::OwnKeys {
            public_key: user.public_key.clone(),
            salt: user.salt,
            kdf: user.kdf,
            sealed_private_key: user.sealed_private_key.clone(),
        },
        policy: org.policy,
        password_expired: password_expired(user, org, now),
        mfa_enabled: user.mfa.is_some(),
        mfa_enrolment_required: mfa_enrolment_required(user, org),
    }
}

/// A new session for `user`, whose password was checked while their server salt was
/// `credential`: stored (unless the password changed since), and returned with the
/// `Set-Cookie` value.
pub fn start(
    state: &AppState,
    user: Id,
    credential: &[u8; 16],
) -> Result<(SessionRecord, HeaderValue), AppError> {
    let token = crate::tokens::mint();
    let mut csrf = [0_u8; 32];
    OsRng.fill_bytes(&mut csrf);
    let now = state.clock.now();
    let record = SessionRecord {
        user,
        created_at: now,
        last_seen: now,
        csrf_token: encoding::encode(&csrf).into(),
        epoch: 0,
    };
    let record = state
        .store
        .create_session(&token.hash, &record, credential)?
        .map_err(|_| {
            AppError::Unauthenticated(
                "your account changed while you were logging in; log in again",
            )
        })?;
    let cookie = cookie_value(token.text.dangerously_expose(), &state.config);
    Ok((record, cookie))
}

/// `Set-Cookie` that removes the session cookie.
pub fn clearing_cookie(config: &Config) -> HeaderValue {
    let secure = if config.secure_cookie() {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("sealpost_session=; Max-Age=0"))
}

fn cookie_value(token: &str, config: &Config) -> HeaderValue {
    let secure = if config.secure_cookie() {
        "; Secure"
    } else {
        ""
    };
    let max_age = i64::from(config.sessions.absolute_hours) * 3600;
    HeaderValue::from_str(&format!(
        "{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("sealpost_session=; Max-Age=0"))
}

/// Whether the request presents an organisation's API key (`Authorization: Bearer sp_…`).
fn presents_api_key(headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .is_some_and(crate::api_keys::is_key)
}

/// The stored hash of the session token in the `Cookie` header, if there is a token.
fn token_from(headers: &HeaderMap) -> Option<crate::tokens::TokenHash> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .and_then(|(_, value)| crate::tokens::hash_of(value))
}

/// Refuses unless the session `guard` names is still alive: it exists and its user's session
/// epoch has not moved on. For a check right before a write the store does not guard itself
/// (after a request body arrived).
pub fn still_alive(state: &AppState, guard: &SessionGuard) -> Result<(), AppError> {
    let store = &state.store;
    let alive = store.session(&guard.token_hash)?.is_some()
        && store
            .user(guard.user)?
            .is_some_and(|user| user.session_epoch == guard.epoch);
    if alive {
        Ok(())
    } else {
        Err(AppError::Unauthenticated(
            "your session ended while this request was arriving; please log in again",
        ))
    }
}

/// `Option<Session>`: `None` when the request carries no session cookie at all (an uploader
/// without an account); a cookie that does not lead to a valid session is still refused.
impl axum::extract::OptionalFromRequestParts<AppState> for Session {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, Self::Rejection> {
        if token_from(&parts.headers).is_none() {
            return Ok(None);
        }
        <Self as FromRequestParts<AppState>>::from_request_parts(parts, state)
            .await
            .map(Some)
    }
}

impl FromRequestParts<AppState> for Session {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if presents_api_key(&parts.headers) {
            // A key never stands in for a session, and a cookie beside it is not looked at.
            return Err(crate::authz::Denied::NotForApiKeys.into());
        }
        let token_hash =
            token_from(&parts.headers).ok_or(AppError::Unauthenticated("please log in"))?;
        let store = &state.store;
        let mut record = store
            .session(&token_hash)?
            .ok_or(AppError::Unauthenticated(
                "your session has ended; please log in again",
            ))?;
        let now = state.clock.now();
        let limits = &state.config.sessions;
        let idle = now - record.last_seen >= i64::from(limits.idle_minutes) * 60;
        let too_old = now - record.created_at >= i64::from(limits.absolute_hours) * 3600;
        if idle || too_old {
            store.delete_session(&token_hash)?;
            return Err(AppError::Unauthenticated(
                "your session has expired; please log in again",
            ));
        }
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if !safe {
            let presented = parts
                .headers
                .get(CSRF_HEADER)
                .map(HeaderValue::as_bytes)
                .unwrap_or_default();
            if !bool::from(presented.ct_eq(record.csrf_token.dangerously_expose().as_bytes())) {
                return Err(AppError::Csrf);
            }
        }
        let Some(user) = store.user(record.user)? else {
            store.delete_session(&token_hash)?;
            return Err(AppError::Unauthenticated("your account no longer exists"));
        };
        if record.epoch != user.session_epoch {
            // Ended by "log out everywhere", a password or role change, or an MFA reset.
            store.delete_session(&token_hash)?;
            return Err(AppError::Unauthenticated(
                "your session has ended; please log in again",
            ));
        }
        let Some(org) = store
            .org(user.org)?
            .filter(|org| org.status != OrgStatus::Closed)
        else {
            store.delete_session(&token_hash)?;
            return Err(AppError::Unauthenticated("your organisation is closed"));
        };
        let path = parts.extensions.get::<OriginalUri>().map_or_else(
            || parts.uri.path().to_owned(),
            |OriginalUri(uri)| uri.path().to_owned(),
        );
        if password_expired(&user, &org, now)
            && !ALLOWED_WITH_EXPIRED_PASSWORD.contains(&path.as_str())
        {
            return Err(AppError::PasswordExpired);
        }
        if mfa_enrolment_required(&user, &org)
            && !ALLOWED_BEFORE_MFA_ENROLMENT.contains(&path.as_str())
        {
            return Err(AppError::MfaEnrolmentRequired);
        }
        if now - record.last_seen >= TOUCH_EVERY_SECONDS {
            record.last_seen = now;
            store.touch_session(&token_hash, now)?;
        }
        // A body read after this (`api::read_body`) checks the session again once it is in.
        parts.extensions.insert(SessionGuard {
            token_hash,
            user: user.id,
            epoch: record.epoch,
        });
        Ok(Self {
            user,
            org,
            record,
            token_hash,
        })
    }
}
