//! Who is calling. Every identity a handler can take is an extractor, here or (for the cookie
//! session with its CSRF, expiry and epoch checks) in `session`, re-exported here:
//! - [`Session`]: a logged-in user;
//! - [`Uploader`]: the bearer of a document's upload token (`Authorization: Bearer`), or a
//!   logged-in user;
//! - [`Provider`]: a provider by request link (its `X-Upload-Token`), or a logged-in user;
//! - [`LinkToken`]: the `X-Upload-Token` header alone, for the holder of a request link;
//! - [`Caller`]: an organisation's API key (`Authorization: Bearer sp_…`; never a cookie or a
//!   URL), or a logged-in user, for the endpoints a key may call at all (`authz` decides the
//!   rest from its scopes). A request that presents a key is never taken for a session, even
//!   with a cookie beside it: a key opens no endpoint that needs a session.
//!
//! An account's identity yields an `authz::Principal` (`Session::principal`,
//! `Uploader::principal`), which `authz::authorize` decides on; tokens are checked against the object they open by the
//! domain (`tokens::Presented`, `requests::link_token_matches`). A token a client presented
//! is a [`PresentedToken`], which prints as `***`, so deriving `Debug` on what holds one is
//! safe.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};

use shared::ids::Id;
use shared::wire::{OrgStatus, Role};

use crate::audit::Actor;
use crate::authz::{Principal, Scopes};
use crate::error::AppError;
pub use crate::session::Session;
use crate::state::AppState;
use crate::store::{ApiKeyRecord, OrgRecord};

/// The header a provider by link sends the request's upload token in (never in the URL).
const UPLOAD_TOKEN_HEADER: &str = "x-upload-token";

/// A token as a client presented it: its text, which `Debug` never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct PresentedToken(String);

impl PresentedToken {
    /// The text, for the one comparison that needs it. Never log it.
    pub fn dangerously_expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for PresentedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// Who is uploading a document: the bearer of its upload token (an uploader without an
/// account; any session cookie the browser also sends is then ignored), or an account: a
/// logged-in user or an API key.
#[derive(Debug)]
pub enum Uploader {
    Token(PresentedToken),
    Account(Caller),
}

impl Uploader {
    /// The account uploading, if it is one.
    pub fn principal(&self) -> Option<Principal> {
        match self {
            Uploader::Token(_) => None,
            Uploader::Account(caller) => Some(caller.principal()),
        }
    }
}

impl FromRequestParts<AppState> for Uploader {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        match bearer(&parts.headers) {
            Some(token) if !crate::api_keys::is_key(token) => {
                Ok(Uploader::Token(PresentedToken(token.to_owned())))
            }
            _ => Caller::from_request_parts(parts, state)
                .await
                .map(Uploader::Account),
        }
    }
}

/// Who is calling an endpoint open to API keys: a key of an organisation, or a logged-in user.
#[derive(Debug)]
pub enum Caller {
    Key(Box<KeyCaller>),
    User(Box<Session>),
}

/// A live API key, its organisation, and the scopes it holds now: those of its scopes that its
/// maker's present role still gives (`authz::role_gives`).
#[derive(Debug, Clone)]
pub struct KeyCaller {
    pub key: ApiKeyRecord,
    pub org: OrgRecord,
    pub scopes: Vec<shared::wire::ApiScope>,
}

impl Caller {
    pub fn principal(&self) -> Principal {
        match self {
            Caller::User(session) => session.principal(),
            Caller::Key(caller) => Principal {
                user: caller.key.id,
                org: caller.org.id,
                role: Role::Member,
                org_status: caller.org.status,
                scopes: Some(Scopes::of(&caller.scopes)),
            },
        }
    }

    /// The caller's organisation.
    pub fn org(&self) -> &OrgRecord {
        match self {
            Caller::User(session) => &session.org,
            Caller::Key(caller) => &caller.org,
        }
    }

    /// Who makes what this caller makes: the user, or the key.
    pub fn maker(&self) -> Id {
        match self {
            Caller::User(session) => session.user.id,
            Caller::Key(caller) => caller.key.id,
        }
    }

    /// The caller as the audit log records them.
    pub fn actor(&self, ip: Option<String>) -> Actor {
        match self {
            Caller::User(session) => Actor::User {
                id: session.user.id,
                ip,
            },
            Caller::Key(caller) => Actor::ApiKey {
                id: caller.key.id,
                ip,
            },
        }
    }

