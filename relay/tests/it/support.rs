//! The harness every relay test shares: a relay on a temporary sled store and a manual clock,
//! driven through its router without a network; accounts made with the real cryptography of
//! `shared` as a browser makes them; logged-in sessions; JSON answers and errors.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use axum::response::Response;
use http_body_util::BodyExt as _;
use rand_core::RngCore as _;
use relay::clock::ManualClock;
use relay::{AppState, Clock, Config, Store};
use shared::crypto::kdf::KdfParams;
use shared::crypto::{OsRng, Passphrase, UserPrivateKey, derive_master_key};
use shared::wire;
use tower::ServiceExt as _;

pub const ALICE: &[u8] =
    include_bytes!("../../../shared/src/crypto/tests/fixtures/test-alice-3072.pk8");
pub const START: i64 = 1_800_000_000;

pub struct Relay {
    pub router: axum::Router,
    pub store: Store,
    pub config: Config,
    pub clock: ManualClock,
    pub time: Clock,
    pub dir: tempfile::TempDir,
}

pub fn relay() -> Relay {
    relay_with(|_| {})
}

/// A relay whose configuration `tweak` adjusted first.
pub fn relay_with(tweak: impl FnOnce(&mut Config)) -> Relay {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    tweak(&mut config);
    let store = Store::open(&config.data_dir).expect("store");
    serving(config, store, dir)
}

/// A relay on the data directory `dir` (one restored from a backup, say).
pub fn relay_on(dir: tempfile::TempDir) -> Relay {
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    let store = Store::open(&config.data_dir).expect("store");
    serving(config, store, dir)
}

/// The relay of `config` on `store`, its clock at `START`.
fn serving(config: Config, store: Store, dir: tempfile::TempDir) -> Relay {
    let (clock, handle) = Clock::manual(START);
    Relay {
        router: relay::app(AppState::with_clock(
            config.clone(),
            store.clone(),
            clock.clone(),
        )),
        store,
        config,
        clock: handle,
        time: clock,
        dir,
    }
}

/// A logged-in browser: its session cookie and CSRF token; or a script holding an API key
/// (`bearer`), which then sends no cookie and no CSRF token.
#[derive(Clone, Debug)]
pub struct Login {
    pub cookie: String,
    pub csrf: String,
    pub session: wire::SessionResponse,
    pub bearer: Option<String>,
}

impl Login {
    /// A script of this user's organisation holding the API key `secret`.
    pub fn api_key(&self, secret: &str) -> Login {
        Login {
            cookie: String::new(),
            csrf: String::new(),
            session: self.session.clone(),
            bearer: Some(secret.to_owned()),
        }
    }

    /// Adds this login's credentials to `request`.
    pub fn authorize(&self, request: axum::http::request::Builder) -> axum::http::request::Builder {
        match &self.bearer {
            Some(secret) => request.header(header::AUTHORIZATION, format!("Bearer {secret}")),
            None => request
                .header(header::COOKIE, &self.cookie)
                .header("x-csrf-token", &self.csrf),
        }
    }
}

pub struct Account {
    pub email: String,
    pub keys: wire::AccountKeys,
    pub auth_key: [u8; 32],
}

pub fn account(email: &str, password: &str) -> Account {
    let private = UserPrivateKey::from_pkcs8_der(ALICE).expect("fixture key");
    let mut salt = [0_u8; 16];
    OsRng.fill_bytes(&mut salt);
    let master = derive_master_key(
        &Passphrase::new(password.to_owned()),
        &salt,
        &KdfParams::CLIENT_V1,
    )
    .expect("derives");
    let sealed = master
        .wrap_key()
        .seal_private_key(&private, &mut OsRng)
        .expect("seals");
    let public = private.public_key().expect("public");
    let keys = wire::AccountKeys::new(
        public.spki_der(),
        salt,
        KdfParams::CLIENT_V1,
        sealed,
        &master.auth_key(),
    );
    Account {
        email: email.to_owned(),
        auth_key: *master.auth_key().dangerously_expose_bytes(),
        keys,
    }
}

pub async fn json(response: Response) -> serde_json::Value {
    let bytes = body_bytes(response).await;
    serde_json::from_slice(&bytes).expect("JSON body")
}

