//! The relay's HTTP API as the command line calls it: JSON in and out, the relay's error shape
//! (`{code, message}`) turned into a readable error, one way of authenticating per client (an
//! API key, a user's session, or none), and chunk transfers retried when the relay asks to
//! wait (`429`, `503` with `Retry-After`) or the connection drops.

use std::time::Duration;

use anyhow::Context as _;
use serde::Serialize;
use serde::de::DeserializeOwned;
use shared::secret::SecretString;

/// Tries of one chunk before giving up.
const CHUNK_TRIES: u32 = 6;
/// The longest wait between tries, whatever `Retry-After` says.
const LONGEST_WAIT: Duration = Duration::from_secs(30);
/// The longest one chunk's request may take, body included (1 MiB: minutes would mean a
/// stalled connection, which is then tried again).
const CHUNK_TIMEOUT: Duration = Duration::from_secs(300);

/// How requests are authenticated.
#[derive(Debug, Clone)]
pub enum Auth {
    /// Nobody (a recipient of a link, a provider answering a request by link).
    None,
    /// `Authorization: Bearer …`: an organisation's API key (`sp_…`), a link's download token
    /// or a request link's upload token.
    Bearer(SecretString),
    /// A user's session: its cookie and the CSRF token every state-changing call carries.
    Session {
        cookie: SecretString,
        csrf: SecretString,
    },
}

/// The relay refused: its status, code and message.
#[derive(Debug, thiserror::Error)]
#[error("the relay answered {status} {code}: {message}")]
pub struct Refusal {
    pub status: u16,
    pub code: String,
    pub message: String,
}

/// A client of one relay.
#[derive(Debug, Clone)]
pub struct Relay {
    base: String,
    http: reqwest::Client,
    auth: Auth,
}

impl Relay {
    /// A client of the relay at `base` (`https://…`; `http://` only for this machine).
    pub fn new(base: &str, auth: Auth) -> anyhow::Result<Self> {
        let base = base.trim().trim_end_matches('/').to_owned();
        check_address(&base)?;
        // rustls's process-wide provider: ring, as in the relay (an error means one is set).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .user_agent(concat!("sealpost-cli/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(20))
            // A relay that stops answering mid-transfer is an error (retried for chunks), not
            // a command that hangs forever.
            .read_timeout(Duration::from_secs(120))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("setting up HTTPS")?;
        Ok(Self { base, http, auth })
    }

    /// The same relay with another way of authenticating.
    pub fn with_auth(&self, auth: Auth) -> Self {
        Self {
            base: self.base.clone(),
            http: self.http.clone(),
            auth,
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// A request to `path` (which starts with `/api/`), authenticated as this client is.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.base));
        match &self.auth {
            Auth::None => request,
            Auth::Bearer(token) => request.bearer_auth(token.dangerously_expose()),
            Auth::Session { cookie, csrf } => request
                .header(reqwest::header::COOKIE, cookie.dangerously_expose())
                .header("X-CSRF-Token", csrf.dangerously_expose())
                .header(reqwest::header::ORIGIN, &self.base),
        }
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        json(self.request(reqwest::Method::GET, path)).await
    }

    pub async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        json(self.request(reqwest::Method::POST, path).json(body)).await
    }

    /// Sends `request` (built by `make`, again for every try) until it is answered with a
    /// success, waiting as the relay asks on `429`/`503`/`408` and on a dropped connection.
    /// For what may be sent twice only: a chunk (PROTOCOL.md lets a chunk be uploaded again
    /// until the finalize) or a read.
    pub async fn with_retries(
        &self,
        make: impl Fn() -> reqwest::RequestBuilder,
    ) -> anyhow::Result<reqwest::Response> {
        retrying(|| async { answered(make().timeout(CHUNK_TIMEOUT).send().await).await }).await
    }

    /// `GET path`, a body of at most `longest` bytes (a chunk), retried like `with_retries`,
    /// also when the connection drops while the body arrives.
    pub async fn fetch(&self, path: &str, longest: usize) -> anyhow::Result<Vec<u8>> {
        retrying(|| async {
            let mut response = answered(
                self.request(reqwest::Method::GET, path)
                    .timeout(CHUNK_TIMEOUT)
                    .send()
                    .await,
            )
            .await?;
            let mut body = Vec::with_capacity(longest);
            loop {
                match response.chunk().await {
                    Ok(Some(piece)) => {
                        if body.len() + piece.len() > longest {
                            return Err(Try::Stop(anyhow::anyhow!(
                                "the relay sent more than a chunk of this file can hold"
                            )));
                        }
                        body.extend_from_slice(&piece);
                    }
                    Ok(None) => return Ok(body),
                    Err(error) => {
                        return Err(Try::Again(None, anyhow::Error::new(error)));
                    }
                }
            }
        })
        .await
    }
}