    /// The logged-in user, if the caller is one.
    pub fn session(&self) -> Option<&Session> {
        match self {
            Caller::User(session) => Some(session),
            Caller::Key(_) => None,
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let Some(presented) = bearer(&parts.headers) else {
            return Session::from_request_parts(parts, state)
                .await
                .map(|session| Caller::User(Box::new(session)));
        };
        if !crate::api_keys::is_key(presented) {
            return Err(AppError::Unauthenticated(
                "this needs a log-in session or an organisation's API key (Authorization: Bearer sp_…)",
            ));
        }
        let now = state.clock.now();
        let key = crate::api_keys::find(&state.store, presented, now)?.map_err(|invalid| {
            AppError::Unauthenticated(match invalid {
                crate::api_keys::KeyInvalid::Unknown => {
                    "this API key is not valid: unknown, mistyped or revoked"
                }
                crate::api_keys::KeyInvalid::Expired => "this API key has expired",
            })
        })?;
        let Some(org) = state
            .store
            .org(key.org)?
            .filter(|org| org.status != OrgStatus::Closed)
        else {
            return Err(AppError::Unauthenticated(
                "this API key's organisation is closed",
            ));
        };
        // A key acts for its maker's organisation with no more than the maker may do now.
        let Some(maker) = state
            .store
            .user(key.created_by)?
            .filter(|maker| maker.org == key.org)
        else {
            return Err(AppError::Unauthenticated(
                "the person who made this API key is no longer in the organisation; an owner or admin makes a new one",
            ));
        };
        let scopes = key
            .scopes
            .iter()
            .copied()
            .filter(|scope| crate::authz::role_gives(maker.role, *scope))
            .collect();
        state.rate_limits.check_api_key(key.id)?;
        state.store.touch_api_key(&key, now)?;
        parts.extensions.insert(KeyGuard(key.id));
        Ok(Caller::Key(Box::new(KeyCaller { key, org, scopes })))
    }
}

/// The API key a request was authorised by: a body read after that (`api::read_body`) checks
/// the key is still live once the body is in, as a session is checked.
#[derive(Debug, Clone, Copy)]
pub struct KeyGuard(pub Id);

/// Refuses unless the key `guard` names is still live (not revoked, not expired).
pub fn key_still_live(state: &AppState, guard: KeyGuard) -> Result<(), AppError> {
    let live = state
        .store
        .api_key(guard.0)?
        .is_some_and(|key| key.live(state.clock.now()));
    if live {
        Ok(())
    } else {
        Err(AppError::Unauthenticated(
            "this API key was revoked or expired while this request was arriving",
        ))
    }
}

/// Who provides the documents of a request: the holder of its link (who shows the link's
/// upload token instead of a session), or a logged-in user.
#[derive(Debug)]
pub enum Provider {
    Link(PresentedToken),
    User(Box<Session>),
}

impl FromRequestParts<AppState> for Provider {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        if let Some(token) = link_token(&parts.headers) {
            return Ok(Provider::Link(token));
        }
        Session::from_request_parts(parts, state)
            .await
            .map(|session| Provider::User(Box::new(session)))
    }
}

/// The `X-Upload-Token` of a request link's holder, if the request carries one (never
/// refuses: whether it opens anything is the domain's question).
#[derive(Debug)]
pub struct LinkToken(pub Option<PresentedToken>);

impl LinkToken {
    /// The token's text, if one was presented.
    pub fn text(&self) -> Option<&str> {
        self.0.as_ref().map(PresentedToken::dangerously_expose)
    }
}

impl FromRequestParts<AppState> for LinkToken {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, AppError> {
        Ok(LinkToken(link_token(&parts.headers)))
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
}

/// The upload token header, if present (a value that is not text is kept as an empty token,
/// which opens nothing: the caller still chose the link over a session).
fn link_token(headers: &HeaderMap) -> Option<PresentedToken> {
    headers
        .get(UPLOAD_TOKEN_HEADER)
        .map(|value| PresentedToken(value.to_str().unwrap_or_default().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presented_tokens_never_print() {
        let token = PresentedToken("upload-secret".to_owned());
        let printed = format!(
            "{:?} {:?} {:?}",
            Uploader::Token(token.clone()),
            Provider::Link(token.clone()),
            LinkToken(Some(token))
        );
        assert!(!printed.contains("upload-secret"), "{printed}");
    }

    #[test]
    fn the_link_token_is_read_from_its_header_only() {
        let mut headers = HeaderMap::new();
        assert_eq!(link_token(&headers), None);
        headers.insert("x-upload-token", "abc".parse().expect("header"));
        headers.insert(header::AUTHORIZATION, "Bearer xyz".parse().expect("header"));
        assert_eq!(
            link_token(&headers).map(|token| token.0),
            Some("abc".to_owned())
        );
        assert_eq!(bearer(&headers), Some("xyz"));
    }
}
