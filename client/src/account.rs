//! The account flows in the browser (PROTOCOL.md "Accounts"): the password is used here and
//! nowhere else. Sign-up generates the RSA key pair (WebCrypto, off the main thread), derives
//! master, auth and wrap keys with argon2id, seals the private key and sends only public or
//! sealed material and the auth key. Log-in fetches the salt, derives the auth key, and unlocks
//! the private key, which lives in memory only.

use shared::crypto::kdf::{KdfError, KdfParams};
use shared::crypto::{OsRng, Passphrase, UserPrivateKey, WrapKey};
use shared::wire;

use crate::api::{self, ApiError, AuthorizedApi, LoginOutcome};
use crate::crypto::rsa::{self, WebRsaError};

/// The shortest password accepted (an organisation may ask for more).
pub const MIN_PASSWORD_CHARS: usize = 12;

/// Where a long-running account step stands, for the page to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    GeneratingKeys,
    DerivingKeys,
    Contacting,
}

impl Progress {
    pub fn describe(self) -> &'static str {
        match self {
            Progress::GeneratingKeys => "Generating your encryption keys…",
            Progress::DerivingKeys => "Deriving keys from your password…",
            Progress::Contacting => "Talking to the relay…",
        }
    }
}

/// What can go wrong, in words for the person at the screen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    #[error("the password must be at least {MIN_PASSWORD_CHARS} characters")]
    PasswordTooShort,
    #[error("your organisation asks for passwords of at least {0} characters")]
    PolicyTooShort(usize),
    #[error("the two passwords differ")]
    PasswordsDiffer,
    #[error("{0}")]
    Api(#[from] ApiError),
    #[error("the browser could not create your keys: {0}")]
    Keys(#[from] WebRsaError),
    #[error("the relay offered unsafe key-derivation settings ({0}); refusing to continue")]
    Kdf(#[from] KdfError),
    #[error("wrong password: your private key does not unlock with it")]
    WrongPassword,
}

/// What the sign-up form collects: a new organisation, or an invitation to join one.
#[derive(Debug)]
pub struct SignupForm {
    pub email: String,
    pub name: String,
    pub joining: Joining,
    pub password: Passphrase,
    pub confirmation: Passphrase,
    /// The organisation's shortest allowed password (never below `MIN_PASSWORD_CHARS`).
    pub min_password_chars: usize,
}

/// How the new user comes in (`Debug` hides the invitation token).
#[derive(Clone)]
pub enum Joining {
    NewOrganisation { name: String, handle: String },
    Invitation { token: String },
}

/// What a sign-up led to (`Debug` shows no key: `UserPrivateKey`'s own is redacted).
#[derive(Debug)]
pub enum SignedUp {
    /// Logged in, with the new private key.
    LoggedIn(Box<AuthorizedApi>, Box<UserPrivateKey>),
    /// The address must confirm first (a link was mailed); nothing exists yet.
    ConfirmByMail(wire::SignupPending),
}

/// Signs up: keys made here, an account and a pending organisation made at the relay (at once,
/// or once the address confirms, when the relay sends mail).
pub async fn sign_up(
    form: SignupForm,
    progress: impl Fn(Progress),
) -> Result<SignedUp, AccountError> {
    check_password(&form.password)?;
    let minimum = form.min_password_chars.max(MIN_PASSWORD_CHARS);
    if form.password.char_count() < minimum {
        return Err(AccountError::PolicyTooShort(minimum));
    }
    if form.password.dangerously_expose() != form.confirmation.dangerously_expose() {
        return Err(AccountError::PasswordsDiffer);
    }
    progress(Progress::GeneratingKeys);
    let private_key = rsa::generate_private_key().await?;
    let public_key = private_key.public_key().map_err(WebRsaError::from)?;
    progress(Progress::DerivingKeys);
    crate::browser::yield_to_browser().await;
    let mut salt = [0_u8; 16];
    rand_core::RngCore::fill_bytes(&mut OsRng, &mut salt);
    let kdf = KdfParams::CLIENT_V1;
    let master = crate::crypto::kdf::master_key(&form.password, &salt, &kdf).await?;
    let sealed = master
        .wrap_key()
        .seal_private_key(&private_key, &mut OsRng)
        .map_err(WebRsaError::from)?;
    let keys = wire::AccountKeys::new(public_key.spki_der(), salt, kdf, sealed, &master.auth_key());
    progress(Progress::Contacting);
    let (organisation, invite) = match form.joining {
        Joining::NewOrganisation { name, handle } => {
            (Some(wire::NewOrganisation { name, handle }), None)
        }
        Joining::Invitation { token } => (None, Some(token)),
    };
    let outcome = api::signup(&wire::SignupRequest {
        email: form.email,
        name: form.name,
        organisation,
        invite,
        keys,
    })
    .await?;
    Ok(match outcome {
        api::SignupOutcome::LoggedIn(api) => SignedUp::LoggedIn(api, Box::new(private_key)),
        api::SignupOutcome::ConfirmByMail(pending) => SignedUp::ConfirmByMail(pending),
    })
}

/// A log-in waiting for its second factor: the ticket, and the wrap key derived from the
/// password (kept in memory to unlock the private key once the code is accepted).
pub struct PendingLogin {
    ticket: String,
    wrap_key: WrapKey,
}

impl std::fmt::Debug for Joining {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Joining::NewOrganisation { name, handle } => f
                .debug_struct("NewOrganisation")
                .field("name", name)
                .field("handle", handle)
                .finish(),
            Joining::Invitation { .. } => f.write_str("Invitation(***)"),
        }
    }
}

