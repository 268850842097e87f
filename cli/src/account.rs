//! Logging in as a person, for what an API key cannot do: opening a document wrapped to that
//! person's public key. The password is asked without echo (or read from a file), stretched with
//! argon2id here as the browser does, and only the auth key leaves; the private key is unsealed
//! in memory for this one command and the session is ended when it is done.

use anyhow::Context as _;
use shared::crypto::kdf::KdfParams;
use shared::crypto::{Passphrase, UserPrivateKey, derive_master_key};
use shared::secret::SecretString;
use shared::wire;

use crate::http::{self, Auth, Relay};
use crate::secrets;

/// A logged-in person: their session and unsealed private key.
#[derive(Debug)]
pub struct Person {
    pub relay: Relay,
    pub private_key: UserPrivateKey,
}

/// Logs `email` in on the relay at `base` with the password from `password`; asks a second
/// factor's code on the terminal when the account has one.
pub async fn log_in(
    base: &str,
    email: &str,
    password: &secrets::Source<'_>,
    code: &secrets::Source<'_>,
) -> anyhow::Result<Person> {
    let anonymous = Relay::new(base, Auth::None)?;
    let prelogin: wire::PreloginResponse = anonymous
        .post(
            "/api/auth/prelogin",
            &wire::PreloginRequest {
                email: email.to_owned(),
            },
        )
        .await?;
    let password = secrets::read(password, "password")?;
    let passphrase = Passphrase::new(password.as_str().to_owned());
    let salt = prelogin.salt;
    let master = tokio::task::spawn_blocking(move || {
        derive_master_key(&passphrase, &salt, &KdfParams::CLIENT_V1)
    })
    .await??;
    let response = anonymous
        .request(reqwest::Method::POST, "/api/auth/login")
        .json(&wire::LoginRequest {
            email: email.to_owned(),
            auth_key: (*master.auth_key().dangerously_expose_bytes()).into(),
        })
        .send()
        .await
        .context("the relay could not be reached")?;
    let (mut cookie, mut answer) = session_of(response).await?;
    if answer.session.is_none() {
        let ticket = answer
            .mfa_ticket
            .context("the relay answered neither a session nor a second step")?;
        let code = secrets::read(code, "authentication code")?;
        let response = anonymous
            .request(reqwest::Method::POST, "/api/auth/mfa/verify")
            .json(&wire::MfaVerifyRequest {
                ticket,
                code: SecretString::new(code.as_str().to_owned()),
            })
            .send()
            .await
            .context("the relay could not be reached")?;
        (cookie, answer) = session_of(response).await?;
    }
    let session = answer.session.context("no session after the second step")?;
    let cookie = cookie.context("the relay set no session cookie")?;
    let private_key = master
        .wrap_key()
        .open_private_key(&session.keys.sealed_private_key)
        .context("your private key does not open with this password")?;
    Ok(Person {
        relay: anonymous.with_auth(Auth::Session {
            cookie,
            csrf: session.csrf_token,
        }),
        private_key,
    })
}

impl Person {
    /// Ends the session on the relay (best effort: it expires by itself anyway).
    pub async fn log_out(&self) {
        let _ = self
            .relay
            .request(reqwest::Method::POST, "/api/auth/logout")
            .send()
            .await;
    }
}

/// The session cookie (`name=value`) a log-in answer sets, and its body.
async fn session_of(
    response: reqwest::Response,
) -> anyhow::Result<(Option<SecretString>, wire::LoginResponse)> {
    if !response.status().is_success() {
        return Err(http::refusal(response).await.into());
    }
    let cookie = response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with("sealpost_session="))
        .and_then(|value| value.split(';').next())
        .map(|pair| SecretString::new(pair.to_owned()));
    let body = response.bytes().await?;
    Ok((
        cookie,
        serde_json::from_slice(&body).context("the relay's log-in answer is not understood")?,
    ))
}