/// Why one try ended without a result.
enum Try {
    /// Worth another try (after the wait the relay named, if it named one).
    Again(Option<Duration>, anyhow::Error),
    Stop(anyhow::Error),
}

/// A success, or whether the answer or failure is worth another try.
async fn answered(
    outcome: Result<reqwest::Response, reqwest::Error>,
) -> Result<reqwest::Response, Try> {
    match outcome {
        Ok(response) if response.status().is_success() => Ok(response),
        Ok(response) => {
            let status = response.status().as_u16();
            let pause = retry_after(&response);
            let refused = anyhow::Error::new(refusal(response).await);
            if matches!(status, 408 | 429 | 502 | 503 | 504) {
                Err(Try::Again(pause, refused))
            } else {
                Err(Try::Stop(refused))
            }
        }
        Err(error) if error.is_connect() || error.is_timeout() || error.is_request() => {
            Err(Try::Again(
                None,
                anyhow::Error::new(error).context("the relay could not be reached"),
            ))
        }
        Err(error) => Err(Try::Stop(
            anyhow::Error::new(error).context("the relay could not be reached"),
        )),
    }
}

/// Runs `attempt` until it succeeds, stops, or `CHUNK_TRIES` tries are spent, waiting in
/// between (doubling, at most `LONGEST_WAIT`).
async fn retrying<T, F, Fut>(attempt: F) -> anyhow::Result<T>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, Try>>,
{
    let mut wait = Duration::from_millis(500);
    let mut tries = 0;
    loop {
        tries += 1;
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(Try::Stop(error)) => return Err(error),
            Err(Try::Again(_, error)) if tries >= CHUNK_TRIES => return Err(error),
            Err(Try::Again(pause, _)) => {
                tokio::time::sleep(pause.unwrap_or(wait).min(LONGEST_WAIT)).await;
                wait = (wait * 2).min(LONGEST_WAIT);
            }
        }
    }
}

/// Sends `request` and reads a JSON answer, or the relay's refusal.
pub async fn json<T: DeserializeOwned>(request: reqwest::RequestBuilder) -> anyhow::Result<T> {
    let response = request
        .send()
        .await
        .context("the relay could not be reached")?;
    if !response.status().is_success() {
        return Err(refusal(response).await.into());
    }
    let bytes = response.bytes().await?;
    serde_json::from_slice(&bytes).context("the relay's answer is not what this client expects")
}

/// The relay's refusal in `response` (its `{code, message}`, or the bare status).
pub async fn refusal(response: reqwest::Response) -> Refusal {
    let status = response.status();
    let body = response.bytes().await.unwrap_or_default();
    match serde_json::from_slice::<shared::wire::ErrorResponse>(&body) {
        Ok(error) => Refusal {
            status: status.as_u16(),
            code: error.code,
            message: error.message,
        },
        Err(_) => Refusal {
            status: status.as_u16(),
            code: status
                .canonical_reason()
                .unwrap_or("error")
                .to_lowercase()
                .replace(' ', "_"),
            message: String::from_utf8_lossy(&body).chars().take(200).collect(),
        },
    }
}

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let seconds: u64 = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds))
}

/// Refuses a relay address that is not `https://`, except on this machine: the proof of an
/// OTP, a download token and an API key must not cross a network in clear.
pub fn check_address(base: &str) -> anyhow::Result<()> {
    let parsed = reqwest::Url::parse(base).with_context(|| format!("{base} is not an address"))?;
    let local = match parsed.host() {
        Some(url::Host::Domain(name)) => name == "localhost",
        Some(url::Host::Ipv4(address)) => address.is_loopback(),
        Some(url::Host::Ipv6(address)) => address.is_loopback(),
        None => false,
    };
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if local => Ok(()),
        "http" => anyhow::bail!(
            "{base} is plain HTTP: a link's proof and tokens would cross the network in clear; \
             use the relay's https:// address"
        ),
        other => anyhow::bail!("{base}: {other}:// is not a relay address"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_this_machine() {
        assert!(check_address("https://sealpost.example.com").is_ok());
        assert!(check_address("http://127.0.0.1:8080").is_ok());
        assert!(check_address("http://localhost:8080").is_ok());
        assert!(check_address("http://[::1]:8080").is_ok());
        assert!(check_address("http://sealpost.example.com").is_err());
        assert!(check_address("http://10.0.0.1").is_err());
        assert!(check_address("ftp://sealpost.example.com").is_err());
        assert!(check_address("not a url").is_err());
    }
}