pub async fn body_bytes(response: Response) -> Vec<u8> {
    response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
        .to_vec()
}

pub async fn login_from(response: Response) -> Login {
    let set_cookie = response.headers()[header::SET_COOKIE]
        .to_str()
        .expect("ascii")
        .to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(
            set_cookie.contains(attribute),
            "{attribute} in {set_cookie}"
        );
    }
    let cookie = set_cookie.split(';').next().expect("name=value").to_owned();
    // Sign-up answers the session itself; log-in wraps it (`{"session": …}`).
    let body = json(response).await;
    let body = if body.get("session").is_some() {
        body["session"].clone()
    } else {
        body
    };
    let session: wire::SessionResponse = serde_json::from_value(body).expect("session");
    Login {
        cookie,
        csrf: session.csrf_token.dangerously_expose().to_owned(),
        session,
        bearer: None,
    }
}

/// Asserts a JSON error answer with this status and code; returns its body.
pub async fn expect_error(response: Response, status: StatusCode, code: &str) -> serde_json::Value {
    assert_eq!(response.status(), status, "expected {status} {code}");
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "errors are JSON, got {content_type:?}"
    );
    let body = json(response).await;
    assert_eq!(body["code"], code, "{body}");
    body
}

pub fn message(body: &serde_json::Value) -> &str {
    body["message"].as_str().expect("a message")
}

impl Relay {
    pub fn now(&self) -> i64 {
        self.time.now()
    }

    pub async fn send_request(&self, request: Request<Body>) -> Response {
        self.router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible")
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        login: Option<&Login>,
        body: Option<serde_json::Value>,
    ) -> Response {
        self.call_from(None, method, path, login, body).await
    }

    /// A request as if it came from `ip` (the relay reads the peer address of the connection).
    pub async fn call_from(
        &self,
        ip: Option<&str>,
        method: Method,
        path: &str,
        login: Option<&Login>,
        body: Option<serde_json::Value>,
    ) -> Response {
        self.send_request(request(ip, method, path, login, body))
            .await
    }

    pub async fn signup(&self, account: &Account, handle: &str) -> Login {
        let body = serde_json::json!({
            "email": account.email,
            "name": "Ada Owner",
            "organisation": { "name": format!("Firm {handle}"), "handle": handle },
            "keys": account.keys,
        });
        let response = self
            .call(Method::POST, "/api/auth/signup", None, Some(body))
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        login_from(response).await
    }

    pub async fn login(&self, email: &str, auth_key: &[u8; 32]) -> Response {
        self.login_from(None, email, auth_key).await
    }

    pub async fn login_from(&self, ip: Option<&str>, email: &str, auth_key: &[u8; 32]) -> Response {
        let body =
            serde_json::json!({ "email": email, "auth_key": shared::encoding::encode(auth_key) });
        self.call_from(ip, Method::POST, "/api/auth/login", None, Some(body))
            .await
    }

    /// The same data directory opened again with the same configuration, as after a restart
    /// (the clock starts over at `START`, as a real one would read the same time).
    pub fn restart(self) -> Relay {
        let Relay {
            router,
            store,
            dir,
            config,
            ..
        } = self;
        drop(router);
        drop(store);
        // sled releases its file lock when its background flusher has also let go: retry.
        let mut attempts = 0;
        let store = loop {
            match Store::open(&config.data_dir) {
                Ok(store) => break store,
                Err(error) if attempts < 100 => {
                    attempts += 1;
                    let _ = error;
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err(error) => panic!("the store reopens: {error:#}"),
            }
        };
        serving(config, store, dir)
    }
}

pub fn request(
    ip: Option<&str>,
    method: Method,
    path: &str,
    login: Option<&Login>,
    body: Option<serde_json::Value>,
) -> Request<Body> {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(ip) = ip {
        let address: std::net::SocketAddr = format!("{ip}:40000").parse().expect("address");
        request = request.extension(axum::extract::ConnectInfo(address));
    }
    if let Some(login) = login {
        request = login.authorize(request);
    }
    match body {
        Some(json) => request
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(json.to_string())),
        None => request.body(Body::empty()),
    }
    .expect("request")
}