impl std::fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PendingLogin(***)")
    }
}

/// Where a log-in stands after the password.
#[derive(Debug)]
pub enum LoginStep {
    Done(Box<(AuthorizedApi, UserPrivateKey)>),
    NeedsCode(PendingLogin),
}

/// Finishes a log-in with a TOTP or recovery code.
pub async fn finish_log_in(
    pending: &PendingLogin,
    code: &str,
) -> Result<(AuthorizedApi, UserPrivateKey), AccountError> {
    let api = api::verify_code(&pending.ticket, code).await?;
    let private_key = pending
        .wrap_key
        .open_private_key(&api.session().keys.sealed_private_key)
        .map_err(|_| AccountError::WrongPassword)?;
    Ok((api, private_key))
}

/// Logs in; unlocks the private key, or hands back what the second factor needs.
pub async fn log_in(
    email: &str,
    password: &Passphrase,
    progress: impl Fn(Progress),
) -> Result<LoginStep, AccountError> {
    progress(Progress::Contacting);
    let prelogin = api::prelogin(email).await?;
    prelogin.kdf.check_client_floor()?;
    progress(Progress::DerivingKeys);
    crate::browser::yield_to_browser().await;
    let master = crate::crypto::kdf::master_key(password, &prelogin.salt, &prelogin.kdf).await?;
    progress(Progress::Contacting);
    let outcome = api::login(&wire::LoginRequest {
        email: email.to_owned(),
        auth_key: (*master.auth_key().dangerously_expose_bytes()).into(),
    })
    .await?;
    match outcome {
        LoginOutcome::LoggedIn(api) => {
            let private_key = master
                .wrap_key()
                .open_private_key(&api.session().keys.sealed_private_key)
                .map_err(|_| AccountError::WrongPassword)?;
            Ok(LoginStep::Done(Box::new((*api, private_key))))
        }
        LoginOutcome::NeedsCode { ticket } => Ok(LoginStep::NeedsCode(PendingLogin {
            ticket,
            wrap_key: master.wrap_key(),
        })),
    }
}

/// Unlocks the private key of a resumed session (after a reload) with the password.
pub async fn unlock(
    keys: &wire::OwnKeys,
    password: &Passphrase,
) -> Result<UserPrivateKey, AccountError> {
    keys.kdf.check_client_floor()?;
    crate::browser::yield_to_browser().await;
    let master = crate::crypto::kdf::master_key(password, &keys.salt, &keys.kdf).await?;
    master
        .wrap_key()
        .open_private_key(&keys.sealed_private_key)
        .map_err(|_| AccountError::WrongPassword)
}

/// Changes the password: proves the current one (its auth key), re-seals the same private key
/// under a new salt, and returns the refreshed session and the unlocked key.
pub async fn change_password(
    api: &AuthorizedApi,
    current: &Passphrase,
    new: &Passphrase,
    confirmation: &Passphrase,
) -> Result<(AuthorizedApi, UserPrivateKey), AccountError> {
    let minimum =
        usize::try_from(api.session().policy.min_password_length).unwrap_or(MIN_PASSWORD_CHARS);
    if new.char_count() < minimum.max(MIN_PASSWORD_CHARS) {
        return Err(AccountError::PolicyTooShort(
            minimum.max(MIN_PASSWORD_CHARS),
        ));
    }
    if new.dangerously_expose() != confirmation.dangerously_expose() {
        return Err(AccountError::PasswordsDiffer);
    }
    let keys = &api.session().keys;
    keys.kdf.check_client_floor()?;
    crate::browser::yield_to_browser().await;
    let old_master = crate::crypto::kdf::master_key(current, &keys.salt, &keys.kdf).await?;
    let private_key = old_master
        .wrap_key()
        .open_private_key(&keys.sealed_private_key)
        .map_err(|_| AccountError::WrongPassword)?;
    let mut salt = [0_u8; 16];
    rand_core::RngCore::fill_bytes(&mut OsRng, &mut salt);
    let kdf = KdfParams::CLIENT_V1;
    crate::browser::yield_to_browser().await;
    let new_master = crate::crypto::kdf::master_key(new, &salt, &kdf).await?;
    let sealed = new_master
        .wrap_key()
        .seal_private_key(&private_key, &mut OsRng)
        .map_err(WebRsaError::from)?;
    let request = wire::ChangePasswordRequest {
        current_auth_key: (*old_master.auth_key().dangerously_expose_bytes()).into(),
        keys: wire::AccountKeys::new(&keys.public_key, salt, kdf, sealed, &new_master.auth_key()),
    };
    let api = api.change_password(&request).await?;
    Ok((api, private_key))
}

fn check_password(password: &Passphrase) -> Result<(), AccountError> {
    if password.char_count() < MIN_PASSWORD_CHARS {
        return Err(AccountError::PasswordTooShort);
    }
    Ok(())
}
